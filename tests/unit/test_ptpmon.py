# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""module_utils/_ptpmon.py: pmc parsing, the window, the exposition, the files and the service loop."""

from __future__ import annotations

import ast
import io
import json
import os
import subprocess
import sys
import time

import pytest

from ansible_collections.quantbot.hft.plugins.module_utils import _ptpmon
from ansible_collections.quantbot.hft.plugins.module_utils._ptpmon import (
    METRICS, PORT_STATES, Collector, ConfigError, JournalFollower, Log, PtpError, atomic_write, escape_help,
    escape_label_value, exposed_names, format_value, normalize_config, parse_phc2sys_line, parse_phc2sys_log,
    parse_pmc, parse_systemctl_show, percentile, render_metrics, sample_from_pmc, sample_pmc_window, summarize,
    window_from_samples, window_problems)

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "ptp")
SOURCE = _ptpmon.__file__


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return handle.read()


def series(text):
    """{'name{labels}': value} of an exposition text (no HELP/TYPE lines)."""
    result = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            result[key] = value
    return result


# --- pmc: the four data sets -----------------------------------------------------
def test_pmc_parent_and_time_properties_of_a_traceable_grandmaster():
    probe = parse_pmc(fixture("pmc-full-slave-traceable-netns.txt"))
    assert probe["port_state"] == "SLAVE" and probe["offset_ns"] == -326.0
    assert probe["mean_path_delay_ns"] == 2462.0
    assert probe["grandmaster_identity"] == "def4fa.fffe.0300f7"
    assert probe["parent_port_identity"] == "def4fa.fffe.0300f7-1"
    assert (probe["clock_class"], probe["clock_accuracy"]) == (6, 0x21)
    assert (probe["grandmaster_priority1"], probe["grandmaster_priority2"]) == (10, 128)
    assert probe["current_utc_offset"] == 37
    assert probe["current_utc_offset_valid"] is True and probe["time_traceable"] is True
    assert probe["frequency_traceable"] is True and probe["ptp_timescale"] is False
    assert probe["time_source"] == 0x20
    assert (probe["leap61"], probe["leap59"]) == (False, False)


def test_pmc_default_grandmaster_is_not_traceable():
    # ptp4l's defaults as a grandmaster: clockClass 248, timeSource INTERNAL_OSCILLATOR (0xa0).
    probe = parse_pmc(fixture("pmc-full-slave-sw-netns.txt"))
    assert (probe["clock_class"], probe["time_source"]) == (248, 0xa0)
    assert probe["time_traceable"] is False and probe["current_utc_offset_valid"] is False


def test_pmc_only_current_and_port_keeps_the_new_keys_empty():
    probe = parse_pmc(fixture("pmc-slave-hw.txt"))
    assert probe["offset_ns"] == -3.0 and probe["clock_class"] is None and probe["current_utc_offset"] is None


def test_pmc_unreadable_clock_class_is_refused():
    text = fixture("pmc-full-slave-sw-netns.txt").replace(
        "gm.ClockClass                         248", "gm.ClockClass                         x48")
    with pytest.raises(PtpError, match="unreadable gm.ClockClass: 'x48'"):
        parse_pmc(text)


# --- one sample -----------------------------------------------------------------
def test_sample_slave_keeps_the_offset():
    sample = sample_from_pmc(100.0, 0, fixture("pmc-full-slave-sw-netns.txt"), "")
    assert (sample["t"], sample["port_state"], sample["offset_ns"], sample["error"]) == (100.0, "SLAVE", 408.0, None)


@pytest.mark.parametrize("name, state", [("pmc-full-listening-gm-gone-netns.txt", "LISTENING"),
                                         ("pmc-full-uncalibrated-netns.txt", "UNCALIBRATED"),
                                         ("pmc-full-faulty-link-down-netns.txt", "FAULTY")])
def test_sample_drops_the_stale_offset_outside_slave(name, state):
    # ptp4l keeps the last offsetFromMaster (-453 ns in both captures) after it left SLAVE.
    sample = sample_from_pmc(1.0, 0, fixture(name), "")
    assert sample["port_state"] == state and sample["offset_ns"] is None and sample["error"] is None


def test_sample_of_a_stopped_ptp4l_is_none_with_a_reason():
    sample = sample_from_pmc(1.0, 0, fixture("pmc-full-stopped-netns.txt"), "")
    assert sample["port_state"] == "NONE" and "did not answer" in sample["error"]


def test_sample_of_a_failing_pmc_names_its_exit_code_and_stderr():
    sample = sample_from_pmc(1.0, 255, "", "failed to open configuration file /etc/linuxptp/x.conf\n")
    assert sample["port_state"] == "NONE"
    assert sample["error"] == "pmc exited 255: failed to open configuration file /etc/linuxptp/x.conf"


def test_sample_pmc_window_spaces_the_samples():
    calls, sleeps = [], []
    clock = iter([10.0, 11.0, 12.0])

    def run(argv):
        calls.append(argv)
        return 0, fixture("pmc-full-slave-sw-netns.txt"), ""

    samples = sample_pmc_window(run, "/usr/sbin/pmc", "/etc/linuxptp/quantbot-hft-enp65s0.conf", 3, 1.0,
                                clock=lambda: next(clock), sleep=sleeps.append)
    assert [s["t"] for s in samples] == [10.0, 11.0, 12.0] and sleeps == [1.0, 1.0]
    assert calls[0] == ["/usr/sbin/pmc", "-u", "-b", "0", "-f", "/etc/linuxptp/quantbot-hft-enp65s0.conf",
                        "GET CURRENT_DATA_SET", "GET PORT_DATA_SET", "GET PARENT_DATA_SET",
                        "GET TIME_PROPERTIES_DATA_SET"]
    sleeps.clear()
    clock = iter([20.0])
    sample_pmc_window(run, "pmc", "/c", 1, 2.0, clock=lambda: next(clock), sleep=sleeps.append, sleep_first=True)
    assert sleeps == [2.0]


def test_sample_pmc_asks_again_once_when_the_answer_is_missing():
    answers = [fixture("pmc-full-stopped-netns.txt"), fixture("pmc-full-slave-sw-netns.txt")]
    calls = []

    def run(argv):
        calls.append(argv)
        return 0, answers.pop(0), ""

    sample = _ptpmon.sample_pmc(run, "pmc", "/c", 5.0)
    assert sample["port_state"] == "SLAVE" and len(calls) == 2


def test_sample_pmc_gives_up_after_the_retry_and_does_not_retry_a_failing_pmc():
    calls = []

    def stopped(argv):
        calls.append(argv)
        return 0, fixture("pmc-full-stopped-netns.txt"), ""

    assert _ptpmon.sample_pmc(stopped, "pmc", "/c", 5.0)["port_state"] == "NONE" and len(calls) == 2
    calls.clear()

    def failing(argv):
        calls.append(argv)
        return 2, "", "failed to open configuration file /c"

    assert "exited 2" in _ptpmon.sample_pmc(failing, "pmc", "/c", 5.0)["error"] and len(calls) == 1


# --- phc2sys and systemctl ------------------------------------------------------
def test_phc2sys_journal_short_unix_gives_the_newest_offset_and_its_time():
    update = parse_phc2sys_log(fixture("phc2sys-journal-short-unix.txt"))
    assert update == {"t": 1764583197.513001, "clock": "CLOCK_REALTIME", "offset_ns": -12, "servo_state": 2,
                      "freq_ppb": -3041.0, "delay_ns": 611}


def test_phc2sys_journal_cat_has_no_time():
    update = parse_phc2sys_log(fixture("phc2sys-journal-cat.txt"))
    assert update["t"] is None and update["offset_ns"] == -12


@pytest.mark.parametrize("line, expected", [
    # stdout (-m), with the message tag
    ("phc2sys[1236.568]: [enp65s0] CLOCK_REALTIME phc offset       -31 s2 freq   -3052 delay    611",
     (-31, 2, -3052.0, 611, "CLOCK_REALTIME")),
    # linuxptp before 2.0: no clock name, and no delay when it is unknown
    ("phc2sys[27.317]: phc offset    178240 s0 freq      +0", (178240, 0, 0.0, None, None)),
    # automatic mode (-a) on a second clock
    ("[88.100] [ptp] /dev/ptp1 sys offset        -5 s2 freq    +120 delay   1010", (-5, 2, 120.0, 1010, "/dev/ptp1")),
])
def test_phc2sys_line_variants(line, expected):
    update = parse_phc2sys_line(line)
    assert (update["offset_ns"], update["servo_state"], update["freq_ppb"], update["delay_ns"],
            update["clock"]) == expected


@pytest.mark.parametrize("line", ["[1234.567] [enp65s0] Waiting for ptp4l...",
                                  "phc2sys[5.0]: CLOCK_REALTIME rms   12 max   30 freq  -3040 +/-   4 delay   611 +/-   1",
                                  "ptp4l[929.576]: [qbcl0] master offset -453 s2 freq -1 path delay 2474"])
def test_phc2sys_other_lines_are_not_updates(line):
    assert parse_phc2sys_line(line) is None


def test_systemctl_show_by_position_handles_aliases():
    units = ["chrony.service", "chronyd.service", "systemd-timesyncd.service", "ntp.service"]
    states = parse_systemctl_show(fixture("systemctl-show-time-daemons.txt"), units)
    assert states == {"chrony.service": "inactive", "chronyd.service": "inactive",
                      "systemd-timesyncd.service": "active", "ntp.service": "inactive"}


def test_systemctl_show_by_id_when_the_count_differs():
    text = "Id=systemd-timesyncd.service\nActiveState=active\n"
    assert parse_systemctl_show(text, ["chrony.service", "systemd-timesyncd.service"]) == {
        "chrony.service": None, "systemd-timesyncd.service": "active"}


def test_systemctl_show_without_states_is_refused():
    with pytest.raises(PtpError, match="no ActiveState"):
        parse_systemctl_show("Failed to connect to bus: Host is down\n", ["chrony.service"])


# --- the window ------------------------------------------------------------------
def test_percentile_nearest_rank():
    values = list(range(1, 101))
    assert (percentile(values, 0.5), percentile(values, 0.99), percentile(values, 1.0)) == (50, 99, 100)
    assert percentile([7], 0.99) == 7 and percentile([], 0.5) is None
    assert percentile([1, 2, 3], 0.0) == 1


def test_summary_over_slave_samples_only():
    # 200 SLAVE samples (|offset| 1..199 and one 5000 ns outlier) and one LISTENING sample
    # whose stale offset must not count.
    states = ["SLAVE"] * 199 + ["LISTENING", "SLAVE"]
    offsets = [float(i) * (-1) ** i for i in range(1, 200)] + [-453.0, 5000.0]
    summary = summarize([float(i) for i in range(201)], states, offsets, 1.0)
    assert summary["samples"] == 201 and summary["span_seconds"] == 201.0
    assert summary["states"] == {"SLAVE": 200, "LISTENING": 1}
    assert summary["slave_samples"] == 200 and summary["slave_seconds"] == 200.0
    assert summary["slave_throughout"] is False
    assert summary["offset_samples"] == 200
    assert summary["p50_abs_offset_ns"] == 100.0      # rank 100 of 200
    assert summary["p99_abs_offset_ns"] == 198.0      # rank 198 of 200: the outlier is above p99
    assert summary["max_abs_offset_ns"] == 5000.0
    assert summary["sum_abs_offset_ns"] == sum(range(1, 200)) + 5000.0


def test_summary_of_an_empty_window():
    summary = summarize([], [], [], 1.0)
    assert summary["samples"] == 0 and summary["slave_throughout"] is False and summary["p99_abs_offset_ns"] is None


def _summary(offsets, states=None):
    states = states or ["SLAVE"] * len(offsets)
    return summarize([float(i) for i in range(len(states))], states, offsets, 1.0)


def test_window_in_sync():
    assert window_problems(_summary([10.0, -20.0, 30.0]), 100) == []


def test_window_p99_and_max_bounds():
    summary = _summary([10.0] * 199 + [150.0])
    assert window_problems(summary, 100) == ["max |offset| 150 ns exceeds 100 ns"]
    assert window_problems(summary, 100, max_threshold_ns=200) == []
    assert window_problems(_summary([150.0] * 3), 100, 200) == ["p99 |offset| 150 ns exceeds 100 ns"]


def test_window_not_slave_throughout_names_the_states():
    summary = _summary([5.0, None, None], ["SLAVE", "LISTENING", "NONE"])
    assert window_problems(summary, 100) == [
        "port not SLAVE throughout: SLAVE in 1 of 3 samples (LISTENING 1, NONE (ptp4l did not answer) 1)"]


def test_window_without_samples_or_offsets():
    assert window_problems(_summary([]), 100) == ["no samples in the window"]
    assert window_problems(_summary([None], ["NONE"]), 100)[-1] == "no offsetFromMaster measured while SLAVE"
    assert window_problems(_summary([1.0]), 100, min_samples=5) == ["only 1 samples in the window, 5 needed"]


@pytest.mark.parametrize("kwargs, match", [({"threshold_ns": -1}, "threshold_ns"),
                                           ({"threshold_ns": "x"}, "threshold_ns"),
                                           ({"threshold_ns": 1, "max_threshold_ns": float("nan")}, "max_threshold_ns"),
                                           ({"threshold_ns": 1, "min_samples": 0}, "min_samples")])
def test_window_refuses_bad_bounds(kwargs, match):
    with pytest.raises(PtpError, match=match):
        window_problems(_summary([1.0]), **kwargs)


def test_window_from_samples_is_the_collector_shape():
    samples = [sample_from_pmc(10.0 + i, 0, fixture(name), "") for i, name in
               enumerate(["pmc-full-slave-sw-netns.txt", "pmc-full-slave-traceable-netns.txt"])]
    doc = window_from_samples({"enp65s0": samples}, 1.0, 12.0)
    assert doc["source"] == "pmc" and doc["version"] == 1 and doc["window_seconds"] == 2.0
    entry = doc["interfaces"]["enp65s0"]
    assert entry["timestamps"] == [10.0, 11.0] and entry["offsets_ns"] == [408.0, -326.0]
    assert entry["summary"]["max_abs_offset_ns"] == 408.0 and entry["summary"]["slave_throughout"] is True


# --- the exposition ---------------------------------------------------------------
def _state(sample, summary=None, since=0.0, **extra):
    state = {"now": 1764583200.5, "interfaces": {"enp65s0": {"last": sample, "summary": summary or {},
                                                             "seconds_since_slave": since}},
             "cpu_seconds": 1.25}
    state.update(extra)
    return state


def test_metrics_of_a_slave_port_following_a_traceable_grandmaster():
    sample = sample_from_pmc(1.0, 0, fixture("pmc-full-slave-traceable-netns.txt"), "")
    summary = _summary([-326.0, 100.0, -50.0])
    text = render_metrics(_state(sample, summary, time_daemons={"chrony.service": "inactive",
                                                                "systemd-timesyncd.service": "active"}))
    got = series(text)
    assert got['quantbot_ptp_offset_ns{interface="enp65s0"}'] == "-326"
    assert got['quantbot_ptp_path_delay_ns{interface="enp65s0"}'] == "2462"
    assert got['quantbot_ptp_offset_abs_ns{interface="enp65s0",quantile="0.5"}'] == "100"
    assert got['quantbot_ptp_offset_abs_ns{interface="enp65s0",quantile="0.99"}'] == "326"
    assert got['quantbot_ptp_offset_abs_ns{interface="enp65s0",quantile="1"}'] == "326"
    assert got['quantbot_ptp_offset_abs_ns_sum{interface="enp65s0"}'] == "476"
    assert got['quantbot_ptp_offset_abs_ns_count{interface="enp65s0"}'] == "3"
    assert got['quantbot_ptp_port_state{interface="enp65s0",state="SLAVE"}'] == "1"
    assert [k for k, v in got.items() if k.startswith("quantbot_ptp_port_state") and v == "1"] == [
        'quantbot_ptp_port_state{interface="enp65s0",state="SLAVE"}']
    assert len([k for k in got if k.startswith("quantbot_ptp_port_state")]) == len(PORT_STATES)
    assert got['quantbot_ptp_clock_class{interface="enp65s0"}'] == "6"
    assert got['quantbot_ptp_grandmaster_info{interface="enp65s0",grandmaster="def4fa.fffe.0300f7"}'] == "1"
    assert got['quantbot_ptp_time_traceable{interface="enp65s0"}'] == "1"
    assert got['quantbot_ptp_utc_offset_valid{interface="enp65s0"}'] == "1"
    assert got['quantbot_ptp_seconds_since_slave{interface="enp65s0"}'] == "0"
    assert got['quantbot_time_daemon_conflict{unit="chrony.service"}'] == "0"
    assert got['quantbot_time_daemon_conflict{unit="systemd-timesyncd.service"}'] == "1"
    assert got["quantbot_collector_last_run_timestamp_seconds"] == "1764583200.5"
    assert got["quantbot_collector_cpu_seconds_total"] == "1.25"
    assert "quantbot_phc2sys_offset_ns" not in text and "quantbot_isolated_cpu" not in text
    # HELP and TYPE once per family, before its samples
    assert text.count("# TYPE quantbot_ptp_port_state gauge\n") == 1
    assert "# TYPE quantbot_ptp_offset_abs_ns summary\n" in text
    assert text.index("# HELP quantbot_ptp_offset_ns ") < text.index('quantbot_ptp_offset_ns{')


def test_metrics_of_a_default_grandmaster_are_not_traceable():
    sample = sample_from_pmc(1.0, 0, fixture("pmc-full-slave-sw-netns.txt"), "")
    got = series(render_metrics(_state(sample)))
    assert got['quantbot_ptp_clock_class{interface="enp65s0"}'] == "248"
    assert got['quantbot_ptp_time_traceable{interface="enp65s0"}'] == "0"
    assert got['quantbot_ptp_utc_offset_valid{interface="enp65s0"}'] == "0"
    assert not any(k.startswith("quantbot_ptp_offset_abs_ns") for k in got)    # no SLAVE offsets in the window


def test_metrics_when_ptp4l_is_stopped():
    sample = sample_from_pmc(1.0, 0, fixture("pmc-full-stopped-netns.txt"), "")
    text = render_metrics(_state(sample, _summary([5.0, None], ["SLAVE", "NONE"]), since=42.5))
    got = series(text)
    ones = [k for k, v in got.items() if k.startswith("quantbot_ptp_port_state") and v == "1"]
    assert ones == ['quantbot_ptp_port_state{interface="enp65s0",state="NONE"}']
    assert got['quantbot_ptp_port_state{interface="enp65s0",state="SLAVE"}'] == "0"
    assert got['quantbot_ptp_seconds_since_slave{interface="enp65s0"}'] == "42.5"
    assert got['quantbot_ptp_time_traceable{interface="enp65s0"}'] == "0"
    for gone in ("quantbot_ptp_offset_ns", "quantbot_ptp_path_delay_ns", "quantbot_ptp_clock_class",
                 "quantbot_ptp_grandmaster_info"):
        assert gone not in text
    # the window still summarises the SLAVE samples it holds
    assert got['quantbot_ptp_offset_abs_ns_count{interface="enp65s0"}'] == "1"


def test_metrics_in_listening_keep_no_stale_grandmaster():
    sample = sample_from_pmc(1.0, 0, fixture("pmc-full-listening-gm-gone-netns.txt"), "")
    text = render_metrics(_state(sample, since=7.0))
    got = series(text)
    assert got['quantbot_ptp_port_state{interface="enp65s0",state="LISTENING"}'] == "1"
    assert "quantbot_ptp_grandmaster_info" not in text and "quantbot_ptp_offset_ns" not in text
    assert got['quantbot_ptp_time_traceable{interface="enp65s0"}'] == "0"


def test_metrics_uncalibrated_shows_the_new_grandmaster_but_no_offset():
    sample = sample_from_pmc(1.0, 0, fixture("pmc-full-uncalibrated-netns.txt"), "")
    text = render_metrics(_state(sample))
    assert 'quantbot_ptp_grandmaster_info{interface="enp65s0",grandmaster="def4fa.fffe.0300f7"} 1' in text
    assert "quantbot_ptp_offset_ns{" not in text


def test_metrics_an_unknown_port_state_gets_its_own_series():
    sample = {"port_state": "TIME_TRANSMITTER_X", "pmc": parse_pmc("")}
    got = series(render_metrics(_state(sample)))
    assert got['quantbot_ptp_port_state{interface="enp65s0",state="TIME_TRANSMITTER_X"}'] == "1"


def test_metrics_phc2sys_interrupts_and_threshold():
    sample = sample_from_pmc(1.0, 0, fixture("pmc-full-slave-sw-netns.txt"), "")
    state = _state(sample, phc2sys={"enp65s0": parse_phc2sys_log(fixture("phc2sys-journal-short-unix.txt"))},
                   interrupts={10: 3, 2: 0})
    state["interfaces"]["enp65s0"]["offset_threshold_ns"] = 5000000
    text = render_metrics(state)
    got = series(text)
    assert got['quantbot_phc2sys_offset_ns{interface="enp65s0"}'] == "-12"
    assert got['quantbot_ptp_offset_threshold_ns{interface="enp65s0"}'] == "5000000"
    assert "# TYPE quantbot_isolated_cpu_device_interrupts_total counter" in text
    assert text.index('cpu="2"') < text.index('cpu="10"')       # numeric CPU order
    assert got['quantbot_isolated_cpu_device_interrupts_total{cpu="10"}'] == "3"


def test_label_values_are_escaped():
    assert escape_label_value('a\\b"c\nd') == 'a\\\\b\\"c\\nd'
    assert escape_help("x\\y\nz") == "x\\\\y\\nz"
    sample = {"port_state": "SLAVE", "pmc": dict(parse_pmc(""), grandmaster_identity='gm"1\\\n', offset_ns=1.0)}
    text = render_metrics({"now": 1.0, "interfaces": {'eth"0': {"last": sample, "summary": {},
                                                                "seconds_since_slave": 0.0}}})
    assert 'quantbot_ptp_grandmaster_info{interface="eth\\"0",grandmaster="gm\\"1\\\\\\n"} 1' in text
    assert all(line.count("\n") == 0 for line in text.splitlines())


def test_value_formatting():
    assert [format_value(v) for v in (True, 0, 3.0, -2.5, 1e20, float("nan"), float("inf"), -float("inf"))] == [
        "1", "0", "3", "-2.5", "1e+20", "NaN", "+Inf", "-Inf"]


def test_every_family_has_a_type_and_help():
    kinds = set(kind for dummy_name, kind, dummy_help in METRICS)
    assert kinds <= {"gauge", "counter", "summary"}
    assert all(help_text and "\n" not in help_text for dummy_name, dummy_kind, help_text in METRICS)
    assert all(name.endswith("_total") for name, kind, dummy_help in METRICS if kind == "counter")
    assert {"quantbot_ptp_offset_abs_ns_sum", "quantbot_ptp_offset_abs_ns_count"} <= exposed_names()


def test_an_unlisted_metric_cannot_be_written():
    out = _ptpmon.Exposition()
    with pytest.raises(KeyError, match="not in METRICS"):
        out.add("quantbot_ptp_offset", [], 1)


def test_exposition_passes_promtool(promtool):
    """promtool parses the text (rc 1 on a format error); its only lint is about the names the issue fixes."""
    sample = sample_from_pmc(1.0, 0, fixture("pmc-full-slave-traceable-netns.txt"), "")
    state = _state(sample, _summary([-326.0, 12.0]), time_daemons={"chrony.service": "active"},
                   phc2sys={"enp65s0": parse_phc2sys_log(fixture("phc2sys-journal-cat.txt"))}, interrupts={3: 9})
    state["interfaces"]["enp65s0"]["offset_threshold_ns"] = 100
    state["interfaces"]['we"ird\\'] = {"last": {"port_state": "NONE", "pmc": parse_pmc("")}, "summary": {},
                                       "seconds_since_slave": 3.0}
    proc = subprocess.run([promtool, "check", "metrics"], input=render_metrics(state), capture_output=True,
                          text=True, check=False)
    assert proc.returncode in (0, 3), proc.stdout + proc.stderr
    problems = [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]
    assert problems and all("abbreviated units" in line for line in problems), problems


def test_promtool_check_metrics_catches_a_broken_exposition(promtool):
    # the check above can fail: a duplicate TYPE line is a format error
    text = "# TYPE a gauge\na 1\n# TYPE a gauge\na 2\n"
    proc = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False)
    assert proc.returncode == 1


# --- files ---------------------------------------------------------------------
def test_atomic_write_replaces_and_fsyncs(tmp_path, monkeypatch):
    target = tmp_path / "textfile" / "quantbot_hft.prom"
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    atomic_write(str(target), "a 1\n")           # creates the missing directory
    atomic_write(str(target), "a 2\n")
    assert target.read_text() == "a 2\n" and oct(target.stat().st_mode & 0o777) == "0o644"
    assert os.listdir(str(target.parent)) == ["quantbot_hft.prom"]
    assert len(synced) == 4                     # file and directory, twice


def test_atomic_write_renames_a_temporary_file_of_the_same_directory(tmp_path, monkeypatch):
    renames = []
    real_rename = os.rename
    monkeypatch.setattr(os, "rename", lambda a, b: renames.append((a, b)) or real_rename(a, b))
    atomic_write(str(tmp_path / "quantbot_hft.prom"), "x 1\n")
    (src, dst), = renames
    assert os.path.dirname(src) == str(tmp_path) and not src.endswith(".prom") and dst.endswith("quantbot_hft.prom")


def test_atomic_write_failure_keeps_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "quantbot_hft.prom"
    target.write_text("old 1\n")

    def broken(a, b):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "rename", broken)
    with pytest.raises(OSError):
        atomic_write(str(target), "new 1\n")
    assert target.read_text() == "old 1\n" and os.listdir(str(tmp_path)) == ["quantbot_hft.prom"]


# --- config ---------------------------------------------------------------------
GOOD = {"interfaces": [{"name": "enp65s0", "ptp4l_config": "/etc/linuxptp/quantbot-hft-enp65s0.conf"}]}


def test_config_defaults():
    config = normalize_config(GOOD)
    assert config["interval_seconds"] == 1.0 and config["window_seconds"] == 600.0
    assert config["textfile"] == "/var/lib/prometheus/node-exporter/quantbot_hft.prom"
    assert config["window_file"] == "/run/quantbot-hft/ptpmon.json"
    assert config["time_daemons"] == [] and config["phc2sys_interfaces"] == []
    assert config["time_daemons_interval_seconds"] == 10.0
    assert normalize_config(dict(GOOD, interval_seconds=30))["time_daemons_interval_seconds"] == 30.0
    assert config["phc2sys_unit"] == "phc2sys@{interface}.service" and config["pmc"] == "pmc"


@pytest.mark.parametrize("change, match", [
    ({"interfaces": []}, "interfaces must be a non-empty list"),
    ({"interfaces": [{"name": "enp65s0/x", "ptp4l_config": "/c"}]}, "bad interface name 'enp65s0/x'"),
    ({"interfaces": [{"name": "a" * 16, "ptp4l_config": "/c"}]}, "bad interface name 'aaaaaaaaaaaaaaaa'"),
    ({"interfaces": [{"name": "eth0", "ptp4l_config": "c.conf"}]}, "ptp4l_config of eth0 must be an absolute path"),
    ({"interfaces": [{"name": "eth0", "ptp4l_config": "/c", "x": 1}]}, "each interface must be"),
    ({"interfaces": [{"name": "eth0", "ptp4l_config": "/c"}] * 2}, "interface eth0 is listed twice"),
    ({"phc2sys_interfaces": ["ens9"]}, "phc2sys_interfaces must list interfaces of 'interfaces' \\(enp65s0\\)"),
    ({"interval_seconds": 0}, "interval_seconds must be a number of seconds from 0.1 to 3600, got 0"),
    ({"interval_seconds": True}, "interval_seconds"),
    ({"window_seconds": 0.5}, "window_seconds must be a number of seconds from 1.0"),
    ({"textfile": "/var/lib/prometheus/node-exporter/quantbot.txt"}, "textfile must end in .prom"),
    ({"textfile": "quantbot.prom"}, "textfile must be an absolute path, got 'quantbot.prom'"),
    ({"window_file": "/var/lib/prometheus/node-exporter/quantbot_hft.prom"}, "window_file and textfile must differ"),
    ({"time_daemons": ["chrony"]}, "time_daemons must be a list of distinct systemd unit names"),
    ({"time_daemons": ["a.service", "a.service"]}, "time_daemons"),
    ({"interval_seconds": 5, "time_daemons_interval_seconds": 2},
     "time_daemons_interval_seconds must be a number of seconds from 5.0 to 3600, got 2"),
    ({"offset_threshold_ns": -5}, "offset_threshold_ns must be a non-negative number, got -5"),
    ({"pmc": "pmc -x"}, "pmc must be a command name"),
    ({"phc2sys_unit": "phc2sys.service"}, "phc2sys_unit must be a unit name with {interface}"),
    ({"intervall_seconds": 1}, "unknown config key\\(s\\) intervall_seconds"),
])
def test_config_refuses_bad_values(change, match):
    with pytest.raises(ConfigError, match=match):
        normalize_config(dict(GOOD, **change))


def test_config_file_errors_name_the_file(tmp_path):
    bad = tmp_path / "ptpmon.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="ptpmon.json is not valid JSON"):
        _ptpmon.load_config(str(bad))
    with pytest.raises(ConfigError, match="cannot read config"):
        _ptpmon.load_config(str(tmp_path / "missing.json"))


# --- the collector ------------------------------------------------------------------
class FakeHost:
    """pmc/systemctl/journalctl answers per call, and a clock."""

    def __init__(self, pmc="pmc-full-slave-sw-netns.txt", t=1764583200.0):
        self.pmc = pmc
        self.t = t
        self.systemctl = (0, fixture("systemctl-show-time-daemons.txt"), "")
        self.journal = (0, fixture("phc2sys-journal-short-unix.txt"), "")
        self.calls = []

    def clock(self):
        return self.t

    def run(self, argv):
        self.calls.append(argv)
        if "show" in argv:
            return self.systemctl
        if "-u" in argv and "short-unix" in argv:
            return self.journal
        if self.pmc is None:
            return 0, fixture("pmc-full-stopped-netns.txt"), ""
        if isinstance(self.pmc, tuple):
            return self.pmc
        return 0, fixture(self.pmc), ""


def make_collector(tmp_path, host, **config):
    base = {"interfaces": [{"name": "enp65s0", "ptp4l_config": "/etc/linuxptp/quantbot-hft-enp65s0.conf"}],
            "textfile": str(tmp_path / "tf" / "quantbot_hft.prom"), "window_file": str(tmp_path / "run" / "w.json"),
            "window_seconds": 10, "pmc": "/usr/sbin/pmc", "systemctl": "/usr/bin/systemctl",
            "journalctl": "/usr/bin/journalctl"}
    base.update(config)
    stream = io.StringIO()
    collector = Collector(normalize_config(base), runner=host.run, clock=host.clock,
                          log=Log(stream=stream, clock=host.clock), follow=False)
    return collector, stream


def test_collector_builds_and_prunes_the_window(tmp_path):
    host = FakeHost()
    collector, dummy_stream = make_collector(tmp_path, host)
    for dummy in range(15):
        text, doc = collector.cycle()
        host.t += 1.0
    entry = doc["interfaces"]["enp65s0"]
    assert len(entry["timestamps"]) == 10                # 10 s window, 1 s apart
    assert entry["timestamps"][0] == 1764583205.0 and entry["timestamps"][-1] == 1764583214.0
    assert entry["summary"]["slave_throughout"] is True and entry["summary"]["p99_abs_offset_ns"] == 408.0
    assert entry["grandmaster_identity"] == "def4fa.fffe.0300f7" and entry["seconds_since_slave"] == 0.0
    assert doc["source"] == "collector" and doc["window_seconds"] == 10.0
    assert 'quantbot_ptp_offset_abs_ns_count{interface="enp65s0"} 10' in text
    assert host.calls[0] == ["/usr/sbin/pmc", "-u", "-b", "0", "-f", "/etc/linuxptp/quantbot-hft-enp65s0.conf",
                             "GET CURRENT_DATA_SET", "GET PORT_DATA_SET", "GET PARENT_DATA_SET",
                             "GET TIME_PROPERTIES_DATA_SET"]


def test_collector_survives_a_stopped_ptp4l_and_counts_the_time(tmp_path):
    host = FakeHost()
    collector, stream = make_collector(tmp_path, host)
    collector.cycle()
    host.pmc = None
    for step in range(1, 6):
        host.t += 1.0
        text, doc = collector.cycle()
        got = series(text)
        assert got['quantbot_ptp_seconds_since_slave{interface="enp65s0"}'] == format_value(float(step))
    assert got['quantbot_ptp_port_state{interface="enp65s0",state="NONE"}'] == "1"
    assert got['quantbot_ptp_port_state{interface="enp65s0",state="SLAVE"}'] == "0"
    entry = doc["interfaces"]["enp65s0"]
    assert entry["port_states"] == ["SLAVE"] + ["NONE"] * 5 and "did not answer" in entry["error"]
    assert window_problems(entry["summary"], 1000)[0].startswith("port not SLAVE throughout: SLAVE in 1 of 6")
    # one log line for the problem, however long it lasts
    log = stream.getvalue().splitlines()
    assert log == ["<4>ptpmon: enp65s0: ptp4l did not answer pmc (is it running?)"]
    host.pmc = "pmc-full-slave-sw-netns.txt"
    host.t += 1.0
    collector.cycle()
    assert stream.getvalue().splitlines()[-1] == "<6>ptpmon: enp65s0: ptp4l answers pmc again (port SLAVE)"


def test_collector_never_slave_counts_from_its_start(tmp_path):
    host = FakeHost(pmc="pmc-full-listening-gm-gone-netns.txt")
    collector, dummy_stream = make_collector(tmp_path, host)
    host.t += 30.0
    text, dummy_doc = collector.cycle()
    assert 'quantbot_ptp_seconds_since_slave{interface="enp65s0"} 30' in text


def test_collector_time_daemons_and_phc2sys(tmp_path):
    host = FakeHost(t=1764583198.0)
    daemons = ["chrony.service", "chronyd.service", "systemd-timesyncd.service", "ntp.service"]
    collector, dummy_stream = make_collector(tmp_path, host, time_daemons=daemons, phc2sys_interfaces=["enp65s0"])
    text, doc = collector.cycle()
    assert ["/usr/bin/systemctl", "show", "--property=Id,ActiveState", "--"] + daemons in host.calls
    assert ["/usr/bin/journalctl", "--no-pager", "-q", "-o", "short-unix", "-n", "20", "-u",
            "phc2sys@enp65s0.service"] in host.calls
    assert 'quantbot_time_daemon_conflict{unit="systemd-timesyncd.service"} 1' in text
    assert 'quantbot_phc2sys_offset_ns{interface="enp65s0"} -12' in text
    assert doc["time_daemons"]["systemd-timesyncd.service"] == "active"
    assert doc["phc2sys"] == {"enp65s0": {"offset_ns": -12, "t": 1764583197.513}}
    # a phc2sys that stopped logging: its offset goes stale and is dropped
    host.journal = (0, "", "")
    host.t += 60
    text, doc = collector.cycle()
    assert "quantbot_phc2sys_offset_ns" not in text and doc["phc2sys"] == {}


def test_collector_reads_the_time_daemons_every_ten_seconds(tmp_path):
    host = FakeHost()
    collector, dummy_stream = make_collector(tmp_path, host, time_daemons=["systemd-timesyncd.service"])
    for dummy in range(25):
        text, doc = collector.cycle()
        assert doc["time_daemons"] == {"systemd-timesyncd.service": "active"}
        assert 'quantbot_time_daemon_conflict{unit="systemd-timesyncd.service"} 1' in text
        host.t += 1.0
    assert len([argv for argv in host.calls if "show" in argv]) == 3          # at 0, 10 and 20 s


def test_collector_systemctl_failure_is_logged_not_exported(tmp_path):
    host = FakeHost()
    host.systemctl = (1, "", "Failed to connect to bus: Host is down")
    collector, stream = make_collector(tmp_path, host, time_daemons=["chrony.service"])
    text, doc = collector.cycle()
    assert "quantbot_time_daemon_conflict" not in text
    assert doc["time_daemons"] is None and "Host is down" in doc["time_daemons_error"]
    assert "systemctl show failed (rc 1)" in stream.getvalue()


def test_collector_writes_both_files_and_restores_the_window(tmp_path):
    host = FakeHost()
    collector, dummy_stream = make_collector(tmp_path, host)
    for dummy in range(3):
        assert collector.write(*collector.cycle()) == []
        host.t += 1.0
    prom = (tmp_path / "tf" / "quantbot_hft.prom").read_text()
    assert 'quantbot_ptp_port_state{interface="enp65s0",state="SLAVE"} 1' in prom
    doc = json.loads((tmp_path / "run" / "w.json").read_text())
    assert len(doc["interfaces"]["enp65s0"]["timestamps"]) == 3
    # a restarted collector continues the window
    again, dummy_stream = make_collector(tmp_path, host)
    assert again.restore(_ptpmon.read_window(str(tmp_path / "run" / "w.json"))) is True
    dummy_text, doc = again.cycle()
    assert len(doc["interfaces"]["enp65s0"]["timestamps"]) == 4 and doc["started"] == 1764583200.0


def test_collector_ignores_a_foreign_window_file(tmp_path):
    host = FakeHost()
    collector, dummy_stream = make_collector(tmp_path, host)
    assert collector.restore({"version": 99}) is False and collector.restore(None) is False
    assert collector.restore({"version": 1, "interfaces": {"enp65s0": {"timestamps": "x"}}}) is False


def test_collector_write_failure_is_logged_once(tmp_path):
    host = FakeHost()
    (tmp_path / "tf").write_text("a file where the directory should be")
    collector, stream = make_collector(tmp_path, host)
    for dummy in range(3):
        failed = collector.write(*collector.cycle())
    assert failed == [str(tmp_path / "tf" / "quantbot_hft.prom")]
    assert len([line for line in stream.getvalue().splitlines() if "cannot write" in line]) == 1
    assert (tmp_path / "run" / "w.json").exists()


def test_log_repeats_a_lasting_problem_every_five_minutes():
    now = [0.0]
    stream = io.StringIO()
    log = Log(stream=stream, clock=lambda: now[0])
    for second in range(0, 601):
        now[0] = float(second)
        log.problem("pmc", "enp65s0: ptp4l did not answer pmc")
    lines = stream.getvalue().splitlines()
    assert lines == ["<4>ptpmon: enp65s0: ptp4l did not answer pmc",
                     "<4>ptpmon: enp65s0: ptp4l did not answer pmc (299 more times since the last report)",
                     "<4>ptpmon: enp65s0: ptp4l did not answer pmc (299 more times since the last report)"]
    log.problem("pmc", "enp65s0: pmc exited 1: x")         # a new message is written at once
    assert stream.getvalue().splitlines()[-1] == "<4>ptpmon: enp65s0: pmc exited 1: x"
    log.problem("systemctl", "systemctl show failed (rc 1): System has not been booted\nFailed to connect to bus\n")
    assert stream.getvalue().splitlines()[-1] == (
        "<4>ptpmon: systemctl show failed (rc 1): System has not been booted; Failed to connect to bus")
    log.clear("pmc", "ok")
    log.clear("pmc", "ok")                                  # only once
    assert stream.getvalue().splitlines()[-1:] == ["<6>ptpmon: ok"] and stream.getvalue().count("ok\n") == 1


def test_journal_follower_reads_lines_as_they_come_and_restarts(tmp_path):
    script = tmp_path / "journal.py"
    script.write_text("import sys, time\n"
                      "sys.stdout.write(open(sys.argv[1]).read()); sys.stdout.flush()\n"
                      "sys.stdout.write('partial'); sys.stdout.flush(); time.sleep(0.3)\n"
                      "sys.stdout.write(' line\\n'); sys.stdout.flush()\n")
    now = [0.0]
    follower = JournalFollower([sys.executable, str(script), os.path.join(FIXTURES, "phc2sys-journal-short-unix.txt")],
                               restart_seconds=30, clock=lambda: now[0])
    lines = []
    deadline = time.time() + 10
    while time.time() < deadline and follower.exited is None:
        lines.extend(follower.poll())
        time.sleep(0.05)
    lines.extend(follower.poll())
    assert parse_phc2sys_log("\n".join(lines))["offset_ns"] == -12
    assert lines[-1] == "partial line" and follower.exited == 0
    follower.exited = None
    assert follower.poll() == [] and follower.proc is None      # not restarted within 30 s
    now[0] = 31.0
    follower.poll()
    assert follower.proc is not None
    follower.stop()
    assert follower.proc is None


def test_serve_keeps_a_fixed_grid_and_survives_a_failing_cycle(tmp_path):
    host = FakeHost()
    collector, stream = make_collector(tmp_path, host)
    stopper = _ptpmon.Stopper()
    cycles = []
    real_cycle = collector.cycle

    def cycle():
        cycles.append(1)
        if len(cycles) == 2:
            raise RuntimeError("surprise")
        if len(cycles) == 4:
            stopper(15, None)                    # SIGTERM in the middle of a cycle: it finishes
        return real_cycle()

    collector.cycle = cycle
    mono = [100.0]
    sleeps = []

    def sleep(seconds):
        sleeps.append(round(seconds, 3))
        mono[0] += seconds + 0.25                # each cycle overruns its slot by 0.25 s

    assert _ptpmon.serve(collector, sleep=sleep, monotonic=lambda: mono[0], stopper=stopper) == 0
    assert len(cycles) == 4 and sleeps == [1.0, 0.75, 0.75]
    assert "collection cycle failed: RuntimeError: surprise" in stream.getvalue()
    assert "collection cycles work again" in stream.getvalue()
    # the fourth cycle, during which the signal came, was written
    assert len(json.loads((tmp_path / "run" / "w.json").read_text())["interfaces"]["enp65s0"]["timestamps"]) == 3


def test_a_signal_during_the_sleep_ends_it_at_once(tmp_path):
    host = FakeHost()
    collector, dummy_stream = make_collector(tmp_path, host)
    stopper = _ptpmon.Stopper()

    def sleep(seconds):
        stopper(15, None)                        # raises, as the real handler does while sleeping
        raise AssertionError("not reached")

    assert _ptpmon.serve(collector, sleep=sleep, monotonic=lambda: 0.0, stopper=stopper) == 0
    assert stopper.requested and not stopper.sleeping


# --- the standalone script -----------------------------------------------------------
def test_the_collector_file_imports_only_the_standard_library():
    tree = ast.parse(open(SOURCE).read())
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            modules.add(node.module.split(".")[0])
    # _procstat is the sibling file the ptp role ships with it (standard library only too);
    # ansible_collections is the in-collection path of the same import.
    allowed = set(sys.stdlib_module_names) | {"_procstat", "ansible_collections"}
    assert modules - allowed == set(), modules - allowed


@pytest.fixture
def fake_pmc(tmp_path):
    """A pmc stand-in that prints a captured answer (the file named in $FAKE_PMC_OUTPUT)."""
    script = tmp_path / "pmc"
    script.write_text("#!/bin/sh\nexec cat \"$FAKE_PMC_OUTPUT\"\n")
    script.chmod(0o755)
    return str(script)


def _run_script(tmp_path, fake_pmc, pmc_fixture, *args):
    config = tmp_path / "ptpmon.json"
    config.write_text(json.dumps({
        "interfaces": [{"name": "enp65s0", "ptp4l_config": "/etc/linuxptp/quantbot-hft-enp65s0.conf"}],
        "textfile": str(tmp_path / "node-exporter" / "quantbot_hft.prom"),
        "window_file": str(tmp_path / "run" / "ptpmon.json"), "pmc": fake_pmc}))
    env = {"PATH": "/usr/bin:/bin", "FAKE_PMC_OUTPUT": os.path.join(FIXTURES, pmc_fixture)}
    # -I: isolated mode, no site-packages and no PYTHONPATH: the file must run on its own.
    return subprocess.run(["/usr/bin/python3", "-I", SOURCE, "--config", str(config)] + list(args),
                          capture_output=True, text=True, env=env, check=False, timeout=60)


def test_once_writes_both_files_as_a_standalone_script(tmp_path, fake_pmc):
    proc = _run_script(tmp_path, fake_pmc, "pmc-full-slave-traceable-netns.txt", "--once", "--print")
    assert proc.returncode == 0, proc.stderr
    prom = (tmp_path / "node-exporter" / "quantbot_hft.prom").read_text()
    assert proc.stdout == prom
    assert 'quantbot_ptp_port_state{interface="enp65s0",state="SLAVE"} 1' in prom
    proc = _run_script(tmp_path, fake_pmc, "pmc-full-stopped-netns.txt", "--once")
    assert proc.returncode == 0 and "did not answer" in proc.stderr
    doc = json.loads((tmp_path / "run" / "ptpmon.json").read_text())
    assert doc["interfaces"]["enp65s0"]["port_states"] == ["SLAVE", "NONE"]      # the window carried over


def test_bad_config_exits_2_with_the_value_named(tmp_path):
    config = tmp_path / "ptpmon.json"
    config.write_text(json.dumps({"interfaces": [{"name": "en p65s0", "ptp4l_config": "/c"}]}))
    proc = subprocess.run(["/usr/bin/python3", "-I", SOURCE, "--config", str(config), "--once"],
                          capture_output=True, text=True, check=False, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr == "<3>ptpmon: bad interface name 'en p65s0' (1-15 characters, no '/', ':' or whitespace)\n"


def test_the_service_stops_cleanly_on_sigterm(tmp_path, fake_pmc):
    config = tmp_path / "ptpmon.json"
    config.write_text(json.dumps({
        "interfaces": [{"name": "enp65s0", "ptp4l_config": "/c"}], "interval_seconds": 0.2,
        "textfile": str(tmp_path / "quantbot_hft.prom"), "window_file": str(tmp_path / "w.json"), "pmc": fake_pmc}))
    env = {"PATH": "/usr/bin:/bin", "FAKE_PMC_OUTPUT": os.path.join(FIXTURES, "pmc-full-slave-sw-netns.txt")}
    proc = subprocess.Popen(["/usr/bin/python3", "-I", SOURCE, "--config", str(config)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 20
        while time.time() < deadline:
            window = _ptpmon.read_window(str(tmp_path / "w.json"))
            if window and len(window["interfaces"]["enp65s0"]["timestamps"]) >= 3:
                break
            time.sleep(0.1)
        proc.terminate()
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert len(window["interfaces"]["enp65s0"]["timestamps"]) >= 3
    assert "sampling enp65s0 every 0.2 s" in err and "Traceback" not in err
