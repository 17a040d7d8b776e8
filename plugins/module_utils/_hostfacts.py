# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The observation layer: read the host once, as data (quantbot.hft.host_facts).

Every fact the roles, the post-boot assertions and the validation need about a
host is read here, and only here. Each top-level key of the result comes from
one *reader*: a function decorated with ``@reader("key")`` that takes a
:class:`Reader` and returns a JSON-able value (or ``None`` to leave the key
out). Adding a fact is adding one function.

A :class:`Reader` resolves paths under three roots (``sysfs_root`` for /sys,
``procfs_root`` for /proc, ``fs_root`` for everything else: /etc, /var, /run,
/usr/lib) and runs the few read-only commands (``systemctl show``,
``grub-probe``) through a callable. With ``record=True`` it also keeps what it
read (file contents, directory listings, link targets, command outputs), so a
live host can be captured into a fixture tree that reproduces the same facts
(see ``tests/unit/fixtures/hosts/README.md``); :func:`replay_runner` plays the
recorded command outputs back.

Nothing here changes the host. Nothing here judges: the checks live in
``_validate.py`` and friends and take this dictionary as input.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import array
import fcntl
import json
import os
import re
import socket
import struct
import time

from ansible_collections.quantbot.hft.plugins.module_utils._ptp import observe_ptp_owners
from ansible_collections.quantbot.hft.plugins.module_utils._ptpmon import (
    sample_pmc_window, since_lock, window_from_samples)

DEFAULT_PTP_WINDOW = "/run/quantbot-hft/ptpmon.json"
# The time daemons that would fight ptp4l over CLOCK_REALTIME (the ptp role stops them).
TIME_DAEMONS = ("chrony.service", "chronyd.service", "systemd-timesyncd.service", "ntp.service", "ntpd.service",
                "ntpsec.service", "openntpd.service", "timemaster.service")
DEFAULT_UNITS = (
    "quantbot-hugepages.service", "quantbot-sriov.service", "quantbot-irq-affinity.service", "tuned.service",
    "irqbalance.service", "prometheus-node-exporter.service", "quantbot-ptpmon.service",
    "kubelet.service", "swap.target",
) + TIME_DAEMONS
UNIT_PROPERTIES = ("Id", "LoadState", "ActiveState", "SubState", "UnitFileState", "Result")
DEFAULT_SYSCTLS = (
    "kernel.numa_balancing", "kernel.nmi_watchdog", "kernel.timer_migration", "vm.stat_interval",
    "kernel.watchdog", "kernel.soft_watchdog",
)
DEFAULT_KUBELET = {
    "dropin_dir": "/etc/kubernetes/kubelet/kubelet.conf.d",
    "env_files": ["/etc/default/kubelet", "/var/lib/kubelet/kubeadm-flags.env"],
    "state_dir": "/var/lib/kubelet",
    "member_kubeconfig": "/etc/kubernetes/kubelet.conf",
    "backup_dir": "/var/lib/quantbot-hft/kubelet",
}
DEFAULT_STATE_DIR = "/var/lib/quantbot-hft"
DEFAULT_IRQBALANCE_ENV = ("/etc/default/irqbalance", "/etc/sysconfig/irqbalance")
SYSCTL_FILES = ("/etc/sysctl.conf", "/etc/sysctl.d", "/run/sysctl.d")
TUNED_PROFILE_DIRS = ("/usr/lib/tuned", "/etc/tuned")
DPKG_STATUS = "/var/lib/dpkg/status"
CPU_FLAGS_OF_INTEREST = ("constant_tsc", "nonstop_tsc", "tsc_reliable", "pdpe1gb", "vmx", "svm", "hypervisor")
PAGE_SIZES = {"hugepages-2048kB": "2M", "hugepages-1048576kB": "1G"}

# ETHTOOL_GET_TS_INFO through SIOCETHTOOL (as ethtool's ioctl path does).
SIOCETHTOOL = 0x8946
ETHTOOL_GET_TS_INFO = 0x41
TS_INFO_SIZE = 44

_VIRTFN = re.compile(r"^virtfn([0-9]+)$")
_NODE = re.compile(r"^node([0-9]+)$")
_MEMINFO = re.compile(r"^Node\s+[0-9]+\s+(\S+):\s+([0-9]+)(?:\s*kB)?\s*$")

READERS = {}


class HostFactsError(ValueError):
    """Bad options (an unknown reader, a relative root); the message says which."""


def reader(name):
    """Register ``fn(r) -> value`` as the reader of the top-level key ``name``."""
    def register(fn):
        READERS[name] = fn
        return fn
    return register


# --------------------------------------------------------------------------
# the reader context
# --------------------------------------------------------------------------
class Reader(object):
    """Paths under the three roots, commands through ``run``; optionally records what it read."""

    def __init__(self, sysfs_root="/sys", procfs_root="/proc", fs_root="/", run=None, record=False,
                 options=None, replay=None):
        for what, root in (("sysfs_root", sysfs_root), ("procfs_root", procfs_root), ("fs_root", fs_root)):
            if not isinstance(root, str) or not os.path.isabs(root):
                raise HostFactsError("%s must be an absolute path, got %r" % (what, root))
        self.roots = {"/sys": sysfs_root, "/proc": procfs_root}
        self.fs_root = fs_root
        self.options = dict(options or {})
        # A captured tree: directory listings, link targets and command outputs
        # come from its recording; file contents from the tree itself.
        self.replay = replay
        self.run_command = replay_runner(replay.get("commands") or {}) if replay is not None else run
        self.recording = {"files": {}, "links": {}, "dirs": {}, "commands": {}, "clock": [], "tests": {}} \
            if record else None
        # A captured tree replays without waiting, with the times it was read at.
        self._replay_clock = list(replay.get("clock") or []) if replay is not None else None
        self.sleep = (lambda seconds: None) if replay is not None else time.sleep

    # paths ------------------------------------------------------------------
    def path(self, logical):
        """The real path of a logical absolute path such as /sys/class/net."""
        for prefix, root in self.roots.items():
            if logical == prefix or logical.startswith(prefix + "/"):
                return os.path.join(root, logical[len(prefix):].lstrip("/"))
        return os.path.join(self.fs_root, logical.lstrip("/"))

    def read(self, logical, strip=True):
        """File content (stripped), or None when it cannot be read."""
        try:
            with open(self.path(logical), "r") as handle:
                text = handle.read()
        except (IOError, OSError, UnicodeDecodeError):
            return None
        if self.recording is not None:
            self.recording["files"][logical] = text
        return text.strip() if strip else text

    def read_int(self, logical):
        text = self.read(logical)
        if text is None or not re.match(r"^-?[0-9]+$", text):
            return None
        return int(text)

    def listdir(self, logical):
        if self.replay is not None:
            names = (self.replay.get("dirs") or {}).get(logical)
            return None if names is None else list(names)
        try:
            names = sorted(os.listdir(self.path(logical)))
        except OSError:
            return None
        if self.recording is not None:
            self.recording["dirs"][logical] = names
        return names

    def readlink(self, logical):
        """The target of a symbolic link (as stored), or None."""
        if self.replay is not None:
            return (self.replay.get("links") or {}).get(logical)
        try:
            target = os.readlink(self.path(logical))
        except OSError:
            return None
        if self.recording is not None:
            self.recording["links"][logical] = target
        return target

    def link_name(self, logical):
        """The last path element of a link target (a PCI address, a driver name), or None."""
        target = self.readlink(logical)
        return os.path.basename(target.rstrip("/")) if target else None

    def _probe(self, kind, logical, test):
        """A recorded yes/no about a path (``isdir``, ``exists``), replayed from a capture."""
        key = "%s %s" % (kind, logical)
        if self.replay is not None:
            known = (self.replay.get("tests") or {}).get(key)
            if known is not None:
                return known
            if logical in (self.replay.get("dirs") or {}) or (kind == "exists" and (
                    logical in (self.replay.get("links") or {}) or logical in (self.replay.get("files") or {}))):
                return True
        answer = test(self.path(logical))
        if self.recording is not None:
            self.recording["tests"][key] = answer
        return answer

    def isdir(self, logical):
        return self._probe("isdir", logical, os.path.isdir)

    def exists(self, logical):
        return self._probe("exists", logical, os.path.exists)

    def clock(self):
        """The time (recorded, and replayed in order, like the commands)."""
        if self._replay_clock is not None:
            return self._replay_clock.pop(0) if self._replay_clock else 0.0
        now = time.time()
        if self.recording is not None:
            self.recording["clock"].append(now)
        return now

    def run(self, argv):
        """``(rc, stdout)`` of a read-only command, or None when commands are off."""
        if self.run_command is None:
            return None
        rc, out = self.run_command(list(argv))
        if self.recording is not None:
            self.recording["commands"][command_key(argv)] = {"rc": rc, "stdout": out}
        return rc, out

    def probe_ts_info(self, interface):
        """The NIC's SOF_TIMESTAMPING capability bits and PHC index (ETHTOOL_GET_TS_INFO), or None."""
        if self.run_command is None:
            return None
        key = "ts_info " + interface
        replay = getattr(self.run_command, "replay", None)
        if replay is not None:
            found = replay.get(key)
            return dict(found) if found else None
        try:
            value = ioctl_ts_info(interface)
        except (IOError, OSError):
            value = None
        if self.recording is not None:
            self.recording["commands"][key] = value
        return value


def command_key(argv):
    return " ".join(argv)


def replay_runner(commands):
    """A ``run`` callable that answers from recorded outputs (``{key: {rc, stdout}}``)."""
    def run(argv):
        found = commands.get(command_key(argv))
        if found is None:
            return 127, ""
        return found["rc"], found["stdout"]
    run.replay = commands
    return run


def ioctl_ts_info(interface):
    """ETHTOOL_GET_TS_INFO: ``{so_timestamping, phc_index}`` (raw bits; _ptp.decode_ts_info decodes)."""
    buf = array.array("B", struct.pack("=I", ETHTOOL_GET_TS_INFO) + b"\0" * (TS_INFO_SIZE - 4))
    addr = buf.buffer_info()[0]
    ifreq = struct.pack("16sP", interface.encode("utf-8"), addr)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        fcntl.ioctl(sock.fileno(), SIOCETHTOOL, ifreq)
    finally:
        sock.close()
    dummy_cmd, flags, phc = struct.unpack("=IIi", buf.tobytes()[:12])
    return {"so_timestamping": flags, "phc_index": phc if phc >= 0 else None}


# --------------------------------------------------------------------------
# gathering
# --------------------------------------------------------------------------
def gather(r, include=None):
    """Run the readers (all, or those named in ``include``). Returns ``(facts, errors)``.

    A reader that raises does not stop the others: its key is left out and
    ``errors[key]`` says why, so one unreadable file never hides the rest.
    """
    names = sorted(READERS) if not include else list(include)
    unknown = [name for name in names if name not in READERS]
    if unknown:
        raise HostFactsError("unknown host fact reader%s %s; readers: %s"
                             % ("s" if len(unknown) > 1 else "", ", ".join(unknown), ", ".join(sorted(READERS))))
    facts = {}
    errors = {}
    for name in names:
        try:
            value = READERS[name](r)
        except (IOError, OSError, ValueError, KeyError, TypeError) as exc:
            errors[name] = "%s: %s" % (type(exc).__name__, exc)
            continue
        if value is not None:
            facts[name] = value
    return facts, errors


# --------------------------------------------------------------------------
# small parsers (pure)
# --------------------------------------------------------------------------
def parse_os_release(text):
    out = {}
    for line in (text or "").splitlines():
        if "=" not in line or line.lstrip().startswith("#"):
            continue
        key, value = line.split("=", 1)
        out[key.strip()] = value.strip().strip('"').strip("'")
    return out


def os_family(release):
    """Ansible's os_family for an os-release mapping (Debian, RedHat, Suse, or the ID capitalised)."""
    ids = [release.get("ID", "")] + release.get("ID_LIKE", "").split()
    for ident in ids:
        if ident in ("debian", "ubuntu"):
            return "Debian"
        if ident in ("rhel", "fedora", "centos", "rocky", "almalinux", "ol"):
            return "RedHat"
        if ident in ("suse", "sles", "opensuse"):
            return "Suse"
    return (release.get("ID") or "unknown").capitalize()


def parse_meminfo(text):
    """Per-node meminfo: ``{MemTotal: kB, ...}``."""
    out = {}
    for line in (text or "").splitlines():
        match = _MEMINFO.match(line)
        if match:
            out[match.group(1)] = int(match.group(2))
    return out


def parse_numastat(text):
    out = {}
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            out[parts[0]] = int(parts[1])
    return out


def parse_bracketed(text):
    """The selected value of a sysfs choice file: ``always madvise [never]`` -> ``never``."""
    match = re.search(r"\[([^\]]+)\]", text or "")
    return match.group(1) if match else (text or None)


def parse_swaps(text):
    """Active swap areas from /proc/swaps: ``[{name, type, size_kb}]``."""
    out = []
    for line in (text or "").splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 3:
            out.append({"name": parts[0], "type": parts[1], "size_kb": int(parts[2]) if parts[2].isdigit() else 0})
    return out


def systemctl_blocks(text):
    """``systemctl show -p ... u1 u2`` output (blank-line separated blocks) as a list of ``{prop: value}``."""
    return [dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
            for block in re.split(r"\n\s*\n", (text or "").strip())]


def parse_systemctl_show(text):
    """``systemctl show -p ... u1 u2`` output as ``{Id: {load, active, sub, enabled, result}}``."""
    units = {}
    for props in systemctl_blocks(text):
        if props.get("Id"):
            units[props["Id"]] = {
                "load": props.get("LoadState"),
                "active": props.get("ActiveState"),
                "sub": props.get("SubState"),
                "enabled": props.get("UnitFileState") or None,
                "result": props.get("Result"),
            }
    return units


def parse_dpkg_status(text, names):
    """Installed versions of ``names`` from /var/lib/dpkg/status (None: not installed)."""
    wanted = set(names)
    found = dict((name, None) for name in names)
    for stanza in re.split(r"\n\s*\n", text or ""):
        fields = {}
        for line in stanza.splitlines():
            if line and not line[0].isspace() and ":" in line:
                key, value = line.split(":", 1)
                fields[key] = value.strip()
        name = fields.get("Package")
        if name in wanted and fields.get("Status", "").endswith(" installed"):
            found[name] = fields.get("Version")
    return found


def parse_sysctl_conf(text):
    """``[(key, value, line_number)]`` of a sysctl.d file (``-key = value`` too)."""
    out = []
    for number, line in enumerate((text or "").splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped[0] in "#;" or "=" not in stripped:
            continue
        key, value = stripped.split("=", 1)
        key = key.strip().lstrip("-").strip().replace("/", ".")
        out.append((key, value.strip(), number))
    return out


def parse_env_assignments(text):
    """Shell-style ``KEY=value`` lines (``export`` allowed) as ``[(key, value, line)]``."""
    out = []
    for number, line in enumerate((text or "").splitlines(), 1):
        match = re.match(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$", line)
        if match:
            value = match.group(2).strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            out.append((match.group(1), value, number))
    return out


# --------------------------------------------------------------------------
# readers
# --------------------------------------------------------------------------
@reader("os")
def read_os(r):
    release = parse_os_release(r.read("/etc/os-release") or r.read("/usr/lib/os-release"))
    if not release:
        return None
    return {"id": release.get("ID"), "version_id": release.get("VERSION_ID"),
            "codename": release.get("VERSION_CODENAME"), "family": os_family(release),
            "pretty_name": release.get("PRETTY_NAME")}


@reader("cmdline")
def read_cmdline(r):
    return r.read("/proc/cmdline")


@reader("cpus")
def read_cpus(r):
    out = {}
    for key in ("online", "present", "isolated", "nohz_full"):
        text = r.read("/sys/devices/system/cpu/" + key)
        if text is not None:
            out[key] = "" if text == "(null)" else text
    if not out:
        return None
    governors = {}
    resume_latency = {}
    for name in r.listdir("/sys/devices/system/cpu") or []:
        if re.match(r"^cpu[0-9]+$", name):
            governor = r.read("/sys/devices/system/cpu/%s/cpufreq/scaling_governor" % name)
            if governor is not None:
                governors[name[3:]] = governor
            pm_qos = r.read("/sys/devices/system/cpu/%s/power/pm_qos_resume_latency_us" % name)
            if pm_qos is not None:
                resume_latency[name[3:]] = pm_qos
    out["governors"] = governors
    out["pm_qos_resume_latency_us"] = resume_latency
    cpuinfo = r.read("/proc/cpuinfo")
    if cpuinfo:
        vendor = re.search(r"^vendor_id\s*:\s*(\S+)", cpuinfo, re.MULTILINE)
        flags = re.search(r"^flags\s*:\s*(.*)$", cpuinfo, re.MULTILINE)
        out["vendor"] = vendor.group(1) if vendor else None
        have = set(flags.group(1).split()) if flags else set()
        out["flags"] = sorted(flag for flag in CPU_FLAGS_OF_INTEREST if flag in have)
    return out


@reader("numa")
def read_numa(r):
    nodes = {}
    for name in r.listdir("/sys/devices/system/node") or []:
        match = _NODE.match(name)
        if not match:
            continue
        base = "/sys/devices/system/node/" + name
        meminfo = parse_meminfo(r.read(base + "/meminfo"))
        pages = {}
        for sub in r.listdir(base + "/hugepages") or []:
            size = PAGE_SIZES.get(sub)
            if size:
                pages[size] = {"total": r.read_int("%s/hugepages/%s/nr_hugepages" % (base, sub)),
                               "free": r.read_int("%s/hugepages/%s/free_hugepages" % (base, sub))}
        nodes[match.group(1)] = {
            "cpus": r.read(base + "/cpulist") or "",
            "memory_kb": meminfo.get("MemTotal"),
            "hugepages": pages,
            "numastat": parse_numastat(r.read(base + "/numastat")),
        }
    return nodes or None


@reader("hugepage_sizes")
def read_hugepage_sizes(r):
    names = r.listdir("/sys/kernel/mm/hugepages")
    if names is None:
        return None
    return sorted(PAGE_SIZES[name] for name in names if name in PAGE_SIZES)


@reader("sysctl")
def read_sysctl(r):
    out = {}
    for key in list(DEFAULT_SYSCTLS) + [k for k in r.options.get("sysctls") or [] if k not in DEFAULT_SYSCTLS]:
        text = r.read("/proc/sys/" + key.replace(".", "/"))
        if text is not None:
            out[key] = int(text) if re.match(r"^-?[0-9]+$", text) else text
    return out


@reader("thp")
def read_thp(r):
    enabled = r.read("/sys/kernel/mm/transparent_hugepage/enabled")
    if enabled is None:
        return None
    return {"enabled": parse_bracketed(enabled),
            "defrag": parse_bracketed(r.read("/sys/kernel/mm/transparent_hugepage/defrag"))}


@reader("swap")
def read_swap(r):
    text = r.read("/proc/swaps", strip=False)
    return None if text is None else parse_swaps(text)


def parse_proc_net_tcp(text):
    """Local ports in LISTEN (state 0A) from /proc/net/tcp or tcp6."""
    ports = set()
    for line in (text or "").splitlines()[1:]:
        parts = line.split()
        if len(parts) > 3 and parts[3] == "0A" and ":" in parts[1]:
            ports.add(int(parts[1].rsplit(":", 1)[1], 16))
    return ports


@reader("listening")
def read_listening(r):
    """TCP ports something listens on (a node_exporter on 9100 that the collection did not install, say)."""
    ports = set()
    for name in ("tcp", "tcp6"):
        ports |= parse_proc_net_tcp(r.read("/proc/net/" + name, strip=False))
    return sorted(ports)


@reader("pid1")
def read_pid1(r):
    status = r.read("/proc/1/status")
    if status is None:
        return None
    match = re.search(r"^Cpus_allowed_list:\s*(\S+)", status, re.MULTILINE)
    return {"cpus_allowed": match.group(1) if match else None}


def _irq_affinity(r, irq):
    effective = r.read("/proc/irq/%s/effective_affinity_list" % irq)
    return {"effective": effective, "allowed": r.read("/proc/irq/%s/smp_affinity_list" % irq)}


def _pci_device(r, device):
    """vendor, device, driver and MSI IRQs of a PCI device directory (a logical /sys path)."""
    irqs = r.listdir(device + "/msi_irqs") or []
    return {
        "pci": r.link_name(device) if r.readlink(device) else None,
        "vendor": r.read(device + "/vendor"),
        "device": r.read(device + "/device"),
        "driver": r.link_name(device + "/driver"),
        "msi_irqs": sorted(int(irq) for irq in irqs if irq.isdigit()),
    }


@reader("nics")
def read_nics(r):
    """Interfaces with a backing device: NUMA node (raw, -1 = unknown), PCI ids, driver, SR-IOV, PHC, IRQs."""
    nics = {}
    for name in r.listdir("/sys/class/net") or []:
        base = "/sys/class/net/" + name
        device = base + "/device"
        if not r.isdir(device):
            continue  # lo, bridges, bonds, veths
        info = _pci_device(r, device)
        numa = r.read_int(device + "/numa_node")
        info.update({
            "numa_node": -1 if numa is None else numa,
            "operstate": r.read(base + "/operstate"),
            "sriov_totalvfs": r.read_int(device + "/sriov_totalvfs") or 0,
            "sriov_numvfs": r.read_int(device + "/sriov_numvfs") or 0,
            "vf_device": r.read(device + "/sriov_vf_device"),
        })
        ptp = [entry for entry in r.listdir(device + "/ptp") or [] if entry.startswith("ptp")]
        info["phc_index"] = int(ptp[0][3:]) if ptp and ptp[0][3:].isdigit() else None
        vfs = []
        for entry in r.listdir(device) or []:
            match = _VIRTFN.match(entry)
            if not match:
                continue
            vf_dir = device + "/" + entry
            vf = _pci_device(r, vf_dir)
            override = r.read(vf_dir + "/driver_override")
            vf.update({"index": int(match.group(1)),
                       "driver_override": None if override in (None, "", "(null)") else override,
                       "netdev": (r.listdir(vf_dir + "/net") or [None])[0]})
            vfs.append(vf)
        info["vfs"] = sorted(vfs, key=lambda vf: vf["index"])
        irqs = set(info["msi_irqs"])
        for vf in info["vfs"]:
            irqs.update(vf["msi_irqs"])
        # Only the vectors the driver requested have /proc/irq/N (a VF whose
        # interface is down has none yet): those are judged, the rest listed.
        info["irq_affinity"] = dict((str(irq), _irq_affinity(r, irq)) for irq in sorted(irqs)
                                    if r.isdir("/proc/irq/%s" % irq))
        info["irqs_not_requested"] = sorted(irq for irq in irqs if str(irq) not in info["irq_affinity"])
        queues = {}
        for queue in r.listdir(base + "/queues") or []:
            leaf = "rps_cpus" if queue.startswith("rx-") else "xps_cpus" if queue.startswith("tx-") else None
            if leaf:
                queues[queue] = r.read("%s/queues/%s/%s" % (base, queue, leaf))
        info["queues"] = queues
        ts_info = r.probe_ts_info(name)
        info["timestamping"] = ts_info
        nics[name] = info
    return nics


@reader("tuned")
def read_tuned(r):
    profiles = set()
    for base in TUNED_PROFILE_DIRS:
        for name in r.listdir(base) or []:
            if r.exists("%s/%s/tuned.conf" % (base, name)):
                profiles.add(name)
    active = r.read("/etc/tuned/active_profile")
    if active is None and not profiles:
        return None
    boot = r.read("/etc/tuned/bootcmdline") or ""
    boot_args = []
    for key, value, dummy in parse_env_assignments(boot):
        if key == "TUNED_BOOT_CMDLINE":
            boot_args.extend(value.split())
    return {"active_profile": active or None, "profile_mode": r.read("/etc/tuned/profile_mode"),
            "profiles": sorted(profiles), "bootcmdline_args": boot_args}


# Instances of these template units that are enabled (linked in a .wants
# directory of /etc/systemd/system) are reported without being asked for, so
# the offboarding finds every ptp4l/phc2sys instance the ptp role enabled.
TEMPLATE_UNITS = ("ptp4l@", "phc2sys@")
WANTS_DIRS = ("/etc/systemd/system/multi-user.target.wants",)


def enabled_instances(r):
    found = []
    for directory in WANTS_DIRS:
        for name in r.listdir(directory) or []:
            if name.endswith(".service") and name.startswith(TEMPLATE_UNITS) and "@." not in name:
                found.append(name)
    return sorted(set(found))


@reader("units")
def read_units(r):
    names = list(DEFAULT_UNITS)
    for unit in list(r.options.get("units") or []) + enabled_instances(r):
        if unit not in names:
            names.append(unit)
    result = r.run(["systemctl", "show", "--no-pager"] + ["--property=" + p for p in UNIT_PROPERTIES] + names)
    if result is None:
        return None
    rc, out = result
    if rc != 0 and not out.strip():
        raise ValueError("systemctl show exited %s" % rc)
    return parse_systemctl_show(out)


@reader("kubelet")
def read_kubelet(r):
    paths = dict(DEFAULT_KUBELET)
    paths.update(dict((k, v) for k, v in (r.options.get("kubelet") or {}).items() if v not in (None, "")))
    dropins = {}
    for name in r.listdir(paths["dropin_dir"]) or []:
        if name.endswith(".conf"):
            text = r.read("%s/%s" % (paths["dropin_dir"], name), strip=False)
            if text is not None:
                dropins[name] = text
    env = {}
    for path in paths["env_files"]:
        text = r.read(path, strip=False)
        env[path] = text
    state = {}
    for name in ("cpu_manager_state", "memory_manager_state"):
        text = r.read("%s/%s" % (paths["state_dir"], name))
        if text is None:
            state[name] = None
            continue
        try:
            data = json.loads(text)
        except ValueError:
            state[name] = {"policy": None, "error": "not JSON"}
            continue
        if not isinstance(data, dict):
            state[name] = {"policy": None, "error": "not a JSON object"}
            continue
        state[name] = {"policy": data.get("policyName"), "checksum": data.get("checksum")}
    backup = {}
    for name in r.listdir(paths["backup_dir"]) or []:
        text = r.read("%s/%s" % (paths["backup_dir"], name), strip=False)
        if text is not None:
            backup[name] = text
    return {"paths": paths, "dropins": dropins, "env_files": env, "state_files": state,
            "member": r.exists(paths["member_kubeconfig"]), "backup": backup}


@reader("state")
def read_state(r):
    """The collection's own records (``/var/lib/quantbot-hft/*.json``), by file name without .json."""
    base = r.options.get("state_dir") or DEFAULT_STATE_DIR
    out = {}
    for name in r.listdir(base) or []:
        if not name.endswith(".json"):
            continue
        text = r.read("%s/%s" % (base, name))
        try:
            out[name[:-5]] = json.loads(text) if text else None
        except ValueError:
            out[name[:-5]] = {"error": "%s/%s is not JSON" % (base, name)}
    return out


@reader("sysctl_files")
def read_sysctl_files(r):
    """Where the admin's sysctl files set each key: ``{key: ["/etc/sysctl.d/x.conf:3"]}``."""
    out = {}
    paths = []
    for base in SYSCTL_FILES:
        if r.isdir(base):
            paths.extend("%s/%s" % (base, name) for name in r.listdir(base) or [] if name.endswith(".conf"))
        elif r.exists(base):
            paths.append(base)
    for path in paths:
        for key, dummy, number in parse_sysctl_conf(r.read(path, strip=False)):
            out.setdefault(key, []).append("%s:%d" % (path, number))
    return out


@reader("irqbalance")
def read_irqbalance(r):
    """irqbalance's environment files (Debian's and the RHEL family's): which set banned CPUs."""
    paths = r.options.get("irqbalance_env_files") or list(DEFAULT_IRQBALANCE_ENV)
    banned = []
    found = []
    for path in paths:
        text = r.read(path, strip=False)
        if text is None:
            continue
        found.append(path)
        banned.extend("%s:%d: %s=%s" % (path, number, key, value) for key, value, number in parse_env_assignments(text)
                      if key.startswith("IRQBALANCE_BANNED_CPU"))
    return {"env_files": found, "banned": banned}


@reader("packages")
def read_packages(r):
    names = list(r.options.get("packages") or [])
    if not names:
        return None
    text = r.read(DPKG_STATUS, strip=False)
    if text is not None:
        return parse_dpkg_status(text, names)
    result = r.run(["rpm", "-q", "--qf", "%{NAME} %{VERSION}-%{RELEASE}\\n"] + names)
    if result is None:
        return None
    found = dict((name, None) for name in names)
    for line in result[1].splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] in found:
            found[parts[0]] = parts[1]
    return found


@reader("boot")
def read_boot(r):
    """Where GRUB lives and whether it can save its environment (grub-reboot needs that)."""
    grub_dir = "/boot/grub" if r.isdir("/boot/grub") else ("/boot/grub2" if r.isdir("/boot/grub2") else None)
    out = {"boot_id": r.read("/proc/sys/kernel/random/boot_id"), "grub_dir": grub_dir, "grubenv": None, "fs": None,
           "abstraction": None}
    if grub_dir is None:
        return out
    env = r.read(grub_dir + "/grubenv", strip=False)
    if env is not None:
        out["grubenv"] = dict((k, v) for k, v, dummy in parse_env_assignments(env))
    fs = r.run(["grub-probe", "--target=fs", grub_dir])
    if fs is not None and fs[0] == 0:
        out["fs"] = fs[1].strip()
    abstraction = r.run(["grub-probe", "--target=abstraction", grub_dir])
    if abstraction is not None and abstraction[0] == 0:
        out["abstraction"] = abstraction[1].split()
    return out


def _ptp_record(r):
    """The ptp role's record (/var/lib/quantbot-hft/ptp.json): its instances' configs and which disciplines CLOCK_REALTIME."""
    base = r.options.get("state_dir") or DEFAULT_STATE_DIR
    try:
        data = json.loads(r.read(base + "/ptp.json") or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _ptp_configs(r):
    configs = r.options.get("ptp_configs") or _ptp_record(r).get("configs") or {}
    return dict(configs) if isinstance(configs, dict) else {}


def ptp4l_started(r, interfaces):
    """Epoch seconds of each interface's ptp4l@ instance's last start ({iface: float}; absent: not running).

    systemd's ActiveEnterTimestampMonotonic against /proc/uptime (the same
    clock on a host that does not suspend), so a captured tree replays it.
    """
    units = dict(("ptp4l@%s.service" % iface, iface) for iface in interfaces)
    result = r.run(["systemctl", "show", "--no-pager", "--property=Id", "--property=ActiveState",
                    "--property=ActiveEnterTimestampMonotonic"] + sorted(units))
    uptime = r.read("/proc/uptime")
    if result is None or not uptime:
        return {}
    try:
        up = float(uptime.split()[0])
    except (ValueError, IndexError):
        return {}
    now = r.clock()
    started = {}
    for props in systemctl_blocks(result[1]):
        iface = units.get(props.get("Id"))
        try:
            entered = int(props.get("ActiveEnterTimestampMonotonic") or 0)
        except ValueError:
            entered = 0
        if iface and props.get("ActiveState") == "active" and entered > 0:
            started[iface] = round(now - (up - entered / 1e6), 3)
    return started


def _locked_samples(window, iface, started):
    data = (window.get("interfaces") or {}).get(iface) or {}
    states = since_lock(data.get("timestamps") or [], data.get("port_states") or [],
                        data.get("offsets_ns") or [], started)[1]
    return len(states)


def _read_ptp_once(r, configs):
    path = r.options.get("ptp_window_file") or DEFAULT_PTP_WINDOW
    max_age = float(r.options.get("ptp_window_max_age") or 15)
    text = r.read(path)
    started = ptp4l_started(r, configs) if r.run_command is not None else {}
    if text:
        try:
            window = json.loads(text)
        except ValueError:
            window = None
        now = r.clock()
        if isinstance(window, dict) and isinstance(window.get("generated"), (int, float)) \
                and 0 <= now - window["generated"] <= max_age \
                and set(configs) <= set((window.get("interfaces") or {})):
            return {"source": "collector", "window": window, "configs": configs, "started": started}
    if r.run_command is None:
        return None

    def run(argv):
        result = r.run(argv)
        return (result[0], result[1], "") if result is not None else (127, "", "")

    samples = int(r.options.get("ptp_samples") or 5)
    interval = float(r.options.get("ptp_interval") or 1.0)
    by_interface = {}
    for iface, config in sorted(configs.items()):
        by_interface[iface] = sample_pmc_window(run, "pmc", config, samples, interval, clock=r.clock,
                                                sleep=r.sleep)
    return {"source": "pmc", "window": window_from_samples(by_interface, interval, r.clock()), "configs": configs,
            "started": started}


@reader("ptp")
def read_ptp(r):
    """ptp4l's state over a window of samples, per interface of ``ptp_configs`` (default: the ptp role's record).

    The PTP collector's window file when it is fresh (``ptp_window_file``, not
    older than ``ptp_window_max_age`` seconds); otherwise ``ptp_samples`` pmc
    samples ``ptp_interval`` seconds apart, taken here. Either way the shape of
    the collector's window document (_ptpmon.window_document), plus ``started``:
    when each interface's ptp4l last started (the judge leaves out the samples
    before it and the lock-in after it). With ``ptp_lock_wait`` seconds, waits
    up to that long until every interface has ``ptp_lock_samples`` samples since
    it locked (a ptp4l that was just started or restarted).
    """
    configs = _ptp_configs(r)
    if not configs:
        return None
    wait = float(r.options.get("ptp_lock_wait") or 0) if r.replay is None else 0.0
    need = int(r.options.get("ptp_lock_samples") or 1)
    deadline = r.clock() + wait
    while True:
        found = _read_ptp_once(r, configs)
        if found is None or wait <= 0 or r.clock() >= deadline or all(
                _locked_samples(found["window"], iface, found["started"].get(iface)) >= need for iface in configs):
            return found
        r.sleep(min(2.0, max(0.5, float(found["window"].get("interval_seconds") or 1.0))))


@reader("ptp_owners")
def read_ptp_owners(r):
    """Every ptp4l/phc2sys that is not the ptp role's own instance and uses one of its ports (_ptp.observe_ptp_owners)."""
    configs = _ptp_configs(r)
    if not configs:
        return None
    owner = r.options.get("ptp_realtime_owner") or _ptp_record(r).get("realtime_owner")
    found = observe_ptp_owners(sorted(configs), proc_root=r.roots["/proc"], sys_root=r.roots["/sys"],
                               realtime_owner=owner)
    return {"interfaces": sorted(configs), "realtime_owner": owner, "conflicts": found["conflicts"],
            "phcs": found["phcs"]}
