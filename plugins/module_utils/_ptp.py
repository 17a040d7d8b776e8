# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PTP: NIC timestamping capabilities, pmc output, and the health judgement.

Pure logic over plain data: no AnsibleModule here. Problems raise
:class:`PtpError` with a message that names what is wrong, so the thin modules
(``nic_timestamping``, ``ptp_probe``) turn them into ``fail_json(msg=...)`` and
the unit tests need only pytest and captured command outputs.

Capabilities come from ``ethtool -T IFACE`` (any ethtool since 3.x: the ioctl
era prints ``hardware-transmit (SOF_TIMESTAMPING_TX_HARDWARE)``, the netlink era
prints ``hardware-transmit``; ethtool 6.9+ prints ``Hardware timestamp provider
index`` instead of ``PTP Hardware Clock``), or, when ethtool is not installed,
from the raw ``ETHTOOL_GET_TS_INFO`` answer (:func:`decode_ts_info`).

pmc output is parsed by ``_ptpmon.parse_pmc`` (``pmc -u -b 0 -f CONFIG`` with
GET CURRENT_DATA_SET, PORT_DATA_SET, PARENT_DATA_SET, TIME_PROPERTIES_DATA_SET),
which lives in the node's collector file and is re-exported here.

One owner per port (``ptp_conflicts``, ``ptp_single_owner``): every ptp4l and
phc2sys that is not the role's own instance (told by its systemd unit, from
/proc/PID/cgroup) and uses a role port - the same interface, its PHC, or
CLOCK_REALTIME that the role disciplines. The reader (``read_ptp_processes``,
``config_reader``, ``read_phcs``) takes a procfs/sysfs root, so tests run on
captured trees.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import os
import re
import struct

# parse_pmc and PtpError are shared with the collector (_ptpmon.py)
# and re-exported here for the modules and _validate.py.
from ansible_collections.quantbot.hft.plugins.module_utils._ptpmon import (  # noqa: F401 pylint: disable=unused-import
    PtpError, check_bound, parse_pmc)

TIME_STAMPING_MODES = ("hardware", "software")

# SOF_TIMESTAMPING_* bits (include/uapi/linux/net_tstamp.h).
SOF_TX_HARDWARE = 1 << 0
SOF_TX_SOFTWARE = 1 << 1
SOF_RX_HARDWARE = 1 << 2
SOF_RX_SOFTWARE = 1 << 3
SOF_SOFTWARE = 1 << 4
SOF_RAW_HARDWARE = 1 << 6

# ethtool -T capability names -> keys of the capability dict.
_CAPABILITY_KEYS = {
    "hardware-transmit": "hw_tx",
    "hardware-receive": "hw_rx",
    "hardware-raw-clock": "hw_raw",
    "software-transmit": "sw_tx",
    "software-receive": "sw_rx",
    "software-system-clock": "sw_clock",
}
CAPABILITY_KEYS = tuple(sorted(set(_CAPABILITY_KEYS.values())))

# What ptp4l itself demands of an interface per time_stamping mode
# (linuxptp clock.c: required_modes).
REQUIRED = {
    "hardware": ("hw_tx", "hw_rx", "hw_raw"),
    "software": ("sw_tx", "sw_rx", "sw_clock"),
}

_PHC_LINE = re.compile(r"^(?:PTP Hardware Clock|Hardware timestamp provider index):\s*(\S+)\s*$")


# --------------------------------------------------------------------------
# timestamping capabilities
# --------------------------------------------------------------------------
def _empty_caps():
    caps = dict((key, False) for key in CAPABILITY_KEYS)
    caps["phc_index"] = None
    return caps


def parse_ethtool_t(text):
    """Parse ``ethtool -T IFACE`` output into a capability dict.

    Returns ``{hw_tx, hw_rx, hw_raw, sw_tx, sw_rx, sw_clock, phc_index}``:
    booleans, and the PHC index as an int or None ("none").
    Raises PtpError when the text is not ethtool -T output at all.
    """
    if not isinstance(text, str) or "Capabilities:" not in text:
        raise PtpError("not ethtool -T output (no 'Capabilities:' section): %r" % (text[:200] if isinstance(text, str) else text))
    caps = _empty_caps()
    section = None
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line:
            continue
        if not line[0].isspace():
            phc = _PHC_LINE.match(line)
            if phc:
                value = phc.group(1)
                if value.lower() != "none":
                    try:
                        caps["phc_index"] = int(value)
                    except ValueError:
                        raise PtpError("ethtool -T reported an unreadable PHC index %r" % value)
                    if caps["phc_index"] < 0:
                        caps["phc_index"] = None
            section = line.split(":", 1)[0].strip() if line.endswith(":") else None
            continue
        if section == "Capabilities":
            name = line.split()[0]
            key = _CAPABILITY_KEYS.get(name)
            if key:
                caps[key] = True
    return caps


def decode_ts_info(buf):
    """Decode a ``struct ethtool_ts_info`` (ETHTOOL_GET_TS_INFO answer) into a capability dict.

    Layout: u32 cmd, u32 so_timestamping, s32 phc_index, u32 tx_types,
    u32 tx_reserved[3], u32 rx_filters, u32 rx_reserved[3] (44 bytes, host order).
    """
    if len(buf) < 12:
        raise PtpError("ethtool_ts_info answer too short: %d bytes" % len(buf))
    dummy_cmd, flags, phc = struct.unpack("=IIi", bytes(buf[:12]))
    caps = _empty_caps()
    caps.update({
        "hw_tx": bool(flags & SOF_TX_HARDWARE),
        "hw_rx": bool(flags & SOF_RX_HARDWARE),
        "hw_raw": bool(flags & SOF_RAW_HARDWARE),
        "sw_tx": bool(flags & SOF_TX_SOFTWARE),
        "sw_rx": bool(flags & SOF_RX_SOFTWARE),
        "sw_clock": bool(flags & SOF_SOFTWARE),
        "phc_index": phc if phc >= 0 else None,
    })
    return caps


def describe_caps(caps):
    """A short human summary, e.g. ``"hardware-transmit, software-receive; PHC none"``."""
    names = [name for name, key in sorted(_CAPABILITY_KEYS.items()) if caps.get(key)]
    phc = caps.get("phc_index")
    return "%s; PHC %s" % (", ".join(names) or "no timestamping capabilities",
                           "/dev/ptp%d" % phc if phc is not None else "none")


def missing_for(caps, mode):
    """Capabilities (and the PHC, for hardware) that ``mode`` needs but ``caps`` lacks."""
    if mode not in REQUIRED:
        raise PtpError("unknown time_stamping mode %r; use one of: %s" % (mode, ", ".join(TIME_STAMPING_MODES)))
    names = dict((key, name) for name, key in _CAPABILITY_KEYS.items())
    missing = [names[key] for key in REQUIRED[mode] if not caps.get(key)]
    if mode == "hardware" and caps.get("phc_index") is None:
        missing.append("PTP hardware clock (PHC)")
    return missing


def check_timestamping(iface, caps, mode):
    """Raise PtpError unless ``iface`` (with capabilities ``caps``) supports ``mode``.

    This is the decision the ptp role takes before it changes anything: hardware
    timestamping is the default for HFT hosts, software is an explicit opt-in.
    Returns the capability dict unchanged when the interface is usable.
    """
    missing = missing_for(caps, mode)
    if not missing:
        return caps
    if mode == "hardware":
        hint = ("Hardware timestamping is required (ptp_time_stamping: hardware, the default). "
                "Use a NIC with a PTP hardware clock, or opt into software timestamping "
                "explicitly with ptp_time_stamping: software (lab and test hosts only).")
    else:
        hint = "ptp4l cannot run on this interface even with software timestamping."
    raise PtpError("interface %s lacks %s timestamping: missing %s (ethtool -T reports: %s). %s"
                   % (iface, mode, ", ".join(missing), describe_caps(caps), hint))


# --------------------------------------------------------------------------
# pmc output: parse_pmc lives in _ptpmon.py (the node's collector is that file,
# copied alone to the host, so the parser cannot live here); imported above.
# --------------------------------------------------------------------------
def judge(probe, max_offset_ns):
    """Healthy means: ptp4l answered, a port is SLAVE, and |offsetFromMaster| <= max_offset_ns.

    Returns ``{healthy, reasons}``; ``reasons`` says what failed, empty when healthy.
    """
    limit = check_bound(max_offset_ns, "max_offset_ns")
    reasons = []
    if not probe.get("responding"):
        reasons.append("ptp4l did not answer pmc (is the ptp4l@ instance running?)")
    else:
        if probe.get("port_state") != "SLAVE":
            reasons.append("port state is %s, not SLAVE" % (probe.get("port_state") or "unknown"))
        offset = probe.get("offset_ns")
        if offset is None:
            reasons.append("no offsetFromMaster in the CURRENT_DATA_SET answer")
        elif abs(offset) > limit:
            reasons.append("|offsetFromMaster| %.1f ns exceeds %.1f ns" % (abs(offset), limit))
    return {"healthy": not reasons, "reasons": reasons}


# --------------------------------------------------------------------------
# one owner per port: other ptp4l/phc2sys on the role's interfaces or PHCs
# --------------------------------------------------------------------------
# The role's own instances run from its template units, as
#   ptp4l@IFACE.service:   ptp4l -f /etc/linuxptp/quantbot-hft-IFACE.conf -i IFACE
#   phc2sys@IFACE.service: phc2sys -f ... -s IFACE -c CLOCK_REALTIME -w
# and a process's unit is what /proc/PID/cgroup says, not its argv (a
# hand-started copy of the same command line is a second owner).
PTP_PROGRAMS = ("ptp4l", "phc2sys")
REALTIME = "CLOCK_REALTIME"
DEFAULT_UDS = "/var/run/ptp4l"
# getopt strings of linuxptp 3.x/4.x: the short options that take an argument, the ones that do not.
_GETOPT = {
    "ptp4l": ("fipl", "AEP246HSLsmqvh"),                     # "AEP246HSLf:i:p:sl:mqvh"
    "phc2sys": ("cdfsEPISFRNOLMiunzlt", "arwxmqvh"),         # "arc:d:f:s:E:P:I:S:F:R:N:O:L:M:i:u:wn:xz:l:t:mqvh"
}
# Sections of a linuxptp config that are not ports.
_NON_PORT_SECTIONS = ("global", "unicast_master_table")
_PTP_DEV = re.compile(r"^/dev/ptp([0-9]+)$")
_SECTION = re.compile(r"^\[\s*([^\]]+?)\s*\]$")


def parse_getopt(argv, program):
    """linuxptp's command line as getopt_long reads it: ``(options, operands)``.

    ``options`` is a list of ``(name, value)`` in order: short options by their
    letter (``value`` None for flags), long options (``--domainNumber 1`` or
    ``--domainNumber=1``, every config option is one) by their name.
    """
    with_arg, dummy_flags = _GETOPT[program]
    options, operands = [], []
    args = list(argv[1:])
    while args:
        arg = args.pop(0)
        if arg == "--":
            operands.extend(args)
            break
        if arg.startswith("--"):
            name, sep, value = arg[2:].partition("=")
            options.append((name, value if sep else (args.pop(0) if args else "")))
        elif arg.startswith("-") and len(arg) > 1:
            pos = 1
            while pos < len(arg):
                letter = arg[pos]
                if letter in with_arg:
                    value = arg[pos + 1:] or (args.pop(0) if args else "")
                    options.append((letter, value))
                    break
                options.append((letter, None))
                pos += 1
        else:
            operands.append(arg)
    return options, operands


def parse_linuxptp_config(text):
    """A linuxptp config file: ``{"global": {key: value}, "ports": {iface: {key: value}}}`` (ports in file order)."""
    result = {"global": {}, "ports": {}}
    section = result["global"]
    for raw in (text or "").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        match = _SECTION.match(line)
        if match:
            name = match.group(1)
            if name == "global":
                section = result["global"]
            elif name in _NON_PORT_SECTIONS:
                section = {}
            else:
                section = result["ports"].setdefault(name, {})
            continue
        parts = line.split(None, 1)
        section[parts[0]] = parts[1].strip() if len(parts) > 1 else ""
    return result


def _last(options, *names):
    values = [value for name, value in options if name in names]
    return values[-1] if values else None


def describe_process(proc, read_config):
    """What a ptp4l/phc2sys process uses, from its argv and its -f config (read with ``read_config(pid, path)``).

    ptp4l: ``interfaces`` (-i, then the config's port sections; the -i ones
    also as ``given_interfaces``),
    ``time_stamping`` (-H/-S/-L or --time_stamping over the config's, default
    hardware), ``master_only`` (masterOnly/serverOnly 1), ``free_running``
    (free_running 1: never adjusts a clock), ``phc_device`` (-p). phc2sys: ``sources``
    (-s/-i), ``sinks`` (-c; CLOCK_REALTIME when none is given outside -a),
    ``automatic`` (-a), ``realtime`` (-a with -r), ``uds`` (-z, the config's
    uds_address, or /var/run/ptp4l). Both: ``config`` path and
    ``config_error`` when it could not be read.
    """
    program = os.path.basename(proc["argv"][0]) if proc.get("argv") else ""
    options, dummy = parse_getopt(proc["argv"], program)
    path = _last(options, "f")
    info = {"program": program, "config": path, "config_error": None}
    cfg = {"global": {}, "ports": {}}
    if path:
        text = read_config(proc.get("pid"), path)
        if text is None:
            info["config_error"] = "cannot read %s" % path
        else:
            cfg = parse_linuxptp_config(text)
    glob = cfg["global"]
    if program == "ptp4l":
        given = [value for name, value in options if name == "i"]
        interfaces = given + [port for port in cfg["ports"] if port not in given]
        stamping = glob.get("time_stamping", "hardware")
        for name, value in options:
            if name in ("H", "S", "L"):
                stamping = {"H": "hardware", "S": "software", "L": "legacy"}[name]
            elif name == "time_stamping":
                stamping = value
        only = _last(options, "masterOnly", "serverOnly")
        if only is None:
            only = glob.get("serverOnly", glob.get("masterOnly"))
        free = _last(options, "free_running")
        if free is None:
            free = glob.get("free_running")
        info.update(interfaces=interfaces, given_interfaces=given, time_stamping=stamping,
                    master_only=str(only).strip() == "1", free_running=str(free).strip() == "1",
                    phc_device=_last(options, "p"))
    elif program == "phc2sys":
        automatic = any(name == "a" for name, dummy in options)
        sinks = [value for name, value in options if name == "c"]
        info.update(sources=[value for name, value in options if name in ("s", "i")],
                    sinks=sinks or ([] if automatic else [REALTIME]), automatic=automatic,
                    realtime=automatic and any(name == "r" for name, dummy in options),
                    uds=_last(options, "z") or _last(options, "uds_address") or glob.get("uds_address") or DEFAULT_UDS)
    return info


def systemd_escape(name):
    """systemd-escape for an instance name (interface names: ``-`` becomes ``\\x2d``)."""
    out = []
    for pos, char in enumerate(name):
        if char.isalnum() and ord(char) < 128 or char in ":_" or (char == "." and pos > 0):
            out.append(char)
        else:
            out.append("\\x%02x" % ord(char))
    return "".join(out)


def own_units(interfaces):
    """The unit names of the role's instances for these interfaces."""
    return set("%s@%s.service" % (program, systemd_escape(iface)) for iface in interfaces for program in PTP_PROGRAMS)


def unit_from_cgroup(text):
    """``(unit, cgroup path)`` from /proc/PID/cgroup (v2 ``0::``, or v1's name=systemd); unit None if none."""
    path = None
    for line in (text or "").splitlines():
        parts = line.strip().split(":", 2)
        if len(parts) != 3:
            continue
        if parts[0] == "0" and parts[1] == "":
            path = parts[2]
            break
        if parts[1] == "name=systemd":
            path = parts[2]
    unit = None
    for part in reversed((path or "").split("/")):
        if part.endswith((".service", ".scope")):
            unit = part
            break
    return unit, path


def _phc_index(spec):
    match = _PTP_DEV.match(spec or "")
    return int(match.group(1)) if match else None


def _phc_name(index):
    return "/dev/ptp%d" % index


def _clock_of(spec, phcs, local):
    """(phc index or None, interface or None) that a -s/-c/-p argument names."""
    if spec == REALTIME:
        return None, None
    index = _phc_index(spec)
    if index is not None:
        return index, None
    if not local:
        return None, None  # an interface name in another network namespace is not ours
    return phcs.get(spec), spec


def ptp_conflicts(processes, interfaces, phcs, read_config, realtime_owner=None, uds_addresses=None):
    """Every ptp4l/phc2sys that is not the role's own instance and uses one of its ports.

    ``processes``: ``[{pid, argv, unit, cgroup, foreign_netns}]`` (what
    :func:`read_ptp_processes` returns); ``interfaces``: the role's ports;
    ``phcs``: ``{iface: PHC index}`` for the host's interfaces (sysfs
    ``device/ptp/ptpN`` or ethtool's PHC index; None when it has none);
    ``read_config(pid, path)``: the text of a process's -f config or None;
    ``realtime_owner``: the role's interface whose instance disciplines
    CLOCK_REALTIME (software timestamping, or phc2sys), None when none does;
    ``uds_addresses``: ``{iface: management socket}`` of the role's ptp4l
    instances (to spot ``phc2sys -a`` following them).

    A port is shared when the process runs on the same interface (-i or a
    port section of its config), on another interface with the same PHC, or
    names that PHC (phc2sys -s/-c, ptp4l -p), or, with ``realtime_owner``,
    disciplines CLOCK_REALTIME too (phc2sys writing it; ptp4l with software
    timestamping that is neither masterOnly nor free_running). Interface names of a process in
    another network namespace are its own (the lab's grandmaster in netns
    gm), so only device paths and CLOCK_REALTIME can clash there.

    Returns ``[{pid, program, argv, unit, port, reason}]``, one per process and port.
    """
    owned = own_units(interfaces)
    role_phcs = dict((iface, phcs.get(iface)) for iface in interfaces)
    uds_addresses = uds_addresses or {}
    conflicts = []
    for proc in processes:
        program = os.path.basename(proc["argv"][0]) if proc.get("argv") else ""
        if program not in PTP_PROGRAMS or proc.get("unit") in owned:
            continue
        info = describe_process(proc, read_config)
        local = not proc.get("foreign_netns")
        found = {}

        def add(port, reason):
            found.setdefault(port, reason)

        if program == "ptp4l":
            used = []  # (interface, phc) pairs this ptp4l disciplines
            forced = _phc_index(info["phc_device"]) if info["phc_device"] else None
            for iface in info["interfaces"]:
                where = "-i %s" % iface if iface in info["given_interfaces"] else "[%s] in %s" % (iface, info["config"])
                if local and iface in role_phcs:
                    add(iface, "ptp4l on the same interface (%s)" % where)
                if info["time_stamping"] != "software":
                    used.append((iface, forced if forced is not None else (phcs.get(iface) if local else None)))
            for iface, phc in used:
                for port, role_phc in role_phcs.items():
                    if phc is not None and phc == role_phc and iface != port:
                        add(port, "ptp4l on %s disciplines %s, the PHC of %s" % (iface, _phc_name(phc), port))
            if realtime_owner and info["time_stamping"] == "software" and not (info["master_only"] or
                                                                               info["free_running"]):
                add(REALTIME, "ptp4l with software timestamping disciplines CLOCK_REALTIME, which the role's "
                              "instance on %s owns" % realtime_owner)
        else:
            for flag, specs in (("-s", info["sources"]), ("-c", info["sinks"])):
                for spec in specs:
                    phc, iface = _clock_of(spec, phcs, local)
                    for port, role_phc in role_phcs.items():
                        if iface == port:
                            add(port, "phc2sys %s %s" % (flag, spec))
                        elif phc is not None and phc == role_phc:
                            add(port, "phc2sys %s %s is %s, the PHC of %s" % (flag, spec, _phc_name(phc), port))
            if info["automatic"]:
                for port in interfaces:
                    if uds_addresses.get(port) and info["uds"] == uds_addresses[port]:
                        add(port, "phc2sys -a follows the role's ptp4l on %s (socket %s)" % (port, info["uds"]))
            if realtime_owner and (REALTIME in info["sinks"] or info["realtime"]):
                add(REALTIME, "phc2sys writes CLOCK_REALTIME, which the role's instance on %s owns" % realtime_owner)
        for port, reason in found.items():
            conflicts.append({"pid": proc.get("pid"), "program": program, "argv": list(proc["argv"]),
                              "unit": proc.get("unit"), "cgroup": proc.get("cgroup"), "port": port, "reason": reason,
                              "config_error": info.get("config_error")})
    return conflicts


def describe_conflict(conflict):
    """One line for a message: ``pid 4242 `ptp4l -i enp65s0 -S` (session-3.scope): enp65s0: <reason>``."""
    where = conflict.get("unit") or conflict.get("cgroup") or "no unit"
    if "kubepods" in (conflict.get("cgroup") or ""):
        where = "a Kubernetes pod's container, %s" % where
    return "pid %s `%s` (%s): %s: %s" % (conflict.get("pid"), " ".join(conflict.get("argv") or []), where,
                                         conflict.get("port"), conflict.get("reason"))


def ptp_single_owner(conflicts, interfaces):
    """The validation record ``ptp_single_owner``: no ptp4l/phc2sys but the role's own on its ports."""
    from ansible_collections.quantbot.hft.plugins.module_utils._validate import record  # _validate imports this file

    expected = "no ptp4l or phc2sys but ptp4l@/phc2sys@ of quantbot.hft on %s (interface, PHC)" % ", ".join(interfaces)
    actual = [describe_conflict(c) for c in conflicts] or "no other ptp4l or phc2sys on these ports"
    return record("ptp_single_owner", not conflicts, expected, actual,
                  "stop the other daemon: one ptp4l and one phc2sys per port. Where the host runs ptp4l (the ptp "
                  "role), the quantbot-ptp DaemonSet's pod must not run ptp4l or phc2sys; the host's collector is "
                  "the monitor (roles/ptp/README.md, One owner of ptp4l per port)")


# --------------------------------------------------------------------------
# reading /proc and sysfs (against a root, so tests use captured trees)
# --------------------------------------------------------------------------
def _read_text(path):
    try:
        with open(path, "rb") as handle:
            return handle.read().decode("utf-8", "replace")
    except (IOError, OSError):
        return None


def _readlink(path):
    try:
        return os.readlink(path)
    except (IOError, OSError):
        return None


def read_ptp_processes(proc_root="/proc"):
    """Every ptp4l and phc2sys process: ``[{pid, argv, unit, cgroup, netns, foreign_netns}]``, by pid.

    ``argv`` from /proc/PID/cmdline (NUL separated), ``unit``/``cgroup`` from
    /proc/PID/cgroup, ``netns`` the /proc/PID/ns/net link; ``foreign_netns``
    is true when that differs from PID 1's (the host's; /proc/self's where
    PID 1's cannot be read). Kernel threads, zombies and processes that end
    while they are read are skipped.
    """
    try:
        pids = sorted(int(name) for name in os.listdir(proc_root) if name.isdigit())
    except OSError:
        return []
    # PID 1's namespace is the host's; where it cannot be read (a container), this process's own.
    host_netns = _readlink(os.path.join(proc_root, "1", "ns", "net")) or _readlink(
        os.path.join(proc_root, "self", "ns", "net"))
    found = []
    for pid in pids:
        raw = _read_text(os.path.join(proc_root, str(pid), "cmdline"))
        if not raw:
            continue  # kernel thread, zombie, or gone
        argv = raw.split("\0")
        while argv and argv[-1] == "":
            argv.pop()
        if not argv or os.path.basename(argv[0]) not in PTP_PROGRAMS:
            continue
        unit, cgroup = unit_from_cgroup(_read_text(os.path.join(proc_root, str(pid), "cgroup")))
        netns = _readlink(os.path.join(proc_root, str(pid), "ns", "net"))
        found.append({"pid": pid, "argv": argv, "unit": unit, "cgroup": cgroup, "netns": netns,
                      "foreign_netns": bool(netns and host_netns and netns != host_netns)})
    return found


def config_reader(proc_root="/proc"):
    """``read_config(pid, path)`` reading a process's config as it sees it (its root and cwd under /proc/PID)."""
    def read_config(pid, path):
        base = "root" if path.startswith("/") else "cwd"
        return _read_text(os.path.join(proc_root, str(pid), base, path.lstrip("/")))
    return read_config


def read_phcs(sys_root="/sys"):
    """``{iface: PHC index}`` of the interfaces in <sys_root>/class/net that have a PTP clock (device/ptp/ptpN)."""
    net = os.path.join(sys_root, "class", "net")
    try:
        names = sorted(os.listdir(net))
    except OSError:
        return {}
    phcs = {}
    for name in names:
        try:
            clocks = sorted(entry for entry in os.listdir(os.path.join(net, name, "device", "ptp"))
                            if _PTP_DEV.match("/dev/" + entry))
        except OSError:
            continue
        if clocks:
            phcs[name] = int(clocks[0][3:])
    return phcs


def observe_ptp_owners(interfaces, proc_root="/proc", sys_root="/sys", realtime_owner=None,
                       uds_prefix=DEFAULT_UDS + "-"):
    """Read the host once and find the conflicts: ``{processes, phcs, conflicts}`` (for host_facts and preflight).

    ``uds_prefix`` is the role's management socket prefix (``uds_address
    /var/run/ptp4l-IFACE``).
    """
    processes = read_ptp_processes(proc_root)
    phcs = read_phcs(sys_root)
    conflicts = ptp_conflicts(processes, interfaces, phcs, config_reader(proc_root), realtime_owner,
                              dict((iface, uds_prefix + iface) for iface in interfaces))
    return {"processes": processes, "phcs": phcs, "conflicts": conflicts}
