"""The cluster side of onboarding on the lab VM and its EMULATED control plane: one property per test.

Node-side checks go through testinfra; API checks use the official client with
the run-directory kubeconfig of the emulated control plane. A failing kubelet
test prints the journal of kubelet.service.
"""

import json
import os

import pytest
import yaml

NODE = "hft-lab-1"
DROPIN = "/etc/kubernetes/kubelet/kubelet.conf.d/quantbot-hft.conf"


def _run_dir():
    root = os.environ.get("HFTLAB_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "quantbot-hft")
    return os.path.join(root, "run", os.environ.get("HFTLAB_INSTANCE", "default"))


@pytest.fixture(scope="module")
def v1():
    from kubernetes import client, config

    cfg = client.Configuration()
    config.load_kube_config(config_file=os.path.join(_run_dir(), "kubeconfig"), client_configuration=cfg,
                            persist_config=False)
    cfg.proxy = None
    return client.CoreV1Api(client.ApiClient(cfg))


@pytest.fixture(scope="module")
def node(v1):
    return json.loads(v1.read_node(NODE, _preload_content=False).data)


def _journal(host):
    return host.run("journalctl --no-pager --lines=40 --unit=kubelet.service").stdout


def test_kubelet_is_running(host):
    assert host.service("kubelet").is_running, _journal(host)


def test_kubelet_healthz(host):
    assert host.run("python3 -c \"import urllib.request as u; print(u.urlopen('http://127.0.0.1:10248/healthz').read())\"").stdout.strip() == "b'ok'"


def test_dropin_written(host):
    with host.sudo():
        dropin = yaml.safe_load(host.file(DROPIN).content_string)
    assert dropin["kind"] == "KubeletConfiguration"
    assert dropin["cpuManagerPolicy"] == "static"
    assert dropin["topologyManagerPolicy"] == "single-numa-node"


def test_configz_on_the_node_is_static(host):
    out = host.check_output("python3 -c \"import urllib.request as u; print(u.urlopen('http://127.0.0.1:10250/configz').read().decode())\"")
    cfg = json.loads(out)["kubeletconfig"]
    assert cfg["cpuManagerPolicy"] == "static", _journal(host)
    assert cfg["topologyManagerPolicy"] == "single-numa-node"


def test_cpu_manager_state_matches(host):
    with host.sudo():
        state = json.loads(host.file("/var/lib/kubelet/cpu_manager_state").content_string)
    assert state["policyName"] == "static"


def test_configz_through_the_api_proxy(v1):
    data = json.loads(v1.connect_get_node_proxy_with_path(NODE, "configz", _preload_content=False).data)
    assert data["kubeletconfig"]["cpuManagerPolicy"] == "static"


def test_node_is_ready(node):
    ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"][0]
    assert ready["status"] == "True"


def test_node_is_labelled_and_tainted(node):
    assert node["metadata"]["labels"].get("quantbot.io/hft") == "true"
    assert {"key": "quantbot.io/hft", "value": "true", "effect": "NoSchedule"} in node["spec"].get("taints", [])


def test_node_is_schedulable(node):
    assert not node["spec"].get("unschedulable")


def test_allocatable_hugepages_and_vfs(node):
    alloc = node["status"]["allocatable"]
    assert int(alloc["hugepages-2Mi"]) == 64 * 2 * 1024 * 1024
    assert alloc["openshift.io/quantbot_hft_vf"] == "2"


def test_ptp_pod_running_on_the_node(v1):
    pods = json.loads(v1.list_namespaced_pod("alphaswarm-bots", field_selector="spec.nodeName=" + NODE,
                                             _preload_content=False).data)["items"]
    ptp = [p for p in pods if p["metadata"]["name"] == "quantbot-ptp-" + NODE]
    assert ptp and ptp[0]["status"]["phase"] == "Running"
