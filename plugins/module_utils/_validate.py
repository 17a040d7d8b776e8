# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The HFT node checks: pure functions from observed data to a record.

Every ``check_*`` function returns a record
``{check, ok, expected, actual, hint}`` (or a list of them) and never reads
anything itself. ``summarise(records)`` gives the runbook's shape
``{valid, failures: [{check, expected, actual, hint}], checks}``.

Observed data comes from three places, gathered by node_validate:

* the API: the Node, the pods bound to the node (one list), the kubelet's
  ``/configz`` through the node proxy;
* the host (``host_facts``), a dict with these keys, each optional:
  ``cmdline`` (str), ``isolated`` (cpulist str of /sys/devices/system/cpu/isolated),
  ``nohz_full`` (cpulist str), ``hugepages`` ({"2M": {"0": pages}}),
  ``numa_balancing`` (int), ``numastat`` ({"0": {"numa_miss": n, ...}}),
  ``node_cpus`` ({"0": "0-3"}), ``nic_numa_node`` (int),
  ``ptp`` ({port_state, offset_ns} as _ptp.parse_pmc returns it, or {error: str});
* the plan (``hft_plan``, see docs/ARCHITECTURE.md).

``gather_host_facts`` reads the host files under given roots; it is the only
function here that touches the file system.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import os
import re
from decimal import Decimal, InvalidOperation

from ansible_collections.quantbot.hft.plugins.module_utils._ptp import PtpError, judge
from ansible_collections.quantbot.hft.plugins.module_utils._topology import (
    TopologyError,
    format_cpulist,
    missing_args,
    parse_cpulist,
)

PAGE_DIRS = {"2M": "hugepages-2048kB", "1G": "hugepages-1048576kB"}
NUMASTAT_KEYS = ("numa_hit", "numa_miss", "numa_foreign", "interleave_hit", "local_node", "other_node")

_BINARY = {"Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40, "Pi": 2 ** 50, "Ei": 2 ** 60}
_DECIMAL = {"n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1),
            "k": Decimal(10) ** 3, "M": Decimal(10) ** 6, "G": Decimal(10) ** 9,
            "T": Decimal(10) ** 12, "P": Decimal(10) ** 15, "E": Decimal(10) ** 18}
_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$")


class ValidateError(ValueError):
    """Input the checks cannot judge (a malformed quantity or plan)."""


# --------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------
def parse_quantity(value):
    """A Kubernetes quantity ("2Gi", "500m", "4", 3) as a Decimal."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return Decimal(str(value))
    text = str(value).strip() if value is not None else ""
    match = _QUANTITY.match(text)
    if not match:
        raise ValidateError("not a Kubernetes quantity: %r" % (value,))
    try:
        number = Decimal(match.group(1))
    except InvalidOperation:
        raise ValidateError("not a Kubernetes quantity: %r" % (value,))
    suffix = match.group(2) or ""
    return number * (_BINARY[suffix] if suffix in _BINARY else _DECIMAL[suffix])


def record(check, ok, expected, actual, hint=""):
    return {"check": check, "ok": bool(ok), "expected": expected, "actual": actual,
            "hint": "" if ok else hint}


def summarise(records):
    """{valid, failures, checks} in the runbook's shape."""
    failures = [dict((k, r[k]) for k in ("check", "expected", "actual", "hint"))
                for r in records if not r["ok"]]
    return {"valid": not failures, "failures": failures, "checks": list(records)}


def _cpus(text, what):
    try:
        return set(parse_cpulist(text, what))
    except TopologyError as exc:
        raise ValidateError(str(exc))


def _meta(obj):
    return obj.get("metadata") or {}


def pod_name(pod):
    return "%s/%s" % (_meta(pod).get("namespace") or "default", _meta(pod).get("name"))


def _owner_kind(pod):
    refs = _meta(pod).get("ownerReferences") or []
    for ref in refs:
        if ref.get("controller"):
            return ref.get("kind"), ref.get("name")
    return (refs[0].get("kind"), refs[0].get("name")) if refs else (None, None)


# --------------------------------------------------------------------------
# the runbook's operator checks (API data)
# --------------------------------------------------------------------------
def check_label(node, key, value):
    labels = _meta(node).get("labels") or {}
    actual = "%s=%s" % (key, labels[key]) if key in labels else "%s absent" % key
    return record("label", labels.get(key) == value, "%s=%s" % (key, value), actual,
                  "run quantbot.hft.node_label (kubectl label nodes %s %s=%s)"
                  % (_meta(node).get("name"), key, value))


def is_ptp_pod(pod, namespace, daemonset):
    if _meta(pod).get("namespace") != namespace:
        return False
    kind, name = _owner_kind(pod)
    if kind == "DaemonSet" and name == daemonset:
        return True
    return (_meta(pod).get("name") or "").startswith(daemonset + "-")


def check_ptp_pod(pods, namespace, daemonset):
    ptp = [p for p in pods if is_ptp_pod(p, namespace, daemonset)]
    running = [p for p in ptp if (p.get("status") or {}).get("phase") == "Running"]
    if running:
        actual = "%s Running" % pod_name(running[0])
    elif ptp:
        actual = ", ".join("%s %s" % (pod_name(p), (p.get("status") or {}).get("phase") or "no phase")
                           for p in ptp)
    else:
        actual = "no %s pod on the node" % daemonset
    return record("ptp_pod", bool(running), "a Running %s pod in %s on this node" % (daemonset, namespace),
                  actual, "check the %s DaemonSet's nodeSelector/tolerations and its pod's events "
                  "(kubectl -n %s describe ds %s)" % (daemonset, namespace, daemonset))


def check_allocatable(node, resource, request, check):
    alloc = ((node.get("status") or {}).get("allocatable") or {})
    want = parse_quantity(request)
    have_raw = alloc.get(resource)
    have = parse_quantity(have_raw) if have_raw not in (None, "") else Decimal(0)
    hints = {
        "hugepages_allocatable": "reserve HugePages at boot (quantbot.hft hugepages role) and restart kubelet "
                                 "so it re-reads them",
        "sriov_vf_allocatable": "create the VFs (sriov role) and check the SR-IOV device plugin's resource "
                                "config names %s" % resource,
    }
    return record(check, have >= want, "%s >= %s" % (resource, request),
                  "%s = %s" % (resource, have_raw if have_raw not in (None, "") else "absent"),
                  hints.get(check, "raise the node's allocatable %s" % resource))


# --------------------------------------------------------------------------
# cross-layer checks
# --------------------------------------------------------------------------
def check_kubelet_policy(configz, key, expected, check):
    conf = (configz or {}).get("kubeletconfig") or {}
    actual = conf.get(key)
    default = {"cpuManagerPolicy": "none", "topologyManagerPolicy": "none"}.get(key)
    shown = actual if actual is not None else "unset (kubelet default %s)" % default
    return record(check, (actual or default) == expected, "%s: %s" % (key, expected), "%s: %s" % (key, shown),
                  "apply the kubelet role's drop-in; a CPU manager policy change needs the safe "
                  "transition (drain, stop kubelet, remove cpu_manager_state)")


def check_kubelet_reserved(configz, plan):
    """kubelet reservedSystemCPUs (when set) equals plan.reserved_cpus."""
    conf = (configz or {}).get("kubeletconfig") or {}
    if "reservedSystemCPUs" not in conf or not plan or "reserved_cpus" not in plan:
        return None
    actual = conf.get("reservedSystemCPUs") or ""
    ok = _cpus(actual, "reservedSystemCPUs") == _cpus(plan["reserved_cpus"], "plan.reserved_cpus")
    return record("kubelet_reserved_cpus", ok, plan["reserved_cpus"], actual,
                  "the kubelet role must set reservedSystemCPUs to plan.reserved_cpus")


def check_cmdline(cmdline, plan):
    tokens = (cmdline or "").split()
    missing = missing_args(list(plan.get("kernel_args") or []), tokens)
    return record("kernel_cmdline", not missing, list(plan.get("kernel_args") or []),
                  {"missing": missing, "cmdline": cmdline},
                  "the boot_args role sets these; a reboot applies them")


def _isolcpus_domain_cpus(kernel_args):
    """CPUs that /sys/devices/system/cpu/isolated will list for these args.

    That file shows the scheduler-domain isolation only: ``isolcpus=2-3`` (no
    flags) or ``isolcpus=domain,...``. ``isolcpus=managed_irq,2-3`` leaves it
    empty, and so does nohz_full.
    """
    for arg in kernel_args or []:
        if arg.startswith("isolcpus="):
            parts = arg[len("isolcpus="):].split(",")
            flags = [p for p in parts if p and not p[0].isdigit()]
            cpus = ",".join(p for p in parts if p and p[0].isdigit())
            if not flags or "domain" in flags:
                return _cpus(cpus, "isolcpus")
            return set()
    return set()


def _arg_cpus(kernel_args, name):
    for arg in kernel_args or []:
        if arg.startswith(name + "="):
            return _cpus(arg[len(name) + 1:], name)
    return None


def check_isolated(host, plan):
    """/sys/devices/system/cpu/isolated (and nohz_full) against the plan."""
    records = []
    args = plan.get("kernel_args") or []
    want = _isolcpus_domain_cpus(args)
    have = _cpus((host.get("isolated") or "").strip(), "isolated")
    records.append(record(
        "isolated_cpus", have == want, format_cpulist(want), format_cpulist(have),
        "the running kernel's isolcpus differs from the plan; reboot with the boot_args role's cmdline "
        "(only isolcpus without flags or with 'domain' shows here)"))
    want_nohz = _arg_cpus(args, "nohz_full")
    if want_nohz is not None and "nohz_full" in host:
        have_nohz = _cpus((host.get("nohz_full") or "").strip(), "nohz_full")
        records.append(record("nohz_full_cpus", have_nohz == want_nohz, format_cpulist(want_nohz),
                              format_cpulist(have_nohz),
                              "nohz_full= is not active as planned (CONFIG_NO_HZ_FULL kernel and a reboot)"))
    return records


def check_hugepages_numa(observed, plan):
    want = plan.get("hugepages") or {}
    wrong = {}
    for size, nodes in sorted(want.items()):
        for node, pages in sorted(nodes.items()):
            have = ((observed or {}).get(size) or {}).get(str(node), 0)
            if int(have) != int(pages):
                wrong["%s node%s" % (size, node)] = {"planned": int(pages), "actual": int(have)}
    return record("hugepages_per_numa", not wrong, want, wrong or observed,
                  "HugePages per NUMA node differ from the plan: reserve them at boot with "
                  "hugepages=<node>:<count> (boot_args/hugepages roles) and reboot")


def check_nic_numa(host, plan, nic):
    nic_node = host.get("nic_numa_node")
    hft = plan.get("hft_numa_node")
    node_cpus = _cpus((host.get("node_cpus") or {}).get(str(nic_node), ""), "node cpus") \
        if nic_node is not None and nic_node >= 0 else set()
    isolated = _cpus(plan.get("isolated_cpus") or "", "plan.isolated_cpus")
    on_node = sorted(node_cpus & isolated)
    ok = nic_node is not None and nic_node == hft and bool(on_node)
    return record("nic_numa_node", ok,
                  {"nic": nic, "numa_node": hft, "isolated_cpus_on_node": "not empty"},
                  {"nic": nic, "numa_node": nic_node, "isolated_cpus_on_node": format_cpulist(on_node)},
                  "the HFT NIC must sit on the NUMA node of the isolated CPUs and HugePages: re-plan with "
                  "node_topology nics=[%s] or move the card" % nic)


def check_numa_balancing(value):
    actual = None if value is None else int(value)
    return record("numa_balancing", actual == 0, "kernel.numa_balancing = 0", "kernel.numa_balancing = %s" % actual,
                  "automatic NUMA balancing migrates pinned pages; set the sysctl kernel.numa_balancing=0 "
                  "(tuned role)")


def numastat_record(numastat):
    """Informational: numa_miss/numa_foreign per node (never fails)."""
    report = {}
    for node, counters in sorted((numastat or {}).items()):
        report[str(node)] = dict((k, int(counters.get(k, 0))) for k in ("numa_miss", "numa_foreign"))
    return record("numastat", True, "reported", report)


def check_ptp_sync(ptp, threshold_ns):
    """ptp: the probe, {port_state, offset_ns} (as _ptp.parse_pmc returns it) or {error}."""
    expected = "port SLAVE, |offsetFromMaster| <= %s ns" % threshold_ns
    ptp = dict(ptp or {})
    if ptp.get("error"):
        return record("ptp_sync", False, expected, ptp["error"],
                      "is ptp4l running (quantbot.hft ptp role) and is ptp_config its config file?")
    ptp.setdefault("responding", ptp.get("port_state") is not None or ptp.get("offset_ns") is not None)
    try:
        verdict = judge(ptp, threshold_ns)
    except PtpError as exc:
        raise ValidateError(str(exc))
    return record("ptp_sync", verdict["healthy"], expected,
                  {"port_state": ptp.get("port_state"), "offset_ns": ptp.get("offset_ns"),
                   "reasons": verdict["reasons"]},
                  "ptp4l is not locked to a master: check the grandmaster, the port's hardware "
                  "timestamping (quantbot.hft.nic_timestamping) and the ptp role's config")


# --------------------------------------------------------------------------
# bot pods: Guaranteed QoS with integer CPUs
# --------------------------------------------------------------------------
def _resources(container):
    res = container.get("resources") or {}
    limits = dict(res.get("limits") or {})
    requests = dict(res.get("requests") or {})
    for key, val in limits.items():  # the API server defaults requests to limits
        requests.setdefault(key, val)
    return requests, limits


def qos_class(pod):
    """The pod's QoS class: status.qosClass if the API filled it, else computed from the spec."""
    given = (pod.get("status") or {}).get("qosClass")
    if given:
        return given
    containers = list((pod.get("spec") or {}).get("containers") or []) + \
        list((pod.get("spec") or {}).get("initContainers") or [])
    any_set = False
    guaranteed = bool(containers)
    for container in containers:
        requests, limits = _resources(container)
        if requests or limits:
            any_set = True
        for res in ("cpu", "memory"):
            if res not in limits or parse_quantity(requests.get(res)) != parse_quantity(limits[res]):
                guaranteed = False
    if guaranteed:
        return "Guaranteed"
    return "Burstable" if any_set else "BestEffort"


def pod_cpu_problems(pod):
    """Why the pod does not get exclusive CPUs from the static CPU manager ([] if it does)."""
    problems = []
    qos = qos_class(pod)
    if qos != "Guaranteed":
        problems.append("QoS %s, not Guaranteed" % qos)
    for container in (pod.get("spec") or {}).get("containers") or []:
        requests, limits = _resources(container)
        name = container.get("name")
        if "cpu" not in requests:
            problems.append("container %s: no cpu request" % name)
            continue
        req = parse_quantity(requests["cpu"])
        if req != req.to_integral_value():
            problems.append("container %s: cpu request %s is not an integer" % (name, requests["cpu"]))
        if "cpu" not in limits or parse_quantity(limits["cpu"]) != req:
            problems.append("container %s: cpu limit %s != request %s"
                            % (name, limits.get("cpu", "unset"), requests["cpu"]))
    return problems


def select_bot_pods(pods, namespace, ptp_daemonset, selector=None):
    """HFT bot pods: in the bots' namespace, not DaemonSet pods, not finished, matching selector."""
    bots = []
    for pod in pods:
        meta = _meta(pod)
        if meta.get("namespace") != namespace or is_ptp_pod(pod, namespace, ptp_daemonset):
            continue
        if _owner_kind(pod)[0] == "DaemonSet":
            continue
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            continue
        labels = meta.get("labels") or {}
        if selector and any(labels.get(k) != str(v) for k, v in selector.items()):
            continue
        bots.append(pod)
    return bots


def check_bot_pods(pods):
    """One record per bot pod that is not Guaranteed with integer CPUs; one passing record otherwise."""
    expected = "Guaranteed QoS; every container's cpu request an integer equal to its limit"
    records = []
    for pod in pods:
        problems = pod_cpu_problems(pod)
        if problems:
            records.append(record(
                "bot_pod_qos", False, expected, {"pod": pod_name(pod), "problems": problems},
                "set requests == limits for cpu (whole CPUs, e.g. \"4\") and memory on %s so the static CPU "
                "manager pins it to isolated CPUs" % pod_name(pod)))
    if not records:
        records.append(record("bot_pod_qos", True, expected,
                              {"pods": [pod_name(p) for p in pods]} if pods else "no bot pods on the node"))
    return records


# --------------------------------------------------------------------------
# the inputs: refused before any API request when they cannot be judged
# --------------------------------------------------------------------------
# What quantbot.hft.node_topology's plan holds (docs/ARCHITECTURE.md, "The plan contract").
PLAN_KEYS = ("reserved_cpus", "isolated_cpus", "hft_numa_node", "hugepages", "kernel_args")


def _whole(value):
    return isinstance(value, int) and not isinstance(value, bool)


def check_plan(plan):
    """Refuse a ``plan`` that is not node_topology's plan, saying what was given and what a plan has."""
    if plan is None:
        return
    expected = "a plan (the plan that quantbot.hft.node_topology returns) has %s" % ", ".join(PLAN_KEYS)
    if not isinstance(plan, dict):
        raise ValidateError("plan is a %s, not a mapping; %s" % (type(plan).__name__, expected))
    given = ", ".join(sorted(str(k) for k in plan)) or "no keys"
    if isinstance(plan.get("plan"), dict) or "topology" in plan:
        raise ValidateError("plan looks like the whole registered result of quantbot.hft.node_topology (keys: %s); "
                            "give its plan, for example plan: \"{{ __hft_topology.plan }}\" (%s)" % (given, expected))
    missing = [key for key in PLAN_KEYS if key not in plan]
    if missing:
        raise ValidateError("plan has %s but lacks %s; %s" % (given, ", ".join(missing), expected))
    args = plan["kernel_args"]
    if not isinstance(args, list) or not all(isinstance(arg, str) for arg in args):
        raise ValidateError("plan.kernel_args must be a list of kernel arguments (strings), not %r" % (args,))
    for key in ("reserved_cpus", "isolated_cpus"):
        if not isinstance(plan[key], str):
            raise ValidateError("plan.%s must be a cpulist string such as \"2-3,6-7\", not %r" % (key, plan[key]))
        _cpus(plan[key], "plan.%s" % key)
    node = plan["hft_numa_node"]
    if not _whole(node) or node < 0:
        raise ValidateError("plan.hft_numa_node must be a NUMA node number (0 or more), not %r" % (node,))
    pages = plan["hugepages"]
    if not isinstance(pages, dict):
        raise ValidateError("plan.hugepages must map a page size to pages per NUMA node "
                            "({\"2M\": {\"0\": 0, \"1\": 1024}}), not %r" % (pages,))
    for size, nodes in sorted(pages.items(), key=lambda kv: str(kv[0])):
        if not isinstance(nodes, dict):
            raise ValidateError("plan.hugepages.%s must map NUMA nodes to page counts, not %r" % (size, nodes))
        for numa, count in sorted(nodes.items(), key=lambda kv: str(kv[0])):
            if not _whole(count) or count < 0:
                raise ValidateError("plan.hugepages.%s.%s is %r, not a whole number of pages (0 or more)"
                                    % (size, numa, count))


def check_requests(vf_request, hugepages_request):
    """Refuse a bot request that cannot be judged: a negative VF count or HugePages quantity."""
    if not _whole(vf_request) or vf_request < 0:
        raise ValidateError("vf_request must be a whole number of VFs (0 or more), not %r" % (vf_request,))
    if parse_quantity(hugepages_request) < 0:
        raise ValidateError("hugepages_request must not be negative, not %r" % (hugepages_request,))


# --------------------------------------------------------------------------
# all checks
# --------------------------------------------------------------------------
def run_checks(node, pods, configz, host, plan, opts):
    """Every applicable check. opts: label_key, label_value, ptp_namespace,
    ptp_daemonset, hugepages_resource, hugepages_request, vf_resource, vf_request,
    cpu_manager_policy, topology_manager_policy, bot_namespace, bot_selector,
    nic, ptp_offset_threshold_ns. Returns (records, skipped)."""
    records = []
    skipped = []
    records.append(check_label(node, opts["label_key"], opts["label_value"]))
    records.append(check_ptp_pod(pods, opts["ptp_namespace"], opts["ptp_daemonset"]))
    records.append(check_allocatable(node, opts["hugepages_resource"], opts["hugepages_request"],
                                     "hugepages_allocatable"))
    records.append(check_allocatable(node, opts["vf_resource"], opts["vf_request"], "sriov_vf_allocatable"))
    if configz is not None:
        records.append(check_kubelet_policy(configz, "cpuManagerPolicy", opts["cpu_manager_policy"],
                                            "cpu_manager_policy"))
        if opts.get("topology_manager_policy"):
            records.append(check_kubelet_policy(configz, "topologyManagerPolicy", opts["topology_manager_policy"],
                                                "topology_manager_policy"))
        reserved = check_kubelet_reserved(configz, plan)
        if reserved:
            records.append(reserved)
    else:
        skipped.append("kubelet configz")
    host = host or {}
    if plan:
        if "cmdline" in host:
            records.append(check_cmdline(host["cmdline"], plan))
        if "isolated" in host:
            records.extend(check_isolated(host, plan))
        if "hugepages" in host:
            records.append(check_hugepages_numa(host["hugepages"], plan))
        if opts.get("nic") and "nic_numa_node" in host:
            records.append(check_nic_numa(host, plan, opts["nic"]))
    else:
        skipped.append("plan-based host checks (no plan given)")
    if "numa_balancing" in host:
        records.append(check_numa_balancing(host["numa_balancing"]))
    if "numastat" in host:
        records.append(numastat_record(host["numastat"]))
    if "ptp" in host:
        records.append(check_ptp_sync(host["ptp"], opts["ptp_offset_threshold_ns"]))
    else:
        skipped.append("ptp sync (no pmc probe)")
    bots = select_bot_pods(pods, opts["bot_namespace"], opts["ptp_daemonset"], opts.get("bot_selector"))
    records.extend(check_bot_pods(bots))
    return records, skipped


# --------------------------------------------------------------------------
# host observation (the only file-reading part)
# --------------------------------------------------------------------------
def _read(path):
    try:
        with open(path) as handle:
            return handle.read()
    except (IOError, OSError):
        return None


def _nodes(sys_root):
    base = os.path.join(sys_root, "devices/system/node")
    try:
        names = os.listdir(base)
    except OSError:
        return []
    return sorted((int(n[4:]) for n in names if re.match(r"^node[0-9]+$", n)))


def parse_numastat(text):
    out = {}
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] in NUMASTAT_KEYS and parts[1].isdigit():
            out[parts[0]] = int(parts[1])
    return out


def gather_host_facts(sys_root="/sys", proc_root="/proc", nic=None):
    """Read the host's side of the checks. Missing files leave their key out."""
    facts = {}
    cmdline = _read(os.path.join(proc_root, "cmdline"))
    if cmdline is not None:
        facts["cmdline"] = cmdline.strip()
    for key, rel in (("isolated", "devices/system/cpu/isolated"), ("nohz_full", "devices/system/cpu/nohz_full")):
        text = _read(os.path.join(sys_root, rel))
        if text is not None:
            text = text.strip()
            facts[key] = "" if text == "(null)" else text
    balancing = _read(os.path.join(proc_root, "sys/kernel/numa_balancing"))
    if balancing is not None and balancing.strip().lstrip("-").isdigit():
        facts["numa_balancing"] = int(balancing.strip())
    nodes = _nodes(sys_root)
    if nodes:
        pages, stats, cpus = {}, {}, {}
        for node in nodes:
            ndir = os.path.join(sys_root, "devices/system/node/node%d" % node)
            for size, sub in PAGE_DIRS.items():
                text = _read(os.path.join(ndir, "hugepages", sub, "nr_hugepages"))
                if text is not None and text.strip().isdigit():
                    pages.setdefault(size, {})[str(node)] = int(text.strip())
            stat = _read(os.path.join(ndir, "numastat"))
            if stat is not None:
                stats[str(node)] = parse_numastat(stat)
            cpulist = _read(os.path.join(ndir, "cpulist"))
            if cpulist is not None:
                cpus[str(node)] = cpulist.strip()
        facts["hugepages"] = pages
        facts["numastat"] = stats
        facts["node_cpus"] = cpus
    if nic:
        text = _read(os.path.join(sys_root, "class/net", nic, "device/numa_node"))
        if text is not None and text.strip().lstrip("-").isdigit():
            node = int(text.strip())
            facts["nic_numa_node"] = 0 if node < 0 and len(nodes) <= 1 else node
    return facts
