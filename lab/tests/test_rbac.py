"""The offline RBAC model (hftlab.rbac): request attributes as the API server derives them, and RBAC's matching."""

from __future__ import annotations

import pytest

from hftlab.rbac import Attributes, Policy, RbacError, Rule, User, conformance, flatten, request_attributes

SA = User.service_account("quantbot-hft-system", "quantbot-hft-onboard")
RBAC = "rbac.authorization.k8s.io/v1"


def attrs(method, path, query=None):
    a = request_attributes(method, path, query)
    return (a.verb, a.api_group, a.resource, a.subresource, a.namespace, a.name) if a.resource_request else \
        (a.verb, a.path)


# --------------------------------------------------------------------------
# request -> attributes (k8s.io/apiserver RequestInfoFactory)
# --------------------------------------------------------------------------
@pytest.mark.parametrize("method, path, query, expected", [
    ("GET", "/api/v1/nodes/n1", None, ("get", "", "nodes", "", "", "n1")),
    ("HEAD", "/api/v1/nodes/n1", None, ("get", "", "nodes", "", "", "n1")),
    ("GET", "/api/v1/nodes", {"labelSelector": "quantbot.io/hft=true", "limit": "500"}, ("list", "", "nodes", "", "", "")),
    ("GET", "/api/v1/nodes", {"limit": "500", "continue": "eyJ2Ijo"}, ("list", "", "nodes", "", "", "")),
    ("GET", "/api/v1/nodes", {"watch": "true"}, ("watch", "", "nodes", "", "", "")),
    ("GET", "/api/v1/nodes", {"watch": "1"}, ("watch", "", "nodes", "", "", "")),
    ("GET", "/api/v1/nodes", {"watch": ""}, ("watch", "", "nodes", "", "", "")),
    ("GET", "/api/v1/nodes", {"watch": "false"}, ("list", "", "nodes", "", "", "")),
    ("GET", "/api/v1/nodes", {"watch": "0"}, ("list", "", "nodes", "", "", "")),
    ("GET", "/api/v1/nodes", {"watch": ["true"]}, ("watch", "", "nodes", "", "", "")),
    ("GET", "/api/v1/watch/nodes/n1", None, ("watch", "", "nodes", "", "", "n1")),
    ("GET", "/api/v1/watch/namespaces/ns/pods", None, ("watch", "", "pods", "", "ns", "")),
    ("GET", "/api/v1/pods", {"fieldSelector": "spec.nodeName=n1"}, ("list", "", "pods", "", "", "")),
    ("GET", "/api/v1/namespaces/ns/pods", None, ("list", "", "pods", "", "ns", "")),
    ("GET", "/api/v1/namespaces/ns/pods", {"fieldSelector": "metadata.name=p1"}, ("list", "", "pods", "", "ns", "p1")),
    ("GET", "/api/v1/namespaces/ns/pods", {"fieldSelector": "status.phase=Running,metadata.name==p1"},
     ("list", "", "pods", "", "ns", "p1")),
    ("GET", "/api/v1/namespaces/ns/pods", {"fieldSelector": "metadata.name!=p1"}, ("list", "", "pods", "", "ns", "")),
    ("GET", "/api/v1/namespaces/ns/pods", {"fieldSelector": "metadata.name=a/b"}, ("list", "", "pods", "", "ns", "")),
    ("GET", "/api/v1/namespaces/ns/pods/p1", None, ("get", "", "pods", "", "ns", "p1")),
    ("POST", "/api/v1/namespaces/alphaswarm-bots/pods/mm-bot-0/eviction", None,
     ("create", "", "pods", "eviction", "alphaswarm-bots", "mm-bot-0")),
    ("GET", "/api/v1/nodes/hft-node-07/proxy/configz", None, ("get", "", "nodes", "proxy", "", "hft-node-07")),
    ("GET", "/api/v1/nodes/hft-node-07/proxy", None, ("get", "", "nodes", "proxy", "", "hft-node-07")),
    ("GET", "/api/v1/proxy/nodes/hft-node-07/configz", None, ("proxy", "", "nodes", "", "", "hft-node-07")),
    ("PATCH", "/api/v1/nodes/n1", None, ("patch", "", "nodes", "", "", "n1")),
    ("PATCH", "/api/v1/nodes/n1/status", None, ("patch", "", "nodes", "status", "", "n1")),
    ("PUT", "/api/v1/nodes/n1", None, ("update", "", "nodes", "", "", "n1")),
    ("DELETE", "/api/v1/namespaces/ns/pods/p1", None, ("delete", "", "pods", "", "ns", "p1")),
    ("DELETE", "/api/v1/namespaces/ns/pods", None, ("deletecollection", "", "pods", "", "ns", "")),
    ("POST", "/api/v1/namespaces/kube-system/secrets", None, ("create", "", "secrets", "", "kube-system", "")),
    ("GET", "/apis/apps/v1/namespaces/alphaswarm-bots/daemonsets/quantbot-ptp", None,
     ("get", "apps", "daemonsets", "", "alphaswarm-bots", "quantbot-ptp")),
    ("POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles", None,
     ("create", "rbac.authorization.k8s.io", "clusterroles", "", "", "")),
    # namespaces are their own namespace (a RoleBinding in "foo" can grant reading Namespace foo)
    ("GET", "/api/v1/namespaces/foo", None, ("get", "", "namespaces", "", "foo", "foo")),
    ("GET", "/api/v1/namespaces/foo/status", None, ("get", "", "namespaces", "status", "foo", "foo")),
    ("PUT", "/api/v1/namespaces/foo/finalize", None, ("update", "", "namespaces", "finalize", "foo", "foo")),
    ("GET", "/api/v1/namespaces", None, ("list", "", "namespaces", "", "", "")),
    ("POST", "/api/v1/namespaces", None, ("create", "", "namespaces", "", "", "")),
    ("OPTIONS", "/api/v1/nodes/n1", None, ("", "", "nodes", "", "", "n1")),
])
def test_resource_requests(method, path, query, expected):
    assert attrs(method, path, query) == expected


@pytest.mark.parametrize("path", ["/", "/version", "/api", "/apis", "/api/v1", "/apis/apps", "/apis/apps/v1",
                                  "/healthz", "/openapi/v2", "/metrics"])
def test_non_resource_requests(path):
    a = request_attributes("GET", path)
    assert not a.resource_request and a.verb == "get" and a.path == path
    assert "non-resource" in str(a)


def test_a_path_verb_without_a_resource_is_an_error():
    with pytest.raises(RbacError, match="unable to determine kind"):
        request_attributes("GET", "/api/v1/watch")


def test_attributes_read_plainly():
    assert str(request_attributes("POST", "/api/v1/namespaces/a/pods/p/eviction")) == \
        "create pods/eviction (group core, namespace a, name p)"
    assert str(request_attributes("GET", "/api/v1/pods")) == "list pods (group core, cluster-wide)"


# --------------------------------------------------------------------------
# one rule (pkg/apis/rbac/v1/evaluation_helpers.go)
# --------------------------------------------------------------------------
def rule(**kw):
    data = {"verbs": kw.pop("verbs", ["get"])}
    data.update(kw)
    return Rule.from_manifest(data, "test rule")


def allows(r, method, path, query=None):
    return r.allows(request_attributes(method, path, query))


def test_verbs_and_the_verb_wildcard():
    r = rule(verbs=["get", "list"], apiGroups=[""], resources=["nodes"])
    assert allows(r, "GET", "/api/v1/nodes/n1") and allows(r, "GET", "/api/v1/nodes")
    assert not allows(r, "PATCH", "/api/v1/nodes/n1") and not allows(r, "GET", "/api/v1/nodes", {"watch": "1"})
    assert allows(rule(verbs=["*"], apiGroups=[""], resources=["nodes"]), "DELETE", "/api/v1/nodes/n1")


def test_api_groups():
    core = rule(apiGroups=[""], resources=["daemonsets"])
    apps = rule(apiGroups=["apps"], resources=["daemonsets"])
    path = "/apis/apps/v1/namespaces/a/daemonsets/d"
    assert not allows(core, "GET", path) and allows(apps, "GET", path)
    assert allows(rule(apiGroups=["*"], resources=["daemonsets"]), "GET", path)
    assert not allows(apps, "GET", "/api/v1/namespaces/a/pods/p")


def test_resources_and_subresources():
    pods = rule(verbs=["create"], apiGroups=[""], resources=["pods"])
    eviction = rule(verbs=["create"], apiGroups=[""], resources=["pods/eviction"])
    any_eviction = rule(verbs=["create"], apiGroups=[""], resources=["*/eviction"])
    everything = rule(verbs=["create"], apiGroups=[""], resources=["*"])
    evict = ("POST", "/api/v1/namespaces/a/pods/p/eviction")
    create = ("POST", "/api/v1/namespaces/a/pods")
    assert not allows(pods, *evict) and allows(pods, *create)
    assert allows(eviction, *evict) and not allows(eviction, *create)
    assert allows(any_eviction, *evict) and not allows(any_eviction, *create)
    assert allows(everything, *evict) and allows(everything, *create)
    proxy = rule(apiGroups=[""], resources=["nodes/proxy"])
    assert allows(proxy, "GET", "/api/v1/nodes/n1/proxy/configz")
    assert allows(proxy, "GET", "/api/v1/nodes/n1/proxy/pods")  # the whole kubelet API
    assert not allows(proxy, "GET", "/api/v1/nodes/n1")
    assert not allows(rule(apiGroups=[""], resources=["nodes"]), "GET", "/api/v1/nodes/n1/proxy/configz")


def test_resource_names():
    named = rule(verbs=["get", "list", "create"], apiGroups=["apps"], resources=["daemonsets"], resourceNames=["quantbot-ptp"])
    assert allows(named, "GET", "/apis/apps/v1/namespaces/a/daemonsets/quantbot-ptp")
    assert not allows(named, "GET", "/apis/apps/v1/namespaces/a/daemonsets/other")
    assert not allows(named, "GET", "/apis/apps/v1/namespaces/a/daemonsets")  # a list has no name
    assert allows(named, "GET", "/apis/apps/v1/namespaces/a/daemonsets", {"fieldSelector": "metadata.name=quantbot-ptp"})
    assert not allows(named, "POST", "/apis/apps/v1/namespaces/a/daemonsets")  # create: no name to match
    assert allows(rule(apiGroups=["apps"], resources=["daemonsets"]), "GET", "/apis/apps/v1/namespaces/a/daemonsets/x")


def test_non_resource_urls():
    r = rule(verbs=["get"], nonResourceURLs=["/healthz", "/apis/*"])
    assert allows(r, "GET", "/healthz") and allows(r, "GET", "/apis/apps") and allows(r, "GET", "/apis/")
    assert not allows(r, "GET", "/apis")  # "/apis/*" is the prefix "/apis/" (system:discovery lists both)
    assert not allows(r, "GET", "/healthz/ready") and not allows(r, "GET", "/version")
    assert not allows(r, "POST", "/healthz")
    assert allows(rule(verbs=["get"], nonResourceURLs=["*"]), "GET", "/version")
    # a resource rule never matches a non-resource request, and the other way round
    assert not allows(rule(apiGroups=["*"], resources=["*"]), "GET", "/version")
    assert not allows(r, "GET", "/apis/apps/v1/namespaces/a/daemonsets/x")


@pytest.mark.parametrize("data, message", [
    ({"verbs": ["get"], "resources": ["pods"]}, "at least one api group"),
    ({"verbs": [], "apiGroups": [""], "resources": ["pods"]}, "verbs must not be empty"),
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["pods"], "nonResourceURLs": ["/x"]}, "not both"),
    ({"verbs": ["get"], "apiGroups": [""]}, "needs resources or nonResourceURLs"),
    ({"verbs": "get", "apiGroups": [""], "resources": ["pods"]}, "verbs must be a list of strings"),
])
def test_rules_the_api_server_would_reject(data, message):
    with pytest.raises(RbacError, match=message):
        Rule.from_manifest(data, "ClusterRole x rule 0")


def test_grants_expand_every_combination():
    r = rule(verbs=["get", "patch"], apiGroups=[""], resources=["nodes", "pods"], resourceNames=["a"])
    assert sorted(str(g) for g in r.grants()) == [
        "get nodes (group core) resourceNames a", "get pods (group core) resourceNames a",
        "patch nodes (group core) resourceNames a", "patch pods (group core) resourceNames a"]


# --------------------------------------------------------------------------
# bindings and scope (plugin/pkg/auth/authorizer/rbac)
# --------------------------------------------------------------------------
def role(kind, name, rules, namespace=None):
    meta = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": RBAC, "kind": kind, "metadata": meta, "rules": rules}


def binding(kind, name, role_kind, role_name, subjects, namespace=None):
    meta = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": RBAC, "kind": kind, "metadata": meta, "subjects": subjects,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role_name}}


SUBJECT = [{"kind": "ServiceAccount", "name": "quantbot-hft-onboard", "namespace": "quantbot-hft-system"}]
READ_PODS = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]


def can(policy, method, path, query=None, user=SA):
    return policy.allows(user, request_attributes(method, path, query))


def test_cluster_role_binding_applies_everywhere():
    policy = Policy([role("ClusterRole", "r", READ_PODS + [{"apiGroups": [""], "resources": ["nodes"],
                                                            "verbs": ["get"]}]),
                     binding("ClusterRoleBinding", "b", "ClusterRole", "r", SUBJECT)])
    assert can(policy, "GET", "/api/v1/pods")
    assert can(policy, "GET", "/api/v1/namespaces/a/pods/p") and can(policy, "GET", "/api/v1/namespaces/b/pods/p")
    assert can(policy, "GET", "/api/v1/nodes/n1")


def test_role_binding_applies_to_its_namespace_only():
    policy = Policy([role("Role", "r", READ_PODS + [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]}],
                          namespace="a"),
                     binding("RoleBinding", "b", "Role", "r", SUBJECT, namespace="a")])
    assert can(policy, "GET", "/api/v1/namespaces/a/pods/p") and can(policy, "GET", "/api/v1/namespaces/a/pods")
    assert not can(policy, "GET", "/api/v1/namespaces/b/pods/p")
    assert not can(policy, "GET", "/api/v1/pods")  # a list across namespaces is cluster-wide
    assert not can(policy, "GET", "/api/v1/nodes/n1")  # a namespaced binding never reaches cluster-scoped objects


def test_a_cluster_role_through_a_role_binding_is_namespaced():
    policy = Policy([role("ClusterRole", "r", READ_PODS),
                     binding("RoleBinding", "b", "ClusterRole", "r", SUBJECT, namespace="a")])
    assert can(policy, "GET", "/api/v1/namespaces/a/pods/p")
    assert not can(policy, "GET", "/api/v1/namespaces/b/pods/p") and not can(policy, "GET", "/api/v1/pods")


def test_a_role_binding_in_a_namespace_reaches_that_namespace_object():
    policy = Policy([role("Role", "r", [{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get"]}],
                          namespace="foo"),
                     binding("RoleBinding", "b", "Role", "r", SUBJECT, namespace="foo")])
    assert can(policy, "GET", "/api/v1/namespaces/foo") and not can(policy, "GET", "/api/v1/namespaces/bar")


def test_a_role_binding_refers_to_a_role_of_its_own_namespace():
    policy = Policy([role("Role", "r", READ_PODS, namespace="a"),
                     binding("RoleBinding", "b", "Role", "r", SUBJECT, namespace="b")])
    assert not can(policy, "GET", "/api/v1/namespaces/a/pods/p") and not can(policy, "GET", "/api/v1/namespaces/b/pods/p")
    assert [str(b) for b in policy.dangling()] == ["RoleBinding b/b"]


def test_non_resource_urls_need_a_cluster_role_binding():
    rules = [{"nonResourceURLs": ["/version"], "verbs": ["get"]}]
    via_crb = Policy([role("ClusterRole", "r", rules), binding("ClusterRoleBinding", "b", "ClusterRole", "r", SUBJECT)])
    via_rb = Policy([role("ClusterRole", "r", rules), binding("RoleBinding", "b", "ClusterRole", "r", SUBJECT, "a")])
    assert can(via_crb, "GET", "/version") and not can(via_rb, "GET", "/version")


@pytest.mark.parametrize("subject, bound_in, expected", [
    ({"kind": "ServiceAccount", "name": "quantbot-hft-onboard", "namespace": "quantbot-hft-system"}, None, True),
    ({"kind": "ServiceAccount", "name": "quantbot-hft-onboard", "namespace": "other"}, None, False),
    ({"kind": "ServiceAccount", "name": "quantbot-hft-onboard"}, None, False),  # no namespace to default to
    ({"kind": "ServiceAccount", "name": "quantbot-hft-onboard"}, "quantbot-hft-system", True),  # the binding's
    ({"kind": "ServiceAccount", "name": "quantbot-hft-onboard"}, "other", False),
    ({"kind": "User", "name": "system:serviceaccount:quantbot-hft-system:quantbot-hft-onboard"}, None, True),
    ({"kind": "User", "name": "quantbot-hft-onboard"}, None, False),
    ({"kind": "Group", "name": "system:serviceaccounts:quantbot-hft-system"}, None, True),
    ({"kind": "Group", "name": "system:serviceaccounts"}, None, True),
    ({"kind": "Group", "name": "system:authenticated"}, None, True),
    ({"kind": "Group", "name": "system:masters"}, None, False),
])
def test_subjects(subject, bound_in, expected):
    if bound_in:  # a RoleBinding in bound_in, for a pod read in bound_in
        docs = [role("ClusterRole", "r", READ_PODS), binding("RoleBinding", "b", "ClusterRole", "r", [subject], bound_in)]
        path = "/api/v1/namespaces/%s/pods/p" % bound_in
    else:
        docs = [role("ClusterRole", "r", READ_PODS), binding("ClusterRoleBinding", "b", "ClusterRole", "r", [subject])]
        path = "/api/v1/namespaces/a/pods/p"
    assert can(Policy(docs), "GET", path) is expected


@pytest.mark.parametrize("docs, message", [
    ([role("Role", "r", READ_PODS)], "Role r has no namespace"),
    ([role("Role", "r", [{"nonResourceURLs": ["/x"], "verbs": ["get"]}], namespace="a")], "only valid in a ClusterRole"),
    ([binding("ClusterRoleBinding", "b", "Role", "r", SUBJECT)], "can only refer to a ClusterRole"),
    ([binding("RoleBinding", "b", "Role", "r", SUBJECT)], "RoleBinding b has no namespace"),
    ([dict(role("ClusterRole", "r", READ_PODS), apiVersion="rbac.authorization.k8s.io/v1beta1")], "apiVersion"),
    ([dict(role("ClusterRole", "r", []), aggregationRule={"clusterRoleSelectors": []})], "aggregationRule"),
])
def test_manifests_the_model_refuses(docs, message):
    with pytest.raises(RbacError, match=message):
        Policy(docs)


def test_list_kinds_are_expanded():
    docs = [{"apiVersion": "v1", "kind": "List", "items": [
        role("ClusterRole", "r", READ_PODS),
        {"apiVersion": "v1", "kind": "List", "items": [binding("ClusterRoleBinding", "b", "ClusterRole", "r", SUBJECT)]}]}]
    assert can(Policy(docs), "GET", "/api/v1/namespaces/a/pods/p")
    assert [d["kind"] for d in flatten(docs + [None])] == ["ClusterRole", "ClusterRoleBinding"]


def test_other_kinds_are_ignored():
    policy = Policy([{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "x", "namespace": "a"}}, None])
    assert policy.roles == {} and policy.bindings == []


# --------------------------------------------------------------------------
# conformance
# --------------------------------------------------------------------------
POLICY_DOCS = [
    role("ClusterRole", "onboard", [
        {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "patch"]},
        {"apiGroups": [""], "resources": ["pods/eviction"], "verbs": ["create"]},
    ]),
    binding("ClusterRoleBinding", "onboard", "ClusterRole", "onboard", SUBJECT),
    role("Role", "token", [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["create"]}], namespace="kube-system"),
    binding("RoleBinding", "token", "Role", "token", SUBJECT, namespace="kube-system"),
]
REQUESTS = [
    ("GET", "/api/v1/nodes/n1", {}),
    ("PATCH", "/api/v1/nodes/n1", {}),
    ("POST", "/api/v1/namespaces/a/pods/p/eviction", {}),
    ("POST", "/api/v1/namespaces/kube-system/secrets", {}),
]


def test_conformance_passes_when_requests_and_grants_match():
    report = conformance(Policy(POLICY_DOCS), SA, REQUESTS)
    assert report.ok, str(report)
    assert str(report) == "%s: every request allowed, every grant used" % SA


def test_conformance_names_a_denied_request():
    report = conformance(Policy(POLICY_DOCS), SA, REQUESTS + [("GET", "/api/v1/pods", {"fieldSelector": "spec.nodeName=n1"})])
    assert not report.ok and not report.unused
    assert report.lines() == ["DENIED %s: GET /api/v1/pods?fieldSelector=spec.nodeName=n1 -> "
                              "list pods (group core, cluster-wide)" % SA]


def test_conformance_names_an_unused_verb_of_a_rule():
    report = conformance(Policy(POLICY_DOCS), SA, [r for r in REQUESTS if r[0] != "PATCH"])
    assert not report.ok and not report.denied
    assert report.lines() == ["UNUSED %s: patch nodes (group core) (ClusterRole onboard rule 0, bound by "
                              "ClusterRoleBinding onboard)" % SA]


def test_a_secret_created_elsewhere_is_denied_and_leaves_the_grant_unused():
    requests = [r for r in REQUESTS if "secrets" not in r[1]] + [("POST", "/api/v1/namespaces/default/secrets", {})]
    report = conformance(Policy(POLICY_DOCS), SA, requests)
    assert [a.namespace for dummy, a in report.denied] == ["default"]
    assert [str(g.binding) for g in report.unused] == ["RoleBinding kube-system/token"]


def test_conformance_reports_wildcards_and_dangling_bindings():
    docs = [role("ClusterRole", "wide", [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]),
            binding("ClusterRoleBinding", "wide", "ClusterRole", "wide", SUBJECT),
            binding("ClusterRoleBinding", "gone", "ClusterRole", "missing", SUBJECT)]
    report = conformance(Policy(docs), SA, [("GET", "/api/v1/nodes/n1", {})])
    assert not report.denied and not report.unused
    assert [r.where for r in report.wildcards] == ["ClusterRole wide rule 0"]
    assert [str(b) for b in report.dangling] == ["ClusterRoleBinding gone"]
    assert any(line.startswith("WILDCARD") for line in report.lines())
    assert any(line.startswith("DANGLING") for line in report.lines())


def test_another_user_holds_nothing():
    other = User.service_account("quantbot-hft-system", "quantbot-hft-audit")
    report = conformance(Policy(POLICY_DOCS), other, REQUESTS[:1])
    assert len(report.denied) == 1 and report.unused == []


def test_attributes_is_a_value():
    assert request_attributes("GET", "/api/v1/nodes/n1") == Attributes(
        verb="get", resource_request=True, path="/api/v1/nodes/n1", api_version="v1", resource="nodes", name="n1")


def test_conformance_names_a_grant_another_grant_makes_unnecessary():
    docs = POLICY_DOCS + [role("ClusterRole", "reader", [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]}]),
                          binding("ClusterRoleBinding", "reader", "ClusterRole", "reader", SUBJECT)]
    report = conformance(Policy(docs), SA, REQUESTS)
    assert not report.denied and not report.unused and not report.ok
    assert [g.rule.where for g in report.redundant] == ["ClusterRole onboard rule 0", "ClusterRole reader rule 0"]
    assert all(line.startswith("REDUNDANT") for line in report.lines())
