#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r"""
module: node_drain
short_description: Cordon and drain a Kubernetes Node through the Eviction API, or uncordon it
version_added: 0.1.0
description:
  - V(drained) cordons the Node and evicts its pods through the Eviction API, so PodDisruptionBudgets are honoured,
    then waits until they are gone. This is the first step of the runbook's rollback and of the kubelet role's
    safe CPU-manager transition.
  - Eviction answers C(429 Too Many Requests) while a PodDisruptionBudget forbids it; the module retries every
    O(poll_interval) seconds until O(timeout), then fails naming the pods still there. The Node stays cordoned.
  - DaemonSet pods and mirror (static) pods are not evicted, as with C(kubectl drain --ignore-daemonsets).
    The runbook's C(--ignore-daemonsets=false) would make kubectl refuse every HFT node, since the PTP DaemonSet
    pod is always there; the HFT DaemonSets leave by themselves once M(quantbot.hft.node_label) removes the label.
  - Before changing anything, the module refuses (and leaves the Node as it was) when a pod would lose data or
    vanish for good, as kubectl does, a pod with C(emptyDir) volumes (unless O(delete_emptydir_data)) or a pod
    without a controller (unless O(force)).
  - V(cordoned) only marks the Node unschedulable; V(uncordoned) makes it schedulable again.
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
      - Reports whether the Node would be cordoned and which pods would be evicted, and changes nothing.
  diff_mode:
    support: none
  platform:
    platforms: posix
    details:
      - Talks to the Kubernetes API only.
options:
  node_name:
    description: Name of the Node object.
    type: str
    required: true
    aliases: [name]
  state:
    description: What the Node should be.
    type: str
    choices: [drained, cordoned, uncordoned]
    default: drained
  delete_emptydir_data:
    description: Evict pods with C(emptyDir) volumes, losing that data (the runbook's C(--delete-emptydir-data)).
    type: bool
    default: true
  force:
    description: Also evict pods that no controller manages (they will not come back anywhere).
    type: bool
    default: false
  timeout:
    description:
      - Seconds to wait for evictions refused by a PodDisruptionBudget and for the pods to go. Must be greater than 0.
    type: int
    default: 300
  poll_interval:
    description:
      - Seconds between eviction retries and between checks that the pods are gone. Must be greater than 0.
      - A bad O(timeout) or O(poll_interval) is refused before the Node is read or cordoned.
    type: float
    default: 2.0
seealso:
  - module: quantbot.hft.node_label
  - name: API-initiated eviction
    description: The Eviction API and how it honours PodDisruptionBudgets.
    link: https://kubernetes.io/docs/concepts/scheduling-eviction/api-eviction/
"""

EXAMPLES = r"""
- name: Drain the node before taking it out of the HFT pool (runbook rollback, step 1)
  quantbot.hft.node_drain:
    node_name: "{{ inventory_hostname_short }}"
    kubeconfig: /etc/kubernetes/admin.conf
    timeout: 600
  delegate_to: "{{ groups['kube_control_plane'][0] }}"

- name: Remove the HFT taint and label once drained (runbook rollback, steps 2 and 3)
  quantbot.hft.node_label:
    node_name: "{{ inventory_hostname_short }}"
    kubeconfig: /etc/kubernetes/admin.conf
    state: absent
  delegate_to: "{{ groups['kube_control_plane'][0] }}"

- name: Let HFT bots in alphaswarm-bots schedule again after the kubelet transition
  quantbot.hft.node_drain:
    node_name: hft-node-07
    state: uncordoned
"""

RETURN = r"""
cordoned:
  description: Whether the Node is (or in check mode would be) unschedulable at the end.
  returned: success
  type: bool
  sample: true
evicted:
  description: Pods (C(namespace/name)) evicted, or that would be evicted in check mode.
  returned: success
  type: list
  elements: str
  sample: ["alphaswarm-bots/mm-bot-btcusd-7c9f6d5b8-x2x8q"]
skipped_pods:
  description: Pods left in place, with the reason.
  returned: success
  type: list
  elements: dict
  sample: [{"pod": "alphaswarm-bots/quantbot-ptp-4kx7z", "reason": "managed by DaemonSet quantbot-ptp"}]
pending:
  description: Pods still on the Node at the timeout (only on failure).
  returned: failure
  type: list
  elements: str
  sample: ["alphaswarm-bots/mm-bot-ethusd-0"]
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
    NodeOpsError,
    check_timing,
    cordon_patch,
    evict_pods,
    is_cordoned,
    plan_drain,
)


def argument_spec():
    spec = dict(
        node_name=dict(type="str", required=True, aliases=["name"]),
        state=dict(type="str", choices=["drained", "cordoned", "uncordoned"], default="drained"),
        delete_emptydir_data=dict(type="bool", default=True),
        force=dict(type="bool", default=False),
        timeout=dict(type="int", default=300),
        poll_interval=dict(type="float", default=2.0),
    )
    spec.update(KUBE_AUTH_ARG_SPEC)
    return spec


def _split(ref):
    namespace, name = ref.split("/", 1)
    return namespace, name


def run(module, api):
    params = module.params
    name = params["node_name"]
    node = api.get_node(name)
    if node is None:
        raise KubeError("Node %s does not exist" % name, status=404)
    result = dict(changed=False, cordoned=is_cordoned(node), evicted=[], skipped_pods=[])

    if params["state"] == "uncordoned":
        patch = cordon_patch(node, cordon=False)
        if patch and not module.check_mode:
            api.patch_node(name, patch, content_type=MERGE_PATCH)
        result.update(changed=bool(patch), cordoned=False)
        return result

    plan = None
    if params["state"] == "drained":
        pods = api.list_pods_on_node(name)
        plan = plan_drain(pods, delete_emptydir_data=params["delete_emptydir_data"], force=params["force"])
        result["skipped_pods"] = plan["skip"]
        if plan["blockers"]:
            module.fail_json(
                msg="refusing to drain %s: %s" % (name, "; ".join(
                    "%s %s" % (b["pod"], b["reason"]) for b in plan["blockers"])),
                blockers=plan["blockers"], **result)

    patch = cordon_patch(node, cordon=True)
    result.update(changed=bool(patch), cordoned=True)
    if plan is None:
        if patch and not module.check_mode:
            api.patch_node(name, patch, content_type=MERGE_PATCH)
        return result
    if module.check_mode:
        result.update(evicted=plan["evict"], changed=bool(patch or plan["evict"]))
        return result
    if patch:
        api.patch_node(name, patch, content_type=MERGE_PATCH)

    uids = {}
    for pod in api.list_pods_on_node(name) if plan["evict"] else []:
        meta = pod.get("metadata") or {}
        uids["%s/%s" % (meta.get("namespace"), meta.get("name"))] = meta.get("uid")

    def evict(ref):
        return api.evict_pod(*_split(ref))

    def is_gone(ref):
        pod = api.get_pod(*_split(ref))
        if pod is None:
            return True
        meta = pod.get("metadata") or {}
        # A StatefulSet pod comes back with the same name: a new uid or another node means ours is gone.
        return (uids.get(ref) and meta.get("uid") != uids[ref]) or \
            (pod.get("spec") or {}).get("nodeName") != name

    outcome = evict_pods(plan["evict"], evict, is_gone, timeout=params["timeout"],
                         interval=params["poll_interval"])
    result.update(evicted=outcome["evicted"], changed=True if outcome["evicted"] else result["changed"])
    if outcome["pending"]:
        refused = outcome["refused"]
        module.fail_json(
            msg="drain of %s timed out after %ss; still on the node: %s%s" % (
                name, params["timeout"], ", ".join(outcome["pending"]),
                " (eviction refused by a PodDisruptionBudget: %s)" % ", ".join(refused) if refused else ""),
            pending=outcome["pending"], **result)
    return result


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    if not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib("kubernetes"), exception=KUBERNETES_IMPORT_ERROR)
    try:
        check_timing(timeouts={"timeout": module.params["timeout"]},
                     intervals={"poll_interval": module.params["poll_interval"]})
        api = KubeApi(get_api_client(auth_params(module.params)), timeout=module.params["api_timeout"])
        result = run(module, api)
    except (KubeError, NodeOpsError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
