#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r"""
module: node_validate
short_description: Check that a node is fit for HFT bots, from the API down to the kernel
version_added: 0.1.0
description:
  - Runs the onboarding runbook's operator checks (step 7) against the API, the checks that the QuantBot Operator's
    webhook applies before it schedules an HFT bot
    (the C(quantbot.io/hft) label is present; the PTP DaemonSet pod is Running on the node; allocatable
    C(hugepages-2Mi) covers the bot's request; allocatable C(openshift.io/quantbot_hft_vf) covers the bot's request).
  - Adds cross-layer checks. The kubelet's C(/configz) (through the API server's node proxy) shows
    C(cpuManagerPolicy) and C(topologyManagerPolicy) as asked, and C(reservedSystemCPUs), when set,
    equals RV(ignore:plan.reserved_cpus). C(/proc/cmdline) holds every planned kernel argument.
    C(/sys/devices/system/cpu/isolated) and C(nohz_full) match the plan. HugePages per NUMA node are as planned.
    The NIC sits on the NUMA node that holds the isolated CPUs. C(kernel.numa_balancing) is 0. The PTP port is
    SLAVE with C(|offsetFromMaster|) within bounds. HFT bot pods already on the node are Guaranteed QoS with whole
    CPUs (requests equal to limits), and every bot pod that is not is named.
    C(numa_miss)/C(numa_foreign) per node are reported.
  - C(/sys/devices/system/cpu/isolated) lists only CPUs isolated from the scheduler domains (C(isolcpus) without
    flags or with C(domain)). With the plan's default C(isolcpus=managed_irq,...) the kernel leaves it empty, and the
    module expects it empty; C(nohz_full) is then the file that shows the isolation.
  - API reads are one request per kind of object, the Node, one list of the pods bound to the node (for the PTP pod
    and the bots) and the kubelet configuration, whatever the number of pods.
  - Host-side facts are read on the host that runs the module (the node itself) by the same code as
    M(quantbot.hft.host_facts), and from C(pmc) when O(ptp_config) is set; or they are given as O(host_facts).
  - The module never changes anything. It reports RV(valid) and RV(failures); set O(fail_on_invalid) to fail the task.
author:
  - quantbot.hft maintainers (@quantbot)
extends_documentation_fragment:
  - quantbot.hft.kube
  - quantbot.hft.hft_checks
  - quantbot.hft.attributes
  - quantbot.hft.attributes.info_module
  - quantbot.hft.attributes.platform
attributes:
  platform:
    platforms: linux
    details:
      - Host checks read Linux C(/proc) and C(/sys); the API checks run anywhere.
options:
  node_name:
    description: Name of the Node object (the host being validated).
    type: str
    required: true
    aliases: [name]
  plan:
    description:
      - The C(plan) returned by M(quantbot.hft.node_topology) (C(hft_plan)), with C(kernel_args), C(isolated_cpus),
        C(reserved_cpus), C(hft_numa_node) and C(hugepages).
      - Without it the plan-based host checks are skipped and listed in RV(skipped_checks).
      - Anything else is refused before any API request, naming what was given, for example the whole registered
        result of M(quantbot.hft.node_topology) instead of its C(plan), or a page count that is not a whole number.
    type: dict
  nic:
    description: The HFT NIC (PTP/SR-IOV port), for the NUMA placement check.
    type: str
  ptp_config:
    description:
      - ptp4l configuration file of the PTP port. When set, the module asks ptp4l with
        C(pmc -u -b 0 -f PTP_CONFIG 'GET CURRENT_DATA_SET' 'GET PORT_DATA_SET').
    type: path
  ptp_max_offset_ns:
    description: Largest acceptable C(|offsetFromMaster|) in nanoseconds.
    type: float
    default: 100.0
  ptp_peak_offset_ns:
    description:
      - Largest acceptable C(|offsetFromMaster|) of any sample in the window, in nanoseconds. Unset, the same as
        O(ptp_max_offset_ns), which bounds the window's p99.
    type: float
  scope:
    description:
      - V(all) runs the API checks and the host checks. V(host) runs only the host checks, on the host that runs the
        module, without any API call and without the kubernetes client (the post-boot assertions use it, so what is
        asserted after a reboot and what is validated at the end are the same code). V(api) runs only the API checks.
    type: str
    choices: [all, host, api]
    default: all
  expect:
    description:
      - Replaces what the host checks expect from O(plan), for a role input that overrides the plan.
      - C(kernel_args) (list), C(isolated_cpus) (cpulist), C(hugepages) (pages per size per node, as in the plan),
        C(hft_numa_node) (int), C(tuned_profile) (the tuned profile that must be active; unset skips that check) and
        C(vfs) (VFs per PF, for example V(ens1f0) with 4 VFs; unset skips that check).
    type: dict
    default: {}
  host_facts:
    description:
      - The host as M(quantbot.hft.host_facts) returns it (its RV(quantbot.hft.host_facts#module:host_facts)), plus an optional
        C(ptp) key with a pmc probe. Use it when the module runs elsewhere than on the node (the API side runs where
        the credentials are). Without it, and with O(gather_host), the module reads the host it runs on.
    type: dict
  gather_host:
    description: Read the host on the host that runs the module. Ignored when O(host_facts) is given.
    type: bool
    default: true
  sysfs_root:
    description: Root of sysfs, for O(gather_host).
    type: path
    default: /sys
  procfs_root:
    description: Root of procfs, for O(gather_host).
    type: path
    default: /proc
  fs_root:
    description: Root of every other path read by O(gather_host).
    type: path
    default: /
  gate_taint_key:
    description:
      - Key of the gate taint that keeps bots off a node until it is validated. RV(gated) says whether the Node
        carries it (the playbooks lift it when RV(valid) is true).
    type: str
    default: quantbot.io/hft-unverified
  latency:
    description:
      - The result of M(quantbot.hft.latency_probe) on the node (registered variable). When set, the checks
        C(isolated_cpus_quiet) (no device interrupt and no stray user task on an isolated CPU during the probe's
        window, a free isolated CPU's busy time and its interrupt rates under O(latency_limits)) and C(latency)
        (oslat's max and p99.9 per isolated CPU that no pod holds) run, in O(scope=all) and O(scope=host).
      - Unset, both checks are not run and RV(skipped_checks) names them.
    type: dict
  latency_limits:
    description:
      - Thresholds of the two latency checks. Keys, all optional, C(max_us) (default 20), C(max_p99_9_us) (default
        10), C(max_busy_percent) (default 1.0), C(max_irq_rates) (per second per CPU, merged over C(LOC) 20, C(RES)
        1, C(CAL) 1, C(TLB) 1; a null value reports without judging), C(max_softirq_rates) (the same for softirqs,
        none by default), C(allowed_task_kinds) (default V(pinned) and V(pod_sandbox)).
      - An unknown key or a value that is not a number is refused, naming it.
    type: dict
    default: {}
  fail_on_invalid:
    description: Fail the task when RV(valid) is false (the result still carries RV(failures)).
    type: bool
    default: false
requirements:
  - pmc (linuxptp) on the node when O(ptp_config) is set
seealso:
  - module: quantbot.hft.node_topology
  - module: quantbot.hft.ptp_probe
  - name: Control CPU Management Policies on the Node
    description: Why bots need Guaranteed QoS with integer CPU requests to get exclusive CPUs.
    link: https://kubernetes.io/docs/tasks/administer-cluster/cpu-management-policies/
"""

EXAMPLES = r"""
- name: Plan the node
  quantbot.hft.node_topology:
    nics: [ens1f0]
  register: __hft_topology

- name: Validate the node for HFT bots (runbook step 7 plus the cross-layer checks)
  quantbot.hft.node_validate:
    node_name: "{{ inventory_hostname_short }}"
    kubeconfig: /etc/kubernetes/kubelet.conf
    plan: "{{ __hft_topology.plan }}"
    nic: ens1f0
    ptp_config: /etc/linuxptp/ptp4l-ens1f0.conf
    hugepages_request: 2Gi
    vf_request: 2
  register: __hft_validation

- name: Show what is wrong
  ansible.builtin.debug:
    var: __hft_validation.failures
  when: not __hft_validation.valid

- name: Only the runbook's API checks, from the control node
  quantbot.hft.node_validate:
    node_name: hft-node-07
    gather_host: false
    fail_on_invalid: true
  delegate_to: localhost
"""

RETURN = r"""
valid:
  description: True when every check passed.
  returned: success
  type: bool
  sample: false
failures:
  description: The failed checks, in the runbook's shape.
  returned: success
  type: list
  elements: dict
  contains:
    check:
      description: Check name.
      type: str
      sample: label
    expected:
      description: What the check wanted.
      type: raw
      sample: quantbot.io/hft=true
    actual:
      description: What it found.
      type: raw
      sample: quantbot.io/hft absent
    hint:
      description: What to do about it.
      type: str
      sample: run quantbot.hft.node_label (kubectl label nodes hft-node-07 quantbot.io/hft=true)
  sample:
    - check: bot_pod_qos
      expected: Guaranteed QoS; every container's cpu request an integer equal to its limit
      actual: {"pod": "alphaswarm-bots/mm-bot-ethusd-0", "problems": ["QoS BestEffort, not Guaranteed",
               "container bot: no cpu request"]}
      hint: set requests == limits for cpu (whole CPUs) and memory
checks:
  description: Every check that ran, passed or not, each with C(check), C(ok), C(expected), C(actual) and C(hint).
  returned: success
  type: list
  elements: dict
  sample: [{"check": "label", "ok": true, "expected": "quantbot.io/hft=true", "actual": "quantbot.io/hft=true",
            "hint": ""}]
gated:
  description: The Node carries the taint O(gate_taint_key) (false in O(scope=host)).
  returned: success
  type: bool
annotations:
  description:
    - The Node's C(quantbot.io/hft-*) annotations as they were before this run (the last recorded verdict;
      empty in O(scope=host)). The playbooks compare them with the new verdict to record it only when it changed
      or was measured anew.
  returned: success
  type: dict
  sample: {"quantbot.io/hft-valid": "true", "quantbot.io/hft-failed-checks": ""}
skipped_checks:
  description: Checks that could not run, and why.
  returned: success
  type: list
  elements: str
  sample: ["ptp sync (no pmc probe)"]
host_facts:
  description: The host observations the checks used (the shape of M(quantbot.hft.host_facts)).
  returned: success
  type: dict
  sample: {"cmdline": "BOOT_IMAGE=... nohz_full=2-3,6-7", "cpus": {"isolated": "", "nohz_full": "2-3,6-7"},
           "sysctl": {"kernel.numa_balancing": 0}}
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.quantbot.hft.plugins.module_utils._kube import (
    HAS_KUBERNETES,
    KUBE_AUTH_ARG_SPEC,
    KUBERNETES_IMPORT_ERROR,
    KubeApi,
    KubeError,
    auth_params,
    get_api_client,
)
from ansible_collections.quantbot.hft.plugins.module_utils._hostfacts import HostFactsError, Reader, gather
from ansible_collections.quantbot.hft.plugins.module_utils._latency import latency_records
from ansible_collections.quantbot.hft.plugins.module_utils._ptp import PtpError, parse_pmc
from ansible_collections.quantbot.hft.plugins.module_utils._validate import (
    CHECK_ARG_SPEC,
    ValidateError,
    check_plan,
    check_requests,
    record,
    run_checks,
    run_host_checks,
    summarise,
)

# What the host checks read (the rest of host_facts is not needed here).
HOST_READERS = ("cmdline", "cpus", "numa", "sysctl", "nics", "tuned", "thp", "swap", "state", "boot", "units")

PMC_COMMANDS = ["GET CURRENT_DATA_SET", "GET PORT_DATA_SET"]
OPTION_KEYS = tuple(CHECK_ARG_SPEC) + ("nic",)


def argument_spec():
    spec = dict(
        node_name=dict(type="str", required=True, aliases=["name"]),
        plan=dict(type="dict"),
        nic=dict(type="str"),
        ptp_config=dict(type="path"),
        ptp_max_offset_ns=dict(type="float", default=100.0),
        ptp_peak_offset_ns=dict(type="float"),
        scope=dict(type="str", choices=["all", "host", "api"], default="all"),
        expect=dict(type="dict", default={}),
        host_facts=dict(type="dict"),
        gather_host=dict(type="bool", default=True),
        sysfs_root=dict(type="path", default="/sys"),
        procfs_root=dict(type="path", default="/proc"),
        fs_root=dict(type="path", default="/"),
        gate_taint_key=dict(type="str", default="quantbot.io/hft-unverified", no_log=False),
        latency=dict(type="dict"),
        latency_limits=dict(type="dict", default={}),
        fail_on_invalid=dict(type="bool", default=False),
    )
    spec.update(CHECK_ARG_SPEC)
    spec.update(KUBE_AUTH_ARG_SPEC)
    return spec


def probe_ptp(module, config):
    pmc = module.get_bin_path("pmc")
    if not pmc:
        return {"error": "pmc (linuxptp) is not installed on this host"}
    rc, out, err = module.run_command([pmc, "-u", "-b", "0", "-f", config] + PMC_COMMANDS, check_rc=False)
    if rc != 0:
        return {"error": "pmc exited %s: %s" % (rc, (err or out).strip()[:300])}
    try:
        probe = parse_pmc(out)
    except PtpError as exc:
        return {"error": str(exc)}
    if not probe.get("responding"):
        return {"error": "ptp4l did not answer pmc (is the ptp4l instance for %s running?)" % config}
    return dict((k, probe.get(k)) for k in ("port_state", "offset_ns", "mean_path_delay_ns", "steps_removed"))


def host_observations(module):
    params = module.params
    if params["host_facts"] is not None:
        return dict(params["host_facts"])
    if not params["gather_host"] or params["scope"] == "api":
        return {}

    def run(argv):
        if not module.get_bin_path(argv[0]):
            return 127, ""
        rc, out, dummy_err = module.run_command(argv, check_rc=False, environ_update={"LC_ALL": "C"})
        return rc, out

    reader = Reader(sysfs_root=params["sysfs_root"], procfs_root=params["procfs_root"], fs_root=params["fs_root"],
                    run=run)
    facts, dummy_errors = gather(reader, HOST_READERS)
    if params["ptp_config"]:
        facts["ptp"] = probe_ptp(module, params["ptp_config"])
    return facts


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = module.params
    scope = params["scope"]
    if scope != "host" and not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib("kubernetes"), exception=KUBERNETES_IMPORT_ERROR)
    name = params["node_name"]
    opts = dict((key, params[key]) for key in OPTION_KEYS)
    opts["ptp_offset_threshold_ns"] = params["ptp_max_offset_ns"]
    opts["ptp_offset_max_ns"] = params["ptp_peak_offset_ns"]
    opts["expect"] = params["expect"]
    extra = []
    skipped = []
    host = {}
    gated = False
    notes = {}
    try:
        check_plan(params["plan"])
        check_requests(params["vf_request"], params["hugepages_request"])
        host = host_observations(module)
        if scope == "host":
            records, skipped = run_host_checks(host, params["plan"], opts, params["expect"])
        else:
            api = KubeApi(get_api_client(auth_params(params)), timeout=params["api_timeout"])
            node = api.get_node(name)
            if node is None:
                module.fail_json(msg="Node %s does not exist (is the host joined? see quantbot.hft.node_join)" % name)
            gated = any(taint.get("key") == params["gate_taint_key"]
                        for taint in (node.get("spec") or {}).get("taints") or [])
            notes = dict((key, value) for key, value in
                         (((node.get("metadata") or {}).get("annotations")) or {}).items()
                         if key.startswith("quantbot.io/hft-"))
            pods = api.list_pods_on_node(name)
            try:
                configz = api.node_configz(name)
            except KubeError as exc:
                configz = None
                extra.append(record("kubelet_configz", False, "GET /api/v1/nodes/%s/proxy/configz answers" % name,
                                    str(exc), "the kubelet must be reachable through the API server's node proxy "
                                    "and the credentials need nodes/proxy get"))
            records, skipped = run_checks(node, pods, configz, host if scope == "all" else None,
                                          params["plan"], opts)
        if scope != "api":
            if params["latency"] is None:
                skipped.append("isolated_cpus_quiet, latency (no latency_probe result)")
            else:
                records.extend(latency_records(params["latency"], params["latency_limits"]))
    except (KubeError, ValidateError, HostFactsError) as exc:
        module.fail_json(msg=str(exc))
    result = summarise(extra + records)
    result.update(changed=False, skipped_checks=skipped, host_facts=host, scope=scope, gated=gated,
                  annotations=notes)
    if params["fail_on_invalid"] and not result["valid"]:
        module.fail_json(msg="node %s is not valid for HFT bots: %s" % (
            name, "; ".join("%s (expected %s, actual %s%s)" % (f["check"], f["expected"], f["actual"],
                                                               ": " + f["hint"] if f["hint"] else "")
                            for f in result["failures"])), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
