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
  - Host-side facts are read on the host that runs the module (the node itself) from O(sysfs_root) and
    O(procfs_root), and from C(pmc) when O(ptp_config) is set; or they are given as O(host_facts).
  - The module never changes anything. It reports RV(valid) and RV(failures); set O(fail_on_invalid) to fail the task.
author:
  - quantbot.hft maintainers (@quantbot)
extends_documentation_fragment:
  - quantbot.hft.kube
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
  label_key:
    description: The HFT pool label.
    type: str
    default: quantbot.io/hft
  label_value:
    description: Value of O(label_key).
    type: str
    default: "true"
  ptp_namespace:
    description: Namespace of the PTP DaemonSet.
    type: str
    default: alphaswarm-bots
  ptp_daemonset:
    description: Name of the PTP DaemonSet; its pods are C(<name>-<id>).
    type: str
    default: quantbot-ptp
  hugepages_resource:
    description: Node resource name of the HugePages the bots request.
    type: str
    default: hugepages-2Mi
  hugepages_request:
    description: The bot's HugePages request, a Kubernetes quantity.
    type: str
    default: 1Gi
  vf_resource:
    description: Node resource name of the SR-IOV VFs (the SR-IOV device plugin's resource).
    type: str
    default: openshift.io/quantbot_hft_vf
  vf_request:
    description: The bot's VF request (0 or more).
    type: int
    default: 1
  cpu_manager_policy:
    description: Expected kubelet C(cpuManagerPolicy).
    type: str
    default: static
  topology_manager_policy:
    description: Expected kubelet C(topologyManagerPolicy). An empty string skips that check.
    type: str
    default: single-numa-node
  bot_namespace:
    description: Namespace of the HFT bot pods. Its pods on the node that no DaemonSet owns are bots.
    type: str
    default: alphaswarm-bots
  bot_selector:
    description: Labels a pod must carry to count as a bot (in addition to O(bot_namespace)).
    type: dict
    default: {}
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
  host_facts:
    description:
      - Host observations to use instead of reading the host, with the keys C(cmdline), C(isolated), C(nohz_full),
        C(hugepages), C(numa_balancing), C(numastat), C(node_cpus), C(nic_numa_node) and C(ptp), as returned in
        RV(host_facts). For tests and for validating from a captured state.
    type: dict
  gather_host:
    description: Read the host facts on the host that runs the module. Ignored when O(host_facts) is given.
    type: bool
    default: true
  sysfs_root:
    description: Root of sysfs.
    type: path
    default: /sys
  procfs_root:
    description: Root of procfs.
    type: path
    default: /proc
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
skipped_checks:
  description: Checks that could not run, and why.
  returned: success
  type: list
  elements: str
  sample: ["ptp sync (no pmc probe)"]
host_facts:
  description: The host observations the checks used.
  returned: success
  type: dict
  sample: {"numa_balancing": 0, "isolated": "", "nohz_full": "2-3,6-7",
           "hugepages": {"2M": {"0": 0, "1": 1024}}, "numastat": {"0": {"numa_miss": 0, "numa_foreign": 0}}}
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
from ansible_collections.quantbot.hft.plugins.module_utils._ptp import PtpError, parse_pmc
from ansible_collections.quantbot.hft.plugins.module_utils._validate import (
    ValidateError,
    check_plan,
    check_requests,
    gather_host_facts,
    record,
    run_checks,
    summarise,
)

PMC_COMMANDS = ["GET CURRENT_DATA_SET", "GET PORT_DATA_SET"]
OPTION_KEYS = ("label_key", "label_value", "ptp_namespace", "ptp_daemonset", "hugepages_resource",
               "hugepages_request", "vf_resource", "vf_request", "cpu_manager_policy",
               "topology_manager_policy", "bot_namespace", "bot_selector", "nic")


def argument_spec():
    spec = dict(
        node_name=dict(type="str", required=True, aliases=["name"]),
        plan=dict(type="dict"),
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
        nic=dict(type="str"),
        ptp_config=dict(type="path"),
        ptp_max_offset_ns=dict(type="float", default=100.0),
        host_facts=dict(type="dict"),
        gather_host=dict(type="bool", default=True),
        sysfs_root=dict(type="path", default="/sys"),
        procfs_root=dict(type="path", default="/proc"),
        fail_on_invalid=dict(type="bool", default=False),
    )
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
    if not params["gather_host"]:
        return {}
    facts = gather_host_facts(params["sysfs_root"], params["procfs_root"], nic=params["nic"])
    if params["ptp_config"]:
        facts["ptp"] = probe_ptp(module, params["ptp_config"])
    return facts


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    if not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib("kubernetes"), exception=KUBERNETES_IMPORT_ERROR)
    params = module.params
    name = params["node_name"]
    opts = dict((key, params[key]) for key in OPTION_KEYS)
    opts["ptp_offset_threshold_ns"] = params["ptp_max_offset_ns"]
    extra = []
    try:
        check_plan(params["plan"])
        check_requests(params["vf_request"], params["hugepages_request"])
        api = KubeApi(get_api_client(auth_params(params)), timeout=params["api_timeout"])
        node = api.get_node(name)
        if node is None:
            module.fail_json(msg="Node %s does not exist (is the host joined? see quantbot.hft.node_join)" % name)
        pods = api.list_pods_on_node(name)
        try:
            configz = api.node_configz(name)
        except KubeError as exc:
            configz = None
            extra.append(record("kubelet_configz", False, "GET /api/v1/nodes/%s/proxy/configz answers" % name,
                                str(exc), "the kubelet must be reachable through the API server's node proxy "
                                "and the credentials need nodes/proxy get"))
        host = host_observations(module)
        records, skipped = run_checks(node, pods, configz, host, params["plan"], opts)
    except (KubeError, ValidateError) as exc:
        module.fail_json(msg=str(exc))
    result = summarise(extra + records)
    result.update(changed=False, skipped_checks=skipped, host_facts=host)
    if params["fail_on_invalid"] and not result["valid"]:
        module.fail_json(msg="node %s is not valid for HFT bots: %s" % (
            name, ", ".join(sorted(set(f["check"] for f in result["failures"])))), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
