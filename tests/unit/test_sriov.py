# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""module_utils/_sriov.py: request checks, host checks, plan, apply and the CLI, on fake sysfs trees."""

from __future__ import annotations

import base64
import io
import json
import os

import pytest

from ansible_collections.quantbot.hft.plugins.module_utils import _sriov
from ansible_collections.quantbot.hft.plugins.module_utils._sriov import (
    SriovError, device_plugin_config, iommu_status, normalize_mac, normalize_pfs, parse_ip_vfinfo,
    plan_changes, read_host, validate_against_host)

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "sriov")


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return handle.read()


def make_tree(root, pfs=None, others=("enp0s2",), iommu=False):
    """A fake sysfs: class/net/<pf>/device with SR-IOV files, VFs as virtfnN links to bus/pci/devices.

    pfs: {name: {"totalvfs": 7|0|None, "numvfs": n, "vf_drivers": ["igbvf", ...], "overrides": [...]}}
    """
    pfs = {"enp65s0": {"totalvfs": 7, "numvfs": 0}} if pfs is None else pfs
    devices = root / "bus" / "pci" / "devices"
    devices.mkdir(parents=True)
    (root / "bus" / "pci" / "drivers_probe").write_text("")
    for name in others:
        (root / "class" / "net" / name / "device").mkdir(parents=True)
    for bus, (name, spec) in enumerate(sorted(pfs.items()), start=0x41):
        device = root / "class" / "net" / name / "device"
        device.mkdir(parents=True)
        (device / "vendor").write_text("0x8086\n")
        if spec.get("totalvfs") is not None:
            (device / "sriov_totalvfs").write_text("%d\n" % spec["totalvfs"])
            (device / "sriov_numvfs").write_text("%d\n" % spec.get("numvfs", 0))
            (device / "sriov_vf_device").write_text("10ca\n")
        drivers = spec.get("vf_drivers", ["igbvf"] * spec.get("numvfs", 0))
        for index in range(spec.get("numvfs", 0)):
            pci = "0000:%02x:10.%d" % (bus, index)
            vf = devices / pci
            vf.mkdir()
            overrides = spec.get("overrides") or []
            (vf / "driver_override").write_text((overrides[index] if index < len(overrides) else "(null)") + "\n")
            if drivers[index]:
                drv = root / "bus" / "pci" / "drivers" / drivers[index]
                drv.mkdir(parents=True, exist_ok=True)
                (drv / "unbind").write_text("")
                (vf / "driver").symlink_to(drv)
            (device / ("virtfn%d" % index)).symlink_to(vf)
    if iommu:
        (root / "kernel" / "iommu_groups" / "0").mkdir(parents=True)
    return root


# --- the request on its own -----------------------------------------------------------
def test_lab_request_is_normalized():
    assert normalize_pfs([{"name": "enp65s0", "num_vfs": 2}]) == [
        {"name": "enp65s0", "num_vfs": 2, "driver": "kernel", "vfs": []}]


def test_vf_settings_are_normalized_and_sorted():
    pfs = normalize_pfs([{"name": "ens1f0", "num_vfs": 4, "driver": "vfio-pci", "vfs": [
        {"index": 3, "trust": True, "spoofchk": False},
        {"index": 0, "mac": "02:00:5E:10:00:01", "vlan": 100}]}])
    assert pfs[0]["vfs"] == [{"index": 0, "mac": "02:00:5e:10:00:01", "vlan": 100},
                             {"index": 3, "trust": True, "spoofchk": False}]


@pytest.mark.parametrize("pfs, message", [
    ("enp65s0", "sriov_pfs must be a list"),
    ([{"num_vfs": 2}], "sriov_pfs[0].name must be a network interface name"),
    ([{"name": "a", "num_vfs": -1}], "PF a: num_vfs must be an integer >= 0, got -1"),
    ([{"name": "a", "num_vfs": "2"}], "num_vfs must be an integer"),
    ([{"name": "a", "num_vfs": True}], "num_vfs must be an integer"),
    ([{"name": "a", "num_vfs": 1}, {"name": "a", "num_vfs": 1}], "PF a is listed twice"),
    ([{"name": "a", "num_vfs": 1, "driver": "dpdk"}], "driver must be one of kernel, vfio-pci"),
    ([{"name": "a", "num_vfs": 1, "numvfs": 1}], "unknown keys: numvfs"),
    ([{"name": "a", "num_vfs": 2, "vfs": [{"index": 0}, {"index": 0}]}], "PF a VF 0 is configured twice"),
    ([{"name": "a", "num_vfs": 2, "vfs": [{"index": 2}]}], "PF a VF 2: index 2 is out of range, the PF gets num_vfs=2 (indices 0-1)"),
    ([{"name": "a", "num_vfs": 0, "vfs": [{"index": 0}]}], "the PF gets num_vfs=0"),
    ([{"name": "a", "num_vfs": 1, "vfs": [{"index": 0, "mac": "02:00:5e:10:00"}]}], "bad MAC address '02:00:5e:10:00'"),
    ([{"name": "a", "num_vfs": 1, "vfs": [{"index": 0, "mac": "01:00:5e:10:00:01"}]}], "multicast bit set"),
    ([{"name": "a", "num_vfs": 2, "vfs": [{"index": 0, "mac": "02:00:00:00:00:01"},
                                          {"index": 1, "mac": "02:00:00:00:00:01"}]}], "already used by PF a VF 0"),
    ([{"name": "a", "num_vfs": 1, "vfs": [{"index": 0, "trust": "yes"}]}], "trust must be true or false"),
    ([{"name": "a", "num_vfs": 1, "vfs": [{"index": 0, "vlan": 4095}]}], "vlan must be an integer 0-4094"),
    ([{"name": "a", "num_vfs": 1, "vfs": [{"index": 0, "qos": 1}]}], "unknown keys: qos"),
])
def test_bad_requests_are_refused_with_a_clear_message(pfs, message):
    with pytest.raises(SriovError) as err:
        normalize_pfs(pfs)
    assert message in str(err.value)


def test_every_problem_is_reported_at_once():
    with pytest.raises(SriovError) as err:
        normalize_pfs([{"name": "a", "num_vfs": -1}, {"name": "b", "num_vfs": 1, "driver": "x"}])
    assert "PF a" in str(err.value) and "PF b" in str(err.value)


def test_zero_mac_is_refused():
    with pytest.raises(SriovError, match="all zeros"):
        normalize_mac("00:00:00:00:00:00")


# --- against the host ----------------------------------------------------------------
def host_for(tmp_path, pfs=None, names=("enp65s0",), **kw):
    root = make_tree(tmp_path / "sys", pfs, **kw)
    return root, read_host(str(root), list(names))


def test_read_host_igb(tmp_path):
    _root, host = host_for(tmp_path, {"enp65s0": {"totalvfs": 7, "numvfs": 2}})
    info = host["pfs"]["enp65s0"]
    assert host["interfaces"] == ["enp0s2", "enp65s0"]
    assert (info["exists"], info["totalvfs"], info["numvfs"]) == (True, 7, 2)
    assert (info["vendor"], info["vf_device"]) == ("8086", "10ca")
    assert [(vf["index"], vf["driver"], vf["driver_override"]) for vf in info["vfs"]] == [
        (0, "igbvf", None), (1, "igbvf", None)]


def test_unknown_pf_is_refused_and_known_ones_listed(tmp_path):
    _root, host = host_for(tmp_path, names=("ens9f0",))
    with pytest.raises(SriovError) as err:
        validate_against_host(normalize_pfs([{"name": "ens9f0", "num_vfs": 1}]), host)
    assert str(err.value) == ("unknown PF ens9f0: no such network interface "
                              "(interfaces on this host: enp0s2, enp65s0)")


def test_pf_without_sriov_is_refused(tmp_path):
    _root, host = host_for(tmp_path, names=("enp0s2",))
    with pytest.raises(SriovError, match="PF enp0s2 does not support SR-IOV \\(no sriov_totalvfs in sysfs\\)"):
        validate_against_host(normalize_pfs([{"name": "enp0s2", "num_vfs": 1}]), host)


def test_pf_with_zero_totalvfs_is_refused(tmp_path):
    _root, host = host_for(tmp_path, {"enp65s0": {"totalvfs": 0}})
    with pytest.raises(SriovError, match="sriov_totalvfs is 0"):
        validate_against_host(normalize_pfs([{"name": "enp65s0", "num_vfs": 1}]), host)


def test_too_many_vfs_are_refused(tmp_path):
    _root, host = host_for(tmp_path)
    with pytest.raises(SriovError, match="PF enp65s0: num_vfs=8 exceeds sriov_totalvfs=7"):
        validate_against_host(normalize_pfs([{"name": "enp65s0", "num_vfs": 8}]), host)


def test_totalvfs_itself_is_accepted(tmp_path):
    _root, host = host_for(tmp_path)
    pfs = normalize_pfs([{"name": "enp65s0", "num_vfs": 7}])
    assert validate_against_host(pfs, host) is pfs


# --- ip -j link -----------------------------------------------------------------------
def test_parse_ip_vfinfo_defaults():
    assert parse_ip_vfinfo(fixture("ip-j-link-igb-2vfs-default.json")) == {
        0: {"mac": "00:00:00:00:00:00", "trust": False, "spoofchk": True, "vlan": 0},
        1: {"mac": "00:00:00:00:00:00", "trust": False, "spoofchk": True, "vlan": 0}}


def test_parse_ip_vfinfo_configured():
    assert parse_ip_vfinfo(fixture("ip-j-link-igb-2vfs-configured.json"))[0] == {
        "mac": "02:00:5e:10:00:01", "trust": True, "spoofchk": False, "vlan": 100}


def test_parse_ip_vfinfo_no_vfs():
    assert parse_ip_vfinfo(fixture("ip-j-link-no-vfs.json")) == {}


def test_parse_ip_vfinfo_garbage():
    with pytest.raises(SriovError, match="cannot read ip -j link output"):
        parse_ip_vfinfo("Device \"x\" does not exist.")


# --- plan -----------------------------------------------------------------------------
VF0 = {"index": 0, "mac": "02:00:5e:10:00:01", "vlan": 100, "trust": True, "spoofchk": False}


def test_plan_creates_vfs_from_zero(tmp_path):
    _root, host = host_for(tmp_path)
    actions = plan_changes(normalize_pfs([{"name": "enp65s0", "num_vfs": 2}]), host)
    assert actions == [{"pf": "enp65s0", "action": "set_num_vfs", "from": 0, "to": 2}]


def test_plan_is_empty_when_the_host_matches(tmp_path):
    root = make_tree(tmp_path / "sys", {"enp65s0": {"totalvfs": 7, "numvfs": 2}})
    host = read_host(str(root), ["enp65s0"], {"enp65s0": parse_ip_vfinfo(fixture("ip-j-link-igb-2vfs-configured.json"))})
    pfs = normalize_pfs([{"name": "enp65s0", "num_vfs": 2, "vfs": [VF0]}])
    assert plan_changes(pfs, host) == []


def test_plan_sets_only_the_settings_that_differ(tmp_path):
    root = make_tree(tmp_path / "sys", {"enp65s0": {"totalvfs": 7, "numvfs": 2}})
    host = read_host(str(root), ["enp65s0"], {"enp65s0": parse_ip_vfinfo(fixture("ip-j-link-igb-2vfs-default.json"))})
    pfs = normalize_pfs([{"name": "enp65s0", "num_vfs": 2, "vfs": [VF0, {"index": 1, "spoofchk": True}]}])
    assert plan_changes(pfs, host) == [{"pf": "enp65s0", "action": "set_vf", "vf": 0, "settings": {
        "mac": "02:00:5e:10:00:01", "vlan": 100, "trust": True, "spoofchk": False}}]


def test_plan_count_change_goes_through_zero_and_reapplies_settings(tmp_path):
    _root, host = host_for(tmp_path, {"enp65s0": {"totalvfs": 7, "numvfs": 2}})
    pfs = normalize_pfs([{"name": "enp65s0", "num_vfs": 4, "vfs": [{"index": 0, "trust": True}]}])
    assert plan_changes(pfs, host) == [
        {"pf": "enp65s0", "action": "set_num_vfs", "from": 2, "to": 4},
        {"pf": "enp65s0", "action": "set_vf", "vf": 0, "settings": {"trust": True}}]


def test_plan_binds_vfio(tmp_path):
    _root, host = host_for(tmp_path, {"enp65s0": {"totalvfs": 7, "numvfs": 2, "vf_drivers": ["vfio-pci", "igbvf"],
                                                  "overrides": ["vfio-pci"]}})
    pfs = normalize_pfs([{"name": "enp65s0", "num_vfs": 2, "driver": "vfio-pci"}])
    assert plan_changes(pfs, host) == [{"pf": "enp65s0", "action": "bind", "vf": 1, "driver": "vfio-pci"}]


def test_plan_returns_vfio_vfs_to_the_kernel(tmp_path):
    _root, host = host_for(tmp_path, {"enp65s0": {"totalvfs": 7, "numvfs": 1, "vf_drivers": ["vfio-pci"],
                                                  "overrides": ["vfio-pci"]}})
    pfs = normalize_pfs([{"name": "enp65s0", "num_vfs": 1}])
    assert plan_changes(pfs, host) == [{"pf": "enp65s0", "action": "bind", "vf": 0, "driver": "kernel"}]


def test_plan_removes_all_vfs(tmp_path):
    _root, host = host_for(tmp_path, {"enp65s0": {"totalvfs": 7, "numvfs": 3}})
    assert plan_changes(normalize_pfs([{"name": "enp65s0", "num_vfs": 0}]), host) == [
        {"pf": "enp65s0", "action": "set_num_vfs", "from": 3, "to": 0}]


# --- IOMMU and the device plugin ------------------------------------------------------
def test_iommu_not_needed_for_kernel_vfs():
    status = iommu_status(normalize_pfs([{"name": "a", "num_vfs": 2}]), ["intel_iommu=on", "iommu=pt"], [], "")
    assert status == {"needed": False, "missing_from_plan": [], "missing_from_cmdline": [], "reboot_required": False}


def test_vfio_needs_iommu_in_plan_and_cmdline():
    pfs = normalize_pfs([{"name": "a", "num_vfs": 2, "driver": "vfio-pci"}])
    status = iommu_status(pfs, ["intel_iommu=on", "iommu=pt"], ["isolcpus=2-3"], "BOOT_IMAGE=/vmlinuz ro quiet")
    assert status["needed"] is True
    assert status["missing_from_plan"] == ["intel_iommu=on", "iommu=pt"]
    assert status["reboot_required"] is True


def test_vfio_with_iommu_running_needs_no_reboot():
    pfs = normalize_pfs([{"name": "a", "num_vfs": 2, "driver": "vfio-pci"}])
    args = ["intel_iommu=on", "iommu=pt"]
    status = iommu_status(pfs, args, args, "BOOT_IMAGE=/vmlinuz intel_iommu=on iommu=pt")
    assert status["reboot_required"] is False and status["missing_from_plan"] == []


def test_device_plugin_config_for_the_runbook_resource(tmp_path):
    _root, host = host_for(tmp_path)
    config = device_plugin_config(normalize_pfs([{"name": "enp65s0", "num_vfs": 2}]), host)
    assert config == {"resourceList": [{
        "resourceName": "quantbot_hft_vf", "resourcePrefix": "openshift.io", "deviceType": "netDevice",
        "selectors": [{"pfNames": ["enp65s0#0-1"], "vendors": ["8086"], "devices": ["10ca"]}]}]}


def test_device_plugin_config_vfio_selects_the_driver(tmp_path):
    _root, host = host_for(tmp_path)
    config = device_plugin_config(normalize_pfs([{"name": "enp65s0", "num_vfs": 2, "driver": "vfio-pci"}]), host)
    assert config["resourceList"][0]["selectors"][0]["drivers"] == ["vfio-pci"]


def test_device_plugin_config_refuses_mixed_drivers(tmp_path):
    _root, host = host_for(tmp_path, {"a": {"totalvfs": 7}, "b": {"totalvfs": 7}}, names=("a", "b"))
    pfs = normalize_pfs([{"name": "a", "num_vfs": 1}, {"name": "b", "num_vfs": 1, "driver": "vfio-pci"}])
    with pytest.raises(SriovError, match="mix VF drivers"):
        device_plugin_config(pfs, host)


# --- apply on a fake tree -------------------------------------------------------------
class FakeIp:
    """Answers `ip -j link show` from a fixture and records every other argv."""

    def __init__(self, show="ip-j-link-igb-2vfs-default.json"):
        self.show = show
        self.calls = []

    def __call__(self, argv):
        self.calls.append(argv)
        if argv[:3] == ["ip", "-j", "link"]:
            return fixture(self.show)
        return ""


def test_apply_is_a_no_op_when_the_host_matches(tmp_path, digest):
    root = make_tree(tmp_path / "sys", {"enp65s0": {"totalvfs": 7, "numvfs": 2}})
    before = digest(str(root))
    ip = FakeIp("ip-j-link-igb-2vfs-configured.json")
    result = _sriov.apply(normalize_pfs([{"name": "enp65s0", "num_vfs": 2, "vfs": [VF0]}]), str(root), run=ip)
    assert result == {"changed": False, "actions": [], "deferred": []}
    assert digest(str(root)) == before
    assert [c for c in ip.calls if c[:3] != ["ip", "-j", "link"]] == []


def test_apply_resets_to_zero_before_a_new_count(tmp_path, monkeypatch):
    root = make_tree(tmp_path / "sys", {"enp65s0": {"totalvfs": 7, "numvfs": 2}})
    writes = []
    real_write = _sriov._write
    monkeypatch.setattr(_sriov, "_write", lambda path, value: (writes.append((os.path.basename(path), value)),
                                                               real_write(path, value)))
    monkeypatch.setattr(_sriov, "_wait_for_vfs", lambda device, count, timeout: None)
    result = _sriov.apply(normalize_pfs([{"name": "enp65s0", "num_vfs": 4}]), str(root), run=FakeIp())
    assert writes == [("sriov_numvfs", "0"), ("sriov_numvfs", "4")]
    assert result["changed"] is True


def test_apply_sets_vf_settings_with_an_argument_list(tmp_path):
    root = make_tree(tmp_path / "sys", {"enp65s0": {"totalvfs": 7, "numvfs": 2}})
    ip = FakeIp()
    _sriov.apply(normalize_pfs([{"name": "enp65s0", "num_vfs": 2, "vfs": [VF0]}]), str(root), run=ip)
    assert ip.calls[-1] == ["ip", "link", "set", "dev", "enp65s0", "vf", "0", "mac", "02:00:5e:10:00:01",
                            "vlan", "100", "trust", "on", "spoofchk", "off"]


def test_apply_binds_vfio_through_driver_override(tmp_path):
    root = make_tree(tmp_path / "sys", {"enp65s0": {"totalvfs": 7, "numvfs": 1}}, iommu=True)
    ip = FakeIp()
    result = _sriov.apply(normalize_pfs([{"name": "enp65s0", "num_vfs": 1, "driver": "vfio-pci"}]), str(root), run=ip)
    vf = root / "bus" / "pci" / "devices" / "0000:41:10.0"
    assert (vf / "driver_override").read_text() == "vfio-pci"
    assert (root / "bus" / "pci" / "drivers" / "igbvf" / "unbind").read_text() == "0000:41:10.0"
    assert (root / "bus" / "pci" / "drivers_probe").read_text() == "0000:41:10.0"
    assert ["modprobe", "vfio-pci"] in ip.calls
    assert result["actions"] == [{"pf": "enp65s0", "action": "bind", "vf": 0, "driver": "vfio-pci"}]


def test_apply_vfio_without_iommu_fails_at_boot(tmp_path):
    root = make_tree(tmp_path / "sys", {"enp65s0": {"totalvfs": 7, "numvfs": 1}})
    with pytest.raises(SriovError, match="IOMMU is off"):
        _sriov.apply(normalize_pfs([{"name": "enp65s0", "num_vfs": 1, "driver": "vfio-pci"}]), str(root), run=FakeIp())


def test_apply_vfio_without_iommu_is_deferred_when_a_reboot_is_pending(tmp_path, digest):
    root = make_tree(tmp_path / "sys", {"enp65s0": {"totalvfs": 7, "numvfs": 1}})
    before = digest(str(root))
    result = _sriov.apply(normalize_pfs([{"name": "enp65s0", "num_vfs": 1, "driver": "vfio-pci"}]), str(root),
                          run=FakeIp(), defer_vfio=True)
    assert result["changed"] is False and len(result["deferred"]) == 1
    assert digest(str(root)) == before


def test_apply_refuses_bad_host_input_before_writing(tmp_path, digest):
    root = make_tree(tmp_path / "sys")
    before = digest(str(root))
    with pytest.raises(SriovError, match="exceeds sriov_totalvfs=7"):
        _sriov.apply(normalize_pfs([{"name": "enp65s0", "num_vfs": 9}]), str(root), run=FakeIp())
    assert digest(str(root)) == before


# --- the command line (what the role and the boot unit run) ---------------------------
def cli(argv, monkeypatch, ip=None):
    monkeypatch.setattr(_sriov, "_run", ip or FakeIp())
    out = io.StringIO()
    code = _sriov.main(argv, out=out)
    return code, json.loads(out.getvalue())


def test_cli_plan_returns_actions_and_device_plugin_config(tmp_path, monkeypatch):
    root = make_tree(tmp_path / "sys")
    config = base64.b64encode(json.dumps({"pfs": [{"name": "enp65s0", "num_vfs": 2}]}).encode()).decode()
    code, result = cli(["plan", "--config-b64", config, "--sysfs-root", str(root)], monkeypatch)
    assert code == 0
    assert result["changed"] is True
    assert result["actions"] == [{"pf": "enp65s0", "action": "set_num_vfs", "from": 0, "to": 2}]
    assert result["device_plugin_config"]["resourceList"][0]["resourceName"] == "quantbot_hft_vf"


def test_cli_plan_refuses_unknown_pf(tmp_path, monkeypatch, digest):
    root = make_tree(tmp_path / "sys")
    before = digest(str(root))
    path = tmp_path / "sriov.json"
    path.write_text(json.dumps({"pfs": [{"name": "ens9", "num_vfs": 2}]}))
    code, result = cli(["plan", "--config", str(path), "--sysfs-root", str(root)], monkeypatch)
    assert code == 1 and result["failed"] is True
    assert result["msg"].startswith("unknown PF ens9")
    assert digest(str(root)) == before


def test_cli_apply_from_config_file(tmp_path, monkeypatch):
    root = make_tree(tmp_path / "sys", {"enp65s0": {"totalvfs": 7, "numvfs": 2}})
    path = tmp_path / "sriov.json"
    path.write_text(json.dumps({"pfs": [{"name": "enp65s0", "num_vfs": 2}]}))
    code, result = cli(["apply", "--config", str(path), "--sysfs-root", str(root)], monkeypatch)
    assert code == 0 and result["changed"] is False


def test_cli_usage(monkeypatch):
    code, result = cli(["create"], monkeypatch)
    assert code == 1 and result["msg"].startswith("usage:")
