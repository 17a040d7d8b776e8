# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The committed generated fixtures are exactly what their generators write.

fixtures/sysfs (make_sysfs.py) holds only planner inputs; fixtures/latency/node8
(latency/make_node8.py) is the constructed HFT node of the latency tests.
"""

from __future__ import annotations

import importlib.util
import os
import re

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures")
SYSFS = os.path.join(FIXTURES, "sysfs")

# The files node_topology reads, and nothing else.
ALLOWED = re.compile(
    r"devices/system/cpu/online"
    r"|devices/system/cpu/cpu[0-9]+/topology/(physical_package_id|core_id|thread_siblings_list)"
    r"|devices/system/node/node[0-9]+/(cpulist|meminfo)"
    r"|class/net/[^/]+/device/(numa_node|sriov_totalvfs)"
)


def _load_generator(path=os.path.join(FIXTURES, "make_sysfs.py")):
    spec = importlib.util.spec_from_file_location(os.path.splitext(os.path.basename(path))[0], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _files(root):
    found = {}
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as handle:
                found[os.path.relpath(path, root)] = handle.read()
    return found


GENERATOR = _load_generator()


def test_every_shape_is_committed():
    assert sorted(os.listdir(SYSFS)) == sorted(GENERATOR.SHAPES)


@pytest.mark.parametrize("shape", sorted(GENERATOR.SHAPES))
def test_committed_tree_matches_generator(tmp_path, shape):
    GENERATOR.generate(str(tmp_path))
    assert _files(os.path.join(SYSFS, shape)) == _files(str(tmp_path / shape))


@pytest.mark.parametrize("shape", sorted(GENERATOR.SHAPES))
def test_tree_holds_only_planner_inputs(shape):
    files = _files(os.path.join(SYSFS, shape))
    assert files
    for rel, content in files.items():
        assert ALLOWED.fullmatch(rel.replace(os.sep, "/")), rel
        assert content.endswith(b"\n"), rel


def test_latency_node8_matches_its_generator(tmp_path):
    _load_generator(os.path.join(FIXTURES, "latency", "make_node8.py")).generate(str(tmp_path))
    committed = _files(os.path.join(FIXTURES, "latency", "node8"))
    assert committed and committed == _files(str(tmp_path / "node8"))
