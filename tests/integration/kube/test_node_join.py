# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""quantbot.hft.node_join end to end with a kubeadm stand-in (the ``standin`` fixture of conftest.py).

The stand-in records its argv and the JoinConfiguration it was given, writes
kubelet.conf (a copy of the test kubeconfig) and registers the Node through
the API, Ready or not, which is what a real ``kubeadm join`` plus kubelet
amount to as far as the module can see. kmock only: it registers a fake Node.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import os

import pytest

pytestmark = pytest.mark.kmock_only

TOKEN = "abcdef.0123456789abcdef"
CA_HASH = "sha256:" + "ab" * 32


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
    calls = standin.calls()
    assert len(calls) == 1 and calls[0][:3] == [standin.kubeadm, "join", "--config"] and len(calls[0]) == 4
    assert result["command"] == calls[0]
    seen = standin.configs()[0]
    assert seen["path"] == calls[0][3] and seen["mode"] == "0o600" and seen["dir_mode"] == "0o700"
    assert seen["config"] == {
        "apiVersion": "kubeadm.k8s.io/v1beta4", "kind": "JoinConfiguration",
        "discovery": {"bootstrapToken": {"token": TOKEN, "apiServerEndpoint": "127.0.0.1:6443",
                                         "caCertHashes": [CA_HASH]}},
        "nodeRegistration": {"name": "hft-node-21"}}
    # the token reached kubeadm in the file only, and the file and its directory are gone
    assert TOKEN not in json.dumps(calls) and TOKEN not in result["_raw"]
    assert not os.path.exists(seen["path"]) and not os.path.exists(os.path.dirname(seen["path"]))

    again = kube.run("node_join", _args(standin), auth=False, env=standin.env)
    assert again["_rc"] == 0 and again["changed"] is False and again["ready"] is True
    assert len(standin.calls()) == 1


def test_check_mode_runs_nothing(kube, standin):
    result = kube.run("node_join", _args(standin), check=True, auth=False, env=standin.env)
    assert result["changed"] is True and result["joined"] is False
    assert standin.calls() == [] and not os.path.exists(standin.kubelet_conf)
    assert result["command"] == [standin.kubeadm, "join", "--config", "<private directory>/join-configuration.json"]
    assert TOKEN not in result["_raw"]


def test_kubeadm_failure_is_reported_without_the_token(kube, standin):
    env = dict(standin.env, STANDIN_RC="1")
    result = kube.run("node_join", _args(standin), auth=False, env=env)
    assert result["failed"] is True and result["rc"] == 1
    assert "preflight" in result["stderr"]
    assert TOKEN not in result["_raw"] and "0123456789abcdef" not in result["_raw"]
    path = standin.configs()[0]["path"]
    assert not os.path.exists(path) and not os.path.exists(os.path.dirname(path))  # removed on failure too


def test_older_kubeadm_gets_v1beta3_and_the_cri_socket(kube, standin):
    result = kube.run("node_join", _args(standin, kubeadm_api_version="kubeadm.k8s.io/v1beta3",
                                         cri_socket="unix:///run/containerd/containerd.sock",
                                         extra_args=["--v=2"]), auth=False, env=standin.env)
    assert result["_rc"] == 0, result
    assert standin.calls()[0][4:] == ["--v=2"]
    config = standin.configs()[0]["config"]
    assert config["apiVersion"] == "kubeadm.k8s.io/v1beta3"
    assert config["nodeRegistration"] == {"name": "hft-node-21", "criSocket": "unix:///run/containerd/containerd.sock"}


@pytest.mark.parametrize("extra", [["--token", TOKEN], ["--token=" + TOKEN], ["--node-name=other"],
                                   ["--config", "/tmp/other.yaml"], ["--discovery-token-ca-cert-hash=" + CA_HASH]])
def test_extra_args_that_belong_in_the_configuration_are_refused(kube, standin, extra):
    result = kube.run("node_join", _args(standin, extra_args=extra), auth=False, env=standin.env)
    assert result["failed"] is True and "extra_args must not hold %s" % extra[0].split("=")[0] in result["msg"]
    assert standin.calls() == []
    assert TOKEN not in result["_raw"]


@pytest.mark.parametrize("option, value, message", [
    ("wait_timeout", 0, "wait_timeout must be a number of seconds greater than 0, not 0"),
    ("wait_timeout", -5, "wait_timeout must be a number of seconds greater than 0, not -5"),
    ("poll_interval", -1, "poll_interval must be a number of seconds greater than 0 (a pause between two polls), "
                          "not -1.0"),
    ("token_ttl", 0, "token_ttl must be a number of seconds greater than 0, not 0"),
])
def test_bad_timing_is_refused_before_kubeadm_runs(kube, standin, option, value, message):
    for check in (True, False):
        result = kube.run("node_join", _args(standin, **{option: value}), check=check, auth=False, env=standin.env)
        assert result["failed"] is True and result["msg"] == message
    assert standin.calls() == [] and not os.path.exists(standin.kubelet_conf)


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
    kube.seed_cluster_info(pem)
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
    assert argv[1:3] == ["join", "--config"] and token not in json.dumps(argv)
    discovery = standin.configs()[0]["config"]["discovery"]["bootstrapToken"]
    assert discovery == {"token": token, "apiServerEndpoint": "10.0.0.10:6443", "caCertHashes": [expected_hash]}
    assert data["token-secret"] not in result["_raw"]
