"""Paths, run state, pidfiles, locks and port checks (all pure or near-pure)."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
from dataclasses import dataclass


class LabError(RuntimeError):
    """An error with a message meant for the user (printed without a traceback)."""


def cache_root() -> str:
    """``$HFTLAB_CACHE`` or ``~/.cache/quantbot-hft`` (outside the clone, so CI reuses it)."""
    env = os.environ.get("HFTLAB_CACHE")
    if env:
        return os.path.abspath(env)
    # Not XDG_CACHE_HOME: the shipped inventory (inventory/lab/hosts.yml) looks here too.
    return os.path.join(os.path.expanduser("~"), ".cache", "quantbot-hft")


def instance_name() -> str:
    return os.environ.get("HFTLAB_INSTANCE", "default")


@dataclass
class Paths:
    root: str
    instance: str = "default"

    @property
    def images(self) -> str:
        return os.path.join(self.root, "images")

    @property
    def build_lock(self) -> str:
        return os.path.join(self.images, "build.lock")

    def image_dir(self, key: str) -> str:
        return os.path.join(self.images, key)

    @property
    def run(self) -> str:
        """Runtime state of one instance: pid, overlay, ports, console log, key copy."""
        return os.path.join(self.root, "run", self.instance)

    def run_file(self, name: str) -> str:
        return os.path.join(self.run, name)

    @property
    def accel_cache(self) -> str:
        return os.path.join(self.root, "accel.json")

    @property
    def marker(self) -> str:
        """The ``-name`` given to QEMU; it identifies our process in /proc/PID/cmdline."""
        return f"hftlab-{self.instance}"


def default_paths() -> Paths:
    return Paths(cache_root(), instance_name())


# ----------------------------------------------------------------- pidfiles


def read_pid(path: str) -> int | None:
    try:
        with open(path, encoding="ascii") as fh:
            text = fh.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def write_pid(path: str, pid: int) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="ascii") as fh:
        fh.write(f"{pid}\n")
    os.replace(tmp, path)


def proc_cmdline(pid: int, proc: str = "/proc") -> list[str] | None:
    try:
        with open(os.path.join(proc, str(pid), "cmdline"), "rb") as fh:
            raw = fh.read()
    except OSError:
        return None
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def is_our_process(pid: int | None, marker: str, proc: str = "/proc") -> bool:
    """True if *pid* is alive and is a QEMU started by us (``-name <marker>...`` in its argv).

    A stale pidfile whose PID was reused by another process reads False.
    """
    if not pid:
        return False
    argv = proc_cmdline(pid, proc)
    if not argv:
        return False
    if "qemu-system" not in os.path.basename(argv[0]):
        return False
    for i, arg in enumerate(argv[:-1]):
        if arg == "-name" and argv[i + 1].split(",")[0] == marker:
            return True
    return False


def live_pid(pidfile: str, marker: str, proc: str = "/proc") -> int | None:
    pid = read_pid(pidfile)
    return pid if is_our_process(pid, marker, proc) else None


# ----------------------------------------------------------------- state


def tail(path: str, n: int = 25) -> str:
    """The last n lines of a log file, or "" when it cannot be read."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return "".join(fh.readlines()[-n:])
    except OSError:
        return ""


def load_state(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return {}


def save_json(path: str, data: dict) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, sort_keys=True)
        fh.write("\n")
    os.replace(tmp, path)


def write_text(path: str, text: str, mode: int = 0o644) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


# ----------------------------------------------------------------- locks


@contextlib.contextmanager
def file_lock(path: str, what: str, wait: bool = True, log=None):
    """An exclusive fcntl lock; released automatically if the process dies."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            if not wait:
                raise LabError(f"another hftlab process holds the {what} lock ({path})") from exc
            if log:
                log(f"waiting for another hftlab process holding the {what} lock ({path})")
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


# ----------------------------------------------------------------- ports


def port_free(port: int, kind: str = "tcp", host: str = "127.0.0.1") -> bool:
    """True if *port* can be bound on *host* right now."""
    stype = socket.SOCK_STREAM if kind == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, stype) as s:
        if kind == "tcp":
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(kind: str = "tcp", host: str = "127.0.0.1", avoid: tuple[int, ...] = ()) -> int:
    """A port the kernel reports free (bind to 0), not in *avoid*."""
    stype = socket.SOCK_STREAM if kind == "tcp" else socket.SOCK_DGRAM
    for _attempt in range(50):
        with socket.socket(socket.AF_INET, stype) as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
        if port not in avoid:
            return port
    raise LabError(f"could not find a free {kind} port on {host}")


def choose_ssh_port(requested: int | None, preferred: int | None = None, host: str = "127.0.0.1") -> int:
    """The SSH forward port: *requested* must be free (clear error if taken);
    otherwise *preferred* if free, otherwise any free port."""
    if requested:
        if not port_free(requested, "tcp", host):
            raise LabError(
                f"port {host}:{requested} is already taken (requested via --ssh-port/HFTLAB_SSH_PORT); "
                f"free it, or omit the option to let hftlab pick a free port"
            )
        return requested
    if preferred and port_free(preferred, "tcp", host):
        return preferred
    return free_port("tcp", host)


def tcp_open(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
