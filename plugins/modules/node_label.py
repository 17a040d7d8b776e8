#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r"""
module: node_label
short_description: Set or remove the HFT labels, taints and annotations of a Kubernetes Node
version_added: 0.1.0
description:
  - Puts a Node into the HFT pool as step 1 of the onboarding runbook does with
    C(kubectl taint nodes NODE quantbot.io/hft=true:NoSchedule) and C(kubectl label nodes NODE quantbot.io/hft=true),
    or takes it out again (O(state=absent), the runbook's rollback).
  - One JSON merge patch carries the change. Labels merge (a V(null) value deletes a label). Taints are a list, so the
    module computes the Node's complete new taint list and sends it whole, conditional on the Node's C(resourceVersion),
    so that a concurrent taint change makes the write fail (and the module recompute, up to 3 times) instead of being
    lost.
  - O(annotations) sets or removes annotations in the same patch, for example the host-validation verdict
    (C(quantbot.io/hft-validated-at), C(quantbot.io/hft-valid), C(quantbot.io/hft-failed-checks),
    C(quantbot.io/hft-plan)) that the C(quantbot.hft.validation_annotations) filter builds and
    M(quantbot.hft.fleet_audit) judges.
  - Other labels, taints and annotations of the Node are left as they are.
  - Label keys and values, taint keys, values and effects, and annotation keys that the Kubernetes API would reject
    (a key prefix that is not a DNS subdomain of at most 253 characters, a name part or value over 63 characters or
    with characters outside C([A-Za-z0-9._-]) or not starting and ending alphanumeric, a kubectl-style
    C(key=value:Effect) given as a taint key) are refused before any API request, also in check mode, with a message
    that names the value.
author:
  - quantbot.hft maintainers (@quantbot)
extends_documentation_fragment:
  - quantbot.hft.kube
  - quantbot.hft.attributes
  - quantbot.hft.attributes.platform
attributes:
  check_mode:
    support: full
    details:
      - Reads the Node and reports the change it would make, without patching.
  diff_mode:
    support: full
    details:
      - Before and after hold the Node's complete labels and taints, and its annotations when O(annotations) is
        given.
  platform:
    platforms: posix
    details:
      - Talks to the Kubernetes API only; runs wherever the credentials are.
options:
  node_name:
    description: Name of the Node object.
    type: str
    required: true
    aliases: [name]
  labels:
    description:
      - Labels to set (O(state=present)) or to remove (O(state=absent); values are then ignored).
      - Values are strings; YAML booleans become V(true)/V(false).
    type: dict
    default: {"quantbot.io/hft": "true"}
  taints:
    description:
      - Taints to set or remove. A taint is identified by its key and effect; with O(state=present) a taint with the
        same key and effect but another value is updated, with O(state=absent) it is removed whatever its value.
    type: list
    elements: dict
    default: [{"key": "quantbot.io/hft", "value": "true", "effect": "NoSchedule"}]
    suboptions:
      key:
        description: Taint key.
        type: str
        required: true
      value:
        description: Taint value (may be omitted).
        type: str
      effect:
        description: Taint effect.
        type: str
        choices: [NoSchedule, PreferNoSchedule, NoExecute]
        default: NoSchedule
  annotations:
    description:
      - Annotations to set (O(state=present)); an annotation whose value is V(null) is removed.
      - With O(state=absent) the annotations named here are removed, whatever their values.
      - Values are strings; YAML booleans become V(true)/V(false). Without this option the Node's annotations are not
        touched.
    type: dict
  state:
    description: V(present) sets the labels, taints and annotations, V(absent) removes them.
    type: str
    choices: [present, absent]
    default: present
seealso:
  - module: quantbot.hft.node_validate
  - module: quantbot.hft.node_drain
  - name: Taints and tolerations
    description: Kubernetes documentation of node taints.
    link: https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/
"""

EXAMPLES = r"""
- name: Put the node into the HFT pool (label quantbot.io/hft=true, taint quantbot.io/hft=true:NoSchedule)
  quantbot.hft.node_label:
    node_name: "{{ inventory_hostname_short }}"
    kubeconfig: /etc/kubernetes/admin.conf
  delegate_to: "{{ groups['kube_control_plane'][0] }}"

- name: Label with a custom bot pool and no taint
  quantbot.hft.node_label:
    node_name: hft-node-07
    labels:
      quantbot.io/hft: "true"
      quantbot.io/bot-pool: alphaswarm-bots
    taints: []
    context: prod-admin

- name: Record a host validation on the Node (what playbooks/validate.yml writes)
  quantbot.hft.node_label:
    node_name: hft-node-07
    labels: {}
    taints: []
    annotations: "{{ hft_validation | quantbot.hft.validation_annotations(hft_plan) }}"

- name: Remove one annotation, keep the labels and taints as they are
  quantbot.hft.node_label:
    node_name: hft-node-07
    labels: {}
    taints: []
    annotations:
      quantbot.io/hft-failed-checks: null

- name: Take the node out of the HFT pool (runbook rollback, after quantbot.hft.node_drain)
  quantbot.hft.node_label:
    node_name: hft-node-07
    state: absent
"""

RETURN = r"""
labels:
  description: The Node's labels after the change (as they would be in check mode).
  returned: success
  type: dict
  sample: {"kubernetes.io/hostname": "hft-node-07", "quantbot.io/hft": "true"}
taints:
  description: The Node's taints after the change (as they would be in check mode).
  returned: success
  type: list
  elements: dict
  sample: [{"key": "quantbot.io/hft", "value": "true", "effect": "NoSchedule"}]
annotations:
  description: The Node's annotations after the change (as they would be in check mode).
  returned: when O(annotations) is given
  type: dict
  sample: {"quantbot.io/hft-valid": "true", "quantbot.io/hft-validated-at": "2026-12-01T09:30:00Z",
           "quantbot.io/hft-failed-checks": "", "quantbot.io/hft-plan": "3f9a1c2b7d4e"}
patch:
  description: The patch body sent to the API (or that would be sent in check mode); V(null) when nothing changes.
  returned: success
  type: dict
  sample: {"metadata": {"labels": {"quantbot.io/hft": "true"}},
           "spec": {"taints": [{"key": "quantbot.io/hft", "value": "true", "effect": "NoSchedule"}]}}
diff:
  description: Complete labels and taints (and annotations, when O(annotations) is given) before and after.
  returned: when diff mode is on
  type: dict
  sample: {"before": {"labels": {}, "taints": []},
           "after": {"labels": {"quantbot.io/hft": "true"},
                     "taints": [{"key": "quantbot.io/hft", "value": "true", "effect": "NoSchedule"}]}}
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.quantbot.hft.plugins.module_utils._k8snames import (
    K8sNameError,
    check_annotations,
    check_labels,
    check_taints,
)
from ansible_collections.quantbot.hft.plugins.module_utils._kube import (
    HAS_KUBERNETES,
    KUBE_AUTH_ARG_SPEC,
    KUBERNETES_IMPORT_ERROR,
    MERGE_PATCH,
    KubeApi,
    KubeError,
    auth_params,
    get_api_client,
)
from ansible_collections.quantbot.hft.plugins.module_utils._nodeops import (
    DEFAULT_LABELS,
    DEFAULT_TAINTS,
    TAINT_EFFECTS,
    NodeOpsError,
    annotation_change,
    label_taint_change,
    normalise_annotations,
    normalise_labels,
)

# A conditional write that lost a race (409) is recomputed and retried this often.
CONFLICT_RETRIES = 3


def argument_spec():
    spec = dict(
        node_name=dict(type="str", required=True, aliases=["name"]),
        labels=dict(type="dict", default=dict(DEFAULT_LABELS)),
        taints=dict(type="list", elements="dict", default=[dict(t) for t in DEFAULT_TAINTS],
                    options=dict(key=dict(type="str", required=True, no_log=False),
                                 value=dict(type="str"),
                                 effect=dict(type="str", choices=list(TAINT_EFFECTS), default="NoSchedule"))),
        annotations=dict(type="dict"),
        state=dict(type="str", choices=["present", "absent"], default="present"),
    )
    spec.update(KUBE_AUTH_ARG_SPEC)
    return spec


def check_input(params):
    """Refuse what the API would reject, before any request (check mode too). With state=absent
    only the keys matter (values are ignored there), so only the keys are checked."""
    present = params["state"] == "present"
    labels = normalise_labels(params["labels"])
    check_labels(labels if present else dict.fromkeys(labels))
    check_taints(params["taints"] if present else [dict(t, value=None) for t in params["taints"]])
    if params["annotations"] is not None:
        notes = normalise_annotations(params["annotations"])
        check_annotations(notes if present else dict.fromkeys(notes))


def compute(node, params):
    """The change for this Node: label_taint_change, with the annotations merged in when given."""
    change = label_taint_change(node, params["labels"], params["taints"], params["state"])
    if params["annotations"] is None:
        return change
    notes = annotation_change(node, params["annotations"], params["state"])
    if notes["patch"]:
        patch = change["patch"] or {}
        patch.setdefault("metadata", {})["annotations"] = notes["patch"]
        change["patch"] = patch
    change["before"]["annotations"] = notes["before"]
    change["after"]["annotations"] = notes["after"]
    change["changed"] = change["changed"] or notes["changed"]
    return change


def run(module, api):
    params = module.params
    name = params["node_name"]
    for dummy in range(CONFLICT_RETRIES):
        node = api.get_node(name)
        if node is None:
            raise KubeError("Node %s does not exist" % name, status=404)
        change = compute(node, params)
        if not change["changed"] or module.check_mode:
            return change
        try:
            # merge-patch: maps merge (None deletes), lists replace; the strategic
            # merge of a Node's taints (no merge key) is the same replacement.
            api.patch_node(name, change["patch"], content_type=MERGE_PATCH)
            return change
        except KubeError as exc:
            if exc.status != 409:
                raise
    raise KubeError("Node %s kept changing under us (409 Conflict %d times)" % (name, CONFLICT_RETRIES),
                    status=409)


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    if not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib("kubernetes"), exception=KUBERNETES_IMPORT_ERROR)
    try:
        check_input(module.params)
        api = KubeApi(get_api_client(auth_params(module.params)), timeout=module.params["api_timeout"])
        change = run(module, api)
    except (KubeError, NodeOpsError, K8sNameError) as exc:
        module.fail_json(msg=str(exc))
    result = dict(
        changed=change["changed"],
        labels=change["after"]["labels"],
        taints=change["after"]["taints"],
        patch=change["patch"],
    )
    if module.params["annotations"] is not None:
        result["annotations"] = change["after"]["annotations"]
    if module._diff:
        result["diff"] = dict(before=change["before"], after=change["after"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
