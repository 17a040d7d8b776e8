# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""rbac/README.md's table "What each identity may do" says, grant for grant, what the manifests grant.

Each row names verbs and a resource (``get``, ``patch`` nodes; ``get`` daemonsets
(group ``apps``) named ``quantbot-ptp``) and a scope (``cluster``, ``all
namespaces`` or ``namespace X only``). An identity's rows without "with" are its
own manifest (``rbac/onboard.yml``); "with ``F``" rows are what the opt-in file F
adds. No API server is needed.
"""

from __future__ import annotations

import os
import re

import pytest

from hftlab.rbac import Policy, User

from rbac_identities import IDENTITIES, NAMESPACE
from test_rbac_conformance import load_manifests

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
README = os.path.join(REPO_ROOT, "rbac", "README.md")
# `get`, `patch` configmaps (group `apps`) named `sriovdp-config`
GRANTS = re.compile(r"((?:`[a-z]+`(?:, )?)+) ([a-z/]+)(?: \(group `([a-z.]+)`\))?(?: named `([a-z0-9.-]+)`)?")
SCOPE = re.compile(r"^namespace `([a-z0-9-]+)` only$")


def readme_rows(path=README):
    """[(manifest file, account, [(verb, group, resource, name)], scope cell)]: the rows of the README's table."""
    with open(path) as handle:
        text = handle.read()
    section = text.split("## What each identity may do", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines()
            if line.startswith("| ") and not line.startswith(("| identity", "| ---"))]
    out, current, account = [], None, None
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert len(cells) == 4, "a row of four cells: %s" % row
        who, grants, scope = cells[:3]
        if who:
            account, dummy, opt_in = who.partition(" with ")
            account = account.strip("`")
            current = ("rbac/" + opt_in.strip("`")) if opt_in else "rbac/%s.yml" % account.replace("quantbot-hft-", "")
        assert current, "the first row names an identity"
        found = GRANTS.findall(grants)
        assert found, "no grant in %r" % grants
        out.append((current, account, [(verb, group or "", resource, name or "")
                                       for verbs, resource, group, name in found
                                       for verb in re.findall(r"`([a-z]+)`", verbs)], scope))
    return out


def readme_table(path=README):
    """{manifest file: (account, set of (verb, group, resource, name, namespace))} from the README's table."""
    table = {}
    for current, account, grants, scope in readme_rows(path):
        table.setdefault(current, (account, set()))
        namespace = SCOPE.match(scope).group(1) if SCOPE.match(scope) else ""
        if not namespace:
            assert scope in ("cluster", "all namespaces", "cluster, all namespaces"), "unknown scope %r" % scope
        for verb, group, resource, name in grants:
            table[current][1].add((verb, group, resource, name, namespace))
    return table


def manifest_grants(path, account):
    """The grants path (alone) gives account: (verb, group, resource, name, namespace of the RoleBinding or "")."""
    user = User.service_account(NAMESPACE, account)
    out = set()
    for grant in Policy(load_manifests([path])).grants_for(user):
        rule = grant.rule
        out.add((rule.verbs[0], rule.api_groups[0], rule.resources[0],
                 rule.resource_names[0] if rule.resource_names else "", grant.binding.namespace))
    return out


def test_the_readme_names_every_checked_manifest():
    checked = sorted(set(path for spec in IDENTITIES.values() for path in spec.manifests))
    assert sorted(readme_table()) == checked


@pytest.mark.parametrize("path", sorted(set(path for spec in IDENTITIES.values() for path in spec.manifests)))
def test_the_readme_table_lists_exactly_what_each_manifest_grants(path):
    account, listed = readme_table()[path]
    granted = manifest_grants(path, account)
    assert granted, "%s grants %s nothing" % (path, account)
    assert sorted(granted - listed) == [], "granted by %s but not in rbac/README.md's table" % path
    assert sorted(listed - granted) == [], "in rbac/README.md's table but not granted by %s" % path


def _readme_with(tmp_path, row, replacement):
    """A copy of rbac/README.md with one table row replaced (the row must be there)."""
    with open(README) as handle:
        text = handle.read()
    assert row in text
    changed = tmp_path / "README.md"
    changed.write_text(text.replace(row, replacement))
    return changed


def test_the_table_check_fails_on_a_missing_verb(tmp_path):
    changed = _readme_with(tmp_path, "| | `delete` pods | namespace `kube-system` only |",
                           "| | `get` pods | namespace `kube-system` only |")
    account, listed = readme_table(str(changed))["rbac/onboard-sriov-device-plugin.yml"]
    granted = manifest_grants("rbac/onboard-sriov-device-plugin.yml", account)
    assert granted - listed == {("delete", "", "pods", "", "kube-system")}
    assert listed - granted == {("get", "", "pods", "", "kube-system")}


# Whether a resource (or subresource) lives in a namespace, for the table's scope column. A resource the
# manifests grant and this does not know fails the test below: add it here.
NAMESPACED = {"nodes": False, "nodes/proxy": False, "pods": True, "pods/eviction": True, "configmaps": True,
              "secrets": True, "daemonsets": True}


@pytest.mark.parametrize("row", readme_rows(), ids=lambda row: "%s %s" % (row[0], row[2][0][2]))
def test_the_scope_column_says_cluster_for_nodes_and_namespaces_for_the_rest(row):
    """A ClusterRoleBinding grant on a cluster-scoped resource is "cluster", on a namespaced one "all namespaces";
    a RoleBinding grant is "namespace X only" (the namespace is checked against the binding above)."""
    dummy, dummy2, grants, scope = row
    for verb, group, resource, name in grants:
        assert resource in NAMESPACED, "is %s namespaced? add it to NAMESPACED" % resource
    if SCOPE.match(scope):
        assert all(NAMESPACED[resource] for dummy, dummy2, resource, dummy3 in grants), row
        return
    wanted = []
    if any(not NAMESPACED[resource] for dummy, dummy2, resource, dummy3 in grants):
        wanted.append("cluster")
    if any(NAMESPACED[resource] for dummy, dummy2, resource, dummy3 in grants):
        wanted.append("all namespaces")
    assert scope == ", ".join(wanted), row


def test_the_scope_check_fails_on_pods_said_to_be_cluster_wide(tmp_path):
    changed = _readme_with(tmp_path, "| | `create` pods/eviction | all namespaces |",
                           "| | `create` pods/eviction | cluster |")
    bad = [r for r in readme_rows(str(changed)) if r[2] == [("create", "", "pods/eviction", "")]]
    assert [r[3] for r in bad] == ["cluster"]
    with pytest.raises(AssertionError):
        test_the_scope_column_says_cluster_for_nodes_and_namespaces_for_the_rest(bad[0])
