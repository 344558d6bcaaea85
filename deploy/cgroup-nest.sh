#!/bin/sh
# cgroup-nest.sh [CGROUP_ROOT]: make a cgroup v2 tree usable for child groups, inside a privileged
# container or pod. Run once at start, as root, before anything creates a cgroup. Idempotent.
#
# Why: a container started with its own cgroup namespace (docker/podman on cgroup v2, a Kubernetes
# pod) sees its cgroup as the root of /sys/fs/cgroup, and all its processes live there. cgroup v2's
# "no internal processes" rule says a group that holds processes cannot enable controllers for its
# children (writing +memory to cgroup.subtree_control fails with EBUSY). The true root of a host is
# exempt; a container's namespace root is not. So we move every process into a leaf group (init/) and
# then enable every available controller in the root's cgroup.subtree_control. boxkit then creates
# /sys/fs/cgroup/boxkit/<id> groups with memory, cpu and pids limits. docker's own docker-in-docker
# entrypoint does the same. On cgroup v1 (or hybrid) there is nothing to do.
set -eu
root=${1:-/sys/fs/cgroup}
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
