# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The observation layer (plugins/module_utils/_hostfacts.py) on fake host trees.

``make_host`` builds a host as the kernel and the distribution lay it out
(sysfs with its symbolic links, procfs files, /etc and /var), under three roots
(``sys``, ``proc``, ``root``) of tmp_path. Commands (systemctl show, grub-probe,
pmc, rpm) go through a fake runner that records every argv, and the
timestamping ioctl is replaced by a table. Each reader is checked on that tree,
then on a tree with the file missing or broken; record=True is replayed the way
scripts/capture-host-tree.py builds its fixture trees; and the committed
planner trees (tests/unit/fixtures/sysfs) are read and compared with what the
planner's own reader (_topology.read_topology) sees there.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import time

import pytest

from ansible_collections.quantbot.hft.plugins.module_utils import _hostfacts
from ansible_collections.quantbot.hft.plugins.module_utils._hostfacts import (
    DEFAULT_KUBELET,
    READERS,
    HostFactsError,
    Reader,
    command_key,
    gather,
    os_family,
    parse_bracketed,
    parse_dpkg_status,
    parse_env_assignments,
    parse_meminfo,
    parse_numastat,
    parse_os_release,
    parse_swaps,
    parse_sysctl_conf,
    parse_systemctl_show,
    replay_runner,
)
from ansible_collections.quantbot.hft.plugins.module_utils._ptp import (
    SOF_RAW_HARDWARE, SOF_RX_HARDWARE, SOF_RX_SOFTWARE, SOF_SOFTWARE, SOF_TX_HARDWARE, SOF_TX_SOFTWARE)
from ansible_collections.quantbot.hft.plugins.module_utils._topology import read_topology

UNIT_DIR = os.path.dirname(os.path.abspath(__file__))
SYSFS = os.path.join(UNIT_DIR, "fixtures", "sysfs")
PTP_FIXTURES = os.path.join(UNIT_DIR, "fixtures", "ptp")
SHAPES = ("lab-vm", "xeon-2s-interleaved", "epyc-nps4", "small-4cpu")

# Every reader the module documents (plugins/modules/host_facts.py, description).
DOCUMENTED_READERS = ("os", "cmdline", "cpus", "numa", "hugepage_sizes", "sysctl", "thp", "swap", "pid1", "nics",
                      "tuned", "units", "kubelet", "state", "sysctl_files", "irqbalance", "packages", "boot", "ptp",
                      "ptp_owners", "listening")

HW_BITS = SOF_TX_HARDWARE | SOF_RX_HARDWARE | SOF_RAW_HARDWARE | SOF_TX_SOFTWARE | SOF_RX_SOFTWARE | SOF_SOFTWARE
SW_BITS = SOF_TX_SOFTWARE | SOF_RX_SOFTWARE | SOF_SOFTWARE
PTP_CONFIG = "/etc/linuxptp/quantbot-hft-enp65s0.conf"
PF = "0000:41:00.0"
VF0 = "0000:41:10.0"
VF1 = "0000:41:10.4"

SYSTEMCTL_SHOW = """Id=tuned.service
LoadState=loaded
ActiveState=active
SubState=running
UnitFileState=enabled
Result=success

Id=kubelet.service
LoadState=loaded
ActiveState=activating
SubState=auto-restart
UnitFileState=enabled
Result=exit-code

Id=chrony.service
LoadState=not-found
ActiveState=inactive
SubState=dead
UnitFileState=
Result=success
"""

DPKG_STATUS = """Package: tuned
Status: install ok installed
Priority: optional
Version: 2.19.0-2
Description: dynamic adaptive system tuning daemon
 tuned is a daemon that monitors the use of system components

Package: linuxptp
Status: deinstall ok config-files
Version: 3.1.1-4

Package: irqbalance-docs
Status: install ok installed
Version: 1.9.2-1
"""


def pmc_text(name):
    with open(os.path.join(PTP_FIXTURES, name)) as handle:
        return handle.read()


# --------------------------------------------------------------------------
# the fake host
# --------------------------------------------------------------------------
def write(path, text=""):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def link(path, target):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)


def make_host(base):
    """A two-node host with an SR-IOV PF (one kernel VF, one vfio-pci VF), a virtio NIC and lo."""
    sys_, proc, root = base / "sys", base / "proc", base / "root"
    cpu = sys_ / "devices/system/cpu"
    for key, value in (("online", "0-7\n"), ("present", "0-7\n"), ("isolated", "2-3,6-7\n"), ("nohz_full", "(null)\n")):
        write(cpu / key, value)
    for n in range(8):
        (cpu / ("cpu%d" % n)).mkdir()
    write(cpu / "cpu0/cpufreq/scaling_governor", "performance\n")
    write(cpu / "cpu4/cpufreq/scaling_governor", "powersave\n")
    write(cpu / "cpu2/power/pm_qos_resume_latency_us", "n/a\n")
    write(cpu / "cpu3/power/pm_qos_resume_latency_us", "0\n")
    (cpu / "cpufreq").mkdir()
    (cpu / "cpuidle").mkdir()
    node = sys_ / "devices/system/node"
    write(node / "online", "0-1\n")
    for n, cpus, mem in ((0, "0-3", 4014080), (1, "4-7", 4128768)):
        d = node / ("node%d" % n)
        write(d / "cpulist", cpus + "\n")
        write(d / "meminfo", "Node %d MemTotal:       %d kB\nNode %d MemFree:        1000 kB\n"
                             "Node %d Active(anon):       10 kB\nNode %d HugePages_Total:    64\n"
              % (n, mem, n, n, n))
        write(d / "numastat", "numa_hit 1000\nnuma_miss %d\nbogus line here\nother_node x\n" % n)
    write(node / "node0/hugepages/hugepages-2048kB/nr_hugepages", "64\n")
    write(node / "node0/hugepages/hugepages-2048kB/free_hugepages", "60\n")
    write(node / "node0/hugepages/hugepages-1048576kB/nr_hugepages", "0\n")
    write(node / "node0/hugepages/hugepages-1048576kB/free_hugepages", "0\n")
    write(node / "node1/hugepages/hugepages-2048kB/nr_hugepages", "0\n")
    write(node / "node1/hugepages/hugepages-2048kB/free_hugepages", "0\n")
    for name in ("hugepages-2048kB", "hugepages-1048576kB", "hugepages-64kB"):
        (sys_ / "kernel/mm/hugepages" / name).mkdir(parents=True)
    write(sys_ / "kernel/mm/transparent_hugepage/enabled", "always madvise [never]\n")
    write(sys_ / "kernel/mm/transparent_hugepage/defrag", "always defer defer+madvise [madvise] never\n")
    # PCI: the PF with two VFs, and a virtio device.
    drivers = sys_ / "bus/pci/drivers"
    for name in ("igb", "igbvf", "vfio-pci"):
        (drivers / name).mkdir(parents=True)
    (sys_ / "bus/virtio/drivers/virtio_net").mkdir(parents=True)
    bus = sys_ / "devices/pci0000:40"
    pf = bus / PF
    for key, value in (("vendor", "0x8086"), ("device", "0x1533"), ("numa_node", "1"), ("sriov_totalvfs", "7"),
                       ("sriov_numvfs", "2"), ("sriov_vf_device", "10ca")):
        write(pf / key, value + "\n")
    for irq in ("40", "41"):
        write(pf / "msi_irqs" / irq, "msix\n")
    (pf / "ptp/ptp0").mkdir(parents=True)
    link(pf / "driver", "../../../bus/pci/drivers/igb")
    for index, (addr, driver, override, irqs, netdev) in enumerate((
            (VF0, "igbvf", "(null)", ["50"], "enp65s0v0"),
            (VF1, "vfio-pci", "vfio-pci", [], None))):
        vf = bus / addr
        write(vf / "vendor", "0x8086\n")
        write(vf / "device", "0x10ca\n")
        write(vf / "driver_override", override + "\n")
        (vf / "msi_irqs").mkdir(parents=True)
        for irq in irqs:
            write(vf / "msi_irqs" / irq, "msix\n")
        if netdev:
            (vf / "net" / netdev).mkdir(parents=True)
        link(vf / "driver", "../../../bus/pci/drivers/" + driver)
        link(pf / ("virtfn%d" % index), "../" + addr)
    virtio = sys_ / "devices/pci0000:00/0000:00:02.0/virtio0"
    write(sys_ / "devices/pci0000:00/0000:00:02.0/vendor", "0x1af4\n")
    link(virtio / "driver", "../../../../bus/virtio/drivers/virtio_net")
    net = sys_ / "class/net"
    link(net / "enp65s0/device", "../../../devices/pci0000:40/" + PF)
    write(net / "enp65s0/operstate", "up\n")
    write(net / "enp65s0/queues/rx-0/rps_cpus", "00\n")
    write(net / "enp65s0/queues/tx-0/xps_cpus", "03\n")
    (net / "enp65s0/queues/power").mkdir()
    link(net / "enp0s2/device", "../../../devices/pci0000:00/0000:00:02.0/virtio0")
    write(net / "enp0s2/operstate", "down\n")
    write(net / "lo/operstate", "unknown\n")
    # procfs
    write(proc / "cmdline", "BOOT_IMAGE=/boot/vmlinuz-6.1.0-28-amd64 root=UUID=abc ro quiet isolcpus=domain,2-3,6-7\n")
    write(proc / "cpuinfo", "processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: fpu vme constant_tsc nonstop_tsc "
                            "pdpe1gb hypervisor sse2\n\nprocessor\t: 1\nvendor_id\t: GenuineIntel\nflags\t\t: fpu\n")
    for key, value in (("kernel/numa_balancing", "0"), ("kernel/nmi_watchdog", "0"), ("kernel/timer_migration", "0"),
                       ("vm/stat_interval", "10"), ("kernel/watchdog", "1"), ("vm/swappiness", "60"),
                       ("kernel/sched_domain", "not a number")):
        write(proc / "sys" / key, value + "\n")
    write(proc / "sys/kernel/random/boot_id", "9b1d0c1e-5d1f-4a43-a7a9-000000000001\n")
    write(proc / "swaps", "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
                          "/dev/sda3                               partition\t8388604\t\t0\t\t-2\n")
    write(proc / "1/status", "Name:\tsystemd\nCpus_allowed:\tff\nCpus_allowed_list:\t0-1,4-5\n")
    write(proc / "irq/40/effective_affinity_list", "0\n")
    write(proc / "irq/40/smp_affinity_list", "0-1\n")
    write(proc / "irq/41/smp_affinity_list", "0-7\n")
    write(proc / "irq/50/effective_affinity_list", "4\n")
    write(proc / "irq/50/smp_affinity_list", "4-5\n")
    # the rest of the file system
    write(root / "etc/os-release", 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\n'
                                   'VERSION_ID="12"\nVERSION_CODENAME=bookworm\nID=debian\n# comment=x\n')
    write(root / "etc/tuned/active_profile", "quantbot-hft\n")
    write(root / "etc/tuned/profile_mode", "manual\n")
    write(root / "etc/tuned/bootcmdline", 'TUNED_BOOT_CMDLINE="nohz=on nohz_full=2-3"\nTUNED_BOOT_INITRD_ADD=""\n')
    write(root / "etc/tuned/quantbot-hft/tuned.conf", "[main]\ninclude=cpu-partitioning\n")
    write(root / "usr/lib/tuned/cpu-partitioning/tuned.conf", "[main]\n")
    write(root / "usr/lib/tuned/balanced/tuned.conf", "[main]\n")
    write(root / "usr/lib/tuned/functions", "#!/bin/sh\n")
    (root / "usr/lib/tuned/recommend.d").mkdir()
    dropins = root / DEFAULT_KUBELET["dropin_dir"].lstrip("/")
    write(dropins / "quantbot-hft.conf", "cpuManagerPolicy: static\n")
    write(dropins / "99-other.conf", "maxPods: 50\n")
    write(dropins / "README", "not a drop-in\n")
    write(root / "etc/default/kubelet", 'KUBELET_EXTRA_ARGS="--config-dir=/etc/kubernetes/kubelet/kubelet.conf.d"\n')
    write(root / "var/lib/kubelet/cpu_manager_state",
          '{"policyName":"static","defaultCpuSet":"0-1,4-5","checksum":1234}\n')
    write(root / "var/lib/kubelet/memory_manager_state", "garbage\n")
    write(root / "etc/kubernetes/kubelet.conf", "apiVersion: v1\nkind: Config\n")
    write(root / "var/lib/quantbot-hft/kubelet/quantbot-hft.conf.last-good", "cpuManagerPolicy: static\n")
    write(root / "var/lib/quantbot-hft/boot_args.json", '{"kernel_args": ["quiet"]}\n')
    write(root / "var/lib/quantbot-hft/ptp.json", json.dumps({"configs": {"enp65s0": PTP_CONFIG}}) + "\n")
    write(root / "var/lib/quantbot-hft/broken.json", "{\n")
    write(root / "var/lib/quantbot-hft/notes.txt", "ignored\n")
    write(root / "etc/sysctl.conf", "# system\n\nvm.swappiness = 10\n")
    write(root / "etc/sysctl.d/99-admin.conf", "# admin\n; also a comment\nkernel.numa_balancing=1\n"
                                               "-kernel/nmi_watchdog = 0\nnot an assignment\n")
    write(root / "etc/sysctl.d/README", "kernel.watchdog = 1\n")
    write(root / "etc/default/irqbalance", "#IRQBALANCE_BANNED_CPUS=ff\nIRQBALANCE_BANNED_CPULIST=2-3,6-7\n"
                                           "IRQBALANCE_ARGS=\"--policyscript=/x\"\n")
    write(root / "var/lib/dpkg/status", DPKG_STATUS)
    write(root / "boot/grub/grubenv", "# GRUB Environment Block\nsaved_entry=0\nnext_entry=quantbot-hft-trial\n"
                                      + "#" * 40 + "\n")
    write(root / PTP_CONFIG.lstrip("/"), "[global]\n")
    return {"sysfs_root": str(sys_), "procfs_root": str(proc), "fs_root": str(root)}


class FakeRun(object):
    """The read-only commands: answers by command line, records every argv."""

    def __init__(self, answers=None):
        self.answers = {
            "systemctl": (0, SYSTEMCTL_SHOW),
            "grub-probe --target=fs /boot/grub": (0, "ext2\n"),
            "grub-probe --target=abstraction /boot/grub": (0, "\n"),
            "pmc": (0, pmc_text("pmc-slave-hw.txt")),
            "rpm": (0, "tuned 2.21.0-1.el9\npackage linuxptp is not installed\n"),
        }
        self.answers.update(answers or {})
        self.calls = []

    def __call__(self, argv):
        self.calls.append(list(argv))
        key = command_key(argv)
        if key in self.answers:
            return self.answers[key]
        return self.answers.get(argv[0], (127, ""))


TS_INFO = {"enp65s0": {"so_timestamping": HW_BITS, "phc_index": 0},
           "enp0s2": {"so_timestamping": SW_BITS, "phc_index": None}}


@pytest.fixture
def ts_info(monkeypatch):
    """ETHTOOL_GET_TS_INFO from a table; an interface not in it fails as the ioctl would (EOPNOTSUPP)."""
    asked = []

    def fake(interface):
        asked.append(interface)
        if interface not in TS_INFO:
            raise OSError(95, "Operation not supported")
        return dict(TS_INFO[interface])
    monkeypatch.setattr(_hostfacts, "ioctl_ts_info", fake)
    return asked


@pytest.fixture
def host(tmp_path):
    return make_host(tmp_path / "host")


def reader(roots, run=None, **kwargs):
    return Reader(run=run, **dict(roots, **kwargs))


def facts_of(roots, include, run=None, **kwargs):
    facts, errors = gather(reader(roots, run=run, **kwargs), include)
    assert errors == {}
    return facts


# --------------------------------------------------------------------------
# the reader context
# --------------------------------------------------------------------------
def test_the_readers_are_the_documented_ones():
    assert sorted(READERS) == sorted(DOCUMENTED_READERS)


@pytest.mark.parametrize("what", ["sysfs_root", "procfs_root", "fs_root"])
@pytest.mark.parametrize("value", ["sys", "./proc", "", None])
def test_a_relative_root_is_refused_naming_it(what, value):
    with pytest.raises(HostFactsError) as exc:
        Reader(**{what: value})
    assert str(exc.value) == "%s must be an absolute path, got %r" % (what, value)


def test_paths_map_to_the_three_roots():
    r = Reader(sysfs_root="/t/sys", procfs_root="/t/proc", fs_root="/t/root")
    assert r.path("/sys") == "/t/sys/"
    assert r.path("/sys/class/net") == "/t/sys/class/net"
    assert r.path("/proc/cmdline") == "/t/proc/cmdline"
    assert r.path("/etc/os-release") == "/t/root/etc/os-release"
    # A path that only starts with the same letters is not under /sys or /proc.
    assert r.path("/sysroot/x") == "/t/root/sysroot/x"
    assert r.path("/procedures") == "/t/root/procedures"


def test_read_strips_and_missing_is_none(host):
    r = reader(host)
    assert r.read("/sys/devices/system/cpu/online") == "0-7"
    assert r.read("/sys/devices/system/cpu/online", strip=False) == "0-7\n"
    assert r.read("/sys/no/such/file") is None
    assert r.read("/sys/devices/system/cpu") is None  # a directory
    assert r.read_int("/sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages") == 64
    assert r.read_int("/proc/sys/kernel/sched_domain") is None
    assert r.read_int("/no/file") is None


def test_undecodable_file_reads_as_none(host):
    path = os.path.join(host["fs_root"], "etc/os-release")
    with open(path, "wb") as handle:
        handle.write(b"ID=\xff\xfe\n")
    assert reader(host).read("/etc/os-release") is None


def test_commands_are_off_without_a_runner(host):
    r = reader(host)
    assert r.run(["systemctl", "show"]) is None
    assert r.probe_ts_info("enp65s0") is None


# --------------------------------------------------------------------------
# the parsers
# --------------------------------------------------------------------------
def test_parse_os_release():
    release = parse_os_release('NAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian\nVERSION_ID=\'24.04\'\n# X=1\n\nnoequals\n')
    assert release == {"NAME": "Ubuntu", "ID": "ubuntu", "ID_LIKE": "debian", "VERSION_ID": "24.04"}
    assert parse_os_release(None) == {}


@pytest.mark.parametrize("release, family", [
    ({"ID": "debian"}, "Debian"),
    ({"ID": "ubuntu", "ID_LIKE": "debian"}, "Debian"),
    ({"ID": "linuxmint", "ID_LIKE": "ubuntu debian"}, "Debian"),
    ({"ID": "rocky", "ID_LIKE": "rhel centos fedora"}, "RedHat"),
    ({"ID": "almalinux"}, "RedHat"),
    ({"ID": "ol"}, "RedHat"),
    ({"ID": "opensuse-leap", "ID_LIKE": "suse opensuse"}, "Suse"),
    ({"ID": "arch"}, "Arch"),
    ({}, "Unknown"),
])
def test_os_family(release, family):
    assert os_family(release) == family


def test_parse_meminfo():
    text = "Node 1 MemTotal:       4128768 kB\nNode 1 Active(anon):   10 kB\nNode 1 HugePages_Total:    64\n" \
           "garbage\nNode x MemFree: 1 kB\n"
    assert parse_meminfo(text) == {"MemTotal": 4128768, "Active(anon)": 10, "HugePages_Total": 64}
    assert parse_meminfo(None) == {}


def test_parse_numastat():
    assert parse_numastat("numa_hit 10\nnuma_miss 0\nbad line here\nother x\n") == {"numa_hit": 10, "numa_miss": 0}
    assert parse_numastat("") == {}


@pytest.mark.parametrize("text, selected", [
    ("always madvise [never]", "never"),
    ("[always] madvise never", "always"),
    ("always defer defer+madvise [madvise] never", "madvise"),
    ("madvise", "madvise"),   # not a choice file: the text itself
    ("", None),
    (None, None),
])
def test_parse_bracketed(text, selected):
    assert parse_bracketed(text) == selected


def test_parse_swaps():
    text = ("Filename\tType\tSize\tUsed\tPriority\n/dev/sda3 partition 8388604 0 -2\n"
            "/swap\\040file file 1048572 0 -3\nshort line\n/dev/zram0 partition ? 0 100\n")
    assert parse_swaps(text) == [
        {"name": "/dev/sda3", "type": "partition", "size_kb": 8388604},
        {"name": "/swap\\040file", "type": "file", "size_kb": 1048572},
        {"name": "/dev/zram0", "type": "partition", "size_kb": 0},
    ]
    # The header alone: no swap.
    assert parse_swaps("Filename\tType\tSize\tUsed\tPriority\n") == []


def test_parse_systemctl_show_blocks():
    units = parse_systemctl_show(SYSTEMCTL_SHOW)
    assert units == {
        "tuned.service": {"load": "loaded", "active": "active", "sub": "running", "enabled": "enabled",
                          "result": "success"},
        "kubelet.service": {"load": "loaded", "active": "activating", "sub": "auto-restart", "enabled": "enabled",
                            "result": "exit-code"},
        "chrony.service": {"load": "not-found", "active": "inactive", "sub": "dead", "enabled": None,
                           "result": "success"},
    }


def test_parse_systemctl_show_ignores_blocks_without_id_and_keeps_equals_in_values():
    text = "LoadState=loaded\n\n  \nId=a.service\nLoadState=loaded\nResult=x=y\n"
    assert parse_systemctl_show(text) == {"a.service": {"load": "loaded", "active": None, "sub": None,
                                                        "enabled": None, "result": "x=y"}}
    assert parse_systemctl_show("") == {}


def test_parse_dpkg_status():
    found = parse_dpkg_status(DPKG_STATUS, ["tuned", "linuxptp", "irqbalance"])
    # linuxptp was removed (config files only); irqbalance is not there (irqbalance-docs is another package).
    assert found == {"tuned": "2.19.0-2", "linuxptp": None, "irqbalance": None}
    assert parse_dpkg_status("Package: x\nStatus: install ok half-installed\nVersion: 1\n", ["x"]) == {"x": None}
    assert parse_dpkg_status(None, ["x"]) == {"x": None}


def test_parse_sysctl_conf():
    text = "# c\n; c\n\nkernel.numa_balancing=1\n -kernel/nmi_watchdog = 0 \nnot an assignment\nvm.x = a = b\n"
    assert parse_sysctl_conf(text) == [("kernel.numa_balancing", "1", 4), ("kernel.nmi_watchdog", "0", 5),
                                       ("vm.x", "a = b", 7)]
    assert parse_sysctl_conf(None) == []


def test_parse_env_assignments():
    text = ('# KEY=commented\nA=1\nexport B="two words"\n  C=\'q\'\nD=""\nE="unbalanced\n'
            '1BAD=x\nF = spaced\nG=x=y\n')
    assert parse_env_assignments(text) == [("A", "1", 2), ("B", "two words", 3), ("C", "q", 4), ("D", "", 5),
                                           ("E", '"unbalanced', 6), ("G", "x=y", 9)]


# --------------------------------------------------------------------------
# each reader on the fake host
# --------------------------------------------------------------------------
def test_os(host):
    assert facts_of(host, ["os"])["os"] == {"id": "debian", "version_id": "12", "codename": "bookworm",
                                            "family": "Debian", "pretty_name": "Debian GNU/Linux 12 (bookworm)"}


def test_os_falls_back_to_usr_lib_and_is_left_out_without_either(host):
    root = host["fs_root"]
    os.rename(os.path.join(root, "etc/os-release"), os.path.join(root, "usr/lib/os-release"))
    assert facts_of(host, ["os"])["os"]["id"] == "debian"
    os.remove(os.path.join(root, "usr/lib/os-release"))
    assert facts_of(host, ["os"]) == {}


def test_cmdline(host):
    assert facts_of(host, ["cmdline"])["cmdline"].endswith("isolcpus=domain,2-3,6-7")
    os.remove(os.path.join(host["procfs_root"], "cmdline"))
    assert facts_of(host, ["cmdline"]) == {}


def test_cpus(host):
    cpus = facts_of(host, ["cpus"])["cpus"]
    assert cpus == {"online": "0-7", "present": "0-7", "isolated": "2-3,6-7", "nohz_full": "",
                    "governors": {"0": "performance", "4": "powersave"},
                    "pm_qos_resume_latency_us": {"2": "n/a", "3": "0"}, "vendor": "GenuineIntel",
                    "flags": ["constant_tsc", "hypervisor", "nonstop_tsc", "pdpe1gb"]}


def test_cpus_without_cpuinfo_and_without_sysfs(host):
    os.remove(os.path.join(host["procfs_root"], "cpuinfo"))
    cpus = facts_of(host, ["cpus"])["cpus"]
    assert "vendor" not in cpus and "flags" not in cpus and cpus["online"] == "0-7"
    shutil.rmtree(os.path.join(host["sysfs_root"], "devices/system/cpu"))
    assert facts_of(host, ["cpus"]) == {}


def test_numa(host):
    numa = facts_of(host, ["numa"])["numa"]
    assert numa == {
        "0": {"cpus": "0-3", "memory_kb": 4014080,
              "hugepages": {"2M": {"total": 64, "free": 60}, "1G": {"total": 0, "free": 0}},
              "numastat": {"numa_hit": 1000, "numa_miss": 0}},
        "1": {"cpus": "4-7", "memory_kb": 4128768, "hugepages": {"2M": {"total": 0, "free": 0}},
              "numastat": {"numa_hit": 1000, "numa_miss": 1}},
    }


def test_numa_without_nodes_is_left_out(host):
    shutil.rmtree(os.path.join(host["sysfs_root"], "devices/system/node"))
    assert facts_of(host, ["numa"]) == {}


def test_hugepage_sizes(host):
    # hugepages-64kB (arm64) is not a size the collection manages.
    assert facts_of(host, ["hugepage_sizes"])["hugepage_sizes"] == ["1G", "2M"]
    shutil.rmtree(os.path.join(host["sysfs_root"], "kernel/mm/hugepages/hugepages-1048576kB"))
    assert facts_of(host, ["hugepage_sizes"])["hugepage_sizes"] == ["2M"]
    shutil.rmtree(os.path.join(host["sysfs_root"], "kernel/mm/hugepages"))
    assert facts_of(host, ["hugepage_sizes"]) == {}


def test_sysctl_defaults_and_extra_keys(host):
    sysctl = facts_of(host, ["sysctl"], options={"sysctls": ["vm.swappiness", "kernel.sched_domain",
                                                             "kernel.numa_balancing", "net.no.such"]})["sysctl"]
    # soft_watchdog is absent from this kernel: left out; a text value stays text.
    assert sysctl == {"kernel.numa_balancing": 0, "kernel.nmi_watchdog": 0, "kernel.timer_migration": 0,
                      "vm.stat_interval": 10, "kernel.watchdog": 1, "vm.swappiness": 60,
                      "kernel.sched_domain": "not a number"}


def test_thp(host):
    assert facts_of(host, ["thp"])["thp"] == {"enabled": "never", "defrag": "madvise"}
    shutil.rmtree(os.path.join(host["sysfs_root"], "kernel/mm/transparent_hugepage"))
    assert facts_of(host, ["thp"]) == {}


def test_swap(host):
    assert facts_of(host, ["swap"])["swap"] == [{"name": "/dev/sda3", "type": "partition", "size_kb": 8388604}]
    write(pathlib.Path(host["procfs_root"]) / "swaps", "Filename\tType\tSize\tUsed\tPriority\n")
    assert facts_of(host, ["swap"])["swap"] == []
    os.remove(os.path.join(host["procfs_root"], "swaps"))
    assert facts_of(host, ["swap"]) == {}


def test_pid1(host):
    assert facts_of(host, ["pid1"])["pid1"] == {"cpus_allowed": "0-1,4-5"}
    write(pathlib.Path(host["procfs_root"]) / "1/status", "Name:\tsystemd\n")
    assert facts_of(host, ["pid1"])["pid1"] == {"cpus_allowed": None}


def test_nics(host, ts_info):
    nics = facts_of(host, ["nics"], run=FakeRun())["nics"]
    assert sorted(nics) == ["enp0s2", "enp65s0"]  # lo has no device
    pf = nics["enp65s0"]
    assert pf == {
        "pci": PF, "vendor": "0x8086", "device": "0x1533", "driver": "igb", "msi_irqs": [40, 41],
        "numa_node": 1, "operstate": "up", "sriov_totalvfs": 7, "sriov_numvfs": 2, "vf_device": "10ca",
        "phc_index": 0,
        "vfs": [
            {"pci": VF0, "vendor": "0x8086", "device": "0x10ca", "driver": "igbvf", "msi_irqs": [50], "index": 0,
             "driver_override": None, "netdev": "enp65s0v0"},
            {"pci": VF1, "vendor": "0x8086", "device": "0x10ca", "driver": "vfio-pci", "msi_irqs": [], "index": 1,
             "driver_override": "vfio-pci", "netdev": None},
        ],
        "irq_affinity": {"40": {"effective": "0", "allowed": "0-1"}, "41": {"effective": None, "allowed": "0-7"},
                         "50": {"effective": "4", "allowed": "4-5"}},
        "irqs_not_requested": [],
        "queues": {"rx-0": "00", "tx-0": "03"},
        "timestamping": {"so_timestamping": HW_BITS, "phc_index": 0},
    }
    virtio = nics["enp0s2"]
    assert virtio["numa_node"] == -1 and virtio["driver"] == "virtio_net" and virtio["pci"] == "virtio0"
    assert virtio["sriov_totalvfs"] == 0 and virtio["vfs"] == [] and virtio["phc_index"] is None
    assert virtio["timestamping"] == {"so_timestamping": SW_BITS, "phc_index": None}
    assert sorted(ts_info) == ["enp0s2", "enp65s0"]


def test_nics_vectors_not_requested_are_listed_not_judged(host, ts_info):
    # A VF whose interface is down has MSI vectors in sysfs but no /proc/irq/N yet.
    shutil.rmtree(os.path.join(host["procfs_root"], "irq", "50"))
    pf = facts_of(host, ["nics"], run=FakeRun())["nics"]["enp65s0"]
    assert sorted(pf["irq_affinity"]) == ["40", "41"] and pf["irqs_not_requested"] == [50]


def test_nics_timestamping_when_the_ioctl_fails_or_commands_are_off(host, ts_info):
    del TS_INFO["enp0s2"]
    try:
        nics = facts_of(host, ["nics"], run=FakeRun())["nics"]
    finally:
        TS_INFO["enp0s2"] = {"so_timestamping": SW_BITS, "phc_index": None}
    assert nics["enp0s2"]["timestamping"] is None
    assert nics["enp65s0"]["timestamping"]["phc_index"] == 0
    asked = len(ts_info)
    nics = facts_of(host, ["nics"])["nics"]
    assert nics["enp65s0"]["timestamping"] is None and len(ts_info) == asked  # no runner: no ioctl either


def test_tuned(host):
    tuned = facts_of(host, ["tuned"])["tuned"]
    # functions is a file and recommend.d has no tuned.conf: not profiles.
    assert tuned == {"active_profile": "quantbot-hft", "profile_mode": "manual",
                     "profiles": ["balanced", "cpu-partitioning", "quantbot-hft"],
                     "bootcmdline_args": ["nohz=on", "nohz_full=2-3"]}


def test_tuned_not_installed_is_left_out(host):
    shutil.rmtree(os.path.join(host["fs_root"], "etc/tuned"))
    shutil.rmtree(os.path.join(host["fs_root"], "usr/lib/tuned"))
    assert facts_of(host, ["tuned"]) == {}


def test_tuned_installed_but_never_started(host):
    for name in ("active_profile", "profile_mode", "bootcmdline"):
        os.remove(os.path.join(host["fs_root"], "etc/tuned", name))
    tuned = facts_of(host, ["tuned"])["tuned"]
    assert tuned["active_profile"] is None and tuned["bootcmdline_args"] == [] and "balanced" in tuned["profiles"]


def test_units(host):
    run = FakeRun()
    units = facts_of(host, ["units"], run=run, options={"units": ["ptp4l@enp65s0.service", "tuned.service"]})["units"]
    assert units["tuned.service"]["active"] == "active"
    assert units["chrony.service"]["enabled"] is None
    argv = run.calls[0]
    assert argv[:3] == ["systemctl", "show", "--no-pager"]
    assert "--property=UnitFileState" in argv
    # The built-in units, then the extra ones, each once.
    assert argv[-1] == "ptp4l@enp65s0.service" and argv.count("tuned.service") == 1
    assert argv[-2] == "timemaster.service"


def test_units_include_the_enabled_ptp_instances(host):
    wants = pathlib.Path(host["fs_root"]) / "etc/systemd/system/multi-user.target.wants"
    for name in ("ptp4l@enp65s0.service", "phc2sys@enp65s0.service", "ptp4l@.service", "ssh.service"):
        write(wants / name, "")
    run = FakeRun()
    facts_of(host, ["units"], run=run)
    argv = run.calls[0]
    assert argv[-2:] == ["phc2sys@enp65s0.service", "ptp4l@enp65s0.service"]
    assert "ssh.service" not in argv and "ptp4l@.service" not in argv
    # Asked for and enabled: once.
    run = FakeRun()
    facts_of(host, ["units"], run=run, options={"units": ["ptp4l@enp65s0.service"]})
    assert run.calls[0].count("ptp4l@enp65s0.service") == 1


def test_units_off_without_a_runner_and_an_error_when_systemctl_fails(host):
    assert facts_of(host, ["units"]) == {}
    facts, errors = gather(reader(host, run=FakeRun({"systemctl": (1, "")})), ["units"])
    assert facts == {} and errors == {"units": "ValueError: systemctl show exited 1"}
    # A non-zero exit with output (one unit unknown to an old systemd) still parses.
    facts, errors = gather(reader(host, run=FakeRun({"systemctl": (1, SYSTEMCTL_SHOW)})), ["units"])
    assert errors == {} and "tuned.service" in facts["units"]


def test_kubelet(host):
    kubelet = facts_of(host, ["kubelet"])["kubelet"]
    assert kubelet["paths"] == DEFAULT_KUBELET
    assert kubelet["dropins"] == {"99-other.conf": "maxPods: 50\n", "quantbot-hft.conf": "cpuManagerPolicy: static\n"}
    assert kubelet["env_files"] == {
        "/etc/default/kubelet": 'KUBELET_EXTRA_ARGS="--config-dir=/etc/kubernetes/kubelet/kubelet.conf.d"\n',
        "/var/lib/kubelet/kubeadm-flags.env": None}
    assert kubelet["state_files"] == {"cpu_manager_state": {"policy": "static", "checksum": 1234},
                                      "memory_manager_state": {"policy": None, "error": "not JSON"}}
    assert kubelet["member"] is True
    assert kubelet["backup"] == {"quantbot-hft.conf.last-good": "cpuManagerPolicy: static\n"}


def test_kubelet_paths_from_options(host):
    root = pathlib.Path(host["fs_root"])
    write(root / "srv/kubelet.d/10-x.conf", "a: 1\n")
    kubelet = facts_of(host, ["kubelet"], options={"kubelet": {"dropin_dir": "/srv/kubelet.d", "state_dir": "",
                                                               "member_kubeconfig": "/nope"}})["kubelet"]
    # An empty option keeps the default.
    assert kubelet["paths"]["state_dir"] == "/var/lib/kubelet"
    assert kubelet["dropins"] == {"10-x.conf": "a: 1\n"}
    assert kubelet["member"] is False
    assert kubelet["state_files"]["cpu_manager_state"]["policy"] == "static"


def test_kubelet_state_file_that_is_json_but_not_an_object(host):
    write(pathlib.Path(host["fs_root"]) / "var/lib/kubelet/cpu_manager_state", "null\n")
    facts, errors = gather(reader(host), ["kubelet", "os"])
    assert facts["os"]["id"] == "debian"
    assert "kubelet" in errors or facts["kubelet"]["state_files"]["cpu_manager_state"]["policy"] is None


def test_state(host):
    state = facts_of(host, ["state"])["state"]
    assert state == {"boot_args": {"kernel_args": ["quiet"]}, "ptp": {"configs": {"enp65s0": PTP_CONFIG}},
                     "broken": {"error": "/var/lib/quantbot-hft/broken.json is not JSON"}}
    assert facts_of(host, ["state"], options={"state_dir": "/nowhere"})["state"] == {}


def test_sysctl_files(host):
    found = facts_of(host, ["sysctl_files"])["sysctl_files"]
    # README in sysctl.d is not a .conf file: kernel.watchdog is not set by an admin file.
    assert found == {"vm.swappiness": ["/etc/sysctl.conf:3"],
                     "kernel.numa_balancing": ["/etc/sysctl.d/99-admin.conf:3"],
                     "kernel.nmi_watchdog": ["/etc/sysctl.d/99-admin.conf:4"]}


def test_sysctl_files_in_run_and_twice(host):
    root = pathlib.Path(host["fs_root"])
    write(root / "run/sysctl.d/50-x.conf", "vm.swappiness=1\n")
    found = facts_of(host, ["sysctl_files"])["sysctl_files"]
    assert found["vm.swappiness"] == ["/etc/sysctl.conf:3", "/run/sysctl.d/50-x.conf:1"]


def test_irqbalance(host):
    assert facts_of(host, ["irqbalance"])["irqbalance"] == {
        "env_files": ["/etc/default/irqbalance"],
        "banned": ["/etc/default/irqbalance:2: IRQBALANCE_BANNED_CPULIST=2-3,6-7"]}
    root = pathlib.Path(host["fs_root"])
    write(root / "etc/sysconfig/irqbalance", "IRQBALANCE_ARGS=\n")
    got = facts_of(host, ["irqbalance"], options={"irqbalance_env_files": ["/etc/sysconfig/irqbalance"]})
    assert got["irqbalance"] == {"env_files": ["/etc/sysconfig/irqbalance"], "banned": []}


def test_packages_from_dpkg(host):
    run = FakeRun()
    got = facts_of(host, ["packages"], run=run, options={"packages": ["tuned", "linuxptp"]})
    assert got["packages"] == {"tuned": "2.19.0-2", "linuxptp": None}
    assert run.calls == []  # the dpkg database is read, no package manager runs
    assert facts_of(host, ["packages"]) == {}  # no names asked: left out


def test_packages_from_rpm_without_dpkg(host):
    os.remove(os.path.join(host["fs_root"], "var/lib/dpkg/status"))
    run = FakeRun()
    got = facts_of(host, ["packages"], run=run, options={"packages": ["tuned", "linuxptp"]})
    assert got["packages"] == {"tuned": "2.21.0-1.el9", "linuxptp": None}
    assert run.calls == [["rpm", "-q", "--qf", "%{NAME} %{VERSION}-%{RELEASE}\\n", "tuned", "linuxptp"]]
    assert facts_of(host, ["packages"], options={"packages": ["tuned"]}) == {}


def test_boot(host):
    run = FakeRun()
    boot = facts_of(host, ["boot"], run=run)["boot"]
    assert boot == {"boot_id": "9b1d0c1e-5d1f-4a43-a7a9-000000000001", "grub_dir": "/boot/grub",
                    "grubenv": {"saved_entry": "0", "next_entry": "quantbot-hft-trial"}, "fs": "ext2",
                    "abstraction": []}
    assert run.calls == [["grub-probe", "--target=fs", "/boot/grub"],
                         ["grub-probe", "--target=abstraction", "/boot/grub"]]


def test_boot_on_lvm_and_on_a_grub2_host(host):
    run = FakeRun({"grub-probe --target=fs /boot/grub": (0, "xfs\n"),
                   "grub-probe --target=abstraction /boot/grub": (0, "lvm diskfilter\n")})
    boot = facts_of(host, ["boot"], run=run)["boot"]
    assert boot["fs"] == "xfs" and boot["abstraction"] == ["lvm", "diskfilter"]
    root = host["fs_root"]
    os.rename(os.path.join(root, "boot/grub"), os.path.join(root, "boot/grub2"))
    os.remove(os.path.join(root, "boot/grub2/grubenv"))
    boot = facts_of(host, ["boot"], run=FakeRun({"grub-probe": (1, "")}))["boot"]
    assert boot["grub_dir"] == "/boot/grub2" and boot["grubenv"] is None and boot["fs"] is None
    shutil.rmtree(os.path.join(root, "boot"))
    boot = facts_of(host, ["boot"], run=FakeRun())["boot"]
    assert boot == {"boot_id": "9b1d0c1e-5d1f-4a43-a7a9-000000000001", "grub_dir": None, "grubenv": None,
                    "fs": None, "abstraction": None}


FAST_SAMPLES = {"ptp_samples": 3, "ptp_interval": 0.01}


def test_ptp_samples_pmc_for_the_ptp_roles_record_without_a_collector(host):
    run = FakeRun()
    ptp = facts_of(host, ["ptp"], run=run, options=FAST_SAMPLES)["ptp"]
    assert ptp["source"] == "pmc" and ptp["configs"] == {"enp65s0": PTP_CONFIG}
    window = ptp["window"]
    assert window["source"] == "pmc" and window["interval_seconds"] == 0.01
    data = window["interfaces"]["enp65s0"]
    assert data["port_states"] == ["SLAVE"] * 3 and data["offsets_ns"] == [-3.0] * 3
    assert data["summary"]["slave_samples"] == 3 and data["summary"]["max_abs_offset_ns"] == 3.0
    assert [call[:6] for call in run.calls if call[0] == "pmc"] == [["pmc", "-u", "-b", "0", "-f", PTP_CONFIG]] * 3
    # One systemctl call for when ptp4l started (not active in SYSTEMCTL_SHOW: no start time).
    assert [call[:2] for call in run.calls if call[0] != "pmc"] == [["systemctl", "show"]]
    assert ptp["started"] == {}


PTP4L_SHOW = "Id=ptp4l@enp65s0.service\nActiveState=active\nActiveEnterTimestampMonotonic=%d\n"


def test_ptp_reports_when_ptp4l_started_from_systemd_and_the_uptime(host):
    root = pathlib.Path(host["fs_root"])
    write(pathlib.Path(host["procfs_root"]) / "uptime", "1000.00 1800.00\n")
    window = {"version": 1, "source": "collector", "generated": time.time(), "interval_seconds": 1.0,
              "window_seconds": 600.0, "interfaces": {"enp65s0": {"timestamps": [1.0], "port_states": ["SLAVE"],
                                                                  "offsets_ns": [5.0]}}}
    write(root / "run/quantbot-hft/ptpmon.json", json.dumps(window))
    # Started at monotonic 940 s, 60 s before now.
    run = FakeRun({"systemctl": (0, PTP4L_SHOW % 940000000)})
    before = time.time()
    ptp = facts_of(host, ["ptp"], run=run, options=FAST_SAMPLES)["ptp"]
    assert before - 61 <= ptp["started"]["enp65s0"] <= time.time() - 59
    # Not active: no start time (every sample counts).
    run = FakeRun({"systemctl": (0, (PTP4L_SHOW % 940000000).replace("=active", "=inactive"))})
    assert facts_of(host, ["ptp"], run=run, options=FAST_SAMPLES)["ptp"]["started"] == {}


def test_ptp_waits_for_the_lock_only_as_long_as_asked(host):
    root = pathlib.Path(host["fs_root"])
    write(pathlib.Path(host["procfs_root"]) / "uptime", "1000.00 1800.00\n")
    now = time.time()
    # ptp4l started 5 s ago; the collector saw LISTENING, UNCALIBRATED, then 2 SLAVE samples.
    window = {"version": 1, "source": "collector", "generated": now, "interval_seconds": 1.0,
              "window_seconds": 600.0, "interfaces": {"enp65s0": {
                  "timestamps": [now - 4, now - 3, now - 2, now - 1],
                  "port_states": ["LISTENING", "UNCALIBRATED", "SLAVE", "SLAVE"], "offsets_ns": [None, 9e6, 5.0, 4.0]}}}
    write(root / "run/quantbot-hft/ptpmon.json", json.dumps(window))
    run = FakeRun({"systemctl": (0, PTP4L_SHOW % 995000000)})
    t0 = time.time()
    facts_of(host, ["ptp"], run=run, options=dict(FAST_SAMPLES, ptp_lock_wait=30, ptp_lock_samples=2))
    assert time.time() - t0 < 1 and len([c for c in run.calls if c[0] == "systemctl"]) == 1
    t0 = time.time()
    facts_of(host, ["ptp"], run=run, options=dict(FAST_SAMPLES, ptp_lock_wait=0.6, ptp_lock_samples=3))
    assert 0.5 <= time.time() - t0 < 3 and len([c for c in run.calls if c[0] == "systemctl"]) >= 3


def test_ptp_takes_a_fresh_collector_window_and_samples_past_a_stale_one(host):
    root = pathlib.Path(host["fs_root"])
    window = {"version": 1, "source": "collector", "generated": time.time(), "interval_seconds": 1.0,
              "window_seconds": 600.0, "interfaces": {"enp65s0": {"timestamps": [1.0], "port_states": ["SLAVE"],
                                                                  "offsets_ns": [5.0]}}}
    write(root / "run/quantbot-hft/ptpmon.json", json.dumps(window))
    run = FakeRun()
    ptp = facts_of(host, ["ptp"], run=run, options=FAST_SAMPLES)["ptp"]
    assert ptp["source"] == "collector" and ptp["window"] == window and [c[0] for c in run.calls] == ["systemctl"]
    write(root / "run/quantbot-hft/ptpmon.json", json.dumps(dict(window, generated=time.time() - 60)))
    ptp = facts_of(host, ["ptp"], run=run, options=FAST_SAMPLES)["ptp"]
    assert ptp["source"] == "pmc" and len([call for call in run.calls if call[0] == "pmc"]) == 3


@pytest.mark.parametrize("answer, error", [
    ((1, ""), "pmc exited 1"),
    ((0, pmc_text("pmc-no-answer.txt")), "ptp4l did not answer pmc"),
])
def test_ptp_errors_per_interface(host, answer, error):
    ptp = facts_of(host, ["ptp"], run=FakeRun({"pmc": answer}),
                   options=dict(FAST_SAMPLES, ptp_configs={"ens9": "/etc/ptp-x.conf"}))["ptp"]
    data = ptp["window"]["interfaces"]["ens9"]
    assert data["port_states"] == ["NONE"] * 3 and data["error"].startswith(error)


def test_ptp_left_out_without_configs(host):
    os.remove(os.path.join(host["fs_root"], "var/lib/quantbot-hft/ptp.json"))
    assert facts_of(host, ["ptp"], run=FakeRun()) == {}
    write(pathlib.Path(host["fs_root"]) / "var/lib/quantbot-hft/ptp.json", "not json")
    assert facts_of(host, ["ptp"], run=FakeRun()) == {}


# --------------------------------------------------------------------------
# gather
# --------------------------------------------------------------------------
def test_gather_everything(host, ts_info):
    facts, errors = gather(reader(host, run=FakeRun(), options={"packages": ["tuned"]}))
    assert errors == {}
    assert sorted(facts) == sorted(DOCUMENTED_READERS)


def test_unknown_reader_names_are_refused_naming_them(host):
    with pytest.raises(HostFactsError) as exc:
        gather(reader(host), ["cpus", "gpus"])
    assert str(exc.value).startswith("unknown host fact reader gpus; readers: ")
    assert "cmdline, cpus" in str(exc.value)
    with pytest.raises(HostFactsError, match="unknown host fact readers gpus, fpgas;"):
        gather(reader(host), ["gpus", "fpgas"])


def test_a_reader_that_raises_is_reported_and_the_others_still_run(host, monkeypatch):
    def broken(r):
        raise OSError(5, "Input/output error")
    monkeypatch.setitem(READERS, "numa", broken)
    facts, errors = gather(reader(host), ["cpus", "numa", "cmdline"])
    assert errors == {"numa": "OSError: [Errno 5] Input/output error"}
    assert sorted(facts) == ["cmdline", "cpus"]


@pytest.mark.parametrize("exc", [ValueError("bad"), KeyError("k"), TypeError("t"), IOError("io")])
def test_every_expected_error_is_isolated(host, monkeypatch, exc):
    def broken(r):
        raise exc
    monkeypatch.setitem(READERS, "thp", broken)
    facts, errors = gather(reader(host), ["thp", "pid1"])
    assert list(errors) == ["thp"] and errors["thp"].startswith(type(exc).__name__ + ": ")
    assert facts == {"pid1": {"cpus_allowed": "0-1,4-5"}}


def test_a_reader_returning_none_leaves_the_key_out(host, monkeypatch):
    monkeypatch.setitem(READERS, "thp", lambda r: None)
    facts, errors = gather(reader(host), ["thp", "pid1"])
    assert facts == {"pid1": {"cpus_allowed": "0-1,4-5"}} and errors == {}


# --------------------------------------------------------------------------
# record and replay
# --------------------------------------------------------------------------
def build_tree(recording, dest):
    """What scripts/capture-host-tree.py writes: sys/, proc/, root/ with the files read, and the listed dirs."""
    def local(logical):
        for prefix, sub in (("/sys", "sys"), ("/proc", "proc")):
            if logical == prefix or logical.startswith(prefix + "/"):
                return os.path.join(str(dest), sub, logical[len(prefix):].lstrip("/"))
        return os.path.join(str(dest), "root", logical.lstrip("/"))
    for logical, text in sorted(recording["files"].items()):
        path = local(logical)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as handle:
            handle.write(text)
    for logical in recording["dirs"]:
        os.makedirs(local(logical), exist_ok=True)
    for sub in ("sys", "proc", "root"):
        os.makedirs(os.path.join(str(dest), sub), exist_ok=True)
    # The capture script stores the replay data as JSON: go through JSON as well.
    replay = json.loads(json.dumps({"dirs": recording["dirs"], "links": recording["links"],
                                    "commands": recording["commands"], "clock": recording["clock"],
                                    "tests": recording["tests"]}))
    roots = dict((key, os.path.join(str(dest), sub))
                 for key, sub in (("sysfs_root", "sys"), ("procfs_root", "proc"), ("fs_root", "root")))
    return roots, replay


OPTIONS = {"packages": ["tuned", "linuxptp"], "units": ["ptp4l@enp65s0.service"], "sysctls": ["vm.swappiness"]}


def record_and_replay(host, tmp_path, include=None):
    live = reader(host, run=FakeRun(), record=True, options=OPTIONS)
    facts, errors = gather(live, include)
    assert errors == {}
    roots, replay = build_tree(live.recording, tmp_path / "captured")
    again, errors = gather(Reader(replay=replay, options=OPTIONS, **roots), include)
    assert errors == {}
    return facts, again, live.recording


def test_record_keeps_files_dirs_links_and_commands(host, ts_info):
    r = reader(host, run=FakeRun(), record=True, options=OPTIONS)
    gather(r)
    rec = r.recording
    assert sorted(rec) == ["clock", "commands", "dirs", "files", "links", "tests"]
    assert rec["tests"]["exists /etc/kubernetes/kubelet.conf"] in (True, False)
    assert rec["files"]["/proc/cmdline"].endswith("isolcpus=domain,2-3,6-7\n")  # as read, not stripped
    assert rec["files"]["/sys/devices/system/cpu/online"] == "0-7\n"
    assert rec["dirs"]["/sys/class/net"] == ["enp0s2", "enp65s0", "lo"]
    assert rec["links"]["/sys/class/net/enp65s0/device"] == "../../../devices/pci0000:40/" + PF
    assert rec["links"]["/sys/class/net/enp65s0/device/virtfn1"] == "../" + VF1
    assert rec["commands"]["grub-probe --target=fs /boot/grub"] == {"rc": 0, "stdout": "ext2\n"}
    assert rec["commands"]["ts_info enp65s0"] == {"so_timestamping": HW_BITS, "phc_index": 0}
    assert any(key.startswith("systemctl show --no-pager") for key in rec["commands"])
    # A file that could not be read is not recorded.
    assert "/sys/devices/system/cpu/cpu1/cpufreq/scaling_governor" not in rec["files"]


def test_without_record_nothing_is_kept(host):
    r = reader(host)
    gather(r, ["cpus"])
    assert r.recording is None


REPLAYABLE = ("os", "cmdline", "cpus", "numa", "hugepage_sizes", "sysctl", "thp", "swap", "pid1", "nics", "units",
              "state", "sysctl_files", "irqbalance", "packages", "boot", "ptp")


def test_a_replayed_capture_gives_the_same_facts(host, tmp_path, ts_info):
    facts, again, dummy = record_and_replay(host, tmp_path, REPLAYABLE)
    assert sorted(facts) == sorted(REPLAYABLE)
    for key in REPLAYABLE:
        assert again[key] == facts[key], key
    # The replayed tree holds only what was read: no commands ran, no ioctl was made.
    asked = len(ts_info)
    gather(Reader(replay={"dirs": {}, "links": {}, "commands": {}}, sysfs_root=str(tmp_path / "captured/sys")),
           ["nics"])
    assert len(ts_info) == asked


def test_replay_answers_commands_from_the_recording_only(tmp_path):
    run = replay_runner({"grub-probe --target=fs /boot/grub": {"rc": 0, "stdout": "ext2\n"}})
    assert run(["grub-probe", "--target=fs", "/boot/grub"]) == (0, "ext2\n")
    assert run(["grub-probe", "--target=fs", "/boot"]) == (127, "")
    r = Reader(replay={"dirs": {"/sys/class/net": ["eth0"]}, "links": {"/sys/class/net/eth0/device": "../x"},
                       "commands": {"ts_info eth0": None}}, sysfs_root=str(tmp_path))
    assert r.listdir("/sys/class/net") == ["eth0"]
    assert r.listdir("/sys/class") is None
    assert r.isdir("/sys/class/net") and r.exists("/sys/class/net/eth0/device")
    assert r.link_name("/sys/class/net/eth0/device") == "x"
    assert r.probe_ts_info("eth0") is None
    assert r.run(["systemctl", "show"]) == (127, "")


def test_a_replayed_capture_keeps_the_tuned_profiles(host, tmp_path):
    facts, again, dummy = record_and_replay(host, tmp_path, ["tuned"])
    assert again["tuned"] == facts["tuned"]


def test_a_replayed_capture_keeps_kubelet_membership(host, tmp_path):
    facts, again, dummy = record_and_replay(host, tmp_path, ["kubelet"])
    assert facts["kubelet"]["member"] is True
    assert again["kubelet"] == facts["kubelet"]


def test_a_replayed_capture_keeps_the_grub_dir_without_grubenv(host, tmp_path):
    os.remove(os.path.join(host["fs_root"], "boot/grub/grubenv"))
    facts, again, dummy = record_and_replay(host, tmp_path, ["boot"])
    assert facts["boot"]["grub_dir"] == "/boot/grub"
    assert again["boot"] == facts["boot"]


# --------------------------------------------------------------------------
# the committed planner trees
# --------------------------------------------------------------------------
@pytest.mark.parametrize("shape", SHAPES)
def test_planner_trees_read_as_the_planner_reads_them(shape, tmp_path):
    roots = {"sysfs_root": os.path.join(SYSFS, shape), "procfs_root": str(tmp_path / "no-proc"),
             "fs_root": str(tmp_path / "no-root")}
    facts, errors = gather(Reader(**roots), ["cpus", "numa", "nics"])
    assert errors == {}
    topology = read_topology(os.path.join(SYSFS, shape))
    assert facts["cpus"] == {"online": topology["online_cpus"], "governors": {}, "pm_qos_resume_latency_us": {}}
    assert sorted(facts["numa"]) == sorted(topology["numa_nodes"])
    for node, info in topology["numa_nodes"].items():
        assert facts["numa"][node]["cpus"] == info["cpus"]
        assert facts["numa"][node]["memory_kb"] == info["memory_kb"]
        assert facts["numa"][node]["hugepages"] == {}
    assert sorted(facts["nics"]) == sorted(topology["nics"])
    for name, nic in topology["nics"].items():
        assert facts["nics"][name]["numa_node"] == nic["numa_node"]
        assert facts["nics"][name]["sriov_totalvfs"] == nic["sriov_totalvfs"]
        assert facts["nics"][name]["vfs"] == [] and facts["nics"][name]["timestamping"] is None


def test_planner_tree_values():
    facts, errors = gather(Reader(sysfs_root=os.path.join(SYSFS, "lab-vm"), procfs_root="/nonexistent-proc",
                                  fs_root="/nonexistent-root"), ["cpus", "numa", "nics"])
    assert errors == {}
    assert facts["cpus"]["online"] == "0-7"
    assert facts["numa"]["0"]["cpus"] == "0-3" and facts["numa"]["0"]["memory_kb"] == 1441788
    assert facts["numa"]["1"]["cpus"] == "4-7" and facts["numa"]["1"]["memory_kb"] == 1547836
    assert dict((name, (nic["numa_node"], nic["sriov_totalvfs"])) for name, nic in facts["nics"].items()) == {
        "eth0": (-1, 0), "eth1": (1, 7), "eth2": (1, 7)}
    facts, dummy = gather(Reader(sysfs_root=os.path.join(SYSFS, "xeon-2s-interleaved"),
                                 procfs_root="/nonexistent-proc"), ["cpus", "numa", "nics"])
    assert facts["cpus"]["online"] == "0-79"
    assert facts["numa"]["1"]["cpus"].startswith("1,3,5,")
    assert facts["nics"]["ens1f0"]["numa_node"] == 1 and facts["nics"]["ens1f0"]["sriov_totalvfs"] == 64
    assert facts["nics"]["eno1"]["numa_node"] == 0
