# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The SR-IOV network device plugin on the cluster side: its ConfigMap and its pod on a node.

Plain functions over plain dicts; nothing here talks to the API. The modules
``sriov_device_plugin_config`` and ``sriov_device_plugin_pod`` read the
objects, ask these functions what to send, and send it. The configuration
itself (format, validation, the cluster-wide merge) is ``_sriov.py``'s, the
file the sriov role also runs on the host.

The plugin (k8snetworkplumbingwg/sriov-network-device-plugin) reads its
configuration only when it starts, so a new configuration reaches a node
only when the plugin's pod there is deleted and its DaemonSet recreates it.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import json
import time

from ansible_collections.quantbot.hft.plugins.module_utils._sriov import (
    SriovError,
    dump_device_plugin_config,
    merge_device_plugin_config,
)

# The upstream deployment (deployments/configMap.yaml, sriovdp-daemonset.yaml).
DEFAULT_NAMESPACE = "kube-system"
DEFAULT_CONFIGMAP = "sriovdp-config"
DEFAULT_KEY = "config.json"
DEFAULT_POD_SELECTOR = "app=sriovdp"
# The ConfigMap annotation that records which node contributed which resources (see configmap_change).
NODES_ANNOTATION = "quantbot.io/sriov-device-plugin-nodes"
PREEXISTING = ""  # the "node" that holds an entry found in the ConfigMap before quantbot.hft managed it


class DevicePluginError(ValueError):
    """A ConfigMap that cannot be read or merged, or a plugin pod that did not come back."""


def _meta(obj):
    return (obj or {}).get("metadata") or {}


def read_configmap_config(configmap, key, where):
    """The parsed configuration in ``configmap.data[key]``, or None when the ConfigMap or the key is missing."""
    if configmap is None:
        return None
    text = ((configmap.get("data") or {}).get(key))
    if text is None or not text.strip():
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise DevicePluginError("%s is not JSON (%s); fix or remove it by hand" % (where, exc))


def _resource_key(entry):
    return "%s/%s" % (entry.get("resourcePrefix"), entry.get("resourceName"))


def read_contributions(configmap, where):
    """The per-node resources recorded in the ConfigMap's annotation: an ordered {node: [resources]}."""
    text = (_meta(configmap).get("annotations") or {}).get(NODES_ANNOTATION)
    if not text:
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
        raise DevicePluginError("%s: annotation %s is not a JSON object of per-node resource lists; remove it to "
                                "start over from the entries that are there now" % (where, NODES_ANNOTATION))
    return data


def rebuild_entries(contributions, where):
    """{resource key: entry}: every contribution merged in order (``_sriov.merge_device_plugin_config``)."""
    config = None
    for node, resources in contributions.items():
        try:
            config = merge_device_plugin_config(config, resources, where)
        except SriovError as exc:
            raise DevicePluginError("%s (merging the resources of %s)" % (exc, node or "the entry there before"))
    entries = (config or {}).get("resourceList") or []
    return dict((_resource_key(e), e) for e in entries)


def configmap_change(configmap, resources, namespace, name, key=DEFAULT_KEY, node_name=None, state="present"):
    """What to write so that the ConfigMap's ``key`` selects every HFT node's VFs, this node's included.

    The ConfigMap is cluster-wide. Each node's resources are recorded in the
    annotation :data:`NODES_ANNOTATION` (``{node: [resources]}``), and every
    entry of a resource that some node contributes is the union of all
    contributions (``_sriov.merge_device_plugin_config``: items in a stable
    order, pfNames joined per PF with their VF ranges). So a node's new
    resources replace its previous ones, ``state=absent`` takes the node out
    (offboarding), and an entry that was there before quantbot.hft managed it
    is kept as the first contribution (node ``""``). Entries of other
    resources are never touched. A managed entry that differs from what the
    contributions give was changed by hand: that is refused, naming it.

    ``resources`` must be validated (``_sriov.validate_resources``). Returns
    ``{changed, create, before, after, nodes, body}``: ``before``/``after``
    the parsed configurations (``before`` None when there was none),
    ``nodes`` the contributing nodes after the change, ``body`` the ConfigMap
    to create or the merge patch to send (with the ConfigMap's
    resourceVersion, so that a concurrent writer makes the write fail with
    409 instead of being lost), None when nothing changes. Comparisons are
    on parsed JSON, so formatting never counts as a change.
    """
    where = "ConfigMap %s/%s key %s" % (namespace, name, key)
    before = read_configmap_config(configmap, key, where)
    if before is not None and (not isinstance(before, dict) or not isinstance(before.get("resourceList", []), list)):
        raise DevicePluginError("%s does not hold a device plugin configuration ({\"resourceList\": [...]})" % where)
    old = read_contributions(configmap, where)
    current = dict((_resource_key(e), e) for e in (before or {}).get("resourceList") or [] if isinstance(e, dict))
    for ident, entry in rebuild_entries(old, where).items():
        if current.get(ident) != entry:
            raise DevicePluginError(
                "resource %s in %s was changed outside quantbot.hft (it is not the union of the nodes' resources "
                "recorded in annotation %s); put the change into sriov_device_plugin_resources, or remove the "
                "annotation so that the entry as it is now is kept as a base" % (ident, where, NODES_ANNOTATION))
    new = dict(old)
    if state == "present":
        managed = set(ident for entries in old.values() for ident in (_resource_key(e) for e in entries))
        base = [current[_resource_key(res)] for res in resources
                if _resource_key(res) not in managed and _resource_key(res) in current]
        if base:  # the entry there before comes first, so its items keep their place
            new = dict([(PREEXISTING, new.get(PREEXISTING, []) + base)] +
                       [(n, r) for n, r in new.items() if n != PREEXISTING])
        new[node_name] = resources
    else:
        new.pop(node_name, None)
    rebuilt = rebuild_entries(new, where)
    managed = set(ident for entries in list(old.values()) + list(new.values()) for ident in
                  (_resource_key(e) for e in entries))
    after = json.loads(json.dumps(before)) if before is not None else {"resourceList": []}
    entries = []
    for entry in after.get("resourceList") or []:
        ident = _resource_key(entry) if isinstance(entry, dict) else None
        if ident not in managed:
            entries.append(entry)
        elif ident in rebuilt:
            entries.append(rebuilt.pop(ident))
    entries.extend(rebuilt.values())
    after["resourceList"] = entries
    changed = after != before or new != old
    annotations = {NODES_ANNOTATION: json.dumps(new, sort_keys=False, separators=(",", ":"))}
    text = dump_device_plugin_config(after)
    if configmap is None:
        body = {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": name, "namespace": namespace, "annotations": annotations,
                             "labels": {"app.kubernetes.io/managed-by": "quantbot.hft"}},
                "data": {key: text}}
    else:
        body = {"metadata": {"annotations": annotations}, "data": {key: text}}
        version = _meta(configmap).get("resourceVersion")
        if version:
            body["metadata"]["resourceVersion"] = version
    if configmap is None and state != "present":
        changed = False  # nothing to take the node out of
    return {"changed": changed, "create": configmap is None, "before": before, "after": after,
            "nodes": [n for n in new if n != PREEXISTING], "body": body if changed else None}


def pod_ref(pod):
    meta = _meta(pod)
    return {"namespace": meta.get("namespace"), "name": meta.get("name"), "uid": meta.get("uid"),
            "phase": (pod.get("status") or {}).get("phase")}


def live_pods(pods, node_name):
    """The pods bound to node_name that are not already being deleted."""
    return [pod for pod in pods if (pod.get("spec") or {}).get("nodeName") == node_name
            and not _meta(pod).get("deletionTimestamp")]


def replacement(pods, node_name, old_uids):
    """The plugin pod that replaced the deleted ones: on node_name, another uid, Running. None until then."""
    for pod in live_pods(pods, node_name):
        if _meta(pod).get("uid") not in old_uids and (pod.get("status") or {}).get("phase") == "Running":
            return pod
    return None


def wait_for_replacement(list_pods, node_name, old_uids, timeout, interval=2.0, clock=time.monotonic,
                         sleep=time.sleep):
    """Poll ``list_pods()`` until :func:`replacement` finds the new pod; raise DevicePluginError at the deadline."""
    deadline = clock() + timeout
    while True:
        pods = list_pods()
        found = replacement(pods, node_name, old_uids)
        if found is not None:
            return found
        if clock() >= deadline:
            seen = ", ".join("%s (uid %s, %s)" % (ref["name"], ref["uid"], ref["phase"] or "no phase")
                             for ref in (pod_ref(p) for p in live_pods(pods, node_name))) or "none"
            raise DevicePluginError(
                "the SR-IOV device plugin pod on %s did not come back Running within %ss after the restart "
                "(pods there now: %s); check its DaemonSet's nodeSelector and tolerations" % (node_name, timeout, seen))
        sleep(interval)
