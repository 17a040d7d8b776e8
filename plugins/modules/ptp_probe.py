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
short_description: Ask a running ptp4l for its port state and offset from the master, over a window
version_added: 0.1.0
description:
  - Runs C(pmc -u -b 0 -f CONFIG) with C(GET CURRENT_DATA_SET), C(GET PORT_DATA_SET),
    C(GET PARENT_DATA_SET) and C(GET TIME_PROPERTIES_DATA_SET) against the local
    ptp4l instance that uses O(config), and returns the port state,
    C(offsetFromMaster), C(meanPathDelay), C(stepsRemoved), the grandmaster and
    its time properties as data.
  - pmc finds the instance through the C(uds_address) and C(domainNumber) in
    that same config file (without C(-f), pmc would ask domain 0 on
    C(/var/run/ptp4l)). The C(quantbot.hft.ptp) role writes one config per
    interface, C(/etc/linuxptp/quantbot-hft-IFACE.conf).
  - Also returns a window of samples (RV(window)) in the shape of the PTP
    collector's window file. With O(window_file), that file is returned when it
    is fresh (the collector runs); otherwise the module samples pmc O(samples)
    times, O(interval) seconds apart, itself (a short window).
  - With O(max_offset_ns), also judges the window, returning RV(healthy) and RV(reasons).
  - With O(time_daemons), also reads those units' systemd ActiveState (one
    C(systemctl show) call), for the time daemon conflict check.
  - Read-only. A ptp4l that does not answer is reported (RV(responding) false,
    port state V(NONE) in the window), not a module failure, so validation can record it.
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
  interface:
    description:
      - Name of the PTP interface, the key of the sampled window's interface
        (and the interface looked up in O(window_file)).
      - Defaults to the O(config) path.
    type: str
  max_offset_ns:
    description:
      - Largest acceptable p99 C(|offsetFromMaster|) over the window, in nanoseconds.
        When given, the module returns RV(healthy) (port state SLAVE in every
        sample, p99 within this bound and the maximum within O(peak_offset_ns))
        and RV(reasons).
      - Hardware timestamping on a real NIC holds ±100 ns (the ptp-operator's
        default threshold); software timestamping needs a far larger bound.
    type: float
  peak_offset_ns:
    description:
      - Largest acceptable maximum C(|offsetFromMaster|) over the window, in
        nanoseconds. Defaults to O(max_offset_ns).
    type: float
  samples:
    description:
      - How many pmc samples to take when no fresh O(window_file) is there (1 to
        3600; the samples must span at most an hour).
    type: int
    default: 1
  interval:
    description:
      - Seconds to wait between those samples (0.1 to 60); each pmc run adds
        about 0.1 s (pmc waits that long for the answers).
    type: float
    default: 1.0
  window_file:
    description:
      - The PTP collector's window file (for example C(/run/quantbot-hft/ptpmon.json)).
        Used instead of sampling when it exists, holds O(interface), and was
        written at most O(window_max_age) seconds ago.
    type: path
  window_max_age:
    description:
      - Oldest acceptable age of O(window_file), in seconds.
    type: float
    default: 15.0
  time_daemons:
    description:
      - systemd units of other time daemons whose ActiveState to return (RV(time_daemons)).
    type: list
    elements: str
    default: []
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

- name: Judge the collector's window, or sample pmc for 30 s when the collector is absent
  quantbot.hft.ptp_probe:
    config: /etc/linuxptp/quantbot-hft-enp65s0.conf
    interface: enp65s0
    window_file: /run/quantbot-hft/ptpmon.json
    samples: 30
    interval: 1
    max_offset_ns: 100
    time_daemons:
      - chrony.service
      - systemd-timesyncd.service
  register: ptp
"""

RETURN = r"""
responding:
  description: Whether ptp4l answered at all (the module's own pmc sample).
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
grandmaster_identity:
  description: C(grandmasterIdentity) of PARENT_DATA_SET.
  returned: success
  type: str
  sample: def4fa.fffe.0300f7
clock_class:
  description: C(gm.ClockClass) of PARENT_DATA_SET (6 for a grandmaster locked to GNSS).
  returned: success
  type: int
  sample: 6
time_traceable:
  description: C(timeTraceable) of TIME_PROPERTIES_DATA_SET.
  returned: success
  type: bool
current_utc_offset_valid:
  description: C(currentUtcOffsetValid) of TIME_PROPERTIES_DATA_SET.
  returned: success
  type: bool
errors:
  description: Management error answers, if any.
  returned: success
  type: list
  elements: str
window:
  description:
    - A window of samples in the PTP collector's window file shape
      (C(version), C(source), C(generated), C(interval_seconds),
      C(window_seconds), and per interface C(timestamps), C(port_states),
      C(offsets_ns) and C(summary)); see C(plugins/module_utils/_ptpmon.py).
  returned: success
  type: dict
window_source:
  description: V(collector) when RV(window) is the collector's window file, V(pmc) when the module sampled it.
  returned: success
  type: str
  sample: pmc
window_summary:
  description:
    - The summary of O(interface) in RV(window) - C(samples), C(span_seconds),
      C(states), C(slave_samples), C(slave_seconds), C(slave_throughout),
      C(p50_abs_offset_ns), C(p99_abs_offset_ns), C(max_abs_offset_ns) - or
      null when the window does not hold it.
  returned: success
  type: dict
healthy:
  description: Port state SLAVE in every sample of the window, p99 and maximum C(|offset_ns|) within bounds.
  returned: when O(max_offset_ns) is given
  type: bool
reasons:
  description: Why the clock is not healthy; empty when it is.
  returned: when O(max_offset_ns) is given
  type: list
  elements: str
  sample: ["port not SLAVE throughout: SLAVE in 0 of 1 samples (LISTENING 1)"]
time_daemons:
  description: ActiveState per unit of O(time_daemons), or null when systemctl failed.
  returned: when O(time_daemons) is not empty
  type: dict
  sample: {"chrony.service": "inactive", "systemd-timesyncd.service": "active"}
time_daemons_error:
  description: Why RV(time_daemons) could not be read.
  returned: when O(time_daemons) is not empty
  type: str
stdout:
  description: What pmc printed (the module's own pmc sample).
  returned: success
  type: str
"""

import os
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.quantbot.hft.plugins.module_utils._ptpmon import (
    ConfigError, PtpError, check_interface_name, check_units, parse_pmc, read_window, sample_pmc,
    sample_pmc_window, systemctl_argv, time_daemon_states, window_from_samples, window_problems)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            config=dict(type="path", required=True),
            interface=dict(type="str"),
            max_offset_ns=dict(type="float"),
            peak_offset_ns=dict(type="float"),
            samples=dict(type="int", default=1),
            interval=dict(type="float", default=1.0),
            window_file=dict(type="path"),
            window_max_age=dict(type="float", default=15.0),
            time_daemons=dict(type="list", elements="str", default=[]),
        ),
        supports_check_mode=True,
    )
    params = module.params
    config = params["config"]
    name = params["interface"] or config
    if not 1 <= params["samples"] <= 3600:
        module.fail_json(msg="samples must be from 1 to 3600, got %s" % params["samples"])
    if not 0.1 <= params["interval"] <= 60:
        module.fail_json(msg="interval must be from 0.1 to 60 seconds, got %s" % params["interval"])
    if (params["samples"] - 1) * params["interval"] > 3600:
        module.fail_json(msg="samples x interval must stay within an hour, got %s samples every %s s"
                         % (params["samples"], params["interval"]))
    try:
        if params["interface"] is not None:
            check_interface_name(params["interface"])
        check_units(params["time_daemons"])
    except ConfigError as exc:
        module.fail_json(msg=str(exc))
    if not os.path.isfile(config):
        module.fail_json(msg="ptp4l config %s does not exist (is the quantbot.hft.ptp role applied for this interface?)" % config)
    pmc = module.get_bin_path("pmc", required=True)

    def run(argv):
        return module.run_command(argv, check_rc=False)

    first = sample_pmc(run, pmc, config, time.time())
    rc, out, err = first["rc"], first["stdout"], first["stderr"]
    if rc != 0:
        module.fail_json(msg="pmc failed for %s" % config, rc=rc, stdout=out, stderr=err)
    try:
        result = parse_pmc(out)
        window = None
        if params["window_file"]:
            window = read_window(params["window_file"])
            fresh = (isinstance(window, dict) and name in (window.get("interfaces") or {})
                     and isinstance(window.get("generated"), (int, float))
                     and time.time() - window["generated"] <= params["window_max_age"])
            window = window if fresh else None
        if window is None:
            samples = [first]
            samples += sample_pmc_window(run, pmc, config, params["samples"] - 1, params["interval"],
                                         clock=time.time, sleep=time.sleep, sleep_first=True)
            window = window_from_samples({name: samples}, params["interval"], time.time())
        summary = window["interfaces"].get(name, {}).get("summary")
        result.update(window=window, window_source=window.get("source"), window_summary=summary)
        if params["max_offset_ns"] is not None:
            reasons = window_problems(summary or {}, params["max_offset_ns"], params["peak_offset_ns"])
            result.update(healthy=not reasons, reasons=reasons)
        if params["time_daemons"]:
            units = params["time_daemons"]
            drc, dout, derr = run(systemctl_argv(module.get_bin_path("systemctl") or "systemctl", units))
            states, error = time_daemon_states(drc, dout, derr, units)
            result.update(time_daemons=states, time_daemons_error=error)
    except PtpError as exc:
        module.fail_json(msg=str(exc), stdout=out, stderr=err)
    module.exit_json(changed=False, stdout=out, **result)


if __name__ == "__main__":
    main()
