# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""quantbot.hft.node_join end to end with a kubeadm stand-in.

The stand-in records its argv, writes kubelet.conf (a copy of the test
kubeconfig) and registers the Node through the API, Ready or not, which is
what a real ``kubeadm join`` plus kubelet amount to as far as the module can
see. kmock only: it registers a fake Node.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import os
import stat
import sys

import pytest

pytestmark = pytest.mark.kmock_only

TOKEN = "abcdef.0123456789abcdef"
CA_HASH = "sha256:" + "ab" * 32

STANDIN = r'''#!{python}
import json, os, sys, urllib.request
with open(os.environ["STANDIN_LOG"], "a") as log:
    log.write(json.dumps(sys.argv) + "\n")
if os.environ.get("STANDIN_RC", "0") != "0":
    sys.stderr.write("error execution phase preflight: [preflight] Some fatal errors occurred\n")
    sys.exit(int(os.environ["STANDIN_RC"]))
name = sys.argv[sys.argv.index("--node-name") + 1]
server = os.environ["STANDIN_SERVER"]
def call(method, path, body, ctype="application/json"):
    req = urllib.request.Request(server + path, data=json.dumps(body).encode(), method=method,
                                 headers={{"Content-Type": ctype}})
    urllib.request.urlopen(req).read()
call("POST", "/api/v1/nodes", {{"apiVersion": "v1", "kind": "Node", "metadata": {{"name": name}}}})
ready = os.environ.get("STANDIN_READY", "True")
call("PATCH", "/api/v1/nodes/%s/status" % name,
     {{"status": {{"conditions": [{{"type": "Ready", "status": ready, "reason": "KubeletReady"}}]}}}},
     "application/merge-patch+json")
import shutil
shutil.copy(os.environ["STANDIN_KUBECONFIG"], os.environ["STANDIN_KUBELET_CONF"])
print("This node has joined the cluster")
'''


@pytest.fixture
def standin(kube, tmp_path):
    path = tmp_path / "kubeadm-standin"
    path.write_text(STANDIN.format(python=sys.executable))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    conf = tmp_path / "etc-kubernetes" / "kubelet.conf"
    conf.parent.mkdir()
    env = {"STANDIN_LOG": str(tmp_path / "argv.log"), "STANDIN_SERVER": kube.server.url,
           "STANDIN_KUBECONFIG": kube.kubeconfig, "STANDIN_KUBELET_CONF": str(conf)}

    class S(object):
        kubeadm = str(path)
        kubelet_conf = str(conf)

        @staticmethod
        def calls():
            if not os.path.exists(env["STANDIN_LOG"]):
                return []
            with open(env["STANDIN_LOG"]) as handle:
                return [json.loads(line) for line in handle]

    S.env = env
    return S


def _args(standin, **extra):
    args = {"node_name": "hft-node-21", "api_server_endpoint": "127.0.0.1:6443", "token": TOKEN,
            "discovery_token_ca_cert_hash": [CA_HASH], "kubeadm_path": standin.kubeadm,
            "kubelet_conf": standin.kubelet_conf, "wait_timeout": 10, "poll_interval": 0.2}
    args.update(extra)
    return args


def test_join_waits_ready_then_is_idempotent(kube, standin):
    result = kube.run("node_join", _args(standin), auth=False, env=standin.env)
    assert result["_rc"] == 0, result
    assert result["changed"] is True and result["joined"] is True and result["ready"] is True
    assert standin.calls() == [[standin.kubeadm, "join", "127.0.0.1:6443", "--token", TOKEN,
                                "--discovery-token-ca-cert-hash", CA_HASH, "--node-name", "hft-node-21"]]
    assert TOKEN not in result["_raw"]
    assert result["command"][4] == "********"

    again = kube.run("node_join", _args(standin), auth=False, env=standin.env)
    assert again["_rc"] == 0 and again["changed"] is False and again["ready"] is True
    assert len(standin.calls()) == 1


def test_check_mode_runs_nothing(kube, standin):
    result = kube.run("node_join", _args(standin), check=True, auth=False, env=standin.env)
    assert result["changed"] is True and result["joined"] is False
    assert standin.calls() == [] and not os.path.exists(standin.kubelet_conf)
    assert TOKEN not in result["_raw"]


def test_kubeadm_failure_is_reported_without_the_token(kube, standin):
    env = dict(standin.env, STANDIN_RC="1")
    result = kube.run("node_join", _args(standin), auth=False, env=env)
    assert result["failed"] is True and result["rc"] == 1
    assert "preflight" in result["stderr"]
    assert TOKEN not in result["_raw"] and "0123456789abcdef" not in result["_raw"]


def test_not_ready_node_times_out(kube, standin):
    env = dict(standin.env, STANDIN_READY="False")
    result = kube.run("node_join", _args(standin, wait_timeout=1), auth=False, env=env)
    assert result["failed"] is True and result["ready"] is False
    assert "not Ready after 1s" in result["msg"]


def test_bad_hash_fails_before_running_kubeadm(kube, standin):
    result = kube.run("node_join", _args(standin, discovery_token_ca_cert_hash=["md5:abc"]),
                      auth=False, env=standin.env)
    assert result["failed"] is True and "sha256:<64 hex digits>" in result["msg"]
    assert standin.calls() == []


def _make_ca():
    crypto = pytest.importorskip("cryptography")
    del crypto
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM)
    spki = cert.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)
    return pem, "sha256:" + hashlib.sha256(spki).hexdigest()


def test_create_token_through_the_api(kube, standin):
    pem, expected_hash = _make_ca()
    info = "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: %s\n    server: https://10.0.0.10:6443\n" \
           "  name: \"\"\nkind: Config\n" % base64.b64encode(pem).decode()
    kube.v1.create_namespaced_config_map("kube-public", {"metadata": {"name": "cluster-info"},
                                                         "data": {"kubeconfig": info}}, _preload_content=False)
    args = _args(standin, create_token=True, token_ttl=600)
    for key in ("token", "discovery_token_ca_cert_hash", "api_server_endpoint"):
        del args[key]
    result = kube.run("node_join", args, env=standin.env)
    assert result["_rc"] == 0, result
    assert result["token_created"] is True and result["ready"] is True
    assert result["discovery_token_ca_cert_hash"] == [expected_hash]

    secrets = json.loads(kube.v1.list_namespaced_secret("kube-system", _preload_content=False).data)["items"]
    assert len(secrets) == 1
    secret = secrets[0]
    data = secret.get("stringData") or dict((k, base64.b64decode(v).decode())
                                            for k, v in (secret.get("data") or {}).items())
    assert secret["type"] == "bootstrap.kubernetes.io/token"
    assert secret["metadata"]["name"] == "bootstrap-token-%s" % data["token-id"]
    assert data["usage-bootstrap-authentication"] == "true"
    expires = datetime.datetime.strptime(data["expiration"], "%Y-%m-%dT%H:%M:%SZ")
    left = expires - datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    assert datetime.timedelta(seconds=500) < left <= datetime.timedelta(seconds=600)
    token = "%s.%s" % (data["token-id"], data["token-secret"])

    argv = standin.calls()[0]
    assert argv[1:5] == ["join", "10.0.0.10:6443", "--token", token]
    assert argv[argv.index("--discovery-token-ca-cert-hash") + 1] == expected_hash
    assert data["token-secret"] not in result["_raw"]
