# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Consistency of the AWX configuration as code (awx/) with the playbooks and roles.

The checker is awx/consistency.py. The positive tests run it on the
repository. The negative tests mutate a copy of the definitions (or of the
files) and assert that the checker reports exactly the problem put in, so
the positive result means something.
"""

from __future__ import annotations

import copy
import importlib.util
import os
import shutil

import pytest
import yaml

UNIT_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(UNIT_DIR))


def _load_checker():
    spec = importlib.util.spec_from_file_location("hft_awx_consistency", os.path.join(REPO_ROOT, "awx", "consistency.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


checker = _load_checker()
ONBOARD = "HFT onboard node"
WORKFLOW = "HFT onboard and validate node"
AUDIT = "HFT audit fleet"


@pytest.fixture(scope="module")
def data():
    return checker.load(REPO_ROOT)


@pytest.fixture(scope="module")
def baseline(data):
    return set(checker.check(REPO_ROOT, data))


def template(data, name):
    return next(jt for jt in data["hft_awx_job_templates"] if jt["name"] == name)


def question(survey_owner, variable):
    return next(q for q in survey_owner["survey_spec"]["spec"] if q["variable"] == variable)


# --------------------------------------------------------------------------
# positive
# --------------------------------------------------------------------------
def test_awx_definitions_are_consistent():
    problems = checker.check(REPO_ROOT)
    assert problems == [], "\n".join("%s: %s: %s" % p for p in problems)


def test_the_four_templates_and_the_workflow_are_defined(data):
    names = [jt["name"] for jt in data["hft_awx_job_templates"]]
    assert names == ["HFT onboard node", "HFT validate node", "HFT offboard node", AUDIT]
    playbooks = dict((jt["name"], jt["playbook"]) for jt in data["hft_awx_job_templates"])
    assert playbooks == {"HFT onboard node": "playbooks/onboard.yml", "HFT validate node": "playbooks/validate.yml",
                         "HFT offboard node": "playbooks/offboard.yml", AUDIT: "playbooks/audit.yml"}
    workflow = next(wf for wf in data["hft_awx_workflows"] if wf["name"] == WORKFLOW)
    nodes = dict((n["identifier"], n) for n in workflow["workflow_nodes"])
    assert nodes["onboard"]["unified_job_template"]["name"] == "HFT onboard node"
    assert nodes["validate"]["unified_job_template"]["name"] == "HFT validate node"
    assert nodes["onboard"]["related"]["success_nodes"] == [{"identifier": "validate"}]
    assert not (nodes["validate"].get("related") or {}).get("success_nodes")


FIVE = ["hft_plan_hosts", "hft_hugepages_2m", "hft_sriov_num_vfs", "hft_ptp_interface", "hft_reboot_allowed"]
SURVEYS = {
    # The five questions: nodes, HugePages, VF count, PTP interface, reboot allowed.
    "HFT onboard node": FIVE,
    WORKFLOW: FIVE,
    # validate.yml never reboots and does not read a VF count.
    "HFT validate node": ["hft_plan_hosts", "hft_hugepages_2m", "hft_ptp_interface"],
    # offboard.yml selects hosts with hft_hosts; its reboot is hft_offboard_reboot,
    # behind the host-side opt-in hft_offboard_host.
    "HFT offboard node": ["hft_hosts", "hft_ptp_interface", "hft_offboard_host", "hft_offboard_reboot"],
}


def test_the_audit_template_is_read_only_and_scheduled(data):
    audit = template(data, AUDIT)
    assert [q["variable"] for q in audit["survey_spec"]["spec"]] == ["hft_audit_max_age_hours", "hft_audit_configz"]
    assert audit["job_type"] == "run" and not audit["ask_job_type_on_launch"] and not audit.get("extra_vars")
    assert audit["credentials"] == ["HFT audit kubeconfig"]
    schedules = [s for s in data["hft_awx_schedules"] if s["unified_job_template"] == AUDIT]
    assert len(schedules) == 1 and schedules[0]["enabled"] is True
    assert "FREQ=HOURLY" in schedules[0]["rrule"]
    # The survey, the playbook spec, the playbook and the module agree on the 24 h default.
    assert checker.module_doc_options(REPO_ROOT, "fleet_audit")["validation_max_age_hours"]["default"] == 24
    assert ("playbooks/audit.yml", "fleet_audit", "validation_max_age_hours", "hft_audit_max_age_hours", 24.0) in \
        checker.module_passes(REPO_ROOT, "playbooks/audit.yml")


@pytest.mark.parametrize("name", sorted(SURVEYS))
def test_every_survey_asks_its_questions(data, name):
    owner = next(x for x in data["hft_awx_job_templates"] + data["hft_awx_workflows"] if x["name"] == name)
    variables = [q["variable"] for q in owner["survey_spec"]["spec"]]
    assert variables == SURVEYS[name]
    # Fleet safety: the nodes are always chosen, never defaulted to "all".
    nodes = owner["survey_spec"]["spec"][0]
    assert nodes["variable"] in ("hft_plan_hosts", "hft_hosts")
    assert nodes["required"] and not nodes.get("default")


def test_survey_types_map_to_argument_spec_types():
    assert checker.survey_type({"type": "integer"}) == "int"
    assert checker.survey_type({"type": "text"}) == "str"
    assert checker.survey_type({"type": "multiplechoice", "choices": ["true", "false"]}) == "bool"
    assert checker.survey_type({"type": "multiplechoice", "choices": "true\nfalse"}) == "bool"
    assert checker.survey_type({"type": "multiplechoice", "choices": ["L2", "UDPv4"]}) == "str"
    assert checker.survey_default({"type": "multiplechoice", "choices": ["true", "false"], "default": "false"}) == (True, False)
    assert checker.survey_default({"type": "integer", "default": "64"}) == (True, 64)
    assert checker.survey_default({"type": "text", "required": True}) == (False, None)


def test_maps_to_targets_resolve_in_the_role_argument_specs(data):
    assert checker.resolve_option(data["role_specs"], "sriov.sriov_pfs.num_vfs")[1] == "int"
    assert checker.resolve_option(data["role_specs"], "sriov.sriov_pfs.name")[1] == "str"
    assert checker.resolve_option(data["role_specs"], "ptp.ptp_interfaces[]")[1] == "raw"
    assert checker.resolve_option(data["role_specs"], "ptp.no_such")[0] is None


def test_playbook_spec_defaults_are_read_from_the_playbooks():
    text = checker.playbook_text(REPO_ROOT, "playbooks/onboard.yml")
    assert checker.literal_defaults(text, "hft_hugepages_2m") == [1024]
    assert checker.literal_defaults(text, "hft_reboot_allowed") == [True]
    assert "all" in checker.literal_defaults(text, "hft_plan_hosts")


def test_credential_injectors_feed_the_modules_client_factory(data, tmp_path):
    kube = checker.load_kube_util(REPO_ROOT)
    env, extra, files = checker.render_injectors(data["hft_awx_credential_type"], {"kubeconfig": checker.SAMPLE_KUBECONFIG},
                                                 str(tmp_path))
    assert list(env) == ["K8S_AUTH_KUBECONFIG"] and extra == {}
    assert files[env["K8S_AUTH_KUBECONFIG"]] == checker.SAMPLE_KUBECONFIG
    if not kube.HAS_KUBERNETES:
        pytest.skip("the kubernetes client is not installed")
    cfg, source = kube.build_configuration({}, environ=env)
    assert (source, cfg.host) == ("environment kubeconfig", checker.SAMPLE_SERVER)


def test_the_kubeconfig_credentials_are_not_logged():
    with open(os.path.join(REPO_ROOT, "awx", "configure.yml"), encoding="utf-8") as handle:
        play = yaml.safe_load(handle)[0]
    task = next(t for t in play["tasks"] if "awx.awx.credential" in t)
    assert task["no_log"] is True and task["loop"] == "{{ hft_awx_credentials }}"
    assert task["awx.awx.credential"]["inputs"] == {"kubeconfig": "{{ lookup('ansible.builtin.vars', item.kubeconfig_var) }}"}


def test_each_template_runs_with_the_identity_of_its_playbook(data):
    identity = {}
    for cred in data["hft_awx_credentials"]:
        for playbook in cred["playbooks"]:
            identity[playbook] = cred["identity"]
    assert dict((jt["playbook"], identity[jt["playbook"]]) for jt in data["hft_awx_job_templates"]) == {
        "playbooks/onboard.yml": "quantbot-hft-onboard",
        "playbooks/validate.yml": "quantbot-hft-validate",
        "playbooks/offboard.yml": "quantbot-hft-onboard",
        "playbooks/audit.yml": "quantbot-hft-audit",
    }
    assert sorted(c["identity"] for c in data["hft_awx_credentials"]) == [
        "quantbot-hft-audit", "quantbot-hft-onboard", "quantbot-hft-validate"]


def test_ee_collection_tarball_follows_galaxy_version():
    with open(os.path.join(REPO_ROOT, "galaxy.yml"), encoding="utf-8") as handle:
        galaxy = yaml.safe_load(handle)
    with open(os.path.join(REPO_ROOT, "requirements-ee.yml"), encoding="utf-8") as handle:
        reqs = yaml.safe_load(handle)["collections"]
    names = [r["name"] for r in reqs]
    assert "collections/%s-%s-%s.tar.gz" % (galaxy["namespace"], galaxy["name"], galaxy["version"]) in names
    assert set(galaxy["dependencies"]) <= set(names)
    with open(os.path.join(REPO_ROOT, "execution-environment.yml"), encoding="utf-8") as handle:
        ee = yaml.safe_load(handle)
    assert ee["version"] == 3
    assert ee["dependencies"]["galaxy"] == "requirements-ee.yml"
    for key in ("python", "system"):
        assert os.path.isfile(os.path.join(REPO_ROOT, ee["dependencies"][key]))


def test_bindep_keeps_node_tools_off_the_controller():
    with open(os.path.join(REPO_ROOT, "bindep.txt"), encoding="utf-8") as handle:
        packages = [line.split()[0] for line in handle if line.strip() and not line.startswith("#")]
    assert packages and not set(packages) & {"linuxptp", "ethtool", "tuned", "irqbalance"}


# --------------------------------------------------------------------------
# negative: mutate a copy of the definitions, expect exactly that problem
# --------------------------------------------------------------------------
def _missing_playbook(data):
    template(data, ONBOARD)["playbook"] = "playbooks/onboard-missing.yml"


def _int_survey_for_str_var(data):
    question(template(data, ONBOARD), "hft_plan_hosts")["type"] = "integer"


def _str_argspec_for_int_survey(data):
    data["playbook_specs"]["onboard"]["options"]["hft_hugepages_2m"]["type"] = "str"


def _role_argspec_type_changes(data):
    data["role_specs"]["sriov"]["sriov_pfs"]["options"]["num_vfs"]["type"] = "str"


def _default_mismatch(data):
    question(template(data, ONBOARD), "hft_hugepages_2m")["default"] = 512


def _bool_default_mismatch(data):
    question(template(data, ONBOARD), "hft_reboot_allowed")["default"] = "false"


def _optional_without_default(data):
    question(template(data, ONBOARD), "hft_ptp_interface")["required"] = False


def _undeclared_variable(data):
    template(data, ONBOARD)["survey_spec"]["spec"].append(
        {"question_name": "Typo", "variable": "hft_hugepage_2m", "type": "integer", "required": True})


def _mapping_dropped(data):
    del template(data, ONBOARD)["extra_vars"]["sriov_pfs"]


def _maps_to_missing_option(data):
    data["playbook_specs"]["onboard"]["options"]["hft_sriov_num_vfs"]["maps_to"] = ["sriov.sriov_pfs.vf_count"]


def _injector_env_not_read(data):
    env = data["hft_awx_credential_type"]["injectors"]["env"]
    env["KUBE_CONFIG_PATH"] = env.pop("K8S_AUTH_KUBECONFIG")


def _injector_env_not_a_file(data):
    data["hft_awx_credential_type"]["injectors"]["env"]["K8S_AUTH_KUBECONFIG"] = "{{ kubeconfig }}"


def _injector_file_not_the_input(data):
    data["hft_awx_credential_type"]["injectors"]["file"]["template.kubeconfig"] = "apiVersion: v1\n"


def _workflow_unknown_template(data):
    data["hft_awx_workflows"][0]["workflow_nodes"][1]["unified_job_template"]["name"] = "HFT validate nodes"


def _workflow_dangling_edge(data):
    data["hft_awx_workflows"][0]["workflow_nodes"][0]["related"]["success_nodes"] = [{"identifier": "validat"}]


def _credential_undefined(data):
    template(data, ONBOARD)["credentials"] = ["HFT cluster kubeconfig (old)"]


def _schedule_unknown_template(data):
    data["hft_awx_schedules"][0]["unified_job_template"] = "HFT audit fleets"


def _schedule_local_time(data):
    data["hft_awx_schedules"][0]["rrule"] = "DTSTART:20261201T001500 RRULE:FREQ=HOURLY;INTERVAL=1"


def _schedule_bad_freq(data):
    data["hft_awx_schedules"][0]["rrule"] = "DTSTART:20261201T001500Z RRULE:FREQ=SECONDLY"


def _schedule_extra_data_not_a_question(data):
    data["hft_awx_schedules"][0]["extra_data"]["hft_audit_max_age"] = 12


def _schedule_extra_data_wrong_type(data):
    data["hft_awx_schedules"][0]["extra_data"]["hft_audit_max_age_hours"] = "a day"


def _validate_with_the_onboard_identity(data):
    template(data, "HFT validate node")["credentials"] = ["HFT onboard kubeconfig"]


def _two_kubeconfigs(data):
    template(data, ONBOARD)["credentials"].append("HFT audit kubeconfig")


def _no_kubeconfig(data):
    template(data, ONBOARD)["credentials"] = []


def _identity_not_in_rbac(data):
    data["hft_awx_credentials"][2]["identity"] = "quantbot-hft-admin"


def _credential_of_another_type(data):
    data["hft_awx_credentials"][1]["credential_type"] = "OpenShift or Kubernetes API Bearer Token"


def _shared_kubeconfig_var(data):
    data["hft_awx_credentials"][1]["kubeconfig_var"] = data["hft_awx_credentials"][0]["kubeconfig_var"]


NEGATIVE = [
    # (mutation, kind, words the message must hold, where it is reported)
    (_missing_playbook, "missing-playbook", ["playbooks/onboard-missing.yml", "does not exist"], ["job template 'HFT onboard node'"]),
    (_int_survey_for_str_var, "type-mismatch", ["hft_plan_hosts", "integer", "declares str"], ["job template 'HFT onboard node'"]),
    (_str_argspec_for_int_survey, "type-mismatch", ["hft_hugepages_2m", "integer", "declares str"],
     ["job template 'HFT onboard node'", "workflow 'HFT onboard and validate node'"]),
    (_role_argspec_type_changes, "type-mismatch", ["hft_sriov_num_vfs", "sriov.sriov_pfs.num_vfs, which is str"], None),
    (_default_mismatch, "default-mismatch", ["hft_hugepages_2m", "512", "1024"], ["job template 'HFT onboard node'"]),
    (_bool_default_mismatch, "default-mismatch", ["hft_reboot_allowed", "False", "True"], ["job template 'HFT onboard node'"]),
    (_optional_without_default, "default-mismatch", ["hft_ptp_interface", "optional and has no default"],
     ["job template 'HFT onboard node'"]),
    (_undeclared_variable, "undeclared-variable", ["hft_hugepage_2m", "declared neither"], ["job template 'HFT onboard node'"]),
    # Both survey-only variables feed sriov_pfs: both mappings are reported.
    (_mapping_dropped, "mapping", ["sriov_pfs", "do not set"], ["job template 'HFT onboard node'"] * 2),
    (_maps_to_missing_option, "mapping", ["sriov.sriov_pfs.vf_count", "has no option"], None),
    (_injector_env_not_read, "injector", ["KUBE_CONFIG_PATH", "does not read", "K8S_AUTH_KUBECONFIG"],
     ["credential type 'Kubeconfig (quantbot.hft)'"]),
    (_injector_env_not_a_file, "injector", ["K8S_AUTH_KUBECONFIG", "does not point to a file"], ["credential type 'Kubeconfig (quantbot.hft)'"]),
    (_injector_file_not_the_input, "injector", ["K8S_AUTH_KUBECONFIG", "does not point to a file holding the kubeconfig"],
     ["credential type 'Kubeconfig (quantbot.hft)'"]),
    (_workflow_unknown_template, "workflow", ["HFT validate nodes", "not defined"], ["workflow 'HFT onboard and validate node'"]),
    (_workflow_dangling_edge, "workflow", ["validat", "not a node"], ["workflow 'HFT onboard and validate node'"]),
    (_credential_undefined, "credential", ["HFT cluster kubeconfig (old)"], ["job template 'HFT onboard node'"]),
    (_schedule_unknown_template, "schedule", ["HFT audit fleets", "not defined"], ["schedule 'HFT audit fleet hourly'"]),
    (_schedule_local_time, "schedule", ["TZID or a Z"], ["schedule 'HFT audit fleet hourly'"]),
    (_schedule_bad_freq, "schedule", ["FREQ must be one of"], ["schedule 'HFT audit fleet hourly'"]),
    (_schedule_extra_data_not_a_question, "schedule", ["hft_audit_max_age", "not a survey question"],
     ["schedule 'HFT audit fleet hourly'"]),
    (_schedule_extra_data_wrong_type, "type-mismatch", ["hft_audit_max_age_hours", "float"],
     ["schedule 'HFT audit fleet hourly'"]),
    (_validate_with_the_onboard_identity, "credential",
     ["runs playbooks/validate.yml with HFT onboard kubeconfig (quantbot-hft-onboard)"], ["job template 'HFT validate node'"]),
    # the audit credential lists no playbook yet, so the onboard template is told twice
    (_two_kubeconfigs, "credential", ["HFT"], ["job template 'HFT onboard node'"] * 2),
    (_no_kubeconfig, "credential", ["has 0 kubeconfig credentials (none)"], ["job template 'HFT onboard node'"]),
    (_identity_not_in_rbac, "credential", ["identity quantbot-hft-admin is not a ServiceAccount in rbac/"],
     ["credential 'HFT audit kubeconfig'"]),
    (_credential_of_another_type, "credential", ["kubeconfig"],
     ["credential 'HFT validate kubeconfig'", "job template 'HFT validate node'"]),
    (_shared_kubeconfig_var, "credential", ["shares hft_awx_kubeconfig_onboard with HFT onboard kubeconfig"],
     ["credential 'HFT validate kubeconfig'"]),
]


@pytest.mark.parametrize("mutate, kind, words, where", NEGATIVE, ids=[m[0].__name__.strip("_") for m in NEGATIVE])
def test_checker_reports_exactly_the_mutation(data, baseline, mutate, kind, words, where):
    mutated = copy.deepcopy(data)
    mutate(mutated)
    new = [p for p in checker.check(REPO_ROOT, mutated) if p not in baseline]
    assert new, "the checker did not notice %s" % mutate.__name__
    for problem in new:
        assert problem.kind == kind, problem
        for word in words:
            assert word in problem.message, problem
    if where is not None:
        assert sorted(p.where for p in new) == sorted(where)
    # The mutation was made on a copy: the definitions on disk are untouched.
    assert set(checker.check(REPO_ROOT, data)) == baseline


@pytest.fixture
def tree(tmp_path):
    """A copy of the files the checker reads, to break on purpose."""
    root = tmp_path / "repo"
    shutil.copytree(os.path.join(REPO_ROOT, "awx"), str(root / "awx"), ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(os.path.join(REPO_ROOT, "playbooks"), str(root / "playbooks"))
    shutil.copytree(os.path.join(REPO_ROOT, "plugins", "modules"), str(root / "plugins" / "modules"),
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(os.path.join(REPO_ROOT, "rbac"), str(root / "rbac"))
    os.makedirs(str(root / "plugins" / "module_utils"))
    shutil.copy(os.path.join(REPO_ROOT, checker.KUBE_UTIL), str(root / checker.KUBE_UTIL))
    for role in os.listdir(os.path.join(REPO_ROOT, "roles")):
        src = os.path.join(REPO_ROOT, "roles", role, "meta", "argument_specs.yml")
        if os.path.isfile(src):
            os.makedirs(str(root / "roles" / role / "meta"))
            shutil.copy(src, str(root / "roles" / role / "meta" / "argument_specs.yml"))
    return root


def _new_problems(root):
    baseline = set(checker.check(REPO_ROOT))
    return [p for p in checker.check(str(root)) if p not in baseline]


def test_copied_tree_is_as_consistent_as_the_repository(tree):
    assert _new_problems(tree) == []


def test_deleted_playbook_file_is_reported(tree):
    os.remove(str(tree / "playbooks" / "onboard.yml"))
    new = _new_problems(tree)
    assert sorted((p.where, p.kind) for p in new) == [
        ("awx/vars/playbook_argument_specs.yml onboard", "missing-playbook"),
        ("credential 'HFT onboard kubeconfig'", "missing-playbook"),
        ("job template 'HFT onboard node'", "missing-playbook"),
    ]


def test_playbook_default_drift_is_reported(tree):
    plan = tree / "playbooks" / "plan.yml"
    text = plan.read_text()
    assert "hft_hugepages_2m | default(1024)" in text
    plan.write_text(text.replace("hft_hugepages_2m | default(1024)", "hft_hugepages_2m | default(2048)"))
    new = _new_problems(tree)
    # plan.yml is imported by onboard.yml and validate.yml: both entries drift, and so does the module's default.
    assert sorted((p.kind, p.where) for p in new) == [("default-mismatch", "awx/vars/playbook_argument_specs.yml onboard"),
                                                      ("default-mismatch", "awx/vars/playbook_argument_specs.yml validate"),
                                                      ("module-default", "playbooks/plan.yml")]
    assert all("default 2048" in p.message and "declares 1024" in p.message for p in new if p.kind == "default-mismatch")
    assert [p.message for p in new if p.kind == "module-default"] == [
        "passes hft_hugepages_2m to quantbot.hft.node_topology hugepages_2m with default 2048, but the module's "
        "default is 1024"]


def test_module_default_drift_is_reported(tree):
    module = tree / "plugins" / "modules" / "fleet_audit.py"
    text = module.read_text()
    old = "  validation_max_age_hours:\n    description: Largest age of the host-validation annotation"
    assert old in text
    module.write_text(text.replace("    type: float\n    default: 24\n", "    type: float\n    default: 12\n", 1))
    new = _new_problems(tree)
    assert [(p.kind, p.where) for p in new] == [("module-default", "playbooks/audit.yml")]
    assert "hft_audit_max_age_hours" in new[0].message and "default is 12" in new[0].message


def test_schedule_rrule_is_parsed():
    assert checker._rrule_problem("DTSTART;TZID=UTC:20261201T001500 RRULE:FREQ=HOURLY;INTERVAL=1") is None
    assert checker._rrule_problem("DTSTART:20261201T001500Z RRULE:FREQ=DAILY;BYHOUR=6") is None
    assert "does not parse" in checker._rrule_problem("DTSTART:20261201T001500Z RRULE:FREQ=DAILY;BYHOUR=xx")
    assert "must be" in checker._rrule_problem("RRULE:FREQ=DAILY")


def test_argspec_file_type_change_is_reported(tree):
    path = tree / "roles" / "sriov" / "meta" / "argument_specs.yml"
    text = path.read_text()
    old = "          num_vfs:\n            type: int\n"
    assert old in text
    path.write_text(text.replace(old, "          num_vfs:\n            type: str\n"))
    new = _new_problems(tree)
    assert new and all(p.kind == "type-mismatch" and "sriov.sriov_pfs.num_vfs, which is str" in p.message for p in new)


def test_cli_exit_status(tree, capsys):
    assert checker.main([str(REPO_ROOT)]) == (1 if checker.check(REPO_ROOT) else 0)
    template_file = tree / "awx" / "vars" / "job_templates.yml"
    template_file.write_text(template_file.read_text().replace("playbook: playbooks/onboard.yml", "playbook: playbooks/gone.yml"))
    assert checker.main([str(tree)]) == 1
    assert "playbooks/gone.yml does not exist" in capsys.readouterr().out


def test_a_service_account_removed_from_rbac_is_reported(tree):
    (tree / "rbac" / "validate.yml").unlink()
    new = _new_problems(tree)
    assert [(p.where, p.kind) for p in new] == [("credential 'HFT validate kubeconfig'", "credential")]
    assert "identity quantbot-hft-validate is not a ServiceAccount in rbac/" in new[0].message
