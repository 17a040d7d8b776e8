#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r"""
module: sriov_device_plugin_pod
short_description: Restart the SR-IOV device plugin on one node so that it reads its configuration again
version_added: 0.2.0
description:
  - The SR-IOV network device plugin reads its configuration (and discovers the VFs) only when it starts. After the
    sriov role changed the configuration (M(quantbot.hft.sriov_device_plugin_config), or the host file in the
    C(hostfile) mode) or the VFs, this module deletes the plugin's pod on that node - the pods in O(namespace)
    that match O(label_selector) and are bound to O(node_name) - and its DaemonSet creates a new one.
  - Each pod is deleted with a C(uid) precondition, so a pod that was already replaced is never deleted by mistake.
  - With O(wait=true) (the default) the module waits, up to O(wait_timeout) seconds, until a pod with another uid
    is Running on the node, and fails naming the pods it sees when none comes.
  - A node without a plugin pod (not joined yet, or not selected by the DaemonSet) is not an error; nothing is
    deleted and C(changed) is false. The plugin starts later with the configuration already in place.
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
      - Lists the pods it would delete, and deletes nothing.
  diff_mode:
    support: none
  platform:
    platforms: posix
    details:
      - Talks to the Kubernetes API only; run it on the controller (C(delegate_to)).
options:
  node_name:
    description: The Node whose device plugin pod is restarted.
    type: str
    required: true
  namespace:
    description: Namespace of the device plugin's DaemonSet.
    type: str
    default: kube-system
  label_selector:
    description:
      - Labels of the device plugin's pods. The upstream DaemonSet's pods carry C(app=sriovdp) and
        C(name=sriov-device-plugin).
    type: str
    default: app=sriovdp
  state:
    description: V(restarted) deletes the pod so that its DaemonSet recreates it.
    type: str
    choices: [restarted]
    default: restarted
  wait:
    description: Wait until the new pod is Running on the node.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for the new pod.
    type: int
    default: 120
  poll_interval:
    description: Seconds between two looks at the node's pods while waiting.
    type: float
    default: 2.0
seealso:
  - module: quantbot.hft.sriov_device_plugin_config
"""

EXAMPLES = r"""
- name: Restart the device plugin on the node after the sriov role wrote /etc/pcidp/config.json
  quantbot.hft.sriov_device_plugin_pod:
    node_name: "{{ inventory_hostname_short }}"
    kubeconfig: /etc/kubernetes/admin.conf
  delegate_to: "{{ groups['kube_control_plane'][0] }}"
  when: __sriov_dp_file is changed

- name: Restart a plugin deployed by the SR-IOV network operator
  quantbot.hft.sriov_device_plugin_pod:
    node_name: hft-node-07
    namespace: openshift-sriov-network-operator
    label_selector: app=sriov-device-plugin
"""

RETURN = r"""
deleted:
  description: The pods deleted (or that would be deleted in check mode).
  returned: success
  type: list
  elements: dict
  sample: [{"namespace": "kube-system", "name": "sriov-device-plugin-x7k2p", "uid": "6d3c...", "phase": "Running"}]
pod:
  description: The new plugin pod, once Running (V(null) without O(wait), in check mode, or when nothing was deleted).
  returned: success
  type: dict
  sample: {"namespace": "kube-system", "name": "sriov-device-plugin-q9w4d", "uid": "0b1e...", "phase": "Running"}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.quantbot.hft.plugins.module_utils._deviceplugin import (
    DEFAULT_NAMESPACE,
    DEFAULT_POD_SELECTOR,
    DevicePluginError,
    live_pods,
    pod_ref,
    wait_for_replacement,
)
from ansible_collections.quantbot.hft.plugins.module_utils._kube import (
    KUBE_AUTH_ARG_SPEC,
    run_module,
)


def argument_spec():
    spec = dict(
        node_name=dict(type="str", required=True),
        namespace=dict(type="str", default=DEFAULT_NAMESPACE),
        label_selector=dict(type="str", default=DEFAULT_POD_SELECTOR),
        state=dict(type="str", choices=["restarted"], default="restarted"),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=120),
        poll_interval=dict(type="float", default=2.0),
    )
    spec.update(KUBE_AUTH_ARG_SPEC)
    return spec


def run(module, api):
    params = module.params
    node, namespace, selector = params["node_name"], params["namespace"], params["label_selector"]

    def list_pods():
        return api.list_pods(namespace, label_selector=selector, node_name=node)

    pods = live_pods(list_pods(), node)
    result = dict(changed=bool(pods), deleted=[pod_ref(p) for p in pods], pod=None)
    if not pods or module.check_mode:
        return result
    for ref in result["deleted"]:
        api.delete_pod(ref["namespace"], ref["name"], uid=ref["uid"])
    if params["wait"]:
        new = wait_for_replacement(list_pods, node, set(ref["uid"] for ref in result["deleted"]),
                                   timeout=params["wait_timeout"], interval=params["poll_interval"])
        result["pod"] = pod_ref(new)
    return result


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    module.exit_json(**run_module(module, run, (DevicePluginError,)))


if __name__ == "__main__":
    main()
