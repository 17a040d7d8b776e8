# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The committed fixtures/latency/node8 tree is exactly what make_node8.py writes."""

from __future__ import annotations

import importlib.util
import os

HERE = os.path.dirname(os.path.abspath(__file__))
LAT = os.path.join(HERE, "fixtures", "latency")


def _files(root):
    found = {}
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as handle:
                found[os.path.relpath(path, root)] = handle.read()
    return found


def test_node8_matches_its_generator(tmp_path):
    spec = importlib.util.spec_from_file_location("make_node8", os.path.join(LAT, "make_node8.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.generate(str(tmp_path))
    committed = _files(os.path.join(LAT, "node8"))
    assert committed and committed == _files(str(tmp_path / "node8"))
