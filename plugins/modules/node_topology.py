#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r"""
module: node_topology
short_description: Read a host's CPU, NUMA and NIC topology and plan its HFT partitioning
version_added: 0.1.0
description:
  - Reads the host topology from standard sysfs files only
    (C(devices/system/cpu/online), C(devices/system/cpu/cpuN/topology/{physical_package_id,core_id,thread_siblings_list}),
    C(devices/system/node/nodeN/{cpulist,meminfo}) and C(class/net/IFACE/device/{numa_node,sriov_totalvfs}))
    under O(sysfs_root), and the running kernel command line from O(cmdline_path).
  - Returns the topology (sockets, NUMA nodes with their CPUs and memory, SMT sibling groups, NICs with their
    NUMA node) and a plan that every later step of the onboarding consumes
    (the plan contract in C(docs/ARCHITECTURE.md)).
  - By default the plan reserves, on B(every) NUMA node, the first physical core of that node (the core that holds
    the node's lowest-numbered CPU) with all its SMT siblings for housekeeping, and isolates every other CPU.
    SMT siblings are never split, and NUMA numbering is never assumed to be contiguous (many dual-socket servers
    give node 0 the even CPUs and node 1 the odd ones).
  - HugePages go to the NUMA node of the NICs named in O(nics) (the PTP and SR-IOV ports).
  - The module changes nothing on the host. It fails, naming the problem, for overlapping or non-online CPU sets,
    split SMT cores, NUMA nodes left without a housekeeping CPU, isolating every CPU or CPU 0, HugePages beyond a node's
    memory, unknown NICs, NICs on different NUMA nodes and malformed cpulists.
author:
  - quantbot.hft maintainers (@quantbot)
extends_documentation_fragment:
  - quantbot.hft.attributes
  - quantbot.hft.attributes.info_module
  - quantbot.hft.attributes.platform
attributes:
  platform:
    platforms: linux
    details:
      - Needs a Linux sysfs with NUMA support (C(CONFIG_NUMA), as in Debian and RHEL kernels).
      - The per-node C(hugepages=<node>:<count>) boot syntax it plans needs Linux 5.16 or newer (Debian 12 ships 6.1).
options:
  sysfs_root:
    description:
      - Root of the sysfs tree to read.
      - Point it at a captured tree (for example C(tests/unit/fixtures/sysfs/lab-vm)) to plan for a host offline.
    type: path
    default: /sys
  cmdline_path:
    description:
      - File holding the running kernel command line, compared token by token with the planned arguments.
      - If the file does not exist (for example when planning from a captured tree), RV(plan.cmdline_read) is
        V(false), every planned argument is reported missing and RV(plan.reboot_required) is V(true).
    type: path
    default: /proc/cmdline
  nics:
    description:
      - Interfaces the HFT pods use (the PTP port and the SR-IOV physical functions).
      - Their NUMA node becomes RV(plan.hft_numa_node). They must all sit on the same node.
      - A NIC whose C(numa_node) is V(-1) (no NUMA information) means node 0 on a one-node machine; on a
        multi-node machine the module uses O(hft_numa_node) if given, else node 0, and warns.
      - When empty, the HFT node is O(hft_numa_node), else node 0 (with a warning on multi-node machines).
    type: list
    elements: str
    default: []
  hft_numa_node:
    description:
      - NUMA node for the HFT pods and their HugePages. Overrides the NICs' node (with a warning when it differs).
      - Must be an existing NUMA node with CPUs.
    type: int
  reserved_cores_per_node:
    description:
      - Physical cores (each with all its SMT siblings) reserved for housekeeping on every NUMA node, taken in
        order of their lowest CPU number.
      - Must be at least 1, no more than any node has, and less than the HFT node has (otherwise nothing would be
        isolated there).
      - Ignored when O(reserved_cpus) or O(isolated_cpus) is given.
    type: int
    default: 1
  reserved_cpus:
    description:
      - Explicit housekeeping CPUs as a kernel cpulist (V(0-1,40-41)). Strict syntax, no spaces, no stride form.
      - If only O(reserved_cpus) is given, every other online CPU is isolated.
      - If both O(reserved_cpus) and O(isolated_cpus) are given, they must be disjoint and together cover every
        online CPU exactly, so that no CPU is left in an unplanned state.
      - Every NUMA node with CPUs must keep at least one reserved CPU, no SMT core may be split, and CPU 0
        stays reserved (the kernel keeps the boot CPU for timekeeping and drops it from C(nohz_full)).
    type: str
  isolated_cpus:
    description:
      - Explicit isolated CPUs as a kernel cpulist. If only O(isolated_cpus) is given, every other online CPU is
        reserved.
      - An empty string isolates nothing; then no C(isolcpus), C(nohz_full), C(rcu_nocbs) or C(irqaffinity)
        argument is planned.
    type: str
  hugepages_2m:
    description: Number of 2 MiB pages on the HFT NUMA node. The runbook default is 1024 (2 GiB).
    type: int
    default: 1024
  hugepages_1g:
    description: Number of 1 GiB pages on the HFT NUMA node.
    type: int
    default: 0
  hugepages:
    description:
      - 'Explicit pages per size per NUMA node, for example V({"2M": {"0": 0, "1": 512}, "1G": {"1": 2}}).'
      - Size keys are V(2M) and V(1G) only; node keys are node numbers; counts are integers V(>= 0).
      - A size given here replaces O(hugepages_2m) or O(hugepages_1g) entirely (nodes not listed get 0 pages);
        a size left out keeps its default.
      - The pages of one node may take at most its C(MemTotal) minus the larger of 10% of C(MemTotal) and 256 MiB.
    type: dict
  isolcpus_flags:
    description:
      - Flags of the C(isolcpus=) argument.
      - V(managed_irq) keeps managed device interrupts off the isolated CPUs where possible. OpenShift's
        performance profile emits it by default.
      - V(domain) removes the CPUs from scheduler load balancing. The threads of a multi-threaded container
        pinned to several isolated CPUs can then pile up on one CPU (moby issue 31086). Add it only with a reason.
      - V(nohz) is the C(isolcpus) spelling of C(nohz_full) isolation.
      - An empty list leaves C(isolcpus=) out (a bare C(isolcpus=<cpus>) would mean V(domain) to the kernel);
        C(nohz_full=) and C(rcu_nocbs=) stay.
    type: list
    elements: str
    choices: [managed_irq, domain, nohz]
    default: [managed_irq]
  iommu:
    description:
      - Add O(iommu_args) to the kernel arguments, as SR-IOV with C(vfio-pci) needs.
      - On AMD the IOMMU is on by default (C(amd_iommu) needs no argument); C(iommu=pt) still helps host DMA.
    type: bool
    default: false
  iommu_args:
    description:
      - The IOMMU kernel arguments added when O(iommu=true). Unset, they follow the CPU vendor (C(vendor_id) of
        O(cpuinfo_path)) - V(intel_iommu=on iommu=pt) on Intel; V(iommu=pt) on AMD, whose IOMMU is on by default
        (V(amd_iommu=on) is not a valid value) and on others.
    type: list
    elements: str
  cpuinfo_path:
    description: Where the CPU vendor and flags are read (the IOMMU arguments, C(tsc=reliable)).
    type: path
    default: /proc/cpuinfo
  settings:
    description:
      - The latency settings (C(hft_latency_settings)), each with one owner, planned here and returned in
        RV(plan.settings) with the decision for this host. Keys and defaults - C(watchdogs) (V(true),
        C(nmi_watchdog=0 nosoftlockup)), C(skew_tick) (V(true), C(skew_tick=1)), C(tsc_reliable) (V(auto),
        C(tsc=reliable) only with C(constant_tsc) and C(nonstop_tsc)), C(cstates) (V(n/a),
        C(pm_qos_resume_latency_us) on the isolated CPUs, tuned role), C(governor) (V(performance), where cpufreq
        exists, tuned role), C(thp) (V(never), tuned role), C(swap) (V(off), hugepages role), C(timer_migration)
        (V(0)) and C(stat_interval) (V(10)) (sysctls, tuned role), C(irq_affinity) (V(true), the HFT NIC's
        interrupts on the housekeeping CPUs of its node, tuned role).
      - V(false) (or an empty string) turns a knob off - the collection then does not manage that setting.
    type: dict
    default: {}
  extra_kernel_args:
    description:
      - Further kernel arguments (C(hft_kernel_args_extra)), appended to the plan's, owned by the boot_args role
        like the others and shown in the plan.
      - Each must be one argument (no spaces, quotes or shell characters), given once, with a key that the plan
        does not already set; otherwise the module fails naming it.
    type: list
    elements: str
    default: []
notes:
  - The order of RV(plan.kernel_args) is C(isolcpus), C(nohz_full), C(rcu_nocbs), C(irqaffinity),
    C(default_hugepagesz), then C(hugepagesz)/C(hugepages) pairs for 2M and 1G (only sizes and nodes with pages,
    in the kernel's per-node C(<node>:<count>) form), then the IOMMU arguments, then O(extra_kernel_args).
  - C(default_hugepagesz) is V(2M) when 2 MiB pages are planned, else V(1G) when only 1 GiB pages are.
  - C(irqaffinity) is left out when every CPU is reserved, since that is the kernel default.
  - The comparison with the running command line is by exact token; a C(hugepages=) token only counts when it
    follows the same C(hugepagesz=).
  - The plan is a read-only computation. The O(ignore:changed) result is always V(false).
seealso:
  - name: Kernel parameters (isolcpus, nohz_full, rcu_nocbs, irqaffinity, hugepages)
    description: The kernel's documentation of the boot arguments this module plans.
    link: https://docs.kernel.org/admin-guide/kernel-parameters.html
  - name: HugeTLB pages
    description: Per-node boot-time HugePages syntax.
    link: https://docs.kernel.org/admin-guide/mm/hugetlbpage.html
"""

EXAMPLES = r"""
- name: Plan the HFT partitioning of a node, HugePages next to the PTP and SR-IOV ports
  quantbot.hft.node_topology:
    nics:
      - ens1f0
      - ens1f1
  register: __hft_topology

- name: Show the kernel arguments the boot_args role will set
  ansible.builtin.debug:
    var: __hft_topology.plan.kernel_args

- name: Plan with two reserved cores per node, 1 GiB pages and vfio IOMMU arguments
  quantbot.hft.node_topology:
    nics: [ens1f0, ens1f1]
    reserved_cores_per_node: 2
    hugepages_2m: 0
    hugepages_1g: 8
    iommu: true

- name: Plan from explicit CPU sets and per-node pages
  quantbot.hft.node_topology:
    nics: [ens1f0]
    reserved_cpus: "0-1,40-41"
    hugepages:
      2M: {"0": 256, "1": 1024}
      1G: {"1": 4}

- name: Plan offline from a captured sysfs tree of the lab node
  quantbot.hft.node_topology:
    sysfs_root: tests/unit/fixtures/sysfs/lab-vm
    cmdline_path: /nonexistent
    nics: [eth1, eth2]
    hugepages_2m: 64
  delegate_to: localhost
"""

RETURN = r"""
topology:
  description: Facts read from sysfs.
  returned: success
  type: dict
  contains:
    online_cpus:
      description: Online CPUs as a canonical cpulist.
      type: str
      returned: success
      sample: "0-7"
    sockets:
      description: Physical package ids.
      type: list
      elements: int
      returned: success
      sample: [0, 1]
    numa_nodes:
      description:
        - NUMA nodes keyed by node id as a string, each with C(cpus) (cpulist), C(cpu_list) (ints),
          C(memory_kb) (C(MemTotal)) and C(cores) (the SMT sibling groups of the node).
      type: dict
      returned: success
      sample: {"0": {"cpus": "0-3", "cpu_list": [0, 1, 2, 3], "memory_kb": 1441788, "cores": [[0, 1], [2, 3]]}}
    smt_siblings:
      description: One list of CPUs per physical core.
      type: list
      elements: list
      returned: success
      sample: [[0, 1], [2, 3], [4, 5], [6, 7]]
    threads_per_core:
      description: Largest number of SMT threads in one core.
      type: int
      returned: success
      sample: 2
    physical_cores:
      description: Every physical core with its C(socket), C(core_id), C(node) and C(cpus).
      type: list
      elements: dict
      returned: success
      sample: [{"socket": 0, "core_id": 0, "node": 0, "cpus": [0, 1]}]
    nics:
      description:
        - Interfaces with a backing device, keyed by name, with C(numa_node) (V(-1) = unknown) and
          C(sriov_totalvfs) (V(0) = no SR-IOV).
      type: dict
      returned: success
      sample: {"eth1": {"numa_node": 1, "sriov_totalvfs": 7}}
    cpu:
      description:
        - The CPU as read from O(cpuinfo_path) and sysfs - C(vendor) (C(vendor_id), V(null) when unknown), C(flags)
          (sorted) and C(cpufreq) (whether a cpufreq policy exists); the latency settings are planned from it.
      type: dict
      returned: success
      sample: {"vendor": "GenuineIntel", "flags": ["constant_tsc", "nonstop_tsc"], "cpufreq": true}
plan:
  description: The partitioning plan (the plan contract in C(docs/ARCHITECTURE.md)).
  returned: success
  type: dict
  contains:
    reserved_cpus:
      description: Housekeeping CPUs as a canonical cpulist.
      type: str
      returned: success
      sample: "0-1,4-5"
    isolated_cpus:
      description: Isolated CPUs as a canonical cpulist (may be empty).
      type: str
      returned: success
      sample: "2-3,6-7"
    hft_numa_node:
      description: The NUMA node of the HFT NICs, pods and HugePages.
      type: int
      returned: success
      sample: 1
    hft_housekeeping_cpus:
      description:
        - The housekeeping CPUs (of RV(plan.reserved_cpus)) on the HFT NUMA node, as a canonical cpulist; the HFT NIC's
          interrupts and RPS/XPS masks go there (the tuned role's C(tuned_irq_cpus)).
      type: str
      returned: success
      sample: "4-5"
    nics:
      description: The interfaces the plan was made for (O(nics)).
      type: list
      elements: str
      returned: success
      sample: ["enp65s0", "ens1f0"]
    hugepages:
      description: Pages per size (V(2M), V(1G)) per NUMA node (node ids as strings).
      type: dict
      returned: success
      sample: {"2M": {"0": 0, "1": 1024}, "1G": {"0": 0, "1": 0}}
    kernel_args:
      description: Ordered kernel arguments that the boot_args role applies exactly.
      type: list
      elements: str
      returned: success
      sample: ["isolcpus=managed_irq,2-3,6-7", "nohz_full=2-3,6-7", "rcu_nocbs=2-3,6-7", "irqaffinity=0-1,4-5",
               "default_hugepagesz=2M", "hugepagesz=2M", "hugepages=1:1024"]
    iommu_args:
      description:
        - The IOMMU kernel arguments for this CPU vendor (or O(iommu_args) when given), whether or not the plan
          enables the IOMMU; the sriov role checks them when a VF is bound to vfio-pci.
      type: list
      elements: str
      returned: success
      sample: ["intel_iommu=on", "iommu=pt"]
    settings:
      description:
        - The latency settings (O(settings)), one entry per knob, each C({value, owner, decision, args}) - the value
          applied on this host (V(null) when not managed or skipped), the role that owns it, the reason in words,
          and the kernel arguments it adds to RV(plan.kernel_args).
      type: dict
      returned: success
      sample: {"skew_tick": {"value": 1, "owner": "boot_args", "decision": "ticks skewed so they do not fire on every
               CPU at once", "args": ["skew_tick=1"]}}
    cmdline_read:
      description: Whether O(cmdline_path) existed and was read.
      type: bool
      returned: success
      sample: true
    cmdline_missing:
      description: Planned arguments absent from the running kernel command line.
      type: list
      elements: str
      returned: success
      sample: ["hugepages=1:1024"]
    reboot_required:
      description: True when RV(plan.cmdline_missing) is not empty.
      type: bool
      returned: success
      sample: true
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.quantbot.hft.plugins.module_utils._topology import (
    DEFAULT_ISOLCPUS_FLAGS,
    ISOLCPUS_FLAGS,
    TopologyError,
    build,
)


def argument_spec():
    return dict(
        sysfs_root=dict(type="path", default="/sys"),
        cmdline_path=dict(type="path", default="/proc/cmdline"),
        nics=dict(type="list", elements="str", default=[]),
        hft_numa_node=dict(type="int"),
        reserved_cores_per_node=dict(type="int", default=1),
        reserved_cpus=dict(type="str"),
        isolated_cpus=dict(type="str"),
        hugepages_2m=dict(type="int", default=1024),
        hugepages_1g=dict(type="int", default=0),
        hugepages=dict(type="dict"),
        isolcpus_flags=dict(type="list", elements="str", choices=list(ISOLCPUS_FLAGS),
                            default=list(DEFAULT_ISOLCPUS_FLAGS)),
        iommu=dict(type="bool", default=False),
        iommu_args=dict(type="list", elements="str"),
        extra_kernel_args=dict(type="list", elements="str", default=[]),
        cpuinfo_path=dict(type="path", default="/proc/cpuinfo"),
        settings=dict(type="dict", default={}),
    )


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = dict(module.params)
    try:
        result = build(**params)
    except TopologyError as exc:
        module.fail_json(msg=str(exc), changed=False)
    for warning in result.pop("warnings"):
        module.warn(warning)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
