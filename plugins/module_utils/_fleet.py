# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet audit: every HFT node judged from a few paged lists, and the host-validation annotations.

Three parts, all plain functions over plain dicts:

* ``validation_annotations(result, plan, now)`` turns a host validation (the
  runbook shape ``{valid, failures, checks}``) and the plan into the Node
  annotations that carry the host side's verdict to the cluster;
  ``check_host_validation`` judges them.
* ``judge_node(node, pods, daemonset, opts, now, configz)`` runs the fleet
  checks (``FLEET_CHECKS``) on one node, reusing the checks of ``_validate``;
  ``summarise_fleet`` counts the results.
* ``collect(api, ...)`` reads what the judging needs with a fixed number of
  requests: the HFT Nodes (one paged list), every Pod (one paged list across
  all namespaces), the PTP DaemonSet (one GET), and, only when asked, each
  node's ``/configz`` through a bounded thread pool, counted apart. ``api`` is
  a ``_kube.KubeApi`` or anything with the same methods (the unit tests pass
  a fake).

Nothing here imports AnsibleModule; bad input raises ``FleetError``.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import contextlib
import datetime
import gc
import hashlib
import json
import re
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.quantbot.hft.plugins.module_utils._validate import (
    CHECK_ARG_SPEC,
    GATE_TAINT_KEY,
    ValidateError,
    check_bot_pods,
    check_free_capacity,
    check_gate,
    check_kubelet_policy,
    check_label,
    check_node_ready,
    check_node_schedulable,
    check_taint,
    is_daemonset_pod,
    parse_quantity,
    ptp_pod_record,
    record,
    select_bot_pods,
)

ANNOTATION_VALIDATED_AT = "quantbot.io/hft-validated-at"
ANNOTATION_VALID = "quantbot.io/hft-valid"
ANNOTATION_FAILED_CHECKS = "quantbot.io/hft-failed-checks"
ANNOTATION_PLAN = "quantbot.io/hft-plan"
VALIDATION_ANNOTATIONS = (ANNOTATION_VALIDATED_AT, ANNOTATION_VALID, ANNOTATION_FAILED_CHECKS, ANNOTATION_PLAN)

# Keys of the plan that describe the run, not the plan: they change when the host
# reboots (cmdline_missing, reboot_required) or could not be read (cmdline_read),
# while the plan stays the same. plan_hash leaves them out.
PLAN_RUN_KEYS = ("cmdline_read", "cmdline_missing", "reboot_required")
PLAN_HASH_LENGTH = 12

# The checks of every node, in report order. /configz (optional) adds
# kubelet_configz, cpu_manager_policy and topology_manager_policy.
FLEET_CHECKS = ("node_ready", "node_schedulable", "label", "taint", "ptp_pod", "hugepages_free", "vf_free",
                "bot_pod_qos", "host_validation", "gate")
CONFIGZ_CHECKS = ("kubelet_configz", "cpu_manager_policy", "topology_manager_policy")

# A validated-at this far in the future is clock skew we accept; beyond it the record is not trusted.
CLOCK_SKEW_S = 300

# The judging options: the checks' shared options (with node_validate) and the audit's own.
DEFAULTS = dict((key, spec["default"]) for key, spec in CHECK_ARG_SPEC.items())
DEFAULTS.update({
    "taint_key": "quantbot.io/hft", "taint_value": "true", "taint_effect": "NoSchedule",
    "gate_taint_key": GATE_TAINT_KEY,
    "validation_max_age_s": 24 * 3600,
})

_RFC3339 = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


class FleetError(ValueError):
    """Input the fleet audit cannot work with; the message names it."""


# --------------------------------------------------------------------------
# time
# --------------------------------------------------------------------------
def utc_now():
    return datetime.datetime.now(UTC)


class _Utc(datetime.tzinfo):
    """UTC without relying on datetime.timezone (module_utils stay importable everywhere)."""

    def utcoffset(self, dt):
        return datetime.timedelta(0)

    def dst(self, dt):
        return datetime.timedelta(0)

    def tzname(self, dt):
        return "UTC"


UTC = _Utc()


def to_rfc3339(when):
    """A datetime (naive means UTC) as RFC 3339 UTC with seconds: 2026-12-01T09:30:00Z."""
    if when.tzinfo is not None:
        when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(text):
    """An RFC 3339 timestamp (Z or an offset, optional fraction) as an aware UTC datetime."""
    match = _RFC3339.match(str(text or "").strip())
    if not match:
        raise FleetError("not an RFC 3339 timestamp: %r" % (text,))
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    fraction = match.group(7)
    micro = int((fraction[1:] + "000000")[:6]) if fraction else 0
    try:
        when = datetime.datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)
    except ValueError as exc:
        raise FleetError("not an RFC 3339 timestamp: %r (%s)" % (text, exc))
    zone = match.group(8)
    if zone not in ("Z", "z"):
        sign = 1 if zone[0] == "+" else -1
        when -= sign * datetime.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
    return when


def format_age(seconds):
    seconds = int(seconds)
    if seconds < 120:
        return "%ds" % seconds
    if seconds < 7200:
        return "%dm" % (seconds // 60)
    if seconds < 2 * 86400:
        return "%dh%02dm" % (seconds // 3600, (seconds % 3600) // 60)
    return "%dd%02dh" % (seconds // 86400, (seconds % 86400) // 3600)


# --------------------------------------------------------------------------
# the host side's verdict as Node annotations
# --------------------------------------------------------------------------
def plan_hash(plan):
    """A short stable hash of the plan: sha256 of its canonical JSON (sorted keys, no spaces),
    first 12 hex digits, with the run-dependent keys ``cmdline_read``, ``cmdline_missing`` and
    ``reboot_required`` left out. Two hosts with the same planned CPUs, NUMA node, HugePages and
    kernel arguments get the same hash, whatever their running command line."""
    if not isinstance(plan, dict):
        raise FleetError("the plan must be a mapping (node_topology's plan), not %s" % type(plan).__name__)
    if "plan" in plan and "topology" in plan:
        raise FleetError("give the plan itself (the 'plan' of node_topology's result), not the whole result")
    stable = dict((k, v) for k, v in plan.items() if k not in PLAN_RUN_KEYS)
    try:
        text = json.dumps(stable, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    except (TypeError, ValueError) as exc:
        raise FleetError("the plan is not plain JSON data: %s" % exc)
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:PLAN_HASH_LENGTH]


def validation_annotations(result, plan, now=None):
    """The Node annotations that record a host validation.

    ``result`` is the runbook shape ``{valid, failures: [{check, ...}], checks}`` (what
    quantbot.hft.node_validate returns); ``plan`` is node_topology's plan. Returns
    ``{quantbot.io/hft-validated-at: RFC 3339 UTC, quantbot.io/hft-valid: "true"|"false",
    quantbot.io/hft-failed-checks: sorted unique check names joined by commas ("" when valid),
    quantbot.io/hft-plan: plan_hash(plan)}``. ``now`` (an aware or UTC-naive datetime)
    defaults to the clock.
    """
    if not isinstance(result, dict) or not isinstance(result.get("valid"), bool):
        raise FleetError("the validation result needs a boolean 'valid' (the runbook shape {valid, failures, checks})")
    failures = result.get("failures") or []
    if not isinstance(failures, list) or any(not isinstance(f, dict) or not f.get("check") for f in failures):
        raise FleetError("each item of the validation result's failures needs a 'check' name")
    if result["valid"] == bool(failures):
        raise FleetError("the validation result says valid: %s but lists %d failure(s)"
                         % (str(result["valid"]).lower(), len(failures)))
    names = sorted(set(str(f["check"]) for f in failures))
    return {
        ANNOTATION_VALIDATED_AT: to_rfc3339(now or utc_now()),
        ANNOTATION_VALID: "true" if result["valid"] else "false",
        ANNOTATION_FAILED_CHECKS: ",".join(names),
        ANNOTATION_PLAN: plan_hash(plan),
    }


def check_host_validation(node, now, max_age_s):
    """The node carries a passing host validation no older than ``max_age_s`` seconds."""
    notes = (node.get("metadata") or {}).get("annotations") or {}
    expected = "%s=true, %s within %s" % (ANNOTATION_VALID, ANNOTATION_VALIDATED_AT, format_age(max_age_s))
    hint = ("run playbooks/validate.yml for %s: a host validation records its verdict in the %s annotations"
            % ((node.get("metadata") or {}).get("name"), "quantbot.io/hft-*"))
    stamp, valid = notes.get(ANNOTATION_VALIDATED_AT), notes.get(ANNOTATION_VALID)
    if stamp is None or valid is None:
        absent = [k for k in (ANNOTATION_VALIDATED_AT, ANNOTATION_VALID) if notes.get(k) is None]
        return record("host_validation", False, expected, "no host validation recorded (%s absent)"
                      % ", ".join(absent), hint)
    try:
        when = parse_rfc3339(stamp)
    except FleetError as exc:
        return record("host_validation", False, expected, "%s: %s" % (ANNOTATION_VALIDATED_AT, exc), hint)
    age = (now - when).total_seconds()
    failed = notes.get(ANNOTATION_FAILED_CHECKS) or ""
    actual = "%s=%s at %s (%s ago)" % (ANNOTATION_VALID, valid, stamp, format_age(max(age, 0)))
    if valid != "true":
        return record("host_validation", False, expected,
                      actual + (", failed checks: %s" % failed if failed else ""),
                      "the last host validation failed%s; fix it and run playbooks/validate.yml"
                      % (" (%s)" % failed if failed else ""))
    if age < -CLOCK_SKEW_S:
        return record("host_validation", False, expected,
                      "%s=%s is %s in the future" % (ANNOTATION_VALIDATED_AT, stamp, format_age(-age)),
                      "check the clocks of the controller and of the host that ran the validation, then validate "
                      "again")
    if age > max_age_s:
        return record("host_validation", False, expected, actual, "the last host validation is too old: " + hint)
    return record("host_validation", True, expected, actual)


# --------------------------------------------------------------------------
# judging
# --------------------------------------------------------------------------
def node_name(node):
    return (node.get("metadata") or {}).get("name")


def options(given=None):
    """The judging options: DEFAULTS updated with ``given`` (None values keep the default), checked."""
    opts = dict(DEFAULTS)
    for key, value in (given or {}).items():
        if key not in DEFAULTS:
            raise FleetError("unknown fleet audit option %r" % key)
        if value is not None:
            opts[key] = value
    for key in ("hugepages_request", "vf_request"):
        try:
            if parse_quantity(opts[key]) < 0:
                raise FleetError("%s must not be negative: %r" % (key, opts[key]))
        except ValidateError as exc:
            raise FleetError("%s: %s" % (key, exc))
    try:
        max_age = float(opts["validation_max_age_s"])
    except (TypeError, ValueError):
        raise FleetError("validation_max_age_s must be a number of seconds, not %r" % (opts["validation_max_age_s"],))
    if max_age <= 0:
        raise FleetError("validation_max_age_s must be positive, not %r" % (opts["validation_max_age_s"],))
    opts["validation_max_age_s"] = max_age
    return opts


def _ptp_record(ptp_pods, daemonset, opts):
    namespace, name = opts["ptp_namespace"], opts["ptp_daemonset"]
    if daemonset is None:
        return record("ptp_pod", False, "a Running %s pod in %s on this node" % (name, namespace),
                      "the DaemonSet %s/%s does not exist" % (namespace, name),
                      "create the PTP DaemonSet %s in %s (it runs ptp4l/phc2sys on every HFT node)"
                      % (name, namespace))
    return ptp_pod_record(ptp_pods, namespace, name)


def configz_checks(opts):
    """The /configz check names, as opts enable them."""
    return ["kubelet_configz", "cpu_manager_policy"] + (["topology_manager_policy"]
                                                        if opts.get("topology_manager_policy") else [])


def audit_checks(opts, configz=False):
    """The names of the checks every node gets, in report order."""
    return list(FLEET_CHECKS) + (configz_checks(opts) if configz else [])


def _configz_records(configz, opts):
    """(records, skipped): kubelet_configz and the kubelet policies, from a /configz answer or an error string."""
    expected = "GET nodes/<node>/proxy/configz answers"
    if not isinstance(configz, dict):
        return [record("kubelet_configz", False, expected, str(configz),
                       "the kubelet must be reachable through the API server's node proxy and the credentials "
                       "need nodes/proxy get")], configz_checks(opts)[1:]
    records = [record("kubelet_configz", True, expected, "answered"),
               check_kubelet_policy(configz, "cpuManagerPolicy", opts["cpu_manager_policy"], "cpu_manager_policy")]
    if opts.get("topology_manager_policy"):
        records.append(check_kubelet_policy(configz, "topologyManagerPolicy", opts["topology_manager_policy"],
                                            "topology_manager_policy"))
    return records, []


def judge_records(node, pods, daemonset, opts, now, configz=None):
    """(records, skipped) of one node: every fleet check record (FLEET_CHECKS order, then the
    /configz ones when given) and the names of checks that could not run.

    ``pods`` are the pods bound to the node (all namespaces), ``daemonset`` the PTP
    DaemonSet or None when it does not exist, ``configz`` the node's /configz answer,
    an error string, or None when it was not read.
    """
    # The PTP DaemonSet's pods, however named, are no bots (select_bot_pods knows them by name only).
    ptp_pods, others = [], []
    for pod in pods:
        (ptp_pods if daemonset is not None and is_daemonset_pod(pod, daemonset) else others).append(pod)
    records = [
        check_node_ready(node),
        check_node_schedulable(node),
        check_label(node, opts["label_key"], opts["label_value"]),
        check_taint(node, opts["taint_key"], opts["taint_value"], opts["taint_effect"]),
        _ptp_record(ptp_pods, daemonset, opts),
        check_free_capacity(node, pods, opts["hugepages_resource"], opts["hugepages_request"], "hugepages_free"),
        check_free_capacity(node, pods, opts["vf_resource"], opts["vf_request"], "vf_free"),
    ]
    bots = select_bot_pods(others, opts["bot_namespace"], opts["ptp_daemonset"], opts.get("bot_selector"))
    records.extend(check_bot_pods(bots))
    records.append(check_host_validation(node, now, opts["validation_max_age_s"]))
    records.append(check_gate(node, opts["gate_taint_key"]))
    skipped = []
    if configz is not None:
        more, skipped = _configz_records(configz, opts)
        records.extend(more)
    return records, skipped


def node_result(name, records, plan, skipped=()):
    """One entry of the audit's ``nodes``: name, valid, failures (check, expected, actual, hint),
    skipped (checks that could not run) and the plan hash."""
    failures = [dict((k, r[k]) for k in ("check", "expected", "actual", "hint")) for r in records if not r["ok"]]
    return {"name": name, "valid": not failures, "failures": failures, "skipped": list(skipped), "plan_hash": plan}


def judge_node(node, pods, daemonset, opts, now, configz=None):
    notes = (node.get("metadata") or {}).get("annotations") or {}
    records, skipped = judge_records(node, pods, daemonset, opts, now, configz)
    return node_result(node_name(node), records, notes.get(ANNOTATION_PLAN), skipped)


def missing_node(name, checks=FLEET_CHECKS):
    """A node the caller expects in the fleet that has no Node object: node_ready fails, the rest cannot run."""
    return node_result(name, [record("node_ready", False, "Ready=True", "no Node named %s" % name,
                                     "the host is not a member of the cluster: join it (quantbot.hft.node_join) "
                                     "or take it out of the expected nodes")], None,
                       [c for c in checks if c != "node_ready"])


def summarise_fleet(results):
    """{total, valid, invalid, failed_checks: {check: nodes}, plan_hashes: {hash: nodes}} ("none": no annotation)."""
    failed, hashes = {}, {}
    for result in results:
        for check in sorted(set(f["check"] for f in result["failures"])):
            failed[check] = failed.get(check, 0) + 1
        key = result.get("plan_hash") or "none"
        hashes[key] = hashes.get(key, 0) + 1
    valid = sum(1 for r in results if r["valid"])
    return {"total": len(results), "valid": valid, "invalid": len(results) - valid,
            "failed_checks": dict(sorted(failed.items())), "plan_hashes": dict(sorted(hashes.items()))}


def pods_by_node(pods, names):
    """The pods bound to each of ``names`` ({name: [pod]}); pods elsewhere or unscheduled are dropped."""
    out = dict((name, []) for name in names)
    for pod in pods:
        bound = (pod.get("spec") or {}).get("nodeName")
        if bound in out:
            out[bound].append(pod)
    return out


def judge_fleet(nodes, pods, daemonset, opts, now, expected=(), configz=None):
    """Judge every node: ``nodes`` (the Node objects), ``pods`` (every pod, any node), ``expected``
    (names that must be in the fleet; those without a Node object fail node_ready), ``configz``
    ({name: answer or error string} or None). Returns (results sorted by name, summary)."""
    by_name = dict((node_name(n), n) for n in nodes)
    bound = pods_by_node(pods, by_name)
    results = [judge_node(by_name[name], bound[name], daemonset, opts, now,
                          None if configz is None else configz.get(name, "not read"))
               for name in sorted(by_name)]
    checks = audit_checks(opts, configz is not None)
    results.extend(missing_node(name, checks) for name in sorted(set(expected) - set(by_name)))
    results.sort(key=lambda r: r["name"])
    return results, summarise_fleet(results)


# --------------------------------------------------------------------------
# reading (a fixed number of requests)
# --------------------------------------------------------------------------
def read_configz(api, names, workers):
    """{name: /configz dict or error string} with at most ``workers`` requests in flight."""
    def one(name):
        try:
            return name, api.node_configz(name)
        except Exception as exc:  # pylint: disable=broad-except  # a KubeError or a transport error: per node
            return name, str(exc)
    if not names:
        return {}
    with ThreadPoolExecutor(max_workers=max(1, min(int(workers), len(names)))) as pool:
        return dict(pool.map(one, names))


# Expected nodes the selector missed are read one by one up to this many, else with one more paged list.
MISSING_GETS_MAX = 10


def _fleet_nodes(api, node_selector, expected, page_size):
    """(nodes, requests): the Nodes the selector returns plus the ``expected`` ones it missed.

    A few missed names (at most MISSING_GETS_MAX) cost one GET each; more cost one paged
    list of every Node, so the requests stay bounded by N/page_size + MISSING_GETS_MAX.
    """
    nodes, pages = api.list_paged("LIST nodes %s" % node_selector, "/api/v1/nodes",
                                  label_selector=node_selector or None, limit=page_size)
    wanted = sorted(set(expected) - set(node_name(n) for n in nodes))
    if len(wanted) > MISSING_GETS_MAX:
        everything, more = api.list_paged("LIST nodes", "/api/v1/nodes", limit=page_size)
        found = set(wanted)
        return nodes + [n for n in everything if node_name(n) in found], pages + more
    for name in wanted:
        node = api.get_node(name)
        pages += 1
        if node is not None:
            nodes.append(node)
    return nodes, pages


def collect(api, node_selector, expected=(), ptp_namespace="alphaswarm-bots", ptp_daemonset="quantbot-ptp",
            page_size=500, configz=False, configz_workers=8):
    """Read the fleet: returns ``{nodes, pods, daemonset, configz, requests}``.

    Requests: the Nodes matching ``node_selector`` (paged); for ``expected`` names not
    among them, a GET each (up to MISSING_GETS_MAX) or every Node once more; every Pod (paged,
    all namespaces); the PTP DaemonSet (one GET); and with ``configz`` one GET per node,
    counted apart. The three reads do not depend on each other and run side by side.
    ``requests`` = {nodes, pods, daemonset, total (the three), configz}.
    """
    with ThreadPoolExecutor(max_workers=3) as pool:
        node_read = pool.submit(_fleet_nodes, api, node_selector, expected, page_size)
        pod_read = pool.submit(api.list_paged, "LIST pods", "/api/v1/pods", limit=page_size)
        ds_read = pool.submit(api.get_daemonset, ptp_namespace, ptp_daemonset)
        nodes, node_pages = node_read.result()
        pods, pod_pages = pod_read.result()
        daemonset = ds_read.result()
    answers = read_configz(api, sorted(node_name(n) for n in nodes), configz_workers) if configz else None
    return {
        "nodes": nodes, "pods": pods, "daemonset": daemonset, "configz": answers,
        "requests": {"nodes": node_pages, "pods": pod_pages, "daemonset": 1,
                     "total": node_pages + pod_pages + 1, "configz": len(answers or {})},
    }


@contextlib.contextmanager
def _no_cycle_collection(freeze=False):
    """Pause the cyclic garbage collector (restored afterwards).

    The fleet's Nodes and Pods are hundreds of thousands of dicts and lists, decoded
    once; the collector would scan them again every few thousand allocations while
    they are decoded and judged (a fifth of the run at 1,000 nodes). They hold no
    reference cycles, so nothing is left uncollected. With ``freeze`` (a process that
    exits next, such as the module) everything alive is moved out of the collector's
    sight before it is enabled again, so that it does not scan the fleet once more.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if freeze and hasattr(gc, "freeze"):
            gc.freeze()
        if enabled:
            gc.enable()


def audit(api, node_selector, opts, now=None, expected=(), page_size=500, configz=False, configz_workers=8,
          freeze=False):
    """collect + judge_fleet: ``{nodes, summary, requests, checks}`` (what quantbot.hft.fleet_audit returns).

    ``freeze``: the caller exits soon after (the module); see _no_cycle_collection.
    """
    opts = options(opts)
    with _no_cycle_collection(freeze):
        data = collect(api, node_selector, expected, opts["ptp_namespace"], opts["ptp_daemonset"], page_size,
                       configz, configz_workers)
        try:
            results, summary = judge_fleet(data["nodes"], data["pods"], data["daemonset"], opts, now or utc_now(),
                                           expected, data["configz"])
        except ValidateError as exc:
            raise FleetError(str(exc))
    return {"nodes": results, "summary": summary, "requests": data["requests"],
            "checks": audit_checks(opts, configz)}
