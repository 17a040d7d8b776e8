# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""module_utils/_sriov.py: the SR-IOV network device plugin's configuration.

Rendering (VF ranges included) is checked against the plugin's documented
format, written out here on its own (``assert_plugin_format``) rather than
through the validator under test; then the override's validation, the
cluster-wide merge of the ConfigMap mode, and the plan CLI.
"""

from __future__ import annotations

import base64
import io
import json
import re

import pytest

from ansible_collections.quantbot.hft.plugins.module_utils import _sriov
from ansible_collections.quantbot.hft.plugins.module_utils._sriov import (
    SriovError, device_plugin_config, dump_device_plugin_config, format_function_selector,
    merge_device_plugin_config, normalize_pfs, parse_function_selector, validate_resources)

from test_sriov import FakeIp, make_tree  # noqa: E402  (tests/unit is on sys.path)

HOST = {"pfs": {"enp65s0": {"vendor": "8086", "vf_device": "10ca"},
                "ens1f0": {"vendor": "8086", "vf_device": "1889"},
                "ens1f1": {"vendor": "8086", "vf_device": "1889"}}}


def assert_plugin_format(config):
    """The sriov-network-device-plugin README's netDevice format (v3.6.0+ list syntax), checked by hand."""
    assert set(config) == {"resourceList"} and isinstance(config["resourceList"], list)
    for res in config["resourceList"]:
        assert set(res) <= {"resourceName", "resourcePrefix", "deviceType", "excludeTopology", "selectors"}
        assert re.match(r"^[a-zA-Z0-9_-]+$", res["resourceName"])
        assert res["deviceType"] == "netDevice"
        assert isinstance(res["selectors"], list) and res["selectors"]
        for sel in res["selectors"]:
            for key, value in sel.items():
                assert key in ("vendors", "devices", "drivers", "pfNames", "rootDevices", "linkTypes",
                               "isRdma", "needVhostNet"), key
                if key in ("isRdma", "needVhostNet"):
                    assert isinstance(value, bool)
                    continue
                assert isinstance(value, list) and all(isinstance(v, str) for v in value)
                if key in ("vendors", "devices"):
                    assert all(re.match(r"^[0-9a-f]{4}$", v) for v in value), value
                if key == "pfNames":
                    # "<PFName>#<SingleFunc>,<FirstFunc>-<LastFunc>,..." (0-based, both ends included)
                    for item in value:
                        assert re.match(r"^[^#]+(#\d+(-\d+)?(,\d+(-\d+)?)*)?$", item), item


# --- rendering ----------------------------------------------------------------------
def test_rendering_selects_exactly_the_role_vfs_with_ranges():
    pfs = normalize_pfs([{"name": "ens1f0", "num_vfs": 4}, {"name": "ens1f1", "num_vfs": 1},
                         {"name": "enp65s0", "num_vfs": 0}])
    config = device_plugin_config(pfs, HOST)
    assert_plugin_format(config)
    assert config["resourceList"] == [{
        "resourceName": "quantbot_hft_vf", "resourcePrefix": "openshift.io", "deviceType": "netDevice",
        "selectors": [{"pfNames": ["ens1f0#0-3", "ens1f1#0"], "vendors": ["8086"], "devices": ["1889"]}]}]


def test_rendering_the_lab_request_is_json_the_plugin_reads():
    config = device_plugin_config(normalize_pfs([{"name": "enp65s0", "num_vfs": 2}]), HOST)
    text = dump_device_plugin_config(config)
    assert text.endswith("\n") and json.loads(text) == config
    assert_plugin_format(json.loads(text))
    assert json.loads(text)["resourceList"][0]["selectors"][0]["pfNames"] == ["enp65s0#0-1"]


def test_rendering_without_vfs_advertises_nothing():
    config = device_plugin_config(normalize_pfs([{"name": "enp65s0", "num_vfs": 0}]), HOST)
    assert config == {"resourceList": []}
    assert_plugin_format(config)


def test_rendering_an_unknown_vendor_leaves_the_filter_out():
    config = device_plugin_config(normalize_pfs([{"name": "x0", "num_vfs": 2}]), {"pfs": {}})
    assert config["resourceList"][0]["selectors"] == [{"pfNames": ["x0#0-1"]}]


def test_rendering_uses_the_resource_name_and_prefix_given():
    config = device_plugin_config(normalize_pfs([{"name": "enp65s0", "num_vfs": 2}]), HOST,
                                  resource_name="hft_fast", resource_prefix="quantbot.io")
    assert (config["resourceList"][0]["resourcePrefix"], config["resourceList"][0]["resourceName"]) == (
        "quantbot.io", "hft_fast")


@pytest.mark.parametrize("indices, text", [
    ([0], "p#0"), ([0, 1], "p#0-1"), ([3, 0, 1, 2], "p#0-3"), ([0, 2, 3, 4, 7], "p#0,2-4,7"), (None, "p")])
def test_function_selector_round_trip(indices, text):
    assert format_function_selector("p", indices) == text
    assert parse_function_selector(text) == ("p", None if indices is None else sorted(indices))


@pytest.mark.parametrize("item, message", [
    ("enp65s0#3-1", "VF range 3-1 runs backwards (3 > 1)"),
    ("enp65s0#", "write the VFs as <PF>#<first>-<last>"),
    ("enp65s0#0-", "write the VFs as"),
    ("enp65s0#a-b", "write the VFs as"),
    ("enp65s0#0#1", "write the VFs as"),
    ("a very long interface name", "is not a network interface name"),
])
def test_bad_function_selectors_name_the_item(item, message):
    with pytest.raises(SriovError) as err:
        parse_function_selector(item)
    assert message in str(err.value) and repr(item) in str(err.value)


def test_root_device_selectors_are_pci_addresses():
    assert parse_function_selector("0000:41:00.0#0-1", "rootDevices") == ("0000:41:00.0", [0, 1])
    with pytest.raises(SriovError, match="is not a PCI address"):
        parse_function_selector("41:00.0", "rootDevices")


# --- the override ------------------------------------------------------------------------
def test_override_replaces_the_rendering_after_validation():
    override = [{"resourceName": "quantbot_hft_vf", "selectors": [{"pfNames": ["ens9f0#0-1"]}]}]
    config = device_plugin_config(normalize_pfs([{"name": "enp65s0", "num_vfs": 2}]), HOST, resources=override)
    assert config == {"resourceList": [{"resourceName": "quantbot_hft_vf", "resourcePrefix": "openshift.io",
                                        "deviceType": "netDevice", "selectors": [{"pfNames": ["ens9f0#0-1"]}]}]}
    assert override == [{"resourceName": "quantbot_hft_vf", "selectors": [{"pfNames": ["ens9f0#0-1"]}]}]


def test_an_empty_override_keeps_the_rendering():
    pfs = normalize_pfs([{"name": "enp65s0", "num_vfs": 2}])
    assert device_plugin_config(pfs, HOST, resources=[]) == device_plugin_config(pfs, HOST)


def test_override_keeps_the_object_form_for_older_plugins():
    res = validate_resources([{"resourceName": "old", "resourcePrefix": "example.com",
                               "selectors": {"vendors": ["8086"], "isRdma": False}}])
    assert res[0]["selectors"] == {"vendors": ["8086"], "isRdma": False}


def test_override_accepts_every_supported_selector():
    sel = {"vendors": ["8086"], "devices": ["10ca"], "drivers": ["igbvf"], "pciAddresses": ["0000:41:10.0"],
           "pfNames": ["enp65s0#0,1"], "rootDevices": ["0000:41:00.0#0-1"], "linkTypes": ["ether"],
           "isRdma": False, "needVhostNet": True}
    res = validate_resources([{"resourceName": "all", "excludeTopology": True, "selectors": [sel, {"vendors": ["15b3"]}]}])
    assert res[0]["selectors"][0] == sel and len(res[0]["selectors"]) == 2


@pytest.mark.parametrize("resources, message", [
    ([], "it must be a non-empty list of device plugin resources"),
    ({"resourceName": "x"}, "must be a non-empty list"),
    (["x"], "sriov_device_plugin_resources[0] must be a dict"),
    ([{"resourceName": "bad/name", "selectors": [{}]}], "resourceName must be letters, digits, '_' or '-'"),
    ([{"resourceName": "x-", "selectors": [{}]}], "got 'x-'"),
    ([{"resourceName": "x" * 64, "selectors": [{}]}], "at most 63"),
    ([{"selectors": [{}]}], "resourceName must be"),
    ([{"resourceName": "x", "resourcePrefix": "Quantbot.IO", "selectors": [{}]}], "must be a DNS subdomain such as openshift.io, got 'Quantbot.IO'"),
    ([{"resourceName": "x", "resourcePrefix": "kubernetes.io", "selectors": [{}]}], "cannot use the kubernetes.io domain"),
    ([{"resourceName": "x", "deviceType": "accelerator", "selectors": [{}]}], "deviceType must be netDevice"),
    ([{"resourceName": "x", "selector": [{}]}], "unknown keys: selector"),
    ([{"resourceName": "x", "selectors": []}], "selectors must be a selector object or a non-empty list"),
    ([{"resourceName": "x", "selectors": "pfNames"}], "selectors must be a selector object"),
    ([{"resourceName": "x", "selectors": [["enp65s0"]]}], "selectors[0] must be a selector object (a dict)"),
    ([{"resourceName": "x", "selectors": [{"pfName": ["enp65s0"]}]}], "unknown or unsupported keys: pfName"),
    ([{"resourceName": "x", "selectors": [{"ddpProfiles": ["x"]}]}], "unknown or unsupported keys: ddpProfiles"),
    ([{"resourceName": "x", "selectors": [{"pfNames": "enp65s0"}]}], "pfNames must be a non-empty list of strings, got 'enp65s0'"),
    ([{"resourceName": "x", "selectors": [{"pfNames": ["enp65s0#1-0"]}]}], "pfNames item 'enp65s0#1-0': VF range 1-0 runs backwards"),
    ([{"resourceName": "x", "selectors": [{"vendors": ["0x8086"]}]}], "vendors item '0x8086' must be 4 lower-case hex digits"),
    ([{"resourceName": "x", "selectors": [{"devices": ["10CA"]}]}], "devices item '10CA'"),
    ([{"resourceName": "x", "selectors": [{"drivers": ["igb vf"]}]}], "drivers item 'igb vf'"),
    ([{"resourceName": "x", "selectors": [{"rootDevices": ["41:00.0"]}]}], "'41:00.0' is not a PCI address"),
    ([{"resourceName": "x", "selectors": [{"isRdma": "false"}]}], "isRdma must be true or false, got 'false'"),
    ([{"resourceName": "x", "excludeTopology": 1, "selectors": [{}]}], "excludeTopology must be true or false"),
    ([{"resourceName": "x", "selectors": [{}]}, {"resourceName": "x", "selectors": [{}]}],
     "resource openshift.io/x is listed twice"),
])
def test_bad_overrides_are_refused_naming_the_value(resources, message):
    with pytest.raises(SriovError) as err:
        validate_resources(resources)
    assert str(err.value).startswith("invalid sriov_device_plugin_resources")
    assert message in str(err.value)


def test_every_override_problem_is_reported_at_once():
    with pytest.raises(SriovError) as err:
        validate_resources([{"resourceName": "a", "selectors": [{"vendors": ["x"]}]},
                            {"resourceName": "b!", "selectors": [{}]}])
    assert "[0] (a).selectors[0].vendors" in str(err.value) and "'b!'" in str(err.value)


# --- the ConfigMap mode: one cluster-wide entry ---------------------------------------------------
def _node(pf_names, vendors=("8086",), devices=("10ca",), **extra):
    sel = {"pfNames": list(pf_names)}
    if vendors:
        sel["vendors"] = list(vendors)
    if devices:
        sel["devices"] = list(devices)
    sel.update(extra)
    return validate_resources([{"resourceName": "quantbot_hft_vf", "selectors": [sel]}])


def test_merge_into_nothing_is_this_node():
    merged = merge_device_plugin_config(None, _node(["enp65s0#0-1"]))
    assert merged["resourceList"] == _node(["enp65s0#0-1"])
    assert_plugin_format(merged)


def test_merge_is_a_stable_union_over_nodes():
    cluster = merge_device_plugin_config(None, _node(["enp65s0#0-1"]))
    cluster = merge_device_plugin_config(cluster, _node(["ens1f0#0-3"], devices=["1889"]))
    sel = cluster["resourceList"][0]["selectors"][0]
    assert sel == {"pfNames": ["enp65s0#0-1", "ens1f0#0-3"], "vendors": ["8086"], "devices": ["10ca", "1889"]}
    assert merge_device_plugin_config(cluster, _node(["enp65s0#0-1"])) == cluster  # idempotent
    assert_plugin_format(cluster)


def test_merge_joins_vf_ranges_of_one_pf():
    # The plugin applies only the first item per PF, so two items for one PF would hide the second.
    cluster = merge_device_plugin_config(None, _node(["enp65s0#0-1"]))
    cluster = merge_device_plugin_config(cluster, _node(["ENP65S0#3-4", "enp65s0#2"]))
    assert cluster["resourceList"][0]["selectors"][0]["pfNames"] == ["enp65s0#0-4"]
    cluster = merge_device_plugin_config(cluster, _node(["enp65s0"]))
    assert cluster["resourceList"][0]["selectors"][0]["pfNames"] == ["enp65s0"]  # all VFs wins


def test_merge_drops_a_filter_only_one_side_has():
    cluster = merge_device_plugin_config(None, _node(["enp65s0#0-1"], drivers=["igbvf"]))
    cluster = merge_device_plugin_config(cluster, _node(["ens1f0#0-1"]))
    assert "drivers" not in cluster["resourceList"][0]["selectors"][0]


def test_merge_keeps_other_entries_and_the_object_form():
    existing = {"resourceList": [
        {"resourceName": "intel_sriov_dpdk", "selectors": {"drivers": ["vfio-pci"]}},
        {"resourceName": "quantbot_hft_vf", "resourcePrefix": "openshift.io",
         "selectors": {"pfNames": ["ens1f0"], "vendors": ["8086"], "devices": ["1889"]}}]}
    snapshot = json.loads(json.dumps(existing))
    merged = merge_device_plugin_config(existing, _node(["enp65s0#0-1"]))
    assert existing == snapshot  # pure
    assert merged["resourceList"][0] == existing["resourceList"][0]
    assert merged["resourceList"][1]["selectors"] == {
        "pfNames": ["ens1f0", "enp65s0#0-1"], "vendors": ["8086"], "devices": ["1889", "10ca"]}


def test_merge_of_another_prefix_is_another_resource():
    existing = {"resourceList": [{"resourceName": "quantbot_hft_vf", "selectors": [{"pfNames": ["x"]}]}]}
    merged = merge_device_plugin_config(existing, _node(["enp65s0#0-1"]))
    assert len(merged["resourceList"]) == 2


@pytest.mark.parametrize("existing_sel, message", [
    ([{"pfNames": ["ens1f0"], "isRdma": True}], "isRdma is true there but false for this node"),
    ([{"pfNames": ["a"]}, {"pfNames": ["b"]}], "has 2 selector objects"),
    ([{"pfNames": ["a"], "pKeys": ["0x1"]}], "selector keys quantbot.hft cannot merge: pKeys"),
])
def test_merge_refuses_what_it_cannot_join(existing_sel, message):
    existing = {"resourceList": [{"resourceName": "quantbot_hft_vf", "resourcePrefix": "openshift.io",
                                  "selectors": existing_sel}]}
    with pytest.raises(SriovError) as err:
        merge_device_plugin_config(existing, _node(["enp65s0#0-1"], isRdma=False), where="ConfigMap kube-system/sriovdp-config")
    assert message in str(err.value) and "openshift.io/quantbot_hft_vf in ConfigMap kube-system/sriovdp-config" in str(err.value)


def test_merge_refuses_a_configuration_that_is_not_one():
    with pytest.raises(SriovError, match="does not hold a device plugin configuration"):
        merge_device_plugin_config({"resourceList": {"x": 1}}, _node(["a"]))


# --- the plan CLI carries the override ----------------------------------------------------------
def _plan(tmp_path, monkeypatch, config):
    root = make_tree(tmp_path / "sys")
    monkeypatch.setattr(_sriov, "_run", FakeIp())
    out = io.StringIO()
    b64 = base64.b64encode(json.dumps(config).encode()).decode()
    code = _sriov.main(["plan", "--config-b64", b64, "--sysfs-root", str(root)], out=out)
    return root, code, json.loads(out.getvalue())


def test_plan_renders_the_override(tmp_path, monkeypatch):
    override = [{"resourceName": "quantbot_hft_vf", "selectors": [{"pfNames": ["nosuch0"]}]}]
    request = {"pfs": [{"name": "enp65s0", "num_vfs": 2}], "device_plugin_resources": override}
    dummy, code, result = _plan(tmp_path, monkeypatch, request)
    assert code == 0
    assert result["device_plugin_config"]["resourceList"][0]["selectors"] == [{"pfNames": ["nosuch0"]}]


def test_plan_refuses_a_bad_override_before_any_change(tmp_path, monkeypatch, digest):
    override = [{"resourceName": "quantbot_hft_vf", "selectors": [{"pfNames": ["enp65s0#1-0"]}]}]
    root = make_tree(tmp_path / "tree")
    before = digest(str(root))
    monkeypatch.setattr(_sriov, "_run", FakeIp())
    out = io.StringIO()
    b64 = base64.b64encode(json.dumps({"pfs": [{"name": "enp65s0", "num_vfs": 2}],
                                       "device_plugin_resources": override}).encode()).decode()
    code = _sriov.main(["plan", "--config-b64", b64, "--sysfs-root", str(root)], out=out)
    result = json.loads(out.getvalue())
    assert code == 1 and result["failed"] is True
    assert "'enp65s0#1-0'" in result["msg"] and "runs backwards" in result["msg"]
    assert digest(str(root)) == before
