# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The collection's rules for YAML: each filter is a thin call into plugins/module_utils.

Roles and playbooks use these instead of Jinja namespace() loops, so every rule
exists once, in Python, with unit tests. Each filter's documentation is in
``plugins/filter/<name>.yml``... of the same name in this file's FILTERS table.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import yaml

from ansible.errors import AnsibleFilterError

from ansible_collections.quantbot.hft.plugins.module_utils import _cmdline, _hugepages, _kubelet, _ptpconf
from ansible_collections.quantbot.hft.plugins.module_utils import _sriov, _textreport, _tuned
from ansible_collections.quantbot.hft.plugins.module_utils._topology import (
    TopologyError,
    format_cpulist,
    parse_cpulist,
)


def _wrap(fn):
    """Domain errors become AnsibleFilterError with the domain's message (no traceback for the user)."""
    def call(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (TopologyError, _cmdline.CmdlineError, _kubelet.KubeletError, _sriov.SriovError, ValueError) as exc:
            raise AnsibleFilterError("%s: %s" % (fn.__name__, exc))
    call.__name__ = fn.__name__
    call.__doc__ = fn.__doc__
    return call


def cpulist(text, what="cpulist"):
    """A kernel cpulist ("0-3,8") as a sorted list of CPU numbers."""
    return parse_cpulist(text, what)


def cpulist_format(cpus):
    """CPU numbers as a canonical kernel cpulist."""
    return format_cpulist(cpus)


def cpumask(cpus):
    """A cpulist (or CPU numbers) as the kernel's hex mask, 32-bit words separated by commas ("30" for 4-5)."""
    numbers = parse_cpulist(cpus, "cpumask") if isinstance(cpus, str) else [int(c) for c in cpus]
    value = 0
    for cpu in numbers:
        value |= 1 << cpu
    words = []
    while True:
        words.append(value & 0xFFFFFFFF)
        value >>= 32
        if not value:
            break
    return ",".join(["%x" % words[-1]] + ["%08x" % word for word in reversed(words[:-1])])


def missing_kernel_args(wanted, running):
    """Arguments of ``wanted`` absent from ``running`` (hugepages= paired with its hugepagesz=)."""
    return _cmdline.missing_args(wanted, running)


def boot_args_problems(args, host, previous=None):
    """Why the boot_args role refuses ``args`` on this host: bad tokens, duplicates, another owner's keys."""
    problems = _cmdline.arg_problems(args, "boot_args_kernel_args")
    if problems:
        return problems
    if not isinstance(host, dict) or "cmdline" not in host:
        return ["the running kernel command line is unknown (run quantbot.hft.host_facts first in this play)"]
    foreign = _cmdline.foreign_args(host["cmdline"], args, previous or [])
    if foreign:
        return ["the running kernel command line has %s, which this role did not set, for key(s) that boot_args owns "
                "(%s). Remove them from their owner (/etc/default/grub, another file in /etc/default/grub.d, tuned's "
                "bootloader plugin) and reboot, or drop them from the plan"
                % (" ".join(foreign), ", ".join(sorted(set(_cmdline.arg_key(a) for a in foreign))))]
    return []


def hugepages_problems(pages, host, mounts=None, percent=_hugepages.HEADROOM_PERCENT,
                       min_mb=_hugepages.HEADROOM_MIN_KB // 1024):
    return _hugepages.pages_problems(pages, mounts, host, percent, min_mb)


def hugepages_alloc_args(pages, size="2M"):
    return _hugepages.alloc_args(pages, size)


def hugepages_differ(pages, host, size="2M"):
    return _hugepages.differs(pages, host, size)


def hugepages_allocated(host):
    return _hugepages.allocated(host)


def hugepages_reboot(pages, host, alloc=None, check_mode=False):
    return _hugepages.reboot_decision(pages, host, alloc, check_mode)


def tuned_problems(isolated, host, no_balance="", profile_name="quantbot-hft", parent="cpu-partitioning",
                   sysctls=None, irqbalance_manage=True, known_profiles=(), settings=None):
    return _tuned.tuned_problems(isolated, no_balance, profile_name, parent, sysctls, host, irqbalance_manage,
                                 known_profiles, settings)


def tuned_reboot(host, isolated, check_mode=False):
    return _tuned.reboot_decision(host, isolated, check_mode)


def ptp_interfaces(interfaces, defaults):
    return _ptpconf.resolve_interfaces(interfaces, defaults)


def ptp_problems(ifaces, host, cpu_affinity, sched_priority, servo, threshold_ns, summary_interval, logging_level):
    return _ptpconf.ptp_problems(ifaces, cpu_affinity, sched_priority, servo, threshold_ns, summary_interval,
                                 logging_level, host)


def ptp_units_to_stop(host, conflicting, ifaces):
    return _ptpconf.units_to_stop(host, conflicting, ifaces)


def sriov_problems(pfs, host, plan_args, iommu_args, resources=None, deploy="configmap",
                   resource_prefix=_sriov.DEFAULT_RESOURCE_PREFIX):
    """The VF request against the host, the IOMMU plan, and the device plugin resources and deployment mode."""
    problems = _sriov.sriov_problems(pfs, host, plan_args or [], iommu_args)
    if deploy not in ("configmap", "hostfile"):
        problems.append("sriov_device_plugin_deploy must be configmap or hostfile, got %r" % (deploy,))
    if resources:
        try:
            _sriov.validate_resources(resources, resource_prefix)
        except _sriov.SriovError as exc:
            problems.append(str(exc))
    return problems


def sriov_normalize(pfs):
    """sriov_pfs normalised (defaults filled in, VFs sorted), as the boot unit applies it."""
    return _sriov.normalize_pfs(pfs)


def sriov_device_plugin_config(pfs, host, resource_name=_sriov.DEFAULT_RESOURCE_NAME,
                               resource_prefix=_sriov.DEFAULT_RESOURCE_PREFIX, resources=None):
    """The SR-IOV device plugin's config for the VFs of ``pfs`` on this host (or ``resources``, when given)."""
    normalized = _sriov.normalize_pfs(pfs)
    return _sriov.device_plugin_config(normalized, _sriov.host_from_facts(host, [pf["name"] for pf in normalized]),
                                       resource_name, resource_prefix, resources or None)


def sriov_reboot(pfs, host, iommu_args):
    status = _sriov.iommu_status(_sriov.normalize_pfs(pfs), list(iommu_args), [], (host or {}).get("cmdline") or "")
    missing = status["missing_from_cmdline"]
    return {"required": bool(missing),
            "reason": ("vfio-pci needs %s, missing from /proc/cmdline" % " ".join(missing)) if missing else ""}


def kubelet_dropin(settings):
    return _kubelet.desired_dropin(settings)


def kubelet_env_file(text, line):
    return _kubelet.env_file_text(text, line)


def kubelet_problems(settings, host, isolated_cpus=""):
    return _kubelet.kubelet_problems(settings, host, isolated_cpus)


def kubelet_decision(settings, host, configz=None, force=False, check_mode=False):
    """What the kubelet role does (see _kubelet.decide); ``configz`` is the uri result or its JSON."""
    if isinstance(configz, dict) and "json" in configz:
        configz = configz.get("json") if configz.get("status") == 200 else None
    elif isinstance(configz, dict) and ("skipped" in configz or "failed" in configz):
        configz = None
    return _kubelet.decide(settings, host, configz, yaml.safe_load, force, check_mode)


def kubelet_absent_decision(settings, host, configz=None):
    """What removing the kubelet drop-in needs (the safe transition back to kubelet's defaults)."""
    if isinstance(configz, dict) and "json" in configz:
        configz = configz.get("json") if configz.get("status") == 200 else None
    elif isinstance(configz, dict) and ("skipped" in configz or "failed" in configz):
        configz = None
    return _kubelet.decide(settings, host, configz, yaml.safe_load, absent=True)


def kubelet_configz_mismatch(configz, desired):
    if isinstance(configz, dict) and "json" in configz:
        configz = configz.get("json")
    return _kubelet.configz_mismatch(configz, desired)


def reboot_reasons(sources, required, reasons):
    """``{role: reason}`` for the host roles (``sources``) whose published ``<role>_reboot_required`` is true.

    ``required`` and ``reasons`` are the roles' ``<role>_reboot_required`` and
    ``<role>_reboot_reason`` values, in the order of ``sources``.
    """
    out = {}
    for role, need, reason in zip(sources, required, reasons):
        if need in (True, "true", "True", "yes"):
            out[role] = reason or "needs a reboot"
    return out


def missing_packages(host, wanted):
    """Packages of ``wanted`` that host_facts' ``packages`` does not show installed (order kept, no repeats)."""
    installed = (host or {}).get("packages") or {}
    out = []
    for name in wanted or []:
        if not installed.get(name) and name not in out:
            out.append(name)
    return out


def plan_report(plan, topology, cmdline_path="/proc/cmdline"):
    return _textreport.plan_lines(plan, topology, cmdline_path)


def validation_report(result, node=None):
    return _textreport.validation_lines(result, node)


class FilterModule(object):
    """quantbot.hft filters."""

    def filters(self):
        return dict((fn.__name__, _wrap(fn)) for fn in (
            cpulist, cpulist_format, cpumask, missing_kernel_args, boot_args_problems, hugepages_problems,
            hugepages_alloc_args, hugepages_allocated, hugepages_differ, hugepages_reboot, tuned_problems, tuned_reboot, ptp_interfaces,
            ptp_problems, ptp_units_to_stop, sriov_problems, sriov_normalize, sriov_device_plugin_config,
            sriov_reboot, kubelet_dropin, kubelet_env_file, kubelet_problems,
            kubelet_decision, kubelet_absent_decision, kubelet_configz_mismatch, reboot_reasons, missing_packages, plan_report,
            validation_report))
