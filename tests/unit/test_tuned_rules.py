# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""tuned role rules (plugins/module_utils/_tuned.py): its refusals and its reboot decision.

``host`` is shaped like quantbot.hft.host_facts' result; the default one is
the lab VM (CPUs 0-7, node 0 = 0-3, node 1 = 4-7) with tuned installed.
"""

from __future__ import annotations

import pytest

from ansible_collections.quantbot.hft.plugins.module_utils._tuned import (
    pid1_on_isolated,
    profile_name_problems,
    reboot_decision,
    tuned_problems,
)

PROFILES = ["balanced", "cpu-partitioning", "latency-performance", "network-latency"]


def host(**overrides):
    facts = {
        "cpus": {"online": "0-7"},
        "numa": {"0": {"cpus": "0-3"}, "1": {"cpus": "4-7"}},
        "tuned": {"active_profile": "balanced", "profiles": list(PROFILES)},
        "sysctl_files": {},
        "irqbalance": {"env_files": ["/etc/default/irqbalance"], "banned": []},
        "pid1": {"cpus_allowed": "0-1,4-5"},
    }
    facts.update(overrides)
    return facts


def problems(isolated="2-3,6-7", no_balance="", profile_name="quantbot-hft", parent="cpu-partitioning",
             sysctls=None, facts=None, irqbalance_manage=True, known_profiles=()):
    return tuned_problems(isolated, no_balance, profile_name, parent, sysctls or {"kernel.numa_balancing": 0},
                          host() if facts is None else facts, irqbalance_manage, known_profiles)


def test_the_lab_input_has_no_problems():
    assert problems() == []
    assert problems(no_balance="2-3") == []
    assert problems(isolated="1-3,5-7", no_balance="5-7") == []


# --- profile names -----------------------------------------------------------------------
@pytest.mark.parametrize("name", ["../etc", "a/b", "a..b", "my profile", "", " quantbot", ".hidden", None, 7])
def test_a_bad_profile_name_is_refused_naming_it(name):
    got = problems(profile_name=name)
    assert got == ["tuned_profile_name must be a tuned profile name (letters, digits and _ . + -, no '/', no '..', "
                   "no spaces), got %r" % (name,)]


@pytest.mark.parametrize("name", ["quantbot-hft", "hft_2", "a.b", "x+y", "0day"])
def test_good_profile_names(name):
    assert profile_name_problems(name, "tuned_profile_name") == []


def test_a_bad_parent_name_is_refused_naming_it():
    assert problems(parent="cpu partitioning") == [
        "tuned_parent_profile must be a tuned profile name (letters, digits and _ . + -, no '/', no '..', no spaces), "
        "got 'cpu partitioning'"]


def test_an_unknown_parent_is_refused_listing_the_hosts_profiles():
    assert problems(parent="cpu-partition") == [
        "tuned_parent_profile 'cpu-partition' is not a tuned profile on this host (profiles: balanced, "
        "cpu-partitioning, latency-performance, network-latency)"]


def test_without_tuned_installed_the_platforms_profiles_decide():
    facts = host(tuned=None)
    # Nothing to compare with: accepted.
    assert problems(parent="cpu-partition", facts=facts) == []
    # The platform's package list is known: refused against it.
    got = problems(parent="cpu-partition", facts=facts, known_profiles=("cpu-partitioning", "balanced"))
    assert got == ["tuned_parent_profile 'cpu-partition' is not a tuned profile on this host (profiles: balanced, "
                   "cpu-partitioning)"]
    assert problems(parent="cpu-partitioning", facts=facts, known_profiles=("cpu-partitioning",)) == []
    # tuned installed: its own list wins over the package list.
    assert problems(parent="network-latency", known_profiles=("cpu-partitioning",)) == []


def test_a_profile_that_includes_itself_is_refused():
    facts = host(tuned={"profiles": PROFILES + ["quantbot-hft"]})
    assert problems(profile_name="quantbot-hft", parent="quantbot-hft", facts=facts) == [
        "tuned_parent_profile must differ from tuned_profile_name ('quantbot-hft' includes itself)"]


# --- the isolated CPUs ---------------------------------------------------------------------
@pytest.mark.parametrize("isolated", ["", "   ", None, 23])
def test_empty_or_non_string_isolated_cores_are_refused_naming_them(isolated):
    assert problems(isolated=isolated) == [
        "tuned_isolated_cores must be a non-empty kernel cpulist such as \"2-3,6-7\", got %r" % (isolated,)]


@pytest.mark.parametrize("isolated, needle", [
    ("2-3,x", "item 'x' is not N or N-M"),
    ("2-3 6-7", "'2-3 6-7'"),
    ("3-1", "range '3-1' runs backwards"),
    ("2-3,", "item '' is not N or N-M"),
])
def test_a_malformed_cpulist_is_refused_naming_it(isolated, needle):
    got = problems(isolated=isolated)
    assert len(got) == 1 and "tuned_isolated_cores" in got[0] and needle in got[0], got


def test_a_malformed_no_balance_list_is_refused_naming_it():
    got = problems(no_balance="5-4")
    assert len(got) == 1 and "tuned_no_balance_cores" in got[0] and "'5-4'" in got[0]


def test_cpu_0_cannot_be_isolated():
    assert problems(isolated="0-3,6-7") == [
        "tuned_isolated_cores 0-3,6-7 holds CPU 0: the boot CPU does the timekeeping and cannot be isolated",
        "tuned_isolated_cores 0-3,6-7 isolates every CPU of NUMA node 0 (0-3); each node needs a housekeeping CPU "
        "for its IRQs, kernel threads and memory management"]
    assert problems(isolated="0", facts=host(numa={})) == [
        "tuned_isolated_cores 0 holds CPU 0: the boot CPU does the timekeeping and cannot be isolated"]


def test_offline_cpus_are_refused_naming_them():
    assert problems(isolated="2-3,6-9,12") == [
        "tuned_isolated_cores 2-3,6-9,12 has CPU(s) 8-9,12 that are not online on this host (online: 0-7)"]


def test_isolating_every_online_cpu_is_refused():
    facts = host(cpus={"online": "1-3"}, numa={"0": {"cpus": "0-3"}})
    got = problems(isolated="1-3", facts=facts)
    assert got == ["tuned_isolated_cores 1-3 isolates every online CPU; the kernel, system daemons and IRQs need at "
                   "least one housekeeping CPU"]
    assert problems(isolated="2-3", facts=facts) == []


def test_isolating_every_cpu_of_a_node_is_refused_naming_the_node():
    assert problems(isolated="2-7") == [
        "tuned_isolated_cores 2-7 isolates every CPU of NUMA node 1 (4-7); each node needs a housekeeping CPU for its "
        "IRQs, kernel threads and memory management"]
    assert problems(isolated="2-6") == []


def test_a_node_without_cpus_is_not_a_node_to_keep_a_housekeeping_cpu_on():
    # A memory-only node (CXL, NVDIMM) has an empty cpulist.
    facts = host(numa={"0": {"cpus": "0-3"}, "1": {"cpus": "4-7"}, "2": {"cpus": ""}})
    assert problems(facts=facts) == []


def test_a_broken_node_cpulist_is_reported():
    facts = host(numa={"0": {"cpus": "0-3"}, "1": {"cpus": "7-4"}})
    got = problems(facts=facts)
    assert len(got) == 1 and "node 1 CPUs" in got[0] and "'7-4'" in got[0]


def test_unknown_online_cpus_are_refused():
    assert problems(facts=host(cpus={})) == [
        "the online CPUs are unknown (no cpus.online in the host facts: run quantbot.hft.host_facts first in this "
        "play)"]
    assert problems(facts={})[-1].startswith("the online CPUs are unknown")


def test_no_balance_outside_the_isolated_cpus_is_refused_naming_them():
    assert problems(no_balance="2-4,7") == [
        "tuned_no_balance_cores 2-4,7 has CPU(s) 4 that are not in tuned_isolated_cores 2-3,6-7"]


# --- other owners -----------------------------------------------------------------------
def test_a_sysctl_file_setting_an_owned_sysctl_is_refused_naming_the_file_and_line():
    facts = host(sysctl_files={"kernel.numa_balancing": ["/etc/sysctl.d/99-admin.conf:3", "/etc/sysctl.conf:9"],
                               "vm.swappiness": ["/etc/sysctl.conf:2"]})
    got = problems(facts=facts, sysctls={"kernel.numa_balancing": 0, "kernel.nmi_watchdog": 0})
    assert got == ["these sysctl files set sysctls that the quantbot-hft tuned profile owns: kernel.numa_balancing "
                   "(/etc/sysctl.d/99-admin.conf:3, /etc/sysctl.conf:9). Remove the lines (tuned must be their only "
                   "owner) or drop the keys from tuned_sysctls"]
    # A key the profile does not own is not a clash.
    assert problems(facts=facts, sysctls={"kernel.nmi_watchdog": 0}) == []


def test_irqbalance_banned_cpus_set_elsewhere_are_refused_unless_the_role_leaves_irqbalance_alone():
    line = "/etc/default/irqbalance:2: IRQBALANCE_BANNED_CPULIST=2-3"
    facts = host(irqbalance={"env_files": ["/etc/default/irqbalance"], "banned": [line]})
    assert problems(facts=facts) == [
        line + "; the tuned role owns irqbalance's banned CPUs (systemd drop-in). Comment the line out, or set "
        "tuned_irqbalance_manage=false"]
    assert problems(facts=facts, irqbalance_manage=False) == []


def test_every_problem_is_reported_at_once():
    facts = host(sysctl_files={"kernel.numa_balancing": ["/etc/sysctl.conf:1"]},
                 irqbalance={"banned": ["/etc/default/irqbalance:1: IRQBALANCE_BANNED_CPUS=0c"]})
    got = problems(isolated="0-9", parent="nope", facts=facts, no_balance="2")
    assert [p.split(" ")[0] for p in got] == ["tuned_parent_profile", "tuned_isolated_cores", "tuned_isolated_cores",
                                              "tuned_isolated_cores", "tuned_isolated_cores", "tuned_isolated_cores",
                                              "these", "/etc/default/irqbalance:1:"]


# --- the reboot decision -----------------------------------------------------------------
def test_pid1_on_isolated_cpus_needs_a_reboot():
    facts = host(pid1={"cpus_allowed": "0-7"})
    assert pid1_on_isolated(facts, "2-3,6-7") == [2, 3, 6, 7]
    assert reboot_decision(facts, "2-3,6-7") == {
        "required": True,
        "reason": "PID 1 may still run on isolated CPU(s) 2-3,6-7; systemd applies CPUAffinity from "
                  "/etc/systemd/system.conf at boot"}


def test_pid1_on_housekeeping_cpus_needs_no_reboot():
    assert pid1_on_isolated(host(), "2-3,6-7") == []
    assert reboot_decision(host(), "2-3,6-7") == {"required": False, "reason": ""}


def test_pid1_partly_on_isolated_cpus_names_only_those():
    facts = host(pid1={"cpus_allowed": "0-2"})
    assert reboot_decision(facts, "2-3,6-7")["reason"].startswith("PID 1 may still run on isolated CPU(s) 2;")


def test_unknown_or_unreadable_pid1_affinity_is_no_reboot_reason():
    for pid1 in (None, {}, {"cpus_allowed": None}, {"cpus_allowed": "ff"}, {"cpus_allowed": "0-x"}):
        assert reboot_decision(host(pid1=pid1), "2-3") == {"required": False, "reason": ""}, pid1
    assert pid1_on_isolated(host(pid1={"cpus_allowed": "0-7"}), "3-2") == []


def test_check_mode_reports_no_reboot():
    facts = host(pid1={"cpus_allowed": "0-7"})
    assert reboot_decision(facts, "2-3,6-7", check_mode=True) == {"required": False, "reason": ""}
    assert reboot_decision(facts, "2-3,6-7", check_mode=False)["required"] is True


@pytest.mark.parametrize("settings, needle", [
    ({"tuned_timer_migration": "zero"}, "tuned_timer_migration must be an integer >= 0"),
    ({"tuned_stat_interval": -1}, "tuned_stat_interval must be an integer >= 0"),
    ({"tuned_cstates": -5}, "tuned_cstates must be n/a"),
    ({"tuned_thp": "sometimes"}, "tuned_thp must be one of always, madvise, never"),
    ({"tuned_governor": "per formance"}, "tuned_governor must be a cpufreq governor name"),
])
def test_a_bad_latency_knob_on_the_role_is_refused_naming_the_variable(settings, needle):
    found = tuned_problems("2-3,6-7", "", "quantbot-hft", "cpu-partitioning", {}, host(), settings=settings)
    assert len(found) == 1 and needle in found[0], found


def test_latency_knobs_off_or_0_are_accepted_on_the_role():
    settings = {"tuned_timer_migration": 0, "tuned_stat_interval": False, "tuned_cstates": 0,
                "tuned_thp": None, "tuned_governor": ""}
    assert tuned_problems("2-3,6-7", "", "quantbot-hft", "cpu-partitioning", {}, host(), settings=settings) == []
