# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The HFT node checks: pure functions from observed data to a record.

Every ``check_*`` function returns a record
``{check, ok, expected, actual, hint}`` (or a list of them) and never reads
anything itself. ``summarise(records)`` gives the runbook's shape
``{valid, failures: [{check, expected, actual, hint}], checks}``.

Observed data comes from three places:

* the API: the Node, the pods bound to the node (one list), the kubelet's
  ``/configz`` through the node proxy (node_validate reads them);
* the host: quantbot.hft.host_facts' result (``_hostfacts.py``), plus ``ptp``
  ({port_state, offset_ns} as _ptp.parse_pmc returns it, or {error: str});
* the plan (``hft_plan``, see docs/ARCHITECTURE.md), whose values a role's own
  input may replace (``expectations()``).

``run_host_checks`` is the host scope (the post-boot assertions use it on the
node, without the kubernetes client); ``run_checks`` adds the API checks.
Nothing here reads a file.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

from decimal import Decimal

from ansible_collections.quantbot.hft.plugins.module_utils._cmdline import (
    arg_value,
    isolcpus_domain_cpus,
    missing_args,
    tokens,
)
from ansible_collections.quantbot.hft.plugins.module_utils._grub import trial_outcome
from ansible_collections.quantbot.hft.plugins.module_utils._nodeops import is_cordoned, node_ready
from ansible_collections.quantbot.hft.plugins.module_utils._ptp import PtpError, judge
from ansible_collections.quantbot.hft.plugins.module_utils._settings import is_off
from ansible_collections.quantbot.hft.plugins.module_utils._topology import (
    TopologyError,
    effective_numa_node,
    format_cpulist,
    parse_cpulist,
)


class ValidateError(ValueError):
    """Input the checks cannot judge (a malformed quantity or plan)."""


# --------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------
def parse_quantity(value):
    """A Kubernetes quantity ("2Gi", "500m", "4", 3) as a Decimal (kubernetes.utils.quantity).

    Only the API-side checks need it, and they run where the kubernetes client
    is; the host-side checks never call it, so the node needs no client.
    """
    try:
        from kubernetes.utils.quantity import parse_quantity as k8s_parse_quantity
    except ImportError:
        raise ValidateError("parsing the Kubernetes quantity %r needs the kubernetes Python client" % (value,))
    if isinstance(value, bool) or value is None:
        raise ValidateError("not a Kubernetes quantity: %r" % (value,))
    try:
        number = k8s_parse_quantity(value)
    except (ValueError, TypeError, ArithmeticError):
        raise ValidateError("not a Kubernetes quantity: %r" % (value,))
    if not number.is_finite():  # the client's parser takes NaN and Infinity, which no API server does
        raise ValidateError("not a Kubernetes quantity: %r" % (value,))
    return number


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
    return ptp_pod_record([p for p in pods if is_ptp_pod(p, namespace, daemonset)], namespace, daemonset)


def ptp_pod_record(ptp, namespace, daemonset):
    """The ptp_pod record from the node's PTP DaemonSet pods (however they were recognised)."""
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


def allocatable_quantity(node, resource):
    """(Decimal, raw value or None) of the node's allocatable ``resource``; absent counts as 0."""
    have_raw = ((node.get("status") or {}).get("allocatable") or {}).get(resource)
    have = _quantity(have_raw) if have_raw not in (None, "") else Decimal(0)
    return have, (have_raw if have_raw not in (None, "") else None)


def check_allocatable(node, resource, request, check):
    want = parse_quantity(request)
    have, have_raw = allocatable_quantity(node, resource)
    hints = {
        "hugepages_allocatable": "reserve HugePages at boot (quantbot.hft hugepages role) and restart kubelet "
                                 "so it re-reads them",
        "sriov_vf_allocatable": "create the VFs (sriov role) and check the SR-IOV device plugin's resource "
                                "config names %s" % resource,
    }
    return record(check, have >= want, "%s >= %s" % (resource, request),
                  "%s = %s" % (resource, have_raw if have_raw is not None else "absent"),
                  hints.get(check, "raise the node's allocatable %s" % resource))


# --------------------------------------------------------------------------
# node-wide API checks (the fleet audit; node_validate may call them too)
# --------------------------------------------------------------------------
# The options of the checks that node_validate and fleet_audit share (documented
# by the quantbot.hft.hft_checks doc fragment), with the runbook's defaults.
CHECK_ARG_SPEC = dict(
    label_key=dict(type="str", default="quantbot.io/hft", no_log=False),
    label_value=dict(type="str", default="true"),
    ptp_namespace=dict(type="str", default="alphaswarm-bots"),
    ptp_daemonset=dict(type="str", default="quantbot-ptp"),
    hugepages_resource=dict(type="str", default="hugepages-2Mi"),
    hugepages_request=dict(type="str", default="1Gi"),
    vf_resource=dict(type="str", default="openshift.io/quantbot_hft_vf"),
    vf_request=dict(type="int", default=1),
    cpu_manager_policy=dict(type="str", default="static"),
    topology_manager_policy=dict(type="str", default="single-numa-node"),
    bot_namespace=dict(type="str", default="alphaswarm-bots"),
    bot_selector=dict(type="dict", default={}),
)
GATE_TAINT_KEY = "quantbot.io/hft-unverified"
TERMINAL_PHASES = ("Succeeded", "Failed")
_BINARY_STEPS = (("Ei", 2 ** 60), ("Pi", 2 ** 50), ("Ti", 2 ** 40), ("Gi", 2 ** 30), ("Mi", 2 ** 20), ("Ki", 2 ** 10))


def format_quantity(value):
    """A Decimal as a short Kubernetes quantity: the largest exact binary suffix, else plain."""
    if value == value.to_integral_value():
        number = int(value)
        for suffix, size in _BINARY_STEPS:
            if number and abs(number) >= size and number % size == 0:
                return "%d%s" % (number // size, suffix)
        return str(number)
    return str(value.normalize())


def taint_text(taint):
    value = taint.get("value")
    return "%s%s:%s" % (taint.get("key"), "=%s" % value if value not in (None, "") else "", taint.get("effect"))


def _taints(node):
    return list((node.get("spec") or {}).get("taints") or [])


def check_node_ready(node):
    ready, reason = node_ready(node)
    status = "Unknown"
    for cond in (node.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            status = cond.get("status") or "Unknown"
    return record("node_ready", ready, "Ready=True",
                  "Ready=%s%s" % (status, " (%s)" % reason if reason else ""),
                  "the kubelet of %s is not posting Ready: check kubelet (systemctl status kubelet; journalctl -u "
                  "kubelet) and the node's network to the API server" % _meta(node).get("name"))


def check_node_schedulable(node):
    cordoned = is_cordoned(node)
    return record("node_schedulable", not cordoned, "schedulable (spec.unschedulable unset)",
                  "cordoned (spec.unschedulable: true)" if cordoned else "schedulable",
                  "the node is cordoned: once it is fit, uncordon it (quantbot.hft.node_drain state=uncordoned, "
                  "or kubectl uncordon %s)" % _meta(node).get("name"))


def check_taint(node, key, value, effect):
    """The HFT taint (runbook step 1) is on the node, with its value and effect."""
    want = {"key": key, "value": value, "effect": effect}
    have = [t for t in _taints(node) if t.get("key") == key]
    ok = any(t.get("effect") == effect and (t.get("value") or "") == (value or "") for t in have)
    actual = ", ".join(taint_text(t) for t in have) if have else "no %s taint" % key
    return record("taint", ok, taint_text(want), actual,
                  "run quantbot.hft.node_label (kubectl taint nodes %s %s)" % (
                      _meta(node).get("name"), taint_text(want)))


def check_gate(node, key=GATE_TAINT_KEY):
    """The node carries no gate taint: it passed validation since it was gated."""
    gated = [t for t in _taints(node) if t.get("key") == key]
    return record("gate", not gated, "no %s taint" % key,
                  ", ".join(taint_text(t) for t in gated) if gated else "no %s taint" % key,
                  "the node is gated until a validation passes: run playbooks/validate.yml for %s, which lifts the "
                  "gate on valid: true" % _meta(node).get("name"))


def selector_matches(selector, labels):
    """A metav1.LabelSelector (matchLabels, matchExpressions) against labels. An empty or missing
    selector matches nothing here: a DaemonSet always has one, and matching every pod would be wrong."""
    selector = selector or {}
    match_labels = selector.get("matchLabels") or {}
    expressions = selector.get("matchExpressions") or []
    if not match_labels and not expressions:
        return False
    labels = labels or {}
    if any(labels.get(k) != str(v) for k, v in match_labels.items()):
        return False
    for expr in expressions:
        key, operator, values = expr.get("key"), expr.get("operator"), [str(v) for v in expr.get("values") or []]
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and key in labels and labels[key] in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
        if operator not in ("In", "NotIn", "Exists", "DoesNotExist"):
            raise ValidateError("label selector operator %r is not one of In, NotIn, Exists, DoesNotExist"
                                % (operator,))
    return True


def is_daemonset_pod(pod, daemonset):
    """The pod belongs to this DaemonSet object: its controller reference names it (by uid when both
    carry one), or it has no controller and matches the DaemonSet's selector (the DaemonSet would adopt it)."""
    ds_meta = _meta(daemonset)
    if _meta(pod).get("namespace") != ds_meta.get("namespace"):
        return False
    refs = _meta(pod).get("ownerReferences") or []
    controller = [r for r in refs if r.get("controller")]
    for ref in controller:
        if ref.get("kind") != "DaemonSet":
            return False
        if ref.get("uid") and ds_meta.get("uid"):
            return ref["uid"] == ds_meta["uid"]
        return ref.get("name") == ds_meta.get("name")
    return selector_matches((daemonset.get("spec") or {}).get("selector"), _meta(pod).get("labels"))


def pod_is_terminal(pod):
    return (pod.get("status") or {}).get("phase") in TERMINAL_PHASES


_QUANTITIES = {}


def _quantity(value):
    """parse_quantity, remembered per distinct text (a fleet repeats a handful of values thousands of times)."""
    try:
        return _QUANTITIES[value]
    except KeyError:
        parsed = _QUANTITIES[value] = parse_quantity(value)
        return parsed
    except TypeError:  # not hashable: let parse_quantity say why
        return parse_quantity(value)


def _container_request(container, resource):
    """The container's request of ``resource``; the API server defaults a missing request to the limit."""
    res = container.get("resources") or {}
    value = (res.get("requests") or {}).get(resource)
    if value in (None, ""):
        value = (res.get("limits") or {}).get(resource)
    return _quantity(value) if value not in (None, "") else 0


def pod_request(pod, resource):
    """What the scheduler counts for a pod's ``resource`` (requests default to limits), a Decimal.

    max(app containers + sidecars, each regular init container + the sidecars started
    before it) + the pod's overhead. Sidecars are init containers with restartPolicy Always.
    """
    spec = pod.get("spec") or {}
    total = Decimal(0)
    for container in spec.get("containers") or []:
        total += _container_request(container, resource)
    sidecars = Decimal(0)
    init_peak = Decimal(0)
    for container in spec.get("initContainers") or []:
        if container.get("restartPolicy") == "Always":
            sidecars += _container_request(container, resource)
        else:
            init_peak = max(init_peak, sidecars + _container_request(container, resource))
    overhead = (spec.get("overhead") or {}).get(resource)
    return max(total + sidecars, init_peak) + (_quantity(overhead) if overhead not in (None, "") else 0)


def check_free_capacity(node, pods, resource, request, check):
    """Allocatable ``resource`` minus what every non-terminal pod on the node requests covers ``request``.

    ``actual`` holds allocatable, requested and free; when the check fails, also the pods
    that hold the resource (``namespace/name quantity``).
    """
    want = _quantity(request)
    have, have_raw = allocatable_quantity(node, resource)
    used = Decimal(0)
    users = []
    for pod in pods:
        if pod_is_terminal(pod):
            continue
        amount = pod_request(pod, resource)
        if amount:
            used += amount
            users.append((pod, amount))
    free = have - used
    ok = free >= want
    actual = {"allocatable": have_raw if have_raw is not None else "absent",
              "requested": format_quantity(used), "free": format_quantity(free)}
    if not ok:
        actual["pods"] = ["%s %s" % (pod_name(pod), format_quantity(amount)) for pod, amount in users]
    hints = {
        "hugepages_free": "the node's free %s does not cover a bot: free HugePages by moving pods, or reserve more "
                          "at boot (quantbot.hft hugepages role, then restart kubelet)" % resource,
        "vf_free": "every %s VF of the node is taken: move a pod or create more VFs (sriov role) and check the "
                   "SR-IOV device plugin's resource config" % resource,
    }
    return record(check, ok, "free %s >= %s" % (resource, request), actual,
                  hints.get(check, "free or add %s on the node" % resource))


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


def check_cmdline(cmdline, kernel_args):
    """Every wanted kernel argument is on the running command line."""
    args = list(kernel_args or [])
    missing = missing_args(args, tokens(cmdline))
    return record("kernel_cmdline", not missing, args, {"missing": missing, "cmdline": cmdline},
                  "the boot_args role sets these; a reboot applies them")


def check_isolated(host, kernel_args):
    """/sys/devices/system/cpu/isolated (and nohz_full) against the kernel arguments."""
    records = []
    cpus = host.get("cpus") or {}
    want = isolcpus_domain_cpus(kernel_args, _cpus)
    have = _cpus((cpus.get("isolated") or "").strip(), "isolated")
    records.append(record(
        "isolated_cpus", have == want, format_cpulist(want), format_cpulist(have),
        "the running kernel's isolcpus differs from the plan; reboot with the boot_args role's cmdline "
        "(only isolcpus without flags or with 'domain' shows here)"))
    nohz = arg_value(kernel_args, "nohz_full")
    if nohz is not None and "nohz_full" in cpus:
        want_nohz = _cpus(nohz, "nohz_full")
        have_nohz = _cpus((cpus.get("nohz_full") or "").strip(), "nohz_full")
        records.append(record("nohz_full_cpus", have_nohz == want_nohz, format_cpulist(want_nohz),
                              format_cpulist(have_nohz),
                              "nohz_full= is not active as planned (CONFIG_NO_HZ_FULL kernel and a reboot)"))
    return records


def host_pages(host):
    """HugePages per size per node, ``{"2M": {"0": pages}}``, from host_facts' numa."""
    pages = {}
    for node, info in sorted((host.get("numa") or {}).items()):
        for size, counts in (info.get("hugepages") or {}).items():
            if counts.get("total") is not None:
                pages.setdefault(size, {})[str(node)] = int(counts["total"])
    return pages


def check_hugepages_numa(host, want):
    observed = host_pages(host)
    wrong = {}
    for size, nodes in sorted((want or {}).items()):
        for node, pages in sorted(nodes.items()):
            have = (observed.get(size) or {}).get(str(node), 0)
            if int(have) != int(pages):
                wrong["%s node%s" % (size, node)] = {"planned": int(pages), "actual": int(have)}
    return record("hugepages_per_numa", not wrong, want, wrong or observed,
                  "HugePages per NUMA node differ from the plan: reserve them at boot with "
                  "hugepages=<node>:<count> (boot_args/hugepages roles) and reboot")


def check_nic_numa(host, plan, nic):
    nics = host.get("nics") or {}
    if nic not in nics:
        return record("nic_numa_node", False, {"nic": nic, "numa_node": plan.get("hft_numa_node")},
                      {"nic": nic, "present": False},
                      "%s is not a network interface with a device on this host (interfaces: %s)"
                      % (nic, ", ".join(sorted(nics)) or "none"))
    numa = host.get("numa") or {}
    nic_node = effective_numa_node(nics[nic].get("numa_node"), numa.keys())
    hft = plan.get("hft_numa_node")
    node_cpus = _cpus((numa.get(str(nic_node)) or {}).get("cpus", ""), "node cpus") \
        if nic_node is not None else set()
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


def numastat_record(host):
    """Informational: numa_miss/numa_foreign per node (never fails)."""
    report = {}
    for node, info in sorted((host.get("numa") or {}).items()):
        counters = info.get("numastat") or {}
        report[str(node)] = dict((k, int(counters.get(k, 0))) for k in ("numa_miss", "numa_foreign"))
    return record("numastat", True, "reported", report)


def check_tuned_profile(host, profile):
    active = (host.get("tuned") or {}).get("active_profile")
    return record("tuned_profile", active == profile, "tuned profile %s active" % profile,
                  "active profile: %s" % (active or "none (tuned not installed or no profile)"),
                  "apply the tuned role (tuned-adm profile %s) and check /var/log/tuned/tuned.log" % profile)


def check_sriov_numvfs(host, vfs):
    """``vfs``: {PF: wanted VF count}. One record for all PFs."""
    nics = host.get("nics") or {}
    actual = dict((pf, (nics.get(pf) or {}).get("sriov_numvfs") if pf in nics else "no such interface")
                  for pf in sorted(vfs))
    ok = all(actual[pf] == int(count) for pf, count in vfs.items())
    return record("sriov_numvfs", ok, dict((pf, int(n)) for pf, n in sorted(vfs.items())), actual,
                  "quantbot-sriov.service creates the VFs at boot: journalctl -b -u quantbot-sriov.service")


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


def _mask_cpus(mask):
    """CPUs of a hex mask such as "30" or "00000000,00000030" (empty: none)."""
    text = (mask or "").replace(",", "").strip()
    if not text:
        return set()
    try:
        value = int(text, 16)
    except ValueError:
        raise ValidateError("not a CPU mask: %r" % (mask,))
    return set(bit for bit in range(value.bit_length()) if value >> bit & 1)


def check_thp(host, want):
    have = (host.get("thp") or {}).get("enabled")
    return record("transparent_hugepages", have == want, "transparent HugePages %s" % want, "%s" % have,
                  "the tuned profile sets transparent_hugepages (tuned role; knob hft_latency_settings.thp)")


def check_swap(host):
    swaps = host.get("swap") or []
    return record("swap", not swaps, "no active swap", [s.get("name") for s in swaps] or "none",
                  "the hugepages role turns swap off and masks swap.target (knob hft_latency_settings.swap)")


def check_sysctls(host, want):
    """``want``: {sysctl: value}; one record for all of them."""
    have = host.get("sysctl") or {}
    wrong = dict((key, have.get(key)) for key, value in sorted(want.items()) if str(have.get(key)) != str(value))
    return record("latency_sysctls", not wrong, want, wrong or dict((k, have.get(k)) for k in sorted(want)),
                  "kernel.nmi_watchdog comes from the kernel command line (nmi_watchdog=0); the others from the "
                  "quantbot-hft tuned profile")


def check_cstates(host, want, isolated):
    have = (host.get("cpus") or {}).get("pm_qos_resume_latency_us") or {}
    cpus = sorted(_cpus(isolated or "", "isolated CPUs"))
    wrong = dict(("cpu%d" % cpu, have.get(str(cpu))) for cpu in cpus if str(have.get(str(cpu))) != str(want))
    return record("cstates", not wrong, "pm_qos_resume_latency_us=%s on CPUs %s" % (want, format_cpulist(cpus)),
                  wrong or "as wanted", "the quantbot-hft tuned profile's [cpu] instance on the isolated CPUs sets it")


def check_governor(host, want):
    have = (host.get("cpus") or {}).get("governors") or {}
    wrong = dict(("cpu%s" % cpu, gov) for cpu, gov in sorted(have.items(), key=lambda i: int(i[0])) if gov != want)
    return record("cpu_governor", bool(have) and not wrong, "cpufreq governor %s on every CPU" % want,
                  wrong or ("as wanted" if have else "no cpufreq governor readable"),
                  "the quantbot-hft tuned profile sets the governor (tuned role)")


def check_irq_affinity(host, nics, housekeeping, isolated):
    """The HFT NICs' interrupts (PF and VFs) on ``housekeeping``; no RPS/XPS mask on an isolated CPU."""
    allowed = _cpus(housekeeping or "", "housekeeping CPUs")
    iso = _cpus(isolated or "", "isolated CPUs")
    found = host.get("nics") or {}
    wrong = []
    for nic in nics:
        info = found.get(nic)
        if info is None:
            wrong.append("%s: not a network interface with a device here" % nic)
            continue
        affinity = info.get("irq_affinity") or {}
        if not affinity:
            wrong.append("%s: no MSI interrupts found" % nic)
        for irq, cpus in sorted(affinity.items(), key=lambda item: int(item[0])):
            effective = cpus.get("effective") or cpus.get("allowed") or ""
            have = _cpus(effective, "IRQ %s affinity" % irq)
            if not have or not have <= allowed:
                wrong.append("%s IRQ %s on CPU %s" % (nic, irq, format_cpulist(have) or "?"))
        for queue, mask in sorted((info.get("queues") or {}).items()):
            on = _mask_cpus(mask) & iso
            if on:
                wrong.append("%s %s mask %s includes isolated CPU %s" % (nic, queue, mask, format_cpulist(on)))
    return record("irq_affinity", not wrong,
                  "interrupts of %s on CPUs %s; no RPS/XPS mask on the isolated CPUs" % (", ".join(nics), housekeeping),
                  wrong or "as wanted",
                  "quantbot-irq-affinity.service (tuned role) pins them at boot; journalctl -b -u "
                  "quantbot-irq-affinity.service, and check that irqbalance runs with the policy script")


def check_tuned_bootloader(host):
    args = (host.get("tuned") or {}).get("bootcmdline_args") or []
    return record("tuned_bootloader", not args, "no kernel arguments from tuned's bootloader plugin", args or "none",
                  "boot_args owns the kernel command line; clear TUNED_BOOT_CMDLINE in /etc/tuned/bootcmdline")


def check_boot_trial(host):
    """A staged trial boot: booted (passes), not booted yet, or fell back (fails naming the arguments)."""
    state = (host.get("state") or {}).get("boot_args") or {}
    outcome, missing = trial_outcome(state, tokens(host.get("cmdline")), (host.get("boot") or {}).get("boot_id"))
    if outcome == "none":
        return None
    actual = {"booted": "the trial command line booted; it becomes the default after these checks",
              "pending": {"reboot pending": "the trial command line has not booted yet", "not yet running": missing},
              "fell_back": {"fell back to the previous command line": True, "did not boot": missing}}[outcome]
    return record("boot_trial", outcome == "booted", "the host runs the trial command line", actual,
                  "the host came back on the last good command line: one of these arguments did not boot (a panic, "
                  "a hang, or init refused it); remove or fix it and run again" if outcome == "fell_back"
                  else "reboot the host (the next boot runs the trial command line once)")


def ptp_checks(host, opts):
    """ptp_sync over the window (the collector's, or pmc samples), time_daemon_conflict, ptp_single_owner."""
    # _ptpjudge imports this module: import it here, not at the top (an import cycle).
    from ansible_collections.quantbot.hft.plugins.module_utils._hostfacts import TIME_DAEMONS
    from ansible_collections.quantbot.hft.plugins.module_utils._ptp import ptp_single_owner
    from ansible_collections.quantbot.hft.plugins.module_utils._ptpjudge import judge_time_daemons, judge_window
    ptp = host["ptp"]
    records = []
    if isinstance(ptp, dict) and "window" in ptp:
        try:
            records.append(judge_window(ptp["window"], opts["ptp_offset_threshold_ns"],
                                        opts.get("ptp_offset_max_ns"), interfaces=sorted(ptp.get("configs") or {})
                                        or None, started=ptp.get("started") or None))
        except PtpError as exc:
            raise ValidateError(str(exc))
    else:  # one pmc probe per interface (an older host_facts, or a probe given by hand)
        for iface, probe in sorted(ptp.items()):
            rec = check_ptp_sync(probe, opts["ptp_offset_threshold_ns"])
            rec["actual"] = dict(rec["actual"], interface=iface) if isinstance(rec["actual"], dict) \
                else {"interface": iface, "error": rec["actual"]}
            records.append(rec)
    units = host.get("units")
    if isinstance(units, dict):
        states = dict((unit, units[unit].get("active")) for unit in TIME_DAEMONS
                      if (units.get(unit) or {}).get("load") == "loaded")
        records.append(judge_time_daemons(states))
    owners = host.get("ptp_owners")
    if isinstance(owners, dict):
        records.append(ptp_single_owner(owners.get("conflicts") or [], owners.get("interfaces") or []))
    return records


SETTINGS_KNOBS = ("thp", "swap", "cstates", "governor", "timer_migration", "stat_interval", "watchdogs",
                  "irq_affinity")


def expectations(plan, overrides=None):
    """What the host checks expect: the plan's values, each replaceable by a role's own input.

    Keys: kernel_args, isolated_cpus, hugepages, hft_numa_node, tuned_profile (None: not checked), vfs
    ({PF: count}; empty: not checked).
    """
    plan = plan or {}
    settings = dict((knob, (entry or {}).get("value")) for knob, entry in (plan.get("settings") or {}).items())
    out = {"kernel_args": list(plan.get("kernel_args") or []), "isolated_cpus": plan.get("isolated_cpus"),
           "hugepages": plan.get("hugepages") or {}, "hft_numa_node": plan.get("hft_numa_node"),
           "tuned_profile": None, "vfs": {}, "nics": list(plan.get("nics") or []),
           "housekeeping_cpus": plan.get("hft_housekeeping_cpus")}
    for knob in SETTINGS_KNOBS:
        out[knob] = settings.get(knob)
    for key, value in (overrides or {}).items():
        # A latency knob a role turned off (null, false, "") is not checked; for
        # the other keys null means "the plan's value".
        if value is not None or key in SETTINGS_KNOBS:
            out[key] = value
    return out


def settings_checks(host, want):
    """The latency settings the plan manages (plan.settings), each checked where the host shows it."""
    records = []
    if want.get("thp") and "thp" in host:
        records.append(check_thp(host, want["thp"]))
    if want.get("swap") and "swap" in host:
        records.append(check_swap(host))
    sysctls = {}
    if want.get("watchdogs"):
        sysctls["kernel.nmi_watchdog"] = 0
    for knob, key in (("timer_migration", "kernel.timer_migration"), ("stat_interval", "vm.stat_interval")):
        if not is_off(want.get(knob)):
            sysctls[key] = want[knob]
    if sysctls and "sysctl" in host:
        records.append(check_sysctls(host, sysctls))
    if not is_off(want.get("cstates")) and "cpus" in host and want.get("isolated_cpus"):
        records.append(check_cstates(host, want["cstates"], want["isolated_cpus"]))
    if want.get("governor") and "cpus" in host:
        records.append(check_governor(host, want["governor"]))
    if want.get("irq_affinity") and want.get("nics") and "nics" in host and want.get("housekeeping_cpus"):
        records.append(check_irq_affinity(host, want["nics"], want["housekeeping_cpus"], want.get("isolated_cpus")))
    if "tuned" in host:
        records.append(check_tuned_bootloader(host))
    return records


def run_host_checks(host, plan, opts, expect=None):
    """The host scope of the validation (also the post-boot assertions). Returns (records, skipped).

    ``host`` is quantbot.hft.host_facts' result, plus ``ptp`` (a pmc probe) when
    PTP is checked; ``expect`` overrides the plan's expectations (see expectations()).
    """
    records = []
    skipped = []
    host = host or {}
    want = expectations(plan, expect)
    if plan:
        if "cmdline" in host:
            records.append(check_cmdline(host["cmdline"], want["kernel_args"]))
        if "cpus" in host:
            records.extend(check_isolated(host, want["kernel_args"]))
        if "numa" in host:
            records.append(check_hugepages_numa(host, want["hugepages"]))
        if opts.get("nic") and "nics" in host:
            records.append(check_nic_numa(host, dict(plan, hft_numa_node=want["hft_numa_node"]), opts["nic"]))
    else:
        skipped.append("plan-based host checks (no plan given)")
    if "kernel.numa_balancing" in (host.get("sysctl") or {}):
        records.append(check_numa_balancing(host["sysctl"]["kernel.numa_balancing"]))
    if "numa" in host:
        records.append(numastat_record(host))
    if want["tuned_profile"] and "tuned" in host:
        records.append(check_tuned_profile(host, want["tuned_profile"]))
    if want["vfs"] and "nics" in host:
        records.append(check_sriov_numvfs(host, want["vfs"]))
    records.extend(settings_checks(host, want))
    trial = check_boot_trial(host)
    if trial:
        records.append(trial)
    if host.get("ptp"):
        records.extend(ptp_checks(host, opts))
    else:
        skipped.append("ptp sync (no ptp4l instance to ask)")
    return records, skipped


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
    if host is not None:
        host_records, host_skipped = run_host_checks(host, plan, opts, opts.get("expect"))
        records.extend(host_records)
        skipped.extend(host_skipped)
    bots = select_bot_pods(pods, opts["bot_namespace"], opts["ptp_daemonset"], opts.get("bot_selector"))
    records.extend(check_bot_pods(bots))
    return records, skipped
