# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PTP monitoring: pmc parsing, the sample window, and the node's metrics collector.

One file, two uses (as ``_sriov.py``):

* importable module_utils: :func:`parse_pmc` (the one pmc parser of the
  collection; ``_ptp.py`` imports it from here), :func:`summarize`,
  :func:`window_problems`, :func:`render_metrics` and the other pure helpers,
  unit-tested with captured command outputs;
* a long-lived service on the node, copied there as
  ``quantbot_ptpmon.py`` and run as::

      python3 quantbot_ptpmon.py --config /etc/quantbot-hft/ptpmon.json [--once] [--print]

  Each interval it asks every ptp4l instance for its data sets over the
  management socket (``pmc -u -b 0 -f CONFIG`` with GET CURRENT_DATA_SET,
  PORT_DATA_SET, PARENT_DATA_SET, TIME_PROPERTIES_DATA_SET), reads the
  ActiveState of the watched time daemons (one ``systemctl show`` call) and the
  newest ``phc2sys`` offset from the journal, keeps a window of samples, and
  writes atomically (temporary file in the same directory, fsync, rename):

  - the Prometheus text exposition for node_exporter's textfile collector
    (default ``/var/lib/prometheus/node-exporter/quantbot_hft.prom``); the
    metric families are :data:`METRICS`;
  - the JSON window file (default ``/run/quantbot-hft/ptpmon.json``) that the
    validation judges (shape below, :func:`window_document`).

  ``--once`` runs one collection cycle and exits (the window file of an earlier
  run is loaded first, so repeated ``--once`` runs build a window too);
  ``--print`` also writes the exposition to stdout. Failures of pmc, systemctl
  or journalctl never stop the service: they become data (a port state of
  NONE, no series) and one line on stderr (the journal), repeated at most every
  five minutes while the problem lasts, plus one line when it clears. Exit
  status: 0, or 2 for an unusable config (the message names the value).

Only the Python standard library is used: the service runs without Ansible.

Config (JSON)::

    {
      "interfaces": [{"name": "enp65s0",
                      "ptp4l_config": "/etc/linuxptp/quantbot-hft-enp65s0.conf"}],
      "phc2sys_interfaces": ["enp65s0"],          # journal of phc2sys@IFACE.service
      "interval_seconds": 1,                      # default 1
      "window_seconds": 600,                      # default 600
      "textfile": "/var/lib/prometheus/node-exporter/quantbot_hft.prom",
      "window_file": "/run/quantbot-hft/ptpmon.json",
      "time_daemons": ["chrony.service", "systemd-timesyncd.service", ...],
      "time_daemons_interval_seconds": 10,        # default 10 (systemctl costs more than pmc)
      "offset_threshold_ns": 100,                 # optional: exported for the alert rules
      "pmc": "pmc", "systemctl": "systemctl", "journalctl": "journalctl",
      "phc2sys_unit": "phc2sys@{interface}.service"
    }

Only ``interfaces`` is required; unknown keys are refused.

Window file (JSON)::

    {
      "version": 1, "source": "collector",
      "generated": 1764583200.123,       # unix time of this cycle
      "started": 1764582600.0,           # when this collector process started
      "interval_seconds": 1.0, "window_seconds": 600.0,
      "interfaces": {
        "enp65s0": {
          "timestamps": [...],           # unix time of each sample, oldest first
          "port_states": [...],          # "SLAVE", "LISTENING", ...; "NONE" when ptp4l did not answer
          "offsets_ns": [...],           # offsetFromMaster, null unless the port was SLAVE
          "last_slave": 1764583200.1,    # last sample in SLAVE (null: none since the start)
          "seconds_since_slave": 0.0,
          "grandmaster_identity": "def4fa.fffe.0300f7", "clock_class": 6,
          "time_traceable": true, "current_utc_offset_valid": true,
          "error": null,                 # why the last sample has no answer
          "summary": {...}               # summarize(): p50/p99/max of |offset|, time in SLAVE
        }
      },
      "phc2sys": {"enp65s0": {"offset_ns": -12, "t": 1764583199.9}},
      "time_daemons": {"chrony.service": "inactive", ...},   # null when systemctl failed
      "time_daemons_error": null
    }
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import argparse
import errno
import fcntl
import json
import math
import os
import re
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

try:  # in the collection
    from ansible_collections.quantbot.hft.plugins.module_utils._procstat import parse_cpulist, parse_interrupts
except ImportError:  # on the node: the ptp role ships _procstat.py next to this script
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from _procstat import parse_cpulist, parse_interrupts  # noqa: E402 pylint: disable=import-error

DEFAULT_TEXTFILE = "/var/lib/prometheus/node-exporter/quantbot_hft.prom"
DEFAULT_WINDOW_FILE = "/run/quantbot-hft/ptpmon.json"
DEFAULT_INTERVAL = 1.0
DEFAULT_WINDOW = 600.0
DEFAULT_PHC2SYS_UNIT = "phc2sys@{interface}.service"
DEFAULT_DAEMONS_INTERVAL = 10.0
WINDOW_VERSION = 1

PMC_QUERIES = ("GET CURRENT_DATA_SET", "GET PORT_DATA_SET",
               "GET PARENT_DATA_SET", "GET TIME_PROPERTIES_DATA_SET")

PORT_STATES = ("NONE", "INITIALIZING", "FAULTY", "DISABLED", "LISTENING", "PRE_MASTER",
               "MASTER", "PASSIVE", "UNCALIBRATED", "SLAVE", "GRAND_MASTER")
# States in which the port follows a master, so that the parent and the time
# properties describe that master. In other states ptp4l keeps the last values
# of PARENT_DATA_SET (stale). CURRENT_DATA_SET is fresh only in SLAVE: right
# after LISTENING -> UNCALIBRATED it still holds the offset of the old master.
FOLLOWING_STATES = ("UNCALIBRATED", "SLAVE")
# linuxptp 4.x may print the IEEE 1588-2019 alternative terms.
_STATE_ALIASES = {"TIME_RECEIVER": "SLAVE", "PRE_TIME_TRANSMITTER": "PRE_MASTER",
                  "TIME_TRANSMITTER": "MASTER"}
# systemd ActiveState values of a unit that is running (or about to).
RUNNING_STATES = ("active", "activating", "reloading", "deactivating")
# quantile label of quantbot_ptp_offset_abs_ns -> key of summarize()
QUANTILES = (("0.5", "p50_abs_offset_ns"), ("0.99", "p99_abs_offset_ns"), ("1", "max_abs_offset_ns"))

# Every metric family the collector writes: (name, type, help). The rules and
# the dashboard may name only these (tests/unit/test_monitoring.py checks).
METRICS = (
    ("quantbot_ptp_offset_ns", "gauge",
     "Last offsetFromMaster of ptp4l (pmc CURRENT_DATA_SET) in ns; only while the port is SLAVE."),
    ("quantbot_ptp_offset_abs_ns", "summary",
     "|offsetFromMaster| in ns over the collector's window, SLAVE samples only; quantile 1 is the maximum; "
     "_count and _sum cover the window (they are not cumulative)."),
    ("quantbot_ptp_offset_threshold_ns", "gauge",
     "The node's PTP offset threshold in ns (from the collector config), for the alert rules."),
    ("quantbot_ptp_path_delay_ns", "gauge",
     "meanPathDelay of ptp4l (pmc CURRENT_DATA_SET) in ns; only while the port is SLAVE."),
    ("quantbot_ptp_port_state", "gauge",
     "ptp4l port state, one series per state, 1 for the current one (NONE: ptp4l did not answer pmc)."),
    ("quantbot_ptp_clock_class", "gauge",
     "clockClass of the grandmaster (pmc PARENT_DATA_SET); only while the port follows a master."),
    ("quantbot_ptp_grandmaster_info", "gauge",
     "Identity of the grandmaster the port follows (value 1)."),
    ("quantbot_ptp_time_traceable", "gauge",
     "timeTraceable announced by the grandmaster (pmc TIME_PROPERTIES_DATA_SET); 0 unless the port follows a master."),
    ("quantbot_ptp_utc_offset_valid", "gauge",
     "currentUtcOffsetValid announced by the grandmaster; 0 unless the port follows a master."),
    ("quantbot_ptp_seconds_since_slave", "gauge",
     "Seconds since the port was last SLAVE (0 while SLAVE; counted from the collector start if never)."),
    ("quantbot_phc2sys_offset_ns", "gauge",
     "Last offset of phc2sys (system clock against the PHC) in ns, from its journal."),
    ("quantbot_time_daemon_conflict", "gauge",
     "1 when this other time daemon is active beside ptp4l (systemd ActiveState), else 0."),
    ("quantbot_isolated_cpu_device_interrupts_total", "counter",
     "Device interrupts handled on an isolated CPU (/proc/interrupts)."),
    ("quantbot_collector_last_run_timestamp_seconds", "gauge",
     "Unix time of the collector's last completed cycle."),
    ("quantbot_collector_cpu_seconds_total", "counter",
     "CPU time used by the collector and the commands it ran (user + system)."),
)
_METRIC_TYPES = dict((name, kind) for name, kind, dummy_help in METRICS)

_HEADER = re.compile(r"^\s*(\S+)\s+seq\s+(\d+)\s+(\S+)\s+(MANAGE?MENT(?:_ERROR_STATUS)?)\s*(\S*)")
_FIELD = re.compile(r"^\s+([A-Za-z][A-Za-z0-9_.]*)\s+(\S.*?)\s*$")
_PHC2SYS = re.compile(r"(?:^|\s)(?:(?P<clock>[A-Za-z0-9_/.:-]+)\s+)?(?:phc|sys)\s+offset\s+(?P<offset>[-+]?\d+)"
                      r"\s+s(?P<state>\d)\s+freq\s+(?P<freq>[-+]?\d+(?:\.\d*)?)"
                      r"(?:\s+delay\s+(?P<delay>[-+]?\d+))?\s*$")
_EPOCH = re.compile(r"^(\d{9,}(?:\.\d+)?)\s")
_UNIT = re.compile(r"^[A-Za-z0-9:_.\\@-]+\.(service|socket|timer|path|mount|target|scope)$")
_CONFIG_KEYS = ("interfaces", "phc2sys_interfaces", "interval_seconds", "window_seconds", "textfile",
                "window_file", "time_daemons", "time_daemons_interval_seconds", "offset_threshold_ns", "pmc",
                "systemctl", "journalctl", "phc2sys_unit", "isolated_cpus", "procfs_root")


class PtpError(ValueError):
    """Unusable input or a requirement the host does not meet; the message says why."""


class ConfigError(ValueError):
    """The collector config is unusable; the message names the value."""


# --------------------------------------------------------------------------
# pmc output
# --------------------------------------------------------------------------
def _number(value, what):
    try:
        return float(value)
    except ValueError:
        raise PtpError("pmc printed an unreadable %s: %r" % (what, value))


def _integer(value, what):
    try:
        return int(value, 0)
    except ValueError:
        raise PtpError("pmc printed an unreadable %s: %r" % (what, value))


def _flag(value, what):
    return bool(_integer(value, what))


def _empty_pmc():
    return {
        "responding": False,
        "port_state": None,
        "offset_ns": None,
        "mean_path_delay_ns": None,
        "steps_removed": None,
        "ports": [],
        "errors": [],
        # PARENT_DATA_SET
        "parent_port_identity": None,
        "grandmaster_identity": None,
        "clock_class": None,
        "clock_accuracy": None,
        "grandmaster_priority1": None,
        "grandmaster_priority2": None,
        # TIME_PROPERTIES_DATA_SET
        "current_utc_offset": None,
        "current_utc_offset_valid": None,
        "ptp_timescale": None,
        "time_traceable": None,
        "frequency_traceable": None,
        "time_source": None,
        "leap61": None,
        "leap59": None,
    }


# (pmc field, result key, converter) per data set.
_PARENT_FIELDS = (("parentPortIdentity", "parent_port_identity", None),
                  ("grandmasterIdentity", "grandmaster_identity", None),
                  ("gm.ClockClass", "clock_class", _integer),
                  ("gm.ClockAccuracy", "clock_accuracy", _integer),
                  ("grandmasterPriority1", "grandmaster_priority1", _integer),
                  ("grandmasterPriority2", "grandmaster_priority2", _integer))
_TIME_FIELDS = (("currentUtcOffset", "current_utc_offset", _integer),
                ("currentUtcOffsetValid", "current_utc_offset_valid", _flag),
                ("ptpTimescale", "ptp_timescale", _flag),
                ("timeTraceable", "time_traceable", _flag),
                ("frequencyTraceable", "frequency_traceable", _flag),
                ("timeSource", "time_source", _integer),
                ("leap61", "leap61", _flag),
                ("leap59", "leap59", _flag))


def parse_pmc(text):
    """Parse what ``pmc`` prints for GET CURRENT_DATA_SET, PORT_DATA_SET, PARENT_DATA_SET and
    TIME_PROPERTIES_DATA_SET (any subset, in any order; linuxptp pmc.c ``pmc_show`` format: a
    header line per response, then tab-indented ``name value`` lines).

    Returns a dict:

    * ``responding``: false when ptp4l sent no answer at all (pmc printed only its
      ``sending:`` lines), which is what a stopped ptp4l looks like;
    * CURRENT_DATA_SET: ``offset_ns`` (offsetFromMaster, float ns), ``mean_path_delay_ns``,
      ``steps_removed``;
    * PORT_DATA_SET: ``ports`` (every answer, ``{port_identity, port_state}``) and
      ``port_state``: the first port's state, or SLAVE when any port is SLAVE;
    * PARENT_DATA_SET: ``parent_port_identity``, ``grandmaster_identity``, ``clock_class``,
      ``clock_accuracy``, ``grandmaster_priority1``, ``grandmaster_priority2``;
    * TIME_PROPERTIES_DATA_SET: ``current_utc_offset``, ``current_utc_offset_valid``,
      ``ptp_timescale``, ``time_traceable``, ``frequency_traceable`` (booleans),
      ``time_source``, ``leap61``, ``leap59``;
    * ``errors``: management error answers.

    Keys of data sets that did not answer are None. Raises PtpError on unreadable numbers.
    """
    if not isinstance(text, str):
        raise PtpError("pmc output must be text, got %r" % (text,))
    result = _empty_pmc()
    block = None
    fields = {}

    def take(table):
        for name, key, convert in table:
            if name in fields:
                result[key] = convert(fields[name], name) if convert else fields[name]

    def close():
        if block is None:
            return
        kind, source, status = block
        if status.endswith("ERROR_STATUS"):
            result["errors"].append("%s from %s" % (status, source))
        elif kind == "CURRENT_DATA_SET":
            if "offsetFromMaster" in fields:
                result["offset_ns"] = _number(fields["offsetFromMaster"], "offsetFromMaster")
            if "meanPathDelay" in fields:
                result["mean_path_delay_ns"] = _number(fields["meanPathDelay"], "meanPathDelay")
            if "stepsRemoved" in fields:
                result["steps_removed"] = int(_number(fields["stepsRemoved"], "stepsRemoved"))
        elif kind == "PORT_DATA_SET":
            state = fields.get("portState")
            state = _STATE_ALIASES.get(state, state)
            result["ports"].append({"port_identity": fields.get("portIdentity", source), "port_state": state})
        elif kind == "PARENT_DATA_SET":
            take(_PARENT_FIELDS)
        elif kind == "TIME_PROPERTIES_DATA_SET":
            take(_TIME_FIELDS)

    for line in text.splitlines():
        header = _HEADER.match(line)
        if header:
            close()
            result["responding"] = True
            source, dummy_seq, dummy_action, status, kind = header.groups()
            block = (kind or "", source, status)
            fields = {}
            continue
        field = _FIELD.match(line)
        if field and block is not None:
            fields[field.group(1)] = field.group(2)
            continue
        if line.strip():
            # "sending: GET ..." or any other line ends the current response.
            close()
            block = None
            fields = {}
    close()

    states = [port["port_state"] for port in result["ports"] if port["port_state"]]
    if states:
        result["port_state"] = "SLAVE" if "SLAVE" in states else states[0]
    return result


def pmc_argv(pmc, config_path, queries=PMC_QUERIES):
    """The pmc command for one ptp4l instance (its config names the domain and the socket)."""
    return [pmc, "-u", "-b", "0", "-f", config_path] + list(queries)


def sample_from_pmc(now, rc, out, err):
    """One window sample from a pmc run: ``{t, port_state, offset_ns, error, pmc, rc, stdout, stderr}``.

    ``port_state`` is NONE when ptp4l did not answer (or pmc failed), and
    ``offset_ns`` is None unless the port is SLAVE (in other states
    CURRENT_DATA_SET may hold a stale value). ``pmc`` is the parsed answer.
    """
    parsed, error = _empty_pmc(), None
    if rc != 0:
        error = "pmc exited %s: %s" % (rc, (err or out or "").strip()[:300] or "no output")
    else:
        try:
            parsed = parse_pmc(out)
        except PtpError as exc:
            error = str(exc)
        else:
            if not parsed["responding"]:
                error = "ptp4l did not answer pmc (is it running?)"
            elif not parsed["port_state"]:
                error = "ptp4l answered without a PORT_DATA_SET"
    state = parsed["port_state"] if not error else None
    return {
        "t": now,
        "port_state": state or "NONE",
        "offset_ns": parsed["offset_ns"] if state == "SLAVE" else None,
        "error": error,
        "pmc": parsed,
        "rc": rc,
        "stdout": out,
        "stderr": err,
    }


def sample_pmc(run, pmc, config_path, now, retries=1):
    """One sample of one ptp4l instance: run pmc, and ask again (up to ``retries`` times)
    when pmc ran but ptp4l's answer was missing or incomplete.

    pmc waits only 100 ms for each answer, so a ptp4l that is busy for a moment
    misses one now and then (seen once in 600 samples on a loaded 2-core
    machine); one retry keeps such a blip out of the window. A stopped ptp4l
    costs one more pmc run per cycle. ``run(argv) -> (rc, out, err)``.
    """
    sample = None
    for dummy_attempt in range(retries + 1):
        rc, out, err = run(pmc_argv(pmc, config_path))
        sample = sample_from_pmc(now, rc, out, err)
        if not sample["error"] or rc != 0:
            break
    return sample


def sample_pmc_window(run, pmc, config_path, samples, interval_seconds, clock=time.time, sleep=time.sleep,
                      sleep_first=False):
    """``samples`` pmc samples ``interval_seconds`` apart, as sample_from_pmc makes them.

    The first is taken at once, or after one interval with ``sleep_first`` (when the
    caller took one already). ``run(argv) -> (rc, out, err)``. The short window
    that ptp_probe takes when the collector is absent.
    """
    result = []
    for index in range(samples):
        if index or sleep_first:
            sleep(interval_seconds)
        result.append(sample_pmc(run, pmc, config_path, clock()))
    return result


# --------------------------------------------------------------------------
# phc2sys log lines and systemctl show
# --------------------------------------------------------------------------
def parse_phc2sys_line(line):
    """One phc2sys update line, as the journal or its stdout shows it, or None.

    phc2sys prints ``CLOCK_REALTIME phc offset  -12 s2 freq  -1234 delay  567`` (linuxptp
    phc2sys.c; before 2.0 without the clock name), behind the syslog prefix
    ``[MONO.ms] [tag] `` or the stdout prefix ``phc2sys[MONO.ms]: [tag] ``. With
    ``journalctl -o short-unix`` the line starts with the entry's unix time, which becomes ``t``.
    Returns ``{t, clock, offset_ns, servo_state, freq_ppb, delay_ns}``.
    """
    line = line.rstrip()
    match = _PHC2SYS.search(line)
    if not match:
        return None
    epoch = _EPOCH.match(line)
    return {
        "t": float(epoch.group(1)) if epoch else None,
        "clock": match.group("clock"),
        "offset_ns": int(match.group("offset")),
        "servo_state": int(match.group("state")),
        "freq_ppb": float(match.group("freq")),
        "delay_ns": int(match.group("delay")) if match.group("delay") is not None else None,
    }


def parse_phc2sys_log(text):
    """The newest phc2sys update in a piece of log (see parse_phc2sys_line), or None."""
    last = None
    for line in text.splitlines():
        update = parse_phc2sys_line(line)
        if update:
            last = update
    return last


def phc2sys_journal_argv(journalctl, unit, follow, lines=5):
    """journalctl for one phc2sys unit: the last ``lines`` entries, then (follow) new ones."""
    argv = [journalctl, "--no-pager", "-q", "-o", "short-unix", "-n", str(lines), "-u", unit]
    return argv + (["-f"] if follow else [])


def systemctl_argv(systemctl, units):
    """One systemctl call for the ActiveState of every watched unit."""
    return [systemctl, "show", "--property=Id,ActiveState", "--"] + list(units)


def parse_systemctl_show(text, units):
    """``{unit: ActiveState}`` from ``systemctl show --property=Id,ActiveState UNIT...``.

    systemctl prints one ``Key=value`` block per unit, in argument order, separated by
    blank lines. Blocks are matched by position (an alias such as chronyd.service
    answers with Id=chrony.service), or by Id when the count differs.
    Raises PtpError when the text holds no such block.
    """
    blocks = []
    for chunk in re.split(r"\n[ \t]*\n", text.strip()):
        props = {}
        for line in chunk.splitlines():
            key, sep, value = line.partition("=")
            if sep:
                props[key.strip()] = value.strip()
        if "ActiveState" in props:
            blocks.append(props)
    if not blocks:
        raise PtpError("systemctl show printed no ActiveState: %r" % text[:200])
    units = list(units)
    if len(blocks) == len(units):
        return dict((unit, props["ActiveState"]) for unit, props in zip(units, blocks))
    by_id = dict((props.get("Id"), props["ActiveState"]) for props in blocks)
    return dict((unit, by_id.get(unit)) for unit in units)


def time_daemon_states(rc, out, err, units):
    """``(states, error)`` from one systemctl_argv() run: ``({unit: ActiveState}, None)``,
    or ``(None, why)`` when systemctl failed or printed no state."""
    if rc != 0 and "ActiveState=" not in (out or ""):
        return None, "systemctl show failed (rc %s): %s" % (rc, (err or out or "").strip()[:300])
    try:
        return parse_systemctl_show(out, units), None
    except PtpError as exc:
        return None, str(exc)


def active_units(states):
    """The watched units whose ActiveState says they run (sorted)."""
    return sorted(unit for unit, state in (states or {}).items() if state in RUNNING_STATES)


# --------------------------------------------------------------------------
# the window
# --------------------------------------------------------------------------
def percentile(sorted_values, q):
    """Nearest-rank percentile of an ascending list (q in [0, 1]); None when empty.

    The nearest rank is a value that was measured (no interpolation), and for p99
    it is the conservative choice: at least 99 % of the samples are at or below it.
    """
    if not sorted_values:
        return None
    rank = int(math.ceil(q * len(sorted_values)))
    return sorted_values[min(max(rank, 1), len(sorted_values)) - 1]


def summarize(timestamps, port_states, offsets_ns, interval_seconds):
    """The window's summary for one interface.

    ``samples``, ``first``/``last`` sample time, ``span_seconds`` (last - first + one
    interval), ``states`` (samples per port state), ``slave_samples``,
    ``slave_seconds`` (slave_samples x interval), ``slave_throughout`` (every sample
    SLAVE), and over the SLAVE samples' |offsetFromMaster|: ``offset_samples``,
    ``p50_abs_offset_ns``, ``p99_abs_offset_ns``, ``max_abs_offset_ns``,
    ``sum_abs_offset_ns`` (None without such samples).
    """
    states = {}
    for state in port_states:
        states[state] = states.get(state, 0) + 1
    slave = states.get("SLAVE", 0)
    values = sorted(abs(float(offset)) for state, offset in zip(port_states, offsets_ns)
                    if state == "SLAVE" and offset is not None)
    count = len(port_states)
    return {
        "samples": count,
        "first": timestamps[0] if count else None,
        "last": timestamps[-1] if count else None,
        "span_seconds": round(timestamps[-1] - timestamps[0] + interval_seconds, 3) if count else 0.0,
        "states": states,
        "slave_samples": slave,
        "slave_seconds": round(slave * interval_seconds, 3),
        "slave_throughout": bool(count) and slave == count,
        "offset_samples": len(values),
        "p50_abs_offset_ns": percentile(values, 0.5),
        "p99_abs_offset_ns": percentile(values, 0.99),
        "max_abs_offset_ns": values[-1] if values else None,
        "sum_abs_offset_ns": sum(values) if values else None,
    }


def since_lock(timestamps, port_states, offsets_ns, started=None):
    """The samples that count after ptp4l's last start: ``(timestamps, port_states, offsets_ns, lock_in)``.

    Samples taken before ``started`` (epoch seconds of the instance's last start;
    None: unknown, every sample counts) belong to an earlier instance, and the
    leading non-SLAVE samples after it are the lock-in (LISTENING, UNCALIBRATED
    while the servo settles): neither counts. A port that leaves SLAVE after it
    locked still counts against it. ``lock_in`` is the number of samples left out.
    """
    if started is None:
        return list(timestamps), list(port_states), list(offsets_ns), 0
    rows = [row for row in zip(timestamps, port_states, offsets_ns) if row[0] >= started]
    first = next((i for i, row in enumerate(rows) if row[1] == "SLAVE"), len(rows))
    kept = rows[first:]
    return [r[0] for r in kept], [r[1] for r in kept], [r[2] for r in kept], len(timestamps) - len(kept)


def check_bound(value, name):
    """``value`` as a non-negative float (an offset bound in ns); PtpError naming ``name`` otherwise."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise PtpError("%s must be a number, got %r" % (name, value))
    if math.isnan(number) or number < 0:
        raise PtpError("%s must be a non-negative number, got %r" % (name, value))
    return number


def window_problems(summary, threshold_ns, max_threshold_ns=None, min_samples=1):
    """Why one interface's window is not in sync; empty when it is.

    In sync means: at least ``min_samples`` samples, the port SLAVE in every one,
    p99 |offset| <= ``threshold_ns`` and max |offset| <= ``max_threshold_ns``
    (default: ``threshold_ns``). Raises PtpError on unusable bounds.
    """
    p99_limit = check_bound(threshold_ns, "threshold_ns")
    max_limit = p99_limit if max_threshold_ns is None else check_bound(max_threshold_ns, "max_threshold_ns")
    if isinstance(min_samples, bool) or not isinstance(min_samples, int) or min_samples < 1:
        raise PtpError("min_samples must be a positive integer, got %r" % (min_samples,))
    problems = []
    count = summary.get("samples", 0)
    if not count:
        return ["no samples in the window"]
    if count < min_samples:
        problems.append("only %d samples in the window, %d needed" % (count, min_samples))
    if not summary.get("slave_throughout"):
        others = ", ".join("%s %d" % ("NONE (ptp4l did not answer)" if state == "NONE" else state, n)
                           for state, n in sorted(summary.get("states", {}).items()) if state != "SLAVE")
        problems.append("port not SLAVE throughout: SLAVE in %d of %d samples (%s)"
                        % (summary.get("slave_samples", 0), count, others))
    if not summary.get("offset_samples"):
        problems.append("no offsetFromMaster measured while SLAVE")
    else:
        if summary["p99_abs_offset_ns"] > p99_limit:
            problems.append("p99 |offset| %.0f ns exceeds %.0f ns" % (summary["p99_abs_offset_ns"], p99_limit))
        if summary["max_abs_offset_ns"] > max_limit:
            problems.append("max |offset| %.0f ns exceeds %.0f ns" % (summary["max_abs_offset_ns"], max_limit))
    return problems


def window_document(interfaces, interval_seconds, window_seconds, generated, started=None,
                    source="collector", phc2sys=None, time_daemons=None, time_daemons_error=None):
    """The window file's content (shape in the module docstring).

    ``interfaces``: ``{name: {"timestamps", "port_states", "offsets_ns", ...extra keys}}``;
    each gets its ``summary``. Also the shape ptp_probe returns when it samples pmc itself.
    """
    doc = {
        "version": WINDOW_VERSION,
        "source": source,
        "generated": round(generated, 3),
        "started": round(started, 3) if started is not None else None,
        "interval_seconds": float(interval_seconds),
        "window_seconds": float(window_seconds),
        "interfaces": {},
        "phc2sys": phc2sys or {},
        "time_daemons": time_daemons,
        "time_daemons_error": time_daemons_error,
    }
    for name, data in sorted(interfaces.items()):
        entry = dict(data)
        entry["summary"] = summarize(entry["timestamps"], entry["port_states"], entry["offsets_ns"],
                                     float(interval_seconds))
        doc["interfaces"][name] = entry
    return doc


def window_from_samples(samples_by_interface, interval_seconds, generated, source="pmc"):
    """A window document from lists of samples (as sample_from_pmc makes them)."""
    interfaces = {}
    for name, samples in samples_by_interface.items():
        last = samples[-1] if samples else None
        interfaces[name] = {
            "timestamps": [round(s["t"], 3) for s in samples],
            "port_states": [s["port_state"] for s in samples],
            "offsets_ns": [s["offset_ns"] for s in samples],
            "error": last["error"] if last else None,
        }
    span = max([len(s) for s in samples_by_interface.values()] + [1]) * float(interval_seconds)
    return window_document(interfaces, interval_seconds, span, generated, source=source)


# --------------------------------------------------------------------------
# Prometheus text exposition
# --------------------------------------------------------------------------
def escape_label_value(value):
    """Label value escaping of the text format: backslash, double quote, newline."""
    return str(value).replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n")


def escape_help(text):
    """HELP text escaping of the text format: backslash and newline."""
    return str(text).replace("\\", "\\\\").replace("\n", "\\n")


def format_value(value):
    """A sample value: integers without a fraction, floats in full precision, NaN/+Inf/-Inf."""
    if isinstance(value, bool):
        return "1" if value else "0"
    number = float(value)
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "+Inf" if number > 0 else "-Inf"
    if number.is_integer() and abs(number) < 2 ** 53:
        return "%d" % number
    return repr(number)


def exposed_names():
    """Every sample name the collector can write (summary families add _sum and _count)."""
    names = set()
    for name, kind, dummy_help in METRICS:
        names.add(name)
        if kind == "summary":
            names.update((name + "_sum", name + "_count"))
    return names


class Exposition:
    """Collects samples per family and renders them in METRICS order with HELP and TYPE."""

    def __init__(self):
        self._samples = {}

    def add(self, name, labels, value, suffix=""):
        if name not in _METRIC_TYPES:
            raise KeyError("metric %s is not in METRICS" % name)
        self._samples.setdefault(name, []).append((name + suffix, list(labels), value))

    def render(self):
        lines = []
        for name, kind, help_text in METRICS:
            samples = self._samples.get(name)
            if not samples:
                continue
            lines.append("# HELP %s %s" % (name, escape_help(help_text)))
            lines.append("# TYPE %s %s" % (name, kind))
            for sample_name, labels, value in samples:
                label_text = ",".join('%s="%s"' % (key, escape_label_value(val)) for key, val in labels)
                lines.append("%s%s %s" % (sample_name, "{%s}" % label_text if label_text else "",
                                          format_value(value)))
        return "\n".join(lines) + "\n" if lines else ""


def render_metrics(state):
    """The exposition text for one cycle, from plain data.

    ``state``: ``{"now", "interfaces": {name: {"last": sample, "summary": summary,
    "seconds_since_slave", "offset_threshold_ns"?}}, "phc2sys": {name: update},
    "time_daemons": {unit: ActiveState} or None, "interrupts": {cpu: total} or None,
    "cpu_seconds"}``. A sample is what sample_from_pmc returns.
    """
    out = Exposition()
    for name, entry in sorted(state.get("interfaces", {}).items()):
        iface = [("interface", name)]
        last = entry.get("last") or {"port_state": "NONE", "pmc": _empty_pmc()}
        current = last["port_state"]
        following = current in FOLLOWING_STATES
        pmc = last.get("pmc") or _empty_pmc()
        if current == "SLAVE" and pmc.get("offset_ns") is not None:
            out.add("quantbot_ptp_offset_ns", iface, pmc["offset_ns"])
        summary = entry.get("summary") or {}
        if summary.get("offset_samples"):
            for label, key in QUANTILES:
                out.add("quantbot_ptp_offset_abs_ns", iface + [("quantile", label)], summary[key])
            out.add("quantbot_ptp_offset_abs_ns", iface, summary["sum_abs_offset_ns"], "_sum")
            out.add("quantbot_ptp_offset_abs_ns", iface, summary["offset_samples"], "_count")
        if entry.get("offset_threshold_ns") is not None:
            out.add("quantbot_ptp_offset_threshold_ns", iface, entry["offset_threshold_ns"])
        if current == "SLAVE" and pmc.get("mean_path_delay_ns") is not None:
            out.add("quantbot_ptp_path_delay_ns", iface, pmc["mean_path_delay_ns"])
        states = PORT_STATES if current in PORT_STATES else PORT_STATES + (current,)
        for port_state in states:
            out.add("quantbot_ptp_port_state", iface + [("state", port_state)], 1 if port_state == current else 0)
        if following and pmc.get("clock_class") is not None:
            out.add("quantbot_ptp_clock_class", iface, pmc["clock_class"])
        if following and pmc.get("grandmaster_identity"):
            out.add("quantbot_ptp_grandmaster_info", iface + [("grandmaster", pmc["grandmaster_identity"])], 1)
        out.add("quantbot_ptp_time_traceable", iface, bool(following and pmc.get("time_traceable")))
        out.add("quantbot_ptp_utc_offset_valid", iface, bool(following and pmc.get("current_utc_offset_valid")))
        out.add("quantbot_ptp_seconds_since_slave", iface, round(entry.get("seconds_since_slave", 0.0), 3))
    for name, update in sorted((state.get("phc2sys") or {}).items()):
        if update:
            out.add("quantbot_phc2sys_offset_ns", [("interface", name)], update["offset_ns"])
    daemons = state.get("time_daemons")
    if daemons is not None:
        running = active_units(daemons)
        for unit in sorted(daemons):
            out.add("quantbot_time_daemon_conflict", [("unit", unit)], unit in running)
    for cpu, total in sorted((state.get("interrupts") or {}).items(), key=lambda item: int(item[0])):
        out.add("quantbot_isolated_cpu_device_interrupts_total", [("cpu", str(cpu))], total)
    out.add("quantbot_collector_last_run_timestamp_seconds", [], round(state["now"], 3))
    if state.get("cpu_seconds") is not None:
        out.add("quantbot_collector_cpu_seconds_total", [], round(state["cpu_seconds"], 6))
    return out.render()


def isolated_cpu_interrupts(config):
    """``quantbot_isolated_cpu_device_interrupts_total``: device interrupts per isolated CPU since boot.

    ``{cpu: count}`` summed over the numbered lines of /proc/interrupts (the
    quiet-node parser, ``_procstat.parse_interrupts``, shipped next to this
    script), or None without isolated CPUs in the config or when
    /proc/interrupts cannot be read (the family is then left out).
    """
    cpus = config.get("isolated_cpus") or []
    if not cpus:
        return None
    path = os.path.join(config.get("procfs_root") or "/proc", "interrupts")
    try:
        with open(path) as handle:
            parsed = parse_interrupts(handle.read(), path)
    except (IOError, OSError, ValueError):
        return None
    out = dict((cpu, 0) for cpu in cpus)
    for line in parsed["device"].values():
        for cpu, count in line["counts"].items():
            if int(cpu) in out:
                out[int(cpu)] += int(count)
    return out


# --------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------
def atomic_write(path, text, mode=0o644):
    """Write ``text`` to ``path`` so that readers see the old or the new file, never a part.

    A temporary file in the same directory (its name does not end in .prom, so
    node_exporter ignores it), fsync, chmod, rename over the target, fsync of the
    directory. The directory is created when missing.
    """
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o755)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".%s." % os.path.basename(path), suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.rename(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


# --------------------------------------------------------------------------
# config
# --------------------------------------------------------------------------
def _valid_ifname(name):
    # The kernel's dev_valid_name(): 1-15 bytes, not "." or "..", no "/", ":" or whitespace.
    return (isinstance(name, str) and 0 < len(name.encode("utf-8")) < 16 and name not in (".", "..")
            and not re.search(r"[/:\s]", name))


def check_interface_name(name):
    """Return ``name`` when it is a usable network interface name; raise ConfigError otherwise."""
    if not _valid_ifname(name):
        raise ConfigError("bad interface name %r (1-15 characters, no '/', ':' or whitespace)" % (name,))
    return name


def check_units(units, what="time_daemons"):
    """Return ``units`` as a list when it lists distinct systemd unit names; raise ConfigError otherwise."""
    if not isinstance(units, list) or len(set(units)) != len(units) \
            or not all(isinstance(unit, str) and _UNIT.match(unit) for unit in units):
        raise ConfigError("%s must be a list of distinct systemd unit names (e.g. chrony.service), got %r"
                          % (what, units))
    return list(units)


def _abs_path(config, key, default):
    value = config.get(key, default)
    if not isinstance(value, str) or not os.path.isabs(value) or "\n" in value:
        raise ConfigError("%s must be an absolute path, got %r" % (key, value))
    return os.path.normpath(value)


def _seconds(config, key, default, low, high):
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) \
            or not low <= value <= high:
        raise ConfigError("%s must be a number of seconds from %s to %s, got %r" % (key, low, high, value))
    return float(value)


def _command(config, key):
    value = config.get(key, key)
    if not isinstance(value, str) or not value or re.search(r"\s", value):
        raise ConfigError("%s must be a command name or an absolute path, got %r" % (key, value))
    return value


def normalize_config(config):
    """Check the collector config and return it with every default filled in.

    Raises ConfigError naming the first unusable value.
    """
    if not isinstance(config, dict):
        raise ConfigError("the config must be a JSON object, got %r" % (config,))
    unknown = sorted(set(config) - set(_CONFIG_KEYS))
    if unknown:
        raise ConfigError("unknown config key(s) %s; known: %s" % (", ".join(unknown), ", ".join(_CONFIG_KEYS)))
    interfaces = config.get("interfaces")
    if not isinstance(interfaces, list) or not interfaces:
        raise ConfigError("interfaces must be a non-empty list of {name, ptp4l_config}, got %r" % (interfaces,))
    result = {"interfaces": []}
    seen = set()
    for item in interfaces:
        if not isinstance(item, dict) or set(item) != {"name", "ptp4l_config"}:
            raise ConfigError("each interface must be {name, ptp4l_config}, got %r" % (item,))
        check_interface_name(item["name"])
        if item["name"] in seen:
            raise ConfigError("interface %s is listed twice" % item["name"])
        seen.add(item["name"])
        path = item["ptp4l_config"]
        if not isinstance(path, str) or not os.path.isabs(path):
            raise ConfigError("ptp4l_config of %s must be an absolute path, got %r" % (item["name"], path))
        result["interfaces"].append({"name": item["name"], "ptp4l_config": path})
    phc = config.get("phc2sys_interfaces", [])
    if not isinstance(phc, list) or any(name not in seen for name in phc) or len(set(phc)) != len(phc):
        raise ConfigError("phc2sys_interfaces must list interfaces of 'interfaces' (%s) once each, got %r"
                          % (", ".join(sorted(seen)), phc))
    result["phc2sys_interfaces"] = list(phc)
    result["interval_seconds"] = _seconds(config, "interval_seconds", DEFAULT_INTERVAL, 0.1, 3600)
    result["window_seconds"] = _seconds(config, "window_seconds", DEFAULT_WINDOW, result["interval_seconds"], 86400)
    result["textfile"] = _abs_path(config, "textfile", DEFAULT_TEXTFILE)
    if not result["textfile"].endswith(".prom"):
        raise ConfigError("textfile must end in .prom (node_exporter's textfile collector reads only those), got %r"
                          % result["textfile"])
    result["window_file"] = _abs_path(config, "window_file", DEFAULT_WINDOW_FILE)
    if result["window_file"] == result["textfile"]:
        raise ConfigError("window_file and textfile must differ, both are %s" % result["textfile"])
    result["time_daemons"] = check_units(config.get("time_daemons", []))
    result["time_daemons_interval_seconds"] = _seconds(config, "time_daemons_interval_seconds",
                                                       max(DEFAULT_DAEMONS_INTERVAL, result["interval_seconds"]),
                                                       result["interval_seconds"], 3600)
    threshold = config.get("offset_threshold_ns")
    if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, (int, float))
                                  or math.isnan(threshold) or threshold < 0):
        raise ConfigError("offset_threshold_ns must be a non-negative number, got %r" % (threshold,))
    result["offset_threshold_ns"] = threshold
    for key in ("pmc", "systemctl", "journalctl"):
        result[key] = _command(config, key)
    unit = config.get("phc2sys_unit", DEFAULT_PHC2SYS_UNIT)
    if not isinstance(unit, str) or "{interface}" not in unit or not _UNIT.match(unit.replace("{interface}", "x")):
        raise ConfigError("phc2sys_unit must be a unit name with {interface}, got %r" % (unit,))
    result["phc2sys_unit"] = unit
    isolated = config.get("isolated_cpus", "")
    try:
        result["isolated_cpus"] = parse_cpulist(isolated, "isolated_cpus") if isolated else []
    except ValueError as exc:
        raise ConfigError(str(exc))
    result["procfs_root"] = _abs_path(config, "procfs_root", "/proc")
    return result


def load_config(path):
    try:
        with open(path) as handle:
            raw = json.load(handle)
    except (IOError, OSError) as exc:
        raise ConfigError("cannot read config %s: %s" % (path, exc))
    except ValueError as exc:
        raise ConfigError("config %s is not valid JSON: %s" % (path, exc))
    return normalize_config(raw)


# --------------------------------------------------------------------------
# the service
# --------------------------------------------------------------------------
def run_command(argv, timeout=10):
    """Run argv (never a shell); ``(rc, stdout, stderr)``; 127 when missing, 124 on timeout."""
    env = dict(os.environ, LC_ALL="C")
    try:
        proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                              universal_newlines=True, timeout=timeout, env=env, check=False)
    except subprocess.TimeoutExpired:
        return 124, "", "%s timed out after %s s" % (argv[0], timeout)
    except OSError as exc:
        return 127, "", "cannot run %s: %s" % (argv[0], exc)
    return proc.returncode, proc.stdout, proc.stderr


class Log:
    """Problems to stderr (the journal) without flooding.

    A problem is written when it first appears or changes, then at most every
    ``repeat_seconds`` while it lasts (with how often it recurred), and once when it
    clears. Lines carry the sd-daemon priority prefix (<4> warning, <6> info).
    """

    def __init__(self, stream=None, repeat_seconds=300.0, clock=time.monotonic):
        self.stream = stream or sys.stderr
        self.repeat = repeat_seconds
        self.clock = clock
        self.active = {}

    def _write(self, priority, message):
        # One journal entry per message: a command's multi-line stderr is joined.
        message = "; ".join(part.strip() for part in message.splitlines() if part.strip())
        try:
            self.stream.write("<%d>ptpmon: %s\n" % (priority, message))
            self.stream.flush()
        except (IOError, OSError, ValueError):
            pass

    def info(self, message):
        self._write(6, message)

    def problem(self, key, message):
        now = self.clock()
        known = self.active.get(key)
        if known and known["message"] == message and now - known["at"] < self.repeat:
            known["count"] += 1
            return
        suffix = ""
        if known and known["message"] == message and known["count"]:
            suffix = " (%d more times since the last report)" % known["count"]
        self.active[key] = {"message": message, "at": now, "count": 0}
        self._write(4, message + suffix)

    def clear(self, key, message):
        if self.active.pop(key, None):
            self._write(6, message)


class JournalFollower:
    """A ``journalctl -f`` child whose new lines are read without blocking.

    Restarted (at most every ``restart_seconds``) when it exits. Lines are
    buffered until their newline arrives.
    """

    def __init__(self, argv, restart_seconds=30.0, clock=time.monotonic):
        self.argv = list(argv)
        self.restart = restart_seconds
        self.clock = clock
        self.proc = None
        self.started_at = None
        self.buffer = b""
        self.exited = None

    def _start(self):
        self.started_at = self.clock()
        self.buffer = b""
        # The child outlives this call on purpose (it follows the journal); stop() ends it.
        self.proc = subprocess.Popen(  # pylint: disable=consider-using-with
            self.argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
            env=dict(os.environ, LC_ALL="C"))
        fd = self.proc.stdout.fileno()
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)

    def poll(self):
        """New complete lines since the last call. Raises OSError when it cannot run."""
        if self.proc is not None and self.proc.poll() is not None:
            lines = self._read()
            self.exited = self.proc.returncode
            self.proc.stdout.close()
            self.proc = None
            return lines
        if self.proc is None:
            if self.started_at is not None and self.clock() - self.started_at < self.restart:
                return []
            self._start()
        return self._read()

    def _read(self):
        chunks = []
        fd = self.proc.stdout.fileno()
        while True:
            ready = select.select([fd], [], [], 0)[0]
            if not ready:
                break
            try:
                chunk = os.read(fd, 65536)
            except OSError as exc:
                if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
                    break
                raise
            if not chunk:
                break
            chunks.append(chunk)
        data = self.buffer + b"".join(chunks)
        complete, sep, rest = data.rpartition(b"\n")
        self.buffer = rest
        if not sep:
            return []
        return complete.decode("utf-8", "replace").split("\n")

    def stop(self):
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self.proc = None


def _cpu_seconds():
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def _resolve(command):
    if os.path.isabs(command):
        return command
    found = shutil.which(command, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin:/usr/bin:/bin")
    return found or command


class Collector:
    """The collection loop's state: the window per interface and what the last cycle saw.

    ``runner(argv) -> (rc, out, err)`` runs commands, ``clock()`` gives unix time, and
    ``follow`` chooses a journalctl -f child per phc2sys unit (the service) or one
    journalctl call per cycle (--once, tests).
    """

    def __init__(self, config, runner=run_command, clock=time.time, log=None, follow=True):
        self.config = config
        self.runner = runner
        self.clock = clock
        self.log = log or Log()
        self.follow = follow
        self.started = clock()
        self.samples = dict((item["name"], []) for item in config["interfaces"])
        self.last = {}
        self.last_slave = dict((item["name"], None) for item in config["interfaces"])
        self.phc2sys = {}
        self.followers = {}
        self.daemons = ({}, None)
        self.daemons_at = None
        self.pmc = _resolve(config["pmc"])
        self.systemctl = _resolve(config["systemctl"])
        self.journalctl = _resolve(config["journalctl"])

    # -- restore ----------------------------------------------------------
    def restore(self, doc):
        """Take over the window of an earlier run (same interfaces) from its window file."""
        if not isinstance(doc, dict) or doc.get("version") != WINDOW_VERSION:
            return False
        restored = False
        for name, data in (doc.get("interfaces") or {}).items():
            if name not in self.samples or not isinstance(data, dict):
                continue
            try:
                rows = list(zip(data["timestamps"], data["port_states"], data["offsets_ns"]))
                self.samples[name] = [{"t": float(t), "port_state": str(s),
                                       "offset_ns": None if o is None else float(o)} for t, s, o in rows]
            except (KeyError, TypeError, ValueError):
                continue
            last_slave = data.get("last_slave")
            self.last_slave[name] = float(last_slave) if isinstance(last_slave, (int, float)) else None
            restored = True
        if restored and isinstance(doc.get("started"), (int, float)):
            self.started = min(self.started, float(doc["started"]))
        return restored

    # -- sampling ---------------------------------------------------------
    def sample_interface(self, item, now):
        sample = sample_pmc(self.runner, self.pmc, item["ptp4l_config"], now)
        key = "pmc:%s" % item["name"]
        if sample["error"]:
            self.log.problem(key, "%s: %s" % (item["name"], sample["error"]))
        else:
            self.log.clear(key, "%s: ptp4l answers pmc again (port %s)" % (item["name"], sample["port_state"]))
        return sample

    def sample_time_daemons(self, now):
        """``(states, error)``, read again when ``time_daemons_interval_seconds`` have passed."""
        units = self.config["time_daemons"]
        if not units:
            return {}, None
        if self.daemons_at is not None and now - self.daemons_at < self.config["time_daemons_interval_seconds"]:
            return self.daemons
        self.daemons_at = now
        self.daemons = self._read_time_daemons(units)
        return self.daemons

    def _read_time_daemons(self, units):
        rc, out, err = self.runner(systemctl_argv(self.systemctl, units))
        states, error = time_daemon_states(rc, out, err, units)
        if error:
            self.log.problem("systemctl", error)
        else:
            self.log.clear("systemctl", "systemctl show works again")
        return states, error

    def sample_phc2sys(self, now):
        stale_after = max(10.0, 5 * self.config["interval_seconds"])
        for name in self.config["phc2sys_interfaces"]:
            unit = self.config["phc2sys_unit"].replace("{interface}", name)
            key = "phc2sys:%s" % name
            try:
                if self.follow:
                    follower = self.followers.get(name)
                    if follower is None:
                        follower = self.followers[name] = JournalFollower(
                            phc2sys_journal_argv(self.journalctl, unit, follow=True))
                    text = "\n".join(follower.poll())
                    if follower.exited is not None:
                        self.log.problem(key + ":journal", "journalctl -f for %s exited with %s; restarting it"
                                         % (unit, follower.exited))
                        follower.exited = None
                else:
                    rc, text, err = self.runner(phc2sys_journal_argv(self.journalctl, unit, follow=False, lines=20))
                    if rc != 0:
                        raise OSError("journalctl exited %s: %s" % (rc, err.strip()[:300]))
            except OSError as exc:
                self.log.problem(key + ":journal", "cannot read the journal of %s: %s" % (unit, exc))
                text = ""
            update = parse_phc2sys_log(text)
            if update:
                if update["t"] is None:
                    update["t"] = now
                self.phc2sys[name] = update
            current = self.phc2sys.get(name)
            if current and now - current["t"] > stale_after:
                self.log.problem(key, "no phc2sys offset in the journal of %s for %.0f s" % (unit, now - current["t"]))
                del self.phc2sys[name]
            elif current:
                self.log.clear(key, "phc2sys offsets of %s are back" % unit)

    # -- one cycle ----------------------------------------------------------
    def cycle(self):
        """Sample everything once, update the window; returns (exposition text, window document)."""
        now = self.clock()
        horizon = now - self.config["window_seconds"]
        interfaces = {}
        metrics = {"interfaces": {}}
        for item in self.config["interfaces"]:
            name = item["name"]
            sample = self.sample_interface(item, now)
            self.last[name] = sample
            if sample["port_state"] == "SLAVE":
                self.last_slave[name] = now
            kept = [s for s in self.samples[name] if s["t"] > horizon and s["t"] <= now]
            kept.append({"t": now, "port_state": sample["port_state"], "offset_ns": sample["offset_ns"]})
            self.samples[name] = kept
            since = 0.0 if sample["port_state"] == "SLAVE" else now - (self.last_slave[name] or self.started)
            pmc = sample["pmc"]
            following = sample["port_state"] in FOLLOWING_STATES
            interfaces[name] = {
                "timestamps": [round(s["t"], 3) for s in kept],
                "port_states": [s["port_state"] for s in kept],
                "offsets_ns": [s["offset_ns"] for s in kept],
                "last_slave": round(self.last_slave[name], 3) if self.last_slave[name] else None,
                "seconds_since_slave": round(max(since, 0.0), 3),
                "grandmaster_identity": pmc["grandmaster_identity"] if following else None,
                "clock_class": pmc["clock_class"] if following else None,
                "time_traceable": bool(following and pmc["time_traceable"]),
                "current_utc_offset_valid": bool(following and pmc["current_utc_offset_valid"]),
                "error": sample["error"],
            }
        daemons, daemons_error = self.sample_time_daemons(now)
        if self.config["phc2sys_interfaces"]:
            self.sample_phc2sys(now)
        doc = window_document(interfaces, self.config["interval_seconds"], self.config["window_seconds"], now,
                              started=self.started, phc2sys=dict((name, {"offset_ns": u["offset_ns"],
                                                                         "t": round(u["t"], 3)})
                                                                 for name, u in self.phc2sys.items()),
                              time_daemons=daemons, time_daemons_error=daemons_error)
        for name, entry in doc["interfaces"].items():
            metrics["interfaces"][name] = {"last": self.last[name], "summary": entry["summary"],
                                           "seconds_since_slave": entry["seconds_since_slave"],
                                           "offset_threshold_ns": self.config["offset_threshold_ns"]}
        metrics.update({"now": now, "phc2sys": self.phc2sys, "time_daemons": daemons,
                        "interrupts": isolated_cpu_interrupts(self.config), "cpu_seconds": _cpu_seconds()})
        return render_metrics(metrics), doc

    def write(self, text, doc):
        """Write both files; a failure is logged (rate-limited) and returned, never raised."""
        failed = []
        for key, path, content in (("textfile", self.config["textfile"], text),
                                   ("window_file", self.config["window_file"],
                                    json.dumps(doc, sort_keys=True, separators=(",", ":")) + "\n")):
            try:
                atomic_write(path, content)
            except (IOError, OSError) as exc:
                self.log.problem("write:" + key, "cannot write %s: %s" % (path, exc))
                failed.append(path)
            else:
                self.log.clear("write:" + key, "%s is written again" % path)
        return failed

    def stop(self):
        for follower in self.followers.values():
            follower.stop()


class _Stop(BaseException):
    """A stop signal during the sleep (a BaseException, so no cycle handler swallows it)."""


class Stopper:
    """The SIGTERM/SIGINT handler: the cycle in progress finishes, then the loop ends.

    Raising in the middle of a cycle would kill a running pmc, and a killed pmc
    leaves its client socket (/var/run/pmc.PID) behind. A signal that arrives
    while the loop sleeps ends the sleep at once.
    """

    def __init__(self):
        self.requested = False
        self.sleeping = False

    def __call__(self, signum, dummy_frame):
        self.requested = True
        if self.sleeping:
            raise _Stop(signum)


def read_window(path):
    """The window document in ``path``, or None when it is missing or unreadable."""
    try:
        with open(path) as handle:
            return json.load(handle)
    except (IOError, OSError, ValueError):
        return None


def serve(collector, once=False, echo=None, sleep=time.sleep, monotonic=time.monotonic, stopper=None):
    """Run cycles every interval (on a fixed grid, skipping missed slots) until ``stopper`` is
    requested; the exit status (0, or 1 when --once failed)."""
    stopper = stopper or Stopper()
    interval = collector.config["interval_seconds"]
    next_at = monotonic()
    while True:
        try:
            text, doc = collector.cycle()
        except Exception as exc:  # pylint: disable=broad-exception-caught
            # The service must outlive any surprise in one cycle; the journal says what happened.
            collector.log.problem("cycle", "collection cycle failed: %s: %s" % (type(exc).__name__, exc))
            if once:
                return 1
        else:
            collector.log.clear("cycle", "collection cycles work again")
            failed = collector.write(text, doc)
            if echo is not None:
                echo.write(text)
                echo.flush()
            if once:
                return 1 if failed else 0
        next_at += interval
        now = monotonic()
        if next_at <= now:
            next_at = now + interval - ((now - next_at) % interval)
        stopper.sleeping = True
        try:
            if stopper.requested:
                return 0
            sleep(next_at - now)
        except _Stop:
            return 0
        finally:
            stopper.sleeping = False


def main(argv=None):
    parser = argparse.ArgumentParser(prog="quantbot_ptpmon.py",
                                     description="PTP metrics for node_exporter's textfile collector "
                                                 "and a sample window for the validation.")
    parser.add_argument("--config", required=True, help="JSON config file")
    parser.add_argument("--once", action="store_true", help="run one cycle, write the files and exit")
    parser.add_argument("--print", dest="echo", action="store_true", help="also write the metrics to stdout")
    args = parser.parse_args(argv)
    log = Log()
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        sys.stderr.write("<3>ptpmon: %s\n" % exc)
        return 2
    collector = Collector(config, log=log, follow=not args.once)
    if collector.restore(read_window(config["window_file"])):
        log.info("continuing the window of %s" % config["window_file"])
    if not args.once:
        log.info("sampling %s every %g s, window %g s, writing %s"
                 % (", ".join(i["name"] for i in config["interfaces"]), config["interval_seconds"],
                    config["window_seconds"], config["textfile"]))
    stopper = Stopper()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stopper)
    try:
        return serve(collector, once=args.once, echo=sys.stdout if args.echo else None, stopper=stopper)
    finally:
        collector.stop()


if __name__ == "__main__":
    raise SystemExit(main())
