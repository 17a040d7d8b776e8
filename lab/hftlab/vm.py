"""Lifecycle of the lab VM: up, down, status, ssh."""

from __future__ import annotations

import base64
import os
import shlex
import shutil
import signal
import subprocess
import time

from . import image, qemu
from .state import (
    LabError,
    Paths,
    choose_ssh_port,
    file_lock,
    free_port,
    live_pid,
    load_state,
    save_json,
    tail,
    write_pid,
    write_text,
)

SSH_USER = "hft"
PREFERRED_SSH_PORT = 2222
DEFAULT_TIMEOUT = 900
# How long a guest may go on reporting a kernel stall, with no SSH, before `up`
# gives up on that boot and boots once more (a TCG boot reaches SSH in 50-80 s).
STALL_GRACE = float(os.environ.get("HFTLAB_STALL_GRACE", "120"))


_LOG_FILE: str | None = None


def _log(msg: str) -> None:
    line = f"[hftlab {time.strftime('%H:%M:%S')}] {msg}"
    print(line, flush=True)
    if _LOG_FILE:  # `up` also logs to <run dir>/up.log, so its progress can be followed from molecule/CI
        try:
            with open(_LOG_FILE, "a", encoding="utf-8") as fh:
                fh.write(line + "\n")
        except OSError:
            pass


def log_to_file(path: str | None) -> None:
    global _LOG_FILE  # noqa: PLW0603 - one log per process
    _LOG_FILE = path


def ssh_base(key: str, port: int, connect_timeout: int = 10) -> list[str]:
    return [
        "ssh",
        "-i",
        key,
        "-p",
        str(port),
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "LogLevel=ERROR",
        "-o",
        f"ConnectTimeout={connect_timeout}",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "ServerAliveInterval=15",
        f"{SSH_USER}@127.0.0.1",
    ]


def ssh_ok(key: str, port: int) -> bool:
    try:
        r = subprocess.run(
            ssh_base(key, port, 5) + ["true"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=20,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return False
    return r.returncode == 0


# A drop-in of hftlab-gm.service: after ptp4l starts, tell the grandmaster
# fixture to announce traceable time, retrying until its management socket
# answers. (No "$" in it: systemd would expand it.) ptpTimescale stays 0: the
# fixture's clock is CLOCK_REALTIME (UTC, software timestamping), so with the
# PTP timescale the node would apply the 37 s UTC offset to a clock that has
# none and chase a 37 s error (seen: UNCALIBRATED, freq +900000000).
GM_PMC_SET = (
    "SET GRANDMASTER_SETTINGS_NP clockClass 6 clockAccuracy 0x21 offsetScaledLogVariance 0x4e5d "
    "currentUtcOffset 37 leap61 0 leap59 0 currentUtcOffsetValid 1 ptpTimescale 0 timeTraceable 1 "
    "frequencyTraceable 1 timeSource 0x20"
)
GM_TRACEABLE_DROPIN = (
    "# hftlab: the grandmaster fixture announces traceable time (written by hftlab up).\n"
    "[Service]\n"
    "ExecStartPost=/bin/sh -c 'for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do "
    f"/opt/hftlab/gm/root/usr/sbin/pmc -u -b 0 -f /opt/hftlab/gm/gm.conf \"{GM_PMC_SET}\" "
    "| grep -q \"timeTraceable *1\" && exit 0; sleep 1; done; exit 1'\n"
)


def ssh_run(key: str, port: int, command: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        ssh_base(key, port) + [command], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout,
        check=False,
    )


def _tail(path: str, n: int = 30) -> str:
    return tail(path, n)


class Lab:
    def __init__(self, paths: Paths, log=_log):
        self.p = paths
        self.log = log

    # -------------------------------------------------------------- files
    @property
    def pidfile(self) -> str:
        return self.p.run_file("qemu.pid")

    @property
    def statefile(self) -> str:
        return self.p.run_file("state.json")

    @property
    def console(self) -> str:
        return self.p.run_file("console.log")

    @property
    def qemu_log(self) -> str:
        return self.p.run_file("qemu.log")

    @property
    def key(self) -> str:
        return self.p.run_file("id_ed25519")

    @property
    def overlay(self) -> str:
        return self.p.run_file("overlay.qcow2")

    def pid(self) -> int | None:
        return live_pid(self.pidfile, self.p.marker)

    def state(self) -> dict:
        return load_state(self.statefile)

    # -------------------------------------------------------------- up
    def up(self, timeout: float = DEFAULT_TIMEOUT, ssh_port: int | None = None, rebuild: bool = False) -> dict:
        os.makedirs(self.p.run, exist_ok=True)
        with file_lock(self.p.run_file("lock"), "lab instance", log=self.log):
            st = self.state()
            pid = self.pid()
            if pid and st.get("ssh_port") and os.path.exists(self.key) and ssh_ok(self.key, st["ssh_port"]):
                self.log(f"lab VM already running (pid {pid}, ssh 127.0.0.1:{st['ssh_port']}, {st.get('accel')})")
                self.start_gm(st["ssh_port"])
                return st
            if pid:
                self.log(f"stopping an unresponsive lab VM left by an earlier up (pid {pid})")
                self._stop_pid(pid)
            self._clear_runtime()

            _binary, ver = qemu.check_qemu()
            t0 = time.monotonic()
            img = image.ensure_image(self.p, self.log, rebuild=rebuild)
            accel, reason = qemu.detect_accel(self.p.accel_cache, ver, img.kernel, img.initrd, self.p.run, self.log)
            self.log(f"accelerator: {accel} ({reason})")
            requested = ssh_port or (int(os.environ["HFTLAB_SSH_PORT"]) if os.environ.get("HFTLAB_SSH_PORT") else None)
            shutil.copyfile(img.key, self.key + ".tmp")
            os.chmod(self.key + ".tmp", 0o600)
            os.replace(self.key + ".tmp", self.key)

            last_error = None
            for attempt in (1, 2):
                port = choose_ssh_port(requested, PREFERRED_SSH_PORT)
                udp_hft = free_port("udp")
                udp_gm = free_port("udp", avoid=(udp_hft,))
                st = self._launch(img, accel, port, udp_hft, udp_gm)
                boot = time.monotonic()
                try:
                    self._wait_ssh(st, timeout, accel, reason)
                except _QemuAborted as exc:
                    last_error = exc
                    self.log(f"QEMU aborted during boot ({exc}); retrying once with a fresh overlay")
                    self._clear_runtime()
                    continue
                except _BootStalled as exc:
                    last_error = exc
                    kept = self.p.run_file(f"console-stalled-{attempt}.log")
                    if os.path.exists(self.console):
                        shutil.copyfile(self.console, kept)
                    self.log(f"the guest kernel stalled during boot ({exc}); console kept in {kept}; "
                             "stopping this QEMU and booting once more with a fresh overlay")
                    self._stop_started(st)
                    self._clear_runtime()
                    continue
                except BaseException:
                    self._stop_started(st)
                    raise
                break
            else:
                raise LabError(
                    f"the lab VM failed to boot twice (QEMU abort or guest kernel stall): {last_error}\n"
                    f"--- {self.qemu_log} ---\n{_tail(self.qemu_log)}--- console tail ({self.console}) ---\n"
                    f"{_tail(self.console)}"
                )
            st["boot_to_ssh_s"] = round(time.monotonic() - boot, 1)
            st["up_total_s"] = round(time.monotonic() - t0, 1)
            save_json(self.statefile, st)
            self.log(f"SSH is up after {st['boot_to_ssh_s']:.0f}s of boot")
            try:
                self.start_gm(port)
            except BaseException:
                self._stop_started(st)
                raise
            self.log(f"lab VM ready: ssh 127.0.0.1:{port} (user {SSH_USER}, key {self.key}), accel {accel}")
            return st

    def _launch(self, img: image.Image, accel: str, port: int, udp_hft: int, udp_gm: int) -> dict:
        for f in (self.console, self.overlay):
            if os.path.exists(f):
                os.unlink(f)
        subprocess.run(
            ["qemu-img", "create", "-q", "-f", "qcow2", "-b", img.disk, "-F", "qcow2", self.overlay], check=True
        )
        argv = qemu.vm_argv(
            qemu.qemu_binary(),
            marker=self.p.marker,
            accel=accel,
            disk=self.overlay,
            console_log=self.console,
            ssh_port=port,
            udp_hft=udp_hft,
            udp_gm=udp_gm,
        )
        with open(self.qemu_log, "w", encoding="utf-8") as out:
            out.write(" ".join(shlex.quote(a) for a in argv) + "\n")
            out.flush()
            # Own session and no inherited pipes: `up` may run under Ansible's command
            # module, which waits until every holder of its stdout has exited.
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
                cwd=self.p.run,
            )
        self._proc = proc
        write_pid(self.pidfile, proc.pid)
        st = {
            "pid": proc.pid,
            "ssh_port": port,
            "udp_ports": [udp_hft, udp_gm],
            "accel": accel,
            "image": img.disk,
            "started_at": time.time(),
            "ssh_user": SSH_USER,
            "ssh_key": self.key,
            "hft_if": qemu.HFT_IF,
            "gm_if": qemu.GM_IF,
            "marker": self.p.marker,
        }
        save_json(self.statefile, st)
        write_text(self.p.run_file("ssh_port"), f"{port}\n")
        self.log(f"started QEMU pid {proc.pid} ({accel}); console log {self.console}")
        return st

    def _wait_ssh(self, st: dict, timeout: float, accel: str, reason: str) -> None:
        port = st["ssh_port"]
        start = time.monotonic()
        last_report = start
        stalled_since = None
        self.log(f"waiting for SSH on 127.0.0.1:{port} (timeout {timeout:.0f}s)")
        while True:
            rc = self._proc.poll()
            if rc is not None:
                qlog = _tail(self.qemu_log, 40)
                if qemu.looks_like_abort(rc, qlog):
                    raise _QemuAborted(qlog.strip().splitlines()[-1] if qlog.strip() else f"exit {rc}")
                raise LabError(
                    f"QEMU exited with code {rc} before SSH came up\n--- {self.qemu_log} ---\n{qlog}"
                    f"--- console tail ({self.console}) ---\n{_tail(self.console)}"
                )
            if ssh_ok(self.key, port):
                return
            now = time.monotonic()
            stall = qemu.console_stall(self.console)
            if not stall:
                stalled_since = None
            elif stalled_since is None:
                stalled_since = now
                self.log(f"the guest console reports a stall: {stall[:120]}")
            elif now - stalled_since >= STALL_GRACE:
                raise _BootStalled(f"{stall[:160]}; still no SSH {now - stalled_since:.0f}s later")
            if now - start > timeout:
                why = (
                    f"under TCG (software emulation; KVM not used: {reason}) the guest is too slow for the "
                    f"{timeout:.0f}s timeout, or it failed to boot; raise --timeout / HFTLAB_TIMEOUT"
                    if accel == "tcg"
                    else "the guest did not bring up sshd"
                )
                raise LabError(
                    f"SSH on 127.0.0.1:{port} never came up within {timeout:.0f}s: {why}\n"
                    f"--- console tail ({self.console}) ---\n{_tail(self.console)}"
                )
            if now - last_report >= 10:
                self.log(
                    f"waiting for SSH on 127.0.0.1:{port} ... {int(now - start)}s  "
                    f"[console: {qemu.last_console_line(self.console)[:100]}]"
                )
                last_report = now
            time.sleep(2)

    def start_gm(self, port: int) -> None:
        """Enable and start the PTP grandmaster fixture (ptp4l in netns gm).

        A drop-in makes the grandmaster announce what a GNSS-locked one does
        (timeTraceable, frequencyTraceable, currentUtcOffsetValid; ptp4l's
        defaults announce 0): without it the collector's traceability alerts
        fire in the lab. Written at run time, so the golden image stays as built.
        """
        encoded = base64.b64encode(GM_TRACEABLE_DROPIN.encode()).decode()
        r = ssh_run(
            self.key,
            port,
            "sudo mkdir -p /etc/systemd/system/hftlab-gm.service.d && "
            f"echo {encoded} | base64 -d | sudo tee /etc/systemd/system/hftlab-gm.service.d/traceable.conf >/dev/null && "
            "sudo systemctl daemon-reload && "
            "sudo systemctl enable --now hftlab-gm.service >/dev/null 2>&1; "
            "sleep 1; systemctl is-active hftlab-gm.service",
        )
        if r.stdout.strip() != "active":
            j = ssh_run(self.key, port, "sudo journalctl -u hftlab-gm.service --no-pager -n 30")
            raise LabError("the PTP grandmaster fixture (hftlab-gm.service) did not start:\n" + j.stdout + j.stderr)
        self.log(f"PTP grandmaster fixture running: ptp4l -S in netns gm on {qemu.GM_IF} (domain 0, L2, E2E)")

    # -------------------------------------------------------------- down
    def _stop_pid(self, pid: int, grace: float = 15.0) -> None:
        self._terminate(pid, grace)
        # QEMU outlives `up`, so init is its parent; give init a moment to reap
        # it, so that no <defunct> qemu is listed right after `down`.
        for _attempt in range(50):
            if not os.path.exists(f"/proc/{pid}"):
                break
            time.sleep(0.1)

    def _terminate(self, pid: int, grace: float) -> None:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if not live_pid(self.pidfile, self.p.marker) and not _alive(pid):
                return
            _reap(pid)
            time.sleep(0.3)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        for _attempt in range(30):
            _reap(pid)
            if not _alive(pid):
                return
            time.sleep(0.2)

    def _stop_started(self, st: dict) -> None:
        """Stop a QEMU this very process started (failed or interrupted up)."""
        proc = getattr(self, "_proc", None)
        if proc is not None and proc.poll() is None:
            self.log(f"stopping QEMU pid {proc.pid} started by this up")
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for f in (self.pidfile, self.overlay, self.p.run_file("ssh_port")):
            if os.path.exists(f):
                os.unlink(f)

    def _clear_runtime(self) -> None:
        for f in (self.pidfile, self.overlay, self.p.run_file("ssh_port"), self.statefile):
            if os.path.exists(f):
                os.unlink(f)

    def down(self) -> bool:
        if not os.path.isdir(self.p.run):
            self.log("lab VM is not running")
            return False
        with file_lock(self.p.run_file("lock"), "lab instance", log=self.log):
            pid = self.pid()
            if pid:
                self.log(f"stopping lab VM (QEMU pid {pid})")
                self._stop_pid(pid)
            else:
                stale = os.path.exists(self.pidfile)
                self.log("lab VM is not running" + (" (ignored a stale pidfile)" if stale else ""))
            self._clear_runtime()
            return bool(pid)

    # -------------------------------------------------------------- status
    def status(self) -> dict:
        st = self.state()
        pid = self.pid()
        info = {"instance": self.p.instance, "running": bool(pid), "pid": pid, "run_dir": self.p.run}
        if pid:
            info.update(
                {k: st.get(k) for k in ("ssh_port", "accel", "ssh_user", "ssh_key", "hft_if", "gm_if", "boot_to_ssh_s")}
            )
            info["uptime_s"] = int(time.time() - st.get("started_at", time.time()))
            info["ssh_reachable"] = bool(st.get("ssh_port")) and ssh_ok(self.key, st["ssh_port"])
        info["image"] = image.image_info(self.p)
        return info

    def ssh_argv(self, command: list[str]) -> list[str]:
        st = self.state()
        if not self.pid() or not st.get("ssh_port"):
            raise LabError("the lab VM is not running: start it with `hftlab up`")
        base = ssh_base(self.key, st["ssh_port"])
        if not command:
            return base[:1] + ["-t"] + base[1:]
        return base + [" ".join(command)]


class _QemuAborted(Exception):
    pass


class _BootStalled(Exception):
    """The guest kernel kept reporting a stall and sshd never answered."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child counts as gone
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
