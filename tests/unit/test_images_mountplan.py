"""Overlay mount planning and image references, checked without root against a recording fake."""

from __future__ import annotations

import os

import pytest
from fakesys import FakeSys

from boxkit import _sys
from boxkit.errors import SpecError
from boxkit.images import ImageConfig, parse_ref
from boxkit.images.overlay import escape, mount_overlay


class MountWatcher(FakeSys):
    """The shared fake, looking at each mount as the kernel would: the cwd it was made from, and the
    lower dirs resolved during the call (relative names resolve against that cwd)."""

    def __init__(self):
        self.cwds: list[str] = []
        self.resolved: list[str] = []
        super().__init__(hook=self._look)

    def _look(self, call) -> None:
        if call.name != "mount":
            return
        self.cwds.append(os.getcwd())
        data = call.args["data"]
        if data and data.startswith("lowerdir="):
            low = data.split(",", 1)[0][len("lowerdir="):]
            self.resolved = [os.path.realpath(p) for p in low.split(":")]


def _layers(tmp_path, n):
    out = []
    for i in range(n):
        d = tmp_path / "images" / "layers" / (f"{i:064x}") / "diff"
        d.mkdir(parents=True)
        out.append(str(d))
    return out


def test_lowers_are_top_most_first_with_upper_and_flags(tmp_path):
    fake = MountWatcher()
    layers = _layers(tmp_path, 3)
    mount_overlay(layers, "/u", "/w", "/m", flags=_sys.MS_NODEV, sys=fake)
    (_, src, target, fstype, flags, data), = fake.calls
    assert (src, target, fstype, flags) == ("overlay", "/m", "overlay", _sys.MS_NODEV)
    assert data == f"lowerdir={layers[2]}:{layers[1]}:{layers[0]},upperdir=/u,workdir=/w"


def test_readonly_stack_without_upper_sets_rdonly(tmp_path):
    fake = MountWatcher()
    mount_overlay(_layers(tmp_path, 2), None, None, "/m", sys=fake)
    assert fake.calls[0][4] & _sys.MS_RDONLY
    assert "upperdir" not in fake.calls[0][5]


def test_single_readonly_layer_is_a_readonly_bind(tmp_path):
    fake = MountWatcher()
    layer = _layers(tmp_path, 1)[0]
    mount_overlay([layer], None, None, "/m", flags=_sys.MS_NOSUID, sys=fake)
    assert fake.calls[0][1:5] == (layer, "/m", None, _sys.MS_BIND)
    flags = fake.calls[1][4]
    assert flags & _sys.MS_REMOUNT and flags & _sys.MS_RDONLY and flags & _sys.MS_NOSUID


def test_escape_separators():
    assert escape("/a,b:c\\d") == "/a\\,b\\:c\\\\d"


def test_upper_without_work_is_refused():
    with pytest.raises(SpecError, match="upper and work"):
        mount_overlay(["/a", "/b"], "/u", None, "/m", sys=MountWatcher())


def test_no_layers_is_refused():
    with pytest.raises(SpecError):
        mount_overlay([], None, None, "/m", sys=MountWatcher())


def test_200_layers_fit_one_page_through_short_relative_names(tmp_path):
    fake = MountWatcher()
    layers = _layers(tmp_path, 200)
    absolute = sum(len(p) + 1 for p in layers)
    assert absolute > 4096  # the plain option string would not fit: the test proves the other route
    cwd = os.getcwd()
    mount_overlay(layers, str(tmp_path / "u"), str(tmp_path / "w"), "rel-target", sys=fake)
    (_, _src, target, _fs, _flags, data), = fake.calls
    mount_cwd, = fake.cwds
    assert len(data.encode()) < 4096
    assert target == os.path.join(cwd, "rel-target")  # relative target made absolute before chdir
    assert mount_cwd != cwd and os.getcwd() == cwd  # mounted from the links dir, cwd restored
    assert fake.resolved == [os.path.realpath(p) for p in reversed(layers)]
    assert not os.path.exists(mount_cwd)  # the links are gone after the call


def test_more_than_the_kernel_stack_limit_is_refused():
    with pytest.raises(SpecError, match="at most 500"):
        mount_overlay([f"/l{i}" for i in range(501)], None, None, "/m", sys=MountWatcher())


@pytest.mark.parametrize("ref,expected", [
    ("busybox", ("busybox", "latest")),
    ("busybox:1.36", ("busybox", "1.36")),
    ("localhost:5000/app", ("localhost:5000/app", "latest")),
    ("localhost:5000/app:v2", ("localhost:5000/app", "v2")),
])
def test_parse_ref(ref, expected):
    assert parse_ref(ref) == expected


@pytest.mark.parametrize("bad", ["", "a b", "name:", ":tag"])
def test_parse_ref_rejects(bad):
    with pytest.raises(SpecError):
        parse_ref(bad)


def test_image_config_from_oci_and_back():
    oci = {"Env": ["A=1"], "Cmd": ["sh"], "Entrypoint": ["/init"], "WorkingDir": "/app", "User": "1000"}
    cfg = ImageConfig.from_dict(oci)
    assert (cfg.env, cfg.cmd, cfg.entrypoint, cfg.workdir, cfg.user) == (["A=1"], ["sh"], ["/init"], "/app", "1000")
    assert cfg.to_oci() == oci
    with pytest.raises(SpecError):
        ImageConfig.from_dict({"Cmd": "sh -c x"})  # a string, not a list: hostile or broken config
