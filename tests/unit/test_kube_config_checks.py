# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""module_utils/_kube.py: bad kubeconfig files, loose file modes, and credentials echoed in API errors."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.quantbot.hft.plugins.module_utils import _kube
from ansible_collections.quantbot.hft.plugins.module_utils._kube import (
    KUBE_AUTH_ARG_SPEC,
    REDACTED,
    KubeApi,
    KubeError,
    build_configuration,
    check_kubeconfig_file,
    configuration_secrets,
    kubeconfig_mode_warning,
    mask,
)

pytest.importorskip("yaml")
TOKEN = "eyJhbGciOiJSUzI1NiIsImtpZCI6InF1YW50Ym90In0.c2VjcmV0LXRva2Vu"
GOOD = {
    "apiVersion": "v1", "kind": "Config",
    "clusters": [{"name": "hft", "cluster": {"server": "https://10.0.0.10:6443"}}],
    "users": [{"name": "quantbot-hft-onboard", "user": {"token": TOKEN}}],
    "contexts": [{"name": "hft", "context": {"cluster": "hft", "user": "quantbot-hft-onboard"}}],
    "current-context": "hft",
}


def params(**kw):
    base = dict((k, v.get("default")) for k, v in KUBE_AUTH_ARG_SPEC.items())
    base.update(kw)
    return base


def write(tmp_path, text, mode=0o600, name="kubeconfig"):
    path = tmp_path / name
    path.write_text(text)
    os.chmod(str(path), mode)
    return str(path)


# --------------------------------------------------------------------------
# not YAML, not a kubeconfig: a clean message naming the file, never its content
# --------------------------------------------------------------------------
@pytest.mark.parametrize("text, message", [
    ("clusters: [\n  - name: hft\n    token: " + TOKEN + "\n  bad: : :\n", "is not valid YAML at line"),
    ("users:\n- name: u\n  user: {token: " + TOKEN + "\n", "is not valid YAML at line"),
    ("", "is not a kubeconfig: it holds nothing"),
    ("- " + TOKEN + "\n", "is not a kubeconfig: it holds a list"),
    ("just a token " + TOKEN + "\n", "is not a kubeconfig: it holds a str"),
    ("apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n", "its kind is 'Pod', not Config"),
    ("foo: bar\n", "it has none of clusters, contexts and users"),
    ("clusters: {hft: {server: x}}\nusers: []\ncontexts: []\n", "clusters is a dict, not a list"),
])
def test_a_file_that_is_not_a_kubeconfig_is_named_and_not_shown(tmp_path, text, message):
    path = write(tmp_path, text)
    for check in (lambda: check_kubeconfig_file(path),
                  lambda: build_configuration(params(kubeconfig=path), environ={}, warn=lambda m: None),
                  lambda: build_configuration(params(), environ={"KUBECONFIG": path}, warn=lambda m: None)):
        with pytest.raises(KubeError) as err:
            check()
        assert message in str(err.value) and path in str(err.value)
        assert TOKEN not in str(err.value)


def test_the_yaml_error_gives_line_and_column(tmp_path):
    path = write(tmp_path, "apiVersion: v1\nclusters:\n- name: a\n   bad: indent\n")
    with pytest.raises(KubeError) as err:
        check_kubeconfig_file(path)
    assert str(err.value).startswith("kubeconfig %s is not valid YAML at line 4, column" % path)
    assert str(err.value).endswith("(content not shown)")


def test_an_unreadable_file_is_named(tmp_path):
    path = str(tmp_path / "missing")
    with pytest.raises(KubeError, match="kubeconfig %s cannot be read" % path):
        check_kubeconfig_file(path)


def test_a_kubeconfig_the_client_refuses_is_named(tmp_path):
    bad = dict(GOOD, contexts=[{"name": "hft", "context": {"cluster": "nowhere", "user": "quantbot-hft-onboard"}}])
    path = write(tmp_path, json.dumps(bad))
    with pytest.raises(KubeError) as err:
        build_configuration(params(kubeconfig=path), environ={}, warn=lambda m: None)
    assert str(err.value).startswith("kubeconfig %s: " % path) and TOKEN not in str(err.value)


def test_a_good_kubeconfig_passes(tmp_path):
    path = write(tmp_path, json.dumps(GOOD))
    check_kubeconfig_file(path)
    cfg, source = build_configuration(params(kubeconfig=path), environ={}, warn=lambda m: None)
    assert source == "kubeconfig" and cfg.host == "https://10.0.0.10:6443"


# --------------------------------------------------------------------------
# file modes
# --------------------------------------------------------------------------
@pytest.mark.parametrize("mode, expected", [
    (0o600, None),
    (0o400, None),
    (0o640, "is readable by its group (mode 0640)"),
    (0o604, "is readable by others (mode 0604)"),
    (0o644, "is readable by group and others (mode 0644)"),
])
def test_mode_warning(tmp_path, mode, expected):
    path = write(tmp_path, json.dumps(GOOD), mode=mode)
    message = kubeconfig_mode_warning(path)
    if expected is None:
        assert message is None
    else:
        assert message == "kubeconfig %s %s; it holds cluster credentials: chmod 600 it" % (path, expected)


def test_the_factory_warns_for_a_loose_file_from_params_and_from_the_environment(tmp_path):
    loose = write(tmp_path, json.dumps(GOOD), mode=0o644)
    tight = write(tmp_path, json.dumps(GOOD), mode=0o600, name="tight")
    for given, environ in ((params(kubeconfig=loose), {}), (params(), {"K8S_AUTH_KUBECONFIG": loose}),
                           (params(), {"KUBECONFIG": os.pathsep.join([tight, loose])})):
        warnings = []
        build_configuration(given, environ=environ, warn=warnings.append)
        assert warnings == ["kubeconfig %s is readable by group and others (mode 0644); it holds cluster "
                            "credentials: chmod 600 it" % loose]
    warnings = []
    build_configuration(params(kubeconfig=tight), environ={}, warn=warnings.append)
    assert warnings == []


def test_the_default_warning_goes_to_the_ansible_module_result(tmp_path):
    from ansible.module_utils.common import warnings as ansible_warnings

    loose = write(tmp_path, json.dumps(GOOD), mode=0o644)
    build_configuration(params(kubeconfig=loose), environ={})
    assert any(loose in str(w) for w in ansible_warnings.get_warning_messages())


# --------------------------------------------------------------------------
# credentials echoed back in an API error
# --------------------------------------------------------------------------
def test_configuration_secrets_and_mask(tmp_path):
    path = write(tmp_path, json.dumps(GOOD))
    cfg, dummy = build_configuration(params(kubeconfig=path), environ={}, warn=lambda m: None)
    assert TOKEN in configuration_secrets(cfg)
    assert mask("401: invalid bearer token %s (Bearer %s)" % (TOKEN, TOKEN), configuration_secrets(cfg)) == \
        "401: invalid bearer token %s (%s)" % (REDACTED, REDACTED)
    cfg.password = "hunter2-long-password"
    assert "hunter2-long-password" in configuration_secrets(cfg)


class EchoingClient(object):
    """An ApiClient stand-in whose every request fails with a body that echoes the token."""

    def __init__(self, configuration, status=401):
        self.configuration = configuration
        self.status = status

    def param_serialize(self, **kwargs):
        return "GET", "https://10.0.0.10:6443" + kwargs["resource_path"], {}, None, {}

    def call_api(self, *args, **kwargs):
        if self.status == 0:
            raise OSError("connection reset while sending Authorization: Bearer %s" % TOKEN)
        raise _kube.ApiException(status=self.status, reason="Unauthorized",
                                 body=json.dumps({"kind": "Status", "message": "token %s is not valid" % TOKEN}))


@pytest.mark.parametrize("status", [401, 0])
def test_an_error_that_echoes_the_token_is_masked(tmp_path, status):
    path = write(tmp_path, json.dumps(GOOD))
    cfg, dummy = build_configuration(params(kubeconfig=path), environ={}, warn=lambda m: None)
    api = KubeApi(EchoingClient(cfg, status))
    with pytest.raises(KubeError) as err:
        api.get_node("hft-node-07")
    assert TOKEN not in str(err.value) and REDACTED in str(err.value)
    assert str(err.value).startswith("GET node hft-node-07: ")
