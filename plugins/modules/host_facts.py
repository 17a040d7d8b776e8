#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r"""
module: host_facts
short_description: Read everything quantbot.hft needs to know about a host, in one pass
version_added: 0.2.0
description:
  - The observation layer of the collection. Reads, once, what the host roles, the post-boot assertions and the
    validation need about the host, and returns it as one dictionary (RV(host_facts)). Nothing is judged here;
    the rules live in the collection's module_utils and run on this data.
  - Readers (the top-level keys of RV(host_facts)) are C(os) (C(/etc/os-release)), C(cmdline) (the running kernel
    command line), C(cpus) (online, present, isolated and nohz_full CPUs, CPU vendor and flags, cpufreq governors),
    C(numa) (per node CPUs, C(MemTotal), HugePages total and free per size, numastat), C(hugepage_sizes),
    C(sysctl), C(thp), C(swap), C(pid1) (PID 1's CPU affinity), C(nics) (per interface with a device - raw
    C(numa_node), PCI ids, driver, SR-IOV counts, VFs with their drivers, PHC index, MSI IRQs and their affinity,
    RPS/XPS masks, timestamping capability bits), C(tuned) (active profile, available profiles, what tuned's
    bootloader plugin wrote), C(units) (the collection's units and the time daemons, from C(systemctl show)),
    C(kubelet) (drop-ins, environment files, the CPU and memory manager state files' policy, membership, the last
    good copies), C(state) (the collection's own records in O(state_dir)), C(sysctl_files) (which admin sysctl
    files set which keys), C(irqbalance) (banned-CPU lines in its environment files), C(packages) (installed
    versions of O(packages), read from the dpkg database, so no package manager library is needed), C(boot)
    (the boot id, the GRUB directory, its environment, and what C(grub-probe) says of the file system under it)
    C(ptp) (ptp4l's state over a window of samples per interface, see O(ptp_configs)) and C(ptp_owners) (every
    other ptp4l or phc2sys on those ports, from C(/proc)).
  - A file that cannot be read leaves its key out; a reader that fails is reported in RV(errors) and does not
    stop the others.
  - With O(sysfs_root), O(procfs_root) and O(fs_root) the module reads a captured tree instead of the live host,
    as M(quantbot.hft.node_topology) plans from one. With O(record) it returns what it read, which
    C(scripts/capture-host-tree.py) turns into such a tree.
  - It changes nothing, so it runs in check mode too.
author:
  - quantbot.hft maintainers (@quantbot)
extends_documentation_fragment:
  - quantbot.hft.attributes
  - quantbot.hft.attributes.info_module
  - quantbot.hft.attributes.platform
attributes:
  platform:
    platforms: linux
options:
  sysfs_root:
    description: Where sysfs is (a captured tree's C(sys) directory in tests).
    type: path
    default: /sys
  procfs_root:
    description: Where procfs is.
    type: path
    default: /proc
  fs_root:
    description: Root for every other path (C(/etc), C(/var), C(/run), C(/boot), C(/usr/lib)).
    type: path
    default: /
  gather:
    description: Only these readers (the top-level keys listed in the description). Empty means all.
    type: list
    elements: str
    default: []
  units:
    description:
      - Units to report in C(units) besides the built-in list (the collection's units, tuned, irqbalance, kubelet
        and the known time daemons), e.g. C(ptp4l@ens1f0.service).
    type: list
    elements: str
    default: []
  sysctls:
    description:
      - Sysctls to report in C(sysctl) besides the built-in ones (C(kernel.numa_balancing), C(kernel.nmi_watchdog),
        C(kernel.timer_migration), C(vm.stat_interval), C(kernel.watchdog), C(kernel.soft_watchdog)).
    type: list
    elements: str
    default: []
  packages:
    description: Packages whose installed version C(packages) reports (V(null) when not installed).
    type: list
    elements: str
    default: []
  kubelet:
    description: Where kubelet's files are.
    type: dict
    default: {}
    suboptions:
      dropin_dir:
        description: kubelet's C(--config-dir).
        type: path
        default: /etc/kubernetes/kubelet/kubelet.conf.d
      env_files:
        description: The files that can set kubelet's flags.
        type: list
        elements: path
        default: [/etc/default/kubelet, /var/lib/kubelet/kubeadm-flags.env]
      state_dir:
        description: Where C(cpu_manager_state) and C(memory_manager_state) are.
        type: path
        default: /var/lib/kubelet
      member_kubeconfig:
        description: kubelet's own kubeconfig, written by C(kubeadm join); it exists once the host is a member.
        type: path
        default: /etc/kubernetes/kubelet.conf
      backup_dir:
        description: Where the kubelet role keeps the last good drop-in.
        type: path
        default: /var/lib/quantbot-hft/kubelet
  state_dir:
    description: Where the collection keeps its records (C(*.json), reported in C(state)).
    type: path
    default: /var/lib/quantbot-hft
  irqbalance_env_files:
    description: irqbalance's environment files (the ones that exist are read).
    type: list
    elements: path
    default: [/etc/default/irqbalance, /etc/sysconfig/irqbalance]
  ptp_configs:
    description:
      - ptp4l configuration file per PTP interface. Empty - the ptp role's record
        (C(/var/lib/quantbot-hft/ptp.json)); none there skips the C(ptp) and C(ptp_owners) readers.
      - C(ptp) holds ptp4l's state over a window of samples per interface - the PTP collector's window file when it
        is fresh (O(ptp_window_file), O(ptp_window_max_age)), else O(ptp_samples) C(pmc) samples O(ptp_interval)
        seconds apart. C(ptp_owners) lists every other ptp4l or phc2sys on those ports.
    type: dict
    default: {}
  ptp_window_file:
    description: The PTP collector's window file.
    type: path
    default: /run/quantbot-hft/ptpmon.json
  ptp_window_max_age:
    description: Seconds after which the collector's window counts as stale (pmc is sampled instead).
    type: float
    default: 15
  ptp_samples:
    description: pmc samples per interface when there is no fresh collector window.
    type: int
    default: 5
  ptp_interval:
    description: Seconds between those samples.
    type: float
    default: 1
  ptp_lock_wait:
    description:
      - Seconds to wait, at most, until every PTP interface has O(ptp_lock_samples) samples since its ptp4l locked
        (after its last start; a ptp4l just started or restarted is still locking in). V(0) - read once.
      - C(ptp.started) holds when each interface's ptp4l last started; the validation leaves out the samples before
        it and the lock-in after it.
    type: float
    default: 0
  ptp_lock_samples:
    description: Samples since the lock that O(ptp_lock_wait) waits for.
    type: int
    default: 1
  ptp_realtime_owner:
    description:
      - The PTP interface whose instance disciplines CLOCK_REALTIME (software timestamping, or phc2sys), for
        C(ptp_owners). Empty - the ptp role's record.
    type: str
    default: ""
  record:
    description: Also return what was read (RV(recorded)), to capture the host as a fixture tree.
    type: bool
    default: false
seealso:
  - module: quantbot.hft.node_topology
  - module: quantbot.hft.node_validate
"""

EXAMPLES = r"""
- name: Read the host once for this play
  quantbot.hft.host_facts:
    units: [ptp4l@ens1f0.service]
    packages: [tuned, linuxptp, irqbalance]
  register: hft_host_facts

- name: Show the isolated CPUs and the HFT NIC's NUMA node
  ansible.builtin.debug:
    msg: "{{ hft_host_facts.host_facts.cpus.isolated }} / {{ hft_host_facts.host_facts.nics.ens1f0.numa_node }}"

- name: Read a captured tree on the controller
  quantbot.hft.host_facts:
    sysfs_root: "{{ playbook_dir }}/tests/unit/fixtures/hosts/lab-vm-onboarded/sys"
    procfs_root: "{{ playbook_dir }}/tests/unit/fixtures/hosts/lab-vm-onboarded/proc"
    fs_root: "{{ playbook_dir }}/tests/unit/fixtures/hosts/lab-vm-onboarded/root"
    gather: [cmdline, cpus, numa, nics]
  delegate_to: localhost
"""

RETURN = r"""
host_facts:
  description: The host as data, one key per reader (see the description). Keys whose files are absent are left out.
  returned: success
  type: dict
  sample:
    cmdline: "BOOT_IMAGE=/boot/vmlinuz-6.1.0-28-amd64 root=UUID=... ro isolcpus=managed_irq,domain,2-3,6-7 ..."
    cpus: {online: "0-7", isolated: "2-3,6-7", nohz_full: "2-3,6-7", vendor: GenuineIntel, flags: [constant_tsc],
           governors: {}}
    numa: {"1": {cpus: "4-7", memory_kb: 1536000, hugepages: {"2M": {total: 64, free: 64}},
                 numastat: {numa_hit: 1000, numa_miss: 0}}}
    nics: {enp65s0: {numa_node: 1, driver: igb, sriov_totalvfs: 7, sriov_numvfs: 2, phc_index: 0}}
    tuned: {active_profile: quantbot-hft, profiles: [cpu-partitioning, quantbot-hft]}
    units: {"tuned.service": {load: loaded, active: active, sub: running, enabled: enabled, result: success}}
errors:
  description: Readers that failed, with the reason. Their keys are missing from RV(host_facts).
  returned: success
  type: dict
  sample: {}
recorded:
  description: With O(record), the files, directory listings, link targets and command outputs that were read.
  returned: when O(record) is true
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.quantbot.hft.plugins.module_utils._hostfacts import (
    DEFAULT_KUBELET,
    HostFactsError,
    Reader,
    gather,
)


def argument_spec():
    return dict(
        sysfs_root=dict(type="path", default="/sys"),
        procfs_root=dict(type="path", default="/proc"),
        fs_root=dict(type="path", default="/"),
        gather=dict(type="list", elements="str", default=[]),
        units=dict(type="list", elements="str", default=[]),
        sysctls=dict(type="list", elements="str", default=[]),
        packages=dict(type="list", elements="str", default=[]),
        kubelet=dict(type="dict", default={}, options=dict(
            dropin_dir=dict(type="path", default=DEFAULT_KUBELET["dropin_dir"]),
            env_files=dict(type="list", elements="path", default=list(DEFAULT_KUBELET["env_files"])),
            state_dir=dict(type="path", default=DEFAULT_KUBELET["state_dir"]),
            member_kubeconfig=dict(type="path", default=DEFAULT_KUBELET["member_kubeconfig"]),
            backup_dir=dict(type="path", default=DEFAULT_KUBELET["backup_dir"]),
        )),
        state_dir=dict(type="path", default="/var/lib/quantbot-hft"),
        irqbalance_env_files=dict(type="list", elements="path",
                                  default=["/etc/default/irqbalance", "/etc/sysconfig/irqbalance"]),
        ptp_configs=dict(type="dict", default={}),
        ptp_window_file=dict(type="path", default="/run/quantbot-hft/ptpmon.json"),
        ptp_window_max_age=dict(type="float", default=15),
        ptp_samples=dict(type="int", default=5),
        ptp_interval=dict(type="float", default=1.0),
        ptp_realtime_owner=dict(type="str", default=""),
        ptp_lock_wait=dict(type="float", default=0),
        ptp_lock_samples=dict(type="int", default=1),
        record=dict(type="bool", default=False),
    )


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = module.params

    def run(argv):
        # A command that is not installed (grub-probe on a grub2 host, pmc before linuxptp) is a result: rc 127.
        if not module.get_bin_path(argv[0]):
            return 127, ""
        rc, out, dummy_err = module.run_command(argv, check_rc=False, environ_update={"LC_ALL": "C"})
        return rc, out

    try:
        r = Reader(sysfs_root=params["sysfs_root"], procfs_root=params["procfs_root"], fs_root=params["fs_root"],
                   run=run, record=params["record"],
                   options=dict((key, params[key]) for key in ("units", "sysctls", "packages", "kubelet",
                                                               "state_dir", "irqbalance_env_files", "ptp_configs",
                                                               "ptp_window_file", "ptp_window_max_age", "ptp_samples",
                                                               "ptp_interval", "ptp_realtime_owner",
                                                               "ptp_lock_wait", "ptp_lock_samples")))
        facts, errors = gather(r, params["gather"])
    except HostFactsError as exc:
        module.fail_json(msg=str(exc))
    result = dict(changed=False, host_facts=facts, errors=errors)
    if params["record"]:
        result["recorded"] = r.recording
    module.exit_json(**result)


if __name__ == "__main__":
    main()
