#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r"""
module: validation_report
short_description: Write a node's evidence bundle (validation.json, validation.md, latency.svg) on the controller
version_added: 0.1.0
description:
  - Writes under O(dest)C(/)O(node)C(/) the evidence that a node was validated, from the check records of the
    validation, the plan and the result of M(quantbot.hft.latency_probe).
  - C(validation.json) holds every check with C(expected), C(actual) and C(hint), the verdict, the plan, a
    latency summary per isolated CPU and the whole probe result.
  - C(validation.md) is the same as a readable report, a table of the checks, the plan, the latency summary per
    isolated CPU, and the picture.
  - "C(latency.svg) is the percentile curve of oslat's histogram, one labelled series per measured isolated CPU
    (x: percentile of the samples on a scale of nines, y: latency in us, log scale), with the latency check's
    thresholds as reference lines when a C(latency) record is among O(checks)."
  - "The picture is drawn with matplotlib, a well-kept plotting library that installs from wheels on the
    controller and in the execution environment (no system packages, no display: a bare C(Figure) rendered to
    SVG). It is pinned in C(requirements.txt) and C(requirements-ee.txt). Without matplotlib the JSON and
    Markdown files are still written and the module warns that the picture was not."
  - "Run it on the controller (C(delegate_to: localhost)). Under AWX the files stay in the execution environment,
    so the playbook also hands RV(summary) to C(ansible.builtin.set_stats)."
  - A file is rewritten only when its content changes; C(changed) says whether any did. In check mode nothing is
    written or created and RV(written) lists what would be.
author:
  - quantbot.hft maintainers (@quantbot)
extends_documentation_fragment:
  - quantbot.hft.attributes
  - quantbot.hft.attributes.platform
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  dest:
    description:
      - Directory that holds one directory per node (the playbook's C(hft_reports_dir), default C(reports)).
      - Created when missing. A relative path is relative to the directory the module runs in, which is the
        directory C(ansible-playbook) was started from for a task delegated to localhost.
    type: path
    default: reports
  node:
    description:
      - The node's name, the directory under O(dest). Letters, digits, C(.), C(_) and C(-) only.
    type: str
    required: true
  checks:
    description:
      - The check records C({check, ok, expected, actual, hint}), for example RV(ignore:checks) of
        M(quantbot.hft.node_validate) plus the C(isolated_cpus_quiet) and C(latency) records.
    type: list
    elements: dict
    required: true
  plan:
    description: The plan of M(quantbot.hft.node_topology) (C(hft_plan)).
    type: dict
  latency:
    description: The result of M(quantbot.hft.latency_probe) on the node (registered variable).
    type: dict
  generated_at:
    description:
      - Time stamp written into the report. Defaults to the controller's current UTC time.
      - Pass a fixed value to get an unchanged report from unchanged figures.
    type: str
  picture:
    description: Write C(latency.svg) (needs matplotlib on the controller).
    type: bool
    default: true
requirements:
  - matplotlib >= 3.5 on the controller, for O(picture)
seealso:
  - module: quantbot.hft.latency_probe
  - module: quantbot.hft.node_validate
"""

EXAMPLES = r"""
- name: Write the evidence bundle of the node
  quantbot.hft.validation_report:
    dest: "{{ hft_reports_dir | default('reports') }}"
    node: "{{ inventory_hostname }}"
    checks: "{{ hft_validation.checks }}"
    plan: "{{ hft_plan }}"
    latency: "{{ hft_latency }}"
  delegate_to: localhost
  register: hft_report

- name: Hand the summary to AWX
  ansible.builtin.set_stats:
    data:
      hft_validation: "{{ {inventory_hostname: hft_report.summary} }}"
"""

RETURN = r"""
directory:
  description: The node's report directory.
  returned: success
  type: str
  sample: reports/hft-node-01
files:
  description: The files of the bundle (paths), whether they changed or not.
  returned: success
  type: list
  elements: str
  sample: [reports/hft-node-01/latency.svg, reports/hft-node-01/validation.json, reports/hft-node-01/validation.md]
written:
  description: The files whose content changed (in check mode, would change).
  returned: success
  type: list
  elements: str
  sample: [reports/hft-node-01/validation.json]
summary:
  description:
    - What the playbook hands to C(set_stats) for AWX. C(latency) has per isolated CPU C(held_by),
      C(busy_percent), C(device_irqs) (count in the window), C(p99_9_us) and C(max_us).
  returned: success
  type: dict
  sample:
    node: hft-node-01
    valid: false
    generated_at: "2026-12-01T10:00:00Z"
    checks: 14
    failed_checks: [latency]
    hints: {"latency": "look at the CPU's interrupts and tasks (isolated_cpus_quiet), ..."}
    latency: {"2": {"held_by": null, "busy_percent": 0.0, "device_irqs": 0, "p99_9_us": 3, "max_us": 31}}
    files: [reports/hft-node-01/latency.svg, reports/hft-node-01/validation.json, reports/hft-node-01/validation.md]
"""

import datetime

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.quantbot.hft.plugins.module_utils._report import ReportError, build_bundle, summary, \
    write_files


def main():
    module = AnsibleModule(
        argument_spec=dict(
            dest=dict(type="path", default="reports"),
            node=dict(type="str", required=True),
            checks=dict(type="list", elements="dict", required=True),
            plan=dict(type="dict"),
            latency=dict(type="dict"),
            generated_at=dict(type="str"),
            picture=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    params = module.params
    stamp = params["generated_at"] or datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        directory, contents, report, warnings = build_bundle(
            params["dest"], params["node"], params["checks"], params["plan"], params["latency"], stamp,
            params["picture"])
        written = write_files(directory, contents, check_mode=module.check_mode)
    except ReportError as exc:
        module.fail_json(msg=str(exc))
    for warning in warnings:
        module.warn(warning)
    files = ["%s/%s" % (directory, name) for name in sorted(contents)]
    module.exit_json(changed=bool(written), directory=directory, files=files,
                     written=["%s/%s" % (directory, name) for name in written], summary=summary(report, files))


if __name__ == "__main__":
    main()
