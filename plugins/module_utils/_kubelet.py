# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""kubelet role rules: the wanted drop-in, its input checks, and the transition decision.

Pure functions over plain data, run on the controller through the
collection's filters (``plugins/filter/hft.py``). ``settings`` is the role's
input with the ``kubelet_`` prefix dropped (``cpu_manager_policy``,
``reserved_cpus``, ...). ``host`` is quantbot.hft.host_facts' result.

Memory quantities use ``kubernetes.utils.quantity`` (the controller has the
official client).
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import copy
import re

from ansible_collections.quantbot.hft.plugins.module_utils._topology import (
    TopologyError,
    format_cpulist,
    parse_cpulist,
)

# The KubeletConfiguration fields the CPU, memory and topology managers consume:
# a change in any of them takes the safe transition (drain, stop, state files).
MANAGER_FIELDS = ("cpuManagerPolicy", "cpuManagerPolicyOptions", "reservedSystemCPUs", "topologyManagerPolicy",
                  "topologyManagerScope", "memoryManagerPolicy", "reservedMemory")
KUBELET_DEFAULTS = {"cpuManagerPolicy": "none", "topologyManagerPolicy": "none", "topologyManagerScope": "container",
                    "memoryManagerPolicy": "None"}
STATE_FILES = ("cpu_manager_state", "memory_manager_state")
ENV_VAR = "KUBELET_EXTRA_ARGS"
_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$")
_CONFIG_DIR = re.compile(r"--config-dir[= ]+\"?([^\"\s]+)")
_DROPIN_NAME = re.compile(r"^[A-Za-z0-9_.-]+\.conf$")


class KubeletError(ValueError):
    """Unusable kubelet settings; the message names the value."""


def quantity_bytes(value, what="quantity"):
    """A memory quantity ("512Mi", "1Gi", "100M", 1048576) as an int of bytes."""
    text = str(value).strip()
    if isinstance(value, bool) or not _QUANTITY.match(text):
        raise KubeletError("%s is %r: not a memory quantity such as 512Mi, 1Gi or 100M" % (what, value))
    from kubernetes.utils.quantity import parse_quantity
    return int(parse_quantity(text).to_integral_value())


def bytes_quantity(count):
    """Bytes as the canonical binary quantity: the largest of Gi, Mi, Ki that divides it, else bytes."""
    count = int(count)
    for suffix, unit in (("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)):
        if count > 0 and count % unit == 0:
            return "%d%s" % (count // unit, suffix)
    return str(count)


def _memory(mapping):
    return (mapping or {}).get("memory")


def reservation_total(settings):
    """kubeReserved + systemReserved + evictionHard memory.available, in bytes."""
    total = 0
    for what, value in (("kubelet_kube_reserved.memory", _memory(settings.get("kube_reserved"))),
                        ("kubelet_system_reserved.memory", _memory(settings.get("system_reserved"))),
                        ("kubelet_eviction_hard_memory", settings.get("eviction_hard_memory"))):
        if value not in (None, ""):
            total += quantity_bytes(value, what)
    return total


def full_pcpus_only(settings):
    mode = settings.get("full_pcpus_only", "auto")
    return mode == "always" or (mode == "auto" and int(settings.get("threads_per_core") or 1) > 1)


def desired_dropin(settings):
    """The wanted KubeletConfiguration drop-in as a dict (kubelet merges it over its main config)."""
    static = settings.get("cpu_manager_policy") == "static"
    out = {"apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
           "cpuManagerPolicy": settings.get("cpu_manager_policy")}
    options = {}
    if static:
        if full_pcpus_only(settings):
            options["full-pcpus-only"] = "true"
        for key, value in (settings.get("cpu_manager_policy_options") or {}).items():
            options[str(key)] = str(value).lower() if isinstance(value, bool) else str(value)
    if options:
        out["cpuManagerPolicyOptions"] = dict(sorted(options.items()))
    reserved_cpus = str(settings.get("reserved_cpus") or "").replace(" ", "")
    if reserved_cpus:
        out["reservedSystemCPUs"] = reserved_cpus
    out["topologyManagerPolicy"] = settings.get("topology_manager_policy")
    out["topologyManagerScope"] = settings.get("topology_manager_scope")
    out["memoryManagerPolicy"] = settings.get("memory_manager_policy")
    for key, name in (("kube_reserved", "kubeReserved"), ("system_reserved", "systemReserved")):
        if settings.get(key):
            out[name] = dict((str(k), str(v)) for k, v in sorted(settings[key].items()))
    # The whole evictionHard map: kubelet sets a signal that is not listed to
    # zero instead of its default once any signal is given.
    eviction = {"memory.available": str(settings.get("eviction_hard_memory"))}
    for key, value in sorted((settings.get("eviction_hard_extra") or {}).items()):
        eviction[str(key)] = str(value)
    out["evictionHard"] = eviction
    # No swap on an HFT node (the hugepages role turns it off): kubelet refuses
    # to start where swap is on, which is what an HFT node wants.
    out["failSwapOn"] = True
    if settings.get("memory_manager_policy") == "Static":
        total = reservation_total(settings)
        if settings.get("reserved_memory"):
            reserved = [{"numaNode": int(entry["numaNode"]),
                         "limits": dict((str(k), str(v)) for k, v in sorted(entry["limits"].items()))}
                        for entry in settings["reserved_memory"]]
        elif total > 0:
            reserved = [{"numaNode": int(settings.get("reserved_memory_numa_node")),
                         "limits": {"memory": bytes_quantity(total)}}]
        else:
            reserved = []
        out["reservedMemory"] = sorted(reserved, key=lambda entry: entry["numaNode"])
    return out


def manager_fields(config):
    """The manager fields of one KubeletConfiguration (wanted, on disk or /configz), normalised to compare with ==.

    kubelet defaults filled in, cpulists expanded to sorted CPU numbers, memory
    quantities in bytes keyed by NUMA node.
    """
    config = config or {}
    options = dict((str(k), str(v).lower()) for k, v in (config.get("cpuManagerPolicyOptions") or {}).items())
    reserved = {}
    for entry in config.get("reservedMemory") or []:
        limits = dict((str(k), quantity_bytes(v, "reservedMemory limit")) for k, v in
                      (entry.get("limits") or {}).items())
        reserved[str(entry.get("numaNode", 0))] = limits
    try:
        cpus = parse_cpulist(str(config.get("reservedSystemCPUs") or "").replace(" ", ""), "reservedSystemCPUs")
    except TopologyError as exc:
        raise KubeletError(str(exc))
    out = {"cpuManagerPolicyOptions": options, "reservedSystemCPUs": cpus, "reservedMemory": reserved}
    for key, default in KUBELET_DEFAULTS.items():
        out[key] = str(config.get(key) or default)
    return out


def changed_fields(current, desired):
    return [field for field in MANAGER_FIELDS if current.get(field) != desired.get(field)]


def config_dirs(env_texts):
    """Every ``--config-dir`` set in kubelet's environment files (a list of texts or None)."""
    found = []
    for text in env_texts or []:
        for line in (text or "").splitlines():
            if line.strip().startswith("#"):
                continue  # a commented-out flag does not reach kubelet
            for value in _CONFIG_DIR.findall(line):
                if value not in found:
                    found.append(value)
    return found


def env_line(env_text, dropin_dir):
    """The KUBELET_EXTRA_ARGS line with --config-dir appended to what it holds now."""
    value = ""
    for line in (env_text or "").splitlines():
        match = re.match(r"^%s=(.*)$" % ENV_VAR, line)
        if match:
            value = match.group(1).strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1].strip()
    return '%s="%s"' % (ENV_VAR, ("%s --config-dir=%s" % (value, dropin_dir)).strip())


def env_file_text(text, line):
    """kubelet's environment file with the KUBELET_EXTRA_ARGS line replaced (or added), other lines kept."""
    out = []
    done = False
    for current in (text or "").splitlines():
        if re.match(r"^%s=" % ENV_VAR, current):
            if not done:
                out.append(line)
            done = True
        else:
            out.append(current)
    if not done:
        out.append(line)
    return "\n".join(out) + "\n"


def _numa_nodes(host):
    return sorted(int(node) for node in ((host or {}).get("numa") or {}))


def kubelet_problems(settings, host, isolated_cpus=""):
    """Why the kubelet role cannot apply ``settings`` on this host ([] when it can)."""
    problems = []
    for key in ("dropin_dir", "backup_dir", "state_dir"):
        if not str(settings.get(key) or "").startswith("/"):
            problems.append("kubelet_%s must be an absolute path, got %r" % (key, settings.get(key)))
    if not _DROPIN_NAME.match(str(settings.get("dropin_name") or "")):
        problems.append("kubelet_dropin_name must be a plain file name ending in .conf (kubelet reads only *.conf "
                        "files from --config-dir), got %r" % (settings.get("dropin_name"),))
    static = settings.get("cpu_manager_policy") == "static"
    reserved_text = str(settings.get("reserved_cpus") or "").replace(" ", "")
    cpus = (host or {}).get("cpus") or {}
    if not reserved_text:
        if static:
            problems.append("kubelet_reserved_cpus must not be empty with the static CPU manager policy (kubelet needs "
                            "a CPU reservation above zero for it)")
    else:
        try:
            reserved = set(parse_cpulist(reserved_text, "kubelet_reserved_cpus"))
            online = set(parse_cpulist(cpus["online"], "online CPUs")) if "online" in cpus else None
            if online is not None and reserved - online:
                problems.append("kubelet_reserved_cpus %s names CPU(s) %s that are not online (online: %s)"
                                % (reserved_text, format_cpulist(reserved - online), format_cpulist(online)))
            isolated = set(parse_cpulist(isolated_cpus or "", "the isolated CPUs"))
            if reserved & isolated:
                problems.append("kubelet_reserved_cpus %s overlaps the isolated CPUs %s on %s: kubelet would hand the "
                                "housekeeping CPUs to pods" % (reserved_text, isolated_cpus,
                                                               format_cpulist(reserved & isolated)))
        except TopologyError as exc:
            problems.append(str(exc))
    if not static and (settings.get("cpu_manager_policy_options") or settings.get("full_pcpus_only") == "always"):
        problems.append("CPU manager policy options (kubelet_cpu_manager_policy_options, kubelet_full_pcpus_only="
                        "always) need kubelet_cpu_manager_policy=static; kubelet refuses options with the none policy")
    nodes = _numa_nodes(host)
    for entry in settings.get("reserved_memory") or []:
        if not isinstance(entry, dict) or not re.match(r"^[0-9]+$", str(entry.get("numaNode", ""))) \
                or (nodes and int(entry["numaNode"]) not in nodes) or not isinstance(entry.get("limits"), dict) \
                or list(entry["limits"]) != ["memory"]:
            problems.append("kubelet_reserved_memory entry %r must be {numaNode: <node>, limits: {memory: <quantity>}} "
                            "with a node of this host (%s); only conventional memory is reserved"
                            % (entry, ", ".join(str(n) for n in nodes)))
    for what, value in (("kubelet_eviction_hard_memory", settings.get("eviction_hard_memory")),
                        ("kubelet_kube_reserved.memory", _memory(settings.get("kube_reserved"))),
                        ("kubelet_system_reserved.memory", _memory(settings.get("system_reserved")))):
        if value not in (None, "") and not _QUANTITY.match(str(value).strip()):
            problems.append("%s is %r: not a memory quantity such as 512Mi, 1Gi or 100M" % (what, value))
    for key in ("restart_timeout", "drain_timeout", "journal_lines"):
        value = settings.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            problems.append("kubelet_%s must be a positive integer, got %r" % (key, value))
    if problems:
        return problems
    if settings.get("memory_manager_policy") == "Static":
        total = reservation_total(settings)
        given = settings.get("reserved_memory") or []
        limits = [quantity_bytes(entry["limits"]["memory"], "kubelet_reserved_memory") for entry in given]
        if total <= 0 or (given and sum(limits) != total) or any(limit <= 0 for limit in limits) \
                or len(set(int(e["numaNode"]) for e in given)) != len(given):
            problems.append("kubelet refuses to start the Static memory manager unless the memory limits of "
                            "reservedMemory, summed over the NUMA nodes, equal kubeReserved + systemReserved + "
                            "evictionHard memory.available (%d bytes here), with each node once and no zero limit; "
                            "kubelet_reserved_memory adds up to %d bytes: %r" % (total, sum(limits), given))
        if not given:
            node = settings.get("reserved_memory_numa_node")
            info = ((host or {}).get("numa") or {}).get(str(node))
            if nodes and (not re.match(r"^[0-9]+$", str(node)) or int(node) not in nodes):
                problems.append("the memory reservation goes to NUMA node %s, which this host (%s) does not have; set "
                                "kubelet_reserved_memory_numa_node or kubelet_reserved_memory"
                                % (node, ", ".join(str(n) for n in nodes)))
            elif info and info.get("memory_kb") and total >= int(info["memory_kb"]) * 1024:
                problems.append("the memory reservation (%d bytes) does not fit NUMA node %s (%d kB)"
                                % (total, node, int(info["memory_kb"])))
    return problems


def parse_config(text, loads):
    """A drop-in's text as a dict ({} when empty); ``loads`` is the YAML loader."""
    if not text:
        return {}
    data = loads(text)
    return data if isinstance(data, dict) else {}


def decide(settings, host, configz, loads, force=False, check_mode=False, absent=False):
    """What the kubelet role does on this host, from the running state.

    ``configz``: the answer of kubelet's /configz (``{"kubeletconfig": {...}}``)
    or None when it could not be read. Returns a dict: ``desired`` (the drop-in),
    ``prejoin`` (not a member, kubelet not running: write only, no drain, no
    restart), ``source`` (configz, drop-in or kubelet defaults), ``changed_fields``,
    ``transition`` (the safe transition is needed), ``env_needs_flag``,
    ``env_line``, ``config_dirs``, ``overrides`` (later drop-ins that set owned
    fields), ``problems`` (refusals) and ``healthy``.
    """
    kubelet = (host or {}).get("kubelet") or {}
    units = (host or {}).get("units") or {}
    unit = units.get(settings.get("service", "kubelet") + ".service") or {}
    # Removing the drop-in (offboarding) goes back to kubelet's defaults.
    desired = {} if absent else desired_dropin(settings)
    desired_fields = manager_fields(desired)
    dropins = kubelet.get("dropins") or {}
    name = settings.get("dropin_name")
    active = unit.get("active") == "active"
    healthy = active and configz is not None and isinstance(configz.get("kubeletconfig"), dict)
    prejoin = not kubelet.get("member") and not active
    problems = []
    if unit.get("load") != "loaded" and not absent:
        problems.append("the unit %s.service is not installed (LoadState=%s); this role configures an installed "
                        "kubelet: install it first or set kubelet_service" % (settings.get("service", "kubelet"),
                                                                              unit.get("load")))
    owned = [key for key in desired if key not in ("apiVersion", "kind")]
    overrides = []
    for other in sorted(dropins):
        if other > name:
            keys = [key for key in parse_config(dropins[other], loads) if key in owned]
            if keys:
                overrides.append("%s/%s (%s)" % (settings.get("dropin_dir"), other, ", ".join(keys)))
    if overrides:
        problems.append("kubelet applies its drop-ins in lexical order, and these come after %s and set fields this "
                        "role owns: %s. Remove those fields there (one owner per setting), or rename %s so it sorts "
                        "last" % (name, "; ".join(overrides), name))
    env_files = kubelet.get("env_files") or {}
    dirs = config_dirs(env_files.values())
    wanted_dir = str(settings.get("dropin_dir")).rstrip("/")
    wrong = [d for d in dirs if d.rstrip("/") != wanted_dir]
    if wrong:
        problems.append("kubelet already starts with --config-dir=%s, not %s. Set kubelet_dropin_dir to that directory"
                        % (", ".join(wrong), settings.get("dropin_dir")))
    env_path = settings.get("env_path")
    if healthy:
        source, current = "configz", manager_fields(configz["kubeletconfig"])
    elif name in dropins:
        source, current = "drop-in", manager_fields(parse_config(dropins[name], loads))
    else:
        source, current = "kubelet defaults", manager_fields({})
    fields = list(MANAGER_FIELDS) if force else changed_fields(current, desired_fields)
    transition = bool(fields) and not prejoin
    if transition and not settings.get("transition_allowed", True) and not absent:
        problems.append("kubelet needs the safe transition (changed: %s), which drains the node, and "
                        "kubelet_transition_allowed is false" % ", ".join(fields))
    if transition and active and not healthy and not check_mode:
        problems.append("kubelet needs the safe transition (changed: %s), but its running configuration cannot be "
                        "read, so the result could not be verified after the drain: set kubelet_configz_url and its "
                        "credentials" % ", ".join(fields))
    record = ((host or {}).get("state") or {}).get("kubelet")
    if record is None:
        # What was there before the first change, to restore it exactly when offboarding.
        record = {"env_file": env_path, "env_file_original": env_files.get(env_path)}
    return {"absent": absent, "record": record, "desired": desired, "desired_fields": desired_fields, "current_fields": current, "source": source,
            "changed_fields": fields, "transition": transition, "prejoin": prejoin, "healthy": healthy,
            "active": active, "env_needs_flag": bool(settings.get("manage_config_dir_flag", True)) and not dirs,
            "env_line": env_line(env_files.get(env_path), settings.get("dropin_dir")), "config_dirs": dirs,
            "overrides": overrides, "problems": problems,
            "state_files": [f for f in STATE_FILES if (kubelet.get("state_files") or {}).get(f) is not None],
            "all_state_files": [{"dest": "%s/%s" % (settings.get("state_dir"), f), "state": "absent"}
                                for f in STATE_FILES],
            "remove_state_files": [{"dest": "%s/%s" % (settings.get("state_dir"), f), "state": "absent"}
                                   for f in STATE_FILES if (kubelet.get("state_files") or {}).get(f) is not None]}


def configz_mismatch(configz, desired):
    """Manager fields /configz reports differently from the wanted drop-in (``[]`` when it matches)."""
    conf = (configz or {}).get("kubeletconfig")
    if not isinstance(conf, dict):
        return ["/configz did not answer with a kubeletconfig"]
    have = manager_fields(conf)
    want = manager_fields(copy.deepcopy(desired))
    return ["%s is %r, wanted %r" % (field, have[field], want[field]) for field in changed_fields(have, want)]
