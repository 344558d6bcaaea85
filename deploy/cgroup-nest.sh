#!/bin/sh
# cgroup-nest.sh [GROUP_DIR]: make this container's own cgroup v2 group usable for child groups, inside
# a privileged container or pod. Run once at start, as root, before anything creates a cgroup. Idempotent.
#
# Why: cgroup v2's "no internal processes" rule says a group that holds processes cannot enable
# controllers for its children (writing +memory to cgroup.subtree_control fails with EBUSY); only the
# host's true root is exempt. A container's processes all sit in its own group: the root of its cgroup
# namespace where it has one (docker/podman --privileged on v2), a group deep in the NODE's tree where it
# has none (a privileged Kubernetes pod on v2: kubernetes/kubernetes#112937). So the group to split is
# the one /proc/self/cgroup names, never /sys/fs/cgroup itself (in a pod without a cgroup namespace that
# is the node's root). We move every process of it into a leaf (init/) and enable every available
# controller for its children; boxkit then makes <group>/boxkit/<id> groups below it
# (BOXKIT_CGROUP_PARENT, docs/internals.md), and does this same move itself when it finds the group
# populated, so this script only does it early. kubernetes/test-infra#37440 does the same for
# docker-in-docker pods. On cgroup v1 (or hybrid) there is nothing to do.
set -eu
if [ $# -ge 1 ]; then
  root=$1
else
  own=$(sed -n 's/^0:://p' /proc/self/cgroup | head -n 1)
  own=${own%/init}        # already moved by an earlier run: the group is the leaf's parent
  root=/sys/fs/cgroup${own%/}
fi
leaf=${BOXKIT_NEST_LEAF:-init}

if [ ! -f "$root/cgroup.controllers" ]; then
  echo "cgroup-nest: $root is not a cgroup v2 tree (v1 or hybrid): nothing to do"
  exit 0
fi
# docker < 20.10 mounted /sys/fs/cgroup read-only even for --privileged
if ! touch "$root/cgroup.procs" 2>/dev/null; then
  mount -o remount,rw "$root" 2>/dev/null || {
    echo "cgroup-nest: $root is read-only and cannot be remounted: run the container with --privileged" >&2
    exit 1
  }
fi
mkdir -p "$root/$leaf"

# Processes may fork while we move them (this shell does, for cat): repeat until the root is empty.
# Kernel threads cannot be moved (EINVAL) but only live in a host's true root, which is exempt anyway.
moved=0
for _round in 1 2 3 4 5 6 7 8 9 10; do
  pids=$(cat "$root/cgroup.procs")
  [ -n "$pids" ] || break
  for pid in $pids; do
    if echo "$pid" > "$root/$leaf/cgroup.procs" 2>/dev/null; then moved=$((moved + 1)); fi
  done
done

enabled=""
failed=""
for c in $(cat "$root/cgroup.controllers"); do
  if grep -qw "$c" "$root/cgroup.subtree_control" || echo "+$c" > "$root/cgroup.subtree_control" 2>/dev/null; then
    enabled="$enabled $c"
  else
    failed="$failed $c"
  fi
done
left=$(wc -l < "$root/cgroup.procs")
echo "cgroup-nest: moved $moved processes to $root/$leaf; controllers for children:${enabled:- none}"
if [ -n "$failed" ]; then
  echo "cgroup-nest: could not enable:$failed ($left processes still in $root)" >&2
  exit 1
fi
