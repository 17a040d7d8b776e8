# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pure tests of module_utils/_nodeops.py: label/taint diffs, drain planning, evictions, join helpers."""

from __future__ import annotations

import datetime
import hashlib
import os
import stat

import pytest

from ansible_collections.quantbot.hft.plugins.module_utils._nodeops import (
    DEFAULT_LABELS,
    DEFAULT_TAINTS,
    NodeOpsError,
    bootstrap_token_secret,
    ca_cert_hash,
    cluster_info,
    cordon_patch,
    endpoint_from_server,
    evict_pods,
    check_timing,
    generate_token,
    join_config_command,
    join_configuration,
    label_taint_change,
    node_ready,
    plan_drain,
    private_file,
    spki_der,
    pem_to_der,
    TOKEN_RE,
)

HFT = {"key": "quantbot.io/hft", "value": "true", "effect": "NoSchedule"}
OTHER = {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute", "timeAdded": "2026-01-01T00:00:00Z"}


def node(labels=None, taints=None, rv=None, unschedulable=None):
    meta = {"name": "hft-node-07", "labels": labels or {}}
    if rv:
        meta["resourceVersion"] = rv
    spec = {}
    if taints is not None:
        spec["taints"] = taints
    if unschedulable is not None:
        spec["unschedulable"] = unschedulable
    return {"metadata": meta, "spec": spec}


# ---------------------------------------------------------------- labels/taints
def test_defaults_are_the_runbook_values():
    assert DEFAULT_LABELS == {"quantbot.io/hft": "true"}
    assert DEFAULT_TAINTS == [HFT]


def test_present_on_bare_node():
    change = label_taint_change(node({"zone": "ld4"}), DEFAULT_LABELS, DEFAULT_TAINTS)
    assert change["changed"] is True
    assert change["patch"] == {"metadata": {"labels": {"quantbot.io/hft": "true"}}, "spec": {"taints": [HFT]}}
    assert change["before"] == {"labels": {"zone": "ld4"}, "taints": []}
    assert change["after"] == {"labels": {"zone": "ld4", "quantbot.io/hft": "true"}, "taints": [HFT]}


def test_present_is_idempotent():
    change = label_taint_change(node({"quantbot.io/hft": "true"}, [OTHER, HFT]), DEFAULT_LABELS, DEFAULT_TAINTS)
    assert change == {"changed": False, "patch": None,
                      "before": {"labels": {"quantbot.io/hft": "true"}, "taints": [OTHER, HFT]},
                      "after": {"labels": {"quantbot.io/hft": "true"}, "taints": [OTHER, HFT]}}


def test_full_taint_list_keeps_others_and_carries_resource_version():
    change = label_taint_change(node({}, [OTHER], rv="4711"), {}, DEFAULT_TAINTS)
    assert change["patch"] == {"spec": {"taints": [OTHER, HFT]}, "metadata": {"resourceVersion": "4711"}}


def test_value_change_replaces_the_same_key_and_effect():
    change = label_taint_change(node({}, [dict(HFT, value="old")]), {}, DEFAULT_TAINTS)
    assert change["after"]["taints"] == [HFT]
    same_key_other_effect = dict(HFT, effect="NoExecute")
    change = label_taint_change(node({}, [same_key_other_effect]), {}, DEFAULT_TAINTS)
    assert change["after"]["taints"] == [same_key_other_effect, HFT]


def test_absent_removes_whatever_the_value_and_deletes_labels_with_none():
    current = node({"quantbot.io/hft": "yes", "zone": "ld4"}, [dict(HFT, value="x"), OTHER])
    change = label_taint_change(current, {"quantbot.io/hft": "ignored"}, [{"key": "quantbot.io/hft"}], "absent")
    assert change["patch"] == {"metadata": {"labels": {"quantbot.io/hft": None}}, "spec": {"taints": [OTHER]}}
    assert change["after"] == {"labels": {"zone": "ld4"}, "taints": [OTHER]}
    gone = label_taint_change(node({"zone": "ld4"}, [OTHER]), DEFAULT_LABELS, DEFAULT_TAINTS, "absent")
    assert gone["changed"] is False and gone["patch"] is None


def test_bool_label_values_are_written_as_kubectl_does():
    change = label_taint_change(node(), {"quantbot.io/hft": True}, [])
    assert change["after"]["labels"] == {"quantbot.io/hft": "true"}


@pytest.mark.parametrize("taints, message", [
    ([{"value": "x"}], "needs a key"),
    ([{"key": "a", "effect": "NoWay"}], "effect 'NoWay'"),
    ([{"key": "a"}, {"key": "a", "effect": "NoSchedule"}], "given twice"),
])
def test_bad_taints(taints, message):
    with pytest.raises(NodeOpsError, match=message):
        label_taint_change(node(), {}, taints)


# ---------------------------------------------------------------- cordon/drain
def test_cordon_patch():
    assert cordon_patch(node()) == {"spec": {"unschedulable": True}}
    assert cordon_patch(node(unschedulable=True)) is None
    assert cordon_patch(node(unschedulable=True), cordon=False) == {"spec": {"unschedulable": None}}
    assert cordon_patch(node(), cordon=False) is None


def pod(name, ns="alphaswarm-bots", owner=("StatefulSet", "x"), phase="Running", **extra):
    meta = {"name": name, "namespace": ns}
    if owner:
        meta["ownerReferences"] = [{"kind": owner[0], "name": owner[1], "controller": True}]
    meta.update(extra.pop("meta", {}))
    return {"metadata": meta, "spec": dict({"nodeName": "n"}, **extra), "status": {"phase": phase}}


def test_plan_drain_sorts_pods_like_kubectl():
    pods = [
        pod("bot-0"),
        pod("quantbot-ptp-abc", owner=("DaemonSet", "quantbot-ptp")),
        pod("kube-proxy-n", ns="kube-system", owner=("Node", "n"),
            meta={"annotations": {"kubernetes.io/config.mirror": "h"}}),
        pod("scratch", volumes=[{"name": "tmp", "emptyDir": {}}]),
        pod("debug", owner=None),
        pod("done", owner=None, phase="Succeeded"),
        pod("leaving", meta={"deletionTimestamp": "2026-01-01T00:00:00Z"}),
    ]
    plan = plan_drain(pods, delete_emptydir_data=False)
    assert plan["evict"] == ["alphaswarm-bots/bot-0", "alphaswarm-bots/done"]
    assert [s["pod"] for s in plan["skip"]] == ["alphaswarm-bots/quantbot-ptp-abc", "kube-system/kube-proxy-n",
                                                "alphaswarm-bots/leaving"]
    assert [b["pod"] for b in plan["blockers"]] == ["alphaswarm-bots/scratch", "alphaswarm-bots/debug"]
    loose = plan_drain(pods, delete_emptydir_data=True, force=True)
    assert loose["blockers"] == [] and "alphaswarm-bots/debug" in loose["evict"]
    strict = plan_drain(pods, ignore_daemonsets=False)
    assert "alphaswarm-bots/quantbot-ptp-abc" in [b["pod"] for b in strict["blockers"]]


class Clock(object):
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_evict_retries_429_until_it_passes():
    clock = Clock()
    answers = {"a/p": [429, 429, 201], "a/q": [201], "a/gone": [404]}
    calls = []

    def evict(ref):
        calls.append(ref)
        return answers[ref].pop(0)

    out = evict_pods(["a/p", "a/q", "a/gone"], evict, lambda ref: True, timeout=30, interval=1,
                     clock=clock, sleep=clock.sleep)
    assert out["evicted"] == ["a/q", "a/p"] and out["pending"] == [] and out["retries"] == {"a/p": 2}
    assert calls == ["a/p", "a/q", "a/gone", "a/p", "a/p"]
    assert clock.now == 2


def test_evict_times_out_on_a_standing_pdb_and_on_slow_pods():
    clock = Clock()
    out = evict_pods(["a/p"], lambda ref: 429, lambda ref: True, timeout=5, interval=1,
                     clock=clock, sleep=clock.sleep)
    assert out["pending"] == ["a/p"] and out["refused"] == ["a/p"] and clock.now == 5
    clock = Clock()
    out = evict_pods(["a/p"], lambda ref: 201, lambda ref: False, timeout=3, interval=1,
                     clock=clock, sleep=clock.sleep)
    assert out["pending"] == ["a/p"] and out["refused"] == [] and out["gone"] == []


def test_evict_other_status_is_an_error():
    with pytest.raises(NodeOpsError, match="HTTP 500"):
        evict_pods(["a/p"], lambda ref: 500, lambda ref: True, timeout=1)


def test_node_ready():
    assert node_ready({"status": {"conditions": [{"type": "Ready", "status": "True"}]}})[0] is True
    assert node_ready({"status": {"conditions": [{"type": "Ready", "status": "False",
                                                  "reason": "KubeletNotReady"}]}}) == (False, "KubeletNotReady")
    assert node_ready(None) == (False, "no Ready condition yet")


# ---------------------------------------------------------------- join
def test_generate_token_format():
    tokens = set(generate_token() for dummy in range(20))
    assert len(tokens) == 20 and all(TOKEN_RE.match(t) for t in tokens)


def test_bootstrap_secret():
    now = datetime.datetime(2026, 5, 4, 11, 0, 0, tzinfo=datetime.timezone.utc)
    body, expiration = bootstrap_token_secret("abcdef.0123456789abcdef", 3600, now)
    assert expiration == "2026-05-04T12:00:00Z"
    assert body["type"] == "bootstrap.kubernetes.io/token"
    assert body["metadata"] == {"name": "bootstrap-token-abcdef", "namespace": "kube-system"}
    data = body["stringData"]
    assert (data["token-id"], data["token-secret"], data["expiration"]) == ("abcdef", "0123456789abcdef", expiration)
    assert data["usage-bootstrap-authentication"] == data["usage-bootstrap-signing"] == "true"
    assert data["auth-extra-groups"] == "system:bootstrappers:kubeadm:default-node-token"
    with pytest.raises(NodeOpsError, match="positive"):
        bootstrap_token_secret("abcdef.0123456789abcdef", 0, now)
    with pytest.raises(NodeOpsError, match="look like"):
        bootstrap_token_secret("ABCDEF.0123456789abcdef", 60, now)


def _ca(kind):
    crypto = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import NameOID
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048) if kind == "rsa" \
        else ec.generate_private_key(ec.SECP384R1())
    name = crypto.Name([crypto.NameAttribute(NameOID.COMMON_NAME, "kubernetes")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (crypto.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(crypto.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=3650)).sign(key, hashes.SHA256()))
    spki = cert.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)
    return cert.public_bytes(serialization.Encoding.PEM), spki


@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_ca_cert_hash_matches_the_spki_sha256(kind):
    pem, spki = _ca(kind)
    assert spki_der(pem_to_der(pem)) == spki
    assert ca_cert_hash(pem) == "sha256:" + hashlib.sha256(spki).hexdigest()
    assert ca_cert_hash(pem.decode()) == ca_cert_hash(pem)


def test_ca_cert_hash_rejects_garbage():
    with pytest.raises(NodeOpsError, match="no PEM"):
        ca_cert_hash(b"not a cert")
    with pytest.raises(NodeOpsError):
        ca_cert_hash(b"-----BEGIN CERTIFICATE-----\nAAEC\n-----END CERTIFICATE-----\n")


def test_cluster_info_and_endpoint():
    cm = {"data": {"kubeconfig": "clusters:\n- cluster:\n    certificate-authority-data: aGVsbG8=\n"
                                 "    server: https://10.0.0.10:6443\n"}}
    assert cluster_info(cm) == (b"hello", "https://10.0.0.10:6443")
    assert cluster_info(None) == (None, None)
    assert endpoint_from_server("https://10.0.0.10:6443/") == "10.0.0.10:6443"
    assert endpoint_from_server("https://[fd00::1]:6443") == "[fd00::1]:6443"


HASH = "sha256:" + "a" * 64
TOKEN = "abcdef.0123456789abcdef"


def test_join_configuration_carries_discovery_and_registration():
    config = join_configuration("10.0.0.10:6443", TOKEN, [HASH], node_name="hft-node-07",
                                cri_socket="unix:///run/containerd/containerd.sock")
    assert config == {
        "apiVersion": "kubeadm.k8s.io/v1beta4", "kind": "JoinConfiguration",
        "discovery": {"bootstrapToken": {"token": TOKEN, "apiServerEndpoint": "10.0.0.10:6443", "caCertHashes": [HASH]}},
        "nodeRegistration": {"name": "hft-node-07", "criSocket": "unix:///run/containerd/containerd.sock"}}
    older = join_configuration("10.0.0.10:6443", TOKEN, [HASH], api_version="kubeadm.k8s.io/v1beta3")
    assert older["apiVersion"] == "kubeadm.k8s.io/v1beta3" and "nodeRegistration" not in older


@pytest.mark.parametrize("args, message", [
    (("e:6443", TOKEN, []), "pinning"),
    ((None, TOKEN, [HASH]), "api_server_endpoint"),
    (("e:6443", TOKEN + "; rm -rf /", [HASH]), "token must"),
    (("e:6443", TOKEN, ["md5:abc"]), "'md5:abc' must be sha256:<64 hex digits>"),
])
def test_join_configuration_refuses_bad_input(args, message):
    with pytest.raises(NodeOpsError, match=message):
        join_configuration(*args)
    with pytest.raises(NodeOpsError, match="kubeadm_api_version 'kubeadm.k8s.io/v1beta2'"):
        join_configuration("e:6443", TOKEN, [HASH], api_version="kubeadm.k8s.io/v1beta2")


def test_join_command_is_an_argument_list_with_the_config_file():
    assert join_config_command("/usr/bin/kubeadm", "/tmp/x/join.json", ["--v=2"]) == [
        "/usr/bin/kubeadm", "join", "--config", "/tmp/x/join.json", "--v=2"]


@pytest.mark.parametrize("arg", ["--token", "--token=" + TOKEN, "--discovery-token-ca-cert-hash", "--node-name=x",
                                 "--cri-socket", "--config", "--tls-bootstrap-token=" + TOKEN, "--discovery-token"])
def test_join_command_refuses_arguments_of_the_configuration(arg):
    with pytest.raises(NodeOpsError, match="extra_args must not hold %s" % arg.split("=")[0]):
        join_config_command("kubeadm", "/tmp/x/join.json", ["--v=2", arg])


def test_private_file_is_owner_only_and_goes_away(tmp_path):
    with private_file("secret\n", parent=str(tmp_path)) as path:
        assert open(path).read() == "secret\n"
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
        assert os.path.dirname(os.path.dirname(path)) == str(tmp_path)
    assert os.listdir(str(tmp_path)) == []


def test_private_file_goes_away_on_an_exception_and_on_exit(tmp_path):
    for error in (RuntimeError("kubeadm blew up"), SystemExit(1)):
        with pytest.raises(type(error)):
            with private_file("secret", parent=str(tmp_path)) as path:
                assert os.path.exists(path)
                raise error
        assert os.listdir(str(tmp_path)) == []


def test_private_file_ignores_a_permissive_umask(tmp_path):
    old = os.umask(0)
    try:
        with private_file("secret", parent=str(tmp_path)) as path:
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    finally:
        os.umask(old)


@pytest.mark.parametrize("timeouts, intervals, message", [
    ({"timeout": 0}, {}, "timeout must be a number of seconds greater than 0, not 0"),
    ({"timeout": -1}, {}, "timeout must be a number of seconds greater than 0, not -1"),
    ({"timeout": True}, {}, "not True"),
    ({"wait_timeout": "300"}, {}, "wait_timeout must be a number of seconds greater than 0, not '300'"),
    ({}, {"poll_interval": -0.5}, "poll_interval must be a number of seconds greater than 0 (a pause between two "
                                  "polls), not -0.5"),
    ({}, {"poll_interval": 0}, "poll_interval must be"),
])
def test_timing_refusals_name_the_option_and_value(timeouts, intervals, message):
    with pytest.raises(NodeOpsError) as err:
        check_timing(timeouts, intervals)
    assert message in str(err.value)


def test_good_timing_passes():
    check_timing({"timeout": 300, "wait_timeout": 0.5}, {"poll_interval": 2.0})
