#!/bin/sh
# PID 1 of the v2vm guest (see tools/v2vm/__init__.py for the whole story).
#
# The kernel hands us a READ-ONLY 9p mount of the host's root file system at /. We give the guest the
# writable places a container runtime needs (tmpfs on /tmp, /run, /var/lib), mount cgroup v2 ALONE at
# /sys/fs/cgroup (the kernel was booted with cgroup_no_v1=all, so no v1 hierarchy can even be mounted),
# run the script the host left in the shared io directory, write its exit status next to it and power
# off. No systemd, no udev: under TCG emulation udev's coldplug alone costs ~80 s and we need none of it.
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH
say() { echo "v2vm-init: $*"; }

mount -t proc -o nosuid,nodev,noexec proc /proc
mount -t sysfs -o nosuid,nodev,noexec sysfs /sys
mount -t devtmpfs -o nosuid,mode=0755 devtmpfs /dev 2>/dev/null   # may be automounted already
mkdir -p /dev/pts /dev/shm 2>/dev/null
mount -t devpts -o nosuid,noexec,gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs -o nosuid,nodev tmpfs /dev/shm
for d in /tmp /run /var/lib /var/tmp /var/cache; do
    mount -t tmpfs -o mode=0755,size=75% tmpfs "$d" || say "cannot mount tmpfs on $d"
done
chmod 1777 /tmp /var/tmp
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup || say "cannot mount cgroup2 on /sys/fs/cgroup"
[ -d /sys/kernel/debug ] && mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
hostname v2vm
ip link set lo up 2>/dev/null

mkdir -p /run/v2vm
if ! mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288,access=any v2vmio /run/v2vm; then
    say "cannot mount the io share v2vmio on /run/v2vm"
    echo o > /proc/sysrq-trigger
fi
say "ready uptime=$(cut -d' ' -f1 /proc/uptime)"
echo "$(cut -d' ' -f1 /proc/uptime)" > /run/v2vm/boot_uptime

# the script runs with the serial console as its terminal; output also lands in the io dir
sh /run/v2vm/run.sh < /dev/null 2>&1 | tee /run/v2vm/output.txt
rc=$(cat /run/v2vm/rc 2>/dev/null || echo 254)
say "exit status $rc"
sync
umount /run/v2vm 2>/dev/null
echo o > /proc/sysrq-trigger   # power off now (qemu runs with -no-reboot, so it exits)
sleep 10
