# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The lab's EMULATED control plane and its kubeadm/kubelet stand-ins, run locally (no VM).

* the `hftlab controlplane` process: PID file, seeded objects, admin kubeconfig, join.json;
* the DaemonSet controller (nodeSelector, taints and tolerations) and the node lifecycle controller;
* the node proxy /configz answered from the kubelet stand-in's report (503 when it is stale);
* the kubelet stand-in's logic: drop-in merging, state checkpoint refusal, allocatable from a fake sysfs tree;
* the kubeadm stand-in's CA pin matches quantbot.hft's own (_nodeops.ca_cert_hash).
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
try:
    from hftlab import controlplane as cp
except ImportError:
    sys.path.insert(0, os.path.join(REPO_ROOT, "lab"))
    from hftlab import controlplane as cp

KUBE = os.path.join(REPO_ROOT, "lab", "hftlab", "kube")


def _load(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(KUBE, name + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def plane(tmp_path_factory):
    run_dir = str(tmp_path_factory.mktemp("run"))
    ctl = cp.ControlPlane(run_dir, "pytest-%d" % os.getpid(), log=lambda msg: None)
    ctl.up()
    try:
        yield ctl
    finally:
        ctl.down()


def _wait(fn, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def _ready_node(api, name, labels=None, beat=None):
    api.create("/api/v1/nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels or {}}})
    api.merge("/api/v1/nodes/%s/status" % name, {"status": {"conditions": [
        {"type": "Ready", "status": "True", "lastHeartbeatTime": beat or cp.now_rfc3339()}]}})


# --------------------------------------------------------------------------
# the process
# --------------------------------------------------------------------------
def test_process_is_pid_managed_and_writes_its_files(plane):
    info = plane.status()
    assert info["running"] and info["answering"]
    assert cp.is_alive_cmdline(info["pid"], plane.marker)
    assert not cp.is_alive_cmdline(os.getpid(), plane.marker)  # another process never matches
    for name in ("kubeconfig", "join.json", "ca.crt", "controlplane.pid", "controlplane.log"):
        assert os.path.exists(os.path.join(plane.run_dir, name)), name
    join = json.load(open(os.path.join(plane.run_dir, "join.json")))
    assert join["api_server_endpoint"] == "10.0.2.2:%d" % info["port"]
    assert oct(os.stat(os.path.join(plane.run_dir, "join.json")).st_mode & 0o777) == "0o600"


def test_kubeconfig_works_with_the_official_client(plane):
    from kubernetes import client, config

    cfg = client.Configuration()
    config.load_kube_config(config_file=os.path.join(plane.run_dir, "kubeconfig"), client_configuration=cfg,
                            persist_config=False)
    cfg.proxy = None
    v1 = client.CoreV1Api(client.ApiClient(cfg))
    ds = client.AppsV1Api(client.ApiClient(cfg)).read_namespaced_daemon_set("quantbot-ptp", "alphaswarm-bots")
    assert ds.spec.template.spec.node_selector == {"quantbot.io/hft": "true"}
    assert v1.read_namespaced_config_map("cluster-info", "kube-public").data["kubeconfig"]


def test_join_pin_matches_the_collection_and_the_kubeadm_standin(plane):
    sys.path.insert(0, os.path.join(REPO_ROOT, ".collections"))
    from ansible_collections.quantbot.hft.plugins.module_utils._nodeops import ca_cert_hash

    pem = open(os.path.join(plane.run_dir, "ca.crt")).read()
    join = json.load(open(os.path.join(plane.run_dir, "join.json")))
    assert join["discovery_token_ca_cert_hash"] == ca_cert_hash(pem) == _load("kubeadm_standin").spki_sha256(pem)


def test_bootstrap_token_secret_is_seeded(plane):
    import base64

    api = cp.Api(plane.status()["url"])
    join = json.load(open(os.path.join(plane.run_dir, "join.json")))
    token_id, token_secret = join["token"].split(".")
    secret = api.get("/api/v1/namespaces/kube-system/secrets/bootstrap-token-" + token_id)
    assert base64.b64decode(secret["data"]["token-secret"]).decode() == token_secret


# --------------------------------------------------------------------------
# controllers
# --------------------------------------------------------------------------
def test_daemonset_pod_follows_the_label(plane):
    api = cp.Api(plane.status()["url"])
    _ready_node(api, "ds-node", labels={"quantbot.io/hft": "true"})

    def pod():
        return [p for p in api.items("/api/v1/namespaces/alphaswarm-bots/pods")
                if p["spec"].get("nodeName") == "ds-node" and (p.get("status") or {}).get("phase") == "Running"]

    found = _wait(pod)
    assert [p["metadata"]["name"] for p in found] == ["quantbot-ptp-ds-node"]
    owner = found[0]["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"]) == ("DaemonSet", "quantbot-ptp")
    api.merge("/api/v1/nodes/ds-node", {"metadata": {"labels": {"quantbot.io/hft": None}}})
    assert _wait(lambda: not pod())


def test_seeded_daemonsets_tolerate_the_runbook_and_gate_taints(plane):
    api = cp.Api(plane.status()["url"])
    ptp = api.get("/apis/apps/v1/namespaces/alphaswarm-bots/daemonsets/quantbot-ptp")
    tolerations = ptp["spec"]["template"]["spec"]["tolerations"]
    assert {"key": "quantbot.io/hft", "operator": "Equal", "value": "true", "effect": "NoSchedule"} in tolerations
    assert {"key": "quantbot.io/hft-unverified", "operator": "Exists", "effect": "NoSchedule"} in tolerations
    dp = api.get("/apis/apps/v1/namespaces/kube-system/daemonsets/sriov-device-plugin")
    assert dp["spec"]["template"]["spec"]["tolerations"] == tolerations
    assert dp["spec"]["template"]["spec"]["volumes"][0]["configMap"]["name"] == "sriovdp-config"  # the default source
    _ready_node(api, "gated-node", labels={"quantbot.io/hft": "true"})
    api.merge("/api/v1/nodes/gated-node", {"spec": {"taints": [
        {"key": "quantbot.io/hft", "value": "true", "effect": "NoSchedule"},
        {"key": "quantbot.io/hft-unverified", "value": "true", "effect": "NoSchedule"}]}})
    for ns, name in (("alphaswarm-bots", "quantbot-ptp-gated-node"), ("kube-system", "sriov-device-plugin-gated-node")):
        assert _wait(lambda: api.get("/api/v1/namespaces/%s/pods/%s" % (ns, name))), name


def test_node_lifecycle_marks_a_silent_kubelet_unknown(plane):
    api = cp.Api(plane.status()["url"])
    _ready_node(api, "silent-node", beat="2020-01-01T00:00:00Z")
    actions = cp.reconcile_node_lifecycle(api)
    assert "node silent-node Ready=Unknown" in actions
    cond = [c for c in api.get("/api/v1/nodes/silent-node")["status"]["conditions"] if c["type"] == "Ready"][0]
    assert cond["status"] == "Unknown"


def test_node_proxy_configz_from_the_kubelet_report(plane):
    import urllib.error

    api = cp.Api(plane.status()["url"])
    _ready_node(api, "cz-node")
    with pytest.raises(urllib.error.HTTPError) as err:
        api.get("/api/v1/nodes/cz-node/proxy/configz")
    assert err.value.code == 503
    api.create("/api/v1/namespaces/hftlab-system/configmaps", {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kubelet-configz-cz-node"},
        "data": {"configz": json.dumps({"kubeletconfig": {"cpuManagerPolicy": "static"}})}})
    assert api.get("/api/v1/nodes/cz-node/proxy/configz") == {"kubeletconfig": {"cpuManagerPolicy": "static"}}


def test_configz_report_goes_stale_with_the_heartbeat():
    report = {"data": {"configz": json.dumps({"kubeletconfig": {}})}}
    node = {"status": {"conditions": [{"type": "Ready", "lastHeartbeatTime": "2026-01-01T00:00:00Z"}]}}
    beat = cp.parse_rfc3339("2026-01-01T00:00:00Z")
    assert cp.configz_from_report(report, node, now=beat + 10) == {"kubeletconfig": {}}
    assert cp.configz_from_report(report, node, now=beat + cp.KUBELET_STALE_S + 1) is None
    assert cp.configz_from_report(None, node, now=beat) is None


def test_node_bundle_has_the_client_and_the_standins(tmp_path):
    import tarfile

    path = cp.node_bundle(str(tmp_path / "b.tgz"))
    names = tarfile.open(path).getnames()
    for want in ("./kubelet_standin.py", "./kubeadm_standin.py", "./install.sh", "./kubelet.service",
                 "./python/kubernetes/client/__init__.py", "./python/yaml/__init__.py"):
        assert want in names, want
    assert not [n for n in names if n.startswith("./python/kubernetes/aio/")]


# --------------------------------------------------------------------------
# the kubelet stand-in
# --------------------------------------------------------------------------
@pytest.fixture
def kubelet():
    return _load("kubelet_standin")


def test_configz_merges_dropins_in_lexical_order(kubelet, tmp_path):
    base = tmp_path / "config.yaml"
    base.write_text("kind: KubeletConfiguration\ncgroupDriver: systemd\nevictionHard:\n  memory.available: 200Mi\n")
    ddir = tmp_path / "conf.d"
    ddir.mkdir()
    (ddir / "50-quantbot-hft.conf").write_text("cpuManagerPolicy: static\nreservedSystemCPUs: 0-1,4-5\n"
                                               "evictionHard:\n  nodefs.available: 10%\n")
    (ddir / "90-later.conf").write_text("topologyManagerPolicy: single-numa-node\n")
    (ddir / "99-ignored.yaml").write_text("cpuManagerPolicy: none\n")
    cfg = kubelet.load_config(str(base), str(ddir))
    assert cfg["cpuManagerPolicy"] == "static"
    assert cfg["topologyManagerPolicy"] == "single-numa-node"
    assert cfg["memoryManagerPolicy"] == "None"  # default
    assert cfg["evictionHard"] == {"memory.available": "200Mi", "nodefs.available": "10%",
                                   "nodefs.inodesFree": "5%", "imagefs.available": "15%"}


def test_state_checkpoint_with_another_policy_refuses_to_start(kubelet, tmp_path):
    kubelet.check_state({"cpuManagerPolicy": "none"}, str(tmp_path))
    assert json.load(open(str(tmp_path / "cpu_manager_state")))["policyName"] == "none"
    with pytest.raises(SystemExit) as err:
        kubelet.check_state({"cpuManagerPolicy": "static", "memoryManagerPolicy": "None"}, str(tmp_path))
    assert 'configured policy "static" differs from state checkpoint policy "none"' in str(err.value)
    os.unlink(str(tmp_path / "cpu_manager_state"))
    kubelet.check_state({"cpuManagerPolicy": "static", "memoryManagerPolicy": "None"}, str(tmp_path))


def test_allocatable_from_a_fake_sysfs(kubelet, tmp_path):
    sys_root, proc_root = tmp_path / "sys", tmp_path / "proc"
    (sys_root / "devices/system/cpu").mkdir(parents=True)
    (sys_root / "devices/system/cpu/online").write_text("0-7\n")
    hp = sys_root / "kernel/mm/hugepages/hugepages-2048kB"
    hp.mkdir(parents=True)
    (hp / "nr_hugepages").write_text("64\n")
    proc_root.mkdir()
    (proc_root / "meminfo").write_text("MemTotal:        3000000 kB\n")
    cfg = {"reservedSystemCPUs": "0-1,4-5", "kubeReserved": {"memory": "512Mi"}, "systemReserved": {"memory": "512Mi"},
           "evictionHard": {"memory.available": "100Mi"}, "maxPods": 110}
    # The VF count comes from the emulated device plugin (lab/tests/test_sriov_dp_standin.py).
    capacity, allocatable = kubelet.resources(cfg, str(sys_root), str(proc_root),
                                              extended={"openshift.io/quantbot_hft_vf": 2})
    assert capacity["cpu"] == "8" and allocatable["cpu"] == "4"
    assert allocatable["hugepages-2Mi"] == str(64 * 2 ** 21) and allocatable["hugepages-1Gi"] == "0"
    assert allocatable["openshift.io/quantbot_hft_vf"] == "2"
    expected_kib = (3000000 * 1024 - 1124 * 2 ** 20 - 64 * 2 ** 21) // 1024
    assert allocatable["memory"] == "%dKi" % expected_kib


def test_kubelet_flags(kubelet):
    opts = kubelet.parse_args(["--kubeconfig=/etc/kubernetes/kubelet.conf", "--config", "/var/lib/kubelet/config.yaml",
                               "--hostname-override=hft-lab-1", "--config-dir=/etc/kubernetes/kubelet/kubelet.conf.d"])
    assert opts["config"] == "/var/lib/kubelet/config.yaml"
    assert opts["config-dir"] == "/etc/kubernetes/kubelet/kubelet.conf.d"
    assert opts["hostname-override"] == "hft-lab-1"


def test_kubeadm_rejects_bad_arguments(tmp_path, capsys):
    kubeadm = _load("kubeadm_standin")
    assert kubeadm.main(["join", "10.0.2.2:6443", "--token", "nope", "--discovery-token-ca-cert-hash", "sha256:" + "0" * 64]) == 1
    assert "was not of the form" in capsys.readouterr().err
    assert kubeadm.main(["join", "10.0.2.2:6443", "--token", "abcdef.0123456789abcdef"]) == 1
    assert "without caCertHashes" in capsys.readouterr().err


def _join_config(tmp_path, **boot):
    bootstrap = {"token": "abcdef.0123456789abcdef", "apiServerEndpoint": "127.0.0.1:9",
                 "caCertHashes": ["sha256:" + "0" * 64]}
    bootstrap.update(boot)
    path = tmp_path / "join.json"
    path.write_text(json.dumps({"apiVersion": "kubeadm.k8s.io/v1beta4", "kind": "JoinConfiguration",
                                "discovery": {"bootstrapToken": bootstrap}, "nodeRegistration": {"name": "hft-lab-1"}}))
    return str(path)


def test_kubeadm_reads_a_join_configuration(tmp_path, capsys):
    kubeadm = _load("kubeadm_standin")
    assert kubeadm.from_config([], {"config": [_join_config(tmp_path)]}) == (
        "127.0.0.1:9", "abcdef.0123456789abcdef", ["sha256:" + "0" * 64], "hft-lab-1")
    # the checks of the flag form apply to the file's values too
    assert kubeadm.main(["join", "--config", _join_config(tmp_path, token="nope")]) == 1
    assert "was not of the form" in capsys.readouterr().err
    assert kubeadm.main(["join", "--config", _join_config(tmp_path, caCertHashes=[])]) == 1
    assert "without caCertHashes" in capsys.readouterr().err


@pytest.mark.parametrize("extra, message", [
    (["--token", "abcdef.0123456789abcdef"], "can not mix '--config' with arguments ['token']"),
    (["10.0.2.2:6443"], "can not mix '--config' with arguments ['control-plane endpoint 10.0.2.2:6443']"),
])
def test_kubeadm_refuses_config_mixed_with_flags(tmp_path, capsys, extra, message):
    kubeadm = _load("kubeadm_standin")
    assert kubeadm.main(["join", "--config", _join_config(tmp_path)] + extra) == 1
    assert message in capsys.readouterr().err


def test_kubeadm_config_must_be_a_join_configuration(tmp_path, capsys):
    kubeadm = _load("kubeadm_standin")
    yaml_file = tmp_path / "join.yaml"
    yaml_file.write_text("apiVersion: kubeadm.k8s.io/v1beta4\nkind: JoinConfiguration\n")
    assert kubeadm.main(["join", "--config", str(yaml_file)]) == 1
    assert "reads a JoinConfiguration as JSON" in capsys.readouterr().err
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"apiVersion": "kubeadm.k8s.io/v1beta4", "kind": "InitConfiguration"}))
    assert kubeadm.main(["join", "--config", str(other)]) == 1
    assert "not a JoinConfiguration" in capsys.readouterr().err
