# A class on one VM: JupyterHub with learners as Unix users, each server in its own cgroup (memory and
# pids limits), a private /tmp and a private home; boxkit runs rootless in each learner's kernel.
# README.md beside this file says how to install it and what it isolates.
#
#   sudo /opt/boxkit/.venv/bin/jupyterhub -f /opt/boxkit/deploy/onevm/jupyterhub_config.py
#
# The tests (tests/hub/test_hub_users.py) load this file first and then put the hub on free ports of
# 127.0.0.1, with a DummyAuthenticator and learners they make; everything below is what they run.
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)   # cgroupspawner and learner_cgroup live beside this file

from cgroupspawner import CgroupSpawner  # noqa: E402

c = get_config()  # noqa: F821

# Learners log in with their Unix password (PAM, JupyterHub's default); make their accounts with
# useradd beforehand. Serve the hub behind TLS (a reverse proxy) or set ssl_key/ssl_cert.
c.JupyterHub.bind_url = "http://127.0.0.1:8000"
c.Authenticator.allowed_users = set()      # the class's user names, or a group: c.PAMAuthenticator...
c.Authenticator.admin_users = set()        # the teacher

c.JupyterHub.spawner_class = CgroupSpawner
c.CgroupSpawner.mem_limit = "1G"           # what z2jh guarantees a user by default; docs/benchmarks.md
c.CgroupSpawner.tasks_max = 512            # threads count too: a server and kernel hold about 30
c.CgroupSpawner.isolate_tmp = True         # /tmp and /var/tmp private to each learner (PrivateTmp=)
c.CgroupSpawner.tmp_size = "256M"          # each; counted against the learner's memory limit
c.CgroupSpawner.private_home = True        # chmod go-rwx the home at start
c.Spawner.start_timeout = 120              # twenty learners at once on two cores: docs/benchmarks.md
c.Spawner.http_timeout = 120

# One install for the whole class, readable by every learner (not in /root): its venv's
# jupyterhub-singleuser is the server, and its python the kernel (boxkit imported from it).
venv = os.environ.get("BOXKIT_VENV", os.path.join(os.path.dirname(os.path.dirname(here)), ".venv"))
c.Spawner.cmd = [os.path.join(venv, "bin", "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
# Each learner's kernel runs boxkit rootless: containers in a user namespace of their own, images and
# state in ~/.local/share/boxkit. Nothing here may set BOXKIT_ROOT to a shared directory.
c.Spawner.env_keep = ["LANG", "LC_ALL", "PATH"]
