# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The client factory in module_utils/_kube.py: which credentials win, and redaction."""

from __future__ import annotations

import json

import pytest

from ansible_collections.quantbot.hft.plugins.module_utils import _kube
from ansible_collections.quantbot.hft.plugins.module_utils._kube import (
    KUBE_AUTH_ARG_SPEC,
    REDACTED,
    KubeError,
    build_configuration,
    get_api_client,
    redact,
    secret_values,
)
from ansible_collections.quantbot.hft.plugins.doc_fragments.kube import ModuleDocFragment

yaml = pytest.importorskip("yaml")


def bearer(cfg):
    """The Authorization header the client will send."""
    return cfg.auth_settings()["BearerToken"]["value"]


def params(**kw):
    base = dict((k, v.get("default")) for k, v in KUBE_AUTH_ARG_SPEC.items())
    base.update(kw)
    return base


def kubeconfig(tmp_path, name="config"):
    data = {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "a", "cluster": {"server": "https://a.example:6443"}},
                     {"name": "b", "cluster": {"server": "https://b.example:6443", "proxy-url": "http://px:3128"}}],
        "users": [{"name": "u", "user": {"token": "tok-a"}}],
        "contexts": [{"name": "ctx-a", "context": {"cluster": "a", "user": "u"}},
                     {"name": "ctx-b", "context": {"cluster": "b", "user": "u"}}],
        "current-context": "ctx-a",
    }
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return str(path), data


def test_arg_spec_matches_doc_fragment():
    doc = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    assert set(doc) == set(KUBE_AUTH_ARG_SPEC)
    for name, spec in KUBE_AUTH_ARG_SPEC.items():
        assert doc[name]["type"] == spec["type"], name
        assert doc[name].get("default") == spec.get("default"), name
        assert sorted(doc[name].get("aliases", [])) == sorted(spec.get("aliases", [])), name
    assert KUBE_AUTH_ARG_SPEC["api_key"]["no_log"] is True
    assert KUBE_AUTH_ARG_SPEC["kubeconfig_content"]["no_log"] is True


def test_kubeconfig_path_and_context(tmp_path):
    path, dummy = kubeconfig(tmp_path)
    cfg, source = build_configuration(params(kubeconfig=path), environ={})
    assert source == "kubeconfig" and cfg.host == "https://a.example:6443"
    assert bearer(cfg) == "Bearer tok-a"
    cfg, dummy = build_configuration(params(kubeconfig=path, context="ctx-b"), environ={})
    assert cfg.host == "https://b.example:6443"
    assert cfg.proxy == "http://px:3128"  # a kubeconfig proxy-url is honoured


def test_env_proxy_is_ignored(tmp_path, monkeypatch):
    monkeypatch.setenv("https_proxy", "http://corp-proxy:8080")
    monkeypatch.setenv("HTTPS_PROXY", "http://corp-proxy:8080")
    path, dummy = kubeconfig(tmp_path)
    cfg, dummy = build_configuration(params(kubeconfig=path), environ={})
    assert cfg.proxy is None
    cfg, dummy = build_configuration(params(kubeconfig=path, proxy="http://explicit:1"), environ={})
    assert cfg.proxy == "http://explicit:1"


def test_content_wins_over_path_and_may_be_text(tmp_path):
    path, data = kubeconfig(tmp_path)
    data["current-context"] = "ctx-b"
    cfg, source = build_configuration(params(kubeconfig=path, kubeconfig_content=yaml.safe_dump(data)), environ={})
    assert source == "kubeconfig_content" and cfg.host == "https://b.example:6443"
    cfg, source = build_configuration(params(kubeconfig_content=data), environ={})
    assert cfg.host == "https://b.example:6443"


def test_bad_content_does_not_echo_it():
    with pytest.raises(KubeError) as err:
        build_configuration(params(kubeconfig_content="token: [unclosed s3cret"), environ={})
    assert "s3cret" not in str(err.value)


def test_host_and_api_key(tmp_path):
    ca = tmp_path / "ca.crt"
    ca.write_text("x")
    cfg, source = build_configuration(params(host="https://10.0.0.10:6443", api_key="k3y", ca_cert=str(ca),
                                             validate_certs=False), environ={})
    assert source == "host" and cfg.host == "https://10.0.0.10:6443"
    assert bearer(cfg) == "Bearer k3y" and cfg.ssl_ca_cert == str(ca)
    assert cfg.verify_ssl is False


def test_host_overrides_kubeconfig_server(tmp_path):
    path, dummy = kubeconfig(tmp_path)
    cfg, source = build_configuration(params(kubeconfig=path, host="https://vip:6443"), environ={})
    assert source == "kubeconfig" and cfg.host == "https://vip:6443"
    assert bearer(cfg) == "Bearer tok-a"
    cfg, dummy = build_configuration(params(kubeconfig=path, api_key="other"), environ={})
    assert bearer(cfg) == "Bearer other"  # api_key beats the kubeconfig's token


def test_environment_kubeconfig(tmp_path):
    path, dummy = kubeconfig(tmp_path)
    cfg, source = build_configuration(params(), environ={"KUBECONFIG": path})
    assert source == "environment kubeconfig" and cfg.host == "https://a.example:6443"
    cfg, source = build_configuration(params(), environ={"K8S_AUTH_KUBECONFIG": path, "KUBECONFIG": "/nope"})
    assert cfg.host == "https://a.example:6443"


def test_in_cluster_service_account(tmp_path):
    token = tmp_path / "token"
    token.write_text("sa-token")  # projected tokens have no trailing newline
    ca = tmp_path / "ca.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    env = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    cfg, source = build_configuration(params(), environ=env, sa_token_file=str(token), sa_ca_file=str(ca))
    assert source == "in_cluster" and cfg.host == "https://10.96.0.1:443"
    assert bearer(cfg).lower() == "bearer sa-token"


def test_no_credentials_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(KubeError, match="no Kubernetes credentials"):
        build_configuration(params(), environ={})
    with pytest.raises(KubeError, match="does not exist"):
        build_configuration(params(kubeconfig=str(tmp_path / "missing")), environ={})


def test_factory_returns_api_client(tmp_path):
    from kubernetes.client import ApiClient
    path, dummy = kubeconfig(tmp_path)
    client = get_api_client(params(kubeconfig=path), environ={})
    assert isinstance(client, ApiClient)
    assert client.configuration.host == "https://a.example:6443"


def test_redact_masks_secret_keys_and_values():
    data = {"token": "abc.def", "nested": [{"api_key": "k"}, "Bearer abc.def in text"],
            "stringData": {"token-secret": "0123456789abcdef", "token-id": "abcdef"}, "empty": {"token": ""}}
    out = redact(data, ["abc.def"])
    assert out["token"] == REDACTED and out["nested"][0]["api_key"] == REDACTED
    assert out["nested"][1] == "Bearer %s in text" % REDACTED
    assert out["stringData"] == {"token-secret": REDACTED, "token-id": "abcdef"}
    assert out["empty"] == {"token": ""}
    assert data["token"] == "abc.def"  # the input is not modified


def test_secret_values():
    assert sorted(secret_values({"api_key": "k", "token": "t", "kubeconfig_content": "text"})) == ["k", "t", "text"]
    assert secret_values({"kubeconfig_content": {"a": 1}}) == []


def test_error_message_prefers_the_status_message():
    class Exc(Exception):
        body = json.dumps({"message": 'nodes "x" is forbidden'})
        reason = "Forbidden"
    assert _kube._error_message(Exc()) == 'nodes "x" is forbidden'
