# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The kubelet role's decision (plugins/module_utils/_kubelet.py: decide, env_line, env_file_text, configz_mismatch).

tests/unit/test_kubelet_template.py covers the wanted drop-in, the field
normaliser and kubelet_problems; this file covers what the role does with
them on a host: write only (before the join), the safe transition or a plain
restart, the refusals (a later drop-in, another --config-dir, a transition
that is not allowed or cannot be verified), the environment file and the way
back to kubelet's defaults. ``host`` is shaped like host_facts' result.
"""

from __future__ import annotations

import copy

import pytest
import yaml

from ansible_collections.quantbot.hft.plugins.module_utils._kubelet import (
    MANAGER_FIELDS,
    configz_mismatch,
    decide,
    desired_dropin,
    env_file_text,
    env_line,
)

DROPIN_DIR = "/etc/kubernetes/kubelet/kubelet.conf.d"
ENV = "/etc/default/kubelet"

# roles/kubelet/defaults/main.yml on the lab VM's plan (reserved CPUs 0-1,4-5, HFT node 1).
SETTINGS = {
    "cpu_manager_policy": "static", "cpu_manager_policy_options": {}, "full_pcpus_only": "auto",
    "threads_per_core": 2, "reserved_cpus": "0-1,4-5", "topology_manager_policy": "single-numa-node",
    "topology_manager_scope": "pod", "memory_manager_policy": "Static", "kube_reserved": {"memory": "512Mi"},
    "system_reserved": {"memory": "512Mi"}, "eviction_hard_memory": "100Mi",
    "eviction_hard_extra": {"nodefs.available": "10%", "nodefs.inodesFree": "5%", "imagefs.available": "15%"},
    "reserved_memory": [], "reserved_memory_numa_node": 0, "dropin_dir": DROPIN_DIR, "dropin_name": "quantbot-hft.conf",
    "backup_dir": "/var/lib/quantbot-hft/kubelet", "state_dir": "/var/lib/kubelet", "service": "kubelet",
    "env_path": ENV, "manage_config_dir_flag": True, "transition_allowed": True, "restart_timeout": 120,
    "drain_timeout": 300, "journal_lines": 40,
}


def settings(**overrides):
    out = copy.deepcopy(SETTINGS)
    out.update(overrides)
    return out


def host(member=True, active=True, dropins=None, env=None, state_files=None, load="loaded", record=None):
    facts = {
        "kubelet": {
            "dropins": dropins or {},
            "env_files": {ENV: 'KUBELET_EXTRA_ARGS=""\n' if env is None else env,
                          "/var/lib/kubelet/kubeadm-flags.env": 'KUBELET_KUBEADM_ARGS="--node-ip=10.0.0.5"\n'},
            "state_files": {"cpu_manager_state": {"policy": "none", "checksum": 1}, "memory_manager_state": None}
            if state_files is None else state_files,
            "member": member,
        },
        "units": {"kubelet.service": {"load": load, "active": "active" if active else "inactive",
                                      "sub": "running" if active else "dead", "enabled": "enabled"}},
        "state": {} if record is None else {"kubelet": record},
    }
    return facts


def configz_of(config):
    """What /configz answers: the whole running configuration, as kubelet prints it."""
    running = {"evictionHard": {"memory.available": "100Mi"}, "maxPods": 110,
               "cpuManagerReconcilePeriod": "10s", "topologyManagerScope": "container"}
    running.update(copy.deepcopy(config))
    running.pop("apiVersion", None)
    running.pop("kind", None)
    return {"kubeletconfig": running}


WANTED = desired_dropin(SETTINGS)
# A kubelet running with its defaults (before the role).
DEFAULTS_CONFIGZ = {"kubeletconfig": {"cpuManagerPolicy": "none", "memoryManagerPolicy": "None",
                                      "topologyManagerPolicy": "none", "topologyManagerScope": "container",
                                      "evictionHard": {"memory.available": "100Mi"}}}


def run(facts, configz="defaults", **kwargs):
    """decide() on these facts; configz "defaults" is a kubelet running with its defaults."""
    configz = copy.deepcopy(DEFAULTS_CONFIGZ) if configz == "defaults" else configz
    return decide(kwargs.pop("settings", SETTINGS), facts, configz, yaml.safe_load, **kwargs)


# --- before the join ----------------------------------------------------------------------------------
def test_prejoin_writes_only_and_removes_stale_state_files():
    decision = run(host(member=False, active=False), configz=None)
    assert decision["prejoin"] is True and decision["transition"] is False
    assert decision["healthy"] is False and decision["source"] == "kubelet defaults"
    # The fields differ (static vs none), but no pod runs yet: no drain, no restart.
    assert "cpuManagerPolicy" in decision["changed_fields"]
    assert decision["problems"] == []
    assert decision["state_files"] == ["cpu_manager_state"]
    assert decision["remove_state_files"] == [{"dest": "/var/lib/kubelet/cpu_manager_state", "state": "absent"}]
    assert decision["all_state_files"] == [{"dest": "/var/lib/kubelet/cpu_manager_state", "state": "absent"},
                                           {"dest": "/var/lib/kubelet/memory_manager_state", "state": "absent"}]
    assert decision["desired"] == WANTED


def test_a_member_or_a_running_kubelet_is_not_prejoin():
    assert run(host(member=True, active=False), configz=None)["prejoin"] is False
    assert run(host(member=False, active=True))["prejoin"] is False


# --- the transition -----------------------------------------------------------------------------------
def test_a_manager_field_change_takes_the_safe_transition():
    decision = run(host())
    assert decision["healthy"] is True and decision["source"] == "configz"
    assert decision["transition"] is True
    # Every manager field: full-pcpus-only comes with SMT (threads_per_core 2).
    assert decision["changed_fields"] == list(MANAGER_FIELDS)
    assert decision["problems"] == []


@pytest.mark.parametrize("field", MANAGER_FIELDS)
def test_each_manager_field_alone_takes_the_transition(field):
    running = configz_of(WANTED)
    changed = {"cpuManagerPolicy": "none", "cpuManagerPolicyOptions": {"full-pcpus-only": "false"},
               "reservedSystemCPUs": "0-1", "topologyManagerPolicy": "best-effort",
               "topologyManagerScope": "container", "memoryManagerPolicy": "None",
               "reservedMemory": [{"numaNode": 0, "limits": {"memory": "1Gi"}}]}[field]
    running["kubeletconfig"][field] = changed
    decision = run(host(), running)
    assert decision["changed_fields"] == [field] and decision["transition"] is True


def test_an_eviction_only_change_is_no_transition():
    running = configz_of(dict(WANTED, evictionHard={"memory.available": "200Mi"}, maxPods=250))
    decision = run(host(), running)
    assert decision["changed_fields"] == [] and decision["transition"] is False
    # Written differently, same meaning: no transition either.
    running = configz_of(dict(WANTED, reservedSystemCPUs="5,4,0-1",
                              reservedMemory=[{"numaNode": 0, "limits": {"memory": str(1124 * 1024 ** 2)}}]))
    assert run(host(), running)["transition"] is False


def test_force_takes_the_transition_over_every_field():
    running = configz_of(WANTED)
    assert run(host(), running)["transition"] is False
    decision = run(host(), running, force=True)
    assert decision["transition"] is True and decision["changed_fields"] == list(MANAGER_FIELDS)
    # ...but not before the join.
    assert run(host(member=False, active=False), None, force=True)["transition"] is False


def test_a_transition_that_is_not_allowed_is_refused_naming_the_fields():
    decision = run(host(), settings=settings(transition_allowed=False))
    assert decision["problems"] == [
        "kubelet needs the safe transition (changed: cpuManagerPolicy, cpuManagerPolicyOptions, reservedSystemCPUs, "
        "topologyManagerPolicy, "
        "topologyManagerScope, memoryManagerPolicy, reservedMemory), which drains the node, and "
        "kubelet_transition_allowed is false"]
    assert run(host(), configz_of(WANTED), settings=settings(transition_allowed=False))["problems"] == []


def test_a_transition_that_cannot_be_verified_is_refused_except_in_check_mode():
    # kubelet runs, /configz could not be read: the drop-in on disk is what runs.
    facts = host(dropins={"quantbot-hft.conf": "cpuManagerPolicy: none\n"})
    decision = run(facts, configz=None)
    assert decision["source"] == "drop-in" and decision["healthy"] is False and decision["transition"] is True
    assert len(decision["problems"]) == 1
    assert decision["problems"][0].startswith("kubelet needs the safe transition (changed: cpuManagerPolicy")
    assert "its running configuration cannot be read" in decision["problems"][0]
    assert run(facts, configz=None, check_mode=True)["problems"] == []
    # /configz without a kubeletconfig is not healthy either.
    assert run(facts, configz={"kind": "Status"})["healthy"] is False


def test_the_drop_in_on_disk_is_the_source_when_configz_is_unreadable():
    facts = host(dropins={"quantbot-hft.conf": yaml.safe_dump(WANTED)})
    decision = run(facts, configz=None)
    assert decision["source"] == "drop-in" and decision["changed_fields"] == [] and decision["problems"] == []


def test_the_unit_must_be_installed():
    decision = run(host(load="not-found", active=False), configz=None)
    assert decision["problems"] == [
        "the unit kubelet.service is not installed (LoadState=not-found); this role configures an installed kubelet: "
        "install it first or set kubelet_service"]
    facts = host()
    facts["units"] = {}
    assert "(LoadState=None)" in run(facts)["problems"][0]
    decision = run(host(), settings=settings(service="kubelet-hft"))
    assert decision["problems"][0].startswith("the unit kubelet-hft.service is not installed")


# --- other drop-ins --------------------------------------------------------------------------------
def test_a_later_drop_in_setting_an_owned_field_is_refused_naming_it():
    facts = host(dropins={"quantbot-hft.conf": "x: 1\n", "zz-site.conf": "cpuManagerPolicy: none\nmaxPods: 50\n"
                                                                         "reservedSystemCPUs: 0-3\n"})
    decision = run(facts, configz_of(WANTED))
    assert decision["overrides"] == [DROPIN_DIR + "/zz-site.conf (cpuManagerPolicy, reservedSystemCPUs)"]
    assert decision["problems"] == [
        "kubelet applies its drop-ins in lexical order, and these come after quantbot-hft.conf and set fields this "
        "role owns: " + DROPIN_DIR + "/zz-site.conf (cpuManagerPolicy, reservedSystemCPUs). Remove those fields "
        "there (one owner per setting), or rename quantbot-hft.conf so it sorts last"]


def test_an_earlier_drop_in_or_one_with_other_fields_is_fine():
    facts = host(dropins={"00-base.conf": "cpuManagerPolicy: none\n", "zz-site.conf": "maxPods: 50\n",
                          "zz-empty.conf": "", "zz-list.conf": "- not a mapping\n"})
    decision = run(facts, configz_of(WANTED))
    assert decision["overrides"] == [] and decision["problems"] == []


def test_eviction_hard_is_owned_too():
    facts = host(dropins={"zz-site.conf": "evictionHard:\n  memory.available: 1Gi\n"})
    assert run(facts, configz_of(WANTED))["overrides"] == [DROPIN_DIR + "/zz-site.conf (evictionHard)"]


# --- the --config-dir flag ---------------------------------------------------------------------------
def test_without_config_dir_the_flag_is_added():
    decision = run(host(env='KUBELET_EXTRA_ARGS="--node-labels=quantbot.io/hft=true"\n'), configz_of(WANTED))
    assert decision["env_needs_flag"] is True and decision["config_dirs"] == []
    assert decision["env_line"] == ('KUBELET_EXTRA_ARGS="--node-labels=quantbot.io/hft=true --config-dir=%s"'
                                    % DROPIN_DIR)
    off = run(host(), configz_of(WANTED), settings=settings(manage_config_dir_flag=False))
    assert off["env_needs_flag"] is False


@pytest.mark.parametrize("env", ['KUBELET_EXTRA_ARGS="--config-dir=%s"\n' % DROPIN_DIR,
                                 "KUBELET_EXTRA_ARGS=--config-dir %s/\n" % DROPIN_DIR])
def test_the_flag_already_there_is_not_added_again(env):
    decision = run(host(env=env), configz_of(WANTED))
    assert decision["env_needs_flag"] is False and decision["problems"] == []
    assert [d.rstrip("/") for d in decision["config_dirs"]] == [DROPIN_DIR]


def test_a_config_dir_pointing_elsewhere_is_refused_naming_it():
    facts = host(env='KUBELET_EXTRA_ARGS="--config-dir=/etc/kubelet.d"\n')
    decision = run(facts, configz_of(WANTED))
    assert decision["problems"] == ["kubelet already starts with --config-dir=/etc/kubelet.d, not %s. Set "
                                    "kubelet_dropin_dir to that directory" % DROPIN_DIR]
    assert decision["env_needs_flag"] is False
    # In another environment file (kubeadm's) it counts the same.
    facts = host()
    facts["kubelet"]["env_files"]["/var/lib/kubelet/kubeadm-flags.env"] = 'KUBELET_KUBEADM_ARGS="--config-dir=/x"\n'
    assert "--config-dir=/x, not" in run(facts, configz_of(WANTED))["problems"][0]


def test_a_commented_out_config_dir_is_ignored():
    facts = host(env='# KUBELET_EXTRA_ARGS="--config-dir=/etc/old"\nKUBELET_EXTRA_ARGS=""\n')
    decision = run(facts, configz_of(WANTED))
    assert decision["problems"] == [] and decision["env_needs_flag"] is True


# --- env_line / env_file_text ----------------------------------------------------------------------
@pytest.mark.parametrize("text, line", [
    (None, 'KUBELET_EXTRA_ARGS="--config-dir=/d"'),
    ("", 'KUBELET_EXTRA_ARGS="--config-dir=/d"'),
    ("KUBELET_EXTRA_ARGS=\n", 'KUBELET_EXTRA_ARGS="--config-dir=/d"'),
    ('KUBELET_EXTRA_ARGS=""\n', 'KUBELET_EXTRA_ARGS="--config-dir=/d"'),
    ('KUBELET_EXTRA_ARGS="--a=1 --b"\n', 'KUBELET_EXTRA_ARGS="--a=1 --b --config-dir=/d"'),
    ("KUBELET_EXTRA_ARGS='--a=1'\n", 'KUBELET_EXTRA_ARGS="--a=1 --config-dir=/d"'),
    ("KUBELET_EXTRA_ARGS=--a=1\n", 'KUBELET_EXTRA_ARGS="--a=1 --config-dir=/d"'),
    ('OTHER=1\nKUBELET_EXTRA_ARGS="--a"\nKUBELET_EXTRA_ARGS="--b"\n', 'KUBELET_EXTRA_ARGS="--b --config-dir=/d"'),
])
def test_env_line_keeps_what_the_variable_holds(text, line):
    assert env_line(text, "/d") == line


def test_env_file_text_replaces_the_line_and_keeps_the_others():
    text = '# kubelet flags\nKUBELET_EXTRA_ARGS="--a"\nOTHER="x y"\n'
    line = env_line(text, "/d")
    assert env_file_text(text, line) == '# kubelet flags\nKUBELET_EXTRA_ARGS="--a --config-dir=/d"\nOTHER="x y"\n'


def test_env_file_text_adds_the_line_and_collapses_repeats():
    assert env_file_text("OTHER=1\n", 'KUBELET_EXTRA_ARGS="--config-dir=/d"') == \
        'OTHER=1\nKUBELET_EXTRA_ARGS="--config-dir=/d"\n'
    assert env_file_text(None, "L") == "L\n"
    assert env_file_text("KUBELET_EXTRA_ARGS=1\nX=2\nKUBELET_EXTRA_ARGS=3\n", "L") == "L\nX=2\n"
    # A commented line is another line: kept as it is.
    assert env_file_text("#KUBELET_EXTRA_ARGS=old\n", "L") == "#KUBELET_EXTRA_ARGS=old\nL\n"


def test_the_record_keeps_the_environment_file_as_it_was_first():
    original = 'KUBELET_EXTRA_ARGS="--a"\n'
    decision = run(host(env=original), configz_of(WANTED))
    assert decision["record"] == {"env_file": ENV, "env_file_original": original}
    kept = {"env_file": ENV, "env_file_original": None}
    assert run(host(env=original, record=kept), configz_of(WANTED))["record"] == kept


# --- absent: back to kubelet's defaults ---------------------------------------------------------
def test_absent_goes_back_to_kubelet_defaults_through_the_transition():
    decision = run(host(), configz_of(WANTED), absent=True)
    assert decision["absent"] is True and decision["desired"] == {}
    assert decision["desired_fields"]["cpuManagerPolicy"] == "none"
    assert decision["desired_fields"]["memoryManagerPolicy"] == "None"
    assert decision["transition"] is True
    assert "cpuManagerPolicy" in decision["changed_fields"]
    assert decision["overrides"] == []


def test_absent_on_a_kubelet_already_at_its_defaults_needs_no_transition():
    decision = run(host(), DEFAULTS_CONFIGZ, absent=True)
    assert decision["changed_fields"] == [] and decision["transition"] is False


def test_absent_does_not_refuse_what_stage_would():
    facts = host(load="not-found", active=False, member=True)
    decision = run(facts, None, absent=True, settings=settings(transition_allowed=False))
    assert not any("not installed" in p for p in decision["problems"])
    decision = run(host(), configz_of(WANTED), absent=True, settings=settings(transition_allowed=False))
    assert decision["transition"] is True and decision["problems"] == []


# --- configz_mismatch ------------------------------------------------------------------------------
def test_configz_matches_the_wanted_drop_in():
    assert configz_mismatch(configz_of(WANTED), WANTED) == []


def test_configz_mismatch_names_the_field_and_both_values():
    running = configz_of(dict(WANTED, cpuManagerPolicy="none", reservedSystemCPUs="0-1"))
    assert configz_mismatch(running, WANTED) == ["cpuManagerPolicy is 'none', wanted 'static'",
                                                 "reservedSystemCPUs is [0, 1], wanted [0, 1, 4, 5]"]


def test_configz_without_kubeletconfig():
    for answer in (None, {}, {"kubeletconfig": "x"}):
        assert configz_mismatch(answer, WANTED) == ["/configz did not answer with a kubeletconfig"]


def test_configz_mismatch_leaves_the_wanted_dict_alone():
    wanted = copy.deepcopy(WANTED)
    configz_mismatch(configz_of(WANTED), wanted)
    assert wanted == WANTED
