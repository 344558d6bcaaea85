#!/bin/sh
# Start of the privileged course container (deploy/Containerfile) and of hub images: make cgroup v2
# usable for child groups, say what this host allows, then run the command (JupyterLab by default).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if [ "$(id -u)" = 0 ]; then
  "$here/cgroup-nest.sh" || echo "entrypoint: cgroup nesting failed; cgroup demos will be RECORDED" >&2
fi
if command -v boxkit >/dev/null 2>&1; then
  boxkit probe || true
fi
exec "$@"
