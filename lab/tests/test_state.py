import os
import socket

import pytest

from hftlab import image, state


def _fake_proc(tmp_path, pid, argv):
    d = tmp_path / str(pid)
    d.mkdir()
    (d / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")
    return str(tmp_path)


def test_pidfile_roundtrip(tmp_path):
    p = str(tmp_path / "qemu.pid")
    assert state.read_pid(p) is None
    state.write_pid(p, 4242)
    assert state.read_pid(p) == 4242
    (tmp_path / "bad.pid").write_text("garbage")
    assert state.read_pid(str(tmp_path / "bad.pid")) is None


def test_our_qemu_is_recognised(tmp_path):
    proc = _fake_proc(tmp_path, 100, ["/usr/bin/qemu-system-x86_64", "-name", "hftlab-default", "-m", "3G"])
    assert state.is_our_process(100, "hftlab-default", proc)


def test_stale_pid_reused_by_other_process_is_ignored(tmp_path):
    proc = _fake_proc(tmp_path, 101, ["/usr/bin/python3", "-name", "hftlab-default"])
    assert not state.is_our_process(101, "hftlab-default", proc)


def test_other_instance_or_other_qemu_is_not_ours(tmp_path):
    proc = _fake_proc(tmp_path, 102, ["qemu-system-x86_64", "-name", "hftlab-other"])
    _fake_proc(tmp_path, 103, ["qemu-system-x86_64", "-name", "someone-else"])
    assert not state.is_our_process(102, "hftlab-default", proc)
    assert not state.is_our_process(103, "hftlab-default", proc)


def test_dead_pid_is_not_ours(tmp_path):
    assert not state.is_our_process(999999, "hftlab-default", str(tmp_path))
    assert not state.is_our_process(None, "hftlab-default", str(tmp_path))


def test_live_pid(tmp_path):
    proc = tmp_path / "proc"
    proc.mkdir()
    _fake_proc(proc, 200, ["qemu-system-x86_64", "-name", "hftlab-default"])
    pidfile = str(tmp_path / "qemu.pid")
    state.write_pid(pidfile, 200)
    assert state.live_pid(pidfile, "hftlab-default", str(proc)) == 200
    state.write_pid(pidfile, 201)
    assert state.live_pid(pidfile, "hftlab-default", str(proc)) is None


def test_port_checks():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        taken = s.getsockname()[1]
        assert not state.port_free(taken)
        with pytest.raises(state.LabError, match=f"{taken} is already taken"):
            state.choose_ssh_port(taken)
        assert state.choose_ssh_port(None, preferred=taken) != taken
    port = state.free_port("tcp")
    assert state.port_free(port)
    assert state.choose_ssh_port(port) == port
    udp = state.free_port("udp", avoid=(port,))
    assert udp != port and state.port_free(udp, "udp")


def test_lock_is_exclusive(tmp_path):
    lock = str(tmp_path / "x.lock")
    with state.file_lock(lock, "test"):
        pid = os.fork()
        if pid == 0:  # child: non-blocking attempt must fail while the parent holds it
            try:
                with state.file_lock(lock, "test", wait=False):
                    os._exit(1)
            except state.LabError:
                os._exit(0)
        status = os.waitpid(pid, 0)[1]
        assert os.waitstatus_to_exitcode(status) == 0


def test_recipe_key_changes_with_inputs():
    base = image.recipe_key({"customize.sh": b"a", "packages.txt": b"ssh"}, "http://m/debian")
    assert base == image.recipe_key({"packages.txt": b"ssh", "customize.sh": b"a"}, "http://m/debian")
    assert base != image.recipe_key({"customize.sh": b"b", "packages.txt": b"ssh"}, "http://m/debian")
    assert base != image.recipe_key({"customize.sh": b"a", "packages.txt": b"ssh"}, "http://other/debian")
    assert base != image.recipe_key({"customize.sh": b"a", "packages.txt": b"ssh"}, "http://m/debian", "v2")
    assert len(base) == 16


def test_current_recipe_key_covers_recipe_files():
    names = [os.path.basename(f) for f in image.recipe_files()]
    for n in ("customize.sh", "firstboot.sh", "packages.txt", "apt-cache.txt", "gm.conf"):
        assert n in names


def test_mounts_under():
    text = (
        "proc /proc proc rw 0 0\n"
        "proc /cache/x.build/tree/proc proc rw 0 0\n"
        "sysfs /cache/x.build/tree/sys sysfs rw 0 0\n"
        "tmpfs /cache/x.build/treeish tmpfs rw 0 0\n"
    )
    assert image.mounts_under("/cache/x.build/tree", text) == ["/cache/x.build/tree/proc", "/cache/x.build/tree/sys"]


def test_read_list(tmp_path):
    f = tmp_path / "p.txt"
    f.write_text("# comment\nssh  # trailing\n\npython3\n")
    assert image.read_list(str(f)) == ["ssh", "python3"]
