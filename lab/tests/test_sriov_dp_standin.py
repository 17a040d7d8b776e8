"""The kubelet stand-in's emulated SR-IOV device plugin: VF discovery, selectors, config source, restarts."""

import importlib.util
import json
import os

import pytest
from vf_sysfs import make_sysfs

KUBE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "hftlab", "kube")


@pytest.fixture(scope="module")
def kubelet():
    spec = importlib.util.spec_from_file_location("hftlab_kubelet_standin", os.path.join(KUBE, "kubelet_standin.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


LAB = {"enp65s0": {"bus": 0x41, "vfs": 2}}
ROLE = {"resourceList": [{"resourceName": "quantbot_hft_vf", "resourcePrefix": "openshift.io",
                          "deviceType": "netDevice",
                          "selectors": [{"pfNames": ["enp65s0#0-1"], "vendors": ["8086"], "devices": ["10ca"]}]}]}
VF = "openshift.io/quantbot_hft_vf"


def counts(kubelet, tmp_path, config, pfs=None, prefix="intel.com"):
    return kubelet.plugin_resources(config, kubelet.scan_vfs(make_sysfs(tmp_path / "sys", pfs or LAB)), prefix)


# --- discovery ---------------------------------------------------------------------
def test_scan_finds_the_vfs_with_their_pci_ids_and_driver(kubelet, tmp_path):
    vfs = kubelet.scan_vfs(make_sysfs(tmp_path / "sys", dict(LAB, ens1f0={"bus": 0x3b, "vfs": 1, "driver": "vfio-pci"})))
    assert [(v["pf"], v["index"], v["pci"], v["pf_pci"], v["vendor"], v["device"], v["driver"], v["link_type"])
            for v in vfs] == [
        ("enp65s0", 0, "0000:41:10.0", "0000:41:00.0", "8086", "10ca", "igbvf", "ether"),
        ("enp65s0", 1, "0000:41:10.1", "0000:41:00.0", "8086", "10ca", "igbvf", "ether"),
        ("ens1f0", 0, "0000:3b:10.0", "0000:3b:00.0", "8086", "10ca", "vfio-pci", "ether")]  # vfio: the PF's type


def test_no_vfs_and_no_sysfs_find_nothing(kubelet, tmp_path):
    assert kubelet.scan_vfs(make_sysfs(tmp_path / "sys", {"enp65s0": {"vfs": 0}})) == []
    assert kubelet.scan_vfs(str(tmp_path / "nothing")) == []


# --- selectors ------------------------------------------------------------------------
def test_the_role_configuration_selects_the_lab_vfs(kubelet, tmp_path):
    assert counts(kubelet, tmp_path, ROLE) == {VF: 2}


@pytest.mark.parametrize("selector, expected", [
    ({"pfNames": ["enp65s0"]}, 2),
    ({"pfNames": ["ENP65S0#1"]}, 1),            # the plugin compares PF names case-insensitively
    ({"pfNames": ["enp65s0#0-0"]}, 1),
    ({"pfNames": ["enp65s0#0,1"]}, 2),
    ({"pfNames": ["enp65s0#2-5"]}, 0),          # a range past the VFs there
    ({"pfNames": ["enp65s0#1-0"]}, 0),          # a backwards range selects nothing
    ({"pfNames": ["enp65s0#x"]}, 0),            # unparsable: the plugin logs and selects nothing
    ({"pfNames": ["enp65s0#0", "enp65s0"]}, 1),  # only the first item for a PF counts
    ({"pfNames": ["nosuch0"]}, 0),
    ({"vendors": ["15b3"]}, 0),
    ({"vendors": ["0x8086"]}, 0),               # the plugin compares the string as sysfs shows it, without 0x
    ({"devices": ["1889"]}, 0),
    ({"drivers": ["iavf"]}, 0),
    ({"drivers": ["igbvf"]}, 2),
    ({"pciAddresses": ["0000:41:10.1"]}, 1),
    ({"rootDevices": ["0000:41:00.0#1"]}, 1),
    ({"rootDevices": ["0000:42:00.0"]}, 0),
    ({"linkTypes": ["infiniband"]}, 0),
    ({"linkTypes": ["ether"]}, 2),
    ({"isRdma": True}, 0),                      # igbvf has no RDMA device
    ({"needVhostNet": True}, 2),                # not a filter
    ({}, 2),
])
def test_each_selector_filters_as_the_plugin_does(kubelet, tmp_path, selector, expected):
    config = {"resourceList": [{"resourceName": "r", "resourcePrefix": "openshift.io", "selectors": [selector]}]}
    assert counts(kubelet, tmp_path, config) == {"openshift.io/r": expected}


def test_object_form_selectors_and_the_default_prefix(kubelet, tmp_path):
    config = {"resourceList": [{"resourceName": "old", "selectors": {"pfNames": ["enp65s0"]}}]}
    vfs = kubelet.scan_vfs(make_sysfs(tmp_path / "sys", LAB))
    assert kubelet.plugin_resources(config, vfs) == {"intel.com/old": 2}  # the plugin's --resource-prefix default
    assert kubelet.plugin_resources(config, vfs, "openshift.io") == {"openshift.io/old": 2}


def test_a_device_goes_to_the_first_resource_that_selects_it(kubelet, tmp_path):
    config = {"resourceList": [
        {"resourceName": "first", "resourcePrefix": "x.io", "selectors": [{"pfNames": ["enp65s0#1"]}]},
        {"resourceName": "second", "resourcePrefix": "x.io", "selectors": [{"vendors": ["8086"]}, {"pfNames": ["enp65s0"]}]}]}
    assert counts(kubelet, tmp_path, config) == {"x.io/first": 1, "x.io/second": 1}


def test_rdma_vfs_match_is_rdma(kubelet, tmp_path):
    config = {"resourceList": [{"resourceName": "r", "resourcePrefix": "x.io", "selectors": [{"isRdma": True}]}]}
    assert counts(kubelet, tmp_path, config, {"mlx0": {"vfs": 2, "vendor": "0x15b3", "rdma": True}}) == {"x.io/r": 2}


def test_other_device_types_are_not_emulated(kubelet, tmp_path):
    config = {"resourceList": [{"resourceName": "fpga", "deviceType": "accelerator", "selectors": [{}]}]}
    assert counts(kubelet, tmp_path, config) == {}


# --- where the plugin reads its configuration ----------------------------------------
def _pod(volume, args=None, env=None, uid="u1", node="hft-lab-1"):
    container = {"name": "kube-sriovdp", "args": args or ["--log-level=10"],
                 "volumeMounts": [{"name": "devicesock", "mountPath": "/var/lib/kubelet/device-plugins"},
                                  {"name": "config-volume", "mountPath": "/etc/pcidp"}]}
    if env:
        container["env"] = env
    return {"metadata": {"name": "sriov-device-plugin-" + node, "namespace": "kube-system", "uid": uid,
                         "labels": {"app": "sriovdp"}},
            "spec": {"nodeName": node, "containers": [container],
                     "volumes": [{"name": "devicesock", "hostPath": {"path": "/var/lib/kubelet/device-plugins"}},
                                 volume]}}


CM_VOLUME = {"name": "config-volume", "configMap": {"name": "sriovdp-config",
                                                    "items": [{"key": "config.json", "path": "config.json"}]}}
HOST_VOLUME = {"name": "config-volume", "hostPath": {"path": "/etc/pcidp"}}


def test_config_source_follows_the_pod_volumes(kubelet):
    assert kubelet.plugin_config_source(_pod(CM_VOLUME)) == ("configmap", "kube-system", "sriovdp-config", "config.json")
    assert kubelet.plugin_config_source(_pod(HOST_VOLUME)) == ("file", "/etc/pcidp/config.json")
    assert kubelet.plugin_config_source(_pod(HOST_VOLUME, args=["--config-file", "/etc/pcidp/other.json"])) == (
        "file", "/etc/pcidp/other.json")
    per_node = _pod({"name": "config-volume", "configMap": {"name": "sriovdp-config"}},
                    args=["--config-file=/etc/pcidp/$(NODE_NAME)"],
                    env=[{"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}])
    assert kubelet.plugin_config_source(per_node) == ("configmap", "kube-system", "sriovdp-config", "hft-lab-1")
    assert kubelet.plugin_config_source(_pod(HOST_VOLUME, args=["--config-file=/tmp/c.json"])) == ("file", None)


class FakeApi(object):
    """The stand-in's Api.call over a dict of paths; pods are filtered by node as the lab's server does."""

    def __init__(self):
        self.pods = []
        self.configmaps = {}
        self.calls = 0

    def call(self, method, path, body=None, ctype=None):
        self.calls += 1
        if "/pods?" in path:
            return {"items": list(self.pods)}
        name = path.rsplit("/", 1)[1]
        return self.configmaps.get(name)


def _plugin(kubelet, tmp_path, api, pfs=None):
    host = tmp_path / "host"
    host.mkdir(exist_ok=True)
    return kubelet.DevicePlugin(api, "hft-lab-1", sys_root=make_sysfs(tmp_path / "sys", pfs or LAB),
                                host_root=str(host)), host


def test_configmap_mode_reads_the_config_only_when_the_pod_uid_changes(kubelet, tmp_path):
    api = FakeApi()
    plugin, dummy = _plugin(kubelet, tmp_path, api)
    assert plugin.sync() == {}  # no plugin pod: nothing registered
    api.pods = [_pod(CM_VOLUME, uid="u1")]
    api.configmaps["sriovdp-config"] = {"data": {"config.json": json.dumps(ROLE)}}
    assert plugin.sync() == {VF: 2}
    wrong = {"resourceList": [dict(ROLE["resourceList"][0], selectors=[{"pfNames": ["nosuch0"]}])]}
    api.configmaps["sriovdp-config"] = {"data": {"config.json": json.dumps(wrong)}}
    assert plugin.sync() == {VF: 2}  # same pod: the plugin has not read it again
    api.pods = [_pod(CM_VOLUME, uid="u2")]  # the pod was deleted and its DaemonSet made a new one
    assert plugin.sync() == {VF: 0}
    api.configmaps["sriovdp-config"] = {"data": {"config.json": json.dumps(ROLE)}}
    api.pods = [_pod(CM_VOLUME, uid="u3")]
    assert plugin.sync() == {VF: 2}


def test_hostfile_mode_reads_the_node_file_and_retries_while_it_is_missing(kubelet, tmp_path):
    api = FakeApi()
    plugin, host = _plugin(kubelet, tmp_path, api)
    api.pods = [_pod(HOST_VOLUME, uid="u1")]
    assert plugin.sync() == {}  # no /etc/pcidp/config.json yet: the plugin crash-loops
    (host / "etc" / "pcidp").mkdir(parents=True)
    (host / "etc" / "pcidp" / "config.json").write_text(json.dumps(ROLE))
    assert plugin.sync() == {VF: 2}  # the container's next start reads it (same pod uid)
    (host / "etc" / "pcidp" / "config.json").write_text("{not json")
    assert plugin.sync() == {VF: 2}  # a running plugin never re-reads
    api.pods = [_pod(HOST_VOLUME, uid="u2")]
    assert plugin.sync() == {VF: 0}  # restarted on a broken file: registered resources drop to 0


def test_vfs_created_after_the_start_count_only_after_a_restart(kubelet, tmp_path):
    api = FakeApi()
    plugin, host = _plugin(kubelet, tmp_path, api, {"enp65s0": {"vfs": 0}})
    (host / "etc" / "pcidp").mkdir(parents=True)
    (host / "etc" / "pcidp" / "config.json").write_text(json.dumps(ROLE))
    api.pods = [_pod(HOST_VOLUME, uid="u1")]
    assert plugin.sync() == {VF: 0}
    plugin.sys_root = make_sysfs(tmp_path / "sys2", LAB)  # VFs appear later
    assert plugin.sync() == {VF: 0}
    api.pods = [_pod(HOST_VOLUME, uid="u2")]
    assert plugin.sync() == {VF: 2}


def test_a_pod_on_another_node_or_being_deleted_is_not_this_plugin(kubelet, tmp_path):
    api = FakeApi()
    plugin, host = _plugin(kubelet, tmp_path, api)
    (host / "etc" / "pcidp").mkdir(parents=True)
    (host / "etc" / "pcidp" / "config.json").write_text(json.dumps(ROLE))
    other = _pod(HOST_VOLUME, uid="o1", node="hft-lab-2")
    gone = _pod(HOST_VOLUME, uid="g1")
    gone["metadata"]["deletionTimestamp"] = "2026-12-01T00:00:00Z"
    api.pods = [other, gone]
    assert plugin.sync() == {}
    api.pods = [_pod(HOST_VOLUME, uid="u1")]
    assert plugin.sync() == {VF: 2}
    api.pods = []
    assert plugin.sync() == {VF: 0}  # plugin gone: kubelet keeps the resource at 0


def test_allocatable_carries_the_plugin_counts(kubelet, tmp_path):
    sys_root = tmp_path / "sys"
    (sys_root / "devices/system/cpu").mkdir(parents=True)
    (sys_root / "devices/system/cpu/online").write_text("0-3\n")
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc" / "meminfo").write_text("MemTotal:        3000000 kB\n")
    capacity, allocatable = kubelet.resources({}, str(sys_root), str(tmp_path / "proc"), extended={VF: 2})
    assert capacity[VF] == allocatable[VF] == "2"
    capacity, allocatable = kubelet.resources({}, str(sys_root), str(tmp_path / "proc"))
    assert VF not in allocatable


def test_the_pod_resource_prefix_argument_names_unprefixed_resources(kubelet, tmp_path):
    api = FakeApi()
    plugin, host = _plugin(kubelet, tmp_path, api)
    (host / "etc" / "pcidp").mkdir(parents=True)
    (host / "etc" / "pcidp" / "config.json").write_text(json.dumps(
        {"resourceList": [{"resourceName": "quantbot_hft_vf", "selectors": {"pfNames": ["enp65s0"]}}]}))
    api.pods = [_pod(HOST_VOLUME, args=["--resource-prefix=openshift.io"])]
    assert plugin.sync() == {VF: 2}
