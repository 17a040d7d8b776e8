# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The roles' argument specs against their defaults, task files, READMEs and callers.

Ansible validates a role's variables against ``meta/argument_specs.yml`` each
time the role (or one of its entry points) runs, so a spec that is wrong breaks
the onboarding, and one that is incomplete leaves variables undocumented. The
checks here are plain functions over a role directory (and over the files that
call the roles), run on the repository, and run on broken copies to show that
each one fails.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil

import pytest
import yaml

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

from ansible_collections.quantbot.hft.plugins.module_utils._settings import DEFAULTS as SETTINGS_DEFAULTS
from ansible_collections.quantbot.hft.plugins.module_utils._topology import make_plan, read_topology

UNIT_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(UNIT_DIR))
ROLES_DIR = os.path.join(REPO_ROOT, "roles")
ROLES = sorted(name for name in os.listdir(ROLES_DIR) if os.path.isfile(os.path.join(ROLES_DIR, name, "tasks", "main.yml")))
# Task files that are entry points wherever they exist (the others are included by them).
ENTRY_POINT_FILES = ("main", "preflight", "absent")
# Where roles are called from with tasks_from.
CALLER_DIRS = ("playbooks", "roles", "molecule")
CALLER_FILES = ("onboard.yml",)
ROLE_CALLS = ("include_role", "import_role")
COLLECTION = "quantbot.hft."


def _load(path):
    with open(path) as handle:
        return yaml.safe_load(handle)


def _squash(value):
    """A value with the whitespace inside strings collapsed (a folded Jinja default compares equal to one line)."""
    if isinstance(value, str):
        return " ".join(value.split())
    if isinstance(value, list):
        return [_squash(item) for item in value]
    if isinstance(value, dict):
        return dict((key, _squash(item)) for key, item in value.items())
    return value


def _options_problems(where, options):
    """Every option (and sub-option) has a type and a non-empty description."""
    problems = []
    for name, spec in sorted((options or {}).items()):
        spec = spec or {}
        if not spec.get("type"):
            problems.append("%s: option %s has no type" % (where, name))
        description = spec.get("description")
        texts = description if isinstance(description, list) else [description]
        if not any(isinstance(text, str) and text.strip() for text in texts):
            problems.append("%s: option %s has no description" % (where, name))
        if spec.get("options"):
            problems.extend(_options_problems("%s.%s" % (where, name), spec["options"]))
    return problems


def spec_problems(role_dir):
    """Why the role's argument spec is incomplete or untrue ([] when it is neither)."""
    role = os.path.basename(os.path.normpath(role_dir))
    spec_path = os.path.join(role_dir, "meta", "argument_specs.yml")
    if not os.path.isfile(spec_path):
        return ["%s: no meta/argument_specs.yml" % role]
    specs = (_load(spec_path) or {}).get("argument_specs") or {}
    defaults_path = os.path.join(role_dir, "defaults", "main.yml")
    defaults = (_load(defaults_path) or {}) if os.path.isfile(defaults_path) else {}
    readme_path = os.path.join(role_dir, "README.md")
    readme = open(readme_path).read() if os.path.isfile(readme_path) else ""
    problems = []
    if not readme:
        problems.append("%s: no README.md" % role)
    for name in ENTRY_POINT_FILES:
        if os.path.isfile(os.path.join(role_dir, "tasks", name + ".yml")) and name not in specs:
            problems.append("%s: tasks/%s.yml has no entry point %s in the argument spec" % (role, name, name))
    documented = {}
    for entry, spec in sorted(specs.items()):
        if not os.path.isfile(os.path.join(role_dir, "tasks", entry + ".yml")):
            problems.append("%s: entry point %s has no tasks/%s.yml" % (role, entry, entry))
        if not (spec or {}).get("short_description"):
            problems.append("%s: entry point %s has no short_description" % (role, entry))
        options = (spec or {}).get("options") or {}
        problems.extend(_options_problems("%s:%s" % (role, entry), options))
        for name, option in options.items():
            documented.setdefault(name, []).append((entry, option or {}))
    for name in sorted(defaults):
        if name not in documented:
            problems.append("%s: defaults/main.yml sets %s, which no entry point of the argument spec documents"
                            % (role, name))
            continue
        for entry, option in documented[name]:
            if option.get("required"):
                problems.append("%s:%s: %s is required, but defaults/main.yml gives it a default" % (role, entry, name))
            if _squash(option.get("default")) != _squash(defaults[name]):
                problems.append("%s:%s: the default of %s is %r in the argument spec but %r in defaults/main.yml"
                                % (role, entry, name, option.get("default"), defaults[name]))
    for name in sorted(documented):
        if readme and not re.search(r"(?<![\w])%s(?![\w])" % re.escape(name), readme):
            problems.append("%s: README.md does not mention %s" % (role, name))
    return problems


def _role_calls(node, found):
    """(role name, tasks_from, task) of every include_role/import_role under ``node``."""
    if isinstance(node, list):
        for item in node:
            _role_calls(item, found)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key.split(".")[-1] in ROLE_CALLS and isinstance(value, dict):
                found.append((value.get("name"), value.get("tasks_from"), node))
            else:
                _role_calls(value, found)
    return found


def _resolve_role_names(name, task):
    """The role names a (possibly templated) include_role name stands for, or None when they cannot be told."""
    if not isinstance(name, str):
        return None
    match = re.match(r"^(?P<head>[^{]*)\{\{\s*(?P<var>\w+)\s*\}\}(?P<tail>[^{]*)$", name)
    if not match:
        return None if "{{" in name else [name]
    loop_var = (task.get("loop_control") or {}).get("loop_var", "item")
    items = task.get("loop")
    if match.group("var") != loop_var or not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        return None
    return [match.group("head") + item + match.group("tail") for item in items]


def tasks_from_calls(root):
    """``[(path, role, entry point)]`` of every tasks_from on a collection role, and the calls that cannot be told."""
    paths = [os.path.join(root, name) for name in CALLER_FILES if os.path.isfile(os.path.join(root, name))]
    for directory in CALLER_DIRS:
        for base, dirs, files in os.walk(os.path.join(root, directory)):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            paths.extend(os.path.join(base, f) for f in sorted(files) if f.endswith((".yml", ".yaml")))
    calls, unknown = [], []
    for path in paths:
        rel = os.path.relpath(path, root)
        for name, tasks_from, task in _role_calls(_load(path), []):
            if tasks_from is None:
                continue
            roles = _resolve_role_names(name, task)
            if roles is None:
                unknown.append("%s: include_role %r with tasks_from %r: the role name cannot be told" % (rel, name, tasks_from))
                continue
            for role in roles:
                if role.startswith(COLLECTION) or os.path.isdir(os.path.join(root, "roles", role)):
                    calls.append((rel, role[len(COLLECTION):] if role.startswith(COLLECTION) else role,
                                  os.path.splitext(str(tasks_from))[0]))
    return calls, unknown


def tasks_from_problems(root):
    """Every tasks_from on a collection role names an entry point of that role's argument spec."""
    calls, problems = tasks_from_calls(root)
    for rel, role, entry in calls:
        spec_path = os.path.join(root, "roles", role, "meta", "argument_specs.yml")
        specs = ((_load(spec_path) or {}).get("argument_specs") or {}) if os.path.isfile(spec_path) else {}
        if entry not in specs:
            problems.append("%s: quantbot.hft.%s tasks_from %s is no entry point of its argument spec (%s)"
                            % (rel, role, entry, ", ".join(sorted(specs)) or "none"))
    return problems


# --------------------------------------------------------------------------
# the repository
# --------------------------------------------------------------------------
def test_the_six_roles_are_checked():
    assert ROLES == ["boot_args", "hugepages", "kubelet", "ptp", "sriov", "tuned"]


@pytest.mark.parametrize("role", ROLES)
def test_argument_spec_is_complete_and_true(role):
    assert spec_problems(os.path.join(ROLES_DIR, role)) == []


def test_every_tasks_from_names_an_entry_point():
    assert tasks_from_problems(REPO_ROOT) == []


def test_the_playbooks_tasks_from_calls_are_found():
    calls = set((role, entry) for _path, role, entry in tasks_from_calls(REPO_ROOT)[0])
    # reboot.yml (commit), onboard.yml (joined), offboard.yml (kubelet, and the loop over the host roles).
    assert {("boot_args", "commit"), ("kubelet", "joined"), ("kubelet", "absent"), ("ptp", "absent"),
            ("sriov", "absent"), ("tuned", "absent"), ("hugepages", "absent"), ("boot_args", "absent")} <= calls


# --------------------------------------------------------------------------
# each check fails on a broken copy
# --------------------------------------------------------------------------
@pytest.fixture
def role_copy(tmp_path):
    """A function that copies roles/<role> into tmp_path, to break the copy."""
    def make(role):
        target = tmp_path / role
        shutil.copytree(os.path.join(ROLES_DIR, role), str(target))
        return str(target)
    return make


def _edit_spec(role_dir, change):
    path = os.path.join(role_dir, "meta", "argument_specs.yml")
    data = _load(path)
    # The entry points share one options mapping (a YAML anchor): copy each so a change hits one only.
    for spec in data["argument_specs"].values():
        if "options" in spec:
            spec["options"] = copy.deepcopy(spec["options"])
    change(data["argument_specs"])
    with open(path, "w") as handle:
        yaml.safe_dump(data, handle)


def test_an_undocumented_default_is_found(role_copy):
    role_dir = role_copy("hugepages")

    def drop(specs):
        for spec in specs.values():
            spec.get("options", {}).pop("hugepages_swap", None)
    _edit_spec(role_dir, drop)
    assert "hugepages: defaults/main.yml sets hugepages_swap, which no entry point of the argument spec documents" \
        in spec_problems(role_dir)


def test_an_entry_point_without_its_task_file_is_found(role_copy):
    role_dir = role_copy("tuned")
    os.remove(os.path.join(role_dir, "tasks", "absent.yml"))
    assert "tuned: entry point absent has no tasks/absent.yml" in spec_problems(role_dir)


def test_an_entry_point_task_file_without_its_entry_point_is_found(role_copy):
    role_dir = role_copy("ptp")
    _edit_spec(role_dir, lambda specs: specs.pop("absent"))
    assert "ptp: tasks/absent.yml has no entry point absent in the argument spec" in spec_problems(role_dir)


def test_an_option_without_description_or_type_is_found(role_copy):
    role_dir = role_copy("sriov")

    def strip(specs):
        del specs["main"]["options"]["sriov_node_name"]["description"]
        del specs["main"]["options"]["sriov_pfs"]["options"]["num_vfs"]["type"]
    _edit_spec(role_dir, strip)
    problems = spec_problems(role_dir)
    assert "sriov:main: option sriov_node_name has no description" in problems
    assert "sriov:main.sriov_pfs: option num_vfs has no type" in problems


def test_a_variable_missing_from_the_readme_is_found(role_copy):
    role_dir = role_copy("kubelet")
    path = os.path.join(role_dir, "README.md")
    text = open(path).read()
    with open(path, "w") as handle:
        handle.write(text.replace("kubelet_gate_taint", "the gate taint"))
    assert "kubelet: README.md does not mention kubelet_gate_taint" in spec_problems(role_dir)


def test_a_prefix_does_not_count_as_a_mention(role_copy):
    role_dir = role_copy("tuned")
    path = os.path.join(role_dir, "README.md")
    text = open(path).read()
    with open(path, "w") as handle:
        handle.write(re.sub(r"tuned_irq_affinity(?!\w)", "tuned_irq_affinity_x", text))
    assert "tuned: README.md does not mention tuned_irq_affinity" in spec_problems(role_dir)


def test_a_default_that_differs_from_defaults_main_is_found(role_copy):
    role_dir = role_copy("sriov")

    def change(specs):
        specs["main"]["options"]["sriov_device_plugin_config_path"]["default"] = "/etc/quantbot-hft/x.json"
    _edit_spec(role_dir, change)
    problems = spec_problems(role_dir)
    assert any(p.startswith("sriov:main: the default of sriov_device_plugin_config_path is") for p in problems), problems


def test_a_required_variable_with_a_default_is_found(role_copy):
    role_dir = role_copy("boot_args")

    def change(specs):
        specs["main"]["options"]["boot_args_kernel_args"]["required"] = True
    _edit_spec(role_dir, change)
    assert "boot_args:main: boot_args_kernel_args is required, but defaults/main.yml gives it a default" \
        in spec_problems(role_dir)


NOT_AN_ENTRY_POINT = "playbooks/play.yml: quantbot.hft.%s tasks_from %s is no entry point of its argument spec (%s)"
CALLS = {
    "an entry point the spec lacks": ("""
    - name: Call an entry point the spec lacks
      ansible.builtin.include_role:
        name: quantbot.hft.tuned
        tasks_from: verify
""", [NOT_AN_ENTRY_POINT % ("tuned", "verify", "absent, main, preflight")]),
    "a looped role name, resolved from the loop": ("""
    - name: Commit each role
      ansible.builtin.include_role:
        name: "quantbot.hft.{{ __role }}"
        tasks_from: commit.yml
      loop: [boot_args, hugepages]
      loop_control:
        loop_var: __role
""", [NOT_AN_ENTRY_POINT % ("hugepages", "commit", "absent, main, preflight")]),
    "a role name that cannot be told": ("""
    - name: A role from a variable
      ansible.builtin.import_role:
        name: "{{ some_role }}"
        tasks_from: absent
""", ["playbooks/play.yml: include_role '{{ some_role }}' with tasks_from 'absent': the role name cannot be told"]),
}


@pytest.mark.parametrize("case", sorted(CALLS))
def test_a_bad_tasks_from_is_found(tmp_path, case):
    tasks, expected = CALLS[case]
    root = tmp_path / "repo"
    shutil.copytree(ROLES_DIR, str(root / "roles"))
    (root / "playbooks").mkdir()
    (root / "playbooks" / "play.yml").write_text("- hosts: all\n  tasks:" + tasks)
    assert tasks_from_problems(str(root)) == expected


# --------------------------------------------------------------------------
# Ansible's own validation of the templated defaults, as when the roles run
# --------------------------------------------------------------------------
XEON = os.path.join(UNIT_DIR, "fixtures", "sysfs", "xeon-2s-interleaved")
LAB = os.path.join(UNIT_DIR, "fixtures", "sysfs", "lab-vm")
KNOBS_OFF = dict((knob, False) for knob in SETTINGS_DEFAULTS)
BARE_METAL = {"vendor": "GenuineIntel", "flags": ["constant_tsc", "nonstop_tsc"], "cpufreq": True}
VM = {"vendor": "GenuineIntel", "flags": ["constant_tsc"], "cpufreq": False}
# What the playbooks pass to the roles (playbooks/onboard.yml, playbooks/offboard.yml) and the lab's group_vars.
ONBOARD = {"kubelet_gate_taint": {"key": "quantbot.io/hft-unverified", "value": "true", "effect": "NoSchedule"},
           "kubelet_uncordon": False, "kubelet_node_name": "hft-node-01", "kubelet_kubeconfig": "",
           "kubelet_kube_context": ""}
OFFBOARD = {"kubelet_uncordon": "{{ hft_offboard_uncordon | default(false) | bool }}"}
LAB_VARS = {"sriov_pfs": [{"name": "enp65s0", "num_vfs": 2}], "ptp_interfaces": ["enp65s0"],
            "ptp_time_stamping": "software", "ptp_offset_threshold_ns": 5000000, "ptp_metrics_window": 120,
            "kubelet_configz_url": "http://127.0.0.1:10250/configz", "hft_kubeconfig": "/tmp/kubeconfig"}


def _plan(sysfs, nics, cpu, settings=None):
    topology = read_topology(sysfs)
    plan, _warnings = make_plan(topology, nics=nics, hugepages_2m=64, cpu=cpu, settings=settings, cmdline=[])
    return {"hft_plan": plan, "hft_topology": topology, "inventory_hostname": "hft-node-01"}


SCENARIOS = {
    "bare metal, default knobs": lambda: dict(_plan(XEON, ["ens1f0"], BARE_METAL), **ONBOARD),
    "bare metal, C-states 20 us": lambda: dict(_plan(XEON, ["ens1f0"], BARE_METAL, {"cstates": 20}), **OFFBOARD),
    "every knob off": lambda: _plan(XEON, ["ens1f0"], BARE_METAL, KNOBS_OFF),
    "the lab VM": lambda: dict(_plan(LAB, ["eth1"], VM), **dict(LAB_VARS, **ONBOARD)),
}


def _trusted(value):
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, list):
        return [_trusted(item) for item in value]
    if isinstance(value, dict):
        return dict((key, _trusted(item)) for key, item in value.items())
    return value


def validation_errors(scenario, specs=None):
    """Ansible's role argument validation (what validate_argument_spec does) for every role and entry point."""
    variables = {}
    for role in ROLES:
        variables.update(_load(os.path.join(ROLES_DIR, role, "defaults", "main.yml")) or {})
    variables.update(scenario)
    variables = _trusted(variables)
    templar = Templar(loader=DataLoader(), variables=variables)
    errors = []
    for role in ROLES:
        role_specs = specs[role] if specs else _load(os.path.join(ROLES_DIR, role, "meta", "argument_specs.yml"))["argument_specs"]
        for entry, spec in sorted(role_specs.items()):
            options = spec.get("options") or {}
            args = templar.template(dict((name, variables[name]) for name in options if name in variables))
            result = ArgumentSpecValidator(options).validate(json.loads(json.dumps(args)),
                                                             validate_role_argument_spec=True)
            errors.extend("%s:%s: %s" % (role, entry, message) for message in result.error_messages)
    return errors


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_the_templated_defaults_pass_the_role_validation(name):
    assert validation_errors(SCENARIOS[name]()) == []


def test_the_role_validation_catches_a_type_the_templated_default_cannot_take():
    specs = dict((role, _load(os.path.join(ROLES_DIR, role, "meta", "argument_specs.yml"))["argument_specs"])
                 for role in ROLES)
    broken = copy.deepcopy(specs)
    broken["tuned"]["main"]["options"] = copy.deepcopy(broken["tuned"]["main"]["options"])
    broken["tuned"]["main"]["options"]["tuned_timer_migration"]["type"] = "int"
    broken["tuned"]["main"]["options"]["tuned_thp"]["choices"] = ["always", "madvise", "never"]
    errors = validation_errors(SCENARIOS["every knob off"](), broken)
    assert any(e.startswith("tuned:main: argument 'tuned_timer_migration' is of type NoneType") for e in errors), errors
    assert any(e.startswith("tuned:main: value of tuned_thp must be one of") for e in errors), errors
    # With the knobs on, the same spec passes: the scenario with every knob off is what finds it.
    assert validation_errors(SCENARIOS["bare metal, default knobs"](), broken) == []
