# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters for the fleet audit and the host-validation annotations (documented in the .yml files next to this).

* ``validation_annotations(result, plan, now=None)``: the Node annotations that
  record a host validation (``_fleet.validation_annotations``);
* ``plan_hash(plan)``: the short stable hash of a plan (``_fleet.plan_hash``);
* ``fleet_table(audit)``: the lines playbooks/audit.yml prints;
* ``fleet_junit_xml(audit)``: the JUnit XML report, one test case per node and check.

The rules live in ``plugins/module_utils/_fleet.py``; these only format.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import json
import xml.etree.ElementTree as ET

from ansible.errors import AnsibleFilterError

from ansible_collections.quantbot.hft.plugins.module_utils._fleet import (
    FleetError,
    parse_rfc3339,
    plan_hash as _plan_hash,
    validation_annotations as _validation_annotations,
)

SUITE_NAME = "quantbot.hft.fleet_audit"


def _audit(audit):
    if not isinstance(audit, dict) or not isinstance(audit.get("nodes"), list) or \
            not isinstance(audit.get("summary"), dict):
        raise AnsibleFilterError("expected the result of quantbot.hft.fleet_audit (with nodes and summary), got %s"
                                 % type(audit).__name__)
    return audit


def _text(value):
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def validation_annotations(result, plan, now=None):
    """The host-validation annotations of a node_validate result and its plan."""
    try:
        return _validation_annotations(result, plan, parse_rfc3339(now) if isinstance(now, str) else now)
    except FleetError as exc:
        raise AnsibleFilterError("validation_annotations: %s" % exc)


def plan_hash(plan):
    try:
        return _plan_hash(plan)
    except FleetError as exc:
        raise AnsibleFilterError("plan_hash: %s" % exc)


def _counts(mapping):
    return ", ".join("%s %s" % (key, value) for key, value in sorted(mapping.items())) or "none"


def fleet_table(audit):
    """One line per invalid node (name, failed checks), then the summary lines."""
    audit = _audit(audit)
    invalid = [n for n in audit["nodes"] if not n.get("valid")]
    lines = []
    if invalid:
        width = max(len("NODE"), max(len(str(n.get("name"))) for n in invalid))
        lines.append("%-*s  FAILED CHECKS" % (width, "NODE"))
        for node in invalid:
            checks = []
            for failure in node.get("failures") or []:
                if failure.get("check") not in checks:
                    checks.append(failure.get("check"))
            lines.append("%-*s  %s" % (width, node.get("name"), ", ".join(str(c) for c in checks)))
    summary = audit["summary"]
    lines.append("nodes: %s, valid: %s, invalid: %s" % (
        summary.get("total"), summary.get("valid"), summary.get("invalid")))
    lines.append("failed checks (nodes): %s" % _counts(summary.get("failed_checks") or {}))
    lines.append("plan hashes (nodes): %s" % _counts(summary.get("plan_hashes") or {}))
    requests = audit.get("requests") or {}
    if requests:
        lines.append("API requests: %s (node lists %s, pod lists %s, daemonset %s), configz %s" % (
            requests.get("total"), requests.get("nodes"), requests.get("pods"), requests.get("daemonset"),
            requests.get("configz")))
    return lines


def fleet_junit_xml(audit, suite_name=SUITE_NAME):
    """JUnit XML: one testsuite, one testcase per node (classname) and check (name).

    A failed check carries a <failure> whose message is its expected/actual and whose
    text adds the hint (several records of one check, such as one per bot pod, are listed
    together); a check that could not run on the node is <skipped>.
    """
    audit = _audit(audit)
    checks = list(audit.get("checks") or [])
    suites = ET.Element("testsuites", name=suite_name)
    suite = ET.SubElement(suites, "testsuite", name=suite_name)
    tests = failures = skipped = 0
    for node in audit["nodes"]:
        name = str(node.get("name"))
        by_check = {}
        for failure in node.get("failures") or []:
            by_check.setdefault(failure.get("check"), []).append(failure)
        names = checks + [c for c in by_check if c not in checks]
        for check in names:
            case = ET.SubElement(suite, "testcase", classname=name, name=str(check))
            tests += 1
            if check in by_check:
                failures += 1
                records = by_check[check]
                first = records[0]
                failure = ET.SubElement(case, "failure", type=str(check), message="expected %s; actual %s" % (
                    _text(first.get("expected")), _text(first.get("actual"))))
                failure.text = "\n\n".join("expected: %s\nactual: %s\nhint: %s" % (
                    _text(r.get("expected")), _text(r.get("actual")), r.get("hint") or "") for r in records)
            elif check in (node.get("skipped") or []):
                skipped += 1
                ET.SubElement(case, "skipped", message="%s could not run on %s" % (check, name))
    for element in (suites, suite):
        element.set("tests", str(tests))
        element.set("failures", str(failures))
        element.set("errors", "0")
        element.set("skipped", str(skipped))
    if hasattr(ET, "indent"):  # Python 3.9+: one element per line, for people reading the file
        ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


class FilterModule(object):
    """quantbot.hft fleet audit filters."""

    def filters(self):
        return {
            "validation_annotations": validation_annotations,
            "plan_hash": plan_hash,
            "fleet_table": fleet_table,
            "fleet_junit_xml": fleet_junit_xml,
        }
