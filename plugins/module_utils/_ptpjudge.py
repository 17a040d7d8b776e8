# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The time-sync checks over a window of samples: pure functions to check records.

``judge_window`` judges the collector's window file (or the short window that
``quantbot.hft.ptp_probe`` samples itself when the collector is absent; both
have the shape documented in ``_ptpmon.py``) and returns the ``ptp_sync``
record. ``judge_time_daemons`` returns the ``time_daemon_conflict`` record
from the watched units' systemd ActiveState. Records have the project's shape
``{check, ok, expected, actual, hint}`` (``_validate.record``).

This module imports ``_validate``; ``_validate`` must not import this module at
its top level (that would be an import cycle).
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

from ansible_collections.quantbot.hft.plugins.module_utils._ptpmon import (
    RUNNING_STATES, WINDOW_VERSION, PtpError, active_units, check_bound, since_lock, summarize, window_problems)
from ansible_collections.quantbot.hft.plugins.module_utils._validate import record

_SUMMARY_KEYS = ("samples", "span_seconds", "states", "slave_samples", "slave_seconds",
                 "p50_abs_offset_ns", "p99_abs_offset_ns", "max_abs_offset_ns")

HINT_NO_WINDOW = ("the collector's window is missing or stale: check the PTP collector service on the node "
                  "(systemctl status, journalctl -u); without it, quantbot.hft.ptp_probe samples pmc itself "
                  "(samples, interval)")
HINT_OUT_OF_SYNC = ("ptp4l was not locked to a master throughout the window, or its offset was too large: "
                    "check the grandmaster, the port's hardware timestamping (quantbot.hft.nic_timestamping) "
                    "and the ptp role's config; every sample is in the window (timestamps, port_states, offsets_ns)")


def _ns(value):
    return "%g ns" % value


def judge_window(window, threshold_ns, max_threshold_ns=None, interfaces=None, min_samples=1,
                 now=None, max_age_seconds=None, started=None):
    """The ``ptp_sync`` record over a window of samples.

    In sync: for every interface (``interfaces``, default all in the window), at
    least ``min_samples`` samples, the port SLAVE in every sample, p99 |offset|
    <= ``threshold_ns`` and max |offset| <= ``max_threshold_ns`` (default
    ``threshold_ns``). With ``now`` and ``max_age_seconds``, a window generated
    longer ago than that fails too (a collector that stopped writing). The
    summaries are recomputed from the samples, not taken from the file.

    ``expected`` names the window length, the sampling interval, the source and
    the bounds; ``actual`` holds per interface the samples, the time covered,
    the port states, the time in SLAVE and p50/p99/max |offset|, plus the
    window's age and every problem found. Raises PtpError on unusable bounds.

    ``started`` ({interface: epoch seconds of its ptp4l's last start}) leaves
    out the samples before that start and the lock-in after it (_ptpmon.since_lock):
    a node whose ptp4l just (re)started is judged from the moment it locked.
    """
    limit = check_bound(threshold_ns, "threshold_ns")
    peak = limit if max_threshold_ns is None else check_bound(max_threshold_ns, "max_threshold_ns")
    if not isinstance(window, dict) or window.get("version") != WINDOW_VERSION \
            or not isinstance(window.get("interfaces"), dict):
        return record("ptp_sync", False,
                      "port SLAVE throughout a window of samples, p99 |offset| <= %s and max |offset| <= %s"
                      % (_ns(limit), _ns(peak)),
                      {"problems": ["no window of samples (got %s)" % type(window).__name__]}, HINT_NO_WINDOW)
    try:
        interval = float(window.get("interval_seconds"))
        length = float(window.get("window_seconds"))
    except (TypeError, ValueError):
        interval = length = None
    source = window.get("source") or "collector"
    expected = ("port SLAVE in every sample, p99 |offset| <= %s and max |offset| <= %s over a %s s window "
                "(one sample every %s s, %s)" % (_ns(limit), _ns(peak), "%g" % length if length else "?",
                                                 "%g" % interval if interval else "?", source))
    problems = []
    age = None
    stale = False
    if now is not None and isinstance(window.get("generated"), (int, float)):
        age = round(float(now) - float(window["generated"]), 3)
        if max_age_seconds is not None and age > float(max_age_seconds):
            stale = True
            problems.append("the window is %.0f s old (more than %g s): the collector stopped writing it"
                            % (age, float(max_age_seconds)))
    names = sorted(window["interfaces"]) if interfaces is None else list(interfaces)
    if not names:
        problems.append("the window holds no interface")
    report = {}
    for name in names:
        data = window["interfaces"].get(name)
        if not isinstance(data, dict):
            held = ", ".join(sorted(window["interfaces"])) or "no interface"
            problems.append("%s: not in the window (it holds %s)" % (name, held))
            continue
        try:
            stamps, states, offsets, lock_in = since_lock(data["timestamps"], data["port_states"],
                                                          data["offsets_ns"], (started or {}).get(name))
            summary = summarize(stamps, states, offsets, interval or 0.0)
        except (KeyError, TypeError, ValueError) as exc:
            problems.append("%s: unreadable samples (%s)" % (name, exc))
            continue
        report[name] = dict((key, summary[key]) for key in _SUMMARY_KEYS)
        if (started or {}).get(name) is not None:
            report[name]["ptp4l_started"] = started[name]
            report[name]["lock_in_samples"] = lock_in
        if data.get("error"):
            report[name]["last_error"] = data["error"]
        problems.extend("%s: %s" % (name, problem)
                        for problem in window_problems(summary, limit, peak, min_samples=min_samples))
    actual = {"source": source, "window_seconds": length, "interval_seconds": interval, "age_seconds": age,
              "interfaces": report, "problems": problems}
    return record("ptp_sync", not problems, expected, actual,
                  HINT_NO_WINDOW if stale or not report else HINT_OUT_OF_SYNC)


def judge_time_daemons(states, error=None):
    """The ``time_daemon_conflict`` record from ``{unit: ActiveState}`` of the watched time daemons.

    Fails when a watched unit runs (ActiveState active, activating, reloading or
    deactivating) beside ptp4l, when a unit's state is unknown, or when the
    states could not be read (``states`` None, ``error`` says why).
    """
    expected = "no other time daemon running beside ptp4l (states %s of none of the watched units)" \
        % "/".join(RUNNING_STATES)
    if states is None or error:
        return record("time_daemon_conflict", False, expected,
                      {"error": error or "the units' states were not read"},
                      "systemctl show --property=ActiveState failed on the node; see the error")
    if not isinstance(states, dict):
        raise PtpError("time daemon states must be a mapping of unit to ActiveState, got %r" % (states,))
    running = active_units(states)
    unknown = sorted(unit for unit, state in states.items() if not state)
    ok = not running and not unknown
    hint = ""
    if running:
        hint = ("stop and disable %s: another time daemon fights ptp4l over CLOCK_REALTIME "
                "(the ptp role does it with ptp_disable_conflicting_daemons: true)" % ", ".join(running))
    elif unknown:
        hint = "systemctl reported no ActiveState for %s" % ", ".join(unknown)
    return record("time_daemon_conflict", ok, expected,
                  {"running": running, "unknown": unknown, "states": dict(states)}, hint)
