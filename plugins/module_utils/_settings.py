# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The latency settings every low-latency runbook applies: each planned here, with one owner.

Pure functions. The planner (``_topology.make_plan``) calls :func:`plan_settings`
with the CPU facts of the host (vendor, flags, whether cpufreq exists) and the
knobs (``hft_latency_settings``, see :data:`DEFAULTS`); the result is
``plan.settings``: for each knob its value (None: not managed, or not
applicable here), its owner and the decision in words. The kernel-argument
knobs also return their arguments, which boot_args applies with the others.

Owners (one per setting, see docs/ARCHITECTURE.md):

* kernel command line (boot_args): ``nmi_watchdog=0`` and ``nosoftlockup``
  (watchdogs), ``skew_tick=1``, ``tsc=reliable`` (only with an invariant TSC:
  ``constant_tsc`` and ``nonstop_tsc``), the IOMMU arguments by CPU vendor;
* the quantbot-hft tuned profile (tuned): C-states (per-CPU
  ``pm_qos_resume_latency_us`` on the isolated CPUs, finer than the system-wide
  ``force_latency``, which the profile drops from its parent), the cpufreq
  governor (where cpufreq exists), transparent HugePages, the sysctls
  ``kernel.timer_migration`` and ``vm.stat_interval``, and the pinning of the
  HFT NIC's interrupts and RPS/XPS masks (a boot unit of the tuned role);
* the hugepages role: swap off (kubelet keeps ``failSwapOn``).
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

IOMMU_ARGS = {"GenuineIntel": ("intel_iommu=on", "iommu=pt"),
              # The AMD IOMMU is on by default (amd_iommu=on is not a valid value); passthrough is what helps.
              "AuthenticAMD": ("iommu=pt",)}
DEFAULT_IOMMU_ARGS = ("iommu=pt",)
INVARIANT_TSC_FLAGS = ("constant_tsc", "nonstop_tsc")

# The knobs and their defaults. false / "" / None turns a knob off (not managed).
DEFAULTS = {
    "watchdogs": True,          # nmi_watchdog=0 nosoftlockup
    "skew_tick": True,          # skew_tick=1
    "tsc_reliable": "auto",     # tsc=reliable where the TSC is invariant; true forces it, false never
    "cstates": "n/a",           # pm_qos_resume_latency_us on the isolated CPUs ("n/a": no C-state but polling)
    "governor": "performance",  # cpufreq governor, where cpufreq exists
    "thp": "never",             # /sys/kernel/mm/transparent_hugepage/enabled
    "swap": "off",              # no active swap
    "timer_migration": 0,       # kernel.timer_migration
    "stat_interval": 10,        # vm.stat_interval (seconds between vmstat updates)
    "irq_affinity": True,       # the HFT NIC's IRQs and RPS/XPS masks on the housekeeping CPUs of its node
}
OWNERS = {"watchdogs": "boot_args", "skew_tick": "boot_args", "tsc_reliable": "boot_args", "iommu": "boot_args",
          "cstates": "tuned", "governor": "tuned", "thp": "tuned", "timer_migration": "tuned",
          "stat_interval": "tuned", "irq_affinity": "tuned", "swap": "hugepages"}
THP_VALUES = ("always", "madvise", "never")


class SettingsError(ValueError):
    """An unknown knob or a value it cannot take; the message names it."""


def _off(value):
    return value is None or value is False or value == ""


def is_off(value):
    """A knob value that means "not managed": null, false or "" (0 is a value: cstates 0, timer_migration 0)."""
    return _off(value)


def knob_problems(values):
    """Problems with the latency knobs a role takes directly ({role variable: (knob, value)}); [] when none.

    The same rules as the plan's (normalise), each message naming the role variable.
    """
    problems = []
    for var, (knob, value) in sorted((values or {}).items()):
        try:
            normalise({knob: value})
        except SettingsError as err:
            text = str(err)
            problems.append(var + text[len(knob):] if text.startswith(knob) else "%s: %s" % (var, text))
    return problems


def normalise(knobs):
    """The knobs with the defaults filled in; unknown keys and bad values refused."""
    knobs = dict(knobs or {})
    unknown = sorted(set(knobs) - set(DEFAULTS))
    if unknown:
        raise SettingsError("unknown latency setting%s %s; known: %s"
                            % ("s" if len(unknown) > 1 else "", ", ".join(unknown), ", ".join(sorted(DEFAULTS))))
    out = dict(DEFAULTS)
    out.update(knobs)
    for key in ("watchdogs", "skew_tick", "irq_affinity"):
        if not isinstance(out[key], bool):
            raise SettingsError("%s must be true or false, got %r" % (key, out[key]))
    if out["tsc_reliable"] not in ("auto", True, False):
        raise SettingsError("tsc_reliable must be auto, true or false, got %r" % (out["tsc_reliable"],))
    if not _off(out["cstates"]) and out["cstates"] != "n/a" and not (
            isinstance(out["cstates"], int) and not isinstance(out["cstates"], bool) and out["cstates"] >= 0):
        raise SettingsError("cstates must be n/a (polling only), a resume latency in microseconds >= 0, or false, "
                            "got %r" % (out["cstates"],))
    if not _off(out["thp"]) and out["thp"] not in THP_VALUES:
        raise SettingsError("thp must be one of %s (or false), got %r" % (", ".join(THP_VALUES), out["thp"]))
    if not _off(out["swap"]) and out["swap"] != "off":
        raise SettingsError("swap must be off (or false to leave swap alone), got %r" % (out["swap"],))
    if not _off(out["governor"]) and not (isinstance(out["governor"], str) and out["governor"].isalnum()):
        raise SettingsError("governor must be a cpufreq governor name such as performance, got %r" % (out["governor"],))
    for key in ("timer_migration", "stat_interval"):
        value = out[key]
        if not _off(value) and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise SettingsError("%s must be an integer >= 0 (or false), got %r" % (key, value))
    return out


def _entry(knob, value, decision, args=()):
    return {"value": value, "owner": OWNERS[knob], "decision": decision, "args": list(args)}


def plan_settings(knobs, cpu, iommu=False, iommu_args=None):
    """``plan.settings`` for this host. ``cpu``: {vendor, flags, cpufreq} (read_cpu)."""
    knobs = normalise(knobs)
    cpu = cpu or {}
    flags = set(cpu.get("flags") or [])
    out = {}
    if knobs["watchdogs"]:
        out["watchdogs"] = _entry("watchdogs", True, "NMI and soft-lockup watchdogs off (no periodic NMI or "
                                  "watchdog thread on the isolated CPUs)", ("nmi_watchdog=0", "nosoftlockup"))
    else:
        out["watchdogs"] = _entry("watchdogs", None, "not managed (watchdogs: false)")
    out["skew_tick"] = _entry("skew_tick", 1, "ticks skewed so they do not fire on every CPU at once",
                              ("skew_tick=1",)) if knobs["skew_tick"] else \
        _entry("skew_tick", None, "not managed (skew_tick: false)")
    invariant = all(flag in flags for flag in INVARIANT_TSC_FLAGS)
    if knobs["tsc_reliable"] is True or (knobs["tsc_reliable"] == "auto" and invariant):
        out["tsc_reliable"] = _entry("tsc_reliable", "reliable",
                                     "invariant TSC (constant_tsc, nonstop_tsc): no clocksource watchdog"
                                     if invariant else "forced (tsc_reliable: true) without an invariant TSC",
                                     ("tsc=reliable",))
    elif knobs["tsc_reliable"] == "auto":
        missing = [flag for flag in INVARIANT_TSC_FLAGS if flag not in flags]
        out["tsc_reliable"] = _entry("tsc_reliable", None, "skipped: the TSC is not invariant here (no %s)"
                                     % ", ".join(missing))
    else:
        out["tsc_reliable"] = _entry("tsc_reliable", None, "not managed (tsc_reliable: false)")
    vendor = cpu.get("vendor")
    args = list(iommu_args) if iommu_args is not None else list(IOMMU_ARGS.get(vendor, DEFAULT_IOMMU_ARGS))
    out["iommu"] = _entry("iommu", " ".join(args) if iommu else None,
                          ("%s for %s (vfio-pci VFs need the IOMMU)" % (" ".join(args), vendor or "this CPU"))
                          if iommu else "off (no VF bound to vfio-pci)", args if iommu else ())
    out["iommu"]["candidate_args"] = args
    out["cstates"] = _entry("cstates", knobs["cstates"], "pm_qos_resume_latency_us=%s on each isolated CPU (finer "
                            "than tuned's system-wide force_latency, which the profile drops)" % knobs["cstates"]) \
        if not _off(knobs["cstates"]) else _entry("cstates", None, "not managed (cstates: false)")
    if _off(knobs["governor"]):
        out["governor"] = _entry("governor", None, "not managed (governor: false)")
    elif not cpu.get("cpufreq"):
        out["governor"] = _entry("governor", None, "skipped: no cpufreq on this host (a VM, or firmware-controlled)")
    else:
        out["governor"] = _entry("governor", knobs["governor"], "cpufreq governor %s on every CPU" % knobs["governor"])
    out["thp"] = _entry("thp", knobs["thp"], "transparent HugePages %s (no khugepaged compaction stalls)"
                        % knobs["thp"]) if not _off(knobs["thp"]) else _entry("thp", None, "not managed (thp: false)")
    out["swap"] = _entry("swap", "off", "no active swap (kubelet keeps failSwapOn)") \
        if not _off(knobs["swap"]) else _entry("swap", None, "not managed (swap: false)")
    for key, sysctl in (("timer_migration", "kernel.timer_migration"), ("stat_interval", "vm.stat_interval")):
        value = knobs[key]
        out[key] = _entry(key, None, "not managed (%s: false)" % key) if _off(value) else \
            _entry(key, value, "%s = %s" % (sysctl, value))
    out["irq_affinity"] = _entry("irq_affinity", True, "the HFT NIC's interrupts (PF and VFs) and RPS/XPS masks on "
                                 "the housekeeping CPUs of its NUMA node, at boot, kept from irqbalance") \
        if knobs["irq_affinity"] else _entry("irq_affinity", None, "not managed (irq_affinity: false)")
    return out


def kernel_args(settings):
    """The kernel arguments of the settings, in a fixed order."""
    args = []
    for knob in ("iommu", "watchdogs", "skew_tick", "tsc_reliable"):
        args.extend((settings.get(knob) or {}).get("args") or [])
    return args
