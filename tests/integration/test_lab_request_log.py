# -*- coding: utf-8 -*-
"""The lab API's request log (hftlab.controlplane.KmockServer.request_log), which the RBAC conformance test reads."""

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
