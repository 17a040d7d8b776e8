# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers of the ansible-runner tests: run the playbooks the way AWX does.

AWX runs a job as ``ansible_runner.run(private_data_dir=...)``: a fresh
directory with ``env/`` (environment, extra vars), ``inventory/`` and the
project checkout, and judges it by the job events, the status and the rc.
``run_job`` does the same here: the project is the repository itself
(``project_dir``), the extra vars are the job template's extra_vars from
awx/vars/job_templates.yml plus the survey answers, and the environment points
at the repository's ansible.cfg (which resolves the checkout as quantbot.hft
through ./.collections).

Tests marked ``lab`` need the lab VM (``.venv/bin/hftlab up``; the instance is
``$HFTLAB_INSTANCE``, default ``default``) and are skipped, with the reason,
when ``hftlab status`` does not report it running. They never boot it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import yaml

RUNNER_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(RUNNER_DIR)))
HFTLAB = os.path.join(os.path.dirname(sys.executable), "hftlab")


class _Loader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
    """Reads Ansible's !unsafe tag as the plain string AWX stores."""


_Loader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))


def lab_status():
    """(running, reason) from `hftlab status` for $HFTLAB_INSTANCE."""
    instance = os.environ.get("HFTLAB_INSTANCE", "default")
    if not os.path.exists(HFTLAB):
        return False, "hftlab is not installed in this venv (%s): run scripts/setup.sh --install" % HFTLAB
    try:
        proc = subprocess.run([HFTLAB, "status"], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, "hftlab status failed: %s" % exc
    lines = proc.stdout.splitlines()
    first = lines[0] if lines else ""
    fields = dict(line.split(None, 1) for line in lines[1:] if len(line.split(None, 1)) == 2)
    if proc.returncode == 0 and first.rstrip().endswith(": running") and fields.get("ssh_reachable", "").strip() == "True":
        return True, first
    return False, "lab VM %r is not running (hftlab status: %r, rc %d): start it with .venv/bin/hftlab up" % (
        instance, first.strip(), proc.returncode)


def job_template(name):
    with open(os.path.join(REPO_ROOT, "awx", "vars", "job_templates.yml"), encoding="utf-8") as handle:
        data = yaml.load(handle, Loader=_Loader)  # nosec B506: a SafeLoader subclass
    return next(jt for jt in data["hft_awx_job_templates"] if jt["name"] == name)


def survey_extravars(name, answers):
    """The extra vars AWX would pass: the template's extra_vars, survey defaults, then the answers.

    Answers are checked against the survey like AWX does (unknown variable,
    missing required answer, integer bounds), so a test cannot answer a
    question the template does not ask.
    """
    jt = job_template(name)
    questions = dict((q["variable"], q) for q in jt["survey_spec"]["spec"])
    unknown = set(answers) - set(questions)
    assert not unknown, "%s has no survey question for %s" % (name, sorted(unknown))
    extravars = dict(jt.get("extra_vars") or {})
    for var, question in questions.items():
        if var in answers:
            value = answers[var]
        elif question.get("default") not in (None, ""):
            value = question["default"]
        else:
            assert not question.get("required"), "%s: the survey requires an answer for %s" % (name, var)
            continue
        if question["type"] == "integer":
            value = int(value)
            assert question.get("min", value) <= value <= question.get("max", value), (var, value)
        if question["type"] == "multiplechoice":
            value = str(value)
            assert value in [str(c) for c in question["choices"]], (var, value)
        extravars[var] = value
    return jt["playbook"], extravars


def run_job(tmp_path, playbook, inventory, extravars, limit=None, cmdline=None, envvars=None):
    """ansible_runner.run() with an AWX-like private_data_dir; returns the Runner."""
    import ansible_runner  # pylint: disable=import-outside-toplevel

    private = tmp_path / "private_data_dir"
    (private / "inventory").mkdir(parents=True)
    inv_dir = os.path.dirname(os.path.abspath(inventory))
    # The inventory and its group_vars/host_vars, as an AWX inventory sync would give them.
    for name in os.listdir(inv_dir):
        src = os.path.join(inv_dir, name)
        dest = private / "inventory" / name
        if os.path.isdir(src):
            shutil.copytree(src, str(dest))
        else:
            shutil.copy(src, str(dest))
    bindir = os.path.dirname(sys.executable)
    env = {
        # The venv's ansible-playbook first, as in the EE.
        "PATH": bindir + os.pathsep + os.environ.get("PATH", ""),
        "ANSIBLE_CONFIG": os.path.join(REPO_ROOT, "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": os.path.join(REPO_ROOT, ".collections"),
        "ANSIBLE_NOCOLOR": "1",
    }
    env.update(envvars or {})
    # ansible-runner finds ansible-playbook on this process's PATH (scripts/test.sh
    # puts the venv first; a bare `python -m pytest` may not have).
    saved_path = os.environ.get("PATH", "")
    os.environ["PATH"] = env["PATH"]
    try:
        runner = ansible_runner.run(
            private_data_dir=str(private),
            project_dir=REPO_ROOT,
            playbook=playbook,
            inventory=str(private / "inventory" / os.path.basename(inventory)),
            extravars=extravars,
            envvars=env,
            limit=limit,
            cmdline=cmdline,
            quiet=True,
            timeout=3600,
        )
    finally:
        os.environ["PATH"] = saved_path
    # Kept for a failing test's message: the job's stdout, as AWX shows it.
    runner.stdout_text = runner.stdout.read()
    return runner


def task_events(runner, event=None, task=None, action=None):
    """Job events of the run, filtered by event name, task name and module (action)."""
    out = []
    for ev in runner.events:
        data = ev.get("event_data") or {}
        if event and ev.get("event") != event:
            continue
        if task and data.get("task") != task:
            continue
        if action and not str(data.get("task_action", "")).endswith(action):
            continue
        out.append(ev)
    return out


def explain(runner):
    """Status, rc and the tail of stdout, for assertion messages."""
    return "status=%s rc=%s\n%s" % (runner.status, runner.rc, "\n".join(runner.stdout_text.splitlines()[-60:]))
