# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""SR-IOV: validate a VF request, compare it with the host, plan and apply the difference.

One file, three uses:

* pure functions (``normalize_pfs``, ``validate_against_host``, ``plan_changes``,
  ``needs_iommu``, ``iommu_status``, and for the SR-IOV network device plugin
  ``device_plugin_config``, ``validate_resources``, ``merge_device_plugin_config``)
  over plain data, unit-tested with pytest on captured sysfs trees and
  ``ip -j link`` output;
* a small sysfs reader/writer (``read_host``, ``apply``) that takes a sysfs root,
  so tests run it against a fake tree;
* a command-line entry point: the sriov role copies this file to the host as
  ``/usr/local/libexec/quantbot-hft/quantbot_sriov.py``. The boot-time unit
  ``quantbot-sriov.service`` and the role's converge both run ``apply`` from
  it, and the role runs ``plan`` (read-only) first, so what the role checks,
  what it changes and what the boot applies are the same code.

    python3 quantbot_sriov.py plan  --config FILE|- [--config-b64 B64] [--sysfs-root /sys]

The plan's config may carry ``resource_name``, ``resource_prefix`` and
``device_plugin_resources`` (the role's ``sriov_device_plugin_resources``);
its answer holds ``device_plugin_config``, so a bad override is refused by the
read-only plan, before any change.
    python3 quantbot_sriov.py apply --config FILE [--defer-vfio] [--sysfs-root /sys]

Both print one JSON object; a refused request exits 1 with ``{"failed": true, "msg": ...}``.
Only the Python standard library is used (the boot unit runs without Ansible).
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import base64
import json
import os
import re
import subprocess
import sys
import time

DRIVERS = ("kernel", "vfio-pci")
DEFAULT_RESOURCE_NAME = "quantbot_hft_vf"
DEFAULT_RESOURCE_PREFIX = "openshift.io"
VF_SETTINGS = ("mac", "trust", "spoofchk", "vlan")

_MAC = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")
_IFNAME = re.compile(r"^[A-Za-z0-9_.:@-]{1,15}$")
_VIRTFN = re.compile(r"^virtfn([0-9]+)$")


class SriovError(ValueError):
    """The request is unusable or the host cannot satisfy it; the message says why."""


# --------------------------------------------------------------------------
# request validation (pure)
# --------------------------------------------------------------------------
def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _bool(value, what, errors):
    if isinstance(value, bool):
        return value
    errors.append("%s must be true or false, got %r" % (what, value))
    return None


def normalize_mac(value):
    """Lower-case a MAC and check it is a usable unicast address; raise SriovError otherwise."""
    if not isinstance(value, str) or not _MAC.match(value):
        raise SriovError("bad MAC address %r: write six hex pairs separated by colons, e.g. 02:00:5e:10:00:01" % (value,))
    mac = value.lower()
    if int(mac[:2], 16) & 1:
        raise SriovError("bad MAC address %r: multicast bit set (the first octet must be even)" % value)
    if mac == "00:00:00:00:00:00":
        raise SriovError("bad MAC address %r: all zeros" % value)
    return mac


def normalize_pfs(pfs):
    """Check the ``sriov_pfs`` request on its own (no host needed) and return it normalized.

    Each PF becomes ``{name, num_vfs, driver, vfs}`` with ``vfs`` a list of
    ``{index, mac?, trust?, spoofchk?, vlan?}`` sorted by index (only the
    settings that were given). Every problem is collected; one SriovError
    lists them all.
    """
    errors = []
    if not isinstance(pfs, list):
        raise SriovError("sriov_pfs must be a list of {name, num_vfs, driver, vfs}, got %r" % (pfs,))
    result = []
    seen_names = set()
    seen_macs = {}
    for pos, entry in enumerate(pfs):
        where = "sriov_pfs[%d]" % pos
        if not isinstance(entry, dict):
            errors.append("%s must be a dict with name and num_vfs, got %r" % (where, entry))
            continue
        unknown = sorted(set(entry) - set(("name", "num_vfs", "driver", "vfs")))
        if unknown:
            errors.append("%s has unknown keys: %s (allowed: name, num_vfs, driver, vfs)" % (where, ", ".join(unknown)))
        name = entry.get("name")
        if not isinstance(name, str) or not _IFNAME.match(name):
            errors.append("%s.name must be a network interface name, got %r" % (where, name))
            continue
        where = "PF %s" % name
        if name in seen_names:
            errors.append("%s is listed twice in sriov_pfs" % where)
            continue
        seen_names.add(name)
        num_vfs = entry.get("num_vfs")
        if not _is_int(num_vfs) or num_vfs < 0:
            errors.append("%s: num_vfs must be an integer >= 0, got %r" % (where, num_vfs))
            continue
        driver = entry.get("driver", "kernel")
        if driver not in DRIVERS:
            errors.append("%s: driver must be one of %s, got %r" % (where, ", ".join(DRIVERS), driver))
        vfs = entry.get("vfs") or []
        if not isinstance(vfs, list):
            errors.append("%s: vfs must be a list of {index, mac, trust, spoofchk, vlan}, got %r" % (where, vfs))
            vfs = []
        seen_index = set()
        norm_vfs = []
        for vpos, vf in enumerate(vfs):
            vwhere = "%s vfs[%d]" % (where, vpos)
            if not isinstance(vf, dict):
                errors.append("%s must be a dict, got %r" % (vwhere, vf))
                continue
            bad = sorted(set(vf) - set(("index",) + VF_SETTINGS))
            if bad:
                errors.append("%s has unknown keys: %s (allowed: index, %s)" % (vwhere, ", ".join(bad), ", ".join(VF_SETTINGS)))
            index = vf.get("index")
            if not _is_int(index) or index < 0:
                errors.append("%s: index must be an integer >= 0, got %r" % (vwhere, index))
                continue
            vwhere = "%s VF %d" % (where, index)
            if index in seen_index:
                errors.append("%s is configured twice (duplicate VF index)" % vwhere)
                continue
            seen_index.add(index)
            if index >= num_vfs:
                errors.append("%s: index %d is out of range, the PF gets num_vfs=%d (indices 0-%d)"
                              % (vwhere, index, num_vfs, num_vfs - 1) if num_vfs else
                              "%s: index %d is out of range, the PF gets num_vfs=0 (no VFs)" % (vwhere, index))
            norm = {"index": index}
            if vf.get("mac") is not None:
                try:
                    norm["mac"] = normalize_mac(vf["mac"])
                except SriovError as exc:
                    errors.append("%s: %s" % (vwhere, exc))
                else:
                    if norm["mac"] in seen_macs:
                        errors.append("%s: MAC %s is already used by %s" % (vwhere, norm["mac"], seen_macs[norm["mac"]]))
                    seen_macs[norm["mac"]] = vwhere
            for key in ("trust", "spoofchk"):
                if vf.get(key) is not None:
                    value = _bool(vf[key], "%s: %s" % (vwhere, key), errors)
                    if value is not None:
                        norm[key] = value
            if vf.get("vlan") is not None:
                if not _is_int(vf["vlan"]) or not 0 <= vf["vlan"] <= 4094:
                    errors.append("%s: vlan must be an integer 0-4094 (0 = untagged), got %r" % (vwhere, vf["vlan"]))
                else:
                    norm["vlan"] = vf["vlan"]
            norm_vfs.append(norm)
        result.append({"name": name, "num_vfs": num_vfs, "driver": driver,
                       "vfs": sorted(norm_vfs, key=lambda item: item["index"])})
    if errors:
        raise SriovError("invalid sriov_pfs: " + "; ".join(errors))
    return result


def validate_against_host(pfs, host):
    """Check a normalized request against what ``read_host`` found; raise SriovError listing every problem.

    Refused: a PF that is not a network interface here (the message lists the
    interfaces there are), a PF without SR-IOV (no ``sriov_totalvfs`` or 0),
    and ``num_vfs`` above ``sriov_totalvfs``.
    """
    errors = []
    known = host.get("interfaces", [])
    for pf in pfs:
        info = host.get("pfs", {}).get(pf["name"]) or {}
        if not info.get("exists"):
            errors.append("unknown PF %s: no such network interface (interfaces on this host: %s)"
                          % (pf["name"], ", ".join(known) or "none"))
            continue
        total = info.get("totalvfs")
        if not total:
            errors.append("PF %s does not support SR-IOV (%s)" % (
                pf["name"], "sriov_totalvfs is 0" if total == 0 else "no sriov_totalvfs in sysfs"))
            continue
        if pf["num_vfs"] > total:
            errors.append("PF %s: num_vfs=%d exceeds sriov_totalvfs=%d" % (pf["name"], pf["num_vfs"], total))
    if errors:
        raise SriovError("; ".join(errors))
    return pfs


# --------------------------------------------------------------------------
# IOMMU (pure)
# --------------------------------------------------------------------------
def needs_iommu(pfs):
    """True when any PF binds its VFs to vfio-pci (that needs the IOMMU on)."""
    return any(pf.get("driver", "kernel") == "vfio-pci" and pf.get("num_vfs", 0) > 0 for pf in pfs)


def iommu_status(pfs, iommu_args, plan_args, cmdline):
    """Where the IOMMU kernel arguments stand for this request.

    Returns ``{needed, missing_from_plan, missing_from_cmdline, reboot_required}``.
    The plan (boot_args' ``hft_plan.kernel_args``) must carry the arguments;
    a reboot is needed when the running ``/proc/cmdline`` lacks any of them.
    """
    needed = needs_iommu(pfs)
    running = cmdline.split() if isinstance(cmdline, str) else list(cmdline or [])
    missing_plan = [arg for arg in iommu_args if arg not in (plan_args or [])] if needed else []
    missing_cmdline = [arg for arg in iommu_args if arg not in running] if needed else []
    return {"needed": needed, "missing_from_plan": missing_plan,
            "missing_from_cmdline": missing_cmdline, "reboot_required": bool(missing_cmdline)}


# --------------------------------------------------------------------------
# the SR-IOV network device plugin's configuration (pure)
# --------------------------------------------------------------------------
# The format is the one of k8snetworkplumbingwg/sriov-network-device-plugin
# (README, "Config parameters"): {"resourceList": [{resourceName,
# resourcePrefix, deviceType, selectors}]}. The plugin reads "selectors" as a
# single object (every release) or as a list of objects (v3.6.0, 2023-10, and
# later; upstream's preferred syntax). What this file renders uses the LIST
# form, so it needs plugin v3.6.0 or later. A resource given through
# sriov_device_plugin_resources keeps the form it was written in, so a cluster
# on an older plugin can pass the object form there.
DEVICE_TYPE = "netDevice"
RESOURCE_KEYS = ("resourceName", "resourcePrefix", "deviceType", "excludeTopology", "selectors")
SELECTOR_LISTS = ("vendors", "devices", "drivers", "pciAddresses", "pfNames", "rootDevices", "linkTypes")
SELECTOR_BOOLS = ("isRdma", "needVhostNet")
SELECTOR_KEYS = SELECTOR_LISTS + SELECTOR_BOOLS
OVERRIDE_VAR = "sriov_device_plugin_resources"

# The plugin's own rule is [a-zA-Z0-9_-]+; Kubernetes also wants a qualified
# name part (<= 63 characters, alphanumeric at both ends).
_RESOURCE_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?$")
_DNS_LABEL = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
_RESOURCE_PREFIX = re.compile(r"^%s(\.%s)*$" % (_DNS_LABEL, _DNS_LABEL))
_HEX_ID = re.compile(r"^[0-9a-f]{4}$")
_DRIVER = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_PCI_ADDR = re.compile(r"^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$")
_LINK_TYPE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_FUNC_RANGES = re.compile(r"^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$")


def format_function_selector(base, indices=None):
    """``base`` or ``base#0-3,5``: the plugin's pfNames/rootDevices item for a set of VF indices."""
    if indices is None:
        return base
    indices = sorted(set(indices))
    if not indices:
        raise SriovError("%s: an empty VF index set selects nothing" % base)
    parts = []
    first = last = indices[0]
    for index in indices[1:] + [None]:
        if index is not None and index == last + 1:
            last = index
            continue
        parts.append(str(first) if first == last else "%d-%d" % (first, last))
        if index is not None:
            first = last = index
    return "%s#%s" % (base, ",".join(parts))


def parse_function_selector(item, what="pfNames"):
    """Split a pfNames/rootDevices item: ``"enp65s0#0-1,3"`` -> ``("enp65s0", [0, 1, 3])``, no ``#`` -> indices None.

    Raises SriovError naming the item: a base that is not an interface name
    (pfNames) or a PCI address (rootDevices), or a range ``a-b`` with a > b.
    """
    if not isinstance(item, str):
        raise SriovError("%s item %r must be a string" % (what, item))
    base, sep, ranges = item.partition("#")
    pattern, kind = (_IFNAME, "a network interface name") if what == "pfNames" else (
        _PCI_ADDR, "a PCI address such as 0000:41:00.0 (lower-case hex)")
    if not pattern.match(base):
        raise SriovError("%s item %r: %r is not %s" % (what, item, base, kind))
    if not sep:
        return base, None
    if not _FUNC_RANGES.match(ranges):
        raise SriovError("%s item %r: write the VFs as <PF>#<first>-<last>[,<n>...], e.g. %s#0-3" % (what, item, base))
    indices = set()
    for part in ranges.split(","):
        first, dummy, last = part.partition("-")
        first, last = int(first), int(last or first)
        if first > last:
            raise SriovError("%s item %r: VF range %s runs backwards (%d > %d)" % (what, item, part, first, last))
        indices.update(range(first, last + 1))
    return base, sorted(indices)


def selector_objects(resource):
    """A resource's selectors as a list of selector objects (the object form becomes a list of one)."""
    selectors = resource.get("selectors")
    if selectors is None:
        return []
    return [selectors] if isinstance(selectors, dict) else list(selectors)


def _check_selector(sel, where, errors):
    if not isinstance(sel, dict):
        errors.append("%s must be a selector object (a dict), got %r" % (where, sel))
        return
    unknown = sorted(set(sel) - set(SELECTOR_KEYS))
    if unknown:
        errors.append("%s has unknown or unsupported keys: %s (allowed: %s)"
                      % (where, ", ".join(unknown), ", ".join(SELECTOR_KEYS)))
    checks = {"vendors": (_HEX_ID, "4 lower-case hex digits as sysfs shows them, without 0x (e.g. 8086)"),
              "devices": (_HEX_ID, "4 lower-case hex digits as sysfs shows them, without 0x (e.g. 10ca)"),
              "drivers": (_DRIVER, "a kernel driver name (e.g. igbvf, iavf, vfio-pci)"),
              "pciAddresses": (_PCI_ADDR, "a PCI address such as 0000:41:10.0 (lower-case hex)"),
              "linkTypes": (_LINK_TYPE, "a link type such as ether or infiniband")}
    for key in SELECTOR_LISTS:
        if key not in sel:
            continue
        value = sel[key]
        if not isinstance(value, list) or not value:
            errors.append("%s.%s must be a non-empty list of strings, got %r" % (where, key, value))
            continue
        for item in value:
            if key in ("pfNames", "rootDevices"):
                try:
                    parse_function_selector(item, key)
                except SriovError as exc:
                    errors.append("%s: %s" % (where, exc))
            elif not isinstance(item, str) or not checks[key][0].match(item):
                errors.append("%s.%s item %r must be %s" % (where, key, item, checks[key][1]))
    for key in SELECTOR_BOOLS:
        if key in sel and not isinstance(sel[key], bool):
            errors.append("%s.%s must be true or false, got %r" % (where, key, sel[key]))


def validate_resources(resources, default_prefix=DEFAULT_RESOURCE_PREFIX, where=OVERRIDE_VAR):
    """Check a ``resourceList`` (the plugin's format, netDevice resources only) and return it normalized.

    Each resource must have a ``resourceName`` and ``selectors`` (one object or
    a non-empty list of objects) with the selector keys the plugin knows for
    net devices that quantbot.hft supports (:data:`SELECTOR_KEYS`). A missing
    ``resourcePrefix`` becomes ``default_prefix`` (the plugin's own default
    depends on its command line), a missing ``deviceType`` becomes
    ``netDevice``. Unknown keys, bad ids, bad VF ranges and duplicate names
    are refused; every problem is collected into one SriovError.
    """
    if not isinstance(resources, list) or not resources:
        raise SriovError("invalid %s: it must be a non-empty list of device plugin resources "
                         "({resourceName, resourcePrefix, deviceType, selectors}), got %r" % (where, resources))
    errors = []
    out = []
    seen = set()
    for pos, res in enumerate(resources):
        at = "%s[%d]" % (where, pos)
        if not isinstance(res, dict):
            errors.append("%s must be a dict with resourceName and selectors, got %r" % (at, res))
            continue
        unknown = sorted(set(res) - set(RESOURCE_KEYS))
        if unknown:
            errors.append("%s has unknown keys: %s (allowed: %s)" % (at, ", ".join(unknown), ", ".join(RESOURCE_KEYS)))
        name = res.get("resourceName")
        if not isinstance(name, str) or not _RESOURCE_NAME.match(name):
            errors.append("%s.resourceName must be letters, digits, '_' or '-' (at most 63, alphanumeric at both "
                          "ends), got %r" % (at, name))
        else:
            at = "%s (%s)" % (at, name)
        prefix = res.get("resourcePrefix", default_prefix)
        if not isinstance(prefix, str) or len(prefix) > 253 or not _RESOURCE_PREFIX.match(prefix):
            errors.append("%s.resourcePrefix must be a DNS subdomain such as openshift.io, got %r" % (at, prefix))
        elif prefix == "kubernetes.io" or prefix.endswith(".kubernetes.io"):
            errors.append("%s.resourcePrefix %r: extended resources cannot use the kubernetes.io domain" % (at, prefix))
        device_type = res.get("deviceType", DEVICE_TYPE)
        if device_type != DEVICE_TYPE:
            errors.append("%s.deviceType must be %s (VFs as network devices), got %r" % (at, DEVICE_TYPE, device_type))
        if "excludeTopology" in res and not isinstance(res["excludeTopology"], bool):
            errors.append("%s.excludeTopology must be true or false, got %r" % (at, res["excludeTopology"]))
        selectors = res.get("selectors")
        if isinstance(selectors, dict):
            _check_selector(selectors, "%s.selectors" % at, errors)
        elif isinstance(selectors, list) and selectors:
            for spos, sel in enumerate(selectors):
                _check_selector(sel, "%s.selectors[%d]" % (at, spos), errors)
        else:
            errors.append("%s.selectors must be a selector object or a non-empty list of them, got %r"
                          % (at, selectors))
        key = (prefix, name)
        if key in seen:
            errors.append("%s: resource %s/%s is listed twice" % (at, prefix, name))
        seen.add(key)
        norm = json.loads(json.dumps(res))
        norm["resourcePrefix"] = prefix
        norm["deviceType"] = device_type
        out.append(norm)
    if errors:
        raise SriovError("invalid %s: %s" % (where, "; ".join(errors)))
    return out


def device_plugin_config(pfs, host, resource_name=DEFAULT_RESOURCE_NAME, resource_prefix=DEFAULT_RESOURCE_PREFIX,
                         resources=None):
    """The SR-IOV network device plugin's configuration (``config.json``) for this node.

    With ``resources`` (the role's ``sriov_device_plugin_resources``; None
    or ``[]`` means none) that list, checked by :func:`validate_resources`,
    is the ``resourceList``.
    Otherwise one netDevice resource selects exactly the VFs the role creates:
    ``pfNames`` ``<PF>#0-<num_vfs-1>`` for every PF with VFs, ``vendors`` and
    ``devices`` (the VF device id, read from the PF's ``sriov_vf_device`` so
    it is known before the VFs exist), and ``drivers`` for vfio-pci VFs; no
    PF with VFs gives an empty ``resourceList``. PFs
    whose VFs use different drivers cannot share one resource: pods would get
    a kernel netdev or a vfio device at random.
    """
    if resources is not None and resources != []:  # [] (the role's default) keeps the rendering
        return {"resourceList": validate_resources(resources, resource_prefix)}
    selected = [pf for pf in pfs if pf["num_vfs"] > 0]
    drivers = sorted(set(pf["driver"] for pf in selected))
    if len(drivers) > 1:
        raise SriovError("PFs %s mix VF drivers (%s) in the one resource %s/%s; use one driver for all"
                         % (", ".join(pf["name"] for pf in selected), ", ".join(drivers), resource_prefix, resource_name))
    if not selected:
        return {"resourceList": []}  # no VFs, nothing to advertise
    selector = {"pfNames": [format_function_selector(pf["name"], range(pf["num_vfs"])) for pf in selected]}
    vendors = set()
    devices = set()
    for pf in selected:
        info = host.get("pfs", {}).get(pf["name"]) or {}
        if info.get("vendor"):
            vendors.add(info["vendor"])
        if info.get("vf_device"):
            devices.add(info["vf_device"])
    if vendors:
        selector["vendors"] = sorted(vendors)
    if devices:
        selector["devices"] = sorted(devices)
    if drivers == ["vfio-pci"]:
        selector["drivers"] = ["vfio-pci"]
    resource = {"resourceName": resource_name, "resourcePrefix": resource_prefix, "deviceType": DEVICE_TYPE,
                "selectors": [selector]}
    return {"resourceList": validate_resources([resource], resource_prefix, where="the rendered resource")}


def _merge_function_items(have, new, key):
    """Union of pfNames/rootDevices items by PF: VF index sets are joined, a bare PF (all VFs) wins.

    One item per PF, because the plugin applies only the first item whose PF
    matches (case-insensitively for pfNames).
    """
    order = []
    merged = {}
    for item in list(have) + list(new):
        base, indices = parse_function_selector(item, key)
        ident = base.lower()
        if ident not in merged:
            order.append(ident)
            merged[ident] = (base, None if indices is None else set(indices))
            continue
        first_base, known = merged[ident]
        merged[ident] = (first_base, None if known is None or indices is None else known | set(indices))
    return [format_function_selector(*merged[ident]) for ident in order]


def _merge_selector(have, new, where):
    extra = sorted(set(have) - set(SELECTOR_KEYS))
    if extra:
        raise SriovError("%s has selector keys quantbot.hft cannot merge: %s (edit that entry by hand, or deploy "
                         "the configuration as a host file)" % (where, ", ".join(extra)))
    out = {}
    for key in list(have) + [key for key in new if key not in have]:  # the entry's key order, then new keys
        if key in SELECTOR_BOOLS:
            if key in have and key in new and have[key] != new[key]:
                raise SriovError("%s: %s is %s there but %s for this node; one entry cannot be both"
                                 % (where, key, json.dumps(have[key]), json.dumps(new[key])))
            out[key] = have.get(key, new.get(key))
        elif key in have and key in new:
            if key in ("pfNames", "rootDevices"):
                out[key] = _merge_function_items(have[key], new[key], key)
            else:
                out[key] = list(have[key]) + [item for item in new[key] if item not in have[key]]
        # A list filter on one side only: the union of "these" and "all" is "all", so the key goes.
    return out


def merge_device_plugin_config(existing, resources, where="the ConfigMap"):
    """The cluster-wide configuration with this node's ``resources`` merged in (pure; ``existing`` is unchanged).

    ``existing`` is the parsed ``config.json`` (or None). A resource of
    ``resources`` whose prefix/name is not there yet is appended. Otherwise
    the two single selector objects are merged: list filters present on both
    sides become their union in a stable order (existing items first),
    ``pfNames``/``rootDevices`` are joined per PF (VF ranges merged), a
    filter present on one side only is dropped (its union with "everything"
    is everything), and ``isRdma``/``needVhostNet`` must agree. Entries of
    other resources are kept as they are. Raises SriovError when the entries
    cannot be merged.
    """
    config = json.loads(json.dumps(existing)) if existing is not None else {"resourceList": []}
    if not isinstance(config, dict) or not isinstance(config.get("resourceList", []), list):
        raise SriovError("%s does not hold a device plugin configuration ({\"resourceList\": [...]})" % where)
    entries = config.setdefault("resourceList", [])
    for res in resources:
        ident = "%s/%s" % (res.get("resourcePrefix"), res.get("resourceName"))
        found = [pos for pos, entry in enumerate(entries) if isinstance(entry, dict)
                 and entry.get("resourceName") == res.get("resourceName")
                 and entry.get("resourcePrefix") == res.get("resourcePrefix")]
        if not found:
            entries.append(json.loads(json.dumps(res)))
            continue
        entry = entries[found[0]]
        at = "resource %s in %s" % (ident, where)
        if entry.get("deviceType", DEVICE_TYPE) != res.get("deviceType", DEVICE_TYPE):
            raise SriovError("%s has deviceType %r, this node needs %r" % (at, entry.get("deviceType"),
                                                                           res.get("deviceType")))
        for key in ("excludeTopology",):
            if key in entry and key in res and entry[key] != res[key]:
                raise SriovError("%s: %s is %s there but %s for this node"
                                 % (at, key, json.dumps(entry[key]), json.dumps(res[key])))
            if key in res:
                entry[key] = res[key]
        have, new = selector_objects(entry), selector_objects(res)
        if have == new:
            continue
        if len(have) != 1 or len(new) != 1:
            raise SriovError("%s has %d selector objects and this node's resource %d; only single selector objects "
                             "are merged (edit that entry by hand, or deploy the configuration as a host file)"
                             % (at, len(have), len(new)))
        merged = _merge_selector(have[0], new[0], at)
        entry["selectors"] = merged if isinstance(entry.get("selectors"), dict) else [merged]
    return config


def dump_device_plugin_config(config):
    """The text written to ``config.json`` (the ConfigMap key or the host file): indented JSON, key order kept."""
    return json.dumps(config, indent=2) + "\n"


def host_from_facts(host_facts, names):
    """The ``read_host`` shape built from quantbot.hft.host_facts' ``nics`` (no per-VF ``ip`` settings)."""
    nics = (host_facts or {}).get("nics") or {}

    def hex_id(value):
        return value.lower().replace("0x", "").zfill(4) if value else None

    pfs = {}
    for name in names:
        info = nics.get(name)
        pfs[name] = {"exists": info is not None} if info is None else {
            "exists": True, "totalvfs": info.get("sriov_totalvfs"), "numvfs": info.get("sriov_numvfs"),
            "vendor": hex_id(info.get("vendor")), "vf_device": hex_id(info.get("vf_device")),
            "vfs": [dict((k, vf.get(k)) for k in ("index", "pci", "driver", "driver_override"))
                    for vf in info.get("vfs") or []],
            "vf_links": {}}
    return {"interfaces": sorted(nics), "pfs": pfs}


def sriov_problems(pfs, host_facts, plan_args, iommu_args):
    """Why the sriov role cannot apply ``pfs`` on this host ([] when it can): the request, the host, the IOMMU plan."""
    try:
        normalized = normalize_pfs(pfs)
        validate_against_host(normalized, host_from_facts(host_facts, [pf["name"] for pf in normalized]))
    except SriovError as exc:
        return ["sriov: %s" % exc]
    status = iommu_status(normalized, list(iommu_args or []), plan_args, (host_facts or {}).get("cmdline") or "")
    if status["missing_from_plan"]:
        return ["PF %s binds VFs to vfio-pci, which needs the IOMMU, but the plan's kernel arguments lack %s. Set "
                "hft_iommu: true (quantbot.hft.node_topology iommu) so the boot_args role applies them"
                % (", ".join(pf["name"] for pf in normalized if pf["driver"] == "vfio-pci"),
                   " ".join(status["missing_from_plan"]))]
    return []


# --------------------------------------------------------------------------
# current state and the plan (pure)
# --------------------------------------------------------------------------
def parse_ip_vfinfo(text):
    """Per-VF settings from ``ip -j link show dev PF``: ``{index: {mac, trust, spoofchk, vlan}}``."""
    try:
        data = json.loads(text) if text.strip() else []
    except ValueError as exc:
        raise SriovError("cannot read ip -j link output: %s" % exc)
    result = {}
    for link in data if isinstance(data, list) else [data]:
        for vf in link.get("vfinfo_list", []) or []:
            if "vf" not in vf:
                continue
            vlan = 0
            if vf.get("vlan_list"):
                vlan = vf["vlan_list"][0].get("vlan", 0)
            elif _is_int(vf.get("vlan")):
                vlan = vf["vlan"]
            mac = vf.get("address") or vf.get("mac")
            result[int(vf["vf"])] = {
                "mac": mac.lower() if isinstance(mac, str) else None,
                "trust": vf.get("trust"),
                "spoofchk": vf.get("spoofchk"),
                "vlan": vlan,
            }
    return result


def _vf_driver_ok(want, vf):
    if want == "vfio-pci":
        return vf.get("driver") == "vfio-pci"
    return vf.get("driver") != "vfio-pci" and not vf.get("driver_override")


def plan_changes(pfs, host):
    """What ``apply`` would do: a list of actions, empty when the host already matches.

    Actions: ``{pf, action: set_num_vfs, from, to}`` (a count change resets to 0
    first, as the kernel demands); ``{pf, action: set_vf, vf, settings}`` for
    trust/spoofchk/MAC/VLAN that differ; ``{pf, action: bind, vf, driver}`` for
    VFs on the wrong driver. After a count change every configured setting and
    binding is planned, because new VFs start with driver defaults.
    """
    actions = []
    for pf in pfs:
        info = host.get("pfs", {}).get(pf["name"]) or {}
        current = info.get("numvfs") or 0
        recreate = current != pf["num_vfs"]
        if recreate:
            actions.append({"pf": pf["name"], "action": "set_num_vfs", "from": current, "to": pf["num_vfs"]})
        links = {} if recreate else info.get("vf_links", {})
        for vf in pf["vfs"]:
            have = links.get(vf["index"], {})
            diff = dict((key, vf[key]) for key in VF_SETTINGS if key in vf and have.get(key) != vf[key])
            if diff:
                actions.append({"pf": pf["name"], "action": "set_vf", "vf": vf["index"], "settings": diff})
        vfs = {} if recreate else dict((vf["index"], vf) for vf in info.get("vfs", []))
        for index in range(pf["num_vfs"]):
            have = vfs.get(index, {"driver": None, "driver_override": None})
            if recreate and pf["driver"] == "kernel":
                continue  # fresh VFs probe their kernel driver on their own
            if not _vf_driver_ok(pf["driver"], have):
                actions.append({"pf": pf["name"], "action": "bind", "vf": index, "driver": pf["driver"]})
    return actions


# --------------------------------------------------------------------------
# sysfs reading and writing (I/O, against a root so tests use a fake tree)
# --------------------------------------------------------------------------
def _read(path):
    try:
        with open(path) as handle:
            return handle.read().strip()
    except (IOError, OSError):
        return None


def _read_int(path):
    value = _read(path)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _hex_id(path):
    value = _read(path)
    if not value:
        return None
    return value.lower().replace("0x", "").zfill(4)


def read_vfs(device_dir):
    """The VFs under a PF's device directory: ``[{index, pci, driver, driver_override}]``."""
    vfs = []
    try:
        names = os.listdir(device_dir)
    except OSError:
        return vfs
    for name in names:
        match = _VIRTFN.match(name)
        if not match:
            continue
        path = os.path.join(device_dir, name)
        driver_link = os.path.join(path, "driver")
        driver = os.path.basename(os.path.realpath(driver_link)) if os.path.exists(driver_link) else None
        override = _read(os.path.join(path, "driver_override"))
        vfs.append({"index": int(match.group(1)), "pci": os.path.basename(os.path.realpath(path)),
                    "driver": driver, "driver_override": None if override in (None, "", "(null)") else override})
    return sorted(vfs, key=lambda vf: vf["index"])


def read_host(sysfs_root, names, vf_links=None):
    """What sysfs says about each named PF, and the list of interfaces for error messages.

    ``vf_links`` maps PF name to :func:`parse_ip_vfinfo` output (the per-VF
    settings only ``ip`` can read); tests pass it in, the CLI reads it.
    """
    net = os.path.join(sysfs_root, "class", "net")
    try:
        interfaces = sorted(name for name in os.listdir(net) if name != "lo")
    except OSError:
        interfaces = []
    pfs = {}
    for name in names:
        base = os.path.join(net, name)
        device = os.path.join(base, "device")
        pfs[name] = {
            "exists": os.path.isdir(base),
            "totalvfs": _read_int(os.path.join(device, "sriov_totalvfs")),
            "numvfs": _read_int(os.path.join(device, "sriov_numvfs")),
            "vendor": _hex_id(os.path.join(device, "vendor")),
            "vf_device": _hex_id(os.path.join(device, "sriov_vf_device")),
            "vfs": read_vfs(device),
            "vf_links": (vf_links or {}).get(name, {}),
        }
    return {"interfaces": interfaces, "pfs": pfs}


def _write(path, value):
    with open(path, "w") as handle:
        handle.write(value)


def _run(argv):
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate()
    if proc.returncode != 0:
        message = err.decode("utf-8", "replace").strip()
        raise SriovError("%s failed (rc=%d): %s" % (" ".join(argv), proc.returncode, message))
    return out.decode("utf-8", "replace")


def ip_link_argv(pf, index, settings):
    """``ip link set dev PF vf N ...`` as an argument list (never a shell string)."""
    argv = ["ip", "link", "set", "dev", pf, "vf", str(index)]
    if "mac" in settings:
        argv += ["mac", settings["mac"]]
    if "vlan" in settings:
        argv += ["vlan", str(settings["vlan"])]
    if "trust" in settings:
        argv += ["trust", "on" if settings["trust"] else "off"]
    if "spoofchk" in settings:
        argv += ["spoofchk", "on" if settings["spoofchk"] else "off"]
    return argv


def read_vf_links(names, run=None):
    run = run or _run
    links = {}
    for name in names:
        links[name] = parse_ip_vfinfo(run(["ip", "-j", "link", "show", "dev", name]))
    return links


def iommu_active(sysfs_root):
    groups = os.path.join(sysfs_root, "kernel", "iommu_groups")
    return os.path.isdir(groups) and bool(os.listdir(groups))


def _wait_for_vfs(device_dir, count, timeout):
    deadline = time.time() + timeout
    while True:
        if len(read_vfs(device_dir)) >= count:
            return
        if time.time() >= deadline:
            raise SriovError("%s: %d VFs did not appear within %ss" % (device_dir, count, timeout))
        time.sleep(0.2)


def _bind(sysfs_root, vf_dir, pci, driver):
    """Bind one VF: vfio-pci through driver_override, or back to its kernel driver."""
    _write(os.path.join(vf_dir, "driver_override"), "vfio-pci" if driver == "vfio-pci" else "\n")
    if os.path.exists(os.path.join(vf_dir, "driver")):
        _write(os.path.join(vf_dir, "driver", "unbind"), pci)
    _write(os.path.join(sysfs_root, "bus", "pci", "drivers_probe"), pci)


def observe(sysfs_root, pfs, run=None):
    """read_host plus the per-VF settings from ``ip -j link``, for the PFs that exist."""
    names = [pf["name"] for pf in pfs]
    present = [name for name in names if os.path.isdir(os.path.join(sysfs_root, "class", "net", name))]
    return read_host(sysfs_root, names, read_vf_links(present, run))


def apply(pfs, sysfs_root="/sys", run=None, defer_vfio=False, settle_timeout=30):
    """Make the host match ``pfs`` (normalized). Returns ``{changed, actions, deferred}``.

    Idempotent: it plans first and does only the planned actions. A count
    change writes 0 first (the kernel refuses N -> M with both non-zero).
    ``defer_vfio`` skips vfio-pci binding while the IOMMU is off (the role sets
    it when a reboot for the IOMMU arguments is still pending; the boot unit
    never does, so a boot without the IOMMU fails loudly).
    """
    run = run or _run
    host = observe(sysfs_root, pfs, run)
    validate_against_host(pfs, host)
    actions = plan_changes(pfs, host)
    deferred = []
    if any(a["action"] == "bind" and a["driver"] == "vfio-pci" for a in actions):
        if iommu_active(sysfs_root):
            run(["modprobe", "vfio-pci"])
        elif not defer_vfio:
            raise SriovError("vfio-pci requested but the IOMMU is off (no groups in %s/kernel/iommu_groups): "
                             "boot with the IOMMU kernel arguments (hft_iommu: true in the plan)" % sysfs_root)
    for action in actions:
        device = os.path.join(sysfs_root, "class", "net", action["pf"], "device")
        if action["action"] == "set_num_vfs":
            if action["from"]:
                _write(os.path.join(device, "sriov_numvfs"), "0")
            if action["to"]:
                _write(os.path.join(device, "sriov_numvfs"), str(action["to"]))
                _wait_for_vfs(device, action["to"], settle_timeout)
        elif action["action"] == "set_vf":
            run(ip_link_argv(action["pf"], action["vf"], action["settings"]))
        elif action["action"] == "bind":
            if action["driver"] == "vfio-pci" and not iommu_active(sysfs_root):
                deferred.append(action)
                continue
            vf_dir = os.path.join(device, "virtfn%d" % action["vf"])
            _bind(sysfs_root, vf_dir, os.path.basename(os.path.realpath(vf_dir)), action["driver"])
    done = [a for a in actions if a not in deferred]
    return {"changed": bool(done), "actions": done, "deferred": deferred}


# --------------------------------------------------------------------------
# command line (the role's plan/apply and the boot unit)
# --------------------------------------------------------------------------
def _load_config(args):
    if args.get("config_b64"):
        return json.loads(base64.b64decode(args["config_b64"]).decode("utf-8"))
    if args.get("config") == "-":
        return json.load(sys.stdin)
    with open(args["config"]) as handle:
        return json.load(handle)


def _parse_argv(argv):
    usage = "usage: quantbot_sriov.py {plan|apply} (--config FILE|- | --config-b64 B64) [--sysfs-root DIR] [--defer-vfio]"
    if not argv or argv[0] not in ("plan", "apply"):
        raise SriovError(usage)
    args = {"command": argv[0], "sysfs_root": "/sys", "defer_vfio": False, "config": None, "config_b64": None}
    rest = list(argv[1:])
    while rest:
        item = rest.pop(0)
        if item == "--defer-vfio":
            args["defer_vfio"] = True
        elif item in ("--config", "--config-b64", "--sysfs-root") and rest:
            args[item[2:].replace("-", "_")] = rest.pop(0)
        else:
            raise SriovError(usage)
    if not (args["config"] or args["config_b64"]):
        raise SriovError(usage)
    return args


def main(argv=None, out=None):
    """Run plan or apply; print one JSON object; return the exit code."""
    out = out or sys.stdout
    try:
        args = _parse_argv(sys.argv[1:] if argv is None else argv)
        config = _load_config(args)
        pfs = normalize_pfs(config.get("pfs", []))
        if args["command"] == "apply":
            result = apply(pfs, args["sysfs_root"], defer_vfio=args["defer_vfio"])
        else:
            host = observe(args["sysfs_root"], pfs)
            validate_against_host(pfs, host)
            actions = plan_changes(pfs, host)
            result = {"changed": bool(actions), "actions": actions, "host": host,
                      "device_plugin_config": device_plugin_config(
                          pfs, host, config.get("resource_name", DEFAULT_RESOURCE_NAME),
                          config.get("resource_prefix", DEFAULT_RESOURCE_PREFIX),
                          config.get("device_plugin_resources"))}
        result["pfs"] = pfs
        out.write(json.dumps(result, sort_keys=True) + "\n")
        return 0
    except (SriovError, ValueError, IOError, OSError) as exc:
        out.write(json.dumps({"failed": True, "msg": str(exc)}) + "\n")
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
