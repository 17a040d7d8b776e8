"""QEMU: version checks, KVM detection and the argv of the lab VM (pure builders)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time

from .state import LabError

MIN_QEMU = (8, 0)  # -device igb appeared in QEMU 8.0

# The VM's fixed PCI layout: two igb ports behind a pxb-pcie expander on NUMA
# node 1. SeaBIOS numbers the root ports' secondary buses 65 and 66 (bus_nr=64).
PXB_BUS_NR = 64
HFT_PCI = "0000:41:00.0"  # igb #1: the node's HFT port (wired to the GM port)
GM_PCI = "0000:42:00.0"  # igb #2: the grandmaster fixture's port (netns gm)
HFT_IF = "enp65s0"
GM_IF = "enp66s0"
HFT_MAC = "52:54:00:48:46:01"
GM_MAC = "52:54:00:48:46:02"
MGMT_MAC = "52:54:00:48:46:00"

ABORT_PATTERNS = ("Assertion", "core dumped", "Aborted", "iotlb_to_section")
# What a guest kernel prints on the serial console when a vCPU stops making
# progress. Under TCG with 8 vCPUs on 2 host cores a boot can wedge this way
# (seen once in a CI run: RCU stall reports every 21 s, no sshd after 900 s).
STALL_PATTERNS = (
    re.compile(r"rcu: INFO: rcu_\w+ (?:self-)?detected stalls?"),
    re.compile(r"watchdog: BUG: soft lockup"),
    re.compile(r"INFO: task \S+ blocked for more than \d+ seconds"),
    re.compile(r"Kernel panic - not syncing"),
)


def qemu_binary() -> str:
    path = os.environ.get("HFTLAB_QEMU") or shutil.which("qemu-system-x86_64")
    if not path or not os.access(path, os.X_OK):
        raise LabError(
            "qemu-system-x86_64 not found: install QEMU >= 8 (Debian: "
            "apt-get install -t bookworm-backports qemu-system-x86 qemu-utils; scripts/setup.sh --install does this)"
        )
    return path


def parse_version(text: str) -> tuple[int, int, int]:
    m = re.search(r"version (\d+)\.(\d+)(?:\.(\d+))?", text)
    if not m:
        raise LabError(f"cannot parse the QEMU version from: {text.strip()[:120]!r}")
    return int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)


def qemu_version(binary: str) -> tuple[int, int, int]:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
    return parse_version(out.stdout + out.stderr)


def check_qemu() -> tuple[str, tuple[int, int, int]]:
    binary = qemu_binary()
    ver = qemu_version(binary)
    if ver[:2] < MIN_QEMU:
        raise LabError(
            f"{binary} is QEMU {'.'.join(map(str, ver))}, the lab needs >= 8.0 for the igb NIC "
            "(Debian 12: apt-get install -t bookworm-backports qemu-system-x86 qemu-utils)"
        )
    if not shutil.which("qemu-img"):
        raise LabError("qemu-img not found: install qemu-utils")
    return binary, ver


def vm_argv(
    binary: str,
    *,
    marker: str,
    accel: str,
    disk: str,
    console_log: str,
    ssh_port: int,
    udp_hft: int,
    udp_gm: int,
    mem_mb: int = 3072,
    smp: str = "8,sockets=2,cores=2,threads=2",
    cpus_node0: str = "0-3",
    cpus_node1: str = "4-7",
) -> list[str]:
    """The lab VM: q35, 2 NUMA nodes with SMT, mgmt NIC with SSH forward,
    two igb ports on NUMA node 1 (pxb-pcie) wired back to back over UDP."""
    half = mem_mb // 2
    if accel == "kvm":
        accel_args = ["-accel", "kvm", "-cpu", "host"]
    else:
        accel_args = ["-accel", "tcg,thread=multi", "-cpu", "Skylake-Server"]
    return [
        binary,
        "-name",
        marker,
        "-machine",
        "q35",
        *accel_args,
        "-smp",
        smp,
        "-m",
        f"{mem_mb}M",
        "-object",
        f"memory-backend-ram,id=m0,size={half}M",
        "-object",
        f"memory-backend-ram,id=m1,size={mem_mb - half}M",
        "-numa",
        f"node,nodeid=0,cpus={cpus_node0},memdev=m0",
        "-numa",
        f"node,nodeid=1,cpus={cpus_node1},memdev=m1",
        "-nodefaults",
        "-vga",
        "none",
        "-display",
        "none",
        "-serial",
        f"file:{console_log}",
        "-rtc",
        "base=utc",
        # Disk: a throwaway overlay; once pxb-pcie is used every device needs bus=pcie.0.
        "-drive",
        f"if=none,id=disk0,file={disk},format=qcow2,cache=unsafe,discard=unmap",
        "-device",
        "virtio-blk-pci,drive=disk0,bus=pcie.0,addr=0x3,bootindex=1",
        # Management NIC: user-mode networking, SSH forwarded on loopback only.
        "-netdev",
        f"user,id=mgmt,hostfwd=tcp:127.0.0.1:{ssh_port}-:22",
        "-device",
        f"virtio-net-pci,netdev=mgmt,bus=pcie.0,addr=0x2,mac={MGMT_MAC}",
        # NUMA node 1 PCIe expander with two root ports, one igb (SR-IOV, PHC) each.
        "-device",
        f"pxb-pcie,id=pxb1,bus_nr={PXB_BUS_NR},numa_node=1,bus=pcie.0,addr=0x4",
        "-device",
        "pcie-root-port,id=rp1,bus=pxb1,chassis=11,addr=0x0",
        "-device",
        "pcie-root-port,id=rp2,bus=pxb1,chassis=12,addr=0x1",
        # Back-to-back cable: each port sends to the other's UDP port.
        "-netdev",
        f"socket,id=hft,udp=127.0.0.1:{udp_gm},localaddr=127.0.0.1:{udp_hft}",
        "-device",
        f"igb,netdev=hft,bus=rp1,mac={HFT_MAC}",
        "-netdev",
        f"socket,id=gm,udp=127.0.0.1:{udp_hft},localaddr=127.0.0.1:{udp_gm}",
        "-device",
        f"igb,netdev=gm,bus=rp2,mac={GM_MAC}",
        # A hardware watchdog (/dev/watchdog0 in the guest): the boot_args role arms it
        # for a trial boot, so a hang resets the VM and GRUB boots the default entry.
        "-device",
        "i6300esb,bus=pcie.0,addr=0x5",
        "-action",
        "watchdog=reset",
    ]


def firstboot_argv(binary: str, raw: str, kernel: str, initrd: str, console_log: str) -> list[str]:
    """One direct-kernel boot of the freshly written disk to install GRUB into it."""
    return [
        binary,
        "-name",
        "hftlab-imagebuild",
        "-machine",
        "q35",
        "-accel",
        "tcg,thread=multi",
        "-cpu",
        "max",
        "-smp",
        "2",
        "-m",
        "1024M",
        "-nodefaults",
        "-vga",
        "none",
        "-display",
        "none",
        "-no-reboot",
        "-serial",
        f"file:{console_log}",
        "-drive",
        f"file={raw},format=raw,if=virtio,cache=unsafe",
        "-kernel",
        kernel,
        "-initrd",
        initrd,
        "-append",
        "root=/dev/vda1 ro console=ttyS0,115200 init=/usr/local/sbin/hftlab-firstboot panic=-1",
    ]


def kvm_trial_argv(binary: str, kernel: str, initrd: str, console_log: str) -> list[str]:
    return [
        binary,
        "-name",
        "hftlab-kvmtrial",
        "-machine",
        "q35",
        "-accel",
        "kvm",
        "-cpu",
        "host",
        "-smp",
        "2,sockets=1,cores=1,threads=2",
        "-m",
        "512M",
        "-nodefaults",
        "-vga",
        "none",
        "-display",
        "none",
        "-no-reboot",
        "-serial",
        f"file:{console_log}",
        "-kernel",
        kernel,
        "-initrd",
        initrd,
        "-append",
        "console=ttyS0,115200 panic=-1 rdinit=/bin/true",
    ]


def _console_tail(path: str, nbytes: int) -> str:
    """The last ``nbytes`` of the serial console log, decoded; '' when it cannot be read."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - nbytes))
            return fh.read().decode(errors="replace")
    except OSError:
        return ""


def last_console_line(path: str) -> str:
    """The last non-empty line of the serial console log, without escape sequences."""
    data = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\r", "", _console_tail(path, 4096))
    lines = [ln.strip() for ln in data.split("\n") if ln.strip() and ln.strip().isprintable()]
    return lines[-1] if lines else ""


def console_stall(path: str, window: int = 262144) -> str:
    """The last line in the console tail that shows a wedged guest kernel, or ''.

    Reads only the last `window` bytes: a stall that the guest recovered from
    long ago scrolls out, one that goes on keeps being reported.
    """
    found = ""
    for line in _console_tail(path, window).splitlines():
        if any(p.search(line) for p in STALL_PATTERNS):
            found = line.strip()
    return found


def looks_like_abort(returncode: int | None, qemu_log: str) -> bool:
    """A QEMU crash (e.g. TCG's iotlb_to_section assertion) worth one retry."""
    if returncode is not None and returncode < 0:
        return True
    return any(p in qemu_log for p in ABORT_PATTERNS)


# ------------------------------------------------------------ KVM detection


def detect_accel(
    cache_file: str, qemu_ver: tuple, kernel: str, initrd: str, workdir: str, log, trial_timeout: float = 25.0
) -> tuple[str, str]:
    """``(accel, reason)``: ``HFTLAB_ACCEL`` if set; else a cached verdict; else a bounded trial boot."""
    forced = os.environ.get("HFTLAB_ACCEL", "").strip().lower()
    if forced in ("kvm", "tcg"):
        return forced, "HFTLAB_ACCEL"
    if forced:
        raise LabError(f"HFTLAB_ACCEL must be 'kvm' or 'tcg', not {forced!r}")
    key = f"qemu {'.'.join(map(str, qemu_ver))} host {os.uname().release}"
    try:
        with open(cache_file, encoding="utf-8") as fh:
            cached = json.load(fh)
        if cached.get("key") == key:
            return cached["accel"], f"cached verdict: {cached['reason']}"
    except (OSError, ValueError, KeyError):
        pass
    accel, reason = kvm_trial(qemu_binary(), kernel, initrd, workdir, log, trial_timeout)
    tmp = cache_file + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump({"key": key, "accel": accel, "reason": reason}, fh)
    os.replace(tmp, cache_file)
    return accel, reason


def kvm_trial(binary: str, kernel: str, initrd: str, workdir: str, log, timeout: float) -> tuple[str, str]:
    if not os.path.exists("/dev/kvm"):
        return "tcg", "no /dev/kvm"
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "tcg", "/dev/kvm not accessible"
    log(f"trying KVM with a bounded trial boot (at most {timeout:.0f}s)")
    console = os.path.join(workdir, "kvm-trial-console.log")
    qlog = os.path.join(workdir, "kvm-trial-qemu.log")
    if os.path.exists(console):
        os.unlink(console)
    with open(qlog, "w", encoding="utf-8") as out:
        proc = subprocess.Popen(
            kvm_trial_argv(binary, kernel, initrd, console),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    start = time.monotonic()
    verdict = None
    try:
        while time.monotonic() - start < timeout:
            time.sleep(0.5)
            try:
                with open(console, encoding="utf-8", errors="replace") as fh:
                    text = fh.read()
            except OSError:
                text = ""
            # The kernel got through its early boot: it unpacked the initramfs and
            # tried to run init (rdinit=/bin/true makes it panic right after).
            if "Run /bin/true" in text or "Freeing unused kernel" in text:
                verdict = ("kvm", f"KVM trial boot reached init in {time.monotonic() - start:.1f}s")
                break
            if proc.poll() is not None:
                with open(qlog, encoding="utf-8", errors="replace") as fh:
                    err = fh.read().strip().splitlines()
                verdict = ("tcg", "KVM trial failed: " + (err[-1] if err else f"qemu exit {proc.returncode}"))
                break
        if verdict is None:
            verdict = ("tcg", f"KVM trial boot showed no progress in {timeout:.0f}s (hang)")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return verdict
