# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""ptp role rules: resolve the per-interface settings, check them against the host, pick units to stop.

Pure functions. ``host`` is quantbot.hft.host_facts' result; the timestamping
capabilities come from its ``nics.<if>.timestamping`` (the raw
ETHTOOL_GET_TS_INFO bits), judged by ``_ptp.check_timestamping``.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import re

from ansible_collections.quantbot.hft.plugins.module_utils._ptp import (
    SOF_RAW_HARDWARE,
    SOF_RX_HARDWARE,
    SOF_RX_SOFTWARE,
    SOF_SOFTWARE,
    SOF_TX_HARDWARE,
    SOF_TX_SOFTWARE,
    REALTIME,
    PtpError,
    check_timestamping,
    describe_conflict,
)
from ansible_collections.quantbot.hft.plugins.module_utils._topology import TopologyError, parse_cpulist

IFACE_KEYS = ("name", "time_stamping", "domain", "network_transport", "delay_mechanism", "tx_timestamp_timeout",
              "client_only", "phc2sys")
_IFNAME = re.compile(r"^[A-Za-z0-9_.:-]{1,15}$")


def resolve_interfaces(interfaces, defaults):
    """Each item of ``ptp_interfaces`` (a name, or a dict) with the role defaults filled in.

    ``defaults``: time_stamping, domain, network_transport, delay_mechanism,
    tx_timestamp_timeout, client_only. ``phc2sys`` defaults to hardware
    timestamping. ``unknown_keys`` lists keys the role does not know.
    """
    out = []
    for item in interfaces or []:
        entry = {"name": item} if isinstance(item, str) else dict(item) if isinstance(item, dict) else {"name": item}
        resolved = dict((key, entry.get(key, defaults.get(key))) for key in IFACE_KEYS if key != "phc2sys")
        resolved["phc2sys"] = entry.get("phc2sys", resolved["time_stamping"] == "hardware")
        resolved["unknown_keys"] = sorted(set(entry) - set(IFACE_KEYS))
        out.append(resolved)
    return out


def caps_from_bits(info):
    """A _ptp capability dict from host_facts' ``{so_timestamping, phc_index}``."""
    flags = int((info or {}).get("so_timestamping") or 0)
    return {"hw_tx": bool(flags & SOF_TX_HARDWARE), "hw_rx": bool(flags & SOF_RX_HARDWARE),
            "hw_raw": bool(flags & SOF_RAW_HARDWARE), "sw_tx": bool(flags & SOF_TX_SOFTWARE),
            "sw_rx": bool(flags & SOF_RX_SOFTWARE), "sw_clock": bool(flags & SOF_SOFTWARE),
            "phc_index": (info or {}).get("phc_index")}


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def interface_problems(iface):
    problems = []
    name = iface.get("name")
    if not isinstance(name, str) or not _IFNAME.match(name):
        return ["PTP interface %r: the name must be an interface name of up to 15 characters" % (name,)]
    where = "PTP interface %s" % name
    if iface["unknown_keys"]:
        problems.append("%s: unknown keys %s (allowed: %s)" % (where, ", ".join(iface["unknown_keys"]),
                                                               ", ".join(IFACE_KEYS)))
    if iface["time_stamping"] not in ("hardware", "software"):
        problems.append("%s: time_stamping must be hardware or software, got %r" % (where, iface["time_stamping"]))
    if not _is_int(iface["domain"]) or not 0 <= iface["domain"] <= 127:
        problems.append("%s: domain must be 0-127 (IEEE 1588 reserves 128-255), got %r" % (where, iface["domain"]))
    if iface["network_transport"] not in ("L2", "UDPv4", "UDPv6"):
        problems.append("%s: network_transport must be L2, UDPv4 or UDPv6, got %r"
                        % (where, iface["network_transport"]))
    if iface["delay_mechanism"] not in ("E2E", "P2P", "Auto"):
        problems.append("%s: delay_mechanism must be E2E, P2P or Auto, got %r" % (where, iface["delay_mechanism"]))
    if not _is_int(iface["tx_timestamp_timeout"]) or not 1 <= iface["tx_timestamp_timeout"] <= 1000:
        problems.append("%s: tx_timestamp_timeout must be 1-1000 ms, got %r" % (where, iface["tx_timestamp_timeout"]))
    for key in ("client_only", "phc2sys"):
        if not isinstance(iface[key], bool):
            problems.append("%s: %s must be true or false, got %r" % (where, key, iface[key]))
    if iface["phc2sys"] is True and iface["time_stamping"] == "software":
        problems.append("%s: phc2sys needs hardware timestamping (software mode has no PHC to copy from)" % where)
    return problems


def ptp_problems(ifaces, cpu_affinity, sched_priority, servo, threshold_ns, summary_interval, logging_level, host):
    """Why the ptp role cannot apply its input on this host ([] when it can)."""
    if not ifaces:
        return ["ptp_interfaces is empty: name the PTP port(s), e.g. ptp_interfaces: [ens1f0]"]
    problems = []
    for iface in ifaces:
        problems.extend(interface_problems(iface))
    if problems:
        return problems
    names = [iface.get("name") for iface in ifaces]
    dups = sorted(set(name for name in names if names.count(name) > 1))
    if dups:
        problems.append("ptp_interfaces lists %s more than once" % ", ".join(str(d) for d in dups))
    realtime = [i["name"] for i in ifaces if i.get("time_stamping") == "software"] + \
        [i["name"] for i in ifaces if i.get("phc2sys") is True]
    if len(realtime) > 1:
        problems.append("more than one instance would discipline CLOCK_REALTIME (%s): software timestamping and "
                        "phc2sys both do. Keep one; set phc2sys: false on the others" % ", ".join(realtime))
    try:
        if not isinstance(cpu_affinity, str) or not parse_cpulist(cpu_affinity, "ptp_cpu_affinity"):
            raise TopologyError("ptp_cpu_affinity must be a non-empty kernel cpulist such as \"0-1,40-41\" (the "
                                "plan's reserved_cpus), got %r" % (cpu_affinity,))
    except TopologyError as exc:
        problems.append(str(exc))
    if not _is_int(sched_priority) or not 1 <= sched_priority <= 99:
        problems.append("ptp_sched_priority must be 1-99, got %r" % (sched_priority,))
    if not isinstance(servo, dict) or servo.get("clock_servo", "pi") not in ("pi", "linreg"):
        problems.append("ptp_servo must be a mapping whose clock_servo is pi or linreg, got %r" % (servo,))
    if isinstance(threshold_ns, bool) or not isinstance(threshold_ns, (int, float)) or threshold_ns <= 0:
        problems.append("ptp_offset_threshold_ns must be a positive number of ns, got %r" % (threshold_ns,))
    if not _is_int(summary_interval):
        problems.append("ptp_summary_interval must be an integer (log2 seconds), got %r" % (summary_interval,))
    if not _is_int(logging_level) or not 0 <= logging_level <= 7:
        problems.append("ptp_logging_level must be 0-7, got %r" % (logging_level,))
    if problems:
        return problems
    nics = (host or {}).get("nics")
    if nics is None:
        return ["the host's NICs are unknown (no nics in the host facts: run quantbot.hft.host_facts first in this "
                "play)"]
    for iface in ifaces:
        if iface["name"] not in nics:
            problems.append("PTP interface %s does not exist on this host (interfaces with a device: %s)"
                            % (iface["name"], ", ".join(sorted(nics)) or "none"))
            continue
        info = nics[iface["name"]].get("timestamping")
        if info is None:
            problems.append("cannot read the timestamping capabilities of %s (ETHTOOL_GET_TS_INFO failed)"
                            % iface["name"])
            continue
        try:
            check_timestamping(iface["name"], caps_from_bits(info), iface["time_stamping"])
        except PtpError as exc:
            problems.append(str(exc))
    problems.extend(owner_problems(ifaces, (host or {}).get("ptp_owners")))
    return problems


def owner_problems(ifaces, owners):
    """One owner of ptp4l per port: every other ptp4l/phc2sys on a role port or its PHC (or CLOCK_REALTIME).

    ``owners`` is host_facts' ``ptp_owners`` (read with the role's ptp_configs);
    None (not read) is no problem here, validation's ptp_single_owner reads it again.
    """
    names = set(iface.get("name") for iface in ifaces or [])
    conflicts = [c for c in ((owners or {}).get("conflicts") or [])
                 if c.get("port") in names or c.get("port") == REALTIME]
    if not conflicts:
        return []
    return ["another ptp4l or phc2sys already uses a PTP port of this role: %s. Stop it first: one owner per port "
            "(where the host runs ptp4l, the PTP DaemonSet's pod must not run another; roles/ptp/README.md)"
            % "; ".join(describe_conflict(c) for c in conflicts)]


def units_to_stop(host, conflicting, ifaces):
    """Units the ptp role stops: running or enabled time daemons, and phc2sys@ where it is not wanted.

    Returns ``[{name, disable}]``; ``disable`` is false for units that cannot be
    disabled (static, masked, generated), which are only stopped.
    """
    units = (host or {}).get("units") or {}
    candidates = list(conflicting or []) + ["phc2sys@%s.service" % i.get("name") for i in ifaces or []
                                            if i.get("phc2sys") is not True]
    out = []
    for name in candidates:
        state = units.get(name) or {}
        if state.get("load") != "loaded":
            continue
        running = state.get("active") in ("active", "activating", "reloading")
        enabled = state.get("enabled") in ("enabled", "enabled-runtime")
        if running or enabled:
            out.append({"name": name, "disable": enabled})
    return out
