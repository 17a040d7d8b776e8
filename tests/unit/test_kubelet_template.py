# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The kubelet role's drop-in and decision rules (plugins/module_utils/_kubelet.py).

The role's variables come from its real ``defaults/main.yml`` (evaluated the
way Ansible would, lazily, with native types) on top of plans that the real
planner (``_topology.build``) makes from the captured sysfs trees, passed to
the rules the way ``roles/kubelet/vars/main.yml`` does (``kubelet_`` prefix
dropped). The tests check what kubelet checks: reservedSystemCPUs is the
plan's reserved set, reservedMemory adds up to kubeReserved + systemReserved +
evictionHard memory, and the policy fields; the field normaliser that decides
between "no drain" and the safe transition; the preflight's memory arithmetic;
and the drop-in template's text.
"""

from __future__ import annotations

import collections
import os

import jinja2
import pytest
import yaml

from ansible_collections.quantbot.hft.plugins.module_utils import _kubelet
from ansible_collections.quantbot.hft.plugins.module_utils._topology import build, parse_cpulist

UNIT_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(UNIT_DIR))
ROLE = os.path.join(REPO_ROOT, "roles", "kubelet")
TEMPLATES = os.path.join(ROLE, "templates")
SYSFS = os.path.join(UNIT_DIR, "fixtures", "sysfs")

KI, MI, GI = 1024, 1024 ** 2, 1024 ** 3
SUFFIX = {"Ki": KI, "Mi": MI, "Gi": GI, "Ti": 1024 ** 4, "k": 10 ** 3, "M": 10 ** 6, "G": 10 ** 9, "T": 10 ** 12}


def quantity(text):
    """Independent reference parser for Kubernetes memory quantities (bytes)."""
    text = str(text)
    for suffix in sorted(SUFFIX, key=len, reverse=True):
        if text.endswith(suffix):
            return int(round(float(text[:-len(suffix)]) * SUFFIX[suffix]))
    return int(text)


def comment(text):
    """Stand-in for Ansible's ``comment`` filter (default style)."""
    return "#\n" + "\n".join("# " + line for line in str(text).splitlines()) + "\n#"


def environment():
    # The template module's settings: trim_blocks on, lstrip_blocks off.
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), trim_blocks=True,
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters["comment"] = comment
    return env


def role_defaults(context):
    """defaults/main.yml resolved against ``context`` (hft_plan, hft_topology, facts).

    Like ansible-core 2.19, a default that is one ``{{ expression }}`` keeps the
    expression's Python type (a cpulist string stays a string).
    """
    with open(os.path.join(ROLE, "defaults", "main.yml")) as handle:
        raw = yaml.safe_load(handle)
    expressions = jinja2.Environment(undefined=jinja2.ChainableUndefined)
    resolved = dict(context)
    pending = dict(raw)
    for _round in range(len(raw) + 1):
        progress = False
        for key, value in list(pending.items()):
            if isinstance(value, str) and "{{" in value:
                text = value.strip()
                assert text.startswith("{{") and text.endswith("}}") and text.count("{{") == 1, key
                expression = expressions.compile_expression(text[2:-2])
                needs = [name for name in raw if name.startswith("kubelet_") and name in value]
                if any(name in pending for name in needs if name != key):
                    continue
                resolved[key] = expression(**resolved)
            else:
                resolved[key] = value
            del pending[key]
            progress = True
        if not pending or not progress:
            break
    assert not pending, "unresolved defaults: %s" % sorted(pending)
    return resolved


def plan_for(shape, **options):
    result = build(os.path.join(SYSFS, shape), cmdline_path=os.path.join(SYSFS, "no-such-cmdline"), **options)
    return result["plan"], result["topology"]


Rendered = collections.namedtuple("Rendered", "text config variables")


def settings_of(variables):
    """The rules' ``settings``: the role variables without the kubelet_ prefix (as vars/main.yml passes them)."""
    return dict((key[len("kubelet_"):], value) for key, value in variables.items() if key.startswith("kubelet_"))


def render(plan, topology, **overrides):
    """Rendered(text, wanted drop-in, variables) for a plan, with role variables overridden."""
    variables = role_defaults({
        "hft_plan": plan,
        "hft_topology": topology,
        "ansible_facts": {},
        "inventory_hostname": "hft-node-01",
        "ansible_managed": "Ansible managed",
    })
    variables.update(overrides)
    config = _kubelet.desired_dropin(settings_of(variables))
    env = environment()
    env.filters["to_nice_yaml"] = lambda data, indent=2, sort_keys=True: yaml.safe_dump(
        data, indent=indent, sort_keys=sort_keys, default_flow_style=False)
    text = env.get_template("quantbot-hft.conf.j2").render(
        dict(variables, __kubelet_decision={"desired": config}))
    assert yaml.safe_load(text) == config
    return Rendered(text, config, variables)


def fields(config):
    return _kubelet.manager_fields(config)


def reserved_total(variables):
    return (quantity(variables["kubelet_kube_reserved"].get("memory", 0))
            + quantity(variables["kubelet_system_reserved"].get("memory", 0))
            + quantity(variables["kubelet_eviction_hard_memory"]))


def memory_sum(config):
    return sum(quantity(entry["limits"]["memory"]) for entry in config["reservedMemory"])


PLANS = {
    # shape: (planner options, HFT node, node that gets the computed reservation, threads per core)
    "lab-vm": ({"nics": ["eth1"], "hugepages_2m": 256}, 1, 0, 2),
    "xeon-2s-interleaved": ({"nics": ["ens1f0"]}, 1, 0, 2),
    "epyc-nps4": ({"hft_numa_node": 2}, 2, 0, 2),
    "small-4cpu": ({}, 0, 0, 1),
}


@pytest.fixture(params=sorted(PLANS))
def shape(request):
    return request.param


def test_header_and_kind(shape):
    plan, topology = plan_for(shape, **PLANS[shape][0])
    rendered = render(plan, topology)
    text, config = rendered.text, rendered.config
    assert text.startswith("#\n# Ansible managed\n#\n")
    assert config["apiVersion"] == "kubelet.config.k8s.io/v1beta1"
    assert config["kind"] == "KubeletConfiguration"


def test_reserved_cpus_are_the_plans(shape):
    plan, topology = plan_for(shape, **PLANS[shape][0])
    config = render(plan, topology).config
    assert config["reservedSystemCPUs"] == plan["reserved_cpus"]
    assert parse_cpulist(config["reservedSystemCPUs"]) == parse_cpulist(plan["reserved_cpus"])
    # Nothing isolated is reserved.
    assert not set(parse_cpulist(config["reservedSystemCPUs"])) & set(parse_cpulist(plan["isolated_cpus"] or ""))


def test_policy_fields(shape):
    plan, topology = plan_for(shape, **PLANS[shape][0])
    config = render(plan, topology).config
    assert config["cpuManagerPolicy"] == "static"
    assert config["topologyManagerPolicy"] == "single-numa-node"
    assert config["topologyManagerScope"] == "pod"
    assert config["memoryManagerPolicy"] == "Static"


def test_reserved_memory_adds_up_and_sits_off_the_hft_node(shape):
    options, hft_node, reservation_node = PLANS[shape][:3]
    plan, topology = plan_for(shape, **options)
    assert plan["hft_numa_node"] == hft_node
    rendered = render(plan, topology)
    config, variables = rendered.config, rendered.variables
    total = reserved_total(variables)
    assert total == 512 * MI + 512 * MI + 100 * MI
    # kubelet: sum over NUMA nodes == kubeReserved + systemReserved + evictionHard memory.
    assert memory_sum(config) == quantity(config["kubeReserved"]["memory"]) \
        + quantity(config["systemReserved"]["memory"]) + quantity(config["evictionHard"]["memory.available"])
    assert memory_sum(config) == total
    assert [entry["numaNode"] for entry in config["reservedMemory"]] == [reservation_node]
    assert isinstance(config["reservedMemory"][0]["numaNode"], int)
    assert str(reservation_node) in topology["numa_nodes"]
    if len(topology["numa_nodes"]) > 1:
        assert reservation_node != hft_node


def test_full_pcpus_only_where_smt(shape):
    options, threads = PLANS[shape][0], PLANS[shape][3]
    plan, topology = plan_for(shape, **options)
    assert topology["threads_per_core"] == threads
    config = render(plan, topology).config
    if threads > 1:
        assert config["cpuManagerPolicyOptions"] == {"full-pcpus-only": "true"}
    else:
        assert "cpuManagerPolicyOptions" not in config


def test_full_pcpus_only_forced_and_extra_options():
    plan, topology = plan_for("small-4cpu")
    config = render(plan, topology, kubelet_full_pcpus_only="always",
                    kubelet_cpu_manager_policy_options={"distribute-cpus-across-numa": True}).config
    # Values are strings, as map[string]string wants them; booleans become "true".
    assert config["cpuManagerPolicyOptions"] == {"full-pcpus-only": "true", "distribute-cpus-across-numa": "true"}
    plan, topology = plan_for("lab-vm", **PLANS["lab-vm"][0])
    config = render(plan, topology, kubelet_full_pcpus_only="never").config
    assert "cpuManagerPolicyOptions" not in config


def test_eviction_hard_is_the_whole_map():
    plan, topology = plan_for("lab-vm", **PLANS["lab-vm"][0])
    config = render(plan, topology).config
    assert config["evictionHard"] == {"memory.available": "100Mi", "nodefs.available": "10%",
                                      "nodefs.inodesFree": "5%", "imagefs.available": "15%"}


def test_mixed_units_add_up_exactly():
    plan, topology = plan_for("xeon-2s-interleaved", **PLANS["xeon-2s-interleaved"][0])
    rendered = render(plan, topology, kubelet_kube_reserved={"memory": "1Gi", "cpu": "500m"},
                      kubelet_system_reserved={"memory": "0.5Gi"}, kubelet_eviction_hard_memory="500M")
    config, variables = rendered.config, rendered.variables
    total = GI + GI // 2 + 500 * 10 ** 6
    assert reserved_total(variables) == total
    assert memory_sum(config) == total
    # 500M is not a multiple of 1Ki: the sum is written in bytes, not rounded.
    assert config["reservedMemory"][0]["limits"]["memory"] == str(total)
    assert config["kubeReserved"] == {"cpu": "500m", "memory": "1Gi"}


def test_explicit_reserved_memory_is_written_as_given():
    plan, topology = plan_for("epyc-nps4", **PLANS["epyc-nps4"][0])
    given = [{"numaNode": 3, "limits": {"memory": "100Mi"}}, {"numaNode": 0, "limits": {"memory": "1Gi"}}]
    rendered = render(plan, topology, kubelet_reserved_memory=given)
    config, variables = rendered.config, rendered.variables
    assert config["reservedMemory"] == sorted(given, key=lambda entry: entry["numaNode"])
    assert memory_sum(config) == reserved_total(variables)


def test_reserved_memory_node_override():
    plan, topology = plan_for("epyc-nps4", **PLANS["epyc-nps4"][0])
    config = render(plan, topology, kubelet_reserved_memory_numa_node=3).config
    assert [entry["numaNode"] for entry in config["reservedMemory"]] == [3]


def test_policies_off():
    plan, topology = plan_for("lab-vm", **PLANS["lab-vm"][0])
    config = render(plan, topology, kubelet_cpu_manager_policy="none", kubelet_memory_manager_policy="None",
                    kubelet_topology_manager_policy="none").config
    assert config["cpuManagerPolicy"] == "none"
    assert "cpuManagerPolicyOptions" not in config  # kubelet refuses options with the none policy
    assert config["memoryManagerPolicy"] == "None"
    assert "reservedMemory" not in config
    assert config["topologyManagerPolicy"] == "none"


# --- the decision: the field normaliser -----------------------------------------------
def test_fields_ignore_representation():
    plan, topology = plan_for("lab-vm", **PLANS["lab-vm"][0])
    config = render(plan, topology).config
    # What /configz would report for the same settings, written differently.
    configz = dict(config, reservedSystemCPUs="5,4,1,0",
                   reservedMemory=[{"numaNode": 0, "limits": {"memory": str(1124 * MI)}}],
                   cpuManagerPolicyOptions={"full-pcpus-only": "true"},
                   evictionHard={"memory.available": "100Mi"}, kubeReserved={})
    assert fields(configz) == fields(config)
    assert fields(config)["reservedSystemCPUs"] == [0, 1, 4, 5]
    assert fields(config)["reservedMemory"] == {"0": {"memory": 1124 * MI}}


@pytest.mark.parametrize("field, value", [
    ("reservedSystemCPUs", "0-1"),
    ("cpuManagerPolicy", "none"),
    ("cpuManagerPolicyOptions", {}),
    ("topologyManagerPolicy", "restricted"),
    ("topologyManagerScope", "container"),
    ("memoryManagerPolicy", "None"),
    ("reservedMemory", [{"numaNode": 1, "limits": {"memory": "1124Mi"}}]),
])
def test_fields_see_each_manager_change(field, value):
    plan, topology = plan_for("lab-vm", **PLANS["lab-vm"][0])
    config = render(plan, topology).config
    changed = dict(config, **{field: value})
    before, after = fields(config), fields(changed)
    assert [key for key in before if before[key] != after[key]] == [field]


def test_fields_of_a_kubelet_without_drop_in_are_kubelet_defaults():
    assert fields({}) == {
        "cpuManagerPolicy": "none", "cpuManagerPolicyOptions": {}, "reservedSystemCPUs": [],
        "topologyManagerPolicy": "none", "topologyManagerScope": "container",
        "memoryManagerPolicy": "None", "reservedMemory": {},
    }


def test_eviction_signals_are_not_manager_fields():
    plan, topology = plan_for("lab-vm", **PLANS["lab-vm"][0])
    config = render(plan, topology).config
    # A plain-restart change: not a reason to drain.
    assert fields(dict(config, evictionHard={"memory.available": "100Mi", "nodefs.available": "5%"})) == fields(config)


# --- the preflight's memory arithmetic ---------------------------------------------------
@pytest.mark.parametrize("given, ok", [
    ([{"numaNode": 0, "limits": {"memory": "612Mi"}}, {"numaNode": 1, "limits": {"memory": "512Mi"}}], True),
    ([{"numaNode": 0, "limits": {"memory": "1Gi"}}], False),
])
def test_memory_check(given, ok):
    plan, topology = plan_for("lab-vm", **PLANS["lab-vm"][0])
    variables = role_defaults({"hft_plan": plan, "hft_topology": topology, "ansible_facts": {}})
    variables["kubelet_reserved_memory"] = given
    settings = settings_of(variables)
    assert _kubelet.reservation_total(settings) == 1124 * MI
    host = {"cpus": {"online": topology["online_cpus"]},
            "numa": dict((node, {"cpus": info["cpus"], "memory_kb": info["memory_kb"]})
                         for node, info in topology["numa_nodes"].items())}
    problems = _kubelet.kubelet_problems(settings, host, plan["isolated_cpus"])
    assert (problems == []) is ok, problems
    if not ok:
        assert "adds up to %d bytes" % GI in problems[0]


@pytest.mark.parametrize("override, needle", [
    ({"kubelet_reserved_cpus": "0-1,2-1"}, "runs backwards"),
    ({"kubelet_reserved_cpus": "0-1,x"}, "bad cpulist syntax"),
    ({"kubelet_reserved_cpus": "0-1,4-5,64"}, "not online"),
    ({"kubelet_reserved_cpus": "0-3"}, "overlaps the isolated CPUs"),
    ({"kubelet_reserved_cpus": ""}, "must not be empty with the static CPU manager policy"),
    ({"kubelet_eviction_hard_memory": "lots"}, "not a memory quantity"),
    ({"kubelet_dropin_name": "x.yaml"}, "ending in .conf"),
    ({"kubelet_restart_timeout": 0}, "kubelet_restart_timeout must be a positive integer"),
    ({"kubelet_cpu_manager_policy": "none", "kubelet_full_pcpus_only": "always"},
     "need kubelet_cpu_manager_policy=static"),
    ({"kubelet_reserved_memory": [{"numaNode": 7, "limits": {"memory": "1124Mi"}}]}, "with a node of this host"),
])
def test_bad_settings_are_refused_naming_the_value(override, needle):
    plan, topology = plan_for("lab-vm", **PLANS["lab-vm"][0])
    variables = role_defaults({"hft_plan": plan, "hft_topology": topology, "ansible_facts": {}})
    variables.update(override)
    host = {"cpus": {"online": topology["online_cpus"]},
            "numa": dict((node, {"cpus": info["cpus"], "memory_kb": info["memory_kb"]})
                         for node, info in topology["numa_nodes"].items())}
    problems = _kubelet.kubelet_problems(settings_of(variables), host, plan["isolated_cpus"])
    assert any(needle in problem for problem in problems), problems
    value = list(override.values())[0]
    if isinstance(value, str) and value:
        assert any(value in problem for problem in problems), problems


def test_good_settings_have_no_problems(shape):
    plan, topology = plan_for(shape, **PLANS[shape][0])
    variables = role_defaults({"hft_plan": plan, "hft_topology": topology, "ansible_facts": {}})
    host = {"cpus": {"online": topology["online_cpus"]},
            "numa": dict((node, {"cpus": info["cpus"], "memory_kb": info["memory_kb"]})
                         for node, info in topology["numa_nodes"].items())}
    assert _kubelet.kubelet_problems(settings_of(variables), host, plan["isolated_cpus"]) == []
