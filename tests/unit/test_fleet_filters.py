# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet filters: the audit table, the JUnit XML report, and the annotation filters."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from ansible_collections.quantbot.hft.plugins.module_utils import _fleet


@pytest.fixture(scope="module")
def fleet():
    """The filter plugin, imported for these tests only.

    A filter is controller code: importing it (ansible.errors) marks the whole process
    as the controller (ansible.module_utils._internal.is_controller), and from then on
    AnsibleModule.warn() goes to the controller's display instead of the module result,
    which the in-process module tests (tests/unit/plugins/modules) rely on. So the
    import waits for this module's tests and the mark is put back after them.
    """
    from ansible.module_utils import _internal
    was = _internal.is_controller
    from ansible_collections.quantbot.hft.plugins.filter import fleet as plugin
    yield plugin
    _internal.is_controller = was


CHECKS = list(_fleet.FLEET_CHECKS)
AUDIT = {
    "checks": CHECKS,
    "nodes": [
        {"name": "hft-node-00001", "valid": True, "failures": [], "skipped": [], "plan_hash": "5d41402abc4b"},
        {"name": "hft-node-00002", "valid": False, "skipped": [], "plan_hash": "5d41402abc4b", "failures": [
            {"check": "bot_pod_qos", "expected": "Guaranteed QoS", "actual": {"pod": "alphaswarm-bots/a-0",
                                                                              "problems": ["QoS Burstable"]},
             "hint": "set requests == limits on alphaswarm-bots/a-0"},
            {"check": "gate", "expected": "no quantbot.io/hft-unverified taint",
             "actual": "quantbot.io/hft-unverified=true:NoSchedule", "hint": "run playbooks/validate.yml"},
            {"check": "bot_pod_qos", "expected": "Guaranteed QoS", "actual": {"pod": "alphaswarm-bots/b-0",
                                                                              "problems": ["QoS BestEffort"]},
             "hint": "set requests == limits on alphaswarm-bots/b-0 <&>"}]},
        {"name": "ghost", "valid": False, "plan_hash": None, "skipped": CHECKS[1:], "failures": [
            {"check": "node_ready", "expected": "Ready=True", "actual": "no Node named ghost", "hint": "join it"}]},
    ],
    "summary": {"total": 3, "valid": 1, "invalid": 2, "failed_checks": {"bot_pod_qos": 1, "gate": 1, "node_ready": 1},
                "plan_hashes": {"5d41402abc4b": 2, "none": 1}},
    "requests": {"nodes": 2, "pods": 1, "daemonset": 1, "total": 4, "configz": 0},
}


def test_table_has_one_line_per_invalid_node_then_the_summary(fleet):
    assert fleet.fleet_table(AUDIT) == [
        "NODE            FAILED CHECKS",
        "hft-node-00002  bot_pod_qos, gate",
        "ghost           node_ready",
        "nodes: 3, valid: 1, invalid: 2",
        "failed checks (nodes): bot_pod_qos 1, gate 1, node_ready 1",
        "plan hashes (nodes): 5d41402abc4b 2, none 1",
        "API requests: 4 (node lists 2, pod lists 1, daemonset 1), configz 0",
    ]


def test_table_of_a_healthy_fleet_has_no_header(fleet):
    healthy = dict(AUDIT, nodes=AUDIT["nodes"][:1], summary={"total": 1, "valid": 1, "invalid": 0,
                                                             "failed_checks": {}, "plan_hashes": {"x": 1}})
    assert fleet.fleet_table(healthy)[:2] == ["nodes: 1, valid: 1, invalid: 0", "failed checks (nodes): none"]


def test_junit_has_one_testcase_per_node_and_check(fleet):
    root = ET.fromstring(fleet.fleet_junit_xml(AUDIT))
    assert root.tag == "testsuites"
    suite = root.find("testsuite")
    cases = suite.findall("testcase")
    assert len(cases) == 3 * len(CHECKS)
    assert [(c.get("classname"), c.get("name")) for c in cases[:len(CHECKS)]] == [("hft-node-00001", c) for c in CHECKS]
    assert (root.get("tests"), root.get("failures"), root.get("skipped"), root.get("errors")) == (
        str(3 * len(CHECKS)), "3", str(len(CHECKS) - 1), "0")
    assert suite.get("tests") == root.get("tests")
    failing = dict(((c.get("classname"), c.get("name")), c) for c in cases if c.find("failure") is not None)
    assert sorted(failing) == [("ghost", "node_ready"), ("hft-node-00002", "bot_pod_qos"), ("hft-node-00002", "gate")]
    qos = failing[("hft-node-00002", "bot_pod_qos")].find("failure")
    assert qos.get("type") == "bot_pod_qos"
    assert qos.get("message").startswith("expected Guaranteed QoS; actual {\"pod\": \"alphaswarm-bots/a-0\"")
    # both bot pods' records, with their hints, escaped and read back intact
    assert "alphaswarm-bots/a-0" in qos.text and "alphaswarm-bots/b-0 <&>" in qos.text and qos.text.count("hint:") == 2
    gate = failing[("hft-node-00002", "gate")].find("failure")
    assert gate.text == ("expected: no quantbot.io/hft-unverified taint\nactual: quantbot.io/hft-unverified=true:"
                         "NoSchedule\nhint: run playbooks/validate.yml")
    skipped = [c for c in cases if c.find("skipped") is not None]
    assert [c.get("classname") for c in skipped] == ["ghost"] * (len(CHECKS) - 1)
    passing = [c for c in cases if len(list(c)) == 0]
    assert len(passing) == 3 * len(CHECKS) - 3 - (len(CHECKS) - 1)


def test_junit_suite_name_and_a_failure_outside_the_listed_checks(fleet):
    odd = dict(AUDIT, nodes=[{"name": "n", "valid": False, "skipped": [], "failures": [
        {"check": "kubelet_configz", "expected": "answers", "actual": "503", "hint": ""}]}])
    root = ET.fromstring(fleet.fleet_junit_xml(odd, suite_name="nightly"))
    assert root.get("name") == "nightly" and root.find("testsuite").get("name") == "nightly"
    names = [c.get("name") for c in root.iter("testcase")]
    assert names == CHECKS + ["kubelet_configz"]


@pytest.mark.parametrize("bad", [None, [], {"nodes": []}, {"summary": {}}])
def test_filters_refuse_what_is_not_an_audit(fleet, bad):
    with pytest.raises(fleet.AnsibleFilterError, match="quantbot.hft.fleet_audit"):
        fleet.fleet_table(bad)
    with pytest.raises(fleet.AnsibleFilterError, match="quantbot.hft.fleet_audit"):
        fleet.fleet_junit_xml(bad)


PLAN = {"reserved_cpus": "0-1", "isolated_cpus": "2-3", "hft_numa_node": 0, "hugepages": {}, "kernel_args": [],
        "cmdline_missing": ["x"], "reboot_required": True, "cmdline_read": True}


def test_annotation_filters(fleet):
    result = {"valid": False, "failures": [{"check": "ptp_sync"}], "checks": []}
    got = fleet.validation_annotations(result, PLAN, "2026-12-01T12:00:00+01:00")
    assert got == {"quantbot.io/hft-validated-at": "2026-12-01T11:00:00Z", "quantbot.io/hft-valid": "false",
                   "quantbot.io/hft-failed-checks": "ptp_sync", "quantbot.io/hft-plan": fleet.plan_hash(PLAN)}
    assert fleet.plan_hash(PLAN) == _fleet.plan_hash(dict(PLAN, cmdline_missing=[], reboot_required=False))
    now = fleet.validation_annotations({"valid": True, "failures": []}, PLAN)["quantbot.io/hft-validated-at"]
    assert _fleet.parse_rfc3339(now)
    with pytest.raises(fleet.AnsibleFilterError, match="validation_annotations: .*valid: true but lists"):
        fleet.validation_annotations({"valid": True, "failures": [{"check": "x"}]}, PLAN)
    with pytest.raises(fleet.AnsibleFilterError, match="plan_hash: .*not the whole result"):
        fleet.plan_hash({"plan": PLAN, "topology": {}})


def test_filter_module_lists_the_four_filters(fleet):
    assert sorted(fleet.FilterModule().filters()) == ["fleet_junit_xml", "fleet_table", "plan_hash",
                                                      "validation_annotations"]
