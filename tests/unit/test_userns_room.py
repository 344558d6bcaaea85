"""Notebook 01's user-namespace demo maps a container's root to uid 100000 with 65536 ids. Where the
kernel itself runs in a user namespace of 65536 ids (a Kubernetes pod with hostUsers: false, Sysbox),
those ids do not exist and the kernel refuses the map: the course replays the demo and says why in a
sentence. The maps here are the texts /proc/self/uid_map holds in each place."""

from __future__ import annotations

import pytest

from boxkit import course, nsinfo

HOST = "         0          0 4294967295\n"            # the first user namespace: every id
POD = "         0  231072      65536\n"                # hostUsers: false / Sysbox: 65536 ids
ROOTLESS = "0 1000 1\n1 100000 65536\n"                 # podman rootless: own uid, then /etc/subuid
WIDE = "0 1000000 200000\n"                            # --userns=auto:size=200000
SPLIT = "0 0 100000\n100000 300000 65536\n"             # two lines that together hold the demo's ids


def test_parse_id_map_reads_each_line():
    assert nsinfo.parse_id_map(HOST) == [(0, 0, 4294967295)]
    assert nsinfo.parse_id_map(ROOTLESS) == [(0, 1000, 1), (1, 100000, 65536)]
    assert nsinfo.parse_id_map("") == []


@pytest.mark.parametrize("text, lacking", [(HOST, 0), (WIDE, 0), (SPLIT, 0), (POD, 65536),
                                           (ROOTLESS, 65536),   # its inside ids stop at 65536
                                           ("0 0 120000\n", 165536 - 120000)])
def test_unheld_ids_counts_what_the_parent_lacks(text, lacking):
    assert nsinfo.unheld_ids(nsinfo.parse_id_map(text), 100000, 65536) == lacking


def test_a_host_or_a_wide_namespace_runs_the_demo():
    assert course.idmap_shortfall(HOST, HOST) is None
    assert course.idmap_shortfall(WIDE, WIDE) is None


def test_a_pod_of_65536_ids_gets_a_sentence_not_a_traceback():
    says = course.idmap_shortfall(POD, POD)
    assert says.startswith("This notebook's kernel runs in a user namespace that maps only 65536 user ids")
    assert "from 100000 to 165535" in says and "replay" in says and "nobody" in says
    assert says.endswith(".") and says.count(". ") == 0   # one whole sentence


def test_the_group_map_is_checked_too():
    says = course.idmap_shortfall(HOST, POD)
    assert says and "65536 group ids" in says


def test_this_process_reads_its_own_maps():
    with open("/proc/self/uid_map") as f:
        own = f.read()
    with open("/proc/self/gid_map") as f:
        own_gid = f.read()
    assert course.idmap_shortfall() == course.idmap_shortfall(own, own_gid)


def test_idmap_is_a_need_and_decide_stays_pure():
    assert "idmap" in course.NEEDS
    assert course.directives("# boxkit: needs root, idmap\nx") == {"root", "idmap"}
    # the rootless banner names root, not the id map every such cell also needs
    class Laptop:
        root, rootless, cgroup_mode, checks = False, True, "hybrid", []

        def live_for(self, topic):
            return False
    assert "idmap" not in course.decide(Laptop(), "containers").reason
