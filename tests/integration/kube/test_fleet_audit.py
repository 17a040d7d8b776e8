# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""quantbot.hft.fleet_audit end to end: the module as a subprocess against the lab API on loopback.

The fleet comes from hftlab.fleet (N fit nodes with their pods, and the broken cases of
BROKEN_CASES), stored straight into the emulator; the emulator's request log is the
witness for the request counts.
"""

from __future__ import annotations

import collections

import pytest

from hftlab import fleet as labfleet

pytestmark = pytest.mark.kmock_only


def seed(kube, count, broken=True):
    made = labfleet.make_fleet(count, broken=broken)
    kube.server.load(made.objects)
    return made


def api_requests(kube):
    """(method, path, query) of every request the emulator served, and a count by kind."""
    log = kube.server.requests()
    kinds = collections.Counter()
    for method, path, query in log:
        if path.endswith("/proxy/configz"):
            kinds["configz"] += 1
        elif path == "/api/v1/nodes":
            kinds["node_list"] += 1
        elif path.startswith("/api/v1/nodes/"):
            kinds["node_get"] += 1
        elif path == "/api/v1/pods":
            kinds["pod_list"] += 1
        elif "/daemonsets/" in path:
            kinds["daemonset_get"] += 1
        else:
            kinds["other %s %s" % (method, path)] += 1
    return log, kinds


def failed_checks(result):
    return dict((n["name"], sorted(set(f["check"] for f in n["failures"]))) for n in result["nodes"] if not n["valid"])


def test_pages_across_page_boundaries(kube):
    made = seed(kube, 1201, broken=False)
    result = kube.run("fleet_audit", {"page_size": 500}, timeout=180)
    assert result["_rc"] == 0, result.get("msg")
    log, kinds = api_requests(kube)
    assert kinds == {"node_list": 3, "pod_list": 8, "daemonset_get": 1}   # 1201 nodes, 3603 pods, pages of 500
    node_pages = [q for method, path, q in log if path == "/api/v1/nodes"]
    assert [q.get("limit") for q in node_pages] == ["500"] * 3
    assert all(q.get("labelSelector") == "quantbot.io/hft=true" for q in node_pages)
    assert "continue" not in node_pages[0] and node_pages[1]["continue"] != node_pages[2]["continue"]
    assert result["requests"] == {"nodes": 3, "pods": 8, "daemonset": 1, "total": 12, "configz": 0}
    assert result["summary"]["total"] == 1201 == result["summary"]["valid"]
    assert [n["name"] for n in result["nodes"]] == made.names                  # each node once, none lost at a boundary


def test_names_exactly_the_seeded_broken_nodes_and_checks(kube):
    made = seed(kube, 40)
    result = kube.run("fleet_audit", {"nodes": made.names})
    assert result["_rc"] == 0 and result["changed"] is False
    assert failed_checks(result) == made.expected
    seeded = set(c for checks in labfleet.BROKEN_CASES.values() for c in checks)
    assert set(result["summary"]["failed_checks"]) == seeded == set(result["checks"])
    assert result["summary"]["plan_hashes"][labfleet.PLAN_HASH] >= 20
    assert result["summary"]["plan_hashes"]["none"] == 1                     # the node without annotations
    assert result["checks"] == ["node_ready", "node_schedulable", "label", "taint", "ptp_pod", "hugepages_free",
                                "vf_free", "bot_pod_qos", "host_validation", "gate"]
    # the one unlabelled node is outside the selector: one GET finds it
    dummy, kinds = api_requests(kube)
    assert kinds == {"node_list": 1, "node_get": 1, "pod_list": 1, "daemonset_get": 1}
    assert result["requests"]["total"] == 4
    assert not kube.token or kube.token not in result["_raw"]


def test_without_the_expected_names_the_unlabelled_node_is_not_seen(kube):
    made = seed(kube, 40)
    result = kube.run("fleet_audit", {})
    expected = dict((n, c) for n, c in made.expected.items() if made.cases[n] != "unlabelled")
    assert failed_checks(result) == expected and result["summary"]["total"] == 39


def test_a_name_without_a_node_fails_node_ready(kube):
    seed(kube, 20, broken=False)
    result = kube.run("fleet_audit", {"nodes": ["hft-node-00003", "hft-node-99999"]})
    ghost = next(n for n in result["nodes"] if n["name"] == "hft-node-99999")
    assert [f["check"] for f in ghost["failures"]] == ["node_ready"]
    assert ghost["failures"][0]["actual"] == "no Node named hft-node-99999"
    assert "label" in ghost["skipped"] and result["summary"]["invalid"] == 1


def test_configz_reads_are_one_per_node_and_counted_apart(kube):
    made = seed(kube, 20, broken=False)
    kube.server.configz[made.names[2]] = 503
    kube.server.configz[made.names[5]] = {"kubeletconfig": {"cpuManagerPolicy": "none",
                                                            "topologyManagerPolicy": "single-numa-node"}}
    result = kube.run("fleet_audit", {"configz": True, "configz_workers": 4})
    dummy, kinds = api_requests(kube)
    assert kinds["configz"] == 20 == result["requests"]["configz"]
    assert result["requests"]["total"] == 3
    assert failed_checks(result) == {made.names[2]: ["kubelet_configz"], made.names[5]: ["cpu_manager_policy"]}
    assert result["checks"][-3:] == ["kubelet_configz", "cpu_manager_policy", "topology_manager_policy"]


def test_a_missing_ptp_daemonset_fails_every_node_on_ptp_pod(kube):
    made = labfleet.make_fleet(20, broken=False)
    kube.server.load([o for o in made.objects if o[0] != "apps/v1/daemonsets"])
    result = kube.run("fleet_audit", {})
    assert result["_rc"] == 0
    assert result["summary"]["failed_checks"] == {"ptp_pod": 20}
    assert "DaemonSet alphaswarm-bots/quantbot-ptp does not exist" in result["nodes"][0]["failures"][0]["actual"]


def test_fail_on_invalid_names_the_nodes_and_keeps_the_result(kube):
    made = seed(kube, 20)
    result = kube.run("fleet_audit", {"fail_on_invalid": True, "nodes": made.names})
    assert result["_rc"] != 0 and result["failed"] is True
    assert "%d of 20 HFT nodes are not fit for bots" % len(made.expected) in result["msg"]
    assert all(name in result["msg"] for name in made.expected)
    assert failed_checks(result) == made.expected


def test_check_mode_reads_the_same(kube):
    made = seed(kube, 20)
    result = kube.run("fleet_audit", {"nodes": made.names}, check=True)
    assert result["_rc"] == 0 and failed_checks(result) == made.expected


@pytest.mark.parametrize("args, words", [
    ({"page_size": 0}, "page_size must be at least 1"),
    ({"label_key": "quantbot.io/hft pool"}, "label_key 'quantbot.io/hft pool'"),
    ({"taint": {"key": "quantbot.io/hft=true:NoSchedule"}}, "looks like kubectl's key=value:Effect"),
    ({"hugepages_request": "lots"}, "hugepages_request: not a Kubernetes quantity: 'lots'"),
    ({"validation_max_age_hours": 0}, "validation_max_age_hours must be positive"),
    ({"configz_workers": 500}, "configz_workers must be between 1 and 64"),
])
def test_bad_input_is_refused_before_any_request(kube, args, words):
    result = kube.run("fleet_audit", args)
    assert result["_rc"] != 0 and words in result["msg"], result["msg"]
    assert kube.server.requests() == []
    assert "Traceback" not in result["_raw"]


def test_an_api_error_is_a_clear_failure(kube):
    result = kube.run("fleet_audit", {"context": "wrong", "api_timeout": 3})
    assert result["_rc"] != 0 and "LIST nodes" in result["msg"] and "Traceback" not in result["_raw"]
