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


def run_scenario(identity, name, tmp_path):
    """Run one scenario on a fresh lab API; return the requests the identity made, in order."""
    server = KmockServer().start()
    try:
        admin = write_kubeconfig(tmp_path / "admin-kubeconfig", server.url)
        api = Kube(admin, server=server, tmp_path=tmp_path)
        server.users[api.token] = "admin"
        token = "token-of-%s" % IDENTITIES[identity].account
        server.users[token] = user_of(identity).name
        mine = controlplane.write_kubeconfig(str(tmp_path / "identity.kubeconfig"), server.url, token,
                                             context=IDENTITIES[identity].account)

        def run(module, args, env=None):
            result = api.run(module, dict(args, kubeconfig=mine), env=env)
            assert result["_rc"] == 0 and not result.get("failed"), "%s as %s: %s" % (module, identity, result)
            return result

        SCENARIOS[name](api, run, Context(api, tmp_path))
        return server.requests(user=user_of(identity).name)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """{identity: [(scenario, [requests])]}: every scenario of every identity, run once."""
    out = collections.OrderedDict()
    for identity, spec in IDENTITIES.items():
        out[identity] = []
        for name in spec.scenarios:
            out[identity].append((name, run_scenario(identity, name, tmp_path_factory.mktemp(name))))
    return out


def requests_of(recorded, identity):
    made = [request for dummy, requests in recorded[identity] for request in requests]
    return made + [(d.method, d.path, d.query) for d in IDENTITIES[identity].declared]


# --------------------------------------------------------------------------
# the conformance check
# --------------------------------------------------------------------------
@pytest.mark.parametrize("identity", sorted(IDENTITIES))
def test_every_call_is_allowed_and_every_grant_is_needed(recorded, identity):
    report = conformance(Policy(load_manifests(IDENTITIES[identity].manifests)), user_of(identity),
                         requests_of(recorded, identity))
    assert report.ok, "\n" + "\n".join(report.lines())


@pytest.mark.parametrize("identity", sorted(i for i in IDENTITIES if IDENTITIES[i].scenarios))
def test_each_scenario_made_its_requests_as_the_identity(recorded, identity):
    for name, requests in recorded[identity]:
        assert requests, "scenario %s recorded no request as %s (did the module use other credentials?)" % (
            name, identity)


@pytest.mark.parametrize("identity", sorted(i for i in IDENTITIES if IDENTITIES[i].declared))
def test_declared_calls_are_not_recorded_yet(recorded, identity):
    """Once a scenario records a declared call, the declared entry must go (it would hide a missing scenario)."""
    made = set()
    for dummy, requests in recorded[identity]:
        for request in requests:
            a = request_attributes(*request)
            made.add((a.verb, a.api_group, a.resource, a.subresource, a.namespace))
    for declared in IDENTITIES[identity].declared:
        a = request_attributes(declared.method, declared.path, declared.query)
        why = "%s %s is now recorded for %s: remove it from declared (%s)" % (
            declared.method, declared.path, identity, declared.why)
        assert (a.verb, a.api_group, a.resource, a.subresource, a.namespace) not in made, why
        assert declared.why


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


def _find_rule(docs, kind, name, resource):
    for doc in docs:
        if doc.get("kind") == kind and doc["metadata"]["name"] == name:
            for rule in doc["rules"]:
                if resource in rule.get("resources", []):
                    return doc, rule
    raise AssertionError("no %s %s rule on %s" % (kind, name, resource))


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


@pytest.mark.parametrize("identity", sorted(IDENTITIES))
def test_taking_out_any_single_grant_denies_a_call(recorded, identity):
    docs = _rule_docs(identity)
    user = user_of(identity)
    grants = Policy(docs).grants_for(user)
    assert grants
    for grant in grants:
        report = conformance(Policy(_without_grant(docs, grant)), user, requests_of(recorded, identity))
        assert report.denied, "without %s (%s) every call of %s is still allowed" % (
            grant.rule, grant.rule.where, identity)
