"""A synthetic HFT fleet for the emulated API: N nodes with their pods, and a known set of broken ones.

Used by the fleet-audit benchmark (``scripts/bench-fleet-audit.sh``) and the
integration tests of ``quantbot.hft.fleet_audit``. Every node looks like one the
onboarding left fit for a bot: Ready, labelled and tainted ``quantbot.io/hft``,
4 GiB of 2 MiB HugePages and 4 VFs allocatable, a Running ``quantbot-ptp``
DaemonSet pod, one Guaranteed bot pod (4 CPUs, 1 GiB HugePages, 1 VF), a
kube-proxy pod, and host-validation annotations from two hours ago. The cases in
``BROKEN_CASES`` then each break some nodes in one known way; ``Fleet.expected``
says which checks the audit must name for each of them.

Nothing here talks to the API: ``make_fleet`` returns the objects, and
``KmockServer.load`` stores them.
"""

from __future__ import annotations

import dataclasses
import datetime
import uuid

from .controlplane import HFT_LABEL, PTP_DAEMONSET, PTP_NAMESPACE, daemonset_pod, ptp_daemonset

GATE_TAINT = {"key": "quantbot.io/hft-unverified", "value": "true", "effect": "NoSchedule"}
HFT_TAINT = {"key": HFT_LABEL, "value": "true", "effect": "NoSchedule"}
VF_RESOURCE = "openshift.io/quantbot_hft_vf"
PLAN_HASH = "5d41402abc4b"
OTHER_PLAN_HASH = "7d793037a076"
NAMESPACES = (PTP_NAMESPACE, "kube-system", "research")

# name -> the checks the audit must fail on such a node. The order fixes where they sit in the fleet.
BROKEN_CASES = {
    "not-ready": ("node_ready",),
    "ready-unknown": ("node_ready",),
    "cordoned": ("node_schedulable",),
    "unlabelled": ("label", "ptp_pod"),          # the label went, so did its PTP pod (only O(nodes) finds it)
    "untainted": ("taint",),
    "ptp-missing": ("ptp_pod",),
    "ptp-pending": ("ptp_pod",),
    "hugepages-taken": ("hugepages_free",),      # another pod holds 3 of the 4 GiB
    "vfs-taken": ("vf_free",),                   # another pod holds 3 of the 4 VFs
    "burstable-bot": ("bot_pod_qos",),
    "not-validated": ("host_validation",),
    "validation-failed": ("host_validation",),
    "validation-stale": ("host_validation",),
    "gated": ("gate",),
    "mid-onboarding": ("gate", "host_validation", "node_schedulable"),
}


@dataclasses.dataclass
class Fleet:
    objects: list            # (resource, namespace, body) for KmockServer.load
    names: list              # every node name, sorted
    expected: dict           # broken node name -> sorted check names
    cases: dict              # broken node name -> case name
    other_plan: list         # valid nodes that carry OTHER_PLAN_HASH


def _rfc3339(when: datetime.datetime) -> str:
    return when.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _uid(*parts) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "hftlab-fleet/" + "/".join(parts)))


def node_body(name: str, index: int, now: datetime.datetime) -> dict:
    beat = _rfc3339(now - datetime.timedelta(seconds=5))
    allocatable = {"cpu": "30", "memory": "125Gi", "pods": "110", "ephemeral-storage": "400Gi",
                   "hugepages-2Mi": "4Gi", "hugepages-1Gi": "0", VF_RESOURCE: "4"}
    conditions = [{"type": t, "status": "False", "reason": "Kubelet Has Sufficient %s" % t, "lastHeartbeatTime": beat,
                   "lastTransitionTime": "2026-11-01T08:00:00Z"}
                  for t in ("MemoryPressure", "DiskPressure", "PIDPressure")]
    conditions.append({"type": "Ready", "status": "True", "reason": "KubeletReady",
                       "message": "kubelet is posting ready status", "lastHeartbeatTime": beat,
                       "lastTransitionTime": "2026-11-01T08:00:00Z"})
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {
            "name": name, "uid": _uid("node", name), "creationTimestamp": "2026-11-01T08:00:00Z",
            "resourceVersion": str(1000 + index),
            "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
                       "topology.kubernetes.io/zone": "ld4-%d" % (index % 3), HFT_LABEL: "true"},
            "annotations": {
                "kubeadm.alpha.kubernetes.io/cri-socket": "unix:///run/containerd/containerd.sock",
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
                "quantbot.io/hft-validated-at": _rfc3339(now - datetime.timedelta(hours=2)),
                "quantbot.io/hft-valid": "true",
                "quantbot.io/hft-failed-checks": "",
                "quantbot.io/hft-plan": PLAN_HASH,
            },
        },
        "spec": {"podCIDR": "10.%d.%d.0/24" % (index // 250, index % 250), "taints": [dict(HFT_TAINT)]},
        "status": {
            "capacity": dict(allocatable, cpu="32", memory="128Gi"),
            "allocatable": allocatable,
            "conditions": conditions,
            "addresses": [{"type": "InternalIP", "address": "10.200.%d.%d" % (index // 250, index % 250 + 1)},
                          {"type": "Hostname", "address": name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {"machineID": _uid("machine", name).replace("-", ""), "systemUUID": _uid("system", name),
                         "bootID": _uid("boot", name), "kernelVersion": "6.1.0-27-amd64",
                         "osImage": "Debian GNU/Linux 12 (bookworm)", "containerRuntimeVersion": "containerd://1.7.24",
                         "kubeletVersion": "v1.31.4", "kubeProxyVersion": "v1.31.4", "operatingSystem": "linux",
                         "architecture": "amd64"},
            "images": [{"names": ["registry.invalid/quantbot/%s@sha256:%064x" % (img, i), "registry.invalid/quantbot/%s:1"
                                  % img], "sizeBytes": 20000000 + i} for i, img in enumerate(
                                      ("linuxptp", "mm-bot", "kube-proxy", "pause", "node-exporter"))],
        },
    }


def _running(pod: dict, node: str, index: int, now: datetime.datetime, qos: str) -> dict:
    started = _rfc3339(now - datetime.timedelta(hours=3))
    pod["status"] = {
        "phase": "Running", "qosClass": qos, "hostIP": "10.200.%d.%d" % (index // 250, index % 250 + 1),
        "podIP": "10.%d.%d.%d" % (index // 250, index % 250, 10 + len(pod["metadata"]["name"]) % 200),
        "startTime": started,
        "conditions": [{"type": t, "status": "True", "lastTransitionTime": started}
                       for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")],
        "containerStatuses": [{"name": c["name"], "ready": True, "restartCount": 0, "image": c["image"],
                               "started": True, "state": {"running": {"startedAt": started}}}
                              for c in pod["spec"]["containers"]],
    }
    pod["spec"]["nodeName"] = node
    pod["metadata"].setdefault("uid", _uid("pod", pod["metadata"]["namespace"], pod["metadata"]["name"]))
    return pod


def _pod(namespace: str, name: str, containers: list, owner=None, labels=None) -> dict:
    meta = {"name": name, "namespace": namespace, "labels": labels or {"app": name},
            "creationTimestamp": "2026-11-01T09:00:00Z"}
    if owner:
        kind, owner_name = owner
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": kind, "name": owner_name,
                                    "uid": _uid(kind, namespace, owner_name), "controller": True,
                                    "blockOwnerDeletion": True}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": {"containers": containers, "restartPolicy": "Always", "schedulerName": "default-scheduler",
                     "tolerations": [dict(HFT_TAINT, operator="Equal")]}}


def _container(name: str, image: str, requests: dict, limits: dict | None = None) -> dict:
    resources = {"requests": dict(requests)}
    if limits is not None:
        resources["limits"] = dict(limits)
    return {"name": name, "image": "registry.invalid/quantbot/%s:1" % image, "resources": resources}


def bot_pod(index: int, cpu: str = "4", cpu_limit: str = "4") -> dict:
    requests = {"cpu": cpu, "memory": "8Gi", "hugepages-2Mi": "1Gi", VF_RESOURCE: "1"}
    limits = dict(requests, cpu=cpu_limit)
    name = "mm-bot-%05d" % index
    return _pod(PTP_NAMESPACE, "%s-0" % name, [_container("bot", "mm-bot", requests, limits)],
                owner=("StatefulSet", name), labels={"app": "mm-bot", "quantbot.io/bot": name})


def kube_proxy_pod(node: str) -> dict:
    return _pod("kube-system", "kube-proxy-%s" % node, [_container("kube-proxy", "kube-proxy", {"cpu": "100m"})],
                owner=("DaemonSet", "kube-proxy"), labels={"k8s-app": "kube-proxy"})


def _break(case: str, node: dict, pods: dict, index: int, now: datetime.datetime) -> None:
    """Apply one BROKEN_CASES case to a node and its pods ({role: pod}; a removed pod is deleted from it)."""
    meta, spec, status = node["metadata"], node["spec"], node["status"]
    ready = status["conditions"][-1]
    notes = meta["annotations"]
    if case == "not-ready":
        ready.update(status="False", reason="KubeletNotReady", message="container runtime network not ready")
    elif case == "ready-unknown":
        ready.update(status="Unknown", reason="NodeStatusUnknown", message="Kubelet stopped posting node status.")
    elif case in ("cordoned", "mid-onboarding"):
        spec["unschedulable"] = True
        if case == "mid-onboarding":
            spec["taints"].append(dict(GATE_TAINT))
            notes.update({"quantbot.io/hft-valid": "false", "quantbot.io/hft-failed-checks": "kernel_cmdline,ptp_sync"})
    elif case == "unlabelled":
        del meta["labels"][HFT_LABEL]
        del pods["ptp"]
    elif case == "untainted":
        spec["taints"] = []
    elif case == "ptp-missing":
        del pods["ptp"]
    elif case == "ptp-pending":
        pods["ptp"]["status"].update(phase="Pending", conditions=[{"type": "PodScheduled", "status": "True"}],
                                     containerStatuses=[])
    elif case == "hugepages-taken":
        pods["extra"] = _running(_pod("research", "backtest-%05d" % index, [_container(
            "backtest", "mm-bot", {"cpu": "2", "memory": "4Gi", "hugepages-2Mi": "3Gi"},
            {"cpu": "2", "memory": "4Gi", "hugepages-2Mi": "3Gi"})], owner=("Job", "backtest-%05d" % index)),
            meta["name"], index, now, "Guaranteed")
    elif case == "vfs-taken":
        pods["extra"] = _running(_pod("research", "capture-%05d" % index, [_container(
            "capture", "mm-bot", {"cpu": "1", VF_RESOURCE: "3"}, {"cpu": "1", VF_RESOURCE: "3"})],
            owner=("ReplicaSet", "capture-%05d" % index)), meta["name"], index, now, "Burstable")
    elif case == "burstable-bot":
        bot = bot_pod(index, cpu="3500m", cpu_limit="4")
        pods["bot"] = _running(bot, meta["name"], index, now, "Burstable")
    elif case == "not-validated":
        for key in [k for k in notes if k.startswith("quantbot.io/hft-")]:
            del notes[key]
    elif case == "validation-failed":
        notes.update({"quantbot.io/hft-valid": "false", "quantbot.io/hft-failed-checks": "ptp_sync"})
    elif case == "validation-stale":
        notes["quantbot.io/hft-validated-at"] = _rfc3339(now - datetime.timedelta(hours=30))
    elif case == "gated":
        spec["taints"].append(dict(GATE_TAINT))
    else:
        raise ValueError("unknown broken case %r" % case)


def broken_positions(count: int, cases=tuple(BROKEN_CASES)) -> dict:
    """index -> case: the broken nodes spread evenly over the fleet."""
    if count < len(cases) + 2:
        raise ValueError("a fleet with %d broken cases needs at least %d nodes, not %d"
                         % (len(cases), len(cases) + 2, count))
    return dict(((i + 1) * count // (len(cases) + 1), case) for i, case in enumerate(cases))


def make_fleet(count: int, now: datetime.datetime | None = None, broken: bool = True, prefix: str = "hft-node-") -> Fleet:
    now = now or datetime.datetime.now(datetime.timezone.utc)
    ds = ptp_daemonset()
    ds["metadata"]["uid"] = _uid("DaemonSet", PTP_NAMESPACE, PTP_DAEMONSET)
    ds["spec"]["template"]["spec"]["tolerations"].append(dict(GATE_TAINT, operator="Equal"))
    objects = [("v1/namespaces", None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns},
                                        "status": {"phase": "Active"}}) for ns in NAMESPACES]
    objects.append(("apps/v1/daemonsets", PTP_NAMESPACE, ds))
    positions = broken_positions(count) if broken else {}
    expected, cases, names, other = {}, {}, [], []
    for index in range(count):
        name = "%s%05d" % (prefix, index)
        names.append(name)
        node = node_body(name, index, now)
        pods = {"ptp": _running(daemonset_pod(ds, name), name, index, now, "BestEffort"),
                "bot": _running(bot_pod(index), name, index, now, "Guaranteed"),
                "proxy": _running(kube_proxy_pod(name), name, index, now, "Burstable")}
        case = positions.get(index)
        if case:
            _break(case, node, pods, index, now)
            expected[name] = sorted(BROKEN_CASES[case])
            cases[name] = case
        elif index % 97 == 5:
            node["metadata"]["annotations"]["quantbot.io/hft-plan"] = OTHER_PLAN_HASH
            other.append(name)
        objects.append(("v1/nodes", None, node))
        objects.extend(("v1/pods", pod["metadata"]["namespace"], pod) for pod in pods.values())
    return Fleet(objects=objects, names=names, expected=expected, cases=cases, other_plan=other)
