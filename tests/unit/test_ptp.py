# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""module_utils/_ptp.py on captured ethtool -T and pmc outputs."""

from __future__ import annotations

import os
import struct

import pytest

from ansible_collections.quantbot.hft.plugins.module_utils._ptp import (
    PtpError, check_timestamping, decode_ts_info, describe_caps, judge, missing_for, parse_ethtool_t, parse_pmc)

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "ptp")


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return handle.read()


FULL_HW = {"hw_tx": True, "hw_rx": True, "hw_raw": True, "sw_tx": True, "sw_rx": True, "sw_clock": True}


# --- ethtool -T ---------------------------------------------------------------
@pytest.mark.parametrize("name, phc", [
    ("ethtool-T-igb-netlink.txt", 0),
    ("ethtool-T-i40e-ioctl.txt", 2),
    ("ethtool-T-ice-provider-index.txt", 1),
])
def test_hardware_nic_capabilities(name, phc):
    assert parse_ethtool_t(fixture(name)) == dict(FULL_HW, phc_index=phc)


def test_software_only_nic_capabilities():
    caps = parse_ethtool_t(fixture("ethtool-T-virtio-net.txt"))
    assert caps == {"hw_tx": False, "hw_rx": False, "hw_raw": False,
                    "sw_tx": True, "sw_rx": True, "sw_clock": True, "phc_index": None}


def test_tx_only_hardware_nic_lacks_hw_rx():
    caps = parse_ethtool_t(fixture("ethtool-T-tx-only-hw.txt"))
    assert caps["hw_tx"] and caps["hw_raw"] and not caps["hw_rx"]
    assert caps["phc_index"] == 0


def test_filter_mode_lines_are_not_capabilities():
    # "all"/"on" under the filter sections must not leak into the capability set.
    caps = parse_ethtool_t(fixture("ethtool-T-igb-netlink.txt"))
    assert set(caps) == {"hw_tx", "hw_rx", "hw_raw", "sw_tx", "sw_rx", "sw_clock", "phc_index"}


def test_not_ethtool_output_is_refused():
    with pytest.raises(PtpError, match="not ethtool -T output"):
        parse_ethtool_t("netlink error: no device matches name (offset 24)\n")


def test_decode_ts_info_matches_ethtool_for_igb():
    flags = (1 << 0) | (1 << 1) | (1 << 2) | (1 << 3) | (1 << 4) | (1 << 6)
    buf = struct.pack("=IIiI3II3I", 0x41, flags, 0, 3, 0, 0, 0, 1, 0, 0, 0)
    assert len(buf) == 44
    assert decode_ts_info(buf) == parse_ethtool_t(fixture("ethtool-T-igb-netlink.txt"))


def test_decode_ts_info_no_phc():
    flags = (1 << 1) | (1 << 3) | (1 << 4)
    buf = struct.pack("=IIiI3II3I", 0x41, flags, -1, 0, 0, 0, 0, 0, 0, 0, 0)
    assert decode_ts_info(buf) == parse_ethtool_t(fixture("ethtool-T-virtio-net.txt"))


def test_decode_ts_info_short_buffer():
    with pytest.raises(PtpError, match="too short"):
        decode_ts_info(b"\0" * 8)


# --- the hardware-required decision -------------------------------------------
def test_hardware_required_fails_clearly_on_a_nic_without_hardware_timestamping():
    """The HFT default: a NIC without hardware timestamping is refused, and the message says why."""
    caps = parse_ethtool_t(fixture("ethtool-T-virtio-net.txt"))
    with pytest.raises(PtpError) as err:
        check_timestamping("enp0s2", caps, "hardware")
    msg = str(err.value)
    assert "enp0s2" in msg
    assert "lacks hardware timestamping" in msg
    for missing in ("hardware-transmit", "hardware-receive", "hardware-raw-clock", "PTP hardware clock"):
        assert missing in msg
    assert "PHC none" in msg                           # what ethtool reported
    assert "ptp_time_stamping: software" in msg        # how to opt out, explicitly


def test_hardware_required_names_only_what_is_missing():
    caps = parse_ethtool_t(fixture("ethtool-T-tx-only-hw.txt"))
    with pytest.raises(PtpError) as err:
        check_timestamping("enp3s0", caps, "hardware")
    assert "missing hardware-receive (" in str(err.value)


@pytest.mark.parametrize("name", ["ethtool-T-igb-netlink.txt", "ethtool-T-i40e-ioctl.txt",
                                  "ethtool-T-ice-provider-index.txt"])
def test_hardware_required_passes_on_hardware_nics(name):
    caps = parse_ethtool_t(fixture(name))
    assert check_timestamping("ens1f0", caps, "hardware") is caps


def test_software_opt_in_accepts_a_software_only_nic():
    caps = parse_ethtool_t(fixture("ethtool-T-virtio-net.txt"))
    assert check_timestamping("enp0s2", caps, "software") is caps
    assert missing_for(caps, "software") == []


def test_software_mode_refuses_a_nic_without_software_timestamps():
    caps = dict.fromkeys(FULL_HW, False)
    caps["phc_index"] = None
    with pytest.raises(PtpError, match="lacks software timestamping: missing software-"):
        check_timestamping("tun0", caps, "software")


def test_unknown_mode_is_refused():
    with pytest.raises(PtpError, match="unknown time_stamping mode 'onestep'"):
        missing_for(dict(FULL_HW, phc_index=0), "onestep")


def test_describe_caps():
    caps = parse_ethtool_t(fixture("ethtool-T-igb-netlink.txt"))
    assert describe_caps(caps).endswith("; PHC /dev/ptp0")


# --- pmc -------------------------------------------------------------------------
def test_pmc_locked_hardware():
    probe = parse_pmc(fixture("pmc-slave-hw.txt"))
    assert probe["responding"] is True
    assert probe["port_state"] == "SLAVE"
    assert probe["offset_ns"] == -3.0
    assert probe["mean_path_delay_ns"] == 611.0
    assert probe["steps_removed"] == 1
    assert probe["ports"] == [{"port_identity": "90e2ba.fffe.20c7f8-1", "port_state": "SLAVE"}]
    assert probe["errors"] == []


def test_pmc_interleaved_sending_lines_lab_software():
    probe = parse_pmc(fixture("pmc-slave-sw-lab.txt"))
    assert (probe["port_state"], probe["offset_ns"], probe["steps_removed"]) == ("SLAVE", 412345.0, 1)


@pytest.mark.parametrize("name, state", [("pmc-listening.txt", "LISTENING"),
                                         ("pmc-uncalibrated.txt", "UNCALIBRATED"),
                                         ("pmc-faulty.txt", "FAULTY")])
def test_pmc_other_states(name, state):
    assert parse_pmc(fixture(name))["port_state"] == state


@pytest.mark.parametrize("name", ["pmc-no-answer.txt", "pmc-full-stopped-netns.txt"])
def test_pmc_no_answer(name):
    probe = parse_pmc(fixture(name))
    assert probe["responding"] is False
    assert probe["port_state"] is None and probe["offset_ns"] is None
    assert probe["grandmaster_identity"] is None and probe["time_traceable"] is None


def test_pmc_old_managment_typo():
    probe = parse_pmc(fixture("pmc-rhel6-managment.txt"))
    assert probe["offset_ns"] == -142.0 and probe["mean_path_delay_ns"] == 9310.0
    assert probe["port_state"] is None


def test_pmc_error_status():
    text = ("sending: GET PORT_DATA_SET\n"
            "\t90e2ba.fffe.20c7f8-0 seq 0 RESPONSE MANAGEMENT_ERROR_STATUS PORT_DATA_SET \n"
            "\t\tERROR: NOT_SUPPORTED\n")
    probe = parse_pmc(text)
    assert probe["errors"] == ["MANAGEMENT_ERROR_STATUS from 90e2ba.fffe.20c7f8-0"]


def test_pmc_2019_terms_map_to_slave():
    text = fixture("pmc-slave-hw.txt").replace("portState               SLAVE", "portState               TIME_RECEIVER")
    assert parse_pmc(text)["port_state"] == "SLAVE"


# --- judge -------------------------------------------------------------------------
def test_judge_healthy_hardware():
    assert judge(parse_pmc(fixture("pmc-slave-hw.txt")), 100) == {"healthy": True, "reasons": []}


def test_judge_offset_over_threshold():
    verdict = judge(parse_pmc(fixture("pmc-slave-sw-lab.txt")), 100)
    assert verdict["healthy"] is False
    assert verdict["reasons"] == ["|offsetFromMaster| 412345.0 ns exceeds 100.0 ns"]


def test_judge_lab_threshold_accepts_software_offsets():
    assert judge(parse_pmc(fixture("pmc-slave-sw-lab.txt")), 5000000)["healthy"] is True


def test_judge_offset_equal_to_threshold_is_healthy():
    probe = {"responding": True, "port_state": "SLAVE", "offset_ns": -100.0}
    assert judge(probe, 100)["healthy"] is True


def test_judge_not_slave():
    verdict = judge(parse_pmc(fixture("pmc-listening.txt")), 100)
    assert verdict == {"healthy": False, "reasons": ["port state is LISTENING, not SLAVE"]}


def test_judge_no_answer():
    verdict = judge(parse_pmc(fixture("pmc-no-answer.txt")), 100)
    assert verdict["healthy"] is False and "did not answer" in verdict["reasons"][0]


@pytest.mark.parametrize("bad", [-1, "x", None, float("nan")])
def test_judge_refuses_bad_threshold(bad):
    with pytest.raises(PtpError, match="max_offset_ns"):
        judge({"responding": True}, bad)
