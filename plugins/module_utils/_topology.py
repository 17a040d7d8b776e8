# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Host topology from sysfs, and the CPU / NUMA / HugePages / kernel-argument plan.

Pure logic over plain data: no AnsibleModule here. Problems raise
:class:`TopologyError` with a message that names what is wrong, so the thin
module turns them into ``fail_json(msg=...)`` and unit tests need only pytest.

Only these files are read, all relative to ``sysfs_root``::

    devices/system/cpu/online
    devices/system/cpu/cpuN/topology/{physical_package_id,core_id,thread_siblings_list}
    devices/system/node/nodeN/{cpulist,meminfo}
    class/net/IFACE/device/{numa_node,sriov_totalvfs}

plus the running kernel command line (``/proc/cmdline`` by default).

The returned dictionaries follow "The plan contract" in docs/ARCHITECTURE.md.
"""

from __future__ import annotations

import os
import re

from ansible_collections.quantbot.hft.plugins.module_utils._cmdline import arg_key, arg_problems, missing_args
from ansible_collections.quantbot.hft.plugins.module_utils._hugepages import SIZES, fit_problem
from ansible_collections.quantbot.hft.plugins.module_utils._settings import (
    SettingsError,
    kernel_args as settings_kernel_args,
    plan_settings,
)

ISOLCPUS_FLAGS = ("managed_irq", "domain", "nohz")
DEFAULT_ISOLCPUS_FLAGS = ("managed_irq",)
DEFAULT_HUGEPAGES_2M = 1024
DEFAULT_HUGEPAGES_1G = 0

_CPULIST_ITEM = re.compile(r"([0-9]+)(?:-([0-9]+))?")
_MEMTOTAL = re.compile(r"^Node\s+[0-9]+\s+MemTotal:\s+([0-9]+)\s*kB\s*$", re.MULTILINE)
_NODE_DIR = re.compile(r"node([0-9]+)")


class TopologyError(ValueError):
    """The host's topology or the requested plan is unusable; the message says why."""


# --------------------------------------------------------------------------
# cpulist strings
# --------------------------------------------------------------------------
def parse_cpulist(text, what="cpulist"):
    """Parse a kernel cpulist such as ``"0-3,8,10-11"`` into a sorted list of ints.

    The empty string is the empty set (the kernel prints it for an empty mask).
    Anything else must be comma-separated ``N`` or ``N-M`` items with ``N <= M``
    and no whitespace; the kernel's ``N-M:used/group`` stride form is refused.
    """
    if not isinstance(text, str):
        raise TopologyError("bad cpulist syntax in %s: %r is not a string" % (what, text))
    if text == "":
        return []
    cpus = set()
    for item in text.split(","):
        match = _CPULIST_ITEM.fullmatch(item)
        if match is None:
            raise TopologyError(
                "bad cpulist syntax in %s: %r (item %r is not N or N-M; "
                "write e.g. \"0-1,40-41\")" % (what, text, item))
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) is not None else first
        if last < first:
            raise TopologyError(
                "bad cpulist syntax in %s: %r (range %r runs backwards)" % (what, text, item))
        cpus.update(range(first, last + 1))
    return sorted(cpus)


def format_cpulist(cpus):
    """Format CPU numbers as a canonical kernel cpulist: sorted, runs as ``N-M``."""
    ordered = sorted(set(int(cpu) for cpu in cpus))
    parts = []
    start = None
    prev = None
    for cpu in ordered:
        if start is None:
            start = prev = cpu
        elif cpu == prev + 1:
            prev = cpu
        else:
            parts.append(_run(start, prev))
            start = prev = cpu
    if start is not None:
        parts.append(_run(start, prev))
    return ",".join(parts)


def _run(first, last):
    return "%d" % first if first == last else "%d-%d" % (first, last)


def _csv(cpus):
    return ",".join("%d" % cpu for cpu in sorted(cpus))


# --------------------------------------------------------------------------
# sysfs reading
# --------------------------------------------------------------------------
def _read(root, rel):
    path = os.path.join(root, rel)
    try:
        with open(path, "r") as handle:
            return handle.read().strip()
    except OSError as exc:
        raise TopologyError(
            "cannot read %s: %s (is sysfs_root %r a sysfs tree?)"
            % (path, exc.strerror or exc, root))


def _read_int(root, rel):
    text = _read(root, rel)
    try:
        return int(text)
    except ValueError:
        raise TopologyError("%s holds %r, not an integer" % (os.path.join(root, rel), text))


def _read_cpus(root, rel):
    return parse_cpulist(_read(root, rel), what=os.path.join(root, rel))


def _describe_core(core):
    return "core %d of socket %d (CPUs %s)" % (core["core_id"], core["socket"], _csv(core["cpus"]))


def read_topology(sysfs_root="/sys"):
    """Read sockets, cores, SMT siblings, NUMA nodes and NICs from a sysfs tree.

    Returns the ``topology`` dictionary of the plan contract, plus
    ``physical_cores`` (socket, core_id, node and CPUs of every core).
    """
    root = sysfs_root
    online = _read_cpus(root, "devices/system/cpu/online")
    if not online:
        raise TopologyError("%s lists no online CPUs"
                            % os.path.join(root, "devices/system/cpu/online"))
    online_set = set(online)

    # Cores are the thread_siblings_list groups; core_id alone is not unique
    # across sockets (nor across dies of one package).
    per_cpu = {}
    for cpu in online:
        base = "devices/system/cpu/cpu%d/topology/" % cpu
        siblings = set(_read_cpus(root, base + "thread_siblings_list")) & online_set
        if cpu not in siblings:
            raise TopologyError(
                "%s does not contain CPU %d itself"
                % (os.path.join(root, base + "thread_siblings_list"), cpu))
        per_cpu[cpu] = {
            "socket": _read_int(root, base + "physical_package_id"),
            "core_id": _read_int(root, base + "core_id"),
            "siblings": tuple(sorted(siblings)),
        }
    for cpu, info in per_cpu.items():
        for sibling in info["siblings"]:
            if per_cpu[sibling]["siblings"] != info["siblings"]:
                raise TopologyError(
                    "inconsistent SMT siblings: CPU %d lists %s but CPU %d lists %s"
                    % (cpu, _csv(info["siblings"]), sibling, _csv(per_cpu[sibling]["siblings"])))

    # NUMA nodes.
    node_root = os.path.join(root, "devices/system/node")
    try:
        entries = os.listdir(node_root)
    except OSError as exc:
        raise TopologyError("cannot list NUMA nodes in %s: %s (is sysfs_root %r a sysfs tree?)"
                            % (node_root, exc.strerror or exc, root))
    node_ids = sorted(int(m.group(1)) for m in (_NODE_DIR.fullmatch(e) for e in entries)
                      if m and os.path.isdir(os.path.join(node_root, m.group(0))))
    if not node_ids:
        raise TopologyError("no NUMA nodes (nodeN directories) in %s" % node_root)
    cpu_node = {}
    node_cpus = {}
    node_mem = {}
    for node in node_ids:
        rel = "devices/system/node/node%d/" % node
        cpus = set(_read_cpus(root, rel + "cpulist")) & online_set
        for cpu in cpus:
            if cpu in cpu_node:
                raise TopologyError("CPU %d is listed in NUMA node %d and node %d"
                                    % (cpu, cpu_node[cpu], node))
            cpu_node[cpu] = node
        node_cpus[node] = cpus
        meminfo = _read(root, rel + "meminfo")
        match = _MEMTOTAL.search(meminfo)
        if match is None:
            raise TopologyError("no 'Node %d MemTotal: ... kB' line in %s"
                                % (node, os.path.join(root, rel + "meminfo")))
        node_mem[node] = int(match.group(1))
    orphans = online_set - set(cpu_node)
    if orphans:
        raise TopologyError("online CPUs %s belong to no NUMA node under %s"
                            % (format_cpulist(orphans), node_root))

    cores = []
    seen = set()
    for cpu in online:
        group = per_cpu[cpu]["siblings"]
        if group in seen:
            continue
        seen.add(group)
        core = {
            "socket": per_cpu[cpu]["socket"],
            "core_id": per_cpu[cpu]["core_id"],
            "cpus": list(group),
            "node": cpu_node[group[0]],
        }
        nodes_of_core = sorted(set(cpu_node[c] for c in group))
        if len(nodes_of_core) > 1:
            raise TopologyError("%s spans NUMA nodes %s"
                                % (_describe_core(core), ", ".join(str(n) for n in nodes_of_core)))
        cores.append(core)

    numa_nodes = {}
    for node in node_ids:
        numa_nodes[str(node)] = {
            "cpus": format_cpulist(node_cpus[node]),
            "cpu_list": sorted(node_cpus[node]),
            "memory_kb": node_mem[node],
            "cores": [list(c["cpus"]) for c in cores if c["node"] == node],
        }

    return {
        "online_cpus": format_cpulist(online),
        "sockets": sorted(set(info["socket"] for info in per_cpu.values())),
        "numa_nodes": numa_nodes,
        "smt_siblings": [list(c["cpus"]) for c in cores],
        "threads_per_core": max(len(c["cpus"]) for c in cores),
        "physical_cores": cores,
        "nics": _read_nics(root),
    }


def _read_nics(root):
    """NICs with a backing device; a missing numa_node reads as -1, a missing sriov_totalvfs as 0."""
    net_root = os.path.join(root, "class/net")
    if not os.path.isdir(net_root):
        return {}
    nics = {}
    for name in sorted(os.listdir(net_root)):
        device = os.path.join("class/net", name, "device")
        if not os.path.isdir(os.path.join(root, device)):
            continue  # lo, bridges, bonds, veths: no device behind them
        numa_node = -1
        if os.path.exists(os.path.join(root, device, "numa_node")):
            numa_node = _read_int(root, os.path.join(device, "numa_node"))
        totalvfs = 0
        if os.path.exists(os.path.join(root, device, "sriov_totalvfs")):
            totalvfs = _read_int(root, os.path.join(device, "sriov_totalvfs"))
        nics[name] = {"numa_node": numa_node, "sriov_totalvfs": totalvfs}
    return nics


def _extra_args(planned, extra):
    """hft_kernel_args_extra, checked: one token each, no duplicate, no key the plan already sets."""
    extra = list(extra or [])
    problems = arg_problems(extra, "hft_kernel_args_extra")
    if problems:
        raise TopologyError("; ".join(problems))
    owned = set(arg_key(arg) for arg in planned)
    clash = [arg for arg in extra if arg_key(arg) in owned]
    if clash:
        raise TopologyError("hft_kernel_args_extra: %s set%s a key the plan already sets (%s); change the plan's "
                            "input instead (hft_isolcpus_flags, hft_hugepages_2m, hft_iommu_args...)"
                            % (" ".join(clash), "s" if len(clash) == 1 else "",
                               ", ".join(sorted(set(arg_key(a) for a in clash)))))
    return extra


def effective_numa_node(raw, node_ids):
    """A device's NUMA node as the plan and the checks use it, or None when it is unknown.

    sysfs reports -1 when the firmware gives no locality. On a machine with one
    NUMA node that can only be node 0 (or the one node there is); on a
    multi-node machine it stays unknown. ``node_ids`` are the host's node ids.
    """
    nodes = sorted(int(node) for node in node_ids)
    if raw is None:
        return None
    raw = int(raw)
    if raw >= 0:
        return raw
    return nodes[0] if len(nodes) == 1 else None


def read_cmdline(path="/proc/cmdline"):
    """Tokens of the running kernel command line, or None when the file does not exist."""
    try:
        with open(path, "r") as handle:
            return handle.read().split()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise TopologyError("cannot read the kernel command line %s: %s"
                            % (path, exc.strerror or exc))


# --------------------------------------------------------------------------
# planning
# --------------------------------------------------------------------------
def _count(value, what):
    """A page count: a non-negative integer (a string of digits is accepted)."""
    if isinstance(value, bool):
        raise TopologyError("%s must be a non-negative integer, got %r" % (what, value))
    if isinstance(value, int):
        count = value
    elif isinstance(value, str) and re.fullmatch(r"[0-9]+", value.strip()):
        count = int(value.strip())
    else:
        raise TopologyError("%s must be a non-negative integer, got %r" % (what, value))
    if count < 0:
        raise TopologyError("%s must be a non-negative integer, got %r" % (what, value))
    return count


def _node_key(key, nodes, what):
    if isinstance(key, bool) or not (
            isinstance(key, int) or (isinstance(key, str) and re.fullmatch(r"[0-9]+", key))):
        raise TopologyError("%s: %r is not a NUMA node number" % (what, key))
    node = int(key)
    if node not in nodes:
        raise TopologyError("%s names NUMA node %d, which does not exist (NUMA nodes: %s)"
                            % (what, node, ", ".join(str(n) for n in sorted(nodes))))
    return node


def _select_hft_node(topo, nodes, nics, hft_numa_node, warnings):
    """The NUMA node that the HFT pods, their NICs and their HugePages share."""
    explicit = None
    if hft_numa_node is not None:
        explicit = _node_key(hft_numa_node, nodes, "hft_numa_node")

    known_nics = topo.get("nics", {})
    wanted = []
    for name in nics or []:
        if name not in wanted:
            wanted.append(name)
    unknown = [name for name in wanted if name not in known_nics]
    if unknown:
        raise TopologyError(
            "unknown NIC%s %s in nics; NICs with a device on this host: %s"
            % ("s" if len(unknown) > 1 else "", ", ".join(unknown),
               ", ".join(sorted(known_nics)) or "none"))

    located = {}
    unlocated = []
    for name in wanted:
        node = effective_numa_node(known_nics[name]["numa_node"], nodes)
        if node is None:
            unlocated.append(name)
            continue
        if node not in nodes:
            raise TopologyError("NIC %s reports NUMA node %d, which does not exist (NUMA nodes: %s)"
                                % (name, node, ", ".join(str(n) for n in sorted(nodes))))
        located[name] = node
    distinct = sorted(set(located.values()))
    if len(distinct) > 1:
        raise TopologyError(
            "the NICs in nics sit on different NUMA nodes: %s; put the PTP and SR-IOV ports "
            "on one node (or name only the ones the HFT pods use)"
            % ", ".join("%s (node %d)" % (name, located[name]) for name in wanted if name in located))
    nic_node = distinct[0] if distinct else None

    if explicit is not None:
        if nic_node is not None and nic_node != explicit:
            warnings.append(
                "hft_numa_node=%d overrides NIC locality: %s on NUMA node %d"
                % (explicit, ", ".join(sorted(located)), nic_node))
        return explicit
    if nic_node is not None:
        if unlocated and len(nodes) > 1:
            warnings.append("NIC%s %s report%s no NUMA node (numa_node -1); using node %d of %s"
                            % ("s" if len(unlocated) > 1 else "", ", ".join(unlocated),
                               "" if len(unlocated) > 1 else "s", nic_node,
                               ", ".join(sorted(located))))
        return nic_node
    fallback = 0 if 0 in nodes else min(nodes)
    if len(nodes) > 1:
        if unlocated:
            warnings.append(
                "NIC%s %s report%s no NUMA node (numa_node -1) on a machine with %d NUMA nodes; "
                "using node %d. Set hft_numa_node to choose the node explicitly."
                % ("s" if len(unlocated) > 1 else "", ", ".join(unlocated),
                   "" if len(unlocated) > 1 else "s", len(nodes), fallback))
        else:
            warnings.append(
                "no NICs named in nics on a machine with %d NUMA nodes; using node %d. "
                "Name the PTP and SR-IOV ports in nics, or set hft_numa_node."
                % (len(nodes), fallback))
    return fallback


def _default_reserved(nodes, node_cores, hft_node, per_node):
    if isinstance(per_node, bool) or not isinstance(per_node, int) or per_node < 1:
        raise TopologyError(
            "reserved_cores_per_node must be an integer >= 1, got %r: every NUMA node needs "
            "at least one housekeeping core" % (per_node,))
    for node in sorted(nodes):
        count = len(node_cores[node])
        if count and per_node > count:
            raise TopologyError(
                "reserved_cores_per_node=%d is more than NUMA node %d has: it has %d physical "
                "core%s (CPUs %s)"
                % (per_node, node, count, "" if count == 1 else "s",
                   format_cpulist(nodes[node]["cpu_list"])))
    hft_count = len(node_cores[hft_node])
    if per_node >= hft_count:
        raise TopologyError(
            "reserved_cores_per_node=%d would reserve every core of the HFT NUMA node %d "
            "(it has %d physical core%s, CPUs %s), so nothing would be isolated there"
            % (per_node, hft_node, hft_count, "" if hft_count == 1 else "s",
               format_cpulist(nodes[hft_node]["cpu_list"]) or "none"))
    reserved = set()
    for node in sorted(nodes):
        # "First physical core" = the core holding the node's lowest-numbered
        # CPU; never assume a node's CPUs are contiguous.
        for core in sorted(node_cores[node], key=min)[:per_node]:
            reserved.update(core)
    return reserved


def _override_sets(online, reserved_cpus, isolated_cpus):
    reserved = isolated = None
    if reserved_cpus is not None:
        reserved = set(parse_cpulist(reserved_cpus, what="reserved_cpus"))
    if isolated_cpus is not None:
        isolated = set(parse_cpulist(isolated_cpus, what="isolated_cpus"))
    for what, cpus in (("reserved_cpus", reserved), ("isolated_cpus", isolated)):
        if cpus is not None and not cpus <= online:
            raise TopologyError("%s names CPUs that are not online: %s (online CPUs: %s)"
                                % (what, format_cpulist(cpus - online), format_cpulist(online)))
    if reserved is not None and isolated is not None:
        overlap = reserved & isolated
        if overlap:
            raise TopologyError("reserved_cpus and isolated_cpus overlap on CPUs %s"
                                % format_cpulist(overlap))
        neither = online - reserved - isolated
        if neither:
            raise TopologyError(
                "reserved_cpus and isolated_cpus together must cover every online CPU; "
                "CPUs %s are in neither" % format_cpulist(neither))
    elif reserved is not None:
        isolated = online - reserved
    else:
        reserved = online - isolated
    return reserved, isolated


def _check_sets(topo, nodes, reserved, isolated):
    if not reserved:
        raise TopologyError(
            "isolating every online CPU (%s) leaves no housekeeping CPU for the kernel, "
            "systemd and kubelet" % topo["online_cpus"])
    if 0 in isolated:
        # tick_nohz_init() clears the boot CPU from nohz_full ("NO_HZ: Clearing 0
        # from nohz_full range for timekeeping"), so the booted state would never
        # match the plan.
        raise TopologyError(
            "CPU 0 cannot be isolated: it is the boot CPU, which the kernel keeps for "
            "timekeeping (it drops CPU 0 from nohz_full); reserve its core")
    for core in topo.get("physical_cores") or _plain_cores(topo):
        cpus = set(core["cpus"])
        if cpus & reserved and cpus & isolated:
            raise TopologyError(
                "SMT siblings must not be split: %s has CPUs %s reserved and CPUs %s isolated"
                % (_describe_core(core), format_cpulist(cpus & reserved),
                   format_cpulist(cpus & isolated)))
    for node in sorted(nodes):
        cpus = set(nodes[node]["cpu_list"])
        if cpus and not cpus & reserved:
            raise TopologyError(
                "NUMA node %d (CPUs %s) would have no housekeeping CPU; reserve at least "
                "one core there" % (node, format_cpulist(cpus)))


def _plain_cores(topo):
    """Cores for a topology dict without physical_cores (e.g. a recorded contract dict)."""
    cores = []
    for node, info in topo["numa_nodes"].items():
        for index, cpus in enumerate(info["cores"]):
            cores.append({"socket": -1, "core_id": index, "cpus": cpus, "node": int(node)})
    return cores


def _plan_hugepages(nodes, hft_node, hugepages_2m, hugepages_1g, override):
    pages = {size: dict((str(node), 0) for node in sorted(nodes)) for size in SIZES}
    pages["2M"][str(hft_node)] = _count(hugepages_2m, "hugepages_2m")
    pages["1G"][str(hft_node)] = _count(hugepages_1g, "hugepages_1g")
    if override:
        if not isinstance(override, dict):
            raise TopologyError("hugepages must be a dict like {\"2M\": {\"1\": 1024}}, got %r"
                                % (override,))
        for size, per_node in override.items():
            if size not in SIZES:
                raise TopologyError("hugepages: unknown page size %r; use 2M or 1G" % (size,))
            if per_node is None:
                per_node = {}
            if not isinstance(per_node, dict):
                raise TopologyError("hugepages[%s] must map NUMA node to a count, got %r"
                                    % (size, per_node))
            # A size given here replaces the hugepages_2m / hugepages_1g default.
            pages[size] = dict((str(node), 0) for node in sorted(nodes))
            for key, count in per_node.items():
                node = _node_key(key, nodes, "hugepages[%s]" % size)
                pages[size][str(node)] = _count(count, "hugepages[%s][%s]" % (size, key))

    for node in sorted(nodes):
        problem = fit_problem(node, dict((size, pages[size][str(node)]) for size in SIZES),
                              nodes[node]["memory_kb"])
        if problem:
            raise TopologyError(problem)
    return pages


def _kernel_args(online, reserved, isolated, pages, isolcpus_flags):
    flags = []
    for flag in isolcpus_flags:
        if flag not in ISOLCPUS_FLAGS:
            raise TopologyError("isolcpus_flags: unknown flag %r; choose from %s"
                                % (flag, ", ".join(ISOLCPUS_FLAGS)))
        if flag not in flags:
            flags.append(flag)
    args = []
    if isolated:
        iso = format_cpulist(isolated)
        if flags:
            args.append("isolcpus=%s,%s" % (",".join(flags), iso))
        args.append("nohz_full=%s" % iso)
        args.append("rcu_nocbs=%s" % iso)
    if reserved != online:
        # irqaffinity=<every CPU> is the kernel default; leave it out then.
        args.append("irqaffinity=%s" % format_cpulist(reserved))
    sizes = [size for size in SIZES if any(pages[size].values())]
    if sizes:
        args.append("default_hugepagesz=%s" % sizes[0])
    for size in sizes:
        args.append("hugepagesz=%s" % size)
        args.append("hugepages=%s" % ",".join(
            "%s:%d" % (node, count)
            for node, count in sorted(pages[size].items(), key=lambda item: int(item[0]))
            if count))
    return args


def make_plan(topology, nics=None, reserved_cores_per_node=1, reserved_cpus=None,
              isolated_cpus=None, hft_numa_node=None, hugepages_2m=DEFAULT_HUGEPAGES_2M,
              hugepages_1g=DEFAULT_HUGEPAGES_1G, hugepages=None,
              isolcpus_flags=DEFAULT_ISOLCPUS_FLAGS, iommu=False,
              iommu_args=None, cmdline=None, extra_kernel_args=None, cpu=None, settings=None):
    """Build the ``plan`` dictionary of the contract from a ``topology`` dictionary.

    ``cmdline`` is the list of running kernel command-line tokens, or None when
    it could not be read. ``extra_kernel_args`` (hft_kernel_args_extra) are
    appended to the planned arguments: each one token, no duplicate key, no key
    the plan already sets. ``cpu`` ({vendor, flags, cpufreq}, read_cpu) and
    ``settings`` (the latency knobs, _settings.DEFAULTS) give ``plan.settings``;
    ``iommu_args`` None picks the IOMMU arguments by CPU vendor. Returns
    ``(plan, warnings)``.
    """
    warnings = []
    nodes = dict((int(node), info) for node, info in topology["numa_nodes"].items())
    node_cores = dict((node, [list(c) for c in info["cores"]]) for node, info in nodes.items())
    online = set(parse_cpulist(topology["online_cpus"], what="online CPUs"))

    hft_node = _select_hft_node(topology, nodes, nics, hft_numa_node, warnings)
    if not nodes[hft_node]["cpu_list"]:
        raise TopologyError("the HFT NUMA node %d has no CPUs; choose a node with CPUs "
                            "through hft_numa_node" % hft_node)

    if reserved_cpus is None and isolated_cpus is None:
        reserved = _default_reserved(nodes, node_cores, hft_node, reserved_cores_per_node)
        isolated = online - reserved
    else:
        reserved, isolated = _override_sets(online, reserved_cpus, isolated_cpus)
    _check_sets(topology, nodes, reserved, isolated)
    if not set(nodes[hft_node]["cpu_list"]) & isolated:
        warnings.append("no CPU of the HFT NUMA node %d is isolated; latency-critical pods "
                        "will share CPUs with housekeeping there" % hft_node)

    pages = _plan_hugepages(nodes, hft_node, hugepages_2m, hugepages_1g, hugepages)
    if iommu_args is not None:
        problems = arg_problems(list(iommu_args), "iommu_args")
        if problems:
            raise TopologyError("; ".join(problems))
    try:
        planned_settings = plan_settings(settings, cpu, iommu=iommu, iommu_args=iommu_args)
    except SettingsError as exc:
        raise TopologyError("hft_latency_settings: %s" % exc)
    args = _kernel_args(online, reserved, isolated, pages, list(isolcpus_flags or []))
    args += settings_kernel_args(planned_settings)
    args += _extra_args(args, extra_kernel_args)
    missing = missing_args(args, cmdline)
    plan = {
        "reserved_cpus": format_cpulist(reserved),
        "isolated_cpus": format_cpulist(isolated),
        "hft_numa_node": hft_node,
        # The NICs the plan was made for, and the housekeeping CPUs of their NUMA
        # node (their interrupts and transmit queues go there).
        "nics": list(nics or []),
        "hft_housekeeping_cpus": format_cpulist(set(nodes[hft_node]["cpu_list"]) & reserved),
        "hugepages": pages,
        "kernel_args": args,
        "iommu_args": planned_settings["iommu"]["candidate_args"],
        "settings": planned_settings,
        "cmdline_read": cmdline is not None,
        "cmdline_missing": missing,
        "reboot_required": bool(missing),
    }
    return plan, warnings


def read_cpu(sysfs_root="/sys", cpuinfo_path="/proc/cpuinfo"):
    """``{vendor, flags, cpufreq}``: the CPU vendor and flags from cpuinfo, and whether cpufreq exists."""
    vendor = None
    flags = []
    try:
        with open(cpuinfo_path, "r") as handle:
            for line in handle:
                key, dummy, value = line.partition(":")
                key = key.strip()
                if key == "vendor_id" and vendor is None:
                    vendor = value.strip()
                elif key == "flags" and not flags:
                    flags = value.split()
    except (IOError, OSError):
        pass
    cpu_dir = os.path.join(sysfs_root, "devices/system/cpu")
    cpufreq = os.path.isdir(os.path.join(cpu_dir, "cpufreq", "policy0")) or \
        os.path.isdir(os.path.join(cpu_dir, "cpu0", "cpufreq"))
    return {"vendor": vendor, "flags": sorted(set(flags)), "cpufreq": cpufreq}


def build(sysfs_root="/sys", cmdline_path="/proc/cmdline", cpuinfo_path="/proc/cpuinfo", **options):
    """Read the host and plan it: ``{"topology": ..., "plan": ..., "warnings": [...]}``."""
    topology = read_topology(sysfs_root)
    topology["cpu"] = read_cpu(sysfs_root, cpuinfo_path)
    plan, warnings = make_plan(topology, cmdline=read_cmdline(cmdline_path), cpu=topology["cpu"], **options)
    return {"topology": topology, "plan": plan, "warnings": warnings}
