import pytest

from hftlab import qemu
from hftlab.state import LabError


def _argv(accel="tcg"):
    return qemu.vm_argv(
        "/usr/bin/qemu-system-x86_64",
        marker="hftlab-default",
        accel=accel,
        disk="/run/overlay.qcow2",
        console_log="/run/console.log",
        ssh_port=2222,
        udp_hft=40001,
        udp_gm=40002,
    )


def _values(argv, flag):
    return [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == flag]


def test_marker_and_machine():
    argv = _argv()
    assert _values(argv, "-name") == ["hftlab-default"]
    assert _values(argv, "-machine") == ["q35"]


def test_tcg_shape_shows_smt_and_numa():
    argv = _argv()
    assert _values(argv, "-cpu") == ["Skylake-Server"]
    assert _values(argv, "-smp") == ["8,sockets=2,cores=2,threads=2"]
    assert _values(argv, "-numa") == ["node,nodeid=0,cpus=0-3,memdev=m0", "node,nodeid=1,cpus=4-7,memdev=m1"]
    assert "tcg,thread=multi" in _values(argv, "-accel")


def test_memory_split_across_nodes():
    objs = _values(_argv(), "-object")
    assert objs == ["memory-backend-ram,id=m0,size=1536M", "memory-backend-ram,id=m1,size=1536M"]


def test_kvm_uses_host_cpu():
    argv = _argv("kvm")
    assert _values(argv, "-accel") == ["kvm"]
    assert _values(argv, "-cpu") == ["host"]


def test_no_vga_and_serial_to_file():
    argv = _argv()
    assert _values(argv, "-vga") == ["none"]
    assert _values(argv, "-serial") == ["file:/run/console.log"]


def test_ssh_forward_on_loopback_only():
    nets = _values(_argv(), "-netdev")
    assert "user,id=mgmt,hostfwd=tcp:127.0.0.1:2222-:22" in nets


def test_igb_wired_back_to_back():
    nets = _values(_argv(), "-netdev")
    assert "socket,id=hft,udp=127.0.0.1:40002,localaddr=127.0.0.1:40001" in nets
    assert "socket,id=gm,udp=127.0.0.1:40001,localaddr=127.0.0.1:40002" in nets


def test_igb_behind_pxb_on_numa_node_1():
    devs = _values(_argv(), "-device")
    assert any(d.startswith("pxb-pcie,") and "numa_node=1" in d and "bus=pcie.0" in d for d in devs)
    igbs = [d for d in devs if d.startswith("igb,")]
    assert len(igbs) == 2 and all("bus=rp" in d for d in igbs)
    ports = [d for d in devs if d.startswith("pcie-root-port,")]
    assert all("bus=pxb1" in d for d in ports)


def test_every_other_device_on_pcie0():
    # With pxb-pcie present, devices without bus= would land on it and QEMU fails.
    for d in _values(_argv(), "-device"):
        if d.startswith(("virtio-", "pxb-pcie")):
            assert "bus=pcie.0" in d


def test_parse_version():
    assert qemu.parse_version("QEMU emulator version 10.0.2 (Debian 1:10.0.2+ds-2)") == (10, 0, 2)
    assert qemu.parse_version("QEMU emulator version 7.2") == (7, 2, 0)
    with pytest.raises(LabError):
        qemu.parse_version("garbage")


def test_check_qemu_missing(monkeypatch):
    monkeypatch.delenv("HFTLAB_QEMU", raising=False)
    monkeypatch.setattr(qemu.shutil, "which", lambda _n: None)
    with pytest.raises(LabError, match="qemu-system-x86_64 not found"):
        qemu.check_qemu()


def test_check_qemu_too_old(monkeypatch):
    monkeypatch.setattr(qemu, "qemu_binary", lambda: "/usr/bin/qemu-system-x86_64")
    monkeypatch.setattr(qemu, "qemu_version", lambda _b: (7, 2, 0))
    with pytest.raises(LabError, match=">= 8.0"):
        qemu.check_qemu()


def test_last_console_line_strips_escapes(tmp_path):
    log = tmp_path / "console.log"
    log.write_bytes(b"first\r\n\x1b[0;32m  OK  \x1b[0m] Started ssh.service\r\n\r\n")
    assert qemu.last_console_line(str(log)) == "OK  ] Started ssh.service"
    assert qemu.last_console_line(str(tmp_path / "missing")) == ""


def test_looks_like_abort():
    assert qemu.looks_like_abort(-6, "")
    assert qemu.looks_like_abort(1, "qemu: iotlb_to_section: Assertion `section' failed.")
    assert not qemu.looks_like_abort(1, "qemu-system-x86_64: -device igb: bad option")


def test_accel_override(monkeypatch, tmp_path):
    monkeypatch.setenv("HFTLAB_ACCEL", "tcg")
    assert qemu.detect_accel(str(tmp_path / "a.json"), (10, 0, 2), "k", "i", str(tmp_path), print) == (
        "tcg",
        "HFTLAB_ACCEL",
    )
    monkeypatch.setenv("HFTLAB_ACCEL", "xen")
    with pytest.raises(LabError):
        qemu.detect_accel(str(tmp_path / "a.json"), (10, 0, 2), "k", "i", str(tmp_path), print)


def test_accel_verdict_cached(monkeypatch, tmp_path):
    monkeypatch.delenv("HFTLAB_ACCEL", raising=False)
    calls = []
    monkeypatch.setattr(qemu, "qemu_binary", lambda: "q")
    monkeypatch.setattr(qemu, "kvm_trial", lambda *a: calls.append(a) or ("tcg", "hang"))
    cache = str(tmp_path / "accel.json")
    assert qemu.detect_accel(cache, (10, 0, 2), "k", "i", str(tmp_path), print)[0] == "tcg"
    assert qemu.detect_accel(cache, (10, 0, 2), "k", "i", str(tmp_path), print)[0] == "tcg"
    assert len(calls) == 1
    qemu.detect_accel(cache, (10, 1, 0), "k", "i", str(tmp_path), print)  # new QEMU: try again
    assert len(calls) == 2
