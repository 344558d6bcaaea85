#!/bin/bash
# vm-setup.sh SRC [TOKEN]: install the course into /opt/boxkit on a fresh Debian/Ubuntu VM and serve
# JupyterLab on port 8888 (all interfaces, token auth) from a systemd unit, kernels as root.
# Used by deploy/lima.yaml, deploy/cloud-init.yaml (Multipass) and deploy/Vagrantfile; safe to re-run.
#
# A VM is the route for macOS and Windows learners: containers are a Linux kernel feature, so the
# course needs a Linux kernel of its own, and inside a VM we are root on it. A Debian 12 or Ubuntu
# 22.04+ guest boots with cgroup v2 and systemd; the unit below asks for Delegate=yes so the cgroup
# tree under the service is the service's to divide (what boxkit does per container).
set -euo pipefail
src=${1:?usage: vm-setup.sh SRC_DIR [TOKEN]}
token=${2:-${BOXKIT_TOKEN:-}}
dest=/opt/boxkit
[ "$(id -u)" = 0 ] || { echo "vm-setup.sh: run as root" >&2; exit 1; }

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends python3 python3-venv python3-dev busybox-static iproute2 \
  nftables iptables procps util-linux ca-certificates git rsync >/dev/null

# a copy, not the shared folder itself: learners edit notebooks, and a host mount (sshfs, 9p, vboxsf)
# can neither hold overlay upper directories nor keep root-owned files
mkdir -p "$dest"
rsync -a --delete --exclude .venv --exclude .git --exclude '__pycache__' "$src"/ "$dest"/
cd "$dest"
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[course]"

if [ -z "$token" ]; then
  token=$(cat /etc/boxkit-token 2>/dev/null || python3 -c 'import secrets; print(secrets.token_hex(16))')
fi
umask 077
echo "$token" > /etc/boxkit-token
umask 022

cat > /etc/systemd/system/boxkit-lab.service <<UNIT
[Unit]
Description=boxkit course (JupyterLab, kernels as root)
After=network-online.target

[Service]
WorkingDirectory=$dest/notebooks
Environment=BOXKIT_ROOT=/var/lib/boxkit
ExecStartPre=-$dest/.venv/bin/boxkit probe
ExecStart=$dest/.venv/bin/jupyter lab --allow-root --no-browser --ip=0.0.0.0 --port=8888 \
  --IdentityProvider.token=$token --ServerApp.root_dir=$dest/notebooks
Delegate=yes
Restart=on-failure

[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable --now boxkit-lab.service
systemctl restart boxkit-lab.service
echo "boxkit: JupyterLab on port 8888 of this VM, token $token"
echo "boxkit: open http://127.0.0.1:8888/lab?token=$token (Lima, Vagrant) or http://<vm ip>:8888/lab?token=$token (Multipass)"
