# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared fixtures of the host tuning and PTP/SR-IOV tests on the lab node."""

import json

import pytest

MARKERS = "/var/lib/quantbot-hft-test"


@pytest.fixture(scope="module")
def plan(host):
    """The plan the converge applied (recorded by molecule/host_tuning/record.yml)."""
    with host.sudo():
        return json.loads(host.file(f"{MARKERS}/plan.json").content_string)


@pytest.fixture(scope="session")
def cpuset():
    """A kernel cpulist ("2-3,6-7") as a set of CPU numbers."""
    def expand(cpulist):
        cpus = set()
        for item in cpulist.strip().split(","):
            if item:
                first, _sep, last = item.partition("-")
                cpus.update(range(int(first), int(last or first) + 1))
        return cpus
    return expand
