#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r"""
module: latency_probe
short_description: Measure how quiet the isolated CPUs of an HFT node are, and their latency with oslat
version_added: 0.1.0
description:
  - Runs on the node and changes nothing. It measures; it does not judge. The checks C(isolated_cpus_quiet) and
    C(latency) judge its result against thresholds (C(plugins/module_utils/_latency.py)).
  - "First a window of O(window) seconds: it reads C(/proc/interrupts), C(/proc/softirqs) and C(/proc/stat) before
    and after, and returns per isolated CPU the device interrupts (the numbered lines of C(/proc/interrupts)) that
    fired there, the local timer, rescheduling, function-call, TLB-shootdown and other named interrupts, every
    softirq (counts and rates), and the CPU's busy time (user, nice, system, irq and softirq ticks as a share of
    the window)."
  - It lists every user-space task (thread) that last ran on, or is allowed to run on, an isolated CPU
    (C(/proc/PID/task/TID/status) C(Cpus_allowed_list), field 39 of C(stat), C(cgroup)), and tells apart the
    pod containers that kubelet pinned there (their cgroup names the pod UID and kubelet's
    O(cpu_manager_state) assigns them those CPUs) from every other task. Kernel threads are counted, not listed.
  - Then it runs C(oslat) from Debian's C(rt-tests) for O(oslat_duration) seconds on the isolated CPUs that no
    pod holds (read from O(cpu_manager_state)), never on a CPU a bot owns, with its main thread on the lowest
    housekeeping CPU, and returns p50, p99, p99.9 and the max per CPU, computed from oslat's histogram.
    Optionally C(cyclictest) and C(hwlatdetect) run after it on the same CPUs.
  - "oslat 2.4 (Debian 12) has buckets of 1 us whose width cannot be changed; C(-B) is its C(--bias), which starts
    the histogram at the minimum seen in its 1 s pre-heat. The bucket labelled L holds the samples of [L-1, L) us,
    and the last bucket every sample at or beyond its label. A percentile is the label of the first bucket where
    the cumulative count reaches its nearest rank; one that falls into the last bucket is reported as the CPU's
    max (an upper bound) and named in C(unresolved)."
  - The run takes about O(window) + O(oslat_duration) + 1 s (oslat's pre-heat) + O(cyclictest_duration) +
    O(hwlatdetect_duration) seconds. The window comes first, so the tools' own busy loops do not count as busy time.
  - Each tool runs under coreutils C(timeout). One that is still running O(tool_grace) seconds after its own
    duration is stopped (SIGTERM, SIGKILL 10 s later) and the probe fails, naming the tool and the limit.
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
      - Reads Linux procfs and sysfs; the tools need root (C(become)) for SCHED_FIFO and memory locking.
options:
  isolated_cpus:
    description:
      - The isolated CPUs to measure, a kernel cpulist such as V(2-3,6-7) (the plan's C(isolated_cpus)).
      - Refused, naming the value, when malformed, empty, backwards (V(3-2)), holding CPU 0, or naming a CPU that is
        not online.
    type: str
    required: true
  window:
    description:
      - Seconds between the two readings of the interrupt, softirq and CPU-time counters.
      - 60 in production; a few seconds in the lab, where the figures only show that the probe works.
    type: float
    default: 60
  oslat_duration:
    description:
      - Seconds oslat runs on the free isolated CPUs (C(--duration)). V(0) skips oslat.
    type: int
    default: 60
  bucket_size:
    description:
      - Number of oslat's 1 us buckets (C(-b), 5 to 1024), or V(auto).
      - V(auto) takes 1024, the widest window oslat 2.4 allows, so that samples do not all land in the last
        (overflow) bucket as they would with the default 32 under emulation. Samples beyond it are still counted in
        the last bucket and reported per CPU (C(overflowed_cpus) in RV(oslat)).
    type: str
    default: auto
  bias:
    description:
      - Start oslat's histogram at the minimum latency its pre-heat measured (C(-B)) instead of at 1 us. On bare
        metal the minimum is 1 us and this changes nothing; under emulation it moves the window up to where the
        samples are.
    type: bool
    default: true
  rtprio:
    description:
      - SCHED_FIFO priority of oslat's threads (C(--rtprio)); V(0) keeps the default scheduling policy, so the
        measurement also shows ordinary tasks that preempt the loop.
    type: int
    default: 0
  cyclictest_duration:
    description:
      - Seconds cyclictest runs after oslat (one thread per free isolated CPU, SCHED_FIFO 95, 200 us interval,
        a 1000 us histogram). V(0) skips it.
    type: int
    default: 0
  hwlatdetect_duration:
    description:
      - Seconds hwlatdetect runs after oslat on the free isolated CPUs. It needs the kernel's hwlat tracer and
        spins with interrupts off for half of every second, so keep it off CPUs that serve anything. V(0) skips it.
    type: int
    default: 0
  tool_grace:
    description:
      - Seconds each tool may run past its own duration before the probe stops it and fails. Under emulation an
        oslat was seen to ignore its C(--duration) and SIGINT for minutes; the bound keeps a validation from
        hanging on it.
    type: float
    default: 120
  hwlatdetect_threshold:
    description:
      - Gaps (us) that hwlatdetect records (its C(--threshold)). A measurement setting, not a verdict.
    type: int
    default: 10
  cpu_manager_state:
    description:
      - kubelet's CPU manager checkpoint. A missing file means no pod holds a CPU.
    type: path
    default: /var/lib/kubelet/cpu_manager_state
  procfs_root:
    description: Root of procfs (a captured tree in tests).
    type: path
    default: /proc
  sysfs_root:
    description: Root of sysfs, for C(devices/system/cpu/online).
    type: path
    default: /sys
requirements:
  - rt-tests (Debian's package ships oslat, cyclictest and hwlatdetect) on the node, unless the durations are 0
seealso:
  - name: oslat(8)
    description: rt-tests' OS latency detector.
    link: https://manpages.debian.org/bookworm/rt-tests/oslat.8.en.html
  - module: quantbot.hft.validation_report
"""

EXAMPLES = r"""
- name: Measure the isolated CPUs of an HFT node (one minute each)
  quantbot.hft.latency_probe:
    isolated_cpus: "{{ hft_plan.isolated_cpus }}"
  become: true
  register: hft_latency

- name: A short run in the lab (the figures mean nothing under emulation)
  quantbot.hft.latency_probe:
    isolated_cpus: 2-3,6-7
    window: 5
    oslat_duration: 10
    cyclictest_duration: 5
  become: true
  register: hft_latency

- name: Show the p99.9 per isolated CPU
  ansible.builtin.debug:
    msg: "{{ hft_latency.oslat.per_cpu | dict2items | map(attribute='value.p99_9_us') | list }}"
"""

RETURN = r"""
isolated_cpus:
  description: The isolated CPUs measured (canonical cpulist).
  returned: success
  type: str
  sample: 2-3,6-7
free_cpus:
  description: The isolated CPUs that no pod holds; oslat, cyclictest and hwlatdetect run only there.
  returned: success
  type: str
  sample: 2-3
held_cpus:
  description: Isolated CPUs that a pod container holds, as C(podUID/container) per CPU.
  returned: success
  type: dict
  sample: {"6": "1b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c5d/bot", "7": "1b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c5d/bot"}
main_cpu:
  description: The housekeeping CPU the tools' main threads run on.
  returned: success
  type: int
  sample: 0
cpu_manager_state:
  description: Where the pod assignments came from.
  returned: success
  type: dict
  sample: {"path": "/var/lib/kubelet/cpu_manager_state", "present": true, "policy": "static"}
window:
  description:
    - The counters of the window per isolated CPU (keys are CPU numbers as strings).
    - "Per CPU: C(online), C(busy_percent) (null when no tick passed), C(busy_ticks), C(total_ticks),
      C(steal_ticks), C(held_by), C(device_irqs) ({irq: {count, per_s, desc, actions}}, only those that fired),
      C(other_irqs) and C(softirqs) ({NAME: {count, per_s}})."
  returned: success
  type: dict
  sample:
    seconds: 60.0
    per_cpu:
      "3":
        online: true
        busy_percent: 0.0
        busy_ticks: 0
        total_ticks: 6000
        steal_ticks: 0
        held_by: null
        device_irqs: {"122": {"count": 240, "per_s": 4.0, "desc": "IR-PCI-MSIX-0000:41:00.0 2-edge enp65s0-TxRx-1",
                              "actions": "enp65s0-TxRx-1"}}
        other_irqs: {"LOC": {"count": 120, "per_s": 2.0}, "RES": {"count": 0, "per_s": 0.0}}
        softirqs: {"TIMER": {"count": 0, "per_s": 0.0}}
tasks:
  description:
    - Every user-space task that last ran on or may run on an isolated CPU.
    - C(kind) is V(pinned) (a pod container that kubelet pinned to those CPUs), V(pod_sandbox) (a pod's pause
      process), V(pod) (a pod container that kubelet did not pin, that is the shared pool) or V(host) (anything
      else).
  returned: success
  type: list
  elements: dict
  sample:
    - {"pid": 7000, "tid": 7000, "comm": "spin", "allowed": "2", "last_cpu": 2, "on_cpus": "2", "kind": "host",
       "pod_uid": null, "container_id": null, "container": null, "cgroup": "/user.slice/user-0.slice/session-3.scope"}
kernel_threads:
  description: Kernel threads that ran on or may run on an isolated CPU (not listed; they are not stray).
  returned: success
  type: int
  sample: 41
tasks_scanned:
  description: Tasks read from procfs.
  returned: success
  type: int
  sample: 312
oslat:
  description:
    - The oslat run. C(ran) false with C(skipped) saying why (duration 0, or every isolated CPU held by a pod).
    - "Per CPU in C(per_cpu): C(p50_us), C(p99_us), C(p99_9_us), C(max_us), C(min_us), C(avg_us), C(samples),
      C(overflow) (samples in the last bucket), C(overflow_percent), C(overflow_from_us) (the last bucket's
      label), C(unresolved) (percentiles beyond the histogram, reported as the max), C(duration_s) and
      C(histogram) ([[us, count], ...], the printed buckets)."
  returned: success
  type: dict
  sample:
    ran: true
    command: ["/usr/bin/oslat", "--cpu-list", "2-3", "--cpu-main-thread", "0", "--duration", "60", "-b", "1024",
              "-B", "-z"]
    version: "2.40"
    bucket_size: 1024
    bias: true
    bias_us: 1
    rule: "auto: the widest window oslat 2.4 allows (1024 buckets of 1 us), starting at the pre-heat minimum (-B)"
    duration_s: 60
    cpus: 2-3
    overflowed_cpus: []
    unresolved_cpus: []
    per_cpu:
      "2": {"p50_us": 2, "p99_us": 2, "p99_9_us": 3, "max_us": 9, "min_us": 1, "avg_us": 1.9, "samples": 1200000000,
            "overflow": 0, "overflow_percent": 0.0, "overflow_from_us": 1025, "unresolved": [], "duration_s": 60.0,
            "histogram": [[2, 1199990000], [3, 9990], [9, 10], [1025, 0]]}
cyclictest:
  description:
    - The cyclictest run (C(ran), C(skipped), C(command)); C(per_cpu) as for oslat, without C(histogram).
  returned: success
  type: dict
  sample: {"ran": false, "skipped": "cyclictest_duration is 0"}
hwlatdetect:
  description:
    - The hwlatdetect run. C(max_us) null means below its threshold; C(samples) are its recorded gaps.
  returned: success
  type: dict
  sample: {"ran": true, "max_us": 24, "samples_recorded": 3, "samples_exceeding": 3, "smis": null,
           "threshold_us": 10, "samples": [{"ts": "1796120001.002231517", "inner_us": 12, "outer_us": 24}]}
"""

import os
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.quantbot.hft.plugins.module_utils._latency import LatencyError, run_probe

TOOLS = ("oslat", "cyclictest", "hwlatdetect")


def main():
    module = AnsibleModule(
        argument_spec=dict(
            isolated_cpus=dict(type="str", required=True),
            window=dict(type="float", default=60.0),
            oslat_duration=dict(type="int", default=60),
            bucket_size=dict(type="str", default="auto"),
            bias=dict(type="bool", default=True),
            rtprio=dict(type="int", default=0),
            cyclictest_duration=dict(type="int", default=0),
            hwlatdetect_duration=dict(type="int", default=0),
            hwlatdetect_threshold=dict(type="int", default=10),
            tool_grace=dict(type="float", default=120.0),
            cpu_manager_state=dict(type="path", default="/var/lib/kubelet/cpu_manager_state"),
            procfs_root=dict(type="path", default="/proc"),
            sysfs_root=dict(type="path", default="/sys"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if not 0 <= params["rtprio"] <= 99:
        module.fail_json(msg="rtprio %s is outside 0-99" % params["rtprio"])
    bins = dict((tool, module.get_bin_path(tool, opt_dirs=["/usr/sbin", "/usr/local/sbin"])) for tool in TOOLS)
    bins["timeout"] = module.get_bin_path("timeout")
    try:
        result = run_probe(
            params,
            run=lambda argv: module.run_command(argv, check_rc=False),
            sleep=time.sleep,
            bins=bins,
            procfs_root=params["procfs_root"],
            sysfs_root=params["sysfs_root"],
            cpu_manager_state=params["cpu_manager_state"],
            self_pid=os.getpid(),
        )
    except LatencyError as exc:
        module.fail_json(msg=str(exc))
    warnings = []
    if result["oslat"].get("unresolved_cpus"):
        warnings.append("oslat's histogram overflowed on CPU %s: percentiles beyond its last bucket are reported as "
                        "the max" % ",".join(result["oslat"]["unresolved_cpus"]))
    for warning in warnings:
        module.warn(warning)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
