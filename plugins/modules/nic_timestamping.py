#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r"""
---
module: nic_timestamping
short_description: Read a network interface's packet timestamping capabilities and PTP hardware clock
version_added: 0.1.0
description:
  - Reads what C(ethtool -T) reports for one interface (hardware and software
    transmit/receive timestamping, the raw hardware clock, and the PTP hardware
    clock index) and returns it as data.
  - When C(ethtool) is not installed, reads the same answer from the kernel
    directly (C(ETHTOOL_GET_TS_INFO)), so the check can run before any package
    is installed.
  - With O(require), fails with a message that names the interface and what it
    lacks when the interface cannot do that kind of timestamping. The
    C(quantbot.hft.ptp) role uses this to refuse a NIC without hardware
    timestamping before it changes anything.
  - Read-only.
author:
  - quantbot.hft maintainers (@quantbot)
extends_documentation_fragment:
  - quantbot.hft.attributes
  - quantbot.hft.attributes.info_module
  - quantbot.hft.attributes.platform
attributes:
  platform:
    platforms: posix
options:
  interface:
    description:
      - Network interface name, for example V(ens1f0).
    type: str
    required: true
  require:
    description:
      - V(hardware) fails unless the interface has hardware transmit and receive
        timestamping, a raw hardware clock and a PTP hardware clock.
      - V(software) fails unless it has software transmit and receive
        timestamping with the system clock.
      - V(none) only reports.
    type: str
    choices: [hardware, software, none]
    default: none
notes:
  - An interface that does not exist fails the module, and the message lists
    the interfaces that do.
seealso:
  - module: quantbot.hft.ptp_probe
  - name: ethtool(8)
    description: C(ethtool -T) shows the time stamping capabilities.
    link: https://man7.org/linux/man-pages/man8/ethtool.8.html
"""

EXAMPLES = r"""
- name: Refuse a PTP port without hardware timestamping
  quantbot.hft.nic_timestamping:
    interface: ens1f0
    require: hardware

- name: Read the capabilities of the lab HFT port
  quantbot.hft.nic_timestamping:
    interface: enp65s0
  register: caps

- name: Show the PHC of the port
  ansible.builtin.debug:
    msg: "PHC /dev/ptp{{ caps.capabilities.phc_index }}"
  when: caps.capabilities.phc_index is not none
"""

RETURN = r"""
capabilities:
  description: The interface's timestamping capabilities.
  returned: success
  type: dict
  contains:
    hw_tx:
      description: Hardware transmit timestamps (C(hardware-transmit)).
      type: bool
      returned: success
    hw_rx:
      description: Hardware receive timestamps (C(hardware-receive)).
      type: bool
      returned: success
    hw_raw:
      description: Raw hardware clock timestamps (C(hardware-raw-clock)).
      type: bool
      returned: success
    sw_tx:
      description: Software transmit timestamps (C(software-transmit)).
      type: bool
      returned: success
    sw_rx:
      description: Software receive timestamps (C(software-receive)).
      type: bool
      returned: success
    sw_clock:
      description: Software timestamps from the system clock (C(software-system-clock)).
      type: bool
      returned: success
    phc_index:
      description: Index N of the PTP hardware clock C(/dev/ptpN), or null when there is none.
      type: int
      returned: success
      sample: 0
  sample:
    hw_tx: true
    hw_rx: true
    hw_raw: true
    sw_tx: true
    sw_rx: true
    sw_clock: true
    phc_index: 0
hardware:
  description: Whether the interface can do hardware timestamping as ptp4l needs it.
  returned: success
  type: bool
software:
  description: Whether the interface can do software timestamping as ptp4l needs it.
  returned: success
  type: bool
summary:
  description: One line for humans.
  returned: success
  type: str
  sample: "hardware-raw-clock, hardware-receive, hardware-transmit, software-receive, software-system-clock, software-transmit; PHC /dev/ptp0"
source:
  description: Where the data came from, V(ethtool) or V(ioctl) (when ethtool is not installed).
  returned: success
  type: str
  sample: ethtool
"""

import array
import fcntl
import os
import socket
import struct

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.quantbot.hft.plugins.module_utils._ptp import (
    PtpError, check_timestamping, decode_ts_info, describe_caps, missing_for, parse_ethtool_t)

SIOCETHTOOL = 0x8946
ETHTOOL_GET_TS_INFO = 0x41
TS_INFO_SIZE = 44
SYS_CLASS_NET = "/sys/class/net"


def _ioctl_ts_info(interface):
    """ETHTOOL_GET_TS_INFO through SIOCETHTOOL, as ethtool's ioctl path does."""
    buf = array.array("B", struct.pack("=I", ETHTOOL_GET_TS_INFO) + b"\0" * (TS_INFO_SIZE - 4))
    addr = buf.buffer_info()[0]
    ifreq = struct.pack("16sP", interface.encode("utf-8"), addr)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        fcntl.ioctl(sock.fileno(), SIOCETHTOOL, ifreq)
    finally:
        sock.close()
    return decode_ts_info(buf.tobytes())


def _interfaces():
    try:
        return sorted(name for name in os.listdir(SYS_CLASS_NET) if name != "lo")
    except OSError:
        return []


def main():
    module = AnsibleModule(
        argument_spec=dict(
            interface=dict(type="str", required=True),
            require=dict(type="str", choices=["hardware", "software", "none"], default="none"),
        ),
        supports_check_mode=True,
    )
    interface = module.params["interface"]
    if not os.path.isdir(os.path.join(SYS_CLASS_NET, interface)):
        module.fail_json(msg="unknown interface %s (interfaces on this host: %s)"
                         % (interface, ", ".join(_interfaces()) or "none"))
    try:
        ethtool = module.get_bin_path("ethtool")
        if ethtool:
            rc, out, err = module.run_command([ethtool, "-T", interface], check_rc=False)
            if rc != 0:
                module.fail_json(msg="ethtool -T %s failed" % interface, rc=rc, stdout=out, stderr=err)
            caps = parse_ethtool_t(out)
            source = "ethtool"
        else:
            try:
                caps = _ioctl_ts_info(interface)
            except (IOError, OSError) as exc:
                module.fail_json(msg="cannot read the timestamping capabilities of %s: %s" % (interface, exc))
            source = "ioctl"
        result = dict(
            changed=False,
            capabilities=caps,
            hardware=not missing_for(caps, "hardware"),
            software=not missing_for(caps, "software"),
            summary=describe_caps(caps),
            source=source,
        )
        if module.params["require"] != "none":
            check_timestamping(interface, caps, module.params["require"])
    except PtpError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
