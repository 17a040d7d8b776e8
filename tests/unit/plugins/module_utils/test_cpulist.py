# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""cpulist parsing and formatting (the kernel's "0-3,8,10-11" notation)."""

from __future__ import annotations

import random

import pytest

from ansible_collections.quantbot.hft.plugins.module_utils._topology import (
    TopologyError,
    format_cpulist,
    parse_cpulist,
)


@pytest.mark.parametrize("text, expected", [
    ("0-3,8,10-11", [0, 1, 2, 3, 8, 10, 11]),
    ("5", [5]),
    ("0-0", [0]),
    ("", []),
    ("8,0-1", [0, 1, 8]),              # any order in, sorted out
    ("0-3,2-5", [0, 1, 2, 3, 4, 5]),   # overlapping items merge
    ("0,2,4,6", [0, 2, 4, 6]),         # interleaved NUMA node as the kernel prints it
    ("0-1,40-41", [0, 1, 40, 41]),
    ("007", [7]),
])
def test_parse_cpulist(text, expected):
    assert parse_cpulist(text) == expected


@pytest.mark.parametrize("bad", [
    "1-", "a", "3-1", "1,,2", " ", "1, 2", "0-1 ", ",1", "1,", "-1", "1-2-3",
    "0-7:2/4",        # the kernel's stride form is not accepted here
    "0x3", "1.5", "\u0661",  # an Arabic-Indic digit one is not a CPU number
])
def test_parse_cpulist_bad_syntax_quotes_the_string(bad):
    with pytest.raises(TopologyError) as err:
        parse_cpulist(bad, what="reserved_cpus")
    msg = str(err.value)
    assert "bad cpulist syntax in reserved_cpus" in msg
    assert repr(bad) in msg


def test_parse_cpulist_backwards_range_is_named():
    with pytest.raises(TopologyError, match=r"range '3-1' runs backwards"):
        parse_cpulist("0,3-1")


@pytest.mark.parametrize("bad", [None, 3, ["0-1"]])
def test_parse_cpulist_refuses_non_strings(bad):
    with pytest.raises(TopologyError, match="is not a string"):
        parse_cpulist(bad)


@pytest.mark.parametrize("cpus, expected", [
    ([], ""),
    ([0], "0"),
    ([0, 1], "0-1"),
    ([41, 0, 40, 1], "0-1,40-41"),
    ([3, 1, 2, 2], "1-3"),
    (range(0, 80, 2), ",".join(str(c) for c in range(0, 80, 2))),
    ([1, 2, 3, 5, 9, 10], "1-3,5,9-10"),
])
def test_format_cpulist(cpus, expected):
    assert format_cpulist(cpus) == expected


def test_round_trip_on_random_sets():
    rng = random.Random(20261123)
    for _round in range(300):
        cpus = set(rng.sample(range(256), rng.randint(0, 64)))
        text = format_cpulist(cpus)
        assert parse_cpulist(text) == sorted(cpus)
        assert format_cpulist(parse_cpulist(text)) == text
