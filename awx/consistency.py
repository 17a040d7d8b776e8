# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Consistency checks of the AWX configuration as code (awx/vars/*.yml).

No AWX runs here, so these checks stand in for it:

* every job template points to a playbook that exists in the project;
* every survey variable is declared for that playbook, in
  ``awx/vars/playbook_argument_specs.yml`` (playbook-level variables, the single
  source of truth for them) or in the ``meta/argument_specs.yml`` of a role
  the playbook uses, with the same type and default; a playbook-level
  variable is really read by the playbook, with the same literal default;
  a survey-only variable (``maps_to``) reaches role options of its type
  through the job template's extra_vars;
* the workflow's nodes are defined job templates, its edges name its nodes;
* each schedule runs a defined job template, its rrule is one DTSTART and one
  RRULE that dateutil (as AWX) parses into at least one run, and its
  extra_data answers only that template's survey, with the survey's types;
* a playbook-level variable of ``awx/vars/playbook_argument_specs.yml`` that a
  task passes as ``"{{ var | default(LITERAL) }}"`` to a quantbot.hft module
  option has the module's documented default there, so the survey, the spec,
  the playbook and the module agree (other variables may choose their own
  default; ``default(omit)`` leaves it to the module and is not compared);
* the credential type's injectors produce what the modules read: its
  environment variables are ones ``plugins/module_utils/_kube.py`` reads,
  they point to an injected file, and that file, rendered as AWX renders it,
  is the kubeconfig input, which the module's client factory then loads;
* least privilege: each credential is of that type and holds the kubeconfig
  of one ServiceAccount defined in ``rbac/``; each job template has exactly
  one kubeconfig credential, and that credential lists the template's
  playbook (so the validate template cannot run with the onboard identity).

``check(root)`` returns a list of ``Problem`` (empty when all is consistent).
Run ``python awx/consistency.py [ROOT]`` to print them (exit 1 when any).
"""

from __future__ import annotations

import collections
import copy
import importlib.util
import os
import re
import sys
import tempfile

import yaml

Problem = collections.namedtuple("Problem", "where kind message")

# Survey question types -> argument spec types.
SURVEY_TYPES = {
    "text": "str",
    "textarea": "str",
    "password": "str",
    "integer": "int",
    "float": "float",
    "multiplechoice": "str",
    "multiselect": "list",
}
BOOL_CHOICES = {"true", "false"}
# Argument spec types a survey answer of the given type satisfies.
COMPATIBLE = {
    "str": {"str", "path", "raw"},
    "int": {"int", "raw"},
    "float": {"float", "raw"},
    "bool": {"bool", "raw"},
    "list": {"list", "raw"},
}
# The module_utils whose environment variables a kubeconfig credential must feed.
KUBE_UTIL = os.path.join("plugins", "module_utils", "_kube.py")
SAMPLE_SERVER = "https://203.0.113.10:6443"
SAMPLE_KUBECONFIG = """apiVersion: v1
kind: Config
clusters:
- name: hft
  cluster: {server: "%s", insecure-skip-tls-verify: true}
users:
- name: hft-admin
  user: {token: sample-token-not-a-secret}
contexts:
- name: hft
  context: {cluster: hft, user: hft-admin}
current-context: hft
""" % SAMPLE_SERVER


class _Loader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
    """SafeLoader that reads Ansible's !unsafe (and !vault) tags as plain strings."""


def _scalar(loader, node):
    return loader.construct_scalar(node)


_Loader.add_constructor("!unsafe", _scalar)
_Loader.add_constructor("!vault", _scalar)


def load_yaml(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_Loader)  # nosec B506: a SafeLoader subclass


def load(root):
    """Everything the checks read, as plain data (tests mutate copies of it)."""
    data = {}
    for name in ("job_templates", "controller"):
        data.update(load_yaml(os.path.join(root, "awx", "vars", name + ".yml")) or {})
    data["playbook_specs"] = (load_yaml(os.path.join(root, "awx", "vars", "playbook_argument_specs.yml")) or {})["argument_specs"]
    roles = {}
    roles_dir = os.path.join(root, "roles")
    for role in sorted(os.listdir(roles_dir)) if os.path.isdir(roles_dir) else []:
        path = os.path.join(roles_dir, role, "meta", "argument_specs.yml")
        if os.path.isfile(path):
            roles[role] = ((load_yaml(path) or {}).get("argument_specs") or {}).get("main", {}).get("options") or {}
    data["role_specs"] = roles
    return data


# --------------------------------------------------------------------------
# playbook sources
# --------------------------------------------------------------------------
_IMPORT = re.compile(r"(?:import_playbook|import_tasks|include_tasks):\s*['\"]?([\w./-]+\.ya?ml)")
_ROLE = re.compile(r"quantbot\.hft\.(\w+)")


def playbook_files(root, playbook):
    """The playbook and the files it imports (literal paths), in order."""
    seen = []
    todo = [os.path.normpath(os.path.join(root, playbook))]
    while todo:
        path = todo.pop(0)
        if path in seen or not os.path.isfile(path):
            continue
        seen.append(path)
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        for rel in _IMPORT.findall(text):
            todo.append(os.path.normpath(os.path.join(os.path.dirname(path), rel)))
    return seen


def playbook_text(root, playbook):
    out = []
    for path in playbook_files(root, playbook):
        with open(path, encoding="utf-8") as handle:
            out.append(handle.read())
    return "\n".join(out)


def playbook_roles(text, role_specs):
    return sorted(set(name for name in _ROLE.findall(text) if name in role_specs))


def literal_defaults(text, var):
    """Values of every literal ``var | default(LITERAL)`` in text."""
    values = []
    for match in re.finditer(r"\b%s\s*\|\s*default\(\s*([^()|]*?)\s*\)" % re.escape(var), text):
        try:
            values.append(yaml.safe_load(match.group(1)))
        except yaml.YAMLError:
            continue
    return values


# --------------------------------------------------------------------------
# surveys
# --------------------------------------------------------------------------
def survey_type(question):
    qtype = question.get("type")
    if qtype == "multiplechoice" and set(str(c) for c in _choices(question)) == BOOL_CHOICES:
        return "bool"
    return SURVEY_TYPES.get(qtype)


def _choices(question):
    choices = question.get("choices") or []
    if isinstance(choices, str):
        choices = [c for c in choices.split("\n") if c]
    return choices


def survey_default(question):
    """(has_default, value) with the value as the playbook will see it."""
    if "default" not in question or question["default"] in (None, ""):
        return False, None
    value = question["default"]
    kind = survey_type(question)
    try:
        if kind == "int":
            return True, int(value)
        if kind == "float":
            return True, float(value)
    except (TypeError, ValueError):
        return True, value
    if kind == "bool":
        return True, str(value).lower() == "true"
    return True, value


def resolve_option(role_specs, target):
    """(option spec, type) for '<role>.<option>[.<sub>...]' with '[]' for list elements, or (None, reason)."""
    role, dummy, path = target.partition(".")
    options = role_specs.get(role)
    if options is None:
        return None, "no role %s" % role
    spec = None
    for part in path.split("."):
        elements = part.endswith("[]")
        name = part[:-2] if elements else part
        if options is None or name not in options:
            return None, "%s has no option %s" % (role, path)
        spec = options[name]
        options = spec.get("options")
        if elements:
            return spec, spec.get("elements", "raw")
    return spec, spec.get("type", "str")


def _declared(var, playbook, data, root):
    """(where, spec, type) of var for this playbook, or None."""
    pb_spec = None
    for entry in data["playbook_specs"].values():
        if entry.get("playbook") == playbook:
            pb_spec = entry
    if pb_spec and var in (pb_spec.get("options") or {}):
        spec = pb_spec["options"][var]
        return "awx/vars/playbook_argument_specs.yml", spec, spec.get("type", "str")
    text = playbook_text(root, playbook)
    for role in playbook_roles(text, data["role_specs"]):
        options = data["role_specs"][role]
        if var in options:
            return "roles/%s/meta/argument_specs.yml" % role, options[var], options[var].get("type", "str")
    return None


def check_question(where, question, playbook, data, root):
    """Problems of one survey question against one playbook's declarations."""
    var = question.get("variable")
    found = _declared(var, playbook, data, root)
    if found is None:
        return [Problem(where, "undeclared-variable",
                        "survey variable %s is declared neither in awx/vars/playbook_argument_specs.yml for %s "
                        "nor in the argument spec of a role it uses" % (var, playbook))]
    source, spec, declared = found
    problems = []
    kind = survey_type(question)
    if kind is None or declared not in COMPATIBLE.get(kind, ()):
        problems.append(Problem(where, "type-mismatch", "survey variable %s is %s (%s) but %s declares %s" % (
            var, question.get("type"), kind, source, declared)))
    has_default, value = survey_default(question)
    if has_default:
        if "default" not in spec:
            problems.append(Problem(where, "default-mismatch", "survey variable %s has default %r but %s declares none" % (
                var, value, source)))
        elif value != spec["default"] or type(value) is not type(spec["default"]):
            problems.append(Problem(where, "default-mismatch", "survey variable %s defaults to %r but %s declares %r" % (
                var, value, source, spec["default"])))
    elif not question.get("required"):
        problems.append(Problem(where, "default-mismatch",
                                "survey variable %s is optional and has no default (%s declares %r)" % (
                                    var, source, spec.get("default"))))
    for target in spec.get("maps_to") or []:
        target_spec, target_type = resolve_option(data["role_specs"], target)
        if target_spec is None:
            problems.append(Problem(where, "mapping", "%s maps to %s: %s" % (var, target, target_type)))
        elif kind is not None and target_type not in COMPATIBLE.get(kind, ()):
            problems.append(Problem(where, "type-mismatch", "survey variable %s is %s (%s) but maps to %s, which is %s" % (
                var, question.get("type"), kind, target, target_type)))
    return problems


def check_templates(data, root):
    problems = []
    names = set()
    for jt in data.get("hft_awx_job_templates") or []:
        where = "job template %r" % jt.get("name")
        names.add(jt.get("name"))
        playbook = jt.get("playbook") or ""
        if not os.path.isfile(os.path.join(root, playbook)):
            problems.append(Problem(where, "missing-playbook", "playbook %s does not exist in the project" % playbook))
            continue
        spec = jt.get("survey_spec") or {}
        if jt.get("survey_spec") and not spec.get("spec"):
            problems.append(Problem(where, "survey", "survey_spec has no questions"))
        seen = set()
        for question in spec.get("spec") or []:
            var = question.get("variable")
            if var in seen:
                problems.append(Problem(where, "survey", "survey variable %s asked twice" % var))
            seen.add(var)
            problems.extend(check_question(where, question, playbook, data, root))
            found = _declared(var, playbook, data, root)
            if found and found[0] == "awx/vars/playbook_argument_specs.yml":
                problems.extend(_check_mapping(where, var, found[1], jt))
        problems.extend(check_template_credentials(where, jt, data))
    problems.extend(check_playbook_specs(data, root))
    return problems, names


def check_template_credentials(where, jt, data):
    """A template's credentials are defined; exactly one is a kubeconfig, and it lists the template's playbook."""
    problems = []
    defined = dict((c.get("name"), c) for c in data.get("hft_awx_credentials") or [])
    kube_type = (data.get("hft_awx_credential_type") or {}).get("name")
    kubeconfigs = []
    for cred in jt.get("credentials") or []:
        if cred not in defined:
            problems.append(Problem(where, "credential", "credential %s is not defined in awx/vars" % cred))
        elif defined[cred].get("credential_type") == kube_type:
            kubeconfigs.append(defined[cred])
    if not problems and len(kubeconfigs) != 1:
        problems.append(Problem(where, "credential", "has %d kubeconfig credentials (%s); it needs exactly one, of the "
                                "identity its playbook needs" % (len(kubeconfigs), ", ".join(c["name"] for c in kubeconfigs)
                                                                 or "none")))
    for cred in kubeconfigs:
        if jt.get("playbook") not in (cred.get("playbooks") or []):
            problems.append(Problem(where, "credential", "runs %s with %s (%s), whose playbooks are %s" % (
                jt.get("playbook"), cred.get("name"), cred.get("identity"),
                ", ".join(cred.get("playbooks") or []) or "none")))
    return problems


def rbac_service_accounts(root):
    """{name: namespace} of the ServiceAccounts in rbac/*.yml."""
    accounts = {}
    rbac_dir = os.path.join(root, "rbac")
    for name in sorted(os.listdir(rbac_dir)) if os.path.isdir(rbac_dir) else []:
        if name.endswith(".yml"):
            with open(os.path.join(rbac_dir, name), encoding="utf-8") as handle:
                docs = list(yaml.safe_load_all(handle))
                for doc in [i for d in docs if isinstance(d, dict) and d.get("kind") == "List" for i in d.get("items") or []] \
                        + docs:
                    if isinstance(doc, dict) and doc.get("kind") == "ServiceAccount":
                        meta = doc.get("metadata") or {}
                        accounts[meta.get("name")] = meta.get("namespace")
    return accounts


def check_credentials(data, root):
    """Each credential: of the kubeconfig type, one rbac/ identity, its own vault variable, existing playbooks."""
    problems = []
    kube_type = (data.get("hft_awx_credential_type") or {}).get("name")
    accounts = rbac_service_accounts(root)
    seen_vars = {}
    for cred in data.get("hft_awx_credentials") or []:
        where = "credential %r" % cred.get("name")
        if cred.get("credential_type") != kube_type:
            problems.append(Problem(where, "credential", "its type %r is not %r, the kubeconfig type" % (
                cred.get("credential_type"), kube_type)))
        if cred.get("identity") not in accounts:
            problems.append(Problem(where, "credential", "identity %s is not a ServiceAccount in rbac/ (%s)" % (
                cred.get("identity"), ", ".join(sorted(accounts)) or "none")))
        var = cred.get("kubeconfig_var") or ""
        if not var.startswith("hft_awx_kubeconfig_"):
            problems.append(Problem(where, "credential", "kubeconfig_var %r must be an hft_awx_kubeconfig_* variable "
                                    "(awx/configure.yml requires those)" % var))
        elif var in seen_vars:
            problems.append(Problem(where, "credential", "shares %s with %s: one kubeconfig per identity" % (
                var, seen_vars[var])))
        seen_vars.setdefault(var, cred.get("name"))
        for playbook in cred.get("playbooks") or []:
            if not os.path.isfile(os.path.join(root, playbook)):
                problems.append(Problem(where, "missing-playbook", "playbook %s does not exist in the project" % playbook))
    return problems


def _check_mapping(where, var, spec, jt):
    """A maps_to variable must feed each target's role variable in the template's extra_vars."""
    problems = []
    extra = jt.get("extra_vars") or {}
    for target in spec.get("maps_to") or []:
        option = target.split(".")[1].replace("[]", "")
        value = extra.get(option)
        if not isinstance(value, str) or not re.search(r"\b%s\b" % re.escape(var), value):
            problems.append(Problem(where, "mapping", "%s maps to %s but the template's extra_vars do not set %s from it" % (
                var, target, option)))
    return problems


def check_playbook_specs(data, root):
    """Each playbook-level variable is read by its playbook, with the declared literal default."""
    problems = []
    for entry_name, entry in sorted(data["playbook_specs"].items()):
        playbook = entry.get("playbook") or ""
        where = "awx/vars/playbook_argument_specs.yml %s" % entry_name
        if not os.path.isfile(os.path.join(root, playbook)):
            problems.append(Problem(where, "missing-playbook", "playbook %s does not exist in the project" % playbook))
            continue
        text = playbook_text(root, playbook)
        for var, spec in sorted((entry.get("options") or {}).items()):
            if spec.get("maps_to"):
                continue
            if not re.search(r"\b%s\b" % re.escape(var), text):
                problems.append(Problem(where, "not-read", "%s is declared for %s, which never reads it" % (var, playbook)))
                continue
            for value in literal_defaults(text, var):
                if "default" not in spec or value != spec["default"]:
                    problems.append(Problem(where, "default-mismatch", "%s reads %s with default %r but the spec declares %r" % (
                        playbook, var, value, spec.get("default"))))
    return problems


def check_workflow(data, names, root):
    problems = []
    for wf in data.get("hft_awx_workflows") or []:
        where = "workflow %r" % wf.get("name")
        ids = set(node.get("identifier") for node in wf.get("workflow_nodes") or [])
        playbooks = []
        incomplete = False
        for node in wf.get("workflow_nodes") or []:
            ujt = node.get("unified_job_template") or {}
            if ujt.get("type") == "job_template":
                if ujt.get("name") not in names:
                    problems.append(Problem(where, "workflow", "node %s runs job template %r, which is not defined" % (
                        node.get("identifier"), ujt.get("name"))))
                else:
                    # A template whose playbook is missing is reported at the template; the
                    # workflow's survey cannot be judged against it.
                    for jt in data["hft_awx_job_templates"]:
                        if jt["name"] == ujt["name"]:
                            if os.path.isfile(os.path.join(root, jt.get("playbook") or "")):
                                playbooks.append(jt["playbook"])
                            else:
                                incomplete = True
            for edge in ("success_nodes", "failure_nodes", "always_nodes"):
                for target in (node.get("related") or {}).get(edge) or []:
                    if target.get("identifier") not in ids:
                        problems.append(Problem(where, "workflow", "node %s %s names %r, which is not a node" % (
                            node.get("identifier"), edge, target.get("identifier"))))
        for question in (wf.get("survey_spec") or {}).get("spec") or []:
            declaring = [pb for pb in playbooks if _declared(question.get("variable"), pb, data, root)]
            if not incomplete and not declaring:
                problems.append(Problem(where, "undeclared-variable", "survey variable %s is read by none of the workflow's playbooks" % (
                    question.get("variable"))))
            for playbook in declaring:
                problems.extend(p for p in check_question(where, question, playbook, data, root)
                                if p.kind != "undeclared-variable")
    return problems


# --------------------------------------------------------------------------
# schedules
# --------------------------------------------------------------------------
SCHEDULE_FREQS = {"MINUTELY", "HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY"}


def _rrule_problem(rrule):
    """Why AWX would refuse this rrule, or None."""
    from dateutil.rrule import rrulestr  # pylint: disable=import-outside-toplevel

    parts = str(rrule or "").split()
    if len(parts) != 2 or not parts[0].startswith("DTSTART") or not parts[1].startswith("RRULE:"):
        return "rrule %r must be 'DTSTART[;TZID=..]:YYYYMMDDTHHMMSS[Z] RRULE:...'" % (rrule,)
    if not re.search(r"(;TZID=[^:]+:\d{8}T\d{6}$)|(:\d{8}T\d{6}Z$)", parts[0]):
        return "rrule %r: DTSTART needs a TZID or a Z (AWX refuses a local time)" % (rrule,)
    fields = dict(p.split("=", 1) for p in parts[1][len("RRULE:"):].split(";") if "=" in p)
    if fields.get("FREQ") not in SCHEDULE_FREQS:
        return "rrule %r: FREQ must be one of %s" % (rrule, ", ".join(sorted(SCHEDULE_FREQS)))
    try:
        rule = rrulestr("\n".join(parts))
        first = next(iter(rule), None)
    except (ValueError, TypeError) as exc:
        return "rrule %r does not parse: %s" % (rrule, exc)
    if first is None:
        return "rrule %r never runs" % (rrule,)
    return None


def check_schedules(data, names):
    problems = []
    templates = dict((jt.get("name"), jt) for jt in data.get("hft_awx_job_templates") or [])
    for sched in data.get("hft_awx_schedules") or []:
        where = "schedule %r" % sched.get("name")
        target = sched.get("unified_job_template")
        if target not in names:
            problems.append(Problem(where, "schedule", "runs job template %r, which is not defined" % target))
            continue
        problem = _rrule_problem(sched.get("rrule"))
        if problem:
            problems.append(Problem(where, "schedule", problem))
        questions = dict((q.get("variable"), q) for q in (templates[target].get("survey_spec") or {}).get("spec") or [])
        for var, value in sorted((sched.get("extra_data") or {}).items()):
            if var not in questions:
                problems.append(Problem(where, "schedule", "extra_data %s is not a survey question of %r" % (var, target)))
                continue
            kind = survey_type(questions[var])
            ok = {"int": isinstance(value, int) and not isinstance(value, bool),
                  "float": isinstance(value, (int, float)) and not isinstance(value, bool),
                  "bool": str(value).lower() in BOOL_CHOICES,
                  "str": isinstance(value, str)}.get(kind, True)
            if not ok:
                problems.append(Problem(where, "type-mismatch", "extra_data %s=%r does not answer a %s question (%s)" % (
                    var, value, questions[var].get("type"), kind)))
    return problems


# --------------------------------------------------------------------------
# module option defaults
# --------------------------------------------------------------------------
_MODULE_KEY = re.compile(r"^quantbot\.hft\.(\w+)$")
_PASSED = re.compile(r"^\{\{\s*(\w+)\s*\|\s*default\(\s*([^()|]*?)\s*\)\s*\}\}$")


def _tasks(node):
    """Every task mapping in a playbook or task file (plays, blocks, rescue, always, handlers)."""
    if isinstance(node, list):
        for item in node:
            yield from _tasks(item)
    elif isinstance(node, dict):
        yield node
        for key in ("tasks", "pre_tasks", "post_tasks", "handlers", "block", "rescue", "always"):
            if key in node:
                yield from _tasks(node[key])


def module_passes(root, playbook):
    """(file, module, option, var, literal) for each task arg written "{{ var | default(LITERAL) }}"."""
    out = []
    for path in playbook_files(root, playbook):
        for task in _tasks(load_yaml(path)):
            for key, args in task.items():
                match = _MODULE_KEY.match(str(key))
                if not match or not isinstance(args, dict):
                    continue
                for option, value in args.items():
                    passed = _PASSED.match(str(value).strip()) if isinstance(value, str) else None
                    if passed and passed.group(2) != "omit":
                        try:
                            literal = yaml.safe_load(passed.group(2))
                        except yaml.YAMLError:
                            continue
                        out.append((os.path.relpath(path, root), match.group(1), option, passed.group(1), literal))
    return out


def module_doc_options(root, module):
    """The documented options of plugins/modules/<module>.py (read from DOCUMENTATION, not imported), or None."""
    import ast  # pylint: disable=import-outside-toplevel

    path = os.path.join(root, "plugins", "modules", module + ".py")
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "DOCUMENTATION" for t in node.targets):
            return (yaml.safe_load(node.value.value) or {}).get("options") or {}
    return {}


def check_module_defaults(data, root):
    problems = []
    playbooks = sorted(set([jt.get("playbook") for jt in data.get("hft_awx_job_templates") or []] +
                           [e.get("playbook") for e in data["playbook_specs"].values()]))
    declared = set()
    for entry in data["playbook_specs"].values():
        declared.update(var for var, spec in (entry.get("options") or {}).items() if not spec.get("maps_to"))
    seen = set()
    for playbook in playbooks:
        if not playbook or not os.path.isfile(os.path.join(root, playbook)):
            continue
        for where, module, option, var, literal in module_passes(root, playbook):
            if var not in declared or (where, module, option) in seen:
                continue
            seen.add((where, module, option))
            options = module_doc_options(root, module)
            if options is None:
                problems.append(Problem(where, "module-default", "a task calls quantbot.hft.%s, which does not exist" % module))
            elif option not in options:
                problems.append(Problem(where, "module-default", "quantbot.hft.%s has no option %s" % (module, option)))
            elif "default" in options[option] and literal != options[option]["default"]:
                problems.append(Problem(where, "module-default", "passes %s to quantbot.hft.%s %s with default %r, but the "
                                        "module's default is %r" % (var, module, option, literal, options[option]["default"])))
    return problems


# --------------------------------------------------------------------------
# credential type
# --------------------------------------------------------------------------
def load_kube_util(root):
    """plugins/module_utils/_kube.py of the checked tree, imported from its file."""
    path = os.path.join(root, KUBE_UTIL)
    spec = importlib.util.spec_from_file_location("hft_awx_check_kube", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def render_injectors(cred_type, inputs, tmpdir):
    """Render a credential type's injectors the way AWX does: (env, extra_vars, files)."""
    from jinja2.sandbox import ImmutableSandboxedEnvironment  # pylint: disable=import-outside-toplevel
    from jinja2 import StrictUndefined  # pylint: disable=import-outside-toplevel

    env = ImmutableSandboxedEnvironment(undefined=StrictUndefined)
    injectors = cred_type.get("injectors") or {}
    files = {}
    filenames = {}
    for key, template in sorted((injectors.get("file") or {}).items()):
        name = key.split(".", 1)[1] if "." in key else None
        path = os.path.join(tmpdir, "cred-%s" % (name or "file"))
        content = env.from_string(template).render(**inputs)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(content)
        files[path] = content
        filenames[name] = path
    context = dict(inputs)
    tower = {"filename": filenames.get(None) or dict((k, v) for k, v in filenames.items() if k)}
    context["tower"] = tower
    context["awx"] = tower
    rendered_env = dict((k, env.from_string(v).render(**context)) for k, v in (injectors.get("env") or {}).items())
    extra = dict((k, env.from_string(v).render(**context)) for k, v in (injectors.get("extra_vars") or {}).items())
    return rendered_env, extra, files


def check_credential_type(data, root):
    cred_type = data.get("hft_awx_credential_type") or {}
    where = "credential type %r" % cred_type.get("name")
    problems = []
    fields = dict((f.get("id"), f) for f in (cred_type.get("inputs") or {}).get("fields") or [])
    for required in (cred_type.get("inputs") or {}).get("required") or []:
        if required not in fields:
            problems.append(Problem(where, "injector", "required input %s is not a field" % required))
    if "kubeconfig" in fields and not fields["kubeconfig"].get("secret"):
        problems.append(Problem(where, "injector", "the kubeconfig input is not secret"))
    kube = load_kube_util(root)
    with tempfile.TemporaryDirectory() as tmpdir:
        try:
            env, extra, files = render_injectors(cred_type, {"kubeconfig": SAMPLE_KUBECONFIG}, tmpdir)
        except Exception as exc:  # pylint: disable=broad-except  # jinja2 errors of any kind
            return problems + [Problem(where, "injector", "the injectors do not render: %s" % exc)]
        if not env:
            problems.append(Problem(where, "injector", "injects no environment variable, and the modules read none of its extra_vars"))
        for name, value in sorted(env.items()):
            if getattr(kube, "_env_kubeconfig")({name: value}) != value:
                problems.append(Problem(where, "injector", "injects %s, which %s does not read (it reads %s)" % (
                    name, KUBE_UTIL, ", ".join(kube_env_names(kube)))))
            elif files.get(value) != SAMPLE_KUBECONFIG:
                problems.append(Problem(where, "injector", "%s does not point to a file holding the kubeconfig input" % name))
        for name in sorted(extra):
            if not any(name in (spec.get("options") or {}) for spec in data["playbook_specs"].values()) and \
                    not any(name in options for options in data["role_specs"].values()):
                problems.append(Problem(where, "injector", "injects the extra var %s, which no playbook or role declares" % name))
        if not problems and getattr(kube, "HAS_KUBERNETES", False):
            try:
                cfg, source = kube.build_configuration({}, environ=env)
            except kube.KubeError as exc:
                problems.append(Problem(where, "injector", "the modules cannot load the injected kubeconfig: %s" % exc))
            else:
                if source != "environment kubeconfig" or cfg.host != SAMPLE_SERVER:
                    problems.append(Problem(where, "injector", "the modules loaded %s from %s, not the injected kubeconfig" % (
                        cfg.host, source)))
    return problems


def kube_env_names(kube):
    """The environment variable names _kube reads for a kubeconfig (probed, not parsed)."""
    candidates = ["K8S_AUTH_KUBECONFIG", "KUBECONFIG", "K8S_AUTH_HOST", "K8S_AUTH_API_KEY"]
    return [n for n in candidates if getattr(kube, "_env_kubeconfig")({n: "/probe"}) == "/probe"]


def check(root, data=None):
    """All problems of the AWX configuration under root (data: preloaded, possibly mutated, definitions)."""
    data = copy.deepcopy(data) if data is not None else load(root)
    problems, names = check_templates(data, root)
    problems.extend(check_workflow(data, names, root))
    problems.extend(check_schedules(data, names))
    problems.extend(check_module_defaults(data, root))
    problems.extend(check_credential_type(data, root))
    problems.extend(check_credentials(data, root))
    return problems


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    root = os.path.abspath(argv[0] if argv else os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    problems = check(root)
    for problem in problems:
        print("%s: %s: %s" % problem)
    print("%d problem(s)" % len(problems))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
