# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""module_utils/_ptp.py: one owner of ptp4l/phc2sys per port, on captured and lab-shaped /proc trees."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.quantbot.hft.plugins.module_utils._ptp import (
    config_reader, describe_conflict, describe_process, observe_ptp_owners, own_units, parse_getopt,
    parse_linuxptp_config, ptp_conflicts, ptp_single_owner, read_phcs, read_ptp_processes, systemd_escape,
    unit_from_cgroup)

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "ptp")
HOST_NS = "net:[4026531840]"
GM_NS = "net:[4026532411]"

# Command lines as the role's unit templates and the lab's grandmaster unit run them.
ROLE_PTP4L = ["/usr/sbin/ptp4l", "-f", "/etc/linuxptp/quantbot-hft-enp65s0.conf", "-i", "enp65s0"]
ROLE_PHC2SYS = ["/usr/sbin/phc2sys", "-f", "/etc/linuxptp/quantbot-hft-enp65s0.conf", "-s", "enp65s0",
                "-c", "CLOCK_REALTIME", "-w"]
LAB_GM = ["/opt/hftlab/gm/root/usr/sbin/ptp4l", "-f", "/opt/hftlab/gm/gm.conf", "-i", "enp66s0", "-S", "-m"]
ROLE_CONF = ("[global]\ndomainNumber            0\nslaveOnly               1\ntime_stamping           software\n"
             "uds_address             /var/run/ptp4l-enp65s0\n")
with open(os.path.join(os.path.dirname(FIXTURES), "..", "..", "..", "lab", "hftlab", "recipe", "gm", "gm.conf")) as fh:
    GM_CONF = fh.read()  # the lab grandmaster's own config (masterOnly 1, software timestamping)


def cgroup(unit, slice_="system.slice"):
    return "0::/%s/%s\n" % (slice_, unit) if unit else "0::/\n"


POD_CGROUP = ("0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod0b1e.slice/"
              "cri-containerd-4f9a1c.scope\n")


def make_proc(root, procs, host_ns=HOST_NS):
    """A /proc tree: <pid>/cmdline (NUL separated), cgroup, ns/net, root and cwd links, and files in the roots.

    procs: [{pid, argv, cgroup, netns, files: {path: text}, cwd}]
    """
    (root / "1" / "ns").mkdir(parents=True)
    (root / "1" / "ns" / "net").symlink_to(host_ns)
    (root / "1" / "cmdline").write_bytes(b"/sbin/init\0")
    for proc in procs:
        base = root / str(proc["pid"])
        (base / "ns").mkdir(parents=True)
        raw = proc.get("raw_cmdline")
        (base / "cmdline").write_bytes(raw if raw is not None else b"\0".join(a.encode() for a in proc["argv"]) + b"\0")
        (base / "cgroup").write_text(proc.get("cgroup", "0::/\n"))
        (base / "ns" / "net").symlink_to(proc.get("netns", host_ns))
        fsroot = root.parent / ("fsroot-%s" % proc["pid"])
        fsroot.mkdir()
        for path, text in (proc.get("files") or {}).items():
            target = fsroot / path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        (base / "root").symlink_to(fsroot)
        (base / "cwd").symlink_to(fsroot / (proc.get("cwd") or "").lstrip("/"))
    return str(root)


def lab_tree(tmp_path, *extra):
    """The lab node after onboarding: the role's ptp4l@enp65s0, and the grandmaster in netns gm."""
    procs = [
        {"pid": 700, "argv": ROLE_PTP4L, "cgroup": cgroup("ptp4l@enp65s0.service", "system.slice/system-ptp4l.slice"),
         "files": {"/etc/linuxptp/quantbot-hft-enp65s0.conf": ROLE_CONF}},
        {"pid": 650, "argv": LAB_GM, "cgroup": cgroup("hftlab-gm.service"), "netns": GM_NS,
         "files": {"/opt/hftlab/gm/gm.conf": GM_CONF}},
        {"pid": 900, "argv": ["/usr/sbin/sshd", "-D"], "cgroup": cgroup("ssh.service")},
    ] + list(extra)
    return make_proc(tmp_path / "proc", procs)


def conflicts_in(proc_root, interfaces=("enp65s0",), phcs=None, realtime_owner="enp65s0", uds=None):
    return ptp_conflicts(read_ptp_processes(proc_root), list(interfaces),
                         {"enp65s0": 0, "enp66s0": 1} if phcs is None else phcs, config_reader(proc_root),
                         realtime_owner, uds)


# --- reading ------------------------------------------------------------------------------
def test_reader_on_the_captured_tree(tmp_path):
    with open(os.path.join(FIXTURES, "proc-ptp4l-netns-capture.json")) as fh:
        capture = json.load(fh)
    with open(os.path.join(FIXTURES, "capture-node.conf")) as fh:
        node_conf = fh.read()
    procs = [{"pid": p["pid"], "raw_cmdline": p["cmdline"].encode("latin-1"), "argv": None, "cgroup": p["cgroup"],
              "netns": p["netns"], "cwd": p["cwd"],
              "files": {"/tmp/agree-cap/gm.conf": GM_CONF, "/tmp/agree-cap/node.conf": node_conf}}
             for p in capture["processes"]]
    procs.append({"pid": 1840, "raw_cmdline": b"", "argv": None})  # a zombie: empty cmdline
    root = make_proc(tmp_path / "proc", procs, host_ns=capture["host_netns"])
    found = read_ptp_processes(root)
    assert [(p["pid"], p["argv"], p["unit"], p["foreign_netns"]) for p in found] == [
        (1835, ["ptp4l", "-f", "/tmp/agree-cap/gm.conf", "-i", "agv1", "-S", "-m"], None, True),
        (1837, ["ptp4l", "-f", "/tmp/agree-cap/node.conf", "-i", "agv0", "-S", "-m"], None, True)]
    info = describe_process(found[0], config_reader(root))
    assert (info["interfaces"], info["time_stamping"], info["master_only"]) == (["agv1"], "software", True)
    # Both in namespaces of their own, so no host port; masterOnly and free_running never adjust a clock.
    assert ptp_conflicts(found, ["agv0"], {}, config_reader(root), realtime_owner="agv0") == []
    (tmp_path / "fsroot-1837" / "tmp" / "agree-cap" / "node.conf").write_text(node_conf.replace("free_running", "#"))
    found_now = ptp_conflicts(found, ["agv0"], {}, config_reader(root), realtime_owner="agv0")
    assert [(c["pid"], c["port"]) for c in found_now] == [(1837, "CLOCK_REALTIME")]


def test_the_host_namespace_falls_back_to_self_when_pid1_is_unreadable(tmp_path):
    root = tmp_path / "proc"
    (root / "self" / "ns").mkdir(parents=True)
    (root / "self" / "ns" / "net").symlink_to(HOST_NS)
    (root / "42" / "ns").mkdir(parents=True)
    (root / "42" / "cmdline").write_bytes(b"ptp4l\0-i\0enp65s0\0")
    (root / "42" / "ns" / "net").symlink_to(HOST_NS)
    assert read_ptp_processes(str(root))[0]["foreign_netns"] is False


@pytest.mark.parametrize("text, unit", [
    ("0::/system.slice/system-ptp4l.slice/ptp4l@enp65s0.service\n", "ptp4l@enp65s0.service"),
    ("12:pids:/system.slice/x.service\n1:name=systemd:/system.slice/system-phc2sys.slice/phc2sys@ens1f0.service\n",
     "phc2sys@ens1f0.service"),
    ("0::/user.slice/user-1000.slice/session-3.scope\n", "session-3.scope"),
    (POD_CGROUP, "cri-containerd-4f9a1c.scope"),
    ("0::/system.slice/foo.service/payload\n", "foo.service"),
    ("0::/\n", None),
    ("", None),
])
def test_unit_from_cgroup(text, unit):
    assert unit_from_cgroup(text)[0] == unit


def test_role_units_are_systemd_escaped():
    assert systemd_escape("enp65s0") == "enp65s0" and systemd_escape("eth-1") == "eth\\x2d1"
    assert own_units(["eth-1"]) == {"ptp4l@eth\\x2d1.service", "phc2sys@eth\\x2d1.service"}


def test_getopt_reads_linuxptp_command_lines():
    opts, operands = parse_getopt(["ptp4l", "-Sm", "-ienp65s0", "-i", "ens1f0", "--domainNumber=24",
                                   "--slaveOnly", "1", "-f/etc/x.conf", "--", "-i"], "ptp4l")
    assert opts == [("S", None), ("m", None), ("i", "enp65s0"), ("i", "ens1f0"), ("domainNumber", "24"),
                    ("slaveOnly", "1"), ("f", "/etc/x.conf")]
    assert operands == ["-i"]
    opts, dummy = parse_getopt(["phc2sys", "-arr", "-z", "/var/run/ptp4l-enp65s0", "-S0.00002"], "phc2sys")
    assert opts == [("a", None), ("r", None), ("r", None), ("z", "/var/run/ptp4l-enp65s0"), ("S", "0.00002")]


def test_linuxptp_config_ports_and_globals():
    cfg = parse_linuxptp_config("# comment\n[global]\ntime_stamping hardware\nmasterOnly 0\n[enp65s0]\n"
                                "masterOnly 1\n[unicast_master_table]\ntable_id 1\n; other comment\n[ens1f0]\n")
    assert cfg["global"] == {"time_stamping": "hardware", "masterOnly": "0"}
    assert list(cfg["ports"]) == ["enp65s0", "ens1f0"] and cfg["ports"]["enp65s0"] == {"masterOnly": "1"}


def test_phcs_from_sysfs(tmp_path):
    for name, ptp in (("enp65s0", "ptp0"), ("ens1f0", "ptp3"), ("enp0s2", None)):
        dev = tmp_path / "class" / "net" / name / "device"
        dev.mkdir(parents=True)
        if ptp:
            (dev / "ptp" / ptp).mkdir(parents=True)
    assert read_phcs(str(tmp_path)) == {"enp65s0": 0, "ens1f0": 3}
    assert read_phcs(str(tmp_path / "none")) == {}


# --- the lab: its grandmaster is not a second owner ---------------------------------------------
def test_the_lab_grandmaster_is_not_a_second_owner(tmp_path):
    root = lab_tree(tmp_path)
    assert conflicts_in(root) == []
    # Even if the GM's port were visible with its own PHC, it is another interface and another PHC.
    assert conflicts_in(root, phcs={"enp65s0": 0, "enp66s0": 1}) == []
    assert conflicts_in(root, realtime_owner=None) == []


def test_a_grandmaster_that_can_become_slave_would_fight_over_the_clock(tmp_path):
    root = make_proc(tmp_path / "proc", [
        {"pid": 650, "argv": LAB_GM, "cgroup": cgroup("hftlab-gm.service"), "netns": GM_NS,
         "files": {"/opt/hftlab/gm/gm.conf": GM_CONF.replace("masterOnly              1", "masterOnly 0")}}])
    found = conflicts_in(root)
    assert [(c["pid"], c["port"]) for c in found] == [(650, "CLOCK_REALTIME")]
    assert conflicts_in(root, realtime_owner=None) == []  # the role does not discipline CLOCK_REALTIME


def test_a_second_ptp4l_by_hand_on_the_port_is_found(tmp_path):
    by_hand = {"pid": 4242, "argv": ["ptp4l", "-i", "enp65s0", "-S", "-m"],
               "cgroup": cgroup("session-3.scope", "user.slice/user-0.slice")}
    found = conflicts_in(lab_tree(tmp_path, by_hand))
    assert [(c["pid"], c["port"], c["reason"]) for c in found] == [
        (4242, "enp65s0", "ptp4l on the same interface (-i enp65s0)"),
        (4242, "CLOCK_REALTIME", "ptp4l with software timestamping disciplines CLOCK_REALTIME, which the role's "
                                 "instance on enp65s0 owns")]
    assert found[0]["argv"] == ["ptp4l", "-i", "enp65s0", "-S", "-m"] and found[0]["unit"] == "session-3.scope"


def test_the_role_command_line_outside_its_unit_is_a_second_owner(tmp_path):
    copy = {"pid": 4300, "argv": ROLE_PTP4L, "cgroup": cgroup("session-4.scope", "user.slice"),
            "files": {"/etc/linuxptp/quantbot-hft-enp65s0.conf": ROLE_CONF}}
    assert {c["port"] for c in conflicts_in(lab_tree(tmp_path, copy))} == {"enp65s0", "CLOCK_REALTIME"}


def test_a_hostnetwork_pod_with_the_port_in_its_config_is_found(tmp_path):
    pod = {"pid": 5100, "argv": ["/usr/sbin/ptp4l", "-f", "/etc/ptp4l.conf", "-m"], "cgroup": POD_CGROUP,
           "files": {"/etc/ptp4l.conf": "[global]\ntime_stamping hardware\n[enp65s0]\n"}}
    found = conflicts_in(lab_tree(tmp_path, pod))
    assert [(c["pid"], c["port"], c["reason"]) for c in found] == [
        (5100, "enp65s0", "ptp4l on the same interface ([enp65s0] in /etc/ptp4l.conf)")]
    assert "a Kubernetes pod's container, cri-containerd-4f9a1c.scope" in describe_conflict(found[0])


def test_a_pod_in_its_own_network_namespace_is_another_machine(tmp_path):
    pod = {"pid": 5200, "argv": ["ptp4l", "-i", "enp65s0", "-H"], "cgroup": POD_CGROUP, "netns": "net:[4026532999]"}
    assert conflicts_in(lab_tree(tmp_path, pod)) == []


def test_ptp4l_on_another_port_that_shares_the_phc(tmp_path):
    phcs = {"ens1f0": 3, "ens1f1": 3, "ens2f0": 5}
    hw = {"pid": 6000, "argv": ["ptp4l", "-i", "ens1f1", "-H"], "cgroup": cgroup("ptp4l.service")}
    sw = {"pid": 6001, "argv": ["ptp4l", "-i", "ens1f1", "-S", "--masterOnly=1"], "cgroup": cgroup("ptp-sw.service")}
    other = {"pid": 6002, "argv": ["ptp4l", "-i", "ens2f0"], "cgroup": cgroup("ptp-other.service")}
    forced = {"pid": 6003, "argv": ["ptp4l", "-i", "ens2f0", "-p", "/dev/ptp3"], "cgroup": cgroup("ptp-p.service")}
    root = make_proc(tmp_path / "proc", [hw, sw, other, forced])
    found = conflicts_in(root, interfaces=["ens1f0"], phcs=phcs, realtime_owner=None)
    assert [(c["pid"], c["port"], c["reason"]) for c in found] == [
        (6000, "ens1f0", "ptp4l on ens1f1 disciplines /dev/ptp3, the PHC of ens1f0"),
        (6003, "ens1f0", "ptp4l on ens2f0 disciplines /dev/ptp3, the PHC of ens1f0")]


@pytest.mark.parametrize("argv, port, reason", [
    (["phc2sys", "-s", "enp65s0", "-c", "CLOCK_REALTIME", "-w"], "enp65s0", "phc2sys -s enp65s0"),
    (["phc2sys", "-s", "/dev/ptp0", "-O", "0"], "enp65s0", "phc2sys -s /dev/ptp0 is /dev/ptp0, the PHC of enp65s0"),
    (["phc2sys", "-s", "CLOCK_REALTIME", "-c", "enp65s0"], "enp65s0", "phc2sys -c enp65s0"),
    (["phc2sys", "-i", "enp65s0"], "enp65s0", "phc2sys -s enp65s0"),
    (["phc2sys", "-a", "-z", "/var/run/ptp4l-enp65s0"], "enp65s0",
     "phc2sys -a follows the role's ptp4l on enp65s0 (socket /var/run/ptp4l-enp65s0)"),
    (["phc2sys", "-a", "-r"], "CLOCK_REALTIME",
     "phc2sys writes CLOCK_REALTIME, which the role's instance on enp65s0 owns"),
    (["phc2sys", "-s", "/dev/ptp7"], "CLOCK_REALTIME", "phc2sys writes CLOCK_REALTIME"),  # -c defaults to it
])
def test_phc2sys_on_the_port_its_phc_or_the_clock(tmp_path, argv, port, reason):
    root = lab_tree(tmp_path, {"pid": 7000, "argv": argv, "cgroup": cgroup("chrony-helper.service")})
    found = [c for c in conflicts_in(root, uds={"enp65s0": "/var/run/ptp4l-enp65s0"}) if c["pid"] == 7000]
    assert (found[0]["port"], found[0]["reason"][:len(reason)]) == (port, reason), found


def test_unrelated_phc2sys_and_the_role_own_are_not_conflicts(tmp_path):
    procs = [{"pid": 7100, "argv": ["phc2sys", "-s", "/dev/ptp3", "-c", "/dev/ptp4"], "cgroup": cgroup("x.service")},
             {"pid": 7101, "argv": ["phc2sys", "-a"], "cgroup": cgroup("y.service")},  # another ptp4l's socket
             {"pid": 701, "argv": ROLE_PHC2SYS, "cgroup": cgroup("phc2sys@enp65s0.service", "system.slice/system-phc2sys.slice"),
              "files": {"/etc/linuxptp/quantbot-hft-enp65s0.conf": ROLE_CONF}}]
    assert conflicts_in(lab_tree(tmp_path, *procs), uds={"enp65s0": "/var/run/ptp4l-enp65s0"}) == []


def test_an_unreadable_config_is_reported_and_the_command_line_still_counts(tmp_path):
    proc = {"pid": 8000, "argv": ["ptp4l", "-f", "/etc/gone.conf", "-i", "enp65s0"], "cgroup": cgroup("z.service")}
    found = conflicts_in(lab_tree(tmp_path, proc), realtime_owner=None)
    assert [(c["port"], c["config_error"]) for c in found] == [("enp65s0", "cannot read /etc/gone.conf")]


def test_a_relative_config_is_read_from_the_process_cwd(tmp_path):
    proc = {"pid": 8100, "argv": ["ptp4l", "-S", "-f", "cl.conf"], "cgroup": cgroup("q.service"), "cwd": "/srv/ptp",
            "files": {"/srv/ptp/cl.conf": "[global]\nmasterOnly 1\n[enp65s0]\n"}}
    found = conflicts_in(lab_tree(tmp_path, proc))
    assert [(c["port"], c["reason"]) for c in found] == [
        ("enp65s0", "ptp4l on the same interface ([enp65s0] in cl.conf)")]


# --- the judge -------------------------------------------------------------------------------
def test_judge_passes_on_the_lab_and_fails_naming_process_and_port(tmp_path):
    ok = ptp_single_owner(conflicts_in(lab_tree(tmp_path / "a")), ["enp65s0"])
    assert ok == {"check": "ptp_single_owner", "ok": True,
                  "expected": "no ptp4l or phc2sys but ptp4l@/phc2sys@ of quantbot.hft on enp65s0 (interface, PHC)",
                  "actual": "no other ptp4l or phc2sys on these ports", "hint": ""}
    by_hand = {"pid": 4242, "argv": ["ptp4l", "-i", "enp65s0", "-S", "-m"], "cgroup": cgroup("session-3.scope")}
    bad = ptp_single_owner(conflicts_in(lab_tree(tmp_path / "b", by_hand)), ["enp65s0"])
    assert bad["ok"] is False
    assert bad["actual"][0] == ("pid 4242 `ptp4l -i enp65s0 -S -m` (session-3.scope): enp65s0: "
                                "ptp4l on the same interface (-i enp65s0)")
    assert "quantbot-ptp DaemonSet's pod must not run ptp4l or phc2sys" in bad["hint"]


def test_observe_reads_proc_and_sysfs_once(tmp_path):
    by_hand = {"pid": 4242, "argv": ["ptp4l", "-i", "enp65s0", "-S"], "cgroup": cgroup("session-3.scope")}
    root = lab_tree(tmp_path, by_hand)
    (tmp_path / "sys" / "class" / "net" / "enp65s0" / "device" / "ptp" / "ptp0").mkdir(parents=True)
    seen = observe_ptp_owners(["enp65s0"], proc_root=root, sys_root=str(tmp_path / "sys"))
    assert seen["phcs"] == {"enp65s0": 0}
    assert sorted(p["pid"] for p in seen["processes"]) == [650, 700, 4242]
    assert [(c["pid"], c["port"]) for c in seen["conflicts"]] == [(4242, "enp65s0")]  # no realtime_owner given
