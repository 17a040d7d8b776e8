#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r"""
module: node_label
short_description: Set or remove the HFT labels and taints of a Kubernetes Node
version_added: 0.1.0
description:
  - Puts a Node into the HFT pool as step 1 of the onboarding runbook does with
    C(kubectl taint nodes NODE quantbot.io/hft=true:NoSchedule) and C(kubectl label nodes NODE quantbot.io/hft=true),
    or takes it out again (O(state=absent), the runbook's rollback).
  - One JSON merge patch carries the change. Labels merge (a V(null) value deletes a label). Taints are a list, so the
    module computes the Node's complete new taint list and sends it whole, conditional on the Node's C(resourceVersion),
    so that a concurrent taint change makes the write fail (and the module recompute, up to 3 times) instead of being
    lost.
  - Other labels and taints of the Node are left as they are.
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
      - Before and after hold the Node's complete labels and taints.
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
  state:
    description: V(present) sets the labels and taints, V(absent) removes them.
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
patch:
  description: The patch body sent to the API (or that would be sent in check mode); V(null) when nothing changes.
  returned: success
  type: dict
  sample: {"metadata": {"labels": {"quantbot.io/hft": "true"}},
           "spec": {"taints": [{"key": "quantbot.io/hft", "value": "true", "effect": "NoSchedule"}]}}
diff:
  description: Complete labels and taints before and after.
  returned: when diff mode is on
  type: dict
  sample: {"before": {"labels": {}, "taints": []},
           "after": {"labels": {"quantbot.io/hft": "true"},
                     "taints": [{"key": "quantbot.io/hft", "value": "true", "effect": "NoSchedule"}]}}
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

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
    label_taint_change,
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
        state=dict(type="str", choices=["present", "absent"], default="present"),
    )
    spec.update(KUBE_AUTH_ARG_SPEC)
    return spec


def run(module, api):
    params = module.params
    name = params["node_name"]
    for dummy in range(CONFLICT_RETRIES):
        node = api.get_node(name)
        if node is None:
            raise KubeError("Node %s does not exist" % name, status=404)
        change = label_taint_change(node, params["labels"], params["taints"], params["state"])
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
        api = KubeApi(get_api_client(auth_params(module.params)), timeout=module.params["api_timeout"])
        change = run(module, api)
    except (KubeError, NodeOpsError) as exc:
        module.fail_json(msg=str(exc))
    result = dict(
        changed=change["changed"],
        labels=change["after"]["labels"],
        taints=change["after"]["taints"],
        patch=change["patch"],
    )
    if module._diff:
        result["diff"] = dict(before=change["before"], after=change["after"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
