# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The collection's filters (plugins/filter/hft.py): registration, error handling, and the filters with own logic.

The rules behind the thin filters have their own test files (test_cmdline,
test_hugepages_rules, test_tuned_rules, test_ptpconf, test_kubelet_decide,
test_report, test_sriov); here the filters are checked to reach them with the
arguments in the right places. Two checks run ansible itself, to show the
filters resolve as quantbot.hft.<name> and a domain error reaches the user as
a message, not a traceback.
"""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.quantbot.hft.plugins.filter import hft
from ansible_collections.quantbot.hft.plugins.module_utils._ptp import (
    SOF_RAW_HARDWARE, SOF_RX_HARDWARE, SOF_RX_SOFTWARE, SOF_SOFTWARE, SOF_TX_HARDWARE, SOF_TX_SOFTWARE)

UNIT_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(UNIT_DIR))
FILTERS = hft.FilterModule().filters()
ANSIBLE = os.path.join(os.path.dirname(sys.executable), "ansible")
HARDWARE = SOF_TX_HARDWARE | SOF_RX_HARDWARE | SOF_RAW_HARDWARE | SOF_TX_SOFTWARE | SOF_RX_SOFTWARE | SOF_SOFTWARE


def used_filters():
    """Every ``| quantbot.hft.<name>`` in the roles, playbooks and molecule scenarios."""
    found = {}
    pattern = re.compile(r"\|\s*quantbot\.hft\.([a-z_0-9]+)")
    for top in ("roles", "playbooks", "molecule"):
        for dirpath, dummy, filenames in os.walk(os.path.join(REPO_ROOT, top)):
            for name in filenames:
                if not name.endswith((".yml", ".yaml", ".j2")):
                    continue
                path = os.path.join(dirpath, name)
                with open(path) as handle:
                    for match in pattern.finditer(handle.read()):
                        found.setdefault(match.group(1), os.path.relpath(path, REPO_ROOT))
    return found


# --- registration ------------------------------------------------------------------------------
def test_every_filter_function_is_registered_under_its_name():
    defined = sorted(name for name, fn in inspect.getmembers(hft, inspect.isfunction)
                     if fn.__module__ == hft.__name__ and not name.startswith("_"))
    assert sorted(FILTERS) == defined
    for name, fn in FILTERS.items():
        assert fn.__name__ == name and fn.__doc__ == getattr(hft, name).__doc__


def test_every_filter_the_roles_use_exists():
    used = used_filters()
    assert used, "no quantbot.hft filter found in the roles: the scan is broken"
    from ansible_collections.quantbot.hft.plugins.filter import fleet
    known = set(FILTERS) | set(fleet.FilterModule().filters())
    missing = dict((name, where) for name, where in used.items() if name not in known)
    assert missing == {}


# --- errors --------------------------------------------------------------------------------
@pytest.mark.parametrize("name, args, needle", [
    ("cpulist", ("3-1",), "'3-1'"),
    ("cpulist", ("0-3,x", "tuned_isolated_cores"), "tuned_isolated_cores: '0-3,x'"),
    ("cpumask", ("2 3",), "'2 3'"),
    ("cpulist_format", (["a"],), "'a'"),
    ("sriov_normalize", ("enp65s0",), "sriov_pfs must be a list"),
    ("kubelet_dropin", ({"cpu_manager_policy": "none", "memory_manager_policy": "Static",
                         "kube_reserved": {"memory": "lots"}, "eviction_hard_memory": "100Mi"},), "'lots'"),
    ("kubelet_configz_mismatch", ({"kubeletconfig": {"reservedSystemCPUs": "9-2"}}, {}), "'9-2'"),
])
def test_a_domain_error_becomes_a_filter_error_naming_the_value(name, args, needle):
    with pytest.raises(AnsibleFilterError) as exc:
        FILTERS[name](*args)
    message = str(exc.value)
    assert message.startswith(name + ": ") and needle in message, message


def test_a_good_value_passes_through_the_wrapper():
    assert FILTERS["cpulist"]("0-2,5") == [0, 1, 2, 5]
    assert FILTERS["cpulist_format"]([5, 0, 1, 2]) == "0-2,5"


# --- cpumask -----------------------------------------------------------------------------------
@pytest.mark.parametrize("cpus, mask", [
    ("4-5", "30"),
    ("0", "1"),
    ("", "0"),
    ("0-31", "ffffffff"),
    ("32", "1,00000000"),
    ("0-1,40-41", "300,00000003"),
    ([3, 1], "a"),
    ("0-79", "ffff,ffffffff,ffffffff"),
])
def test_cpumask(cpus, mask):
    assert FILTERS["cpumask"](cpus) == mask


# --- reboot_reasons / missing_packages ------------------------------------------------------------
def test_reboot_reasons_names_the_roles_that_need_one():
    sources = ["boot_args", "hugepages", "tuned", "sriov"]
    required = [True, "false", "True", False]
    reasons = ["missing from /proc/cmdline: nohz_full=2-3", "", "", "ignored"]
    assert FILTERS["reboot_reasons"](sources, required, reasons) == {
        "boot_args": "missing from /proc/cmdline: nohz_full=2-3", "tuned": "needs a reboot"}
    assert FILTERS["reboot_reasons"](["a"], ["yes"], [None]) == {"a": "needs a reboot"}
    assert FILTERS["reboot_reasons"](sources, [False] * 4, reasons) == {}
    assert FILTERS["reboot_reasons"]([], [], []) == {}


def test_missing_packages_keeps_order_and_drops_repeats():
    facts = {"packages": {"tuned": "2.19.0-2", "linuxptp": None, "irqbalance": ""}}
    assert FILTERS["missing_packages"](facts, ["linuxptp", "tuned", "irqbalance", "linuxptp", "ethtool"]) == [
        "linuxptp", "irqbalance", "ethtool"]
    assert FILTERS["missing_packages"](facts, ["tuned"]) == []
    assert FILTERS["missing_packages"](None, ["tuned"]) == ["tuned"]
    assert FILTERS["missing_packages"](facts, None) == []


# --- boot_args_problems (logic in the filter) ---------------------------------------------------
def test_boot_args_problems():
    args = ["isolcpus=managed_irq,2-3", "nohz_full=2-3"]
    host = {"cmdline": "BOOT_IMAGE=/vmlinuz ro quiet nohz_full=2-3"}
    assert FILTERS["boot_args_problems"](args, host) == []
    assert FILTERS["boot_args_problems"](["a b"], host)[0].startswith("boot_args_kernel_args: 'a b' is not a single")
    assert FILTERS["boot_args_problems"](args, {}) == [
        "the running kernel command line is unknown (run quantbot.hft.host_facts first in this play)"]
    foreign = {"cmdline": "ro isolcpus=1-3 nohz_full=1-3"}
    problems = FILTERS["boot_args_problems"](args, foreign)
    assert len(problems) == 1
    assert problems[0].startswith("the running kernel command line has isolcpus=1-3 nohz_full=1-3, which this role "
                                  "did not set, for key(s) that boot_args owns (isolcpus, nohz_full)")
    # Set by this role earlier: not foreign.
    assert FILTERS["boot_args_problems"](args, foreign, ["isolcpus=1-3", "nohz_full=1-3"]) == []


# --- the thin filters reach their rule with the arguments in place ---------------------------------
def test_tuned_filters_pass_host_and_options():
    host = {"cpus": {"online": "0-7"}, "numa": {}, "tuned": {"profiles": ["cpu-partitioning"]},
            "pid1": {"cpus_allowed": "0-7"}}
    assert FILTERS["tuned_problems"]("2-3", host) == []
    assert "holds CPU 0" in FILTERS["tuned_problems"]("0-3", host)[0]
    assert "not in tuned_isolated_cores" in FILTERS["tuned_problems"]("2-3", host, no_balance="4")[0]
    assert "is not a tuned profile" in FILTERS["tuned_problems"]("2-3", host, parent="realtime")[0]
    assert FILTERS["tuned_reboot"](host, "2-3")["required"] is True
    assert FILTERS["tuned_reboot"](host, "2-3", True)["required"] is False


def test_hugepages_filters_pass_host_and_options():
    host = {"numa": {"0": {"memory_kb": 1441788, "hugepages": {"2M": {"total": 0}}}}, "cmdline": ""}
    pages = {"2M": {"0": 576}}
    assert FILTERS["hugepages_problems"](pages, host)[0].startswith("hugepages do not fit NUMA node 0")
    assert FILTERS["hugepages_problems"](pages, host, [], 10, 128) == []
    assert FILTERS["hugepages_problems"]({"2M": {"0": 1}}, host, [{"path": "rel", "pagesize": "2M"}])[0].startswith(
        "hugepages_mounts:")
    assert FILTERS["hugepages_alloc_args"](pages) == ["0:576"]
    assert FILTERS["hugepages_differ"](pages, host) is True
    assert FILTERS["hugepages_allocated"](host) == []
    assert FILTERS["hugepages_reboot"](pages, host, None, True)["required"] is False
    assert FILTERS["hugepages_reboot"](pages, host)["required"] is True


def test_ptp_filters_pass_host_and_options():
    ifaces = FILTERS["ptp_interfaces"](["ens1f0"], {"time_stamping": "hardware", "domain": 0,
                                                    "network_transport": "L2", "delay_mechanism": "E2E",
                                                    "tx_timestamp_timeout": 50, "client_only": True})
    host = {"nics": {"ens1f0": {"timestamping": {"so_timestamping": HARDWARE, "phc_index": 0}}},
            "units": {"phc2sys@ens1f0.service": {"load": "loaded", "active": "active", "enabled": "enabled"}}}
    assert FILTERS["ptp_problems"](ifaces, host, "0-1", 10, {"clock_servo": "pi"}, 100, 0, 6) == []
    assert FILTERS["ptp_problems"](ifaces, host, "0-1", 0, {}, 100, 0, 6) == ["ptp_sched_priority must be 1-99, got 0"]
    assert FILTERS["ptp_units_to_stop"](host, [], ifaces) == []
    ifaces[0]["phc2sys"] = False
    assert FILTERS["ptp_units_to_stop"](host, [], ifaces) == [{"name": "phc2sys@ens1f0.service", "disable": True}]


def test_kubelet_decision_reads_the_uri_result():
    settings = {"cpu_manager_policy": "none", "topology_manager_policy": "none", "topology_manager_scope": "container",
                "memory_manager_policy": "None", "eviction_hard_memory": "100Mi", "dropin_dir": "/d",
                "dropin_name": "quantbot-hft.conf", "state_dir": "/var/lib/kubelet", "env_path": "/etc/default/kubelet"}
    host = {"kubelet": {"member": True, "env_files": {}}, "units": {"kubelet.service": {"load": "loaded",
                                                                                        "active": "active"}}}
    running = {"kubeletconfig": {"cpuManagerPolicy": "static"}}
    ok = FILTERS["kubelet_decision"](settings, host, {"status": 200, "json": running})
    assert ok["source"] == "configz" and ok["changed_fields"] == ["cpuManagerPolicy"]
    for answer in ({"status": 401, "json": {"kind": "Status"}}, {"skipped": True}, {"failed": True, "msg": "x"}, None):
        decision = FILTERS["kubelet_decision"](settings, host, answer, False, True)
        assert decision["source"] == "kubelet defaults" and decision["healthy"] is False, answer
    # The bare JSON is accepted too.
    assert FILTERS["kubelet_decision"](settings, host, running)["source"] == "configz"
    absent = FILTERS["kubelet_absent_decision"](settings, host, {"status": 200, "json": running})
    assert absent["absent"] is True and absent["transition"] is True
    assert FILTERS["kubelet_configz_mismatch"]({"status": 200, "json": running}, {"cpuManagerPolicy": "none"}) == [
        "cpuManagerPolicy is 'static', wanted 'none'"]
    assert FILTERS["kubelet_env_file"]("A=1\n", 'KUBELET_EXTRA_ARGS="--config-dir=/d"') == \
        'A=1\nKUBELET_EXTRA_ARGS="--config-dir=/d"\n'


def test_sriov_reboot():
    pfs = [{"name": "enp65s0", "num_vfs": 2, "driver": "vfio-pci"}]
    iommu = ["intel_iommu=on", "iommu=pt"]
    assert FILTERS["sriov_reboot"](pfs, {"cmdline": "ro quiet"}, iommu) == {
        "required": True, "reason": "vfio-pci needs intel_iommu=on iommu=pt, missing from /proc/cmdline"}
    assert FILTERS["sriov_reboot"](pfs, {"cmdline": "ro intel_iommu=on iommu=pt"}, iommu) == {
        "required": False, "reason": ""}
    kernel = [{"name": "enp65s0", "num_vfs": 2}]
    assert FILTERS["sriov_reboot"](kernel, {"cmdline": "ro"}, iommu)["required"] is False


def test_report_filters():
    result = {"valid": False, "checks": [{"check": "label", "ok": False, "expected": "a", "actual": "b",
                                          "hint": "h"}], "failures": [{"check": "label"}]}
    assert FILTERS["validation_report"](result, "n1")[-1] == "valid: false (failed checks: label)"
    lines = FILTERS["plan_report"]({"kernel_args": ["quiet"], "cmdline_read": False}, {}, "/x")
    assert lines[-1].startswith("Kernel command line not read (/x does not exist)")


# --- through ansible -------------------------------------------------------------------------
def ansible_debug(expression):
    env = dict(os.environ, ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
               ANSIBLE_NOCOLOR="1", ANSIBLE_STDOUT_CALLBACK="default", ANSIBLE_CALLBACK_RESULT_FORMAT="json")
    proc = subprocess.run([ANSIBLE, "localhost", "-i", "localhost,", "-c", "local", "-m", "ansible.builtin.debug",
                           "-a", "msg={{ %s }}" % expression], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          check=False, timeout=300)
    return proc.returncode, proc.stdout + proc.stderr


@pytest.mark.skipif(not os.path.exists(ANSIBLE), reason="ansible is not installed next to this python")
def test_filters_resolve_through_ansible_and_errors_are_messages():
    rc, out = ansible_debug("'0-1,40-41' | quantbot.hft.cpumask")
    assert rc == 0 and '"msg": "300,00000003"' in out, out
    rc, out = ansible_debug("'2-3,9-4' | quantbot.hft.cpulist")
    assert rc != 0
    assert "cpulist: bad cpulist syntax in cpulist: '2-3,9-4' (range '9-4' runs backwards)" in out.replace("''", "'")
    assert "Traceback" not in out
