# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Human-readable reports of the plan and of a validation, one line per item.

Pure functions; the playbooks print their output (filters ``plan_report``
and ``validation_report``).
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import json

from ansible_collections.quantbot.hft.plugins.module_utils._hugepages import SIZES


def _short(value, limit=160):
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def plan_lines(plan, topology, cmdline_path="/proc/cmdline"):
    """The plan for a human: topology, CPU split, HugePages, kernel arguments, the reboot decision."""
    lines = ["Topology: %d socket(s), %d NUMA node(s), %s thread(s) per core, online CPUs %s"
             % (len(topology.get("sockets") or []), len(topology.get("numa_nodes") or {}),
                topology.get("threads_per_core"), topology.get("online_cpus"))]
    nics = topology.get("nics") or {}
    for node, info in sorted((topology.get("numa_nodes") or {}).items(), key=lambda item: int(item[0])):
        on_node = sorted(name for name, nic in nics.items() if nic.get("numa_node") == int(node))
        lines.append("  node %s%s: CPUs %s, %d MiB, %d cores%s"
                     % (node, " (HFT)" if int(node) == plan.get("hft_numa_node") else "", info.get("cpus") or "none",
                        int(info.get("memory_kb") or 0) // 1024, len(info.get("cores") or []),
                        (", NICs " + ", ".join(on_node)) if on_node else ""))
    unplaced = sorted(name for name, nic in nics.items() if int(nic.get("numa_node", -1)) < 0)
    if unplaced:
        lines.append("  NICs without NUMA information: " + ", ".join(unplaced))
    pages = ["%d x %s on node %s" % (count, size, node) for size in SIZES
             for node, count in sorted(((plan.get("hugepages") or {}).get(size) or {}).items(),
                                       key=lambda item: int(item[0])) if count]
    lines += [
        "Reserved for housekeeping: %s" % plan.get("reserved_cpus"),
        "Isolated for HFT pods:     %s" % (plan.get("isolated_cpus") or "none"),
        "HFT NUMA node:             %s" % plan.get("hft_numa_node"),
        "HugePages:                 %s" % (", ".join(pages) or "none"),
        "Kernel arguments:          %s" % (" ".join(plan.get("kernel_args") or []) or "none"),
    ]
    # One line per latency knob: what the plan decided, and which role owns it.
    for knob, setting in sorted((plan.get("settings") or {}).items()):
        setting = setting if isinstance(setting, dict) else {"decision": setting}
        extra = ["owner %s" % setting["owner"]] if setting.get("owner") else []
        if setting.get("args"):
            extra.append("kernel args " + " ".join(setting["args"]))
        lines.append("Setting %s: %s%s" % (knob, setting.get("decision") or "none",
                                           " (%s)" % ", ".join(extra) if extra else ""))
    if plan.get("reboot_required"):
        lines.append("Reboot required: yes, the running kernel lacks: " + " ".join(plan.get("cmdline_missing") or []))
    else:
        lines.append("Reboot required: no, the running kernel has every planned argument")
    if plan.get("cmdline_read", True):
        lines.append("Compared with the running kernel command line in %s" % cmdline_path)
    else:
        lines.append("Kernel command line not read (%s does not exist): every planned argument counts as missing"
                     % cmdline_path)
    return lines


def validation_lines(result, node=None):
    """Every check, one line each (PASS/FAIL, expected, actual, hint), then ``valid: true|false``."""
    lines = []
    if node:
        lines.append("validation of %s (%s scope)" % (node, result.get("scope", "all")))
    for rec in result.get("checks") or []:
        if rec.get("ok"):
            lines.append("PASS %-24s %s" % (rec["check"], _short(rec.get("actual"))))
        else:
            lines.append("FAIL %-24s expected %s, actual %s; hint: %s"
                         % (rec["check"], _short(rec.get("expected")), _short(rec.get("actual")), rec.get("hint")))
    for item in result.get("skipped_checks") or []:
        lines.append("SKIP %s" % item)
    failed = sorted(set(f["check"] for f in result.get("failures") or []))
    lines.append("valid: %s%s" % ("true" if result.get("valid") else "false",
                                  (" (failed checks: %s)" % ", ".join(failed)) if failed else ""))
    return lines
