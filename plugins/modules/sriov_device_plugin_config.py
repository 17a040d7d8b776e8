#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r"""
module: sriov_device_plugin_config
short_description: Merge a node's SR-IOV device plugin resources into the plugin's ConfigMap
version_added: 0.2.0
description:
  - Writes the configuration of the SR-IOV network device plugin (k8snetworkplumbingwg/sriov-network-device-plugin)
    into the ConfigMap its DaemonSet mounts as C(/etc/pcidp/config.json), by default C(kube-system/sriovdp-config),
    key C(config.json). This is the C(configmap) deployment mode of the sriov role; the C(hostfile) mode writes the
    file on the node instead and does not use this module.
  - The ConfigMap is cluster-wide, so one entry per resource must select the VFs of every HFT node. The module
    records each node's resources in the ConfigMap annotation C(quantbot.io/sriov-device-plugin-nodes) and writes,
    for each resource some node contributes, the B(union) of all contributions - items in a stable order (the
    first contributor's first), C(pfNames) and C(rootDevices) joined per PF with their VF ranges merged into one item
    (the plugin applies only the first item of a PF), and a list filter that only some contributions have dropped
    (its union with "everything" is everything). A node's new resources replace its previous ones, and
    O(state=absent) takes the node out again (offboarding).
  - An entry of that resource that was there before this module managed it is kept as the first contribution.
    Entries of other resources are left as they are.
  - Conflicts are refused with a message naming the entry and the value (a different C(isRdma), several selector
    objects, selector keys this collection does not merge, a managed entry changed by hand). The ConfigMap is then
    left unchanged.
  - The write is a JSON merge patch that carries the ConfigMap's C(resourceVersion), so two nodes onboarded at the
    same time cannot lose each other's entries; a conflict (409) is re-read and merged again, up to 3 times.
  - The plugin reads its configuration only at start. When this module reports C(changed), restart the plugin on
    the node with M(quantbot.hft.sriov_device_plugin_pod).
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
      - Reads the ConfigMap and reports the merged configuration it would write, without writing it.
  diff_mode:
    support: full
    details:
      - Before and after are the parsed configurations (C(before) is V(null) when there was none).
  platform:
    platforms: posix
    details:
      - Talks to the Kubernetes API only; run it on the controller (C(delegate_to)) like the other cluster calls.
options:
  node_name:
    description: The Node whose resources these are (the key of its contribution).
    type: str
    required: true
  resources:
    description:
      - This node's resources, in the plugin's C(resourceList) format (the sriov role's fact
        C(sriov_device_plugin_config.resourceList)). Each item has C(resourceName), C(resourcePrefix), C(deviceType)
        (only V(netDevice)), C(selectors) (a selector object or a list of them) and optionally C(excludeTopology).
      - Validated before anything is read or written; a missing C(resourcePrefix) becomes O(resource_prefix).
      - Required with O(state=present). An empty list records that the node contributes nothing (the rendering
        of a node without VFs).
    type: list
    elements: dict
  state:
    description:
      - V(present) records this node's resources and writes the union; V(absent) removes the node's contribution
        (an entry no node contributes any more goes, or returns to what it was before the module managed it).
    type: str
    choices: [present, absent]
    default: present
  resource_prefix:
    description: The prefix of resources that do not name one (the plugin's own default depends on its command line).
    type: str
    default: openshift.io
  namespace:
    description: Namespace of the ConfigMap (the plugin DaemonSet's namespace).
    type: str
    default: kube-system
  name:
    description: Name of the ConfigMap the plugin's DaemonSet mounts.
    type: str
    default: sriovdp-config
  key:
    description: The ConfigMap key the DaemonSet mounts as the plugin's C(config.json).
    type: str
    default: config.json
seealso:
  - module: quantbot.hft.sriov_device_plugin_pod
  - name: SR-IOV network device plugin configuration
    description: The plugin's README, "Config parameters".
    link: https://github.com/k8snetworkplumbingwg/sriov-network-device-plugin#config-parameters
notes:
  - The rendered resources use the list form of C(selectors), which the plugin reads since v3.6.0. Resources given
    in the object form (every plugin version) keep that form.
"""

EXAMPLES = r"""
- name: Merge this node's VFs into the device plugin's ConfigMap
  quantbot.hft.sriov_device_plugin_config:
    node_name: "{{ inventory_hostname_short }}"
    resources: "{{ sriov_device_plugin_config.resourceList }}"
    kubeconfig: /etc/kubernetes/admin.conf
  delegate_to: "{{ groups['kube_control_plane'][0] }}"
  register: sriovdp_config

- name: Restart the device plugin on the node so that it reads the new configuration
  quantbot.hft.sriov_device_plugin_pod:
    node_name: "{{ inventory_hostname_short }}"
    kubeconfig: /etc/kubernetes/admin.conf
  delegate_to: "{{ groups['kube_control_plane'][0] }}"
  when: sriovdp_config is changed

- name: Take the node out of the ConfigMap when it is offboarded
  quantbot.hft.sriov_device_plugin_config:
    node_name: hft-node-07
    state: absent
  delegate_to: "{{ groups['kube_control_plane'][0] }}"

- name: The runbook's resource, written out
  quantbot.hft.sriov_device_plugin_config:
    node_name: hft-node-07
    resources:
      - resourceName: quantbot_hft_vf
        resourcePrefix: openshift.io
        deviceType: netDevice
        selectors:
          - pfNames: ["ens1f0#0-3"]
            vendors: ["8086"]
            devices: ["1889"]
"""

RETURN = r"""
config:
  description: The configuration the ConfigMap holds after the change (as it would in check mode).
  returned: success
  type: dict
  sample: {"resourceList": [{"resourceName": "quantbot_hft_vf", "resourcePrefix": "openshift.io",
                             "deviceType": "netDevice",
                             "selectors": [{"pfNames": ["enp65s0#0-1"], "vendors": ["8086"], "devices": ["10ca"]}]}]}
nodes:
  description: The nodes whose resources the ConfigMap holds after the change.
  returned: success
  type: list
  elements: str
  sample: ["hft-lab-1", "hft-node-07"]
configmap:
  description: Namespace, name and key of the ConfigMap, and whether it was (or would be) created.
  returned: success
  type: dict
  sample: {"namespace": "kube-system", "name": "sriovdp-config", "key": "config.json", "created": false}
diff:
  description: The parsed configuration before and after.
  returned: when diff mode is on
  type: dict
  sample: {"before": null, "after": {"resourceList": []}}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.quantbot.hft.plugins.module_utils._deviceplugin import (
    DEFAULT_CONFIGMAP,
    DEFAULT_KEY,
    DEFAULT_NAMESPACE,
    DevicePluginError,
    configmap_change,
)
from ansible_collections.quantbot.hft.plugins.module_utils._kube import (
    KUBE_AUTH_ARG_SPEC,
    KubeError,
    run_module,
)
from ansible_collections.quantbot.hft.plugins.module_utils._sriov import (
    DEFAULT_RESOURCE_PREFIX,
    SriovError,
    validate_resources,
)

CONFLICT_RETRIES = 3


def argument_spec():
    spec = dict(
        node_name=dict(type="str", required=True),
        resources=dict(type="list", elements="dict"),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        resource_prefix=dict(type="str", default=DEFAULT_RESOURCE_PREFIX),
        namespace=dict(type="str", default=DEFAULT_NAMESPACE),
        name=dict(type="str", default=DEFAULT_CONFIGMAP),
        key=dict(type="str", default=DEFAULT_KEY, no_log=False),
    )
    spec.update(KUBE_AUTH_ARG_SPEC)
    return spec


def run(module, api):
    params = module.params
    resources = None
    if params["state"] == "present":  # [] (a node without VFs) records that the node contributes nothing
        resources = validate_resources(params["resources"], params["resource_prefix"],
                                       where="resources") if params["resources"] else []
    namespace, name, key = params["namespace"], params["name"], params["key"]
    for dummy in range(CONFLICT_RETRIES):
        configmap = api.get_configmap(namespace, name)
        change = configmap_change(configmap, resources, namespace, name, key, params["node_name"], params["state"])
        if not change["changed"] or module.check_mode:
            return change
        try:
            if change["create"]:
                api.create_configmap(namespace, change["body"])
            else:
                api.patch_configmap(namespace, name, change["body"])
            return change
        except KubeError as exc:
            if exc.status != 409:  # 409: created or changed by someone else meanwhile; merge again
                raise
    raise KubeError("ConfigMap %s/%s kept changing under us (409 Conflict %d times)"
                    % (namespace, name, CONFLICT_RETRIES), status=409)


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True,
                           required_if=[("state", "present", ("resources",))])
    change = run_module(module, run, (SriovError, DevicePluginError))
    result = dict(
        changed=change["changed"],
        config=change["after"],
        nodes=change["nodes"],
        configmap=dict(namespace=module.params["namespace"], name=module.params["name"],
                       key=module.params["key"], created=change["changed"] and change["create"]),
    )
    if module._diff:
        result["diff"] = dict(before=change["before"], after=change["after"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
