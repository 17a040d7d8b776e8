# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Kernel command-line rules (plugins/module_utils/_cmdline.py).

hugepages= counts only after its hugepagesz= (the kernel applies it to the
page size parsed last), so every comparison here pairs them. The running
command lines come from tests/unit/fixtures/cmdline.
"""

from __future__ import annotations

import os

import pytest

from ansible_collections.quantbot.hft.plugins.module_utils import _cmdline
from ansible_collections.quantbot.hft.plugins.module_utils._cmdline import (
    arg_key,
    arg_problems,
    arg_value,
    booted_hugepages,
    foreign_args,
    isolcpus_domain_cpus,
    missing_args,
    stale_args,
    token_keys,
    tokens,
)
from ansible_collections.quantbot.hft.plugins.module_utils._topology import TopologyError, parse_cpulist

CMDLINES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "cmdline")


def cmdline(name):
    with open(os.path.join(CMDLINES, name)) as handle:
        return handle.read().strip()


# The plan that xeon-2s-applied.txt booted with.
APPLIED = ["isolcpus=managed_irq,2-39,42-79", "nohz_full=2-39,42-79", "rcu_nocbs=2-39,42-79",
           "irqaffinity=0-1,40-41", "default_hugepagesz=2M", "hugepagesz=2M", "hugepages=1:1024"]


# --- tokens ------------------------------------------------------------------------------
def test_tokens_of_strings_lists_and_none():
    assert tokens(None) == []
    assert tokens("") == []
    assert tokens("  ro   quiet\n") == ["ro", "quiet"]
    assert tokens(["a=1", 2]) == ["a=1", "2"]


def test_arg_key_and_last_value_wins():
    assert arg_key("isolcpus=managed_irq,2-3") == "isolcpus"
    assert arg_key("quiet") == "quiet"
    assert arg_value("isolcpus=1 isolcpus=2-3 nohz_full=2", "isolcpus") == "2-3"
    assert arg_value("quiet", "isolcpus") is None
    # A key that is a prefix of another is not confused with it.
    assert arg_value("hugepagesz=2M hugepages=0:4", "hugepages") == "0:4"


def test_token_keys_pair_hugepages_with_the_size_before_it():
    keys = token_keys("hugepages=0:8 hugepagesz=1G hugepages=0:4 quiet hugepagesz=2M hugepages=0:4")
    assert keys == [(None, "hugepages=0:8"), "hugepagesz=1G", ("1G", "hugepages=0:4"), "quiet",
                    "hugepagesz=2M", ("2M", "hugepages=0:4")]


# --- missing_args ------------------------------------------------------------------------
def test_nothing_missing_on_the_command_line_that_booted_the_plan():
    assert missing_args(APPLIED, cmdline("xeon-2s-applied.txt")) == []


def test_everything_missing_on_the_distribution_default():
    assert missing_args(APPLIED, cmdline("debian12-default.txt")) == APPLIED


def test_missing_when_the_running_command_line_is_unknown():
    assert missing_args(APPLIED, None) == APPLIED
    # ...but an empty command line is known: everything is missing from it too.
    assert missing_args(["quiet"], "") == ["quiet"]


def test_hugepages_after_another_size_is_missing():
    # xeon-2s-stale.txt has hugepages=1:1024 after hugepagesz=1G, not after 2M:
    # 1024 one-GiB pages instead of 1024 two-MiB pages.
    stale = cmdline("xeon-2s-stale.txt")
    assert "hugepages=1:1024" in stale.split()
    assert missing_args(APPLIED, stale) == ["isolcpus=managed_irq,2-39,42-79", "hugepages=1:1024"]


def test_hugepages_pairing_seen_both_ways():
    wanted = ["hugepagesz=1G", "hugepages=0:4"]
    assert missing_args(wanted, "hugepagesz=1G hugepages=0:4") == []
    assert missing_args(wanted, "hugepagesz=2M hugepages=0:4 hugepagesz=1G") == ["hugepages=0:4"]
    # A bare hugepages= (the default size) is not the 1G one either.
    assert missing_args(wanted, "hugepages=0:4 hugepagesz=1G") == ["hugepages=0:4"]


def test_missing_compares_exact_tokens():
    assert missing_args(["nohz_full=2-3"], "nohz_full=2-3,6-7") == ["nohz_full=2-3"]
    assert missing_args(["nohz_full=2-3"], "nohz_full=2-3") == []


# --- stale_args --------------------------------------------------------------------------
def test_stale_args_are_previous_not_wanted_and_still_running():
    previous = ["nohz_full=2-3", "rcu_nocbs=2-3", "quiet"]
    wanted = ["nohz_full=2-3"]
    running = "ro nohz_full=2-3 rcu_nocbs=2-3"
    # quiet was ours but no longer runs; rcu_nocbs was ours, is not wanted, still runs.
    assert stale_args(previous, wanted, running) == ["rcu_nocbs=2-3"]
    assert stale_args(previous, previous, running) == []
    assert stale_args([], wanted, running) == []


def test_stale_hugepages_are_paired_too():
    previous = ["hugepagesz=2M", "hugepages=0:64"]
    wanted = ["hugepagesz=1G", "hugepages=0:64"]
    running = "hugepagesz=2M hugepages=0:64"
    # Same token text, other size: the 2M one is stale (and the 2M size with it).
    assert stale_args(previous, wanted, running) == ["hugepagesz=2M", "hugepages=0:64"]
    assert stale_args(previous, previous, running) == []


# --- arg_problems ------------------------------------------------------------------------
def test_the_plan_has_no_problems():
    assert arg_problems(APPLIED) == []
    assert arg_problems([]) == []
    # One hugepages= per size, sizes interleaved: what the kernel wants.
    assert arg_problems(["hugepagesz=2M", "hugepages=0:64", "hugepagesz=1G", "hugepages=0:64"]) == []


@pytest.mark.parametrize("args", ["quiet nohz_full=2", {"quiet": True}, None, 3])
def test_not_a_list_is_refused_naming_the_value(args):
    problems = arg_problems(args, "boot_args_kernel_args")
    assert problems == ["boot_args_kernel_args must be a list of kernel arguments, got %r" % (args,)]


@pytest.mark.parametrize("bad", ["nohz_full=2 rcu_nocbs=2", "quiet;reboot", "a=\"b\"", "", "x$(id)", "tab\there", 7])
def test_a_token_that_is_not_one_argument_is_refused_naming_it(bad):
    problems = arg_problems(["quiet", bad])
    assert len(problems) == 1
    assert "%r is not a single kernel argument" % (bad,) in problems[0]
    assert arg_problems(["quiet"]) == []


def test_every_bad_token_is_reported():
    problems = arg_problems(["a b", "ok", "c;d"], "kernel_args")
    assert [p.split(":", 1)[0] for p in problems] == ["kernel_args", "kernel_args"]
    assert "'a b'" in problems[0] and "'c;d'" in problems[1]


def test_duplicate_token_and_duplicate_key_are_refused_naming_them():
    problems = arg_problems(["quiet", "isolcpus=2-3", "quiet", "isolcpus=4-5"])
    assert problems == ["kernel arguments have duplicates: quiet, isolcpus (only hugepagesz and hugepages may "
                        "repeat, once per page size)"]
    assert arg_problems(["quiet", "isolcpus=2-3"]) == []


def test_duplicate_key_alone():
    problems = arg_problems(["nohz_full=2-3", "nohz_full=2-3,6-7"])
    assert len(problems) == 1 and "duplicates: nohz_full " in problems[0]


def test_hugepages_may_repeat_across_sizes_only():
    ok = ["hugepagesz=2M", "hugepages=0:4", "hugepagesz=1G", "hugepages=0:4"]
    assert arg_problems(ok) == []
    problems = arg_problems(["hugepagesz=2M", "hugepages=0:4", "hugepagesz=2M", "hugepages=0:8"])
    assert len(problems) == 1 and "hugepagesz=2M" in problems[0]


def test_repeated_hugepagesz_is_named_once():
    problems = arg_problems(["hugepagesz=2M", "hugepages=0:4", "hugepagesz=2M", "hugepages=0:8"])
    assert problems[0].count("hugepagesz=2M") == 1, problems


def test_two_hugepages_for_one_size_are_refused():
    problems = arg_problems(["hugepagesz=2M", "hugepages=0:4", "hugepages=1:4"])
    assert problems and "hugepages=1:4" in problems[0]


# --- foreign_args ------------------------------------------------------------------------
def test_foreign_args_are_owned_keys_with_values_nobody_here_set():
    owned = ["isolcpus=managed_irq,2-3", "nohz_full=2-3"]
    running = "BOOT_IMAGE=/vmlinuz ro quiet isolcpus=1-3 nohz_full=2-3 rcu_nocbs=1-3"
    # isolcpus=1-3 came from elsewhere; rcu_nocbs is not a key we own; quiet neither.
    assert foreign_args(running, owned, []) == ["isolcpus=1-3"]


def test_a_value_we_set_earlier_is_not_foreign():
    owned = ["isolcpus=2-3"]
    running = "ro isolcpus=1-3"
    assert foreign_args(running, owned, ["isolcpus=1-3"]) == []
    assert foreign_args(running, owned, None) == ["isolcpus=1-3"]


def test_no_foreign_args_on_the_applied_command_line():
    assert foreign_args(cmdline("xeon-2s-applied.txt"), APPLIED, []) == []
    assert foreign_args(cmdline("debian12-default.txt"), APPLIED, []) == []


def test_foreign_hugepages_on_the_stale_command_line():
    # xeon-2s-stale.txt: isolcpus without managed_irq, and an extra hugepagesz=1G from another owner.
    foreign = foreign_args(cmdline("xeon-2s-stale.txt"), APPLIED, [])
    assert foreign == ["isolcpus=2-39,42-79", "hugepagesz=1G"]


# --- isolcpus_domain_cpus ----------------------------------------------------------------
@pytest.mark.parametrize("args, cpus", [
    ("isolcpus=2-3,6-7", {2, 3, 6, 7}),                      # no flag: domain isolation
    ("isolcpus=domain,2-3", {2, 3}),
    ("isolcpus=managed_irq,domain,2-3,6-7", {2, 3, 6, 7}),
    ("isolcpus=domain,managed_irq,5", {5}),
    ("isolcpus=managed_irq,2-3", set()),                     # flags without domain: the file stays empty
    ("isolcpus=nohz,managed_irq,2-3", set()),
    ("nohz_full=2-3 rcu_nocbs=2-3", set()),                  # nohz_full alone does not show there
    ("", set()),
    ("isolcpus=1 isolcpus=domain,4", {4}),                   # the last one wins, as arg_value
])
def test_isolcpus_domain_cpus(args, cpus):
    assert isolcpus_domain_cpus(args, parse_cpulist) == cpus


def test_isolcpus_domain_cpus_from_the_fixtures():
    assert isolcpus_domain_cpus(cmdline("xeon-2s-applied.txt"), parse_cpulist) == set()  # managed_irq only
    stale = isolcpus_domain_cpus(cmdline("xeon-2s-stale.txt"), parse_cpulist)
    assert stale == set(range(2, 40)) | set(range(42, 80))


def test_isolcpus_with_a_bad_cpulist_raises_naming_it():
    with pytest.raises(TopologyError, match="isolcpus.*3-1"):
        isolcpus_domain_cpus("isolcpus=domain,3-1", parse_cpulist)


# --- booted_hugepages --------------------------------------------------------------------
def test_booted_hugepages_by_size():
    assert booted_hugepages(cmdline("xeon-2s-applied.txt")) == {"2M": "hugepages=1:1024"}
    assert booted_hugepages(cmdline("xeon-2s-stale.txt")) == {"1G": "hugepages=1:1024"}
    assert booted_hugepages(cmdline("debian12-default.txt")) == {}
    assert booted_hugepages(None) == {}


def test_booted_hugepages_needs_its_size_first():
    assert booted_hugepages("hugepages=0:8 hugepagesz=2M") == {}
    assert booted_hugepages("hugepagesz=2M hugepages=0:8 hugepagesz=1G hugepages=0:2") == {
        "2M": "hugepages=0:8", "1G": "hugepages=0:2"}


def test_cmdline_error_is_a_value_error():
    assert issubclass(_cmdline.CmdlineError, ValueError)
