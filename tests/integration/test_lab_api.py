# -*- coding: utf-8 -*-
"""The lab API gaps hftlab.controlplane.KmockServer fills: the request log, Namespaces, resource discovery."""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
try:
    from hftlab import controlplane
except ImportError:  # a checkout without the lab installed
    sys.path.insert(0, os.path.join(REPO_ROOT, "lab"))
    from hftlab import controlplane


@pytest.fixture
def server():
    srv = controlplane.KmockServer().start()
    yield srv
    srv.stop()


def call(server, method, path, token=None, body=None):
    req = urllib.request.Request(server.url + path, method=method, data=json.dumps(body).encode() if body else None,
                                 headers={"Content-Type": "application/json"})
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_each_request_is_logged_with_its_query_and_user(server):
    server.users["s3cr3t-admin-token"] = "admin"
    call(server, "GET", "/api/v1/nodes?labelSelector=quantbot.io%2Fhft%3Dtrue&limit=500", token="s3cr3t-admin-token")
    call(server, "POST", "/api/v1/namespaces/alphaswarm-bots/pods/mm-bot-0/eviction", token="not-registered",
         body={"apiVersion": "policy/v1", "kind": "Eviction"})
    call(server, "GET", "/api/v1/nodes/hft-node-07/proxy/configz")
    assert list(server.request_log) == [
        controlplane.LoggedRequest("GET", "/api/v1/nodes", {"labelSelector": "quantbot.io/hft=true", "limit": "500"},
                                   "admin"),
        controlplane.LoggedRequest("POST", "/api/v1/namespaces/alphaswarm-bots/pods/mm-bot-0/eviction", {}, "unknown"),
        controlplane.LoggedRequest("GET", "/api/v1/nodes/hft-node-07/proxy/configz", {}, "system:anonymous"),
    ]
    assert server.requests(user="admin") == [("GET", "/api/v1/nodes",
                                              {"labelSelector": "quantbot.io/hft=true", "limit": "500"})]
    assert "s3cr3t-admin-token" not in repr(list(server.request_log))


def test_each_server_instance_has_its_own_log(server):
    call(server, "GET", "/api/v1/nodes")
    other = controlplane.KmockServer().start()
    try:
        call(other, "GET", "/api/v1/pods")
        assert [r.path for r in other.request_log] == ["/api/v1/pods"]
        assert [r.path for r in server.request_log] == ["/api/v1/nodes"]
    finally:
        other.stop()


def test_a_bounded_log_keeps_the_newest_entries():
    srv = controlplane.KmockServer(log_limit=2).start()
    try:
        for name in ("a", "b", "c"):
            call(srv, "GET", "/api/v1/nodes/" + name)
        assert [r.path for r in srv.request_log] == ["/api/v1/nodes/b", "/api/v1/nodes/c"]
    finally:
        srv.stop()


def get_json(server, path):
    with urllib.request.urlopen(server.url + path, timeout=10) as resp:
        return json.loads(resp.read())


def test_namespaces_can_be_created_read_patched_and_deleted(server):
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "quantbot-hft-system"}}
    assert call(server, "GET", "/api/v1/namespaces/quantbot-hft-system") == 404
    assert call(server, "POST", "/api/v1/namespaces", body=body) == 201
    assert call(server, "POST", "/api/v1/namespaces", body=body) == 409
    assert get_json(server, "/api/v1/namespaces/quantbot-hft-system")["status"] == {"phase": "Active"}
    req = urllib.request.Request(server.url + "/api/v1/namespaces/quantbot-hft-system", method="PATCH",
                                 data=json.dumps({"metadata": {"labels": {"app.kubernetes.io/part-of": "quantbot-hft"}}}).encode(),
                                 headers={"Content-Type": "application/merge-patch+json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert json.loads(resp.read())["metadata"]["labels"] == {"app.kubernetes.io/part-of": "quantbot-hft"}
    names = [ns["metadata"]["name"] for ns in get_json(server, "/api/v1/namespaces")["items"]]
    assert names == ["quantbot-hft-system"]
    # objects inside it are kmock's as before
    sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "quantbot-hft-audit"}}
    assert call(server, "POST", "/api/v1/namespaces/quantbot-hft-system/serviceaccounts", body=sa) in (200, 201)
    assert get_json(server, "/api/v1/namespaces/quantbot-hft-system/serviceaccounts/quantbot-hft-audit")["kind"] == \
        "ServiceAccount"
    assert call(server, "DELETE", "/api/v1/namespaces/quantbot-hft-system") == 200
    assert call(server, "GET", "/api/v1/namespaces/quantbot-hft-system") == 404
    assert call(server, "POST", "/api/v1/namespaces", body=body) == 201  # and again


def test_injected_namespaces_are_served_too(server):
    server.inject("v1/namespaces", None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-system"}})
    import time
    for dummy in range(50):
        if call(server, "GET", "/api/v1/namespaces/kube-system") == 200:
            break
        time.sleep(0.05)
    assert get_json(server, "/api/v1/namespaces/kube-system")["metadata"]["name"] == "kube-system"


def test_resource_discovery_lists_rbac_and_service_accounts(server):
    rbac = get_json(server, "/apis/rbac.authorization.k8s.io/v1")
    assert {r["name"]: r["namespaced"] for r in rbac["resources"]} == {
        "clusterroles": False, "clusterrolebindings": False, "roles": True, "rolebindings": True}
    core = {r["name"]: r for r in get_json(server, "/api/v1")["resources"]}
    assert core["serviceaccounts"]["namespaced"] is True and core["namespaces"]["namespaced"] is False
    assert "create" in core["pods/eviction"]["verbs"]
    groups = [g["name"] for g in get_json(server, "/apis")["groups"]]
    assert "rbac.authorization.k8s.io" in groups and "apps" in groups
