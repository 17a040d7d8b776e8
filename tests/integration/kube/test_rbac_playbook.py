# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/rbac.yml against the lab API: it creates every object of rbac/, and a second run changes nothing.

kubernetes.core.k8s discovers the API first (kmock's bundled discovery) and
then reads, creates or patches each object. Its check mode uses server-side
dry run, which kmock ignores, so no check-mode claim is made here. kmock only.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from conftest import REPO_ROOT, ansible_env
from test_rbac_conformance import load_manifests

pytestmark = pytest.mark.kmock_only

PATHS = {
    ("v1", "Namespace"): "/api/v1/namespaces/{name}",
    ("v1", "ServiceAccount"): "/api/v1/namespaces/{namespace}/serviceaccounts/{name}",
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): "/apis/rbac.authorization.k8s.io/v1/clusterroles/{name}",
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"):
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/{name}",
    ("rbac.authorization.k8s.io/v1", "Role"): "/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/roles/{name}",
    ("rbac.authorization.k8s.io/v1", "RoleBinding"):
        "/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/rolebindings/{name}",
}


def manifests(*names):
    return load_manifests([os.path.join("rbac", name + ".yml") for name in names])


def playbook(kube, *extra):
    # kubernetes.core comes from the PyPI ansible package (site-packages/ansible_collections)
    env = ansible_env(K8S_AUTH_KUBECONFIG=kube.kubeconfig)
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,",
                           os.path.join(REPO_ROOT, "playbooks", "rbac.yml")] + list(extra),
                          capture_output=True, text=True, cwd=REPO_ROOT, timeout=600, check=False, env=env)
    recap = re.search(r"localhost\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", proc.stdout)
    assert recap, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc, dict(zip(("ok", "changed", "unreachable", "failed"), map(int, recap.groups())))


def stored(kube, doc):
    meta = doc["metadata"]
    path = PATHS[(doc["apiVersion"], doc["kind"])].format(name=meta["name"], namespace=meta.get("namespace"))
    resp = kube.api_client.call_api(*kube.api_client.param_serialize("GET", path, auth_settings=["BearerToken"]))
    resp.read()
    return json.loads(resp.data) if resp.status == 200 else None


OPT_INS = ("-e", "hft_rbac_bootstrap_tokens=true", "-e", "hft_rbac_sriov_device_plugin=true")


def test_rbac_playbook_creates_every_object_then_changes_nothing(kube):
    proc, recap = playbook(kube, *OPT_INS)
    assert recap["failed"] == 0 and recap["changed"] == 2, proc.stdout[-3000:]  # the namespace, the loop
    assert proc.stdout.count("changed: [localhost] => (item=") == 5
    docs = manifests("namespace", "onboard", "onboard-bootstrap-token", "onboard-sriov-device-plugin", "validate",
                     "audit")
    assert len(docs) == 18
    for doc in docs:
        got = stored(kube, doc)
        assert got is not None, "%s %s was not created" % (doc["kind"], doc["metadata"]["name"])
        for key in ("rules", "roleRef", "subjects"):
            assert got.get(key) == doc.get(key), (doc["kind"], doc["metadata"]["name"], key)
        assert got["metadata"]["labels"] == doc["metadata"]["labels"]

    again, recap = playbook(kube, *OPT_INS)
    assert recap["failed"] == 0 and recap["changed"] == 0, again.stdout[-3000:]
    assert again.stdout.count("ok: [localhost] => (item=") == 5

    # absent with the onboard identity removes its opt-in roles too, asked for or not
    gone, recap = playbook(kube, "-e", "hft_rbac_state=absent")
    assert recap["failed"] == 0, gone.stdout[-3000:]
    assert [doc["metadata"]["name"] for doc in docs if stored(kube, doc) is not None] == []


def test_the_sriov_role_comes_with_the_onboard_identity_unless_turned_off(kube):
    sriov = manifests("onboard-sriov-device-plugin")
    assert [(doc["kind"], doc["metadata"]["namespace"]) for doc in sriov] == [
        ("Role", "kube-system"), ("RoleBinding", "kube-system")]
    proc, recap = playbook(kube, "-e", json.dumps({"hft_rbac_identities": ["onboard"]}),
                           "-e", "hft_rbac_sriov_device_plugin=false")
    assert recap["failed"] == 0, proc.stdout[-3000:]
    assert stored(kube, manifests("onboard")[1]) is not None
    assert all(stored(kube, doc) is None for doc in sriov + manifests("onboard-bootstrap-token"))
    # The default with the onboard identity: the sriov role's cluster side is granted.
    proc, recap = playbook(kube, "-e", json.dumps({"hft_rbac_identities": ["onboard"]}))
    assert recap["failed"] == 0 and recap["changed"] == 1, proc.stdout[-3000:]
    assert "changed: [localhost] => (item=onboard-sriov-device-plugin)" in proc.stdout
    for doc in sriov:
        got = stored(kube, doc)
        assert got is not None and all(got.get(key) == doc.get(key) for key in ("rules", "roleRef", "subjects"))
    # Without the onboard identity it is not asked for (and not refused).
    proc, recap = playbook(kube, "-e", json.dumps({"hft_rbac_identities": ["validate"]}))
    assert recap["failed"] == 0, proc.stdout[-3000:]


def test_rbac_playbook_applies_only_what_is_asked_and_removes_it(kube):
    proc, recap = playbook(kube, "-e", json.dumps({"hft_rbac_identities": ["validate"]}))
    assert recap["failed"] == 0 and recap["changed"] == 2, proc.stdout[-3000:]
    assert stored(kube, manifests("validate")[1]) is not None
    assert stored(kube, manifests("onboard")[1]) is None
    proc, recap = playbook(kube, "-e", json.dumps({"hft_rbac_identities": ["validate"]}), "-e", "hft_rbac_state=absent")
    assert recap["failed"] == 0 and recap["changed"] == 1, proc.stdout[-3000:]
    assert all(stored(kube, doc) is None for doc in manifests("validate"))
    assert stored(kube, manifests("namespace")[0]) is not None  # other identities may still live there


@pytest.mark.parametrize("extra, message", [
    ({"hft_rbac_identities": ["admin"]}, "hft_rbac_identities must be a non-empty list of onboard, validate, audit"),
    ({"hft_rbac_identities": "onboard"}, "hft_rbac_identities must be a non-empty list"),
    ({"hft_rbac_state": "latest"}, "hft_rbac_state present or absent (got latest)"),
    ({"hft_rbac_identities": ["audit"], "hft_rbac_bootstrap_tokens": True},
     "hft_rbac_bootstrap_tokens and hft_rbac_sriov_device_plugin need the onboard identity"),
    ({"hft_rbac_identities": ["validate"], "hft_rbac_sriov_device_plugin": True},
     "hft_rbac_bootstrap_tokens and hft_rbac_sriov_device_plugin need the onboard identity"),
])
def test_bad_variables_are_refused_before_any_change(kube, extra, message):
    before = len(kube.server.requests())
    proc, recap = playbook(kube, "-e", json.dumps(extra))
    assert recap["failed"] == 1 and message in proc.stdout, proc.stdout[-2000:]
    assert kube.server.requests()[before:] == []
