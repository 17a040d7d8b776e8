#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r"""
module: fleet_audit
short_description: Judge every HFT node of a cluster in one read-only call
version_added: 0.1.0
description:
  - Answers "which HFT nodes are not fit for a bot right now, and why?" for the whole fleet from the controller,
    with a fixed number of API requests instead of a few per node.
  - Reads the HFT Nodes (one list with the label selector O(node_selector)), every Pod of the cluster (one list across
    all namespaces, so that every pod on an HFT node counts against its free HugePages and VFs) and the PTP DaemonSet
    (one GET; its selector and ownership recognise its pods). Each list is paged (C(limit)/C(continue), pages of
    O(page_size)), so the number of requests grows with the number of nodes divided by the page size.
  - "Judges each node with these checks: C(node_ready) (the Ready condition), C(node_schedulable) (not cordoned),
    C(label) (O(label_key)=O(label_value)), C(taint) (the HFT taint O(taint)), C(ptp_pod) (a Running pod of the PTP
    DaemonSet on the node), C(hugepages_free) and C(vf_free) (allocatable minus what every pod on the node requests
    covers the bot's O(hugepages_request) and O(vf_request)), C(bot_pod_qos) (every bot pod on the node is Guaranteed
    with integer CPU requests equal to its limits), C(host_validation) (the host-validation annotations say
    C(quantbot.io/hft-valid=true) and C(quantbot.io/hft-validated-at) is at most O(validation_max_age_hours) old) and
    C(gate) (no O(gate_taint_key) taint)."
  - The checks are the functions quantbot.hft.node_validate uses, in C(plugins/module_utils/_validate.py).
  - The host-validation annotations are written after a host validation (C(playbooks/validate.yml)) with
    M(quantbot.hft.node_label) O(quantbot.hft.node_label#module:annotations) and the
    C(quantbot.hft.validation_annotations) filter. C(quantbot.io/hft-plan), a short hash of the node's plan, is
    reported per node and counted in RV(summary.plan_hashes), not judged, so that nodes on another plan stand out.
  - With O(configz), the kubelet's C(/configz) of every node is read through the API server's node proxy, at most
    O(configz_workers) at a time, and C(cpu_manager_policy) and C(topology_manager_policy) are judged too. These
    requests are one per node and are counted apart (RV(requests.configz)).
  - The module never changes anything.
author:
  - quantbot.hft maintainers (@quantbot)
extends_documentation_fragment:
  - quantbot.hft.kube
  - quantbot.hft.hft_checks
  - quantbot.hft.attributes
  - quantbot.hft.attributes.info_module
  - quantbot.hft.attributes.platform
attributes:
  platform:
    platforms: posix
    details:
      - Talks to the Kubernetes API only; runs on the controller (or wherever the credentials are).
options:
  node_selector:
    description:
      - Label selector of the HFT Nodes.
      - Nodes named in O(nodes) are judged too, even when the selector misses them.
    type: str
    default: quantbot.io/hft=true
  nodes:
    description:
      - Names of the nodes that must be in the HFT fleet, for example the inventory's HFT group.
      - A name the selector does not return is looked up in one more paged list of all Nodes (and then fails
        C(label) when it lacks the label); a name without a Node object fails C(node_ready).
    type: list
    elements: str
    default: []
  taint:
    description: The HFT taint the C(taint) check wants (runbook step 1).
    type: dict
    default: {"key": "quantbot.io/hft", "value": "true", "effect": "NoSchedule"}
    suboptions:
      key:
        description: Taint key.
        type: str
        required: true
      value:
        description: Taint value.
        type: str
        default: ""
      effect:
        description: Taint effect.
        type: str
        choices: [NoSchedule, PreferNoSchedule, NoExecute]
        default: NoSchedule
  gate_taint_key:
    description: The gate taint a node carries until it passes validation; the C(gate) check fails while it is there.
    type: str
    default: quantbot.io/hft-unverified
  validation_max_age_hours:
    description: Largest age of the host-validation annotation C(quantbot.io/hft-validated-at) that still passes.
    type: float
    default: 24
  page_size:
    description: Items per page of each list (the C(limit) parameter).
    type: int
    default: 500
  configz:
    description: Also read every node's kubelet C(/configz) and judge C(cpu_manager_policy) and C(topology_manager_policy).
    type: bool
    default: false
  configz_workers:
    description: Largest number of C(/configz) requests in flight at once.
    type: int
    default: 8
  fail_on_invalid:
    description: Fail the task when any node is invalid (the result still carries RV(nodes) and RV(summary)).
    type: bool
    default: false
seealso:
  - module: quantbot.hft.node_validate
  - module: quantbot.hft.node_label
  - name: API concepts, retrieving large results in chunks
    description: How C(limit) and C(continue) page a list.
    link: https://kubernetes.io/docs/reference/using-api/api-concepts/#retrieving-large-results-sets-in-chunks
"""

EXAMPLES = r"""
- name: Audit the HFT fleet
  quantbot.hft.fleet_audit:
    kubeconfig: ~/.kube/hft-audit.conf
  register: __hft_audit

- name: Name the nodes that are not fit for a bot
  ansible.builtin.debug:
    msg: "{{ item.name }}: {{ item.failures | map(attribute='check') | unique | join(', ') }}"
  loop: "{{ __hft_audit.nodes | rejectattr('valid') }}"
  loop_control:
    label: "{{ item.name }}"

- name: Audit the inventory's HFT group, with a 2 GiB bot and the kubelet policies, failing on any unfit node
  quantbot.hft.fleet_audit:
    nodes: "{{ groups['hft'] }}"
    hugepages_request: 2Gi
    vf_request: 2
    configz: true
    validation_max_age_hours: 12
    fail_on_invalid: true
"""

RETURN = r"""
nodes:
  description: One entry per node, sorted by name.
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: Node name.
      type: str
      sample: hft-node-07
    valid:
      description: True when every check passed.
      type: bool
      sample: false
    failures:
      description: The failed checks, each with C(check), C(expected), C(actual) and C(hint) (as node_validate's).
      type: list
      elements: dict
      sample: [{"check": "ptp_pod", "expected": "a Running quantbot-ptp pod in alphaswarm-bots on this node",
                "actual": "no quantbot-ptp pod on the node", "hint": "check the quantbot-ptp DaemonSet's ..."}]
    skipped:
      description:
        - Checks of RV(checks) that could not run on the node (every check but C(node_ready) for a name of O(nodes)
          without a Node object; the kubelet policies when C(/configz) did not answer). Every other check of
          RV(checks) ran and passed unless it is in RV(nodes.failures).
      type: list
      elements: str
      sample: []
    plan_hash:
      description: The node's C(quantbot.io/hft-plan) annotation (V(null) when absent). Reported, not judged.
      type: str
      sample: 3f9a1c2b7d4e
summary:
  description: Counts over the fleet.
  returned: success
  type: dict
  contains:
    total:
      description: Nodes judged.
      type: int
      sample: 1000
    valid:
      description: Nodes that passed every check.
      type: int
      sample: 984
    invalid:
      description: Nodes with at least one failed check.
      type: int
      sample: 16
    failed_checks:
      description: For each check that failed somewhere, the number of nodes it failed on.
      type: dict
      sample: {"ptp_pod": 3, "gate": 1}
    plan_hashes:
      description: Nodes per C(quantbot.io/hft-plan) value (V(none) for nodes without the annotation).
      type: dict
      sample: {"3f9a1c2b7d4e": 998, "none": 2}
checks:
  description: The checks every node gets, in report order (with O(configz), C(kubelet_configz), C(cpu_manager_policy)
    and C(topology_manager_policy) follow).
  returned: success
  type: list
  elements: str
  sample: [node_ready, node_schedulable, label, taint, ptp_pod, hugepages_free, vf_free, bot_pod_qos, host_validation,
           gate]
requests:
  description: API requests the audit made.
  returned: success
  type: dict
  contains:
    nodes:
      description: Node list pages.
      type: int
      sample: 2
    pods:
      description: Pod list pages.
      type: int
      sample: 7
    daemonset:
      description: DaemonSet reads (always 1).
      type: int
      sample: 1
    total:
      description: The sum of the three above (without C(/configz)).
      type: int
      sample: 10
    configz:
      description: C(/configz) reads (0 without O(configz)).
      type: int
      sample: 0
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.quantbot.hft.plugins.module_utils._fleet import FleetError, audit
from ansible_collections.quantbot.hft.plugins.module_utils._k8snames import (
    TAINT_EFFECTS,
    K8sNameError,
    check_label_value,
    check_qualified_name,
    check_taint,
)
from ansible_collections.quantbot.hft.plugins.module_utils._kube import (
    HAS_KUBERNETES,
    KUBE_AUTH_ARG_SPEC,
    KUBERNETES_IMPORT_ERROR,
    KubeApi,
    KubeError,
    auth_params,
    get_api_client,
)
from ansible_collections.quantbot.hft.plugins.module_utils._validate import CHECK_ARG_SPEC

JUDGING_OPTIONS = tuple(CHECK_ARG_SPEC) + ("gate_taint_key",)


def argument_spec():
    spec = dict(
        node_selector=dict(type="str", default="quantbot.io/hft=true"),
        nodes=dict(type="list", elements="str", default=[]),
        taint=dict(type="dict", default=dict(key="quantbot.io/hft", value="true", effect="NoSchedule"),
                   options=dict(key=dict(type="str", required=True, no_log=False),
                                value=dict(type="str", default=""),
                                effect=dict(type="str", choices=list(TAINT_EFFECTS), default="NoSchedule"))),
        gate_taint_key=dict(type="str", default="quantbot.io/hft-unverified", no_log=False),
        validation_max_age_hours=dict(type="float", default=24.0),
        page_size=dict(type="int", default=500),
        configz=dict(type="bool", default=False),
        configz_workers=dict(type="int", default=8),
        fail_on_invalid=dict(type="bool", default=False),
    )
    spec.update(CHECK_ARG_SPEC)
    spec.update(KUBE_AUTH_ARG_SPEC)
    return spec


def judging_options(params):
    """The options of _fleet.audit from the module params, after the checks Kubernetes would make."""
    check_qualified_name(params["label_key"], "label_key")
    check_label_value(params["label_value"], "label_value")
    check_qualified_name(params["gate_taint_key"], "gate_taint_key")
    check_taint(params["taint"])
    if params["page_size"] < 1:
        raise FleetError("page_size must be at least 1, not %d" % params["page_size"])
    if not 1 <= params["configz_workers"] <= 64:
        raise FleetError("configz_workers must be between 1 and 64, not %d" % params["configz_workers"])
    if params["validation_max_age_hours"] <= 0:
        raise FleetError("validation_max_age_hours must be positive, not %s" % params["validation_max_age_hours"])
    opts = dict((key, params[key]) for key in JUDGING_OPTIONS)
    opts.update(taint_key=params["taint"]["key"], taint_value=params["taint"]["value"] or "",
                taint_effect=params["taint"]["effect"],
                validation_max_age_s=params["validation_max_age_hours"] * 3600.0)
    return opts


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    if not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib("kubernetes"), exception=KUBERNETES_IMPORT_ERROR)
    params = module.params
    try:
        opts = judging_options(params)
        api = KubeApi(get_api_client(auth_params(params)), timeout=params["api_timeout"])
        result = audit(api, params["node_selector"], opts, expected=params["nodes"], page_size=params["page_size"],
                       configz=params["configz"], configz_workers=params["configz_workers"], freeze=True)
    except (KubeError, FleetError, K8sNameError) as exc:
        module.fail_json(msg=str(exc))
    result["changed"] = False
    if params["fail_on_invalid"] and result["summary"]["invalid"]:
        bad = [n["name"] for n in result["nodes"] if not n["valid"]]
        module.fail_json(msg="%d of %d HFT nodes are not fit for bots: %s%s" % (
            len(bad), result["summary"]["total"], ", ".join(bad[:20]), ", ..." if len(bad) > 20 else ""), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
