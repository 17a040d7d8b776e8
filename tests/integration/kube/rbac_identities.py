# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Which identity runs which module calls: the registry test_rbac_conformance.py judges.

To add a module's calls to an identity: write a scenario (a function that seeds
a fresh lab API through ``api`` and runs the module once through ``run``,
asserting that it did its job), add it to ``SCENARIOS``, and name it in the
identity's ``scenarios``. To add an identity: its manifest in ``rbac/`` and one
``IDENTITIES`` entry. ``declared`` holds calls a module makes that cannot be
recorded on this branch yet (the module is not merged), each with the reason;
replace them with a scenario once it can run (the conformance test fails when a
declared call is also recorded).

Every scenario gets its own lab API, so every request it records belongs to
the one module it runs (seeding uses an admin token, the module the identity's).
"""

from __future__ import annotations

import collections

NAMESPACE = "quantbot-hft-system"  # of the service accounts (rbac/namespace.yml)
NODE = "hft-node-07"
HFT_TAINT = {"key": "quantbot.io/hft", "value": "true", "effect": "NoSchedule"}
ALLOCATABLE = {"cpu": "8", "memory": "16Gi", "pods": "110", "hugepages-2Mi": "2Gi", "openshift.io/quantbot_hft_vf": "4"}

Identity = collections.namedtuple("Identity", "account manifests scenarios declared")
Declared = collections.namedtuple("Declared", "method path query why")


# --------------------------------------------------------------------------
# scenarios: (api, run, ctx) -> None; api seeds (admin), run(module, args, env=None) runs it as the identity
# --------------------------------------------------------------------------
def node_label_present(api, run, ctx):
    api.seed_node(NODE, allocatable=ALLOCATABLE)
    assert run("node_label", {"node_name": NODE})["changed"] is True


def node_label_absent(api, run, ctx):
    """offboard.yml: untaint and unlabel."""
    api.seed_node(NODE, labels={"quantbot.io/hft": "true"}, taints=[HFT_TAINT], allocatable=ALLOCATABLE)
    assert run("node_label", {"node_name": NODE, "state": "absent"})["changed"] is True


def node_drain_drained(api, run, ctx):
    """offboard.yml and the kubelet role's transition: cordon, evict a bot, skip the PTP DaemonSet pod."""
    api.seed_node(NODE, labels={"quantbot.io/hft": "true"}, allocatable=ALLOCATABLE)
    api.seed_pod("mm-bot-0", NODE, owner=("ReplicaSet", "mm-bot-7c9f6d5b8"))
    api.seed_pod("quantbot-ptp-x1", NODE, owner=("DaemonSet", "quantbot-ptp"))
    result = run("node_drain", {"node_name": NODE, "state": "drained", "timeout": 30, "poll_interval": 0.2})
    assert result["evicted"] == ["%s/mm-bot-0" % api.namespace] and result["cordoned"] is True


def node_drain_uncordoned(api, run, ctx):
    """The kubelet role's transition, last step."""
    api.seed_node(NODE, unschedulable=True, allocatable=ALLOCATABLE)
    assert run("node_drain", {"node_name": NODE, "state": "uncordoned"})["changed"] is True


def node_validate(api, run, ctx):
    """validate.yml and the end of onboard.yml: the Node, its pods, the kubelet's /configz."""
    api.seed_node(NODE, labels={"quantbot.io/hft": "true"}, taints=[HFT_TAINT], allocatable=ALLOCATABLE)
    api.seed_pod("quantbot-ptp-x1", NODE, owner=("DaemonSet", "quantbot-ptp"))
    result = run("node_validate", {"node_name": NODE, "gather_host": False})
    assert result["valid"] is True, result["failures"]
    assert "kubelet configz" not in result["skipped_checks"]


def node_join_create_token(api, run, ctx):
    """node_join with create_token: the bootstrap-token Secret, cluster-info, then the wait for Ready."""
    api.seed_cluster_info(ctx.lab_ca())
    standin = ctx.standin()
    result = run("node_join", {"node_name": NODE, "create_token": True, "token_ttl": 600,
                               "kubeadm_path": standin.kubeadm, "kubelet_conf": standin.kubelet_conf,
                               "wait_timeout": 20, "poll_interval": 0.2}, env=standin.env)
    assert result["token_created"] is True and result["ready"] is True


SCENARIOS = dict((fn.__name__, fn) for fn in (
    node_label_present, node_label_absent, node_drain_drained, node_drain_uncordoned, node_validate,
    node_join_create_token))


# --------------------------------------------------------------------------
# calls of modules that are not on this branch yet
# --------------------------------------------------------------------------
VALIDATION_ANNOTATIONS = Declared(
    "PATCH", "/api/v1/nodes/%s" % NODE, {},
    "validate.yml records the host validation as Node annotations (quantbot.io/hft-validated-at, -valid, "
    "-failed-checks, -plan) with quantbot.hft.node_label: the fleet-audit issue (#13), not merged here")
FLEET_AUDIT = "quantbot.hft.fleet_audit (the fleet-audit issue, #13), not merged here"
FLEET_AUDIT_CALLS = (
    Declared("GET", "/api/v1/nodes", {"labelSelector": "quantbot.io/hft=true", "limit": "500"},
             FLEET_AUDIT + ": the HFT Nodes, first page"),
    Declared("GET", "/api/v1/nodes", {"labelSelector": "quantbot.io/hft=true", "limit": "500",
                                      "continue": "eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ"},
             FLEET_AUDIT + ": the HFT Nodes, next page"),
    Declared("GET", "/api/v1/pods", {"limit": "500"}, FLEET_AUDIT + ": every pod, first page"),
    Declared("GET", "/api/v1/pods", {"limit": "500", "continue": "eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ"},
             FLEET_AUDIT + ": every pod, next page"),
    Declared("GET", "/apis/apps/v1/namespaces/alphaswarm-bots/daemonsets/quantbot-ptp", {},
             FLEET_AUDIT + ": the PTP DaemonSet"),
    Declared("GET", "/api/v1/nodes/%s/proxy/configz" % NODE, {}, FLEET_AUDIT + ": the optional /configz read"),
)


# --------------------------------------------------------------------------
# the identities
# --------------------------------------------------------------------------
ONBOARD = ("node_label_present", "node_label_absent", "node_drain_drained", "node_drain_uncordoned", "node_validate")
IDENTITIES = {
    # each key is one way playbooks/rbac.yml can set the account up; account: the ServiceAccount's name
    "quantbot-hft-onboard": Identity(
        account="quantbot-hft-onboard",
        manifests=("rbac/onboard.yml",),
        scenarios=ONBOARD,
        declared=()),
    "quantbot-hft-onboard with bootstrap tokens": Identity(
        account="quantbot-hft-onboard",
        manifests=("rbac/onboard.yml", "rbac/onboard-bootstrap-token.yml"),
        scenarios=ONBOARD + ("node_join_create_token",),
        declared=()),
    "quantbot-hft-validate": Identity(
        account="quantbot-hft-validate",
        manifests=("rbac/validate.yml",),
        scenarios=("node_validate",),
        declared=(VALIDATION_ANNOTATIONS,)),
    "quantbot-hft-audit": Identity(
        account="quantbot-hft-audit",
        manifests=("rbac/audit.yml",),
        scenarios=(),
        declared=FLEET_AUDIT_CALLS),
}
