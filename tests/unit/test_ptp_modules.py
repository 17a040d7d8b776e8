# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""quantbot.hft.nic_timestamping and quantbot.hft.ptp_probe through main(), with run_command mocked."""

from __future__ import annotations

import os

import pytest
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


def test_probe_runs_pmc_with_the_config_and_both_queries(capsys, monkeypatch, config):
    runner = Runner(out=fixture("pmc-slave-hw.txt"))
    code, result = run(capsys, monkeypatch, ptp_probe, {"config": config, "max_offset_ns": 100}, runner)
    assert code == 0
    assert runner.calls == [["/usr/sbin/pmc", "-u", "-b", "0", "-f", config,
                             "GET CURRENT_DATA_SET", "GET PORT_DATA_SET"]]
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
    assert "exceeds 100.0 ns" in result["reasons"][0]


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
