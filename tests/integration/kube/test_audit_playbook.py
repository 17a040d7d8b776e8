# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/audit.yml through ansible-playbook, against the lab API on loopback: the table,
reports/fleet/audit.json and audit.junit.xml (relative to the directory it runs in), and a node
that turns invalid when its PTP pod goes or its host-validation annotations are removed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from hftlab import fleet as labfleet

from conftest import REPO_ROOT

pytestmark = pytest.mark.kmock_only
PLAYBOOK = os.path.join(REPO_ROOT, "playbooks", "audit.yml")


def audit(kube, cwd, *extra):
    bindir = os.path.dirname(sys.executable)
    env = dict(os.environ, PATH=bindir + os.pathsep + os.environ.get("PATH", ""), ANSIBLE_NOCOLOR="1",
               ANSIBLE_CONFIG=os.path.join(REPO_ROOT, "ansible.cfg"))
    argv = [os.path.join(bindir, "ansible-playbook"), PLAYBOOK, "-e", "hft_kubeconfig=%s" % kube.kubeconfig]
    proc = subprocess.run(argv + list(extra), capture_output=True, text=True, timeout=240, env=env, cwd=str(cwd),
                          check=False)
    return proc.returncode, proc.stdout + proc.stderr


def reports(cwd):
    base = os.path.join(str(cwd), "reports", "fleet")
    with open(os.path.join(base, "audit.json"), encoding="utf-8") as handle:
        data = json.load(handle)
    return data, ET.parse(os.path.join(base, "audit.junit.xml")).getroot()


def test_a_fit_fleet_then_a_node_loses_its_ptp_pod_and_its_validation(kube, tmp_path):
    made = labfleet.make_fleet(20, broken=False)
    kube.server.load(made.objects)
    rc, out = audit(kube, tmp_path)
    assert rc == 0, out
    assert "nodes: 20, valid: 20, invalid: 0" in out and "all 20 HFT nodes are fit for bots" in out
    data, junit = reports(tmp_path)
    assert data["summary"]["valid"] == 20 and len(data["nodes"]) == 20 and data["generated_at"].endswith("Z")
    assert junit.get("tests") == str(20 * 10) and junit.get("failures") == "0"

    victim, other = made.names[4], made.names[9]
    kube.v1.delete_namespaced_pod("quantbot-ptp-%s" % victim, "alphaswarm-bots", _preload_content=False)
    gone = kube.run("node_label", {"node_name": other, "labels": {}, "taints": [],
                                   "annotations": dict.fromkeys(["quantbot.io/hft-validated-at", "quantbot.io/hft-valid",
                                                                 "quantbot.io/hft-failed-checks", "quantbot.io/hft-plan"])})
    assert gone["changed"] is True
    rc, out = audit(kube, tmp_path)
    assert rc == 2, out                                  # the assert task fails the play
    assert "%s  ptp_pod" % victim in out and "%s  host_validation" % other in out
    assert "2 of 20 HFT nodes are not fit for bots: %s, %s" % (victim, other) in out
    data, junit = reports(tmp_path)
    bad = dict((n["name"], [f["check"] for f in n["failures"]]) for n in data["nodes"] if not n["valid"])
    assert bad == {victim: ["ptp_pod"], other: ["host_validation"]}
    failing = [(c.get("classname"), c.get("name")) for c in junit.iter("testcase") if c.find("failure") is not None]
    assert sorted(failing) == sorted([(victim, "ptp_pod"), (other, "host_validation")])


def test_reports_dir_and_not_failing(kube, tmp_path):
    made = labfleet.make_fleet(20)
    kube.server.load(made.objects)
    target = tmp_path / "out"
    rc, out = audit(kube, tmp_path, "-e", "hft_reports_dir=%s" % target, "-e", "hft_audit_fail_on_invalid=false",
                    "-e", '{"hft_audit_nodes": %s}' % json.dumps(made.names))
    assert rc == 0, out
    with open(str(target / "fleet" / "audit.json"), encoding="utf-8") as handle:
        data = json.load(handle)
    found = dict((n["name"], sorted(set(f["check"] for f in n["failures"]))) for n in data["nodes"] if not n["valid"])
    assert found == made.expected
    for name in made.expected:
        assert name in out
    assert not os.path.exists(str(tmp_path / "reports"))
