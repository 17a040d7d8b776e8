# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""node_validate's inputs (module_utils/_validate.py check_plan, check_requests): refused, and why."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.quantbot.hft.plugins.module_utils._validate import (
    PLAN_KEYS,
    ValidateError,
    check_plan,
    check_requests,
)

PLAN = {
    "reserved_cpus": "0-1,4-5",
    "isolated_cpus": "2-3,6-7",
    "hft_numa_node": 1,
    "hugepages": {"2M": {"0": 0, "1": 1024}, "1G": {"0": 0, "1": 0}},
    "kernel_args": ["isolcpus=managed_irq,2-3,6-7", "nohz_full=2-3,6-7", "hugepagesz=2M", "hugepages=1:1024"],
    "cmdline_missing": [],
    "reboot_required": False,
}
WHAT_A_PLAN_HAS = "a plan (the plan that quantbot.hft.node_topology returns) has " + ", ".join(PLAN_KEYS)


def test_a_plan_and_no_plan_pass():
    check_plan(PLAN)
    check_plan(None)


def test_the_whole_registered_result_of_node_topology_is_refused():
    registered = {"changed": False, "failed": False, "plan": PLAN, "topology": {"online_cpus": "0-7"}, "warnings": []}
    with pytest.raises(ValidateError) as err:
        check_plan(registered)
    assert str(err.value) == (
        'plan looks like the whole registered result of quantbot.hft.node_topology (keys: changed, failed, plan, '
        'topology, warnings); give its plan, for example plan: "{{ __hft_topology.plan }}" (%s)' % WHAT_A_PLAN_HAS)


def plan_with(path, value):
    plan = copy.deepcopy(PLAN)
    where = plan
    for key in path[:-1]:
        where = where[key]
    if value is KeyError:
        del where[path[-1]]
    else:
        where[path[-1]] = value
    return plan


@pytest.mark.parametrize("plan, message", [
    (["isolcpus=2-3"], "plan is a list, not a mapping; " + WHAT_A_PLAN_HAS),
    ({}, "plan has no keys but lacks reserved_cpus, isolated_cpus, hft_numa_node, hugepages, kernel_args; "
         + WHAT_A_PLAN_HAS),
    (plan_with(["hugepages"], KeyError), "plan has cmdline_missing, hft_numa_node, isolated_cpus, kernel_args, "
                                         "reboot_required, reserved_cpus but lacks hugepages; " + WHAT_A_PLAN_HAS),
    (plan_with(["hugepages", "2M", "1"], "1024x"), "plan.hugepages.2M.1 is '1024x', not a whole number of pages"),
    (plan_with(["hugepages", "2M", "1"], 1.5), "plan.hugepages.2M.1 is 1.5, not a whole number of pages"),
    (plan_with(["hugepages", "2M", "1"], "1024"), "plan.hugepages.2M.1 is '1024', not a whole number of pages"),
    (plan_with(["hugepages", "1G", "0"], -1), "plan.hugepages.1G.0 is -1, not a whole number of pages (0 or more)"),
    (plan_with(["hugepages", "1G", "0"], True), "plan.hugepages.1G.0 is True, not a whole number of pages"),
    (plan_with(["hugepages", "2M"], 1024), "plan.hugepages.2M must map NUMA nodes to page counts, not 1024"),
    (plan_with(["hugepages"], [1024]), "plan.hugepages must map a page size to pages per NUMA node"),
    (plan_with(["kernel_args"], "isolcpus=2-3 nohz_full=2-3"), "plan.kernel_args must be a list of kernel arguments"),
    (plan_with(["isolated_cpus"], [2, 3]), "plan.isolated_cpus must be a cpulist string"),
    (plan_with(["reserved_cpus"], "1-0"), "plan.reserved_cpus"),
    (plan_with(["hft_numa_node"], "1"), "plan.hft_numa_node must be a NUMA node number (0 or more), not '1'"),
    (plan_with(["hft_numa_node"], -1), "plan.hft_numa_node must be a NUMA node number (0 or more), not -1"),
])
def test_what_is_not_a_plan_is_refused_naming_the_value(plan, message):
    with pytest.raises(ValidateError) as err:
        check_plan(plan)
    assert message in str(err.value)


@pytest.mark.parametrize("vf_request, hugepages_request, message", [
    (-1, "1Gi", "vf_request must be a whole number of VFs (0 or more), not -1"),
    ("2", "1Gi", "vf_request must be a whole number of VFs (0 or more), not '2'"),
    (1, "-1Gi", "hugepages_request must not be negative, not '-1Gi'"),
    (1, "lots", "not a Kubernetes quantity: 'lots'"),
])
def test_bad_requests_are_refused(vf_request, hugepages_request, message):
    with pytest.raises(ValidateError) as err:
        check_requests(vf_request, hugepages_request)
    assert message in str(err.value)


def test_good_requests_pass():
    check_requests(0, "0")
    check_requests(2, "2Gi")
