# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""HugePages rules: the headroom rule (planner and role), the role's input checks, the reboot decision.

Pure functions. ``host`` is quantbot.hft.host_facts' result.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import re

from ansible_collections.quantbot.hft.plugins.module_utils._cmdline import booted_hugepages

PAGE_KB = {"2M": 2 * 1024, "1G": 1024 * 1024}
SIZES = ("2M", "1G")
# HugePages may take a node's MemTotal minus a headroom of the larger of
# HEADROOM_PERCENT of MemTotal and HEADROOM_MIN_KB: the kernel, page tables and
# the node's housekeeping daemons need ordinary pages to boot at all.
HEADROOM_PERCENT = 10
HEADROOM_MIN_KB = 256 * 1024


def limit_kb(mem_kb, percent=HEADROOM_PERCENT, min_kb=HEADROOM_MIN_KB):
    """What HugePages may take of a node with ``mem_kb`` MemTotal."""
    mem_kb = int(mem_kb)
    return max(0, mem_kb - max(mem_kb * int(percent) // 100, int(min_kb)))


def fit_problem(node, per_size, mem_kb, percent=HEADROOM_PERCENT, min_kb=HEADROOM_MIN_KB):
    """None when ``per_size`` ({size: count}) fits the node, else the message that says why not."""
    need_kb = sum(int(count) * PAGE_KB[size] for size, count in per_size.items())
    if not need_kb:
        return None
    limit = limit_kb(mem_kb, percent, min_kb)
    if need_kb <= limit:
        return None
    detail = " + ".join("%s x %d (%d MiB)" % (size, int(per_size[size]), int(per_size[size]) * PAGE_KB[size] // 1024)
                        for size in SIZES if int(per_size.get(size) or 0))
    return ("hugepages do not fit NUMA node %s: %s = %d MiB, but the node has MemTotal %d MiB and at most %d MiB "
            "may go to HugePages (MemTotal minus the larger of %s%% and %d MiB)"
            % (node, detail, need_kb // 1024, int(mem_kb) // 1024, limit // 1024, percent, int(min_kb) // 1024))


def _is_count(value):
    return (isinstance(value, int) and not isinstance(value, bool) and value >= 0) or \
        (isinstance(value, str) and re.match(r"^[0-9]+$", value) is not None)


def wanted(pages):
    """``[{size, node, count}]`` from the pages mapping (after pages_problems said it is well formed)."""
    out = []
    for size, per_node in sorted((pages or {}).items()):
        for node, count in sorted((per_node or {}).items(), key=lambda item: int(item[0])):
            out.append({"size": size, "node": str(node), "count": int(count)})
    return out


def alloc_args(pages, size="2M"):
    """NODE:COUNT arguments of the allocation script for one size, by node."""
    return ["%s:%d" % (w["node"], w["count"]) for w in wanted(pages) if w["size"] == size]


def pages_problems(pages, mounts, host, percent=HEADROOM_PERCENT, min_mb=HEADROOM_MIN_KB // 1024):
    """Why the hugepages role cannot apply ``pages`` (and ``mounts``) on this host ([] when it can)."""
    if not isinstance(pages, dict) or any(size not in PAGE_KB for size in pages) \
            or any(not isinstance(v, dict) for v in pages.values()):
        return ["hugepages_pages must map a page size (2M or 1G) to {NUMA node: count}, e.g. "
                "{\"2M\": {\"1\": 1024}}; got %r" % (pages,)]
    problems = []
    for size, per_node in sorted(pages.items()):
        for node, count in per_node.items():
            if not re.match(r"^[0-9]+$", str(node)) or not _is_count(count):
                problems.append("hugepages_pages[%s][%r] = %r: the node must be a NUMA node number and the count "
                                "an integer >= 0" % (size, node, count))
    for mount in mounts or []:
        if not isinstance(mount, dict) or not str(mount.get("path", "")).startswith("/") \
                or mount.get("pagesize") not in PAGE_KB or not re.match(r"^[0-9]+$", str(mount.get("gid", 0))):
            problems.append("hugepages_mounts: %r needs an absolute path, a pagesize of 2M or 1G and, if given, "
                            "a numeric gid" % (mount,))
    if problems:
        return problems
    numa = (host or {}).get("numa") or {}
    if not numa:
        return ["no NUMA nodes in the host facts (is /sys/devices/system/node readable? run quantbot.hft.host_facts "
                "first in this play)"]
    per_node = {}
    for w in wanted(pages):
        if w["node"] not in numa:
            problems.append("hugepages_pages[%s] names NUMA node %s, but this host has only node(s) %s "
                            "(/sys/devices/system/node/node%s does not exist)"
                            % (w["size"], w["node"], ", ".join(sorted(numa, key=int)), w["node"]))
            continue
        if w["count"] and w["size"] not in (numa[w["node"]].get("hugepages") or {}):
            problems.append("hugepages_pages[%s][%s] = %d, but node %s has no %s page support "
                            "(the CPU or kernel does not support %s pages; for 1G the CPU needs pdpe1gb)"
                            % (w["size"], w["node"], w["count"], w["node"], w["size"], w["size"]))
        per_node.setdefault(w["node"], {})[w["size"]] = w["count"]
    for node, per_size in sorted(per_node.items(), key=lambda item: int(item[0])):
        mem_kb = numa[node].get("memory_kb")
        if mem_kb is None:
            continue
        problem = fit_problem(node, per_size, mem_kb, percent, int(min_mb) * 1024)
        if problem:
            problems.append(problem)
    return problems


def running_counts(host):
    """``{(size, node): total}`` from host_facts."""
    out = {}
    for node, info in ((host or {}).get("numa") or {}).items():
        for size, counts in (info.get("hugepages") or {}).items():
            if counts.get("total") is not None:
                out[(size, str(node))] = int(counts["total"])
    return out


def allocated(host):
    """``[{size, node, total, path}]`` for every size and node that holds pages now (to give them back)."""
    dirs = {"2M": "hugepages-2048kB", "1G": "hugepages-1048576kB"}
    return [{"size": size, "node": node, "total": total,
             "path": "/sys/devices/system/node/node%s/hugepages/%s/nr_hugepages" % (node, dirs[size])}
            for (size, node), total in sorted(running_counts(host).items(), key=lambda kv: (kv[0][0], int(kv[0][1])))
            if total > 0 and size in dirs]


def differs(pages, host, size="2M"):
    """True when a running count of ``size`` differs from the wanted one."""
    have = running_counts(host)
    return any(have.get((w["size"], w["node"]), -1) != w["count"] for w in wanted(pages) if w["size"] == size)


def parse_alloc_output(text):
    """The allocation script's ``nodeN 2048kB: have/want`` lines as ``{node: have}``."""
    out = {}
    for line in (text or "").splitlines():
        match = re.match(r"^node([0-9]+) [0-9]+kB: ([0-9]+)/([0-9]+)$", line.strip())
        if match:
            out[match.group(1)] = int(match.group(2))
    return out


def reboot_decision(pages, host, alloc=None, check_mode=False):
    """``{required, reason, unfixable}`` for the running pages, after the allocation (``alloc``: its result).

    A short count only helps to fix by rebooting when the running kernel lacks
    this size's hugepages= argument (boot_args has then put it in the boot
    configuration). When the kernel already booted with it and the count is
    still short, a reboot would not help: ``unfixable`` lists those, and the
    role fails naming them instead of rebooting on every run. In check mode a
    2 MiB difference is what the allocation would fix, not a reboot reason.
    """
    have = running_counts(host)
    alloc = alloc or {}
    if alloc.get("stdout") and not alloc.get("skipped"):
        for node, count in parse_alloc_output(alloc["stdout"]).items():
            have[("2M", node)] = count
    booted = booted_hugepages((host or {}).get("cmdline"))
    short = []
    for w in wanted(pages):
        count = have.get((w["size"], w["node"]), 0)
        if count == w["count"] or (check_mode and w["size"] == "2M"):
            continue
        short.append({"size": w["size"], "node": w["node"], "want": w["count"], "have": count})
    unbooted = set()
    for size in sorted(set(w["size"] for w in wanted(pages))):
        pairs = [w for w in wanted(pages) if w["size"] == size and w["count"]]
        token = "hugepages=" + ",".join("%s:%d" % (w["node"], w["count"]) for w in pairs)
        # The running kernel lacks the size's argument, or booted with one for a
        # size now wanted nowhere (boot_args drops it: the reboot fixes it).
        if (pairs and booted.get(size) != token) or (not pairs and booted.get(size)):
            unbooted.add(size)
    unfixable = [s for s in short if s["size"] not in unbooted]
    reason = "; ".join("%s pages on node %s: %d of %d" % (s["size"], s["node"], s["have"], s["want"]) for s in short)
    return {"required": bool(short), "reason": reason, "unfixable": unfixable}
