# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run a module's main() in a unit test, with run_command and get_bin_path stubbed (helper, not a test)."""

from __future__ import annotations

import json

import pytest

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args


def call_main(capsys, monkeypatch, module, args, runner, bins):
    """(exit code, result) of module.main() with args; runner(argv) stands in for run_command, bins for PATH."""
    monkeypatch.setattr(AnsibleModule, "run_command", lambda self, argv, **kwargs: runner(argv, **kwargs))
    monkeypatch.setattr(AnsibleModule, "get_bin_path",
                        lambda self, name, required=False, opt_dirs=None: bins.get(name))
    with patch_module_args(args):
        with pytest.raises(SystemExit) as exc:
            module.main()
    return exc.value.code, json.loads(capsys.readouterr().out)
