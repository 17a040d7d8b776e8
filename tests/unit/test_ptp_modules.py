# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""quantbot.hft.nic_timestamping and quantbot.hft.ptp_probe through main(), with run_command mocked."""

from __future__ import annotations

import json
import os

import pytest
from ansible.module_utils.basic import AnsibleModule
from module_main import call_main

from ansible_collections.quantbot.hft.plugins.modules import nic_timestamping, ptp_probe

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "ptp")


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return handle.read()


class Runner:
    """Stands in for AnsibleModule.run_command and records every argv."""

    def __init__(self, rc=0, out="", err=""):
        self.rc, self.out, self.err = rc, out, err
        self.calls = []

    def __call__(self, args, **kwargs):
        self.calls.append(list(args))
        return self.rc, self.out, self.err


def run(capsys, monkeypatch, module, args, runner, bins=None):
    bins = bins if bins is not None else {"ethtool": "/usr/sbin/ethtool", "pmc": "/usr/sbin/pmc"}
    return call_main(capsys, monkeypatch, module, args, runner, bins)


@pytest.fixture
def net(tmp_path, monkeypatch):
    """A fake /sys/class/net with enp65s0 (igb) and enp0s2 (virtio)."""
    root = tmp_path / "net"
    for name in ("enp0s2", "enp65s0", "lo"):
        (root / name).mkdir(parents=True)
    monkeypatch.setattr(nic_timestamping, "SYS_CLASS_NET", str(root))
    return root


# --- nic_timestamping --------------------------------------------------------------
def test_nic_without_hardware_timestamping_fails_when_hardware_is_required(capsys, monkeypatch, net):
    runner = Runner(out=fixture("ethtool-T-virtio-net.txt"))
    code, result = run(capsys, monkeypatch, nic_timestamping,
                       {"interface": "enp0s2", "require": "hardware"}, runner)
    assert code == 1
    assert result["failed"] is True
    assert result["msg"].startswith("interface enp0s2 lacks hardware timestamping: missing hardware-transmit")
    assert "ptp_time_stamping: software" in result["msg"]
    assert runner.calls == [["/usr/sbin/ethtool", "-T", "enp0s2"]]


def test_hardware_nic_passes_and_reports(capsys, monkeypatch, net):
    code, result = run(capsys, monkeypatch, nic_timestamping,
                       {"interface": "enp65s0", "require": "hardware", "_ansible_check_mode": True},
                       Runner(out=fixture("ethtool-T-igb-netlink.txt")))
    assert code == 0
    assert result["changed"] is False
    assert result["hardware"] is True and result["software"] is True
    assert result["capabilities"]["phc_index"] == 0
    assert result["source"] == "ethtool"


def test_software_opt_in_passes_on_software_nic(capsys, monkeypatch, net):
    code, result = run(capsys, monkeypatch, nic_timestamping,
                       {"interface": "enp0s2", "require": "software"},
                       Runner(out=fixture("ethtool-T-virtio-net.txt")))
    assert code == 0 and result["hardware"] is False and result["software"] is True


def test_unknown_interface_lists_the_known_ones(capsys, monkeypatch, net):
    runner = Runner()
    code, result = run(capsys, monkeypatch, nic_timestamping, {"interface": "ens9", "require": "hardware"}, runner)
    assert code == 1
    assert result["msg"] == "unknown interface ens9 (interfaces on this host: enp0s2, enp65s0)"
    assert runner.calls == []


def test_ethtool_failure_is_reported_with_output(capsys, monkeypatch, net):
    code, result = run(capsys, monkeypatch, nic_timestamping, {"interface": "enp0s2"},
                       Runner(rc=1, err="netlink error: Operation not supported"))
    assert code == 1 and result["rc"] == 1 and "Operation not supported" in result["stderr"]


def test_without_ethtool_the_kernel_is_asked(capsys, monkeypatch, net):
    caps = {"hw_tx": False, "hw_rx": False, "hw_raw": False, "sw_tx": True, "sw_rx": True,
            "sw_clock": True, "phc_index": None}
    monkeypatch.setattr(nic_timestamping, "_ioctl_ts_info", lambda iface: caps)
    runner = Runner()
    code, result = run(capsys, monkeypatch, nic_timestamping, {"interface": "enp0s2", "require": "hardware"},
                       runner, bins={})
    assert code == 1 and "lacks hardware timestamping" in result["msg"]
    assert runner.calls == []


# --- ptp_probe ---------------------------------------------------------------------
@pytest.fixture
def config(tmp_path):
    path = tmp_path / "quantbot-hft-enp65s0.conf"
    path.write_text("[global]\ndomainNumber 0\nuds_address /var/run/ptp4l-enp65s0\n")
    return str(path)


def test_probe_runs_pmc_with_the_config_and_the_four_queries(capsys, monkeypatch, config):
    runner = Runner(out=fixture("pmc-slave-hw.txt"))
    code, result = run(capsys, monkeypatch, ptp_probe, {"config": config, "max_offset_ns": 100}, runner)
    assert code == 0
    assert runner.calls == [["/usr/sbin/pmc", "-u", "-b", "0", "-f", config,
                             "GET CURRENT_DATA_SET", "GET PORT_DATA_SET", "GET PARENT_DATA_SET",
                             "GET TIME_PROPERTIES_DATA_SET"]]
    assert result["changed"] is False
    assert (result["port_state"], result["offset_ns"], result["healthy"]) == ("SLAVE", -3.0, True)
    assert result["reasons"] == []


def test_probe_without_threshold_returns_data_only(capsys, monkeypatch, config):
    code, result = run(capsys, monkeypatch, ptp_probe, {"config": config, "_ansible_check_mode": True},
                       Runner(out=fixture("pmc-slave-sw-lab.txt")))
    assert code == 0 and result["offset_ns"] == 412345.0
    assert "healthy" not in result


def test_probe_unhealthy_offset(capsys, monkeypatch, config):
    code, result = run(capsys, monkeypatch, ptp_probe, {"config": config, "max_offset_ns": 100},
                       Runner(out=fixture("pmc-slave-sw-lab.txt")))
    assert code == 0 and result["healthy"] is False
    assert result["reasons"] == ["p99 |offset| 412345 ns exceeds 100 ns", "max |offset| 412345 ns exceeds 100 ns"]


def test_probe_stopped_ptp4l_is_data_not_failure(capsys, monkeypatch, config):
    code, result = run(capsys, monkeypatch, ptp_probe, {"config": config, "max_offset_ns": 100},
                       Runner(out=fixture("pmc-no-answer.txt")))
    assert code == 0 and result["responding"] is False and result["healthy"] is False


def test_probe_missing_config_fails(capsys, monkeypatch, tmp_path):
    runner = Runner()
    code, result = run(capsys, monkeypatch, ptp_probe, {"config": str(tmp_path / "nope.conf")}, runner)
    assert code == 1 and "does not exist" in result["msg"] and runner.calls == []


def test_probe_pmc_failure(capsys, monkeypatch, config):
    code, result = run(capsys, monkeypatch, ptp_probe, {"config": config},
                       Runner(rc=255, err="failed to open configuration file"))
    assert code == 1 and result["rc"] == 255


# --- ptp_probe: a window of samples, the collector's window file, the time daemons ------
class HostRunner(Runner):
    """pmc answers from a list (the last one repeats), systemctl from its own answer."""

    def __init__(self, pmc_outputs, systemctl=(0, "", "")):
        Runner.__init__(self)
        self.pmc_outputs = list(pmc_outputs)
        self.systemctl = systemctl

    def __call__(self, args, **kwargs):
        self.calls.append(list(args))
        if "show" in args:
            return self.systemctl
        out = self.pmc_outputs.pop(0) if len(self.pmc_outputs) > 1 else self.pmc_outputs[0]
        return 0, out, ""


@pytest.fixture
def no_sleep(monkeypatch):
    sleeps = []
    monkeypatch.setattr(ptp_probe.time, "sleep", sleeps.append)
    return sleeps


def test_probe_samples_a_short_window_when_no_collector_runs(capsys, monkeypatch, config, no_sleep):
    runner = HostRunner([fixture("pmc-full-slave-traceable-netns.txt"), fixture("pmc-full-slave-sw-netns.txt"),
                         fixture("pmc-full-slave-traceable-netns.txt")])
    code, result = run(capsys, monkeypatch, ptp_probe,
                       {"config": config, "interface": "enp65s0", "samples": 3, "interval": 0.5,
                        "window_file": config + ".missing.json", "max_offset_ns": 500}, runner)
    assert code == 0 and len(runner.calls) == 3 and no_sleep == [0.5, 0.5]
    assert result["window_source"] == "pmc"
    summary = result["window_summary"]
    assert (summary["samples"], summary["slave_samples"], summary["max_abs_offset_ns"]) == (3, 3, 408.0)
    assert result["window"]["interfaces"]["enp65s0"]["port_states"] == ["SLAVE"] * 3
    assert result["healthy"] is True and result["reasons"] == []
    assert result["grandmaster_identity"] == "def4fa.fffe.0300f7" and result["clock_class"] == 6
    assert result["time_traceable"] is True and result["current_utc_offset_valid"] is True


def test_probe_window_fails_when_the_port_leaves_slave(capsys, monkeypatch, config, no_sleep):
    runner = HostRunner([fixture("pmc-full-slave-sw-netns.txt"), fixture("pmc-full-listening-gm-gone-netns.txt")])
    code, result = run(capsys, monkeypatch, ptp_probe,
                       {"config": config, "interface": "enp65s0", "samples": 2, "max_offset_ns": 1000}, runner)
    assert code == 0 and result["healthy"] is False
    assert result["reasons"] == ["port not SLAVE throughout: SLAVE in 1 of 2 samples (LISTENING 1)"]


def _collector_window(path, generated, states=("SLAVE", "SLAVE")):
    from ansible_collections.quantbot.hft.plugins.module_utils._ptpmon import window_document
    doc = window_document({"enp65s0": {"timestamps": [generated - 1, generated], "port_states": list(states),
                                       "offsets_ns": [12.0, -30.0]}}, 1.0, 600.0, generated)
    with open(path, "w") as handle:
        json.dump(doc, handle)


def test_probe_returns_the_collectors_fresh_window(capsys, monkeypatch, config, tmp_path, no_sleep):
    path = str(tmp_path / "ptpmon.json")
    _collector_window(path, ptp_probe.time.time())
    runner = HostRunner([fixture("pmc-full-slave-sw-netns.txt")])
    code, result = run(capsys, monkeypatch, ptp_probe,
                       {"config": config, "interface": "enp65s0", "window_file": path, "samples": 30,
                        "max_offset_ns": 100}, runner)
    assert code == 0 and len(runner.calls) == 1 and no_sleep == []
    assert result["window_source"] == "collector" and result["window_summary"]["max_abs_offset_ns"] == 30.0
    assert result["healthy"] is True


def test_probe_ignores_a_stale_collector_window(capsys, monkeypatch, config, tmp_path, no_sleep):
    path = str(tmp_path / "ptpmon.json")
    _collector_window(path, ptp_probe.time.time() - 600)
    runner = HostRunner([fixture("pmc-full-slave-sw-netns.txt")])
    code, result = run(capsys, monkeypatch, ptp_probe,
                       {"config": config, "interface": "enp65s0", "window_file": path, "samples": 2}, runner)
    assert code == 0 and result["window_source"] == "pmc" and len(runner.calls) == 2


def test_probe_reads_the_time_daemons_in_one_call(capsys, monkeypatch, config, no_sleep):
    units = ["chrony.service", "chronyd.service", "systemd-timesyncd.service", "ntp.service"]
    runner = HostRunner([fixture("pmc-full-slave-sw-netns.txt")],
                        systemctl=(0, fixture("systemctl-show-time-daemons.txt"), ""))
    monkeypatch.setattr(AnsibleModule, "run_command", lambda self, args, **kwargs: runner(args, **kwargs))
    code, result = run(capsys, monkeypatch, ptp_probe, {"config": config, "time_daemons": units}, runner,
                       bins={"pmc": "/usr/sbin/pmc", "systemctl": "/usr/bin/systemctl"})
    assert code == 0
    assert runner.calls[-1] == ["/usr/bin/systemctl", "show", "--property=Id,ActiveState", "--"] + units
    assert result["time_daemons"]["systemd-timesyncd.service"] == "active"
    assert result["time_daemons_error"] is None


def test_probe_time_daemons_without_systemd_is_data(capsys, monkeypatch, config, no_sleep):
    runner = HostRunner([fixture("pmc-full-slave-sw-netns.txt")],
                        systemctl=(1, "", "System has not been booted with systemd as init system (PID 1)."))
    code, result = run(capsys, monkeypatch, ptp_probe, {"config": config, "time_daemons": ["chrony.service"]},
                       runner, bins={"pmc": "/usr/sbin/pmc", "systemctl": "/usr/bin/systemctl"})
    assert code == 0 and result["time_daemons"] is None
    assert "not been booted with systemd" in result["time_daemons_error"]


@pytest.mark.parametrize("args, msg", [
    ({"samples": 0}, "samples must be from 1 to 3600, got 0"),
    ({"interval": 0.01}, "interval must be from 0.1 to 60 seconds, got 0.01"),
    ({"samples": 3600, "interval": 60}, "samples x interval must stay within an hour"),
    ({"interface": "en p65s0"}, "bad interface name 'en p65s0'"),
    ({"time_daemons": ["chrony"]}, "time_daemons must be a list of distinct systemd unit names"),
])
def test_probe_refuses_bad_options_before_running_anything(capsys, monkeypatch, config, args, msg):
    runner = Runner()
    code, result = run(capsys, monkeypatch, ptp_probe, dict({"config": config}, **args), runner)
    assert code == 1 and msg in result["msg"] and runner.calls == []


def test_probe_asks_again_when_an_answer_is_missing(capsys, monkeypatch, config, no_sleep):
    runner = HostRunner([fixture("pmc-full-stopped-netns.txt"), fixture("pmc-full-slave-sw-netns.txt")])
    code, result = run(capsys, monkeypatch, ptp_probe, {"config": config, "max_offset_ns": 1000}, runner)
    assert code == 0 and len(runner.calls) == 2
    assert result["responding"] is True and result["healthy"] is True
