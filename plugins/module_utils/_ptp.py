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
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

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
