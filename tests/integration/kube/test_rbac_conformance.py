# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""RBAC conformance: the rules in rbac/ against the API requests the modules really make.

Each scenario of rbac_identities.py runs one module against its own fresh lab
API, as the identity (its own bearer token, so the lab's request log tells its
requests from the seeding's). hftlab.rbac turns each logged request into the
attributes the API server would authorize, and judges them against the
identity's manifests with RBAC's semantics: every request must be allowed,
every grant (verb x group x resource x name of each rule) used, none
redundant, no wildcard. The mutation tests show the check failing and what it
says. kmock only (a real cluster has no request log to read).
"""

from __future__ import annotations

import collections
import copy
import glob
import os

import pytest
import yaml

from conftest import REPO_ROOT, Kube, KmockServer, controlplane, make_standin, write_kubeconfig
from rbac_identities import IDENTITIES, NAMESPACE, SCENARIOS

from hftlab.rbac import Policy, Rule, User, conformance, flatten, request_attributes

pytestmark = pytest.mark.kmock_only

ADMIN_TOKEN = "rbac-test-admin-token"  # conftest's TEST_TOKEN is the seeding client's; see Context


def load_manifests(paths):
    """The objects of the manifest files (List kinds expanded)."""
    docs = []
    for rel in paths:
        with open(os.path.join(REPO_ROOT, rel)) as handle:
            docs.extend(flatten(yaml.safe_load_all(handle)))
    return docs


def user_of(identity):
    return User.service_account(NAMESPACE, IDENTITIES[identity].account)


class Context(object):
    """What a scenario may need besides the API and the module runner."""

    def __init__(self, api, tmp_path):
        self.api = api
        self.tmp_path = tmp_path

    def lab_ca(self):
        return controlplane.make_lab_ca(str(self.tmp_path))

    def standin(self):
        return make_standin(self.api, self.tmp_path)


Recorded = collections.namedtuple("Recorded", "scenario requests modules")


def run_scenario(identity, name, tmp_path):
    """Run one scenario on a fresh lab API: the requests the identity made, in order, and the modules it ran."""
    server = KmockServer().start()
    try:
        admin = write_kubeconfig(tmp_path / "admin-kubeconfig", server.url)
        api = Kube(admin, server=server, tmp_path=tmp_path)
        server.users[api.token] = "admin"
        token = "token-of-%s" % IDENTITIES[identity].account
        server.users[token] = user_of(identity).name
        mine = controlplane.write_kubeconfig(str(tmp_path / "identity.kubeconfig"), server.url, token,
                                             context=IDENTITIES[identity].account)
        modules = []

        def run(module, args, env=None):
            modules.append(module)
            result = api.run(module, dict(args, kubeconfig=mine), env=env)
            assert result["_rc"] == 0 and not result.get("failed"), "%s as %s: %s" % (module, identity, result)
            return result

        SCENARIOS[name](api, run, Context(api, tmp_path))
        return Recorded(name, server.requests(user=user_of(identity).name), tuple(modules))
    finally:
        server.stop()


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """{identity: [Recorded]}: every scenario of every identity.

    A scenario runs once per ServiceAccount: the variants of an account (its opt-in files) share the
    recordings of the scenarios they have in common, since the requests depend on the module, not on the rules.
    """
    out = collections.OrderedDict()
    runs = {}
    for identity, spec in IDENTITIES.items():
        out[identity] = []
        for name in spec.scenarios:
            key = (spec.account, name)
            if key not in runs:
                runs[key] = run_scenario(identity, name, tmp_path_factory.mktemp(name))
            out[identity].append(runs[key])
    return out


def requests_of(recorded, identity):
    return [request for run in recorded[identity] for request in run.requests]


# --------------------------------------------------------------------------
# the conformance check
# --------------------------------------------------------------------------
@pytest.mark.parametrize("identity", sorted(IDENTITIES))
def test_every_call_is_allowed_and_every_grant_is_needed(recorded, identity):
    report = conformance(Policy(load_manifests(IDENTITIES[identity].manifests)), user_of(identity),
                         requests_of(recorded, identity))
    assert report.ok, "\n" + "\n".join(report.lines())


@pytest.mark.parametrize("identity", sorted(IDENTITIES))
def test_each_scenario_made_its_requests_as_the_identity(recorded, identity):
    for run in recorded[identity]:
        assert run.requests, "scenario %s recorded no request as %s (did the module use other credentials?)" % (
            run.scenario, identity)
        assert len(run.modules) == 1, "scenario %s ran %s as %s: one module per scenario, so that every request " \
                                      "belongs to one module" % (run.scenario, list(run.modules) or "nothing", identity)


def kubernetes_modules():
    """The collection's modules that talk to the Kubernetes API (they build their client with module_utils._kube)."""
    found = set()
    for path in glob.glob(os.path.join(REPO_ROOT, "plugins", "modules", "*.py")):
        with open(path) as handle:
            if "module_utils._kube import" in handle.read():
                found.add(os.path.basename(path)[:-3])
    return found


def test_every_kubernetes_module_runs_as_some_identity(recorded):
    """A module that talks to the API but runs in no scenario makes calls no identity was checked for."""
    modules = kubernetes_modules()
    assert {"node_label", "fleet_audit", "sriov_device_plugin_config", "sriov_device_plugin_pod"} <= modules
    ran = set(module for runs in recorded.values() for run in runs for module in run.modules)
    assert sorted(modules - ran) == [], "no scenario in rbac_identities.py runs these as an identity"


def test_every_rbac_manifest_belongs_to_a_checked_identity():
    """No RBAC object in rbac/ escapes the check, and every binding's subject is a registered identity."""
    checked = set(path for spec in IDENTITIES.values() for path in spec.manifests)
    files = set(os.path.relpath(p, REPO_ROOT) for p in glob.glob(os.path.join(REPO_ROOT, "rbac", "*.yml")))
    for path in sorted(files - checked):
        kinds = [doc.get("kind") for doc in load_manifests([path])]
        assert not set(kinds) & {"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"}, (
            "%s holds %s but no identity in rbac_identities.py checks it" % (path, kinds))
    for identity, spec in IDENTITIES.items():
        for doc in load_manifests(spec.manifests):
            for subject in doc.get("subjects") or []:
                assert (subject["kind"], subject["name"], subject.get("namespace")) == (
                    "ServiceAccount", spec.account, NAMESPACE), "%s in %s binds %s" % (
                        doc["metadata"]["name"], spec.manifests, subject)
            if doc.get("kind") == "ServiceAccount":
                assert doc["metadata"] == dict(doc["metadata"], name=spec.account, namespace=NAMESPACE)


# --------------------------------------------------------------------------
# the check fails, and says what
# --------------------------------------------------------------------------
def _rule_docs(identity):
    return load_manifests(IDENTITIES[identity].manifests)


def _find_rule(docs, kind, name, resource, verb=None):
    for doc in docs:
        if doc.get("kind") == kind and doc["metadata"]["name"] == name:
            for rule in doc["rules"]:
                if resource in rule.get("resources", []) and (verb is None or verb in rule["verbs"]):
                    return doc, rule
    raise AssertionError("no %s %s rule on %s%s" % (kind, name, resource, " with %s" % verb if verb else ""))


def _judge(recorded, docs, identity, requests_from=None):
    """The conformance report of identity's account under docs, for the requests of identity (or requests_from)."""
    return conformance(Policy(docs), user_of(identity), requests_of(recorded, requests_from or identity))


SRIOV = "quantbot-hft-onboard with the SR-IOV device plugin ConfigMap"
SRIOV_ROLE = "quantbot-hft-onboard-sriov-device-plugin"
ONBOARD_USER = "system:serviceaccount:quantbot-hft-system:quantbot-hft-onboard"


def test_dropping_the_eviction_rule_names_the_eviction_call(recorded):
    docs = _rule_docs("quantbot-hft-onboard")
    role, rule = _find_rule(docs, "ClusterRole", "quantbot-hft-onboard", "pods/eviction")
    role["rules"].remove(rule)
    report = conformance(Policy(docs), user_of("quantbot-hft-onboard"), requests_of(recorded, "quantbot-hft-onboard"))
    assert not report.ok
    assert report.lines() == [
        "DENIED system:serviceaccount:quantbot-hft-system:quantbot-hft-onboard: POST "
        "/api/v1/namespaces/alphaswarm-bots/pods/mm-bot-0/eviction -> create pods/eviction (group core, "
        "namespace alphaswarm-bots, name mm-bot-0)"]


def test_a_secrets_rule_in_the_wrong_namespace_names_the_token_call(recorded):
    variant = "quantbot-hft-onboard with bootstrap tokens"
    docs = _rule_docs(variant)
    for doc in docs:
        if doc["metadata"]["name"] == "quantbot-hft-onboard-bootstrap-token":
            doc["metadata"]["namespace"] = "default"
    report = conformance(Policy(docs), user_of(variant), requests_of(recorded, variant))
    assert [str(attrs) for dummy, attrs in report.denied] == ["create secrets (group core, namespace kube-system)"]
    assert [str(g.rule) for g in report.unused] == ["create secrets (group core)"]


def test_without_the_opt_in_a_token_making_join_is_denied(recorded):
    """rbac/onboard.yml alone does not let node_join make bootstrap tokens."""
    report = conformance(Policy(_rule_docs("quantbot-hft-onboard")), user_of("quantbot-hft-onboard"),
                         requests_of(recorded, "quantbot-hft-onboard with bootstrap tokens"))
    assert [str(attrs) for dummy, attrs in report.denied] == [
        "create secrets (group core, namespace kube-system)",
        "get configmaps (group core, namespace kube-public, name cluster-info)"]


def test_an_extra_rule_is_an_unused_grant(recorded):
    docs = _rule_docs("quantbot-hft-onboard")
    role, dummy = _find_rule(docs, "ClusterRole", "quantbot-hft-onboard", "pods")
    role["rules"].append({"apiGroups": [""], "resources": ["pods"], "verbs": ["delete"]})
    report = conformance(Policy(docs), user_of("quantbot-hft-onboard"), requests_of(recorded, "quantbot-hft-onboard"))
    assert report.lines() == [
        "UNUSED system:serviceaccount:quantbot-hft-system:quantbot-hft-onboard: delete pods (group core) "
        "(ClusterRole quantbot-hft-onboard rule 4, bound by ClusterRoleBinding quantbot-hft-onboard)"]


def test_an_extra_verb_on_a_used_rule_is_an_unused_grant(recorded):
    docs = _rule_docs("quantbot-hft-validate")
    dummy, rule = _find_rule(docs, "ClusterRole", "quantbot-hft-validate", "pods")
    rule["verbs"] = rule["verbs"] + ["watch"]
    report = conformance(Policy(docs), user_of("quantbot-hft-validate"), requests_of(recorded, "quantbot-hft-validate"))
    assert [str(g.rule) for g in report.unused] == ["watch pods (group core)"] and not report.denied


def _without_grant(docs, grant):
    """docs with one grant (a verb x group x resource x name of one rule) taken out, the rest of the rule kept."""
    docs = copy.deepcopy(docs)
    for doc in docs:
        for i, rule in enumerate(doc.get("rules") or []):
            where = "%s %s%s rule %d" % (doc["kind"], doc["metadata"].get("namespace", "") + "/"
                                         if doc["kind"] == "Role" else "", doc["metadata"]["name"], i)
            if where == grant.rule.where:
                rest = [g for g in Rule.from_manifest(rule, where).grants() if g != grant.rule]
                doc["rules"][i:i + 1] = [dict({"verbs": list(g.verbs), "apiGroups": list(g.api_groups),
                                               "resources": list(g.resources)},
                                              **({"resourceNames": list(g.resource_names)} if g.resource_names else {}))
                                         for g in rest]
                return docs
    raise AssertionError("grant %s not found" % (grant,))


def _call_words(grant):
    """How a DENIED line names a call this grant allows: verb, resource (with subresource), API group, scope."""
    rule = grant.rule
    group = "core" if rule.api_groups[0] == "" else rule.api_groups[0]
    scope = "namespace %s" % grant.binding.namespace if grant.binding.namespace else ""
    return "%s %s (group %s, %s" % (rule.verbs[0], rule.resources[0], group, scope)


@pytest.mark.parametrize("identity", sorted(IDENTITIES))
def test_taking_out_any_single_grant_denies_exactly_its_calls_and_names_them(recorded, identity):
    """The mutation proof, for every grant of every identity: take one grant out of a copy of the manifests,
    and the check fails with a DENIED line for each call only that grant allowed (naming verb, resource, group,
    scope and name), and with nothing else."""
    docs = _rule_docs(identity)
    user = user_of(identity)
    requests = requests_of(recorded, identity)
    policy = Policy(docs)
    grants = policy.grants_for(user)
    assert len(grants) == len(DROPPED_GRANT_DENIES[identity]) > 0  # every grant, each taken out in turn
    for grant in grants:
        only_by_it = []
        for request in requests:
            attrs = request_attributes(request[0], request[1], request[2] if len(request) > 2 else None)
            if [g for g in grants if policy.in_scope(g.binding, attrs) and g.rule.allows(attrs)] == [grant]:
                only_by_it.append(request)
        assert only_by_it, "no recorded call needs %s (%s) alone" % (grant.rule, grant.rule.where)
        report = conformance(Policy(_without_grant(docs, grant)), user, requests)
        assert not report.ok
        assert [request for request, dummy in report.denied] == only_by_it
        assert (report.unused, report.redundant, report.wildcards, report.dangling) == ([], [], [], [])
        words = _call_words(grant)
        for line, (request, attrs) in zip(report.lines(), report.denied):
            assert line.startswith("DENIED %s: %s %s" % (user, request[0], request[1])), line
            assert line.endswith(" -> %s" % attrs) and str(attrs).startswith(words), (line, words)
            if grant.rule.resource_names:
                assert str(attrs).endswith(", name %s)" % grant.rule.resource_names[0]), line


# What each dropped grant denies: the distinct calls (as the DENIED lines name them) of the recorded scenarios.
_ONBOARD_CLUSTER_ROLE = {
    "get nodes (group core) (ClusterRole quantbot-hft-onboard rule 0)":
        ["get nodes (group core, cluster-wide, name hft-node-07)"],
    "patch nodes (group core) (ClusterRole quantbot-hft-onboard rule 0)":
        ["patch nodes (group core, cluster-wide, name hft-node-07)"],
    "get pods (group core) (ClusterRole quantbot-hft-onboard rule 1)":
        ["get pods (group core, namespace alphaswarm-bots, name mm-bot-0)"],
    "list pods (group core) (ClusterRole quantbot-hft-onboard rule 1)":
        ["list pods (group core, cluster-wide)"],
    "create pods/eviction (group core) (ClusterRole quantbot-hft-onboard rule 2)":
        ["create pods/eviction (group core, namespace alphaswarm-bots, name mm-bot-0)"],
    "get nodes/proxy (group core) (ClusterRole quantbot-hft-onboard rule 3)":
        ["get nodes/proxy (group core, cluster-wide, name hft-node-07)"],
}
DROPPED_GRANT_DENIES = {
    "quantbot-hft-onboard": _ONBOARD_CLUSTER_ROLE,
    "quantbot-hft-onboard with bootstrap tokens": dict(_ONBOARD_CLUSTER_ROLE, **{
        "create secrets (group core) (Role kube-system/quantbot-hft-onboard-bootstrap-token rule 0)":
            ["create secrets (group core, namespace kube-system)"],
        "get configmaps (group core) resourceNames cluster-info (Role kube-public/quantbot-hft-onboard-cluster-info "
        "rule 0)":
            ["get configmaps (group core, namespace kube-public, name cluster-info)"],
    }),
    SRIOV: dict(_ONBOARD_CLUSTER_ROLE, **{
        # the device plugin pod's list (in kube-system) comes from the ClusterRole too
        "list pods (group core) (ClusterRole quantbot-hft-onboard rule 1)":
            ["list pods (group core, cluster-wide)", "list pods (group core, namespace kube-system)"],
        "get configmaps (group core) resourceNames sriovdp-config (Role kube-system/%s rule 0)" % SRIOV_ROLE:
            ["get configmaps (group core, namespace kube-system, name sriovdp-config)"],
        "patch configmaps (group core) resourceNames sriovdp-config (Role kube-system/%s rule 0)" % SRIOV_ROLE:
            ["patch configmaps (group core, namespace kube-system, name sriovdp-config)"],
        "create configmaps (group core) (Role kube-system/%s rule 1)" % SRIOV_ROLE:
            ["create configmaps (group core, namespace kube-system)"],
        "delete pods (group core) (Role kube-system/%s rule 2)" % SRIOV_ROLE:
            ["delete pods (group core, namespace kube-system, name sriov-device-plugin-hft-node-07)"],
    }),
    "quantbot-hft-validate": {
        "get nodes (group core) (ClusterRole quantbot-hft-validate rule 0)":
            ["get nodes (group core, cluster-wide, name hft-node-07)"],
        "patch nodes (group core) (ClusterRole quantbot-hft-validate rule 0)":
            ["patch nodes (group core, cluster-wide, name hft-node-07)"],
        "list pods (group core) (ClusterRole quantbot-hft-validate rule 1)":
            ["list pods (group core, cluster-wide)"],
        "get nodes/proxy (group core) (ClusterRole quantbot-hft-validate rule 2)":
            ["get nodes/proxy (group core, cluster-wide, name hft-node-07)"],
    },
    "quantbot-hft-audit": {
        "list nodes (group core) (ClusterRole quantbot-hft-audit rule 0)":
            ["list nodes (group core, cluster-wide)"],
        "list pods (group core) (ClusterRole quantbot-hft-audit rule 0)":
            ["list pods (group core, cluster-wide)"],
        "get nodes (group core) (ClusterRole quantbot-hft-audit rule 1)":
            ["get nodes (group core, cluster-wide, name hft-node-00004)"],
        "get nodes/proxy (group core) (ClusterRole quantbot-hft-audit rule 2)":
            ["get nodes/proxy (group core, cluster-wide, name hft-node-0000%d)" % i for i in range(5)],
        "get daemonsets (group apps) resourceNames quantbot-ptp (Role alphaswarm-bots/quantbot-hft-audit rule 0)":
            ["get daemonsets (group apps, namespace alphaswarm-bots, name quantbot-ptp)"],
    },
}


@pytest.mark.parametrize("identity", sorted(IDENTITIES))
def test_what_taking_out_each_grant_denies(recorded, identity):
    """The mutation proof's messages, grant by grant: which calls each dropped grant leaves denied."""
    docs = _rule_docs(identity)
    user = user_of(identity)
    got = {}
    for grant in Policy(docs).grants_for(user):
        report = conformance(Policy(_without_grant(docs, grant)), user, requests_of(recorded, identity))
        got["%s (%s)" % (grant.rule, grant.rule.where)] = sorted(set(str(attrs) for dummy, attrs in report.denied))
    assert got == DROPPED_GRANT_DENIES[identity]


UNUSED_RULE = {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list"]}  # no module lists ConfigMaps


@pytest.mark.parametrize("identity", sorted(IDENTITIES))
def test_an_extra_rule_in_any_role_of_an_identity_is_named_unused(recorded, identity):
    """One rule no recorded call uses, added to each Role and ClusterRole of the identity in turn: the check
    fails with exactly one UNUSED line naming the rule, its place and its binding, and denies nothing."""
    user = user_of(identity)
    roles = [(i, doc) for i, doc in enumerate(_rule_docs(identity)) if doc["kind"] in ("Role", "ClusterRole")]
    assert roles
    for index, role in roles:
        docs = _rule_docs(identity)
        docs[index]["rules"].append(dict(UNUSED_RULE))
        report = conformance(Policy(docs), user, requests_of(recorded, identity))
        meta = role["metadata"]
        where = "%s %s%s rule %d" % (role["kind"], meta["namespace"] + "/" if role["kind"] == "Role" else "",
                                     meta["name"], len(role["rules"]))
        binding = next(doc for doc in docs if doc["kind"] in ("RoleBinding", "ClusterRoleBinding")
                       and doc["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": role["kind"],
                                              "name": meta["name"]}
                       and doc["metadata"].get("namespace") == meta.get("namespace"))
        bound_by = "%s %s%s" % (binding["kind"], meta["namespace"] + "/" if binding["kind"] == "RoleBinding" else "",
                                binding["metadata"]["name"])
        assert not report.ok
        assert report.lines() == ["UNUSED %s: list configmaps (group core) (%s, bound by %s)" % (user, where, bound_by)]


# --------------------------------------------------------------------------
# the SR-IOV device plugin opt-in, the validation annotations, the audit
# --------------------------------------------------------------------------
def test_dropping_the_device_plugin_pod_rule_names_the_delete_call(recorded):
    docs = _rule_docs(SRIOV)
    role, rule = _find_rule(docs, "Role", SRIOV_ROLE, "pods", "delete")
    role["rules"].remove(rule)
    report = _judge(recorded, docs, SRIOV)
    assert report.lines() == [
        "DENIED %s: DELETE /api/v1/namespaces/kube-system/pods/sriov-device-plugin-hft-node-07 -> delete pods "
        "(group core, namespace kube-system, name sriov-device-plugin-hft-node-07)" % ONBOARD_USER]


def test_dropping_the_configmap_patch_names_the_merge_of_the_next_node(recorded):
    docs = _rule_docs(SRIOV)
    dummy, rule = _find_rule(docs, "Role", SRIOV_ROLE, "configmaps", "patch")
    rule["verbs"].remove("patch")
    report = _judge(recorded, docs, SRIOV)
    patch = ("DENIED %s: PATCH /api/v1/namespaces/kube-system/configmaps/sriovdp-config -> patch configmaps "
             "(group core, namespace kube-system, name sriovdp-config)" % ONBOARD_USER)
    assert report.lines() == [patch, patch]  # the merge of a second node, the offboarding


def test_a_configmap_create_limited_by_name_is_denied_and_unused(recorded):
    """Why the create rule has no resourceNames: a create names no object in its URL, so such a rule never matches."""
    docs = _rule_docs(SRIOV)
    dummy, rule = _find_rule(docs, "Role", SRIOV_ROLE, "configmaps", "create")
    rule["resourceNames"] = ["sriovdp-config"]
    report = _judge(recorded, docs, SRIOV)
    assert [str(attrs) for dummy, attrs in report.denied] == ["create configmaps (group core, namespace kube-system)"]
    assert [str(g.rule) for g in report.unused] == ["create configmaps (group core) resourceNames sriovdp-config"]


def test_a_pod_list_limited_by_name_would_not_find_the_plugin_pod(recorded):
    """Why the pod list comes from the ClusterRole: the module lists by label and node, with no metadata.name."""
    docs = _rule_docs(SRIOV)
    dummy, rule = _find_rule(docs, "ClusterRole", "quantbot-hft-onboard", "pods", "list")
    rule["verbs"].remove("list")
    role, dummy = _find_rule(docs, "Role", SRIOV_ROLE, "pods", "delete")
    role["rules"].append({"apiGroups": [""], "resources": ["pods"], "verbs": ["list"],
                          "resourceNames": ["sriov-device-plugin-hft-node-07"]})
    report = _judge(recorded, docs, SRIOV)
    assert "list pods (group core, namespace kube-system)" in [str(attrs) for dummy, attrs in report.denied]
    assert [str(g.rule) for g in report.unused] == ["list pods (group core) resourceNames sriov-device-plugin-hft-node-07"]


def test_an_update_of_the_configmap_is_an_unused_grant(recorded):
    """The module merge-patches; it never replaces the ConfigMap (PUT), so update must not be granted."""
    docs = _rule_docs(SRIOV)
    dummy, rule = _find_rule(docs, "Role", SRIOV_ROLE, "configmaps", "patch")
    rule["verbs"].append("update")
    report = _judge(recorded, docs, SRIOV)
    assert report.lines() == [
        "UNUSED %s: update configmaps (group core) resourceNames sriovdp-config (Role kube-system/%s rule 0, "
        "bound by RoleBinding kube-system/%s)" % (ONBOARD_USER, SRIOV_ROLE, SRIOV_ROLE)]


def test_without_the_sriov_opt_in_the_device_plugin_calls_are_denied(recorded):
    """rbac/onboard.yml alone: the ConfigMap calls and the delete are denied, the pod list is not (the ClusterRole)."""
    report = _judge(recorded, _rule_docs("quantbot-hft-onboard"), "quantbot-hft-onboard", SRIOV)
    assert sorted(set(str(attrs) for dummy, attrs in report.denied)) == [
        "create configmaps (group core, namespace kube-system)",
        "delete pods (group core, namespace kube-system, name sriov-device-plugin-hft-node-07)",
        "get configmaps (group core, namespace kube-system, name sriovdp-config)",
        "patch configmaps (group core, namespace kube-system, name sriovdp-config)"]


def test_the_sriov_role_in_another_namespace_denies_every_call_it_grants(recorded):
    docs = _rule_docs(SRIOV)
    for doc in docs:
        if doc["metadata"]["name"] == SRIOV_ROLE:
            doc["metadata"]["namespace"] = "sriov-network-operator"
    report = _judge(recorded, docs, SRIOV)
    assert len(report.denied) == 7 and len(report.unused) == 4  # 3 get, 1 create, 2 patch, 1 delete; every grant


def test_the_validate_identity_without_patch_cannot_record_the_verdict_or_lift_the_gate(recorded):
    docs = _rule_docs("quantbot-hft-validate")
    dummy, rule = _find_rule(docs, "ClusterRole", "quantbot-hft-validate", "nodes", "patch")
    rule["verbs"].remove("patch")
    report = _judge(recorded, docs, "quantbot-hft-validate")
    by_scenario = dict((run.scenario, run.requests) for run in recorded["quantbot-hft-validate"])
    assert [request for request, dummy in report.denied] == [
        request for name in ("validation_annotations", "lift_gate", "node_drain_uncordoned")
        for request in by_scenario[name] if request[0] == "PATCH"]
    assert set(str(attrs) for dummy, attrs in report.denied) == {
        "patch nodes (group core, cluster-wide, name hft-node-07)"}


def test_the_audit_identity_without_get_nodes_cannot_read_a_named_node(recorded):
    """fleet_audit's nodes option (audit.yml's hft_audit_nodes) reads a node the label selector missed by name."""
    docs = _rule_docs("quantbot-hft-audit")
    role, rule = _find_rule(docs, "ClusterRole", "quantbot-hft-audit", "nodes", "get")
    role["rules"].remove(rule)
    report = _judge(recorded, docs, "quantbot-hft-audit")
    assert report.lines() == [
        "DENIED system:serviceaccount:quantbot-hft-system:quantbot-hft-audit: GET /api/v1/nodes/hft-node-00004 -> "
        "get nodes (group core, cluster-wide, name hft-node-00004)"]


def test_the_audit_pages_and_configz_reads_are_each_judged(recorded):
    """Every page (limit/continue) and every /configz read of the paged scenario is judged, not only the first."""
    run = next(r for r in recorded["quantbot-hft-audit"] if r.scenario == "fleet_audit_paged")
    pages = [q for method, path, q in run.requests if path in ("/api/v1/nodes", "/api/v1/pods")]
    assert len(pages) == 11 and sum(1 for q in pages if "continue" in q) == 9
    assert sum(1 for dummy, path, dummy2 in run.requests if path.endswith("/proxy/configz")) == 5
    docs = _rule_docs("quantbot-hft-audit")
    role, rule = _find_rule(docs, "ClusterRole", "quantbot-hft-audit", "nodes/proxy", "get")
    role["rules"].remove(rule)
    report = _judge(recorded, docs, "quantbot-hft-audit")
    assert [path for (dummy, path, dummy2), dummy3 in report.denied] == [
        "/api/v1/nodes/hft-node-0000%d/proxy/configz" % i for i in range(5)]


def test_the_readme_shows_what_the_check_says(recorded):
    """rbac/README.md quotes two failures of the check (a dropped rule, an extra one): they are what it prints."""
    with open(os.path.join(REPO_ROOT, "rbac", "README.md")) as handle:
        quoted = [line for line in handle.read().splitlines() if line.startswith(("DENIED ", "UNUSED "))]
    docs = _rule_docs("quantbot-hft-onboard")
    role, rule = _find_rule(docs, "ClusterRole", "quantbot-hft-onboard", "pods/eviction")
    role["rules"].remove(rule)
    dropped = _judge(recorded, docs, "quantbot-hft-onboard").lines()
    docs = _rule_docs("quantbot-hft-validate")
    role, dummy = _find_rule(docs, "ClusterRole", "quantbot-hft-validate", "nodes/proxy")
    role["rules"].append({"apiGroups": [""], "resources": ["pods"], "verbs": ["watch"]})
    extra = _judge(recorded, docs, "quantbot-hft-validate").lines()
    assert quoted == dropped + extra and len(quoted) == 2
