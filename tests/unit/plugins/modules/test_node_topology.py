# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""quantbot.hft.node_topology run through its main(), as Ansible runs it."""

from __future__ import annotations

import json

import pytest
import yaml

from ansible.module_utils.testing import patch_module_args

from ansible_collections.quantbot.hft.plugins.modules import node_topology


def run_module(capsys, args):
    """Run the module's main() with args; return (exit code, parsed JSON result)."""
    with patch_module_args(args):
        with pytest.raises(SystemExit) as exc:
            node_topology.main()
    out = capsys.readouterr().out
    return exc.value.code, json.loads(out)


def warning_texts(result):
    """Warning messages; ansible-core 2.19 wraps each in a WarningSummary dict."""
    texts = []
    for warning in result.get("warnings", []):
        texts.append(warning["event"]["msg"] if isinstance(warning, dict) else warning)
    return texts


def test_plan_is_returned_and_nothing_changes(capsys, sysfs, no_cmdline):
    code, result = run_module(capsys, {
        "sysfs_root": sysfs("xeon-2s-interleaved"),
        "cmdline_path": no_cmdline,
        "nics": ["ens1f0", "ens1f1"],
    })
    assert code == 0
    assert result["changed"] is False
    assert "failed" not in result
    assert result["plan"]["reserved_cpus"] == "0-1,40-41"
    assert result["plan"]["isolated_cpus"] == "2-39,42-79"
    assert result["plan"]["hft_numa_node"] == 1
    assert result["plan"]["reboot_required"] is True
    assert result["topology"]["numa_nodes"]["1"]["memory_kb"] == 198174504
    assert "warnings" not in result


def test_check_mode_gives_the_same_plan(capsys, sysfs, no_cmdline):
    args = {"sysfs_root": sysfs("epyc-nps4"), "cmdline_path": no_cmdline, "nics": ["ens3f0np0"]}
    _code, normal = run_module(capsys, args)
    code, checked = run_module(capsys, dict(args, _ansible_check_mode=True))
    assert code == 0
    assert checked["changed"] is False
    assert checked["plan"] == normal["plan"]
    assert checked["topology"] == normal["topology"]


def test_warnings_go_through_module_warn(capsys, sysfs, no_cmdline):
    code, result = run_module(capsys, {
        "sysfs_root": sysfs("lab-vm"), "cmdline_path": no_cmdline,
        "nics": ["eth0"], "hugepages_2m": 16,
    })
    assert code == 0
    assert result["plan"]["hft_numa_node"] == 0
    texts = warning_texts(result)
    assert len(texts) == 1
    assert texts[0].startswith("NIC eth0 reports no NUMA node (numa_node -1)")


def test_dict_and_list_options_pass_through(capsys, sysfs, no_cmdline):
    code, result = run_module(capsys, {
        "sysfs_root": sysfs("xeon-2s-interleaved"), "cmdline_path": no_cmdline,
        "nics": ["ens1f0"], "hugepages": {"2M": {"1": 256}, "1G": {"1": 2}},
        "isolcpus_flags": ["managed_irq", "nohz"], "iommu": True, "cpuinfo_path": no_cmdline,
        "settings": {"watchdogs": False, "skew_tick": False},
    })
    assert code == 0
    args = result["plan"]["kernel_args"]
    assert args[0] == "isolcpus=managed_irq,nohz,2-39,42-79"
    # Vendor unknown (no cpuinfo): iommu=pt, which every vendor takes.
    assert args[-4:] == ["hugepages=1:256", "hugepagesz=1G", "hugepages=1:2", "iommu=pt"]


@pytest.mark.parametrize("args, fragment", [
    ({"reserved_cpus": "0-1,,40-41"}, "bad cpulist syntax in reserved_cpus: '0-1,,40-41'"),
    ({"nics": ["ens9f9"]}, "unknown NIC ens9f9 in nics; NICs with a device on this host: eno1, ens1f0, ens1f1"),
    ({"reserved_cpus": "0-1,40"}, "core 0 of socket 1 (CPUs 1,41)"),
    ({"hugepages_1g": 400}, "hugepages do not fit NUMA node 1"),
])
def test_bad_input_fails_with_a_message_and_writes_nothing(capsys, sysfs, no_cmdline, digest, args, fragment):
    root = sysfs("xeon-2s-interleaved")
    before = digest(root)
    code, result = run_module(capsys, dict({"sysfs_root": root, "cmdline_path": no_cmdline,
                                            "nics": ["ens1f0"]}, **args))
    assert code == 1
    assert result["failed"] is True
    assert result["changed"] is False
    assert fragment in result["msg"]
    assert "plan" not in result
    assert digest(root) == before


def test_argument_spec_rejects_unknown_isolcpus_flag(capsys, sysfs, no_cmdline):
    code, result = run_module(capsys, {"sysfs_root": sysfs("small-4cpu"), "cmdline_path": no_cmdline,
                                       "isolcpus_flags": ["bogus"]})
    assert code == 1
    assert "isolcpus_flags" in result["msg"] and "bogus" in result["msg"]


def test_documentation_matches_argument_spec():
    """Every option is documented with the type, elements, default and choices of the spec."""
    doc = yaml.safe_load(node_topology.DOCUMENTATION)
    spec = node_topology.argument_spec()
    assert set(doc["options"]) == set(spec)
    for name, opt in spec.items():
        documented = doc["options"][name]
        assert documented["type"] == opt["type"], name
        assert documented.get("default") == opt.get("default"), name
        assert documented.get("elements") == opt.get("elements"), name
        assert documented.get("choices") == opt.get("choices"), name
    yaml.safe_load(node_topology.EXAMPLES)
    ret = yaml.safe_load(node_topology.RETURN)
    assert set(ret["plan"]["contains"]) == {
        "reserved_cpus", "isolated_cpus", "hft_numa_node", "hft_housekeeping_cpus", "nics", "hugepages",
        "kernel_args", "iommu_args", "settings", "cmdline_read", "cmdline_missing", "reboot_required"}


def test_return_documents_every_key_the_module_returns(capsys, sysfs, no_cmdline):
    """RETURN lists exactly what a run returns, so a new plan or topology key cannot stay undocumented."""
    ret = yaml.safe_load(node_topology.RETURN)
    code, result = run_module(capsys, {"sysfs_root": sysfs("xeon-2s-interleaved"), "cmdline_path": no_cmdline,
                                       "nics": ["ens1f0", "ens1f1"]})
    assert code == 0
    assert set(result["plan"]) == set(ret["plan"]["contains"])
    assert set(result["topology"]) == set(ret["topology"]["contains"])
    assert set(result["plan"]["settings"]["skew_tick"]) == {"value", "owner", "decision", "args"}
