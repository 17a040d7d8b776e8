# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""module_utils/_ptpjudge.py: ptp_sync over a window, time_daemon_conflict from the units' states."""

from __future__ import annotations

import os

import pytest

from ansible_collections.quantbot.hft.plugins.module_utils._ptpjudge import (
    HINT_NO_WINDOW, HINT_OUT_OF_SYNC, judge_time_daemons, judge_window)
from ansible_collections.quantbot.hft.plugins.module_utils._ptpmon import (
    PtpError, parse_systemctl_show, sample_from_pmc, window_document, window_from_samples)

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "ptp")
NOW = 1764583800.0


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return handle.read()


def window(states, offsets, interval=1.0, length=600.0, generated=NOW, name="enp65s0", **extra):
    count = len(states)
    data = {"timestamps": [generated - (count - 1 - i) * interval for i in range(count)],
            "port_states": list(states), "offsets_ns": list(offsets), "error": None}
    data.update(extra)
    return window_document({name: data}, interval, length, generated, started=generated - length)


def locked(count=600, offset=40.0, spike=None):
    offsets = [offset * (-1) ** i for i in range(count)]
    if spike is not None:
        offsets[count // 2] = spike
    return window(["SLAVE"] * count, offsets)


def test_ptp_sync_passes_on_a_locked_window_and_names_window_and_percentiles():
    rec = judge_window(locked(), 100)
    assert rec["check"] == "ptp_sync" and rec["ok"] is True and rec["hint"] == ""
    assert rec["expected"] == ("port SLAVE in every sample, p99 |offset| <= 100 ns and max |offset| <= 100 ns "
                               "over a 600 s window (one sample every 1 s, collector)")
    report = rec["actual"]["interfaces"]["enp65s0"]
    assert (report["samples"], report["slave_samples"], report["span_seconds"]) == (600, 600, 600.0)
    assert (report["p50_abs_offset_ns"], report["p99_abs_offset_ns"], report["max_abs_offset_ns"]) == (40.0, 40.0, 40.0)
    assert rec["actual"]["problems"] == [] and rec["actual"]["window_seconds"] == 600.0


def test_ptp_sync_fails_on_one_spike_over_the_max_but_not_on_p99():
    spiky = locked(spike=450.0)
    rec = judge_window(spiky, 100)
    assert rec["ok"] is False and rec["actual"]["problems"] == ["enp65s0: max |offset| 450 ns exceeds 100 ns"]
    assert rec["actual"]["interfaces"]["enp65s0"]["p99_abs_offset_ns"] == 40.0
    assert rec["hint"] == HINT_OUT_OF_SYNC
    assert judge_window(spiky, 100, max_threshold_ns=1000)["ok"] is True


def test_ptp_sync_fails_on_p99():
    rec = judge_window(locked(offset=150.0), 100, max_threshold_ns=1000)
    assert rec["actual"]["problems"] == ["enp65s0: p99 |offset| 150 ns exceeds 100 ns"]


def test_ptp_sync_fails_when_the_port_left_slave_once():
    states = ["SLAVE"] * 300 + ["LISTENING"] * 8 + ["UNCALIBRATED"] + ["SLAVE"] * 291
    offsets = [10.0 if s == "SLAVE" else None for s in states]
    rec = judge_window(window(states, offsets), 100)
    assert rec["ok"] is False
    assert rec["actual"]["problems"] == [
        "enp65s0: port not SLAVE throughout: SLAVE in 591 of 600 samples (LISTENING 8, UNCALIBRATED 1)"]
    assert rec["actual"]["interfaces"]["enp65s0"]["states"] == {"SLAVE": 591, "LISTENING": 8, "UNCALIBRATED": 1}


def test_ptp_sync_ptp4l_stopped():
    rec = judge_window(window(["NONE"] * 5, [None] * 5, error="ptp4l did not answer pmc"), 100)
    assert rec["ok"] is False
    assert rec["actual"]["problems"][0] == ("enp65s0: port not SLAVE throughout: SLAVE in 0 of 5 samples "
                                            "(NONE (ptp4l did not answer) 5)")
    assert rec["actual"]["interfaces"]["enp65s0"]["last_error"] == "ptp4l did not answer pmc"


def test_ptp_sync_recomputes_the_summary_instead_of_trusting_the_file():
    doc = window(["SLAVE", "LISTENING"], [5.0, None])
    doc["interfaces"]["enp65s0"]["summary"]["slave_throughout"] = True        # a lying summary
    assert judge_window(doc, 100)["ok"] is False


def test_ptp_sync_stale_window_fails_with_the_collector_hint():
    doc = locked()
    assert judge_window(doc, 100, now=NOW + 5, max_age_seconds=15)["ok"] is True
    rec = judge_window(doc, 100, now=NOW + 120, max_age_seconds=15)
    assert rec["ok"] is False and rec["actual"]["age_seconds"] == 120.0
    assert rec["actual"]["problems"] == ["the window is 120 s old (more than 15 s): the collector stopped writing it"]
    assert rec["hint"] == HINT_NO_WINDOW


def test_ptp_sync_min_samples_and_missing_interface():
    short = window(["SLAVE"] * 20, [3.0] * 20)
    assert judge_window(short, 100, min_samples=60)["actual"]["problems"] == [
        "enp65s0: only 20 samples in the window, 60 needed"]
    rec = judge_window(short, 100, interfaces=["ens1f0"])
    assert rec["ok"] is False and rec["actual"]["problems"] == ["ens1f0: not in the window (it holds enp65s0)"]
    assert rec["hint"] == HINT_NO_WINDOW


@pytest.mark.parametrize("doc", [None, {}, {"version": 2, "interfaces": {}}, "text"])
def test_ptp_sync_without_a_window(doc):
    rec = judge_window(doc, 100)
    assert rec["ok"] is False and rec["hint"] == HINT_NO_WINDOW
    assert rec["actual"]["problems"][0].startswith("no window of samples")


def test_ptp_sync_empty_interfaces():
    doc = window_document({}, 1.0, 600.0, NOW)
    assert judge_window(doc, 100)["actual"]["problems"] == ["the window holds no interface"]


@pytest.mark.parametrize("bad", [-1, "x", None, float("nan")])
def test_ptp_sync_refuses_bad_bounds(bad):
    with pytest.raises(PtpError, match="threshold_ns"):
        judge_window(locked(), bad)
    with pytest.raises(PtpError, match="max_threshold_ns"):
        judge_window(locked(), 100, max_threshold_ns=bad if bad is not None else "y")


def test_ptp_sync_judges_the_pmc_fallback_window_from_captured_outputs():
    names = ["pmc-full-slave-traceable-netns.txt", "pmc-full-slave-sw-netns.txt",
             "pmc-full-listening-gm-gone-netns.txt"]
    samples = [sample_from_pmc(NOW + i, 0, fixture(n), "") for i, n in enumerate(names)]
    rec = judge_window(window_from_samples({"qbcl0": samples[:2]}, 1.0, NOW + 2), 500)
    assert rec["ok"] is True and "over a 2 s window (one sample every 1 s, pmc)" in rec["expected"]
    assert rec["actual"]["interfaces"]["qbcl0"]["max_abs_offset_ns"] == 408.0
    rec = judge_window(window_from_samples({"qbcl0": samples}, 1.0, NOW + 3), 500)
    assert rec["ok"] is False and "LISTENING 1" in rec["actual"]["problems"][0]


# --- time daemons -----------------------------------------------------------------
UNITS = ["chrony.service", "chronyd.service", "systemd-timesyncd.service", "ntp.service"]


def test_time_daemon_conflict_fails_on_a_running_timesyncd():
    states = parse_systemctl_show(fixture("systemctl-show-time-daemons.txt"), UNITS)
    rec = judge_time_daemons(states)
    assert rec["check"] == "time_daemon_conflict" and rec["ok"] is False
    assert rec["actual"]["running"] == ["systemd-timesyncd.service"]
    assert rec["hint"].startswith("stop and disable systemd-timesyncd.service")
    assert "ptp_disable_conflicting_daemons" in rec["hint"]


def test_time_daemon_conflict_passes_when_all_are_inactive_or_missing():
    rec = judge_time_daemons({"chrony.service": "inactive", "ntp.service": "inactive",
                              "systemd-timesyncd.service": "failed"})
    assert rec["ok"] is True and rec["actual"]["running"] == [] and rec["hint"] == ""


@pytest.mark.parametrize("state", ["active", "activating", "reloading", "deactivating"])
def test_time_daemon_conflict_counts_every_running_state(state):
    assert judge_time_daemons({"chrony.service": state})["ok"] is False


def test_time_daemon_conflict_unknown_state_or_no_answer_fails():
    rec = judge_time_daemons({"chrony.service": None})
    assert rec["ok"] is False and rec["actual"]["unknown"] == ["chrony.service"]
    rec = judge_time_daemons(None, error="systemctl show failed (rc 1): Failed to connect to bus")
    assert rec["ok"] is False and "Failed to connect to bus" in rec["actual"]["error"]
    with pytest.raises(PtpError, match="mapping"):
        judge_time_daemons(["chrony.service"])


def test_ptp_sync_leaves_out_the_samples_before_ptp4l_started_and_its_lock_in():
    # Old instance (NONE while it was stopped), restart at sample 300, lock-in, then locked.
    states = ["NONE"] * 300 + ["LISTENING"] * 5 + ["UNCALIBRATED"] * 20 + ["SLAVE"] * 275
    offsets = [None] * 305 + [9e6] * 20 + [30.0] * 275
    doc = window(states, offsets)
    started = doc["interfaces"]["enp65s0"]["timestamps"][300] - 0.5
    rec = judge_window(doc, 100, started={"enp65s0": started})
    assert rec["ok"] is True, rec["actual"]["problems"]
    report = rec["actual"]["interfaces"]["enp65s0"]
    assert (report["samples"], report["lock_in_samples"], report["ptp4l_started"]) == (275, 325, started)
    # Without the start time every sample counts.
    assert judge_window(doc, 100)["ok"] is False


def test_ptp_sync_a_lost_lock_after_the_start_still_fails():
    states = ["LISTENING"] * 3 + ["SLAVE"] * 100 + ["LISTENING"] * 4 + ["SLAVE"] * 50
    offsets = [None if s != "SLAVE" else 10.0 for s in states]
    doc = window(states, offsets)
    started = doc["interfaces"]["enp65s0"]["timestamps"][0] - 1
    rec = judge_window(doc, 100, started={"enp65s0": started})
    assert rec["ok"] is False
    assert rec["actual"]["problems"] == [
        "enp65s0: port not SLAVE throughout: SLAVE in 150 of 154 samples (LISTENING 4)"]


def test_ptp_sync_only_the_lock_in_so_far_is_no_sample():
    doc = window(["LISTENING", "UNCALIBRATED"], [None, 5e6])
    started = doc["interfaces"]["enp65s0"]["timestamps"][0] - 1
    rec = judge_window(doc, 100, started={"enp65s0": started})
    assert rec["ok"] is False and rec["actual"]["problems"] == ["enp65s0: no samples in the window"]
