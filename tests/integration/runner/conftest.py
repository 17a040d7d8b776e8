# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The ``lab`` marker of the ansible-runner tests (helpers: hft_runner.py).

Tests marked ``lab`` need the lab VM (``.venv/bin/hftlab up``; the instance is
``$HFTLAB_INSTANCE``, default ``default``). They are skipped, with the reason,
when ``hftlab status`` does not report it running with SSH reachable. They
never boot it. With ``HFTLAB_REQUIRED=1`` (the lab tier of CI) a lab that is
not running is an error instead of a skip.
"""

from __future__ import annotations

import os

import pytest

from hft_runner import lab_status


def pytest_configure(config):
    config.addinivalue_line("markers", "lab: runs against the lab VM (hftlab); skipped when it is not running")


def pytest_collection_modifyitems(config, items):
    # The marker, not item.keywords: keywords also hold directory names (lab/tests).
    lab_items = [item for item in items if item.get_closest_marker("lab") is not None]
    if not lab_items:
        return
    running, reason = lab_status()
    if not running and os.environ.get("HFTLAB_REQUIRED") == "1":
        # CI's lab tier: a lab that is not up must fail the run, not skip it.
        raise pytest.UsageError("HFTLAB_REQUIRED=1 but " + reason)
    if not running:
        skip = pytest.mark.skip(reason=reason)
        for item in lab_items:
            item.add_marker(skip)
