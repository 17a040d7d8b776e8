# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every Kubernetes module, through the shared client factory: bad kubeconfig files, loose file
modes, and an API that echoes the bearer token in its error body."""

from __future__ import annotations

import http.server
import json
import os
import threading

import pytest

from conftest import write_kubeconfig

pytestmark = pytest.mark.kmock_only

TOKEN = "eyJhbGciOiJSUzI1NiJ9.quantbot-hft-onboard-echoed-token"
# One call per module that reaches the client factory; node_label is not changed by this branch,
# it gets the checks through get_api_client like the others.
CALLS = {
    "node_drain": {"node_name": "hft-node-07", "state": "cordoned"},
    "node_label": {"node_name": "hft-node-07"},
    "node_validate": {"node_name": "hft-node-07", "gather_host": False},
    "node_join": {"node_name": "hft-node-07", "create_token": True, "kubeadm_path": "/bin/true",
                  "kubelet_conf": "/nonexistent/kubelet.conf"},
}


@pytest.mark.parametrize("module", sorted(CALLS))
@pytest.mark.parametrize("text, message", [
    ("clusters:\n- name: hft\n  cluster: {server: https://10.0.0.10:6443\nusers:\n- user: {token: %s}\n" % TOKEN,
     "is not valid YAML at line"),
    ("- %s\n" % TOKEN, "is not a kubeconfig: it holds a list"),
    ("apiVersion: v1\nkind: Secret\ndata: {token: %s}\n" % TOKEN, "its kind is 'Secret', not Config"),
])
def test_a_bad_kubeconfig_is_a_clean_message_naming_the_file(kube, tmp_path, module, text, message):
    path = tmp_path / "bad-kubeconfig"
    path.write_text(text)
    path.chmod(0o600)
    result = kube.run(module, dict(CALLS[module], kubeconfig=str(path)))
    assert result["failed"] is True
    assert str(path) in result["msg"] and message in result["msg"]
    assert "Traceback" not in result["_raw"] and TOKEN not in result["_raw"]


@pytest.mark.parametrize("module", ["node_drain", "node_label", "node_validate"])
def test_a_kubeconfig_readable_by_others_is_warned_about(kube, hft_node, module):
    os.chmod(kube.kubeconfig, 0o644)
    result = kube.run(module, CALLS[module])
    assert result["_rc"] == 0, result
    # ansible-core 2.19 modules return warnings as structured WarningSummary objects
    warnings = json.dumps(result.get("warnings") or [])
    assert "kubeconfig %s is readable by group and others (mode 0644)" % kube.kubeconfig in warnings, warnings
    os.chmod(kube.kubeconfig, 0o600)
    result = kube.run(module, CALLS[module])
    assert "readable" not in json.dumps(result.get("warnings") or [])


class Echo(http.server.BaseHTTPRequestHandler):
    """An API that refuses every request and echoes the Authorization header in its Status body."""

    def _answer(self):
        body = json.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 401,
                           "reason": "Unauthorized",
                           "message": "invalid bearer token: %s" % self.headers.get("Authorization")}).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PATCH = _answer

    def log_message(self, *args):  # quiet
        pass


@pytest.fixture
def echo_api():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d" % server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("module", sorted(CALLS))
def test_an_api_error_that_echoes_the_token_is_masked(kube, tmp_path, echo_api, module):
    path = write_kubeconfig(tmp_path / "echo-kubeconfig", echo_api, token=TOKEN)
    result = kube.run(module, dict(CALLS[module], kubeconfig=path))
    assert result["failed"] is True and "401" in result["msg"], result["msg"]
    assert "********" in result["msg"]
    assert TOKEN not in result["_raw"]
