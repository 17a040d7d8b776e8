# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""rbac/examples: the identities' kubeconfigs load in the modules' client factory, the token Secrets name the
accounts, and the ValidatingAdmissionPolicy admits what the identities do and refuses the rest.

The policy's CEL runs here with cel-python on plain JSON objects. The API server
evaluates it on typed objects; the expressions use only has(), map keys, list
macros and string functions, which behave the same on both. It has not run in a
real admission chain (the lab has none).
"""

from __future__ import annotations

import copy
import functools
import os

import pytest
import yaml

from ansible_collections.quantbot.hft.plugins.module_utils._kube import (
    KUBE_AUTH_ARG_SPEC,
    build_configuration,
    check_kubeconfig_file,
)

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = os.path.join(REPO_ROOT, "rbac", "examples")
IDENTITIES = ("quantbot-hft-onboard", "quantbot-hft-validate", "quantbot-hft-audit")
ONBOARD = "system:serviceaccount:quantbot-hft-system:quantbot-hft-onboard"
VALIDATE = "system:serviceaccount:quantbot-hft-system:quantbot-hft-validate"


def load_all(name):
    """The objects of an example file (a v1 List is expanded into its items)."""
    with open(os.path.join(EXAMPLES, name)) as handle:
        docs = [doc for doc in yaml.safe_load_all(handle) if doc]
    if len(docs) == 1 and docs[0].get("kind") == "List":
        return docs[0]["items"]
    return docs


@pytest.mark.parametrize("identity", IDENTITIES)
def test_each_identity_has_a_kubeconfig_the_modules_load(tmp_path, identity):
    name = "kubeconfig-%s.yml" % identity
    path = os.path.join(EXAMPLES, name)
    check_kubeconfig_file(path)
    data = load_all(name)[0]
    assert [u["name"] for u in data["users"]] == [identity]
    assert data["users"][0]["user"]["token"] == "REPLACE-WITH-THE-SERVICE-ACCOUNT-TOKEN"
    assert data["contexts"][0]["context"]["namespace"] == "quantbot-hft-system"
    # with its CA file in place, the client factory loads it and sends the token
    ca = tmp_path / "ca.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")
    data["clusters"][0]["cluster"]["certificate-authority"] = str(ca)
    filled = tmp_path / name
    filled.write_text(yaml.safe_dump(data))
    filled.chmod(0o600)
    params = dict((k, v.get("default")) for k, v in KUBE_AUTH_ARG_SPEC.items())
    warnings = []
    cfg, source = build_configuration(dict(params, kubeconfig=str(filled)), environ={}, warn=warnings.append)
    assert source == "kubeconfig" and cfg.host == "https://10.0.0.10:6443" and warnings == []
    assert cfg.auth_settings()["BearerToken"]["value"] == "Bearer REPLACE-WITH-THE-SERVICE-ACCOUNT-TOKEN"


def test_token_secrets_name_each_account():
    docs = load_all("token-secrets.yml")
    assert sorted(d["metadata"]["annotations"]["kubernetes.io/service-account.name"] for d in docs) == sorted(IDENTITIES)
    assert all(d["type"] == "kubernetes.io/service-account-token" for d in docs)
    assert all(d["metadata"]["namespace"] == "quantbot-hft-system" for d in docs)


# --------------------------------------------------------------------------
# the ValidatingAdmissionPolicy
# --------------------------------------------------------------------------
celpy = pytest.importorskip("celpy")


def policy():
    docs = load_all("validating-admission-policy.yml")
    assert [d["kind"] for d in docs] == ["ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"]
    assert docs[1]["spec"]["policyName"] == docs[0]["metadata"]["name"]
    assert docs[1]["spec"]["validationActions"] == ["Deny"]
    return docs[0]["spec"]


@functools.lru_cache(maxsize=None)
def _program(expression):
    env = celpy.Environment()
    return env.program(env.compile(expression))


def _evaluate(expression, activation):
    return _program(expression).evaluate(activation)


def admit(username, old, new):
    """None when the policy does not apply; else the messages of the failed validations ([] = admitted)."""
    spec = policy()
    act = {"request": celpy.json_to_cel({"userInfo": {"username": username}}),
           "object": celpy.json_to_cel(new), "oldObject": celpy.json_to_cel(old)}
    if not all(_evaluate(c["expression"], act) for c in spec["matchConditions"]):
        return None
    variables = {}
    for var in spec["variables"]:  # each may use the ones before it
        act["variables"] = celpy.celtypes.MapType(dict((celpy.celtypes.StringType(k), v) for k, v in variables.items()))
        variables[var["name"]] = _evaluate(var["expression"], act)
    act["variables"] = celpy.celtypes.MapType(dict((celpy.celtypes.StringType(k), v) for k, v in variables.items()))
    return [v["message"] for v in spec["validations"] if not _evaluate(v["expression"], act)]


NODE = {
    "apiVersion": "v1", "kind": "Node",
    "metadata": {"name": "hft-node-07", "labels": {"kubernetes.io/hostname": "hft-node-07"},
                 "annotations": {"node.alpha.kubernetes.io/ttl": "0"}},
    "spec": {"podCIDR": "10.244.3.0/24", "podCIDRs": ["10.244.3.0/24"],
             "taints": [{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}]},
}


def changed(**edits):
    node = copy.deepcopy(NODE)
    for path, value in edits.items():
        where = node
        keys = path.split("__")
        for key in keys[:-1]:
            where = where.setdefault(key, {})
        if value is None:
            where.pop(keys[-1], None)
        else:
            where[keys[-1]] = value
    return node


HFT_TAINT = {"key": "quantbot.io/hft", "value": "true", "effect": "NoSchedule"}
LABELS = dict(NODE["metadata"]["labels"], **{"quantbot.io/hft": "true"})
TAINTS = NODE["spec"]["taints"] + [HFT_TAINT]


@pytest.mark.parametrize("who, new, refused", [
    # what node_label and node_drain do as quantbot-hft-onboard
    (ONBOARD, changed(metadata__labels=LABELS, spec__taints=TAINTS), []),
    (ONBOARD, changed(spec__unschedulable=True), []),
    (ONBOARD, changed(spec__taints=NODE["spec"]["taints"] + [dict(HFT_TAINT, key="quantbot.io/hft-unverified")]), []),
    (ONBOARD, changed(metadata__annotations=dict(NODE["metadata"]["annotations"], **{"quantbot.io/hft-valid": "true"})),
     []),
    # what they must not do
    (ONBOARD, changed(metadata__labels=dict(LABELS, role="trading")), ["labels"]),
    (ONBOARD, changed(metadata__labels={}), ["labels"]),
    (ONBOARD, changed(spec__taints=[HFT_TAINT]), ["taints"]),  # drops node.kubernetes.io/unreachable
    (ONBOARD, changed(spec__taints=[dict(NODE["spec"]["taints"][0], effect="NoSchedule")]), ["taints"]),
    (ONBOARD, changed(metadata__annotations={}), ["annotations"]),
    (ONBOARD, changed(spec__podCIDR="10.244.9.0/24"), ["podCIDR"]),
    (ONBOARD, changed(spec__providerID="aws:///eu-west-1a/i-0abc"), ["podCIDR"]),
    # quantbot-hft-validate: the validation annotations only
    (VALIDATE, changed(metadata__annotations=dict(NODE["metadata"]["annotations"], **{
        "quantbot.io/hft-valid": "false", "quantbot.io/hft-failed-checks": "ptp_pod,label"})), []),
    (VALIDATE, changed(metadata__labels=LABELS), ["labels"]),
    (VALIDATE, changed(spec__taints=TAINTS), ["taints"]),
    (VALIDATE, changed(spec__unschedulable=True), ["cordon"]),
])
def test_the_policy_admits_the_identities_work_and_refuses_the_rest(who, new, refused):
    messages = admit(who, NODE, new)
    assert messages is not None
    assert len(messages) == len(refused), messages
    for word, message in zip(refused, messages):
        assert word in message


def test_the_policy_leaves_other_users_alone():
    assert admit("system:serviceaccount:kube-system:node-controller", NODE, changed(spec__podCIDR="10.0.0.0/24")) is None
    assert admit("system:node:hft-node-07", NODE, changed(metadata__labels={})) is None
