"""The podman command line boxkit builds: every use on its own store, containers under its own parent."""

from __future__ import annotations

from boxkit.podman import Podman


def test_every_command_names_the_store_and_container_makers_the_cgroup_parent(tmp_path, monkeypatch):
    monkeypatch.setenv("BOXKIT_ROOT", str(tmp_path))
    p = Podman()
    assert p.dir.startswith(str(tmp_path / "podman") + "/") and (tmp_path / "podman").is_dir()
    store = ["--root", f"{p.dir}/root", "--runroot", p.run_dir, "--tmpdir", f"{p.dir}/tmp",
             "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs"]
    for sub in ("run", "create", "build"):
        argv = p.argv(sub, "--rm", "x")
        i = argv.index(sub)
        assert argv[:1 + len(store)] == ["podman", *store]
        assert argv[i:] == [sub, "--cgroup-parent", p.cgroup_parent, "--rm", "x"]
    assert p.argv("rm", "-f", "c")[-3:] == ["rm", "-f", "c"] and "--cgroup-parent" not in p.argv("rm", "c")
    assert Podman().dir != p.dir and Podman().cgroup_parent != p.cgroup_parent, "two uses, two stores"
    assert p.close() == [f"removed {p.dir}"]
