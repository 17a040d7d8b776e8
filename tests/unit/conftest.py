# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared pytest set-up for the unit tests of quantbot.hft.

The checkout resolves as the collection through
``<repo>/.collections/ansible_collections/quantbot/hft`` (a symlink to the
repository root), so tests import plugins the Ansible way:
``from ansible_collections.quantbot.hft.plugins.module_utils._topology import ...``.
Under ``ansible-test units`` the collection is already importable and the
path below is not needed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys

import pytest

UNIT_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(UNIT_DIR))
COLLECTIONS = os.path.join(REPO_ROOT, ".collections")
FIXTURES = os.path.join(UNIT_DIR, "fixtures")
SYSFS = os.path.join(FIXTURES, "sysfs")
CMDLINES = os.path.join(FIXTURES, "cmdline")
SHAPES = ("xeon-2s-interleaved", "epyc-nps4", "small-4cpu", "lab-vm")

if os.path.isdir(COLLECTIONS) and COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)


def sysfs_path(shape):
    """Path of a captured sysfs tree under tests/unit/fixtures/sysfs."""
    path = os.path.join(SYSFS, shape)
    if not os.path.isdir(path):
        raise LookupError("no sysfs fixture %r under %s" % (shape, SYSFS))
    return path


def tree_digest(root):
    """One digest over every file's relative path, content and mode under root."""
    digest = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            digest.update(os.path.relpath(path, root).encode())
            digest.update(str(os.stat(path).st_mode).encode())
            with open(path, "rb") as handle:
                digest.update(handle.read())
    return digest.hexdigest()


@pytest.fixture
def sysfs():
    """sysfs("lab-vm") -> path of that captured tree."""
    return sysfs_path


@pytest.fixture
def digest():
    """digest(root) -> sha256 over the tree, to prove a run wrote nothing."""
    return tree_digest


@pytest.fixture
def sysfs_copy(tmp_path):
    """sysfs_copy("lab-vm") -> a writable copy of that tree, to break on purpose."""
    def _copy(shape):
        dest = tmp_path / shape
        shutil.copytree(sysfs_path(shape), str(dest))
        return dest
    return _copy


@pytest.fixture
def no_cmdline(tmp_path):
    """A cmdline path that does not exist (as when planning from a captured tree)."""
    return str(tmp_path / "no-such-cmdline")


@pytest.fixture(autouse=True)
def _module_side_warnings():
    """Run every test as the module side: importing controller code (a filter plugin) marks the whole
    process as the controller (ansible.module_utils._internal.is_controller), after which a module's
    warnings are no longer returned in its result."""
    from ansible.module_utils import _internal
    was = _internal.is_controller
    _internal.is_controller = False
    yield
    _internal.is_controller = was


@pytest.fixture(scope="session")
def promtool():
    """Path of promtool (scripts/promtool.sh fetches it; scripts/test.sh exports $PROMTOOL).

    Without $PROMTOOL the cached copy is used; the test is skipped only when neither
    exists (a bare pytest run on a machine that never ran the set-up).
    """
    path = os.environ.get("PROMTOOL")
    if path:
        if not os.access(path, os.X_OK):
            pytest.fail("PROMTOOL=%s is not an executable" % path)
        return path
    script = os.path.join(REPO_ROOT, "scripts", "promtool.sh")
    found = subprocess.run([script, "--path"], capture_output=True, text=True, check=False)
    if found.returncode != 0:
        pytest.skip("promtool is not cached (run scripts/promtool.sh --ensure)")
    return found.stdout.strip()
