# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""tuned role rules: its input checked against the host, and its reboot decision.

Pure functions. ``host`` is quantbot.hft.host_facts' result.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import re

from ansible_collections.quantbot.hft.plugins.module_utils._settings import knob_problems
from ansible_collections.quantbot.hft.plugins.module_utils._topology import (
    TopologyError,
    format_cpulist,
    parse_cpulist,
)

_PROFILE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]*$")


def _cpulist(text, what, problems):
    """The CPUs of a cpulist, or None (the problem is appended)."""
    try:
        return set(parse_cpulist(text, what))
    except TopologyError as exc:
        problems.append(str(exc))
        return None


def profile_name_problems(name, what):
    if not isinstance(name, str) or not name or not _PROFILE_NAME.match(name) or ".." in name:
        return ["%s must be a tuned profile name (letters, digits and _ . + -, no '/', no '..', no spaces), got %r"
                % (what, name)]
    return []


# The latency knobs the tuned role takes as its own variables (default: the plan's values).
ROLE_KNOBS = {"tuned_cstates": "cstates", "tuned_governor": "governor", "tuned_thp": "thp",
              "tuned_timer_migration": "timer_migration", "tuned_stat_interval": "stat_interval"}


def tuned_problems(isolated, no_balance, profile_name, parent, sysctls, host, irqbalance_manage=True,
                   known_profiles=(), settings=None):
    """Why the tuned role cannot apply its input on this host ([] when it can).

    ``known_profiles``: the profiles the platform's tuned package ships, for a
    host where tuned is not installed yet (then host_facts lists none).
    ``settings``: {role variable: value} of the latency knobs (ROLE_KNOBS), checked with the plan's rules.
    """
    host = host or {}
    problems = knob_problems(dict((var, (ROLE_KNOBS[var], value)) for var, value in (settings or {}).items()
                                  if var in ROLE_KNOBS))
    problems.extend(profile_name_problems(profile_name, "tuned_profile_name"))
    problems.extend(profile_name_problems(parent, "tuned_parent_profile"))
    if not problems:
        available = set((host.get("tuned") or {}).get("profiles") or []) or set(known_profiles)
        if available and parent not in available:
            problems.append("tuned_parent_profile %r is not a tuned profile on this host (profiles: %s)"
                            % (parent, ", ".join(sorted(available))))
        if parent == profile_name:
            problems.append("tuned_parent_profile must differ from tuned_profile_name (%r includes itself)" % parent)
    if not isinstance(isolated, str) or not isolated.strip():
        problems.append("tuned_isolated_cores must be a non-empty kernel cpulist such as \"2-3,6-7\", got %r"
                        % (isolated,))
        return problems
    iso = _cpulist(isolated, "tuned_isolated_cores", problems)
    nob = _cpulist(no_balance if isinstance(no_balance, str) else str(no_balance), "tuned_no_balance_cores", problems)
    cpus = host.get("cpus") or {}
    if iso is None or nob is None:
        return problems
    if 0 in iso:
        problems.append("tuned_isolated_cores %s holds CPU 0: the boot CPU does the timekeeping and cannot be "
                        "isolated" % isolated)
    if nob - iso:
        problems.append("tuned_no_balance_cores %s has CPU(s) %s that are not in tuned_isolated_cores %s"
                        % (no_balance, format_cpulist(nob - iso), isolated))
    online = _cpulist(cpus.get("online", ""), "online CPUs", problems) if "online" in cpus else None
    if online is None:
        problems.append("the online CPUs are unknown (no cpus.online in the host facts: run quantbot.hft.host_facts "
                        "first in this play)")
        return problems
    if iso - online:
        problems.append("tuned_isolated_cores %s has CPU(s) %s that are not online on this host (online: %s)"
                        % (isolated, format_cpulist(iso - online), format_cpulist(online)))
    if not online - iso:
        problems.append("tuned_isolated_cores %s isolates every online CPU; the kernel, system daemons and IRQs need "
                        "at least one housekeeping CPU" % isolated)
    for node, info in sorted((host.get("numa") or {}).items(), key=lambda item: int(item[0])):
        node_cpus = _cpulist(info.get("cpus", ""), "node %s CPUs" % node, problems) or set()
        if node_cpus and node_cpus <= iso:
            problems.append("tuned_isolated_cores %s isolates every CPU of NUMA node %s (%s); each node needs a "
                            "housekeeping CPU for its IRQs, kernel threads and memory management"
                            % (isolated, node, format_cpulist(node_cpus)))
    owned = host.get("sysctl_files") or {}
    clashes = ["%s (%s)" % (key, ", ".join(owned[key])) for key in sorted(sysctls or {}) if key in owned]
    if clashes:
        problems.append("these sysctl files set sysctls that the %s tuned profile owns: %s. Remove the lines (tuned "
                        "must be their only owner) or drop the keys from tuned_sysctls" % (profile_name, "; ".join(clashes)))
    banned = (host.get("irqbalance") or {}).get("banned") or []
    if irqbalance_manage and banned:
        problems.append("%s; the tuned role owns irqbalance's banned CPUs (systemd drop-in). Comment the line out, "
                        "or set tuned_irqbalance_manage=false" % "; ".join(banned))
    return problems


def pid1_on_isolated(host, isolated):
    """Isolated CPUs PID 1 may still run on (systemd applies CPUAffinity= only at boot)."""
    allowed = ((host or {}).get("pid1") or {}).get("cpus_allowed")
    if not allowed:
        return []
    try:
        return sorted(set(parse_cpulist(allowed, "PID 1 Cpus_allowed_list")) & set(parse_cpulist(isolated)))
    except TopologyError:
        return []


def reboot_decision(host, isolated, check_mode=False):
    cpus = [] if check_mode else pid1_on_isolated(host, isolated)
    reason = ("PID 1 may still run on isolated CPU(s) %s; systemd applies CPUAffinity from /etc/systemd/system.conf "
              "at boot" % format_cpulist(cpus)) if cpus else ""
    return {"required": bool(cpus), "reason": reason}
