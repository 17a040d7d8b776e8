# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""quantbot.hft.host_files, quantbot.hft.sriov_vfs and quantbot.hft.host_facts through main().

The modules run as Ansible runs them: their arguments through
``ansible.module_utils.testing.patch_module_args`` (check and diff mode as
``_ansible_check_mode`` / ``_ansible_diff``), their result read from stdout.
They work on trees under tmp_path; ``digest`` proves that a run wrote nothing.
"""

from __future__ import annotations

import json
import os
import stat

import pytest

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.quantbot.hft.plugins.modules import host_facts, host_files, sriov_vfs

from test_hostfacts import FakeRun, make_host
from test_sriov import fixture as sriov_fixture, make_tree


def run_module(capsys, module, args, check=False, diff=False):
    """(exit code, result) of one module run."""
    args = dict(args, _ansible_check_mode=check, _ansible_diff=diff)
    with patch_module_args(args):
        with pytest.raises(SystemExit) as exc:
            module.main()
    out = capsys.readouterr().out
    return exc.value.code, json.loads(out)


# ==========================================================================
# host_files
# ==========================================================================
def files(capsys, entries, check=False, diff=False, **args):
    return run_module(capsys, host_files, dict(args, files=entries), check=check, diff=diff)


def mode_of(path):
    return stat.S_IMODE(os.stat(str(path)).st_mode)


def test_host_files_writes_with_parents(capsys, tmp_path):
    dest = tmp_path / "etc" / "tuned" / "quantbot-hft" / "tuned.conf"
    other = tmp_path / "etc" / "other.conf"
    code, result = files(capsys, [{"dest": str(dest), "content": "[main]\ninclude=cpu-partitioning\n"},
                                  {"dest": str(other), "content": "x"}], directory_mode="0750")
    assert code == 0, result
    assert result["changed"] is True and result["changed_files"] == [str(dest), str(other)]
    # final_newline (default true): a content without a final newline gets one.
    assert dest.read_text() == "[main]\ninclude=cpu-partitioning\n" and other.read_text() == "x\n"
    assert mode_of(dest) == 0o644 and os.stat(str(dest)).st_uid == 0 and os.stat(str(dest)).st_gid == 0
    # The parents it created have directory_mode.
    assert mode_of(dest.parent) == 0o750 and mode_of(dest.parent.parent) == 0o750 and mode_of(tmp_path / "etc") == 0o750
    assert "diff" not in result


def test_host_files_sets_mode_and_owner_of_an_existing_file(capsys, tmp_path):
    secret = tmp_path / "secret.conf"
    secret.write_text("old")
    os.chmod(str(secret), 0o644)
    code, result = files(capsys, [{"dest": str(secret), "content": "new", "mode": "0600", "owner": "1234",
                                   "group": "2345"}])
    assert code == 0 and result["changed_files"] == [str(secret)]
    info = os.stat(str(secret))
    assert stat.S_IMODE(info.st_mode) == 0o600 and info.st_uid == 1234 and info.st_gid == 2345
    assert secret.read_text() == "new\n"


def test_host_files_creates_a_file_with_its_mode_and_owner(capsys, tmp_path):
    script = tmp_path / "libexec" / "hugepages-alloc"
    secret = tmp_path / "secret.conf"
    code, result = files(capsys, [{"dest": str(script), "content": "#!/bin/sh\n", "mode": "0755"},
                                  {"dest": str(secret), "content": "s", "mode": "0600", "owner": "1234"}])
    assert code == 0
    assert mode_of(script) == 0o755
    assert mode_of(secret) == 0o600 and os.stat(str(secret)).st_uid == 1234


def test_host_files_is_idempotent_and_fixes_mode_and_owner_alone(capsys, tmp_path):
    dest = tmp_path / "a.conf"
    entry = {"dest": str(dest), "content": "a\n"}
    assert files(capsys, [entry])[1]["changed"] is True
    code, result = files(capsys, [entry])
    assert code == 0 and result["changed"] is False and result["changed_files"] == []
    os.chmod(str(dest), 0o666)
    code, result = files(capsys, [entry])
    assert result["changed_files"] == [str(dest)] and mode_of(dest) == 0o644
    os.chown(str(dest), 1234, 0)
    assert files(capsys, [entry])[1]["changed"] is True and os.stat(str(dest)).st_uid == 0
    assert files(capsys, [entry])[1]["changed"] is False


def test_host_files_replaces_atomically(capsys, tmp_path):
    dest = tmp_path / "d" / "f.conf"
    dest.parent.mkdir()
    dest.write_text("old\n")
    keep = tmp_path / "d" / "old-inode"
    os.link(str(dest), str(keep))
    inode = os.stat(str(dest)).st_ino
    code, result = files(capsys, [{"dest": str(dest), "content": "new\n"}])
    assert code == 0 and dest.read_text() == "new\n"
    # A rename of a new file, not a write into the old one: the old inode still holds the old text.
    assert os.stat(str(dest)).st_ino != inode and keep.read_text() == "old\n"
    assert sorted(os.listdir(str(dest.parent))) == ["f.conf", "old-inode"]  # no temporary file left


def test_host_files_check_mode_writes_nothing(capsys, tmp_path, digest):
    (tmp_path / "etc").mkdir()
    existing = tmp_path / "etc" / "e.conf"
    existing.write_text("before\n")
    gone = tmp_path / "etc" / "gone.conf"
    gone.write_text("x\n")
    before = digest(str(tmp_path))
    entries = [{"dest": str(tmp_path / "new" / "dir" / "n.conf"), "content": "n\n"},
               {"dest": str(existing), "content": "after\n"},
               {"dest": str(gone), "state": "absent"}]
    code, result = files(capsys, entries, check=True, diff=True)
    assert code == 0 and result["changed"] is True
    assert result["changed_files"] == [e["dest"] for e in entries]
    assert digest(str(tmp_path)) == before
    assert not (tmp_path / "new").exists()
    assert result["diff"][1] == {"before_header": str(existing), "after_header": str(existing),
                                 "before": "before\n", "after": "after\n"}


def test_host_files_diff(capsys, tmp_path):
    dest = tmp_path / "x.conf"
    dest.write_text("one\n")
    code, result = files(capsys, [{"dest": str(dest), "content": "two\n"},
                                  {"dest": str(tmp_path / "y.conf"), "content": "y\n"}], diff=True)
    assert result["diff"] == [
        {"before_header": str(dest), "after_header": str(dest), "before": "one\n", "after": "two\n"},
        {"before_header": str(tmp_path / "y.conf"), "after_header": str(tmp_path / "y.conf"), "before": "",
         "after": "y\n"}]


def test_host_files_absent_and_prune(capsys, tmp_path):
    role = tmp_path / "usr" / "libexec" / "quantbot-hft"
    (role / "sub").mkdir(parents=True)
    (role / "sub" / "a").write_text("a")
    shared = tmp_path / "etc" / "shared"
    shared.mkdir(parents=True)
    (shared / "mine").write_text("m")
    (shared / "theirs").write_text("t")
    code, result = files(capsys, [{"dest": str(role / "sub" / "a")}, {"dest": str(shared / "mine")},
                                  {"dest": str(tmp_path / "never-there")}],
                         state="absent", prune=[str(role), str(role / "sub"), str(shared)])
    assert code == 0, result
    # Deepest first: sub, then its now empty parent; the shared directory still holds another role's file.
    assert result["changed_files"] == [str(role / "sub" / "a"), str(shared / "mine"), str(role / "sub") + "/",
                                       str(role) + "/"]
    assert not role.exists() and sorted(os.listdir(str(shared))) == ["theirs"]
    code, result = files(capsys, [{"dest": str(shared / "mine")}], state="absent", prune=[str(role)])
    assert result["changed"] is False


def test_host_files_state_per_entry_overrides_the_default(capsys, tmp_path):
    keep = tmp_path / "keep"
    drop = tmp_path / "drop"
    drop.write_text("d")
    code, result = files(capsys, [{"dest": str(keep), "content": "k", "state": "present"},
                                  {"dest": str(drop)}], state="absent")
    assert code == 0 and keep.read_text() == "k\n" and not drop.exists()


def test_host_files_final_newline_false_writes_the_content_exactly(capsys, tmp_path):
    exact = tmp_path / "exact"
    code, result = files(capsys, [{"dest": str(exact), "content": "no newline"}], final_newline=False)
    assert code == 0 and exact.read_bytes() == b"no newline"
    # The default adds one, and a file that has it already is unchanged (idempotent).
    code, result = files(capsys, [{"dest": str(exact), "content": "no newline"}])
    assert result["changed"] is True and exact.read_bytes() == b"no newline\n"
    code, result = files(capsys, [{"dest": str(exact), "content": "no newline"}])
    assert result["changed"] is False


def test_host_files_check_mode_reports_the_prune_the_real_run_does(capsys, tmp_path):
    role = tmp_path / "role"
    role.mkdir()
    (role / "a").write_text("a")
    args = dict(state="absent", prune=[str(role)])
    dummy, checked = files(capsys, [{"dest": str(role / "a")}], check=True, **args)
    dummy, real = files(capsys, [{"dest": str(role / "a")}], **args)
    assert checked["changed_files"] == real["changed_files"]


@pytest.mark.parametrize("entry, extra, message", [
    ({"mode": "0999"}, {}, "mode of {dest} must be an octal mode such as \"0644\", got '0999'"),
    ({"mode": "rw-r--r--"}, {}, "mode of {dest} must be an octal mode such as \"0644\", got 'rw-r--r--'"),
    ({"mode": "17777"}, {}, "mode of {dest} must be an octal mode such as \"0644\", got '17777'"),
    ({}, {"directory_mode": "0x755"}, "directory_mode must be an octal mode such as \"0644\", got '0x755'"),
    ({"dest": "etc/quantbot.conf"}, {}, "files: dest must be an absolute path, got 'etc/quantbot.conf'"),
    ({"content": None}, {}, "files: {dest} needs a content (or state: absent)"),
])
def test_host_files_bad_input_is_refused_naming_the_value_before_any_change(
        capsys, tmp_path, digest, entry, extra, message):
    (tmp_path / "first.conf").write_text("old")
    dest = str(tmp_path / "x.conf")
    bad = dict({"dest": dest, "content": "x"}, **entry)
    before = digest(str(tmp_path))
    code, result = files(capsys, [{"dest": str(tmp_path / "first.conf"), "content": "new"}, bad], **extra)
    assert code == 1 and result["failed"] is True
    assert result["msg"] == "host_files: " + message.format(dest=dest)
    assert digest(str(tmp_path)) == before


def test_host_files_a_file_listed_twice_is_refused(capsys, tmp_path):
    dest = str(tmp_path / "x")
    code, result = files(capsys, [{"dest": dest, "content": "a"}, {"dest": dest, "content": "b"}])
    assert code == 1 and result["msg"] == "host_files: files: %s is listed twice" % dest
    assert not os.path.exists(dest)


def test_host_files_an_unknown_owner_is_refused_before_any_change(capsys, tmp_path, digest):
    before = digest(str(tmp_path))
    code, result = files(capsys, [{"dest": str(tmp_path / "a"), "content": "a"},
                                  {"dest": str(tmp_path / "b"), "content": "b", "owner": "no-such-user-hft"}])
    assert code == 1 and "no-such-user-hft" in result["msg"]
    assert digest(str(tmp_path)) == before


def test_host_files_an_unknown_owner_fails_naming_it(capsys, tmp_path):
    code, result = files(capsys, [{"dest": str(tmp_path / "b"), "content": "b", "group": "no-such-group-hft"}])
    assert code == 1 and "no-such-group-hft" in result["msg"] and not (tmp_path / "b").exists()


def test_host_files_mode_as_a_yaml_integer(capsys, tmp_path):
    dest = tmp_path / "m.conf"
    dest.write_text("old")  # an existing file: its mode is the one host_files sets
    code, result = files(capsys, [{"dest": str(dest), "content": "m", "mode": 0o644}])
    assert code == 1 or mode_of(dest) == 0o644


# ==========================================================================
# sriov_vfs
# ==========================================================================
@pytest.fixture
def ip_link(monkeypatch):
    """`ip -j link show` answers from the sriov fixtures; every argv is recorded."""
    calls = []
    answer = {"show": "ip-j-link-igb-2vfs-default.json"}

    def fake(self, args, **kwargs):
        calls.append(list(args))
        if list(args[:3]) == ["ip", "-j", "link"]:
            return 0, sriov_fixture(answer["show"]), ""
        return 0, "", ""
    monkeypatch.setattr(AnsibleModule, "run_command", fake)
    return calls, answer


def test_sriov_vfs_check_mode_plans_and_writes_nothing(capsys, tmp_path, digest, ip_link):
    calls, dummy = ip_link
    root = make_tree(tmp_path / "sys", {"enp65s0": {"totalvfs": 7, "numvfs": 0}})
    before = digest(str(root))
    code, result = run_module(capsys, sriov_vfs, {"pfs": [{"name": "enp65s0", "num_vfs": 2}],
                                                  "sysfs_root": str(root)}, check=True)
    assert code == 0, result
    assert result["changed"] is True
    assert result["actions"] == [{"pf": "enp65s0", "action": "set_num_vfs", "from": 0, "to": 2}]
    assert result["deferred"] == []
    assert result["pfs"] == [{"name": "enp65s0", "num_vfs": 2, "driver": "kernel", "vfs": []}]
    assert digest(str(root)) == before
    assert all(argv[:3] == ["ip", "-j", "link"] for argv in calls)  # only reads


def test_sriov_vfs_check_mode_plans_vf_settings_and_vfio(capsys, tmp_path, digest, ip_link):
    root = make_tree(tmp_path / "sys", {"enp65s0": {"totalvfs": 7, "numvfs": 2}}, iommu=True)
    before = digest(str(root))
    pfs = [{"name": "enp65s0", "num_vfs": 2, "driver": "vfio-pci",
            "vfs": [{"index": 0, "mac": "02:00:5e:10:00:01", "trust": True}]}]
    code, result = run_module(capsys, sriov_vfs, {"pfs": pfs, "sysfs_root": str(root)}, check=True)
    assert code == 0, result
    actions = result["actions"]
    assert {"pf": "enp65s0", "action": "set_vf", "vf": 0, "settings": {"mac": "02:00:5e:10:00:01", "trust": True}} \
        in actions
    assert [a["vf"] for a in actions if a["action"] == "bind"] == [0, 1]
    assert digest(str(root)) == before


def test_sriov_vfs_check_mode_on_a_matching_host_changes_nothing(capsys, tmp_path, ip_link):
    dummy, answer = ip_link
    answer["show"] = "ip-j-link-igb-2vfs-configured.json"
    root = make_tree(tmp_path / "sys", {"enp65s0": {"totalvfs": 7, "numvfs": 2}})
    vf0 = {"index": 0, "mac": "02:00:5e:10:00:01", "vlan": 100, "trust": True, "spoofchk": False}
    code, result = run_module(capsys, sriov_vfs, {"pfs": [{"name": "enp65s0", "num_vfs": 2, "vfs": [vf0]}],
                                                  "sysfs_root": str(root)}, check=True)
    assert code == 0 and result["changed"] is False and result["actions"] == []


@pytest.mark.parametrize("pfs, needle", [
    ([{"name": "ens9", "num_vfs": 2}], "ens9"),
    ([{"name": "enp65s0", "num_vfs": 8}], "8"),
    ([{"name": "enp65s0", "num_vfs": -1}], "-1"),
    ([{"name": "enp65s0", "num_vfs": 1, "vfs": [{"index": 0, "mac": "zz"}]}], "'zz'"),
])
def test_sriov_vfs_refuses_bad_input_naming_it(capsys, tmp_path, digest, ip_link, pfs, needle):
    root = make_tree(tmp_path / "sys", {"enp65s0": {"totalvfs": 7, "numvfs": 0}})
    before = digest(str(root))
    for check in (True, False):
        code, result = run_module(capsys, sriov_vfs, {"pfs": pfs, "sysfs_root": str(root)}, check=check)
        assert code == 1 and result["msg"].startswith("sriov: ") and needle in result["msg"], result
    assert digest(str(root)) == before


# ==========================================================================
# host_facts
# ==========================================================================
INSTALLED = ("systemctl", "grub-probe", "pmc", "rpm")


@pytest.fixture
def fake_commands(monkeypatch):
    """The read-only commands answer from FakeRun and count as installed."""
    runner = FakeRun()

    def fake(self, args, **kwargs):
        rc, out = runner(list(args))
        return rc, out, ""
    monkeypatch.setattr(AnsibleModule, "run_command", fake)
    monkeypatch.setattr(AnsibleModule, "get_bin_path",
                        lambda self, name, required=False, opt_dirs=None: "/usr/bin/" + name if name in INSTALLED
                        else None)
    return runner


def facts_args(roots, **extra):
    return dict(roots, **extra)


def test_host_facts_reads_a_tree(capsys, tmp_path, fake_commands, monkeypatch):
    monkeypatch.setattr("ansible_collections.quantbot.hft.plugins.module_utils._hostfacts.ioctl_ts_info",
                        lambda name: {"so_timestamping": 0, "phc_index": None})
    roots = make_host(tmp_path / "host")
    code, result = run_module(capsys, host_facts, facts_args(roots, packages=["tuned"],
                                                             units=["ptp4l@enp65s0.service"]), check=True)
    assert code == 0, result
    assert result["changed"] is False and result["errors"] == {}
    facts = result["host_facts"]
    assert facts["os"]["family"] == "Debian" and facts["cpus"]["isolated"] == "2-3,6-7"
    assert facts["numa"]["0"]["hugepages"]["2M"] == {"total": 64, "free": 60}
    assert facts["nics"]["enp65s0"]["vfs"][1]["driver"] == "vfio-pci"
    assert facts["packages"] == {"tuned": "2.19.0-2"}
    assert facts["kubelet"]["member"] is True and facts["kubelet"]["paths"]["dropin_dir"] == \
        "/etc/kubernetes/kubelet/kubelet.conf.d"
    assert "recorded" not in result
    systemctl = [argv for argv in fake_commands.calls if argv[0] == "systemctl"][0]
    assert systemctl[-1] == "ptp4l@enp65s0.service"


def test_host_facts_gather_and_record(capsys, tmp_path, fake_commands):
    roots = make_host(tmp_path / "host")
    code, result = run_module(capsys, host_facts, facts_args(roots, gather=["cmdline", "boot"], record=True))
    assert code == 0 and sorted(result["host_facts"]) == ["boot", "cmdline"]
    recorded = result["recorded"]
    assert recorded["files"]["/proc/cmdline"].startswith("BOOT_IMAGE=")
    assert recorded["commands"]["grub-probe --target=fs /boot/grub"] == {"rc": 0, "stdout": "ext2\n"}


def test_host_facts_kubelet_paths_option(capsys, tmp_path, fake_commands):
    roots = make_host(tmp_path / "host")
    code, result = run_module(capsys, host_facts, facts_args(roots, gather=["kubelet"],
                                                             kubelet={"member_kubeconfig": "/nope"}))
    assert code == 0
    kubelet = result["host_facts"]["kubelet"]
    # The other suboptions keep their defaults.
    assert kubelet["member"] is False and kubelet["paths"]["state_dir"] == "/var/lib/kubelet"


def test_host_facts_refuses_an_unknown_reader_and_a_relative_root(capsys, tmp_path, fake_commands):
    roots = make_host(tmp_path / "host")
    code, result = run_module(capsys, host_facts, facts_args(roots, gather=["cpus", "gpu"]))
    assert code == 1 and result["msg"].startswith("unknown host fact reader gpu; readers: ")
    code, result = run_module(capsys, host_facts, dict(roots, sysfs_root="relative/sys"))
    assert code == 1 and result["msg"] == "sysfs_root must be an absolute path, got 'relative/sys'"


def test_host_facts_reports_a_failing_reader_and_keeps_the_others(capsys, tmp_path, monkeypatch):
    runner = FakeRun({"systemctl": (1, "")})
    monkeypatch.setattr(AnsibleModule, "run_command", lambda self, args, **kw: runner(list(args)) + ("",))
    monkeypatch.setattr(AnsibleModule, "get_bin_path", lambda self, name, required=False, opt_dirs=None: name)
    roots = make_host(tmp_path / "host")
    code, result = run_module(capsys, host_facts, facts_args(roots, gather=["units", "cpus"]))
    assert code == 0 and result["errors"] == {"units": "ValueError: systemctl show exited 1"}
    assert "cpus" in result["host_facts"] and "units" not in result["host_facts"]


def test_host_facts_without_grub_probe_installed(capsys, tmp_path, monkeypatch):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    roots = make_host(tmp_path / "host")
    code, result = run_module(capsys, host_facts, facts_args(roots, gather=["boot", "cpus"]))
    assert code == 0, result
    assert result["host_facts"]["boot"]["fs"] is None and "cpus" in result["host_facts"]
