"""`hftlab up` gives a wedged guest boot one more try instead of waiting out the timeout."""

import os
import types

import pytest

from hftlab import qemu, vm
from hftlab.state import Paths

STALL_REPORT = (
    "[  486.312021] rcu: INFO: rcu_sched detected stalls on CPUs/tasks:\n"
    "[  486.312990] rcu:     3-...!: (0 ticks this GP) idle=8b4c/0/0x0 softirq=1211/1211 fqs=0\n"
    "[  507.395393] NMI backtrace for cpu 5 skipped: idling at native_safe_halt+0xb/0x10\n"
)
NORMAL_BOOT = (
    "[    0.000000] Linux version 6.1.0-28-amd64\n"
    "[    4.120000] systemd[1]: Started ssh.service - OpenBSD Secure Shell server.\n"
)


def test_console_stall_finds_the_report(tmp_path):
    console = tmp_path / "console.log"
    console.write_text(NORMAL_BOOT + STALL_REPORT)
    assert "rcu_sched detected stalls" in qemu.console_stall(str(console))


@pytest.mark.parametrize(
    "line",
    [
        "[ 12.1] rcu: INFO: rcu_preempt self-detected stall on CPU",
        "[ 80.2] watchdog: BUG: soft lockup - CPU#2 stuck for 23s! [swapper/2:0]",
        "[240.0] INFO: task systemd-udevd:212 blocked for more than 120 seconds.",
        "[  3.3] Kernel panic - not syncing: VFS: Unable to mount root fs",
    ],
)
def test_console_stall_patterns(tmp_path, line):
    console = tmp_path / "console.log"
    console.write_text(NORMAL_BOOT + line + "\n")
    assert qemu.console_stall(str(console)) == line


def test_console_stall_quiet_on_a_normal_boot_and_a_missing_file(tmp_path):
    console = tmp_path / "console.log"
    console.write_text(NORMAL_BOOT)
    assert qemu.console_stall(str(console)) == ""
    assert qemu.console_stall(str(tmp_path / "absent.log")) == ""


def test_console_stall_forgets_a_report_that_scrolled_out(tmp_path):
    console = tmp_path / "console.log"
    console.write_text(STALL_REPORT + "x" * 300000 + "\n" + NORMAL_BOOT)
    assert qemu.console_stall(str(console)) == ""


class _Running:
    pid = 4242

    def poll(self):
        return None


class _Clock:
    def __init__(self):
        self.now = 1000.0

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def _lab(tmp_path, monkeypatch, clock):
    monkeypatch.setattr(vm, "ssh_ok", lambda *a, **k: False)
    monkeypatch.setattr(vm.time, "monotonic", clock.monotonic)
    monkeypatch.setattr(vm.time, "sleep", clock.sleep)
    logged = []
    lab = vm.Lab(Paths(str(tmp_path)), log=logged.append)
    lab._proc = _Running()
    (tmp_path / "run").mkdir(exist_ok=True)
    return lab, logged


def test_wait_ssh_gives_up_on_a_stalled_guest_after_the_grace(tmp_path, monkeypatch):
    clock = _Clock()
    lab, logged = _lab(tmp_path, monkeypatch, clock)
    os.makedirs(lab.p.run, exist_ok=True)
    with open(lab.console, "w") as fh:
        fh.write(NORMAL_BOOT + STALL_REPORT)
    start = clock.now
    with pytest.raises(vm._BootStalled, match="rcu_sched detected stalls"):
        lab._wait_ssh({"ssh_port": 2222}, 900, "tcg", "test")
    waited = clock.now - start
    assert vm.STALL_GRACE <= waited < vm.STALL_GRACE + 10, waited
    assert any("reports a stall" in m for m in logged)


def test_wait_ssh_without_a_stall_waits_out_the_timeout(tmp_path, monkeypatch):
    clock = _Clock()
    lab, _logged = _lab(tmp_path, monkeypatch, clock)
    os.makedirs(lab.p.run, exist_ok=True)
    with open(lab.console, "w") as fh:
        fh.write(NORMAL_BOOT)
    start = clock.now
    with pytest.raises(vm.LabError, match="never came up within 300s"):
        lab._wait_ssh({"ssh_port": 2222}, 300, "tcg", "test")
    assert clock.now - start > 300


def _up_with(tmp_path, monkeypatch, outcomes):
    """Run Lab.up with QEMU, the image and SSH replaced; `outcomes` is what each boot does."""
    logged = []
    lab = vm.Lab(Paths(str(tmp_path)), log=logged.append)
    launches = []
    stopped = []
    monkeypatch.setattr(vm.qemu, "check_qemu", lambda: ("/usr/bin/qemu-system-x86_64", (8, 2, 2)))
    key = tmp_path / "key"
    key.write_text("k")
    img = types.SimpleNamespace(key=str(key), disk="disk.qcow2", kernel="k", initrd="i")
    monkeypatch.setattr(vm.image, "ensure_image", lambda *a, **k: img)
    monkeypatch.setattr(vm.qemu, "detect_accel", lambda *a, **k: ("tcg", "test"))

    def launch(_img, accel, port, *_udp):
        launches.append(port)
        with open(lab.console, "w") as fh:
            fh.write(f"boot {len(launches)}\n")
        return {"ssh_port": port, "accel": accel}

    def wait(st, *_a):
        outcome = outcomes[len(launches) - 1]
        if outcome is not None:
            raise outcome

    monkeypatch.setattr(lab, "_launch", launch)
    monkeypatch.setattr(lab, "_wait_ssh", wait)
    monkeypatch.setattr(lab, "_stop_started", lambda st: stopped.append(st["ssh_port"]))
    monkeypatch.setattr(lab, "start_gm", lambda port: None)
    return lab, logged, launches, stopped


def test_up_boots_once_more_after_a_stall_and_keeps_the_console(tmp_path, monkeypatch):
    lab, logged, launches, stopped = _up_with(tmp_path, monkeypatch, [vm._BootStalled("rcu stall"), None])
    st = lab.up(timeout=900)
    assert len(launches) == 2 and len(stopped) == 1
    assert st["boot_to_ssh_s"] >= 0
    kept = lab.p.run_file("console-stalled-1.log")
    assert open(kept).read() == "boot 1\n"
    assert any("stalled during boot (rcu stall)" in m for m in logged)


def test_up_fails_after_two_stalls_naming_the_stall(tmp_path, monkeypatch):
    lab, _logged, launches, stopped = _up_with(
        tmp_path, monkeypatch, [vm._BootStalled("rcu stall one"), vm._BootStalled("rcu stall two")]
    )
    with pytest.raises(vm.LabError, match="failed to boot twice .*rcu stall two"):
        lab.up(timeout=900)
    assert len(launches) == 2 and len(stopped) == 2
