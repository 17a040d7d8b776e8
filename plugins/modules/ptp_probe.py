#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r"""
---
module: ptp_probe
short_description: Ask a running ptp4l for its port state and offset from the master
version_added: 0.1.0
description:
  - Runs C(pmc -u -b 0 -f CONFIG 'GET CURRENT_DATA_SET' 'GET PORT_DATA_SET')
    against the local ptp4l instance that uses O(config), and returns the port
    state, C(offsetFromMaster), C(meanPathDelay) and C(stepsRemoved) as data.
  - pmc finds the instance through the C(uds_address) and C(domainNumber) in
    that same config file (without C(-f), pmc would ask domain 0 on
    C(/var/run/ptp4l)). The C(quantbot.hft.ptp) role writes one config per
    interface, C(/etc/linuxptp/quantbot-hft-IFACE.conf).
  - With O(max_offset_ns), also judges the clock, returning RV(healthy) and RV(reasons).
  - Read-only. A ptp4l that does not answer is reported (RV(responding) false),
    not a module failure, so validation can record it.
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
  config:
    description:
      - Path of the ptp4l configuration file of the instance to ask.
    type: path
    required: true
  max_offset_ns:
    description:
      - Largest acceptable C(|offsetFromMaster|) in nanoseconds. When given,
        the module returns RV(healthy) (port state SLAVE and the offset within
        this bound) and RV(reasons).
      - Hardware timestamping on a real NIC holds ±100 ns (the ptp-operator's
        default threshold); software timestamping needs a far larger bound.
    type: float
requirements:
  - pmc (linuxptp) on the managed host
seealso:
  - module: quantbot.hft.nic_timestamping
  - name: pmc(8)
    description: The PTP management client.
    link: https://linuxptp.nwtime.org/documentation/pmc/
"""

EXAMPLES = r"""
- name: Probe the PTP port of an HFT node
  quantbot.hft.ptp_probe:
    config: /etc/linuxptp/quantbot-hft-ens1f0.conf
    max_offset_ns: 100
  register: ptp

- name: Fail unless the clock is locked
  ansible.builtin.assert:
    that: ptp.healthy
    fail_msg: "PTP on ens1f0 is not healthy: {{ ptp.reasons | join('; ') }}"
"""

RETURN = r"""
responding:
  description: Whether ptp4l answered at all.
  returned: success
  type: bool
port_state:
  description: The port state (V(SLAVE) when locked to a master), or null without an answer.
  returned: success
  type: str
  sample: SLAVE
offset_ns:
  description: C(offsetFromMaster) of CURRENT_DATA_SET, in nanoseconds.
  returned: success
  type: float
  sample: -142.0
mean_path_delay_ns:
  description: C(meanPathDelay) of CURRENT_DATA_SET, in nanoseconds.
  returned: success
  type: float
  sample: 9310.0
steps_removed:
  description: C(stepsRemoved) of CURRENT_DATA_SET (1 when directly behind the grandmaster).
  returned: success
  type: int
  sample: 1
ports:
  description: Every PORT_DATA_SET answer.
  returned: success
  type: list
  elements: dict
  sample: [{"port_identity": "525400.fffe.484601-1", "port_state": "SLAVE"}]
errors:
  description: Management error answers, if any.
  returned: success
  type: list
  elements: str
healthy:
  description: Port state SLAVE and C(|offset_ns|) at most O(max_offset_ns).
  returned: when O(max_offset_ns) is given
  type: bool
reasons:
  description: Why the clock is not healthy; empty when it is.
  returned: when O(max_offset_ns) is given
  type: list
  elements: str
  sample: ["port state is LISTENING, not SLAVE"]
stdout:
  description: What pmc printed.
  returned: success
  type: str
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.quantbot.hft.plugins.module_utils._ptp import PtpError, judge, parse_pmc

COMMANDS = ("GET CURRENT_DATA_SET", "GET PORT_DATA_SET")


def main():
    module = AnsibleModule(
        argument_spec=dict(
            config=dict(type="path", required=True),
            max_offset_ns=dict(type="float"),
        ),
        supports_check_mode=True,
    )
    config = module.params["config"]
    if not os.path.isfile(config):
        module.fail_json(msg="ptp4l config %s does not exist (is the quantbot.hft.ptp role applied for this interface?)" % config)
    pmc = module.get_bin_path("pmc", required=True)
    rc, out, err = module.run_command([pmc, "-u", "-b", "0", "-f", config] + list(COMMANDS), check_rc=False)
    if rc != 0:
        module.fail_json(msg="pmc failed for %s" % config, rc=rc, stdout=out, stderr=err)
    try:
        result = parse_pmc(out)
        if module.params["max_offset_ns"] is not None:
            result.update(judge(result, module.params["max_offset_ns"]))
    except PtpError as exc:
        module.fail_json(msg=str(exc), stdout=out, stderr=err)
    module.exit_json(changed=False, stdout=out, **result)


if __name__ == "__main__":
    main()
