# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""HugePages rules (plugins/module_utils/_hugepages.py): the headroom rule, the role's refusals, the reboot decision.

``host`` is shaped like quantbot.hft.host_facts' result (``numa`` per node with
``memory_kb`` and ``hugepages`` totals, ``cmdline``). The lab VM's nodes
(1441788 kB and 1547836 kB MemTotal, tests/unit/fixtures/sysfs/lab-vm) are the
sizes used, so the boundaries are those the planner meets there.
"""

from __future__ import annotations

import pytest

from ansible_collections.quantbot.hft.plugins.module_utils._hugepages import (
    HEADROOM_MIN_KB,
    PAGE_KB,
    alloc_args,
    allocated,
    differs,
    fit_problem,
    limit_kb,
    pages_problems,
    parse_alloc_output,
    reboot_decision,
    running_counts,
    wanted,
)

NODE0_KB = 1441788   # lab-vm node 0 MemTotal
NODE1_KB = 1547836   # lab-vm node 1 MemTotal
BIG_KB = 64 * 1024 * 1024


def host(totals=None, cmdline="BOOT_IMAGE=/boot/vmlinuz ro quiet", memory=(NODE0_KB, NODE1_KB),
         sizes=("2M", "1G")):
    """host_facts with per-node page totals: totals = {(size, node): total}."""
    totals = totals or {}
    numa = {}
    for node, mem in enumerate(memory):
        pages = dict((size, {"total": totals.get((size, str(node)), 0), "free": 0}) for size in sizes)
        numa[str(node)] = {"cpus": "", "memory_kb": mem, "hugepages": pages}
    return {"numa": numa, "cmdline": cmdline}


# --- the headroom rule -----------------------------------------------------------------
def test_limit_keeps_at_least_256_mib_on_a_small_node():
    # 10% of 1441788 kB is 144178 kB < 256 MiB: the minimum wins.
    assert limit_kb(NODE0_KB) == NODE0_KB - HEADROOM_MIN_KB
    assert limit_kb(str(NODE0_KB)) == NODE0_KB - HEADROOM_MIN_KB


def test_limit_keeps_ten_percent_on_a_big_node():
    assert limit_kb(BIG_KB) == BIG_KB - BIG_KB // 10
    assert limit_kb(BIG_KB, percent=25) == BIG_KB - BIG_KB // 4
    assert limit_kb(BIG_KB, min_kb=BIG_KB // 2) == BIG_KB // 2


def test_limit_never_goes_negative():
    assert limit_kb(100000) == 0
    assert limit_kb(0) == 0


def test_fit_exactly_at_the_limit():
    limit = limit_kb(NODE0_KB)            # 1179644 kB
    fits = limit // PAGE_KB["2M"]         # 575 pages
    assert fit_problem("0", {"2M": fits}, NODE0_KB) is None
    problem = fit_problem("0", {"2M": fits + 1}, NODE0_KB)
    assert problem == ("hugepages do not fit NUMA node 0: 2M x 576 (1152 MiB) = 1152 MiB, but the node has MemTotal "
                       "1407 MiB and at most 1151 MiB may go to HugePages (MemTotal minus the larger of 10% and "
                       "256 MiB)")


def test_fit_adds_both_sizes():
    assert fit_problem("1", {"2M": 0, "1G": 1}, NODE1_KB) is None
    problem = fit_problem("1", {"2M": 128, "1G": 1}, NODE1_KB)
    assert "2M x 128 (256 MiB) + 1G x 1 (1024 MiB) = 1280 MiB" in problem
    assert fit_problem("1", {}, NODE1_KB) is None
    assert fit_problem("1", {"2M": 0}, 0) is None   # nothing wanted fits anywhere


def test_fit_names_the_headroom_settings():
    problem = fit_problem("3", {"1G": 60}, BIG_KB, percent=20, min_kb=1024 * 1024)
    assert problem.startswith("hugepages do not fit NUMA node 3: 1G x 60 ")
    assert problem.endswith("(MemTotal minus the larger of 20% and 1024 MiB)")
    assert fit_problem("3", {"1G": 51}, BIG_KB, percent=20, min_kb=1024 * 1024) is None


# --- wanted / alloc_args ----------------------------------------------------------------
def test_wanted_sorts_by_size_and_numeric_node():
    pages = {"2M": {"10": 1, "2": 3, 1: "4"}, "1G": {"0": 2}}
    assert wanted(pages) == [{"size": "1G", "node": "0", "count": 2}, {"size": "2M", "node": "1", "count": 4},
                             {"size": "2M", "node": "2", "count": 3}, {"size": "2M", "node": "10", "count": 1}]
    assert wanted(None) == []


def test_alloc_args_per_size_including_zeros():
    pages = {"2M": {"1": 1024, "0": 0}, "1G": {"1": 2}}
    assert alloc_args(pages) == ["0:0", "1:1024"]
    assert alloc_args(pages, "1G") == ["1:2"]
    assert alloc_args({"1G": {"1": 2}}) == []


# --- pages_problems ------------------------------------------------------------------------
GOOD = {"2M": {"0": 0, "1": 256}, "1G": {"0": 0, "1": 0}}


def test_the_lab_plan_has_no_problems():
    assert pages_problems(GOOD, [{"path": "/dev/hugepages", "pagesize": "2M"},
                                 {"path": "/dev/hugepages1G", "pagesize": "1G", "gid": "1000"}], host()) == []
    assert pages_problems({}, [], host()) == []


@pytest.mark.parametrize("pages", [
    [("2M", {"0": 1})],
    "2M: 64",
    {"4M": {"0": 1}},
    {"2M": [64]},
    {"2M": 64},
])
def test_a_malformed_mapping_is_refused_naming_it(pages):
    problems = pages_problems(pages, [], host())
    assert problems == ["hugepages_pages must map a page size (2M or 1G) to {NUMA node: count}, e.g. "
                        "{\"2M\": {\"1\": 1024}}; got %r" % (pages,)]


@pytest.mark.parametrize("node, count", [
    ("node1", 64), ("-1", 64), ("1", -1), ("1", "many"), ("1", 1.5), ("1", True), ("1", None), ("1", "6 4"),
])
def test_a_bad_node_or_count_is_refused_naming_it(node, count):
    problems = pages_problems({"2M": {node: count}}, [], host())
    assert problems == ["hugepages_pages[2M][%r] = %r: the node must be a NUMA node number and the count an "
                        "integer >= 0" % (node, count)]


def test_counts_as_digit_strings_and_int_nodes_are_accepted():
    assert pages_problems({"2M": {1: "256", "0": 0}}, [], host()) == []


@pytest.mark.parametrize("mount", [
    "/dev/hugepages",
    {"path": "dev/hugepages", "pagesize": "2M"},
    {"pagesize": "2M"},
    {"path": "/dev/hugepages", "pagesize": "4M"},
    {"path": "/dev/hugepages"},
    {"path": "/dev/hugepages", "pagesize": "2M", "gid": "hugetlb"},
])
def test_a_bad_mount_is_refused_naming_it(mount):
    problems = pages_problems(GOOD, [mount], host())
    assert problems == ["hugepages_mounts: %r needs an absolute path, a pagesize of 2M or 1G and, if given, a numeric "
                        "gid" % (mount,)]


def test_every_input_problem_at_once():
    problems = pages_problems({"2M": {"x": 1, "1": -2}}, [{"path": "rel", "pagesize": "2M"}], host())
    assert len(problems) == 3


def test_without_numa_facts_the_role_cannot_judge():
    for facts in (None, {}, {"numa": {}}):
        assert pages_problems(GOOD, [], facts) == [
            "no NUMA nodes in the host facts (is /sys/devices/system/node readable? run quantbot.hft.host_facts first "
            "in this play)"]


def test_an_unknown_node_is_refused_naming_it_and_the_known_ones():
    problems = pages_problems({"2M": {"7": 64}}, [], host())
    assert problems == ["hugepages_pages[2M] names NUMA node 7, but this host has only node(s) 0, 1 "
                        "(/sys/devices/system/node/node7 does not exist)"]


def test_a_size_the_node_does_not_support_is_refused():
    no_1g = host(sizes=("2M",))
    problems = pages_problems({"1G": {"1": 1}}, [], no_1g)
    assert problems == ["hugepages_pages[1G][1] = 1, but node 1 has no 1G page support (the CPU or kernel does not "
                        "support 1G pages; for 1G the CPU needs pdpe1gb)"]
    # Zero pages of an unsupported size ask for nothing.
    assert pages_problems({"1G": {"1": 0}}, [], no_1g) == []


def test_pages_that_do_not_fit_are_refused_with_the_headroom():
    problems = pages_problems({"2M": {"0": 576}}, [], host())
    assert len(problems) == 1 and problems[0].startswith("hugepages do not fit NUMA node 0: 2M x 576")
    assert pages_problems({"2M": {"0": 575}}, [], host()) == []
    # The headroom settings are the role's: a smaller minimum lets 576 fit.
    assert pages_problems({"2M": {"0": 576}}, [], host(), percent=10, min_mb=128) == []
    # Both sizes on one node add up.
    problems = pages_problems({"2M": {"1": 200}, "1G": {"1": 1}}, [], host())
    assert problems and "2M x 200 (400 MiB) + 1G x 1 (1024 MiB)" in problems[0]


def test_a_node_without_memtotal_is_not_judged():
    facts = host()
    facts["numa"]["0"]["memory_kb"] = None
    assert pages_problems({"2M": {"0": 100000}}, [], facts) == []


# --- running counts, differs, allocated ---------------------------------------------------
def test_running_counts_and_differs():
    facts = host({("2M", "1"): 256})
    assert running_counts(facts)[("2M", "1")] == 256
    assert differs(GOOD, facts) is False
    assert differs({"2M": {"1": 512}}, facts) is True
    # A node the host does not report differs (-1 is no count).
    assert differs({"2M": {"5": 0}}, facts) is True
    assert differs(GOOD, facts, "1G") is False
    assert differs({"1G": {"1": 1}}, facts, "1G") is True
    assert running_counts(None) == {}


def test_allocated_lists_what_holds_pages_with_its_sysfs_file():
    facts = host({("2M", "1"): 256, ("1G", "0"): 2})
    assert allocated(facts) == [
        {"size": "1G", "node": "0", "total": 2,
         "path": "/sys/devices/system/node/node0/hugepages/hugepages-1048576kB/nr_hugepages"},
        {"size": "2M", "node": "1", "total": 256,
         "path": "/sys/devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages"},
    ]
    assert allocated(host()) == []


# --- the allocation script's output ---------------------------------------------------------
def test_parse_alloc_output():
    out = "node0 2048kB: 0/0\nnode1 2048kB: 200/256\n  node10 2048kB: 5/5  \nno NUMA node to allocate\nnode2 2048kB: x/1\n"
    assert parse_alloc_output(out) == {"0": 0, "1": 200, "10": 5}
    assert parse_alloc_output(None) == {}


# --- reboot_decision ------------------------------------------------------------------------
BOOTED_2M = "BOOT_IMAGE=/boot/vmlinuz ro default_hugepagesz=2M hugepagesz=2M hugepages=1:256"


def test_no_reboot_when_the_counts_match():
    assert reboot_decision(GOOD, host({("2M", "1"): 256})) == {"required": False, "reason": "", "unfixable": []}


def test_short_without_the_boot_argument_needs_a_reboot():
    decision = reboot_decision(GOOD, host({("2M", "1"): 100}))
    assert decision == {"required": True, "reason": "2M pages on node 1: 100 of 256", "unfixable": []}


def test_short_although_the_kernel_booted_with_the_argument_is_unfixable():
    decision = reboot_decision(GOOD, host({("2M", "1"): 100}, cmdline=BOOTED_2M))
    assert decision["required"] is True
    assert decision["unfixable"] == [{"size": "2M", "node": "1", "want": 256, "have": 100}]


def test_a_different_boot_count_is_not_the_wanted_argument():
    # Booted with 128 pages, 256 wanted now: the reboot brings the new argument.
    decision = reboot_decision(GOOD, host({("2M", "1"): 128},
                                          cmdline="hugepagesz=2M hugepages=1:128"))
    assert decision["required"] is True and decision["unfixable"] == []
    # The same count after another size is not this size's argument.
    decision = reboot_decision(GOOD, host({("2M", "1"): 128}, cmdline="hugepagesz=1G hugepages=1:256"))
    assert decision["unfixable"] == []


def test_the_allocation_output_updates_the_count():
    facts = host({("2M", "1"): 0})  # read before the allocation ran
    alloc = {"changed": True, "rc": 0, "stdout": "node0 2048kB: 0/0\nnode1 2048kB: 256/256"}
    assert reboot_decision(GOOD, facts, alloc) == {"required": False, "reason": "", "unfixable": []}
    short = {"changed": True, "rc": 3, "stdout": "node0 2048kB: 0/0\nnode1 2048kB: 200/256"}
    assert reboot_decision(GOOD, facts, short)["reason"] == "2M pages on node 1: 200 of 256"
    assert reboot_decision(GOOD, host({("2M", "1"): 0}, cmdline=BOOTED_2M), short)["unfixable"] == [
        {"size": "2M", "node": "1", "want": 256, "have": 200}]


def test_a_skipped_allocation_is_ignored():
    facts = host({("2M", "1"): 256})
    skipped = {"skipped": True, "changed": False, "stdout": "node1 2048kB: 0/256"}
    assert reboot_decision(GOOD, facts, skipped)["required"] is False
    assert reboot_decision(GOOD, facts, {"skipped": True})["required"] is False


def test_check_mode_does_not_count_a_2m_difference():
    facts = host({("2M", "1"): 0})
    assert reboot_decision(GOOD, facts, None, check_mode=True) == {"required": False, "reason": "", "unfixable": []}
    assert reboot_decision(GOOD, facts, None, check_mode=False)["required"] is True
    # 1G pages are not allocated at run time: a difference counts in check mode too.
    pages = {"1G": {"1": 1}}
    assert reboot_decision(pages, facts, None, check_mode=True) == {
        "required": True, "reason": "1G pages on node 1: 0 of 1", "unfixable": []}


def test_1g_pages_booted_and_short_are_unfixable_and_every_short_node_is_named():
    pages = {"1G": {"0": 1, "1": 2}}
    facts = host({("1G", "0"): 0, ("1G", "1"): 1}, cmdline="hugepagesz=1G hugepages=0:1,1:2")
    decision = reboot_decision(pages, facts)
    assert decision["reason"] == "1G pages on node 0: 0 of 1; 1G pages on node 1: 1 of 2"
    assert [(u["node"], u["have"]) for u in decision["unfixable"]] == [("0", 0), ("1", 1)]


def test_pages_left_by_an_old_boot_argument_need_a_reboot_not_a_failure():
    pages = {"2M": {"1": 256}, "1G": {"0": 0, "1": 0}}
    booted = "hugepagesz=1G hugepages=1:4 hugepagesz=2M hugepages=1:256"
    facts = host({("2M", "1"): 256, ("1G", "1"): 4}, cmdline=booted)
    decision = reboot_decision(pages, facts)
    assert decision["required"] is True
    assert decision["unfixable"] == []
