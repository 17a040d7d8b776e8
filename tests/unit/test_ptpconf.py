# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""ptp role rules (plugins/module_utils/_ptpconf.py): per-interface settings, refusals, units to stop.

The timestamping capabilities are host_facts' raw ETHTOOL_GET_TS_INFO bits,
built here from the SOF_TIMESTAMPING_* constants of _ptp.py.
"""

from __future__ import annotations

import pytest

from ansible_collections.quantbot.hft.plugins.module_utils._ptp import (
    SOF_RAW_HARDWARE,
    SOF_RX_HARDWARE,
    SOF_RX_SOFTWARE,
    SOF_SOFTWARE,
    SOF_TX_HARDWARE,
    SOF_TX_SOFTWARE,
)
from ansible_collections.quantbot.hft.plugins.module_utils._ptpconf import (
    IFACE_KEYS,
    caps_from_bits,
    interface_problems,
    ptp_problems,
    resolve_interfaces,
    units_to_stop,
)

# roles/ptp/defaults/main.yml's values for the per-interface settings.
DEFAULTS = {"time_stamping": "hardware", "domain": 0, "network_transport": "L2", "delay_mechanism": "E2E",
            "tx_timestamp_timeout": 50, "client_only": True}
SOFTWARE = SOF_TX_SOFTWARE | SOF_RX_SOFTWARE | SOF_SOFTWARE
HARDWARE = SOF_TX_HARDWARE | SOF_RX_HARDWARE | SOF_RAW_HARDWARE | SOFTWARE
SERVO = {"clock_servo": "pi"}


def host(**nics):
    """host_facts with NICs given as name=so_timestamping bits (None: the ioctl failed)."""
    return {"nics": dict((name, {"numa_node": 1, "timestamping": None if bits is None else
                                 {"so_timestamping": bits, "phc_index": 0 if bits & SOF_RAW_HARDWARE else None}})
                         for name, bits in nics.items())}


def one(**entry):
    entry.setdefault("name", "ens1f0")
    return resolve_interfaces([entry], DEFAULTS)[0]


def problems(ifaces, facts=None, cpu_affinity="0-1,40-41", sched_priority=50, servo=None, threshold_ns=100,
             summary_interval=0, logging_level=6):
    return ptp_problems(ifaces, cpu_affinity, sched_priority, SERVO if servo is None else servo, threshold_ns,
                        summary_interval, logging_level, host(ens1f0=HARDWARE) if facts is None else facts)


# --- resolve_interfaces --------------------------------------------------------------------
def test_a_name_gets_every_default_and_phc2sys_for_hardware():
    assert resolve_interfaces(["ens1f0"], DEFAULTS) == [{
        "name": "ens1f0", "time_stamping": "hardware", "domain": 0, "network_transport": "L2",
        "delay_mechanism": "E2E", "tx_timestamp_timeout": 50, "client_only": True, "phc2sys": True,
        "unknown_keys": []}]


def test_a_dict_overrides_the_defaults_and_software_means_no_phc2sys():
    got = resolve_interfaces([{"name": "enp0s2", "time_stamping": "software", "domain": 24}], DEFAULTS)[0]
    assert got["time_stamping"] == "software" and got["domain"] == 24 and got["phc2sys"] is False
    assert got["network_transport"] == "L2"
    got = resolve_interfaces([{"name": "ens1f1", "phc2sys": False}], DEFAULTS)[0]
    assert got["time_stamping"] == "hardware" and got["phc2sys"] is False


def test_unknown_keys_are_listed_sorted():
    got = resolve_interfaces([{"name": "ens1f0", "domian": 1, "Transport": "L2"}], DEFAULTS)[0]
    assert got["unknown_keys"] == ["Transport", "domian"]
    assert "domian" not in got


def test_a_missing_default_is_none_and_other_items_become_names():
    got = resolve_interfaces([5], {})[0]
    assert got["name"] == 5 and got["time_stamping"] is None and got["phc2sys"] is False
    assert resolve_interfaces(None, DEFAULTS) == []
    assert set(resolve_interfaces(["a"], DEFAULTS)[0]) == set(IFACE_KEYS) | {"unknown_keys"}


# --- caps_from_bits -----------------------------------------------------------------------
def test_caps_from_bits_hardware():
    assert caps_from_bits({"so_timestamping": HARDWARE, "phc_index": 2}) == {
        "hw_tx": True, "hw_rx": True, "hw_raw": True, "sw_tx": True, "sw_rx": True, "sw_clock": True, "phc_index": 2}


def test_caps_from_bits_software_and_nothing():
    assert caps_from_bits({"so_timestamping": SOFTWARE, "phc_index": None}) == {
        "hw_tx": False, "hw_rx": False, "hw_raw": False, "sw_tx": True, "sw_rx": True, "sw_clock": True,
        "phc_index": None}
    assert caps_from_bits(None) == {"hw_tx": False, "hw_rx": False, "hw_raw": False, "sw_tx": False, "sw_rx": False,
                                    "sw_clock": False, "phc_index": None}
    # Each bit maps to its own key.
    assert caps_from_bits({"so_timestamping": SOF_RX_HARDWARE})["hw_rx"] is True
    assert caps_from_bits({"so_timestamping": SOF_RX_HARDWARE})["hw_tx"] is False


# --- interface_problems --------------------------------------------------------------------
def test_a_good_interface_has_no_problems():
    assert interface_problems(one()) == []
    assert interface_problems(one(name="enp0s2", time_stamping="software", network_transport="UDPv6",
                                  delay_mechanism="Auto", tx_timestamp_timeout=1000, domain=127)) == []


@pytest.mark.parametrize("name", ["", "a-name-that-is-16c", "ens 1", "ens1f0;", None, 3])
def test_a_bad_name_is_refused_naming_it(name):
    assert interface_problems(one(name=name)) == [
        "PTP interface %r: the name must be an interface name of up to 15 characters" % (name,)]


@pytest.mark.parametrize("entry, message", [
    ({"domian": 1}, "PTP interface ens1f0: unknown keys domian (allowed: name, time_stamping, domain, "
                    "network_transport, delay_mechanism, tx_timestamp_timeout, client_only, phc2sys)"),
    ({"time_stamping": "hw"}, "PTP interface ens1f0: time_stamping must be hardware or software, got 'hw'"),
    ({"domain": 128}, "PTP interface ens1f0: domain must be 0-127 (IEEE 1588 reserves 128-255), got 128"),
    ({"domain": -1}, "domain must be 0-127 (IEEE 1588 reserves 128-255), got -1"),
    ({"domain": "0"}, "domain must be 0-127 (IEEE 1588 reserves 128-255), got '0'"),
    ({"domain": True}, "domain must be 0-127 (IEEE 1588 reserves 128-255), got True"),
    ({"network_transport": "udpv4"}, "network_transport must be L2, UDPv4 or UDPv6, got 'udpv4'"),
    ({"delay_mechanism": "e2e"}, "delay_mechanism must be E2E, P2P or Auto, got 'e2e'"),
    ({"tx_timestamp_timeout": 0}, "tx_timestamp_timeout must be 1-1000 ms, got 0"),
    ({"tx_timestamp_timeout": 1001}, "tx_timestamp_timeout must be 1-1000 ms, got 1001"),
    ({"tx_timestamp_timeout": "10"}, "tx_timestamp_timeout must be 1-1000 ms, got '10'"),
    ({"client_only": "yes"}, "PTP interface ens1f0: client_only must be true or false, got 'yes'"),
    ({"phc2sys": 1}, "PTP interface ens1f0: phc2sys must be true or false, got 1"),
    ({"time_stamping": "software", "phc2sys": True},
     "PTP interface ens1f0: phc2sys needs hardware timestamping (software mode has no PHC to copy from)"),
])
def test_each_field_is_checked_naming_the_value(entry, message):
    got = interface_problems(one(**entry))
    assert len(got) == 1 and message in got[0], got


def test_the_boundaries_are_accepted():
    for entry in ({"domain": 0}, {"domain": 127}, {"tx_timestamp_timeout": 1}, {"tx_timestamp_timeout": 1000},
                  {"client_only": False}, {"delay_mechanism": "P2P"}, {"network_transport": "UDPv4"}):
        assert interface_problems(one(**entry)) == [], entry


# --- ptp_problems ----------------------------------------------------------------------------
def test_the_lab_input_has_no_problems():
    assert problems([one()]) == []
    # Software timestamping on a software-only NIC, without phc2sys.
    assert problems([one(name="enp0s2", time_stamping="software")], host(enp0s2=SOFTWARE)) == []


def test_no_interface_is_refused():
    assert problems([]) == ["ptp_interfaces is empty: name the PTP port(s), e.g. ptp_interfaces: [ens1f0]"]


def test_an_interface_listed_twice_is_refused_naming_it():
    got = problems([one(), one(phc2sys=False)])
    assert got == ["ptp_interfaces lists ens1f0 more than once"]


def test_two_disciplines_of_clock_realtime_are_refused_naming_them():
    facts = host(ens1f0=HARDWARE, ens1f1=HARDWARE, enp0s2=SOFTWARE)
    both_phc2sys = [one(), one(name="ens1f1")]
    assert problems(both_phc2sys, facts) == [
        "more than one instance would discipline CLOCK_REALTIME (ens1f0, ens1f1): software timestamping and phc2sys "
        "both do. Keep one; set phc2sys: false on the others"]
    assert problems([one(), one(name="ens1f1", phc2sys=False)], facts) == []
    software_and_phc2sys = [one(), one(name="enp0s2", time_stamping="software")]
    got = problems(software_and_phc2sys, facts)
    assert got and "(enp0s2, ens1f0)" in got[0]


def test_two_nameless_software_interfaces_are_refused_not_a_crash():
    ifaces = resolve_interfaces([{"time_stamping": "software"}, {"time_stamping": "software"}], DEFAULTS)
    got = problems(ifaces)
    assert any("the name must be an interface name" in p for p in got)


@pytest.mark.parametrize("cpu_affinity, needle", [
    ("", "ptp_cpu_affinity must be a non-empty kernel cpulist such as \"0-1,40-41\" (the plan's reserved_cpus), "
         "got ''"),
    (None, "got None"),
    ([0, 1], "got [0, 1]"),
    ("1-0", "range '1-0' runs backwards"),
    ("0,x", "item 'x' is not N or N-M"),
])
def test_a_bad_cpu_affinity_is_refused_naming_it(cpu_affinity, needle):
    got = problems([one()], cpu_affinity=cpu_affinity)
    assert len(got) == 1 and needle in got[0], got


@pytest.mark.parametrize("settings, message", [
    ({"sched_priority": 0}, "ptp_sched_priority must be 1-99, got 0"),
    ({"sched_priority": 100}, "ptp_sched_priority must be 1-99, got 100"),
    ({"sched_priority": "50"}, "ptp_sched_priority must be 1-99, got '50'"),
    ({"sched_priority": True}, "ptp_sched_priority must be 1-99, got True"),
    ({"servo": "pi"}, "ptp_servo must be a mapping whose clock_servo is pi or linreg, got 'pi'"),
    ({"servo": {"clock_servo": "nullf"}}, "ptp_servo must be a mapping whose clock_servo is pi or linreg, got "
                                          "{'clock_servo': 'nullf'}"),
    ({"threshold_ns": 0}, "ptp_offset_threshold_ns must be a positive number of ns, got 0"),
    ({"threshold_ns": -5.0}, "ptp_offset_threshold_ns must be a positive number of ns, got -5.0"),
    ({"threshold_ns": "100"}, "ptp_offset_threshold_ns must be a positive number of ns, got '100'"),
    ({"threshold_ns": True}, "ptp_offset_threshold_ns must be a positive number of ns, got True"),
    ({"summary_interval": 1.5}, "ptp_summary_interval must be an integer (log2 seconds), got 1.5"),
    ({"logging_level": 8}, "ptp_logging_level must be 0-7, got 8"),
    ({"logging_level": -1}, "ptp_logging_level must be 0-7, got -1"),
])
def test_each_setting_is_checked_naming_the_value(settings, message):
    assert problems([one()], **settings) == [message]


def test_setting_boundaries_and_servo_defaults():
    assert problems([one()], sched_priority=1, threshold_ns=0.5, summary_interval=-4, logging_level=0,
                    servo={}) == []
    assert problems([one()], sched_priority=99, logging_level=7, servo={"clock_servo": "linreg", "step_threshold": 1}) == []


def test_input_problems_come_before_the_host_is_looked_at():
    # A bad setting: the missing NIC is not even checked.
    assert problems([one(name="ens9")], sched_priority=0) == ["ptp_sched_priority must be 1-99, got 0"]


def test_unknown_nics_in_the_facts_are_refused():
    assert problems([one()], facts={}) == [
        "the host's NICs are unknown (no nics in the host facts: run quantbot.hft.host_facts first in this play)"]


def test_a_missing_nic_is_refused_naming_it_and_the_known_ones():
    assert problems([one(name="ens9")]) == [
        "PTP interface ens9 does not exist on this host (interfaces with a device: ens1f0)"]
    assert problems([one(name="ens9")], facts={"nics": {}}) == [
        "PTP interface ens9 does not exist on this host (interfaces with a device: none)"]


def test_unreadable_timestamping_capabilities_are_refused():
    assert problems([one()], host(ens1f0=None)) == [
        "cannot read the timestamping capabilities of ens1f0 (ETHTOOL_GET_TS_INFO failed)"]


def test_hardware_timestamping_on_a_software_nic_is_refused_naming_what_is_missing():
    got = problems([one()], host(ens1f0=SOFTWARE))
    assert len(got) == 1
    assert got[0].startswith("interface ens1f0 lacks hardware timestamping: missing hardware-transmit, "
                             "hardware-receive, hardware-raw-clock, PTP hardware clock (PHC)")
    assert "ptp_time_stamping: software" in got[0]


def test_hardware_bits_without_a_phc_are_refused():
    facts = {"nics": {"ens1f0": {"timestamping": {"so_timestamping": HARDWARE, "phc_index": None}}}}
    got = problems([one()], facts)
    assert len(got) == 1 and "missing PTP hardware clock (PHC)" in got[0]


def test_software_timestamping_needs_the_software_bits():
    iface = one(name="enp0s2", time_stamping="software")
    got = problems([iface], host(enp0s2=SOF_TX_SOFTWARE | SOF_RX_SOFTWARE))
    assert len(got) == 1 and "interface enp0s2 lacks software timestamping: missing software-system-clock" in got[0]
    assert problems([iface], host(enp0s2=SOFTWARE)) == []


# --- units_to_stop --------------------------------------------------------------------------
def unit(load="loaded", active="inactive", enabled="disabled"):
    return {"load": load, "active": active, "sub": "dead", "enabled": enabled, "result": "success"}


CONFLICTING = ["chrony.service", "systemd-timesyncd.service", "ntp.service", "ntpsec.service", "timemaster.service"]


def test_running_and_enabled_time_daemons_are_stopped_and_disabled():
    facts = {"units": {
        "chrony.service": unit(active="active", enabled="enabled"),
        "systemd-timesyncd.service": unit(active="inactive", enabled="enabled"),
        "ntp.service": unit(active="activating", enabled="static"),
        "ntpsec.service": unit(load="not-found", active="inactive", enabled=None),
        "timemaster.service": unit(active="inactive", enabled="disabled"),
    }}
    assert units_to_stop(facts, CONFLICTING, []) == [
        {"name": "chrony.service", "disable": True},
        {"name": "systemd-timesyncd.service", "disable": True},
        {"name": "ntp.service", "disable": False},  # static: stopped, cannot be disabled
    ]


@pytest.mark.parametrize("state, expected", [
    (unit(active="reloading", enabled="static"), [{"name": "chrony.service", "disable": False}]),
    (unit(active="active", enabled="generated"), [{"name": "chrony.service", "disable": False}]),
    (unit(active="inactive", enabled="enabled-runtime"), [{"name": "chrony.service", "disable": True}]),
    (unit(load="masked", active="inactive", enabled="masked"), []),
    (unit(active="failed", enabled="disabled"), []),
    (unit(load="not-found", active="active", enabled="enabled"), []),
])
def test_unit_states(state, expected):
    assert units_to_stop({"units": {"chrony.service": state}}, ["chrony.service"], []) == expected


def test_phc2sys_is_stopped_where_it_is_not_wanted():
    facts = {"units": {"phc2sys@ens1f0.service": unit(active="active", enabled="enabled"),
                       "phc2sys@ens1f1.service": unit(active="active", enabled="enabled")}}
    ifaces = [one(), one(name="ens1f1", phc2sys=False)]
    assert units_to_stop(facts, [], ifaces) == [{"name": "phc2sys@ens1f1.service", "disable": True}]
    # Software mode never wants phc2sys.
    assert units_to_stop(facts, [], [one(name="ens1f0", time_stamping="software")]) == [
        {"name": "phc2sys@ens1f0.service", "disable": True}]
    assert units_to_stop(facts, [], [one()]) == []


def test_no_units_in_the_facts_means_nothing_to_stop():
    assert units_to_stop({}, CONFLICTING, [one(phc2sys=False)]) == []
    assert units_to_stop(None, None, None) == []


def test_another_ptp4l_on_a_role_port_is_refused_naming_it():
    facts = dict(host(ens1f0=HARDWARE), ptp_owners={"interfaces": ["ens1f0"], "conflicts": [
        {"pid": 4242, "program": "ptp4l", "argv": ["ptp4l", "-i", "ens1f0", "-2"], "unit": "hft-test-ptp4l.service",
         "cgroup": "/system.slice/hft-test-ptp4l.service", "port": "ens1f0",
         "reason": "ptp4l on the same interface (-i ens1f0)"},
        {"pid": 7, "program": "ptp4l", "argv": ["ptp4l", "-i", "eth9"], "unit": None, "cgroup": None,
         "port": "eth9", "reason": "not this role's port"}]})
    got = problems([one()], facts)
    assert len(got) == 1
    assert "pid 4242 `ptp4l -i ens1f0 -2` (hft-test-ptp4l.service): ens1f0: ptp4l on the same interface" in got[0]
    assert "eth9" not in got[0]


def test_a_host_without_other_owners_or_without_the_reader_passes():
    assert problems([one()], dict(host(ens1f0=HARDWARE), ptp_owners={"conflicts": []})) == []
    assert problems([one()], dict(host(ens1f0=HARDWARE), ptp_owners=None)) == []
