# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Per-CPU activity from procfs, and the user-space tasks that may run on a set of CPUs.

Only the Python standard library is used, so that a standalone collector (a
node-side script or a textfile exporter) can import this one file.

What is read, always relative to a ``procfs_root`` so that tests run on
captured files:

* ``interrupts``: numbered device lines (``36: 0 131249 PCI-MSIX-0000:00:02.0
  1-edge virtio1-req.0``) and the named per-CPU counters (``LOC``, ``RES``,
  ``CAL``, ``TLB``, ...). The header names one column per **online** CPU
  (``for_each_online_cpu``), so an offline CPU has no column and the columns
  are mapped by the header, never by position. ``ERR:`` and ``MIS:`` have one
  system-wide count and no CPU columns.
* ``softirqs``: one column per **possible** CPU (an offline CPU keeps its
  column, with counts frozen).
* ``stat``: ``cpuN`` lines for online CPUs, in USER_HZ ticks.
* ``<pid>/task/<tid>/{status,stat,cgroup}`` (or ``<pid>/...`` when there is no
  ``task`` directory): ``Cpus_allowed_list``, field 39 of ``stat`` (the CPU the
  task last ran on), field 9 (flags, for ``PF_KTHREAD``) and the cgroup path.
* kubelet's ``cpu_manager_state`` (by path): ``policyName``, ``defaultCpuSet``
  and ``entries`` ``{podUID: {containerName: cpuset}}``.

Problems raise :class:`ProcStatError` with a message that names the value or
the file.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import json
import os
import re
import time

PF_KTHREAD = 0x00200000  # include/linux/sched.h

# /proc/stat cpu fields, in the kernel's order (fs/proc/stat.c show_stat).
STAT_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal", "guest", "guest_nice")
# Busy: time the CPU ran something. guest and guest_nice are already inside
# user and nice, so they are not added again; steal is time the hypervisor ran
# something else, counted in the total but not as this CPU's busy time.
BUSY_FIELDS = ("user", "nice", "system", "irq", "softirq")
TOTAL_FIELDS = BUSY_FIELDS + ("idle", "iowait", "steal")

# Task kinds of scan_tasks().
KIND_PINNED = "pinned"          # a pod container that kubelet pinned to these CPUs
KIND_SANDBOX = "pod_sandbox"    # a pod's pause process (sleeps in pause(2) for the pod's life)
KIND_POD = "pod"                # a pod container that kubelet did not pin here (the shared pool)
KIND_HOST = "host"              # any other user-space task
TASK_KINDS = (KIND_PINNED, KIND_SANDBOX, KIND_POD, KIND_HOST)

_CPULIST_ITEM = re.compile(r"([0-9]+)(?:-([0-9]+))?")
_CPU_HEADER = re.compile(r"^CPU([0-9]+)$")
_STAT_CPU = re.compile(r"^cpu([0-9]+)$")
_HWIRQ = re.compile(r"^[0-9]+(?:-[A-Za-z]+)?$")
_TRIGGER = re.compile(r"^(?:edge|level|Edge|Level)$")
# Pod UID and container id in a cgroup path, for the systemd and the cgroupfs
# cgroup drivers: .../kubepods-burstable-pod1b2c_..._9f.slice/cri-containerd-<id>.scope
# and .../kubepods/burstable/pod1b2c-...-9f/<id>.
_POD_SLICE = re.compile(r"(?:^|/)kubepods(?:-[a-z]+)?-pod([0-9a-fA-F_]+)\.slice(?:/|$)")
_POD_DIR = re.compile(r"(?:^|/)pod([0-9a-fA-F-]{32,36})(?:/|$)")
_CONTAINER_SCOPE = re.compile(r"^(?:cri-containerd|crio|docker|containerd)-([0-9a-fA-F]{12,64})\.scope$")
_CONTAINER_DIR = re.compile(r"^([0-9a-fA-F]{64})$")
SANDBOX_COMMS = ("pause",)


class ProcStatError(ValueError):
    """A procfs file or a kubelet state file is unusable; the message names it."""


# --------------------------------------------------------------------------
# cpulists
# --------------------------------------------------------------------------
def parse_cpulist(text, what="cpulist"):
    """``"0-3,8,10-11"`` as a sorted list of ints; ``""`` is the empty set.

    Items are ``N`` or ``N-M`` with ``N <= M``, comma-separated, no whitespace
    (surrounding whitespace of the whole text is ignored, as in a file).
    """
    if not isinstance(text, str):
        raise ProcStatError("bad cpulist syntax in %s: %r is not a string" % (what, text))
    text = text.strip()
    if text == "":
        return []
    cpus = set()
    for item in text.split(","):
        match = _CPULIST_ITEM.fullmatch(item)
        if match is None:
            raise ProcStatError("bad cpulist syntax in %s: %r (item %r is not N or N-M; write e.g. \"2-3,6-7\")"
                                % (what, text, item))
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) is not None else first
        if last < first:
            raise ProcStatError("bad cpulist syntax in %s: %r (range %r runs backwards)" % (what, text, item))
        cpus.update(range(first, last + 1))
    return sorted(cpus)


def format_cpulist(cpus):
    """CPU numbers as a canonical kernel cpulist (sorted, runs as ``N-M``)."""
    ordered = sorted(set(int(cpu) for cpu in cpus))
    parts = []
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append("%d" % ordered[i] if i == j else "%d-%d" % (ordered[i], ordered[j]))
        i = j + 1
    return ",".join(parts)


# --------------------------------------------------------------------------
# /proc/interrupts, /proc/softirqs, /proc/stat
# --------------------------------------------------------------------------
def _header_cpus(line, what):
    cpus = []
    for token in line.split():
        match = _CPU_HEADER.match(token)
        if not match:
            raise ProcStatError("%s: header %r is not a list of CPUn columns" % (what, line.strip()))
        cpus.append(int(match.group(1)))
    if not cpus:
        raise ProcStatError("%s: no CPU columns in the header" % what)
    return cpus


def _counts(tokens, cpus):
    """Leading integer tokens as {cpu: count}; returns (counts, rest)."""
    counts = {}
    i = 0
    while i < len(tokens) and i < len(cpus) and tokens[i].isdigit():
        counts[cpus[i]] = int(tokens[i])
        i += 1
    return counts, tokens[i:]


def _describe(rest):
    """The trailing columns of a device line: chip, hwirq[-trigger], [trigger], action names."""
    desc = {"chip": None, "hwirq": None, "actions": "", "desc": " ".join(rest)}
    tokens = list(rest)
    if tokens:
        desc["chip"] = tokens.pop(0)
    if tokens and _HWIRQ.match(tokens[0]):
        desc["hwirq"] = tokens.pop(0)
        if tokens and _TRIGGER.match(tokens[0]):
            desc["hwirq"] += "-" + tokens.pop(0).lower()
    desc["actions"] = " ".join(tokens)
    return desc


def parse_interrupts(text, what="/proc/interrupts"):
    """/proc/interrupts as ``{cpus, device, other}``.

    ``cpus``: the CPU numbers of the header's columns (online CPUs). ``device``:
    ``{irq: {counts: {cpu: n}, chip, hwirq, actions, desc}}`` for the numbered
    lines, keyed by the IRQ number as a string. ``other``: ``{name: {counts,
    desc}}`` for the named lines (``LOC``, ``RES``, ...); ``ERR``/``MIS`` have
    ``total`` and empty ``counts``.
    """
    lines = [line for line in (text or "").splitlines() if line.strip()]
    if not lines:
        raise ProcStatError("%s is empty" % what)
    cpus = _header_cpus(lines[0], what)
    device, other = {}, {}
    for line in lines[1:]:
        label, sep, rest = line.partition(":")
        label = label.strip()
        if not sep or not label:
            raise ProcStatError("%s: unrecognised line %r" % (what, line))
        tokens = rest.split()
        counts, tail = _counts(tokens, cpus)
        if label.isdigit():
            entry = _describe(tail)
            entry["counts"] = counts
            device[label] = entry
        elif len(counts) == 1 and len(cpus) > 1 and not tail:
            # ERR and MIS: one system-wide count, no CPU columns.
            other[label] = {"counts": {}, "total": counts[cpus[0]], "desc": ""}
        else:
            other[label] = {"counts": counts, "desc": " ".join(tail)}
    return {"cpus": cpus, "device": device, "other": other}


def parse_softirqs(text, what="/proc/softirqs"):
    """/proc/softirqs as ``{cpus, counts: {NAME: {cpu: n}}}`` (columns are possible CPUs)."""
    lines = [line for line in (text or "").splitlines() if line.strip()]
    if not lines:
        raise ProcStatError("%s is empty" % what)
    cpus = _header_cpus(lines[0], what)
    counts = {}
    for line in lines[1:]:
        label, sep, rest = line.partition(":")
        values, tail = _counts(rest.split(), cpus)
        if not sep or tail or len(values) != len(cpus):
            raise ProcStatError("%s: line %r does not hold one count per CPU column" % (what, line.strip()))
        counts[label.strip()] = values
    return {"cpus": cpus, "counts": counts}


def parse_stat(text, what="/proc/stat"):
    """The ``cpuN`` lines of /proc/stat as ``{cpu: {user, nice, ..., guest_nice}}`` (ticks)."""
    out = {}
    for line in (text or "").splitlines():
        tokens = line.split()
        if not tokens:
            continue
        match = _STAT_CPU.match(tokens[0])
        if not match:
            continue
        values = tokens[1:]
        if len(values) < 4 or not all(v.isdigit() for v in values):
            raise ProcStatError("%s: line %r is not a cpu line of tick counts" % (what, line.strip()))
        out[int(match.group(1))] = dict((name, int(values[i]) if i < len(values) else 0)
                                        for i, name in enumerate(STAT_FIELDS))
    if not out:
        raise ProcStatError("%s has no cpuN lines" % what)
    return out


def _read(path, what=None):
    try:
        with open(path, "r") as handle:
            return handle.read()
    except (IOError, OSError) as exc:
        raise ProcStatError("cannot read %s: %s" % (what or path, getattr(exc, "strerror", None) or exc))


def snapshot(procfs_root="/proc", clock=None):
    """One reading of interrupts, softirqs and stat, with the time it was taken.

    ``clock`` returns seconds (default ``time.monotonic``); tests pass their own.
    """
    taken = (clock or time.monotonic)()
    return {
        "time": taken,
        "interrupts": parse_interrupts(_read(os.path.join(procfs_root, "interrupts"))),
        "softirqs": parse_softirqs(_read(os.path.join(procfs_root, "softirqs"))),
        "stat": parse_stat(_read(os.path.join(procfs_root, "stat"))),
    }


def _delta(after, before):
    """Counter difference; a counter that went backwards (IRQ freed and reused) counts from zero."""
    return after - before if after >= before else after


def diff_interrupts(before, after, cpus):
    """Per CPU in ``cpus``: ``{device: {irq: {count, desc}}, other: {NAME: count}}`` (non-zero device IRQs only)."""
    out = {}
    for cpu in cpus:
        device = {}
        for irq, entry in after["device"].items():
            if cpu not in entry["counts"]:
                continue
            old = before["device"].get(irq, {}).get("counts", {}).get(cpu, 0)
            count = _delta(entry["counts"][cpu], old)
            if count:
                device[irq] = {"count": count, "desc": entry["desc"], "actions": entry["actions"]}
        other = {}
        for name, entry in after["other"].items():
            if cpu in entry["counts"]:
                old = before["other"].get(name, {}).get("counts", {}).get(cpu, 0)
                other[name] = _delta(entry["counts"][cpu], old)
        out[cpu] = {"device": device, "other": other, "online": cpu in after["cpus"]}
    return out


def diff_softirqs(before, after, cpus):
    """Per CPU in ``cpus``: ``{NAME: count}``."""
    out = {}
    for cpu in cpus:
        out[cpu] = dict((name, _delta(values.get(cpu, 0), before["counts"].get(name, {}).get(cpu, 0)))
                        for name, values in after["counts"].items() if cpu in values)
    return out


def diff_stat(before, after, cpus):
    """Per CPU in ``cpus``: busy, idle, steal and total ticks and ``busy_percent`` (None if no ticks passed)."""
    out = {}
    for cpu in cpus:
        if cpu not in before or cpu not in after:
            out[cpu] = {"busy_ticks": None, "total_ticks": None, "busy_percent": None, "steal_ticks": None}
            continue
        delta = dict((k, _delta(after[cpu][k], before[cpu][k])) for k in STAT_FIELDS)
        busy = sum(delta[k] for k in BUSY_FIELDS)
        total = sum(delta[k] for k in TOTAL_FIELDS)
        out[cpu] = {"busy_ticks": busy, "total_ticks": total, "steal_ticks": delta["steal"],
                    "busy_percent": round(100.0 * busy / total, 3) if total else None}
    return out


def _rates(counts, seconds):
    return dict((name, {"count": count, "per_s": round(count / seconds, 3) if seconds > 0 else None})
                for name, count in sorted(counts.items()))


def diff_snapshots(before, after, cpus):
    """Everything that happened on each CPU of ``cpus`` between two snapshots.

    Returns ``{seconds, per_cpu: {"N": {online, busy_percent, busy_ticks,
    total_ticks, steal_ticks, device_irqs: {irq: {count, per_s, desc,
    actions}}, other_irqs: {NAME: {count, per_s}}, softirqs: {NAME: {count,
    per_s}}}}}``; CPU keys are strings (JSON-safe).
    """
    seconds = after["time"] - before["time"]
    if seconds <= 0:
        raise ProcStatError("the second snapshot is not later than the first (%.3f s apart)" % seconds)
    irqs = diff_interrupts(before["interrupts"], after["interrupts"], cpus)
    soft = diff_softirqs(before["softirqs"], after["softirqs"], cpus)
    stat = diff_stat(before["stat"], after["stat"], cpus)
    per_cpu = {}
    for cpu in cpus:
        device = {}
        for irq, entry in sorted(irqs[cpu]["device"].items(), key=lambda kv: int(kv[0])):
            device[irq] = dict(entry, per_s=round(entry["count"] / seconds, 3))
        per_cpu[str(cpu)] = dict(stat[cpu], online=irqs[cpu]["online"], device_irqs=device,
                                 other_irqs=_rates(irqs[cpu]["other"], seconds),
                                 softirqs=_rates(soft[cpu], seconds))
    return {"seconds": round(seconds, 3), "per_cpu": per_cpu}


# --------------------------------------------------------------------------
# kubelet's cpu_manager_state
# --------------------------------------------------------------------------
def parse_cpu_manager_state(text, what="cpu_manager_state"):
    """kubelet's CPU manager checkpoint as ``{policy, default_cpus, entries, pinned_cpus}``.

    ``entries``: ``{podUID: {container: [cpus]}}`` (kubelet writes cpusets as
    cpulists). ``pinned_cpus``: every CPU some container holds exclusively.
    """
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ProcStatError("%s is not JSON: %s" % (what, exc))
    if not isinstance(data, dict) or not isinstance(data.get("policyName"), str):
        raise ProcStatError("%s has no policyName (is it kubelet's CPU manager checkpoint?)" % what)
    raw_entries = data.get("entries")
    if raw_entries is None:
        raw_entries = {}
    if not isinstance(raw_entries, dict):
        raise ProcStatError("%s: entries is not a mapping of pod UIDs" % what)
    entries, pinned = {}, set()
    for uid, containers in sorted(raw_entries.items()):
        if not isinstance(containers, dict):
            raise ProcStatError("%s: entries[%s] is not a mapping of containers" % (what, uid))
        entries[uid] = {}
        for name, cpuset in sorted(containers.items()):
            cpus = parse_cpulist(cpuset, "%s entries[%s][%s]" % (what, uid, name))
            entries[uid][name] = cpus
            pinned.update(cpus)
    return {"policy": data["policyName"],
            "default_cpus": parse_cpulist(data.get("defaultCpuSet") or "", "%s defaultCpuSet" % what),
            "entries": entries, "pinned_cpus": sorted(pinned)}


def read_cpu_manager_state(path):
    """The parsed state, or None when the file does not exist (no kubelet has run with a CPU manager)."""
    if not os.path.exists(path):
        return None
    return parse_cpu_manager_state(_read(path), path)


def cpu_holders(state):
    """``{cpu: "podUID/container"}`` for every CPU a container holds (empty without a state)."""
    holders = {}
    for uid, containers in sorted(((state or {}).get("entries") or {}).items()):
        for name, cpus in sorted(containers.items()):
            for cpu in cpus:
                holders[cpu] = "%s/%s" % (uid, name)
    return holders


# --------------------------------------------------------------------------
# tasks
# --------------------------------------------------------------------------
def pod_of_cgroup(path):
    """``(pod_uid, container_id)`` of a kubepods cgroup path, or ``(None, None)``.

    Handles the systemd driver (``kubepods-besteffort-pod<uid with _>.slice``,
    ``cri-containerd-<id>.scope``, ``crio-<id>.scope``, ``docker-<id>.scope``)
    and the cgroupfs driver (``/kubepods/burstable/pod<uid>/<id>``).
    """
    if "kubepods" not in (path or ""):
        return None, None
    uid = None
    match = _POD_SLICE.search(path)
    if match:
        uid = match.group(1).replace("_", "-")
    else:
        match = _POD_DIR.search(path)
        if match:
            uid = match.group(1)
    if uid is None:
        return None, None
    leaf = path.rstrip("/").rsplit("/", 1)[-1]
    match = _CONTAINER_SCOPE.match(leaf) or _CONTAINER_DIR.match(leaf)
    return uid, match.group(1) if match else None


def parse_status(text):
    """The ``Key:<tab>value`` lines of /proc/PID/status as a dict of strings."""
    out = {}
    for line in (text or "").splitlines():
        key, sep, value = line.partition(":")
        if sep:
            out[key.strip()] = value.strip()
    return out


def parse_task_stat(text):
    """``{pid, comm, state, flags, processor}`` from /proc/PID/stat (comm may hold spaces and parens)."""
    text = (text or "").strip()
    open_paren, close_paren = text.find("("), text.rfind(")")
    if open_paren < 0 or close_paren < open_paren:
        raise ProcStatError("not a /proc/PID/stat line: %r" % text[:80])
    fields = text[close_paren + 1:].split()  # fields[0] is field 3 (state)
    if len(fields) < 37:
        raise ProcStatError("/proc/PID/stat line has %d fields after comm, expected at least 37" % len(fields))
    return {"pid": int(text[:open_paren].strip()), "comm": text[open_paren + 1:close_paren],
            "state": fields[0], "flags": int(fields[6]), "processor": int(fields[36])}


def _cgroup_path(text):
    """The cgroup path of a task: the one that names kubepods, else the v2 (``0::``) one, else the first."""
    paths = []
    for line in (text or "").splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            paths.append((parts[0], parts[2].strip()))
    for _hier, path in paths:
        if "kubepods" in path:
            return path
    for hier, path in paths:
        if hier == "0":
            return path
    return paths[0][1] if paths else ""


def _task_dirs(procfs_root):
    try:
        names = os.listdir(procfs_root)
    except OSError as exc:
        raise ProcStatError("cannot list %s: %s" % (procfs_root, exc.strerror or exc))
    for name in sorted((n for n in names if n.isdigit()), key=int):
        tasks = os.path.join(procfs_root, name, "task")
        try:
            tids = sorted((t for t in os.listdir(tasks) if t.isdigit()), key=int)
        except OSError:
            tids = None
        if tids:
            for tid in tids:
                yield int(name), int(tid), os.path.join(tasks, tid)
        else:
            yield int(name), int(name), os.path.join(procfs_root, name)


def _read_task(path):
    """(status, stat, cgroup) texts, or None when the task went away meanwhile."""
    texts = []
    for name in ("status", "stat", "cgroup"):
        try:
            with open(os.path.join(path, name), "r") as handle:
                texts.append(handle.read())
        except (IOError, OSError):
            if name == "cgroup":
                texts.append("")
            else:
                return None
    return texts


def _classify(comm, cgroup, allowed, state):
    uid, container_id = pod_of_cgroup(cgroup)
    if uid is None:
        return KIND_HOST, None, None, None
    assigned = ((state or {}).get("entries") or {}).get(uid) or {}
    for name, cpuset in sorted(assigned.items()):
        if allowed and set(allowed) <= set(cpuset):
            return KIND_PINNED, uid, container_id, name
    if comm in SANDBOX_COMMS:
        return KIND_SANDBOX, uid, container_id, None
    return KIND_POD, uid, container_id, None


def scan_tasks(cpus, procfs_root="/proc", cpu_manager_state=None, exclude_pids=()):
    """Every user-space task (thread) that last ran on, or may run on, a CPU of ``cpus``.

    ``cpu_manager_state``: the parsed kubelet state (:func:`parse_cpu_manager_state`)
    or None. Kernel threads (``PF_KTHREAD``) are counted, not listed: they have
    no user space and are not stray. ``exclude_pids``: processes to leave out
    (the probe itself). Returns ``{tasks: [...], kernel_threads: n, scanned: n}``
    where each task is ``{pid, tid, comm, allowed, last_cpu, on_cpus, kind,
    pod_uid, container_id, container, cgroup}``: ``kind`` is one of
    :data:`TASK_KINDS`, ``on_cpus`` the CPUs of ``cpus`` it may run on or ran on.
    """
    wanted = set(cpus)
    excluded = set(int(p) for p in exclude_pids)
    tasks, kthreads, scanned = [], 0, 0
    for pid, tid, path in _task_dirs(procfs_root):
        if pid in excluded:
            continue
        texts = _read_task(path)
        if texts is None:
            continue  # the task exited between the listing and the read
        status_text, stat_text, cgroup_text = texts
        scanned += 1
        try:
            stat = parse_task_stat(stat_text)
        except ProcStatError as exc:
            raise ProcStatError("%s/stat: %s" % (path, exc))
        status = parse_status(status_text)
        if "Cpus_allowed_list" not in status:
            raise ProcStatError("%s/status has no Cpus_allowed_list" % path)
        allowed = parse_cpulist(status["Cpus_allowed_list"], "%s/status Cpus_allowed_list" % path)
        on_cpus = (set(allowed) | {stat["processor"]}) & wanted
        if not on_cpus or stat["state"] in ("Z", "X"):
            continue
        if stat["flags"] & PF_KTHREAD or status.get("Kthread") == "1":
            kthreads += 1
            continue
        cgroup = _cgroup_path(cgroup_text)
        kind, uid, container_id, container = _classify(stat["comm"], cgroup, allowed, cpu_manager_state)
        tasks.append({"pid": pid, "tid": tid, "comm": stat["comm"], "allowed": format_cpulist(allowed),
                      "last_cpu": stat["processor"], "on_cpus": format_cpulist(on_cpus), "kind": kind,
                      "pod_uid": uid, "container_id": container_id, "container": container, "cgroup": cgroup})
    return {"tasks": tasks, "kernel_threads": kthreads, "scanned": scanned}
