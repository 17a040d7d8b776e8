# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The AWX jobs, run through ansible-runner: job events, status and rc.

* plan.yml on localhost against the captured lab-VM sysfs tree: always runs.
* validate.yml, and onboard.yml in check mode, on the lab VM with the survey
  answers of the AWX job templates: marked ``lab``, skipped when the VM is down.
"""

from __future__ import annotations

import os
import sys

import pytest
import yaml

from hft_runner import REPO_ROOT, explain, run_job, survey_extravars, task_events

LAB_INVENTORY = os.path.join(REPO_ROOT, "inventory", "lab", "hosts.yml")
LAB_SYSFS = os.path.join(REPO_ROOT, "tests", "unit", "fixtures", "sysfs", "lab-vm")
PLAN_TASK = "Read the topology from sysfs and compute the plan"
# What an operator answers for the lab node (inventory/lab/group_vars/lab.yml):
# its HFT port, 2 VFs, 64 HugePages; reboots refused, so even a run without
# --check could never reboot the shared lab VM.
LAB_ANSWERS = {
    "hft_plan_hosts": "hft-lab-1",
    "hft_hugepages_2m": 64,
    "hft_sriov_num_vfs": 2,
    "hft_ptp_interface": "enp65s0",
    "hft_reboot_allowed": "false",
}


def test_plan_job_events_on_a_captured_tree(tmp_path):
    """plan.yml as a job with the onboard template's extra vars and survey answers.

    The plan play is the first play of onboard.yml. The answers pick the host
    (hft_plan_hosts) and the HugePages; the template's extra_vars turn the VF
    count and PTP interface into sriov_pfs, which the plan reads (for the
    IOMMU arguments), so the Jinja AWX would pass must render to a list of
    dicts here. The inventory has a second host that the answer leaves out.
    """
    inventory = tmp_path / "inventory" / "hosts.yml"
    inventory.parent.mkdir()
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    inventory.write_text(yaml.safe_dump({"all": {"hosts": {"localhost": local, "hft-not-chosen": local}}}))
    answers = dict(LAB_ANSWERS, hft_plan_hosts="localhost", hft_ptp_interface="eth1")
    dummy, extravars = survey_extravars("HFT onboard node", answers)
    # The captured lab-VM tree instead of this machine's /sys.
    extravars.update({"hft_sysfs_root": LAB_SYSFS, "hft_cmdline_path": str(tmp_path / "no-cmdline"), "hft_nics": ["eth1"]})
    runner = run_job(tmp_path, "playbooks/plan.yml", str(inventory), extravars)
    assert (runner.status, runner.rc) == ("successful", 0), explain(runner)
    assert not task_events(runner, event="runner_on_failed")
    plans = task_events(runner, event="runner_on_ok", task=PLAN_TASK)
    assert [ev["event_data"]["host"] for ev in plans] == ["localhost"]
    res = plans[0]["event_data"]["res"]
    assert res["changed"] is False
    plan = res["plan"]
    assert plan["hft_numa_node"] == 1
    assert plan["hugepages"]["2M"] == {"0": 0, "1": 64}
    assert plan["reserved_cpus"] and plan["isolated_cpus"]
    assert plan["reboot_required"] is True and plan["cmdline_read"] is False
    # sriov_pfs from the template: kernel-driver VFs, so no IOMMU arguments.
    assert not [arg for arg in plan["kernel_args"] if "iommu" in arg]
    shown = task_events(runner, event="runner_on_ok", task="Show the plan")[0]["event_data"]["res"]["msg"]
    assert any(line.startswith("HFT NUMA node:") and line.endswith("1") for line in shown)
    stats = task_events(runner, event="playbook_on_stats")[0]["event_data"]
    assert stats["ok"] == {"localhost": 3} and not stats["failures"] and not stats["changed"]


@pytest.mark.lab
def test_onboard_check_mode_on_the_lab(tmp_path):
    """The onboard job template's survey, in check mode (AWX job type "check"), on hft-lab-1."""
    playbook, extravars = survey_extravars("HFT onboard node", LAB_ANSWERS)
    runner = run_job(tmp_path, playbook, LAB_INVENTORY, extravars, limit="hft-lab-1", cmdline="--check --diff")
    assert (runner.status, runner.rc) == ("successful", 0), explain(runner)
    assert not task_events(runner, event="runner_on_failed"), explain(runner)
    assert not task_events(runner, event="runner_on_unreachable"), explain(runner)
    plan = task_events(runner, event="runner_on_ok", task=PLAN_TASK)
    assert [ev["event_data"]["host"] for ev in plan] == ["hft-lab-1"]
    assert plan[0]["event_data"]["res"]["plan"]["hugepages"]["2M"]["1"] == 64
    # Every host role ran, with the survey-mapped SR-IOV and PTP variables
    # accepted by its argument spec.
    # (event_data.role is the role's name, fully qualified for collection roles)
    roles = set(str(ev["event_data"].get("role")).rsplit(".", 1)[-1] for ev in task_events(runner, event="runner_on_ok"))
    assert {"boot_args", "hugepages", "tuned", "sriov", "ptp"} <= roles, sorted(roles)
    decision = task_events(runner, event="runner_on_ok", task="Decide on the reboot and report it")
    assert decision and decision[0]["event_data"]["res"]["msg"].startswith("reboot would follow: ")
    if os.environ.get("HFTLAB_ONBOARDED") == "1":
        # The node the onboard scenario onboarded already runs the plan.
        assert decision[0]["event_data"]["res"]["msg"] == "reboot would follow: no", decision[0]["event_data"]["res"]
    # Check mode: nothing rebooted.
    assert not task_events(runner, event="runner_on_ok", task="Reboot the host")
    stats = task_events(runner, event="playbook_on_stats")[0]["event_data"]
    assert not stats["failures"] and not stats["dark"]


@pytest.mark.lab
def test_validate_on_the_lab(tmp_path):
    """The validate job template's survey on hft-lab-1: the validation result is in the event data."""
    asked = ("hft_plan_hosts", "hft_hugepages_2m", "hft_ptp_interface")   # validate's survey
    playbook, extravars = survey_extravars("HFT validate node", dict((k, LAB_ANSWERS[k]) for k in asked))
    runner = run_job(tmp_path, playbook, LAB_INVENTORY, extravars, limit="hft-lab-1")
    assert runner.status in ("successful", "failed"), explain(runner)
    assert not task_events(runner, event="runner_on_unreachable"), explain(runner)
    results = [ev for ev in task_events(runner, action="node_validate")
               if ev["event"] in ("runner_on_ok", "runner_on_failed")]
    assert [ev["event_data"]["host"] for ev in results] == ["hft-lab-1"], explain(runner)
    res = results[0]["event_data"]["res"]
    assert isinstance(res["valid"], bool), res
    assert isinstance(res["failures"], list)
    for failure in res["failures"]:
        assert set(failure) >= {"check", "expected", "actual"}, failure
    assert res["valid"] == (res["failures"] == [])
    # The molecule onboard scenario runs these tests on the node it onboarded
    # (HFTLAB_ONBOARDED=1): there the node must be valid.
    if os.environ.get("HFTLAB_ONBOARDED") == "1":
        assert res["valid"] is True, res["failures"]
    # The job's outcome follows the validation: AWX shows a failed job for an unfit node.
    if res["valid"]:
        assert (runner.status, runner.rc) == ("successful", 0), explain(runner)
    else:
        assert runner.status == "failed" and runner.rc != 0, explain(runner)
        assert [f["check"] for f in res["failures"]], res
