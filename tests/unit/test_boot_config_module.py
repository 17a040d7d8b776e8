# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""quantbot.hft.boot_config through main(), on a scratch root with fake GRUB tools.

The module's ``root`` option puts every path it reads and writes under
tmp_path/root (/proc/cmdline, /proc/sys/kernel/random/boot_id, /etc/default/grub.d,
/etc/grub.d, /etc/quantbot-hft, /var/lib/quantbot-hft, /boot/grub/grub.cfg).
update-grub, grub-reboot, grub-editenv and grub-probe are shell scripts first
on PATH that log their argv and act on that tree the way the real ones act on
/boot: update-grub writes grub.cfg from the drop-in (and the trial entry while
a trial is configured), grub-reboot sets next_entry in grubenv, grub-editenv
lists it, grub-probe answers what the test sets. A "reboot" is the test
writing a new boot id and command line (and clearing next_entry, as GRUB does
when it boots the one-shot entry).
"""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.quantbot.hft.plugins.module_utils._grub import (
    DROPIN,
    TRIAL_CONFIG,
    TRIAL_ENTRY_ID,
    TRIAL_SCRIPT,
    TRIAL_SCRIPT_TEXT,
    WATCHDOG_DROPIN,
)
from ansible_collections.quantbot.hft.plugins.modules import boot_config

from test_host_modules import run_module

BASE = "BOOT_IMAGE=/boot/vmlinuz-6.1.0-28-amd64 root=UUID=5f0c1a4e ro quiet"
OLD = ["nohz_full=2-3", "rcu_nocbs=2-3"]
NEW = ["isolcpus=managed_irq,2-3,6-7", "nohz_full=2-3,6-7", "rcu_nocbs=2-3,6-7"]
STATE = "/var/lib/quantbot-hft/boot_args.json"

UPDATE_GRUB = """#!/bin/sh
echo "update-grub $*" >> {log}
{{
  echo "### BEGIN /etc/grub.d/10_linux ###"
  cat {root}/etc/default/grub.d/quantbot-hft.cfg 2>/dev/null
  script={root}/etc/grub.d/45_quantbot_hft_trial
  if [ -r {root}/etc/quantbot-hft/boot-trial.cfg ] && {{ [ ! -e {bin}/honor-x ] || [ -x "$script" ]; }}; then
    echo "menuentry 'quantbot.hft trial boot' --id quantbot-hft-trial {{"
  fi
}} > {root}/boot/grub/grub.cfg
"""
GRUB_REBOOT = """#!/bin/sh
echo "grub-reboot $*" >> {log}
env={root}/boot/grub/grubenv
grep -v '^next_entry=' "$env" > "$env.new" || :
echo "next_entry=$1" >> "$env.new"
mv "$env.new" "$env"
"""
GRUB_EDITENV = """#!/bin/sh
echo "grub-editenv $*" >> {log}
[ "$1" = list ] && grep '=' {root}/boot/grub/grubenv || :
"""
GRUB_PROBE = """#!/bin/sh
echo "grub-probe $*" >> {log}
case "$1" in
  --target=fs) cat {bin}/probe-fs ;;
  --target=abstraction) cat {bin}/probe-abstraction ;;
esac
"""


class Host(object):
    """The scratch root, the fake tools and their log."""

    def __init__(self, tmp_path, monkeypatch):
        self.root = tmp_path / "root"
        self.bin = tmp_path / "bin"
        self.log = tmp_path / "commands.log"
        self.bin.mkdir()
        self.log.write_text("")
        for name, text in (("update-grub", UPDATE_GRUB), ("grub-reboot", GRUB_REBOOT),
                           ("grub-editenv", GRUB_EDITENV), ("grub-probe", GRUB_PROBE)):
            path = self.bin / name
            path.write_text(text.format(log=self.log, root=self.root, bin=self.bin))
            path.chmod(0o755)
        self.probe("ext2")
        monkeypatch.setenv("PATH", "%s:%s" % (self.bin, os.environ.get("PATH", "/usr/bin:/bin")))
        self.write("/boot/grub/grub.cfg", "### BEGIN /etc/grub.d/10_linux ###\n")
        self.write("/boot/grub/grubenv", "# GRUB Environment Block\n" + "#" * 64 + "\n")
        self.boot("boot-1", OLD)

    def path(self, logical):
        return self.root / logical.lstrip("/")

    def write(self, logical, text):
        path = self.path(logical)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def read(self, logical):
        path = self.path(logical)
        return path.read_text() if path.exists() else None

    def probe(self, fs, abstraction=""):
        (self.bin / "probe-fs").write_text(fs + "\n")
        (self.bin / "probe-abstraction").write_text(abstraction + "\n")

    def boot(self, boot_id, args):
        """A (re)boot: new boot id, this command line, and GRUB has consumed next_entry."""
        self.write("/proc/sys/kernel/random/boot_id", boot_id + "\n")
        self.write("/proc/cmdline", " ".join([BASE] + list(args)) + "\n")
        env = self.read("/boot/grub/grubenv")
        self.write("/boot/grub/grubenv", "".join(line + "\n" for line in env.splitlines()
                                                 if not line.startswith("next_entry=")))

    def commands(self):
        return [line.split() for line in self.log.read_text().splitlines()]

    def ran(self, name):
        return [argv for argv in self.commands() if argv[0] == name]

    def state(self):
        text = self.read(STATE)
        return None if text is None else json.loads(text)

    def committed(self, args):
        """A host where these arguments booted and were committed earlier."""
        self.write(DROPIN, "x")  # replaced by the module on its next write
        self.write(STATE, json.dumps({"kernel_args": list(args)}))


@pytest.fixture
def host(tmp_path, monkeypatch):
    return Host(tmp_path, monkeypatch)


def boot_config_run(capsys, host, check=False, diff=False, **args):
    args.setdefault("root", str(host.root))
    return run_module(capsys, boot_config, args, check=check, diff=diff)


def dropin_args(host):
    """The arguments the drop-in appends to GRUB_CMDLINE_LINUX ([] without that line)."""
    for line in (host.read(DROPIN) or "").splitlines():
        if line.startswith('GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX '):
            return line[len('GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX '):-1].split()
    return []


def stage_on_old(capsys, host, **args):
    """The common start: OLD committed and running, NEW staged."""
    host.committed(OLD)
    code, first = boot_config_run(capsys, host, kernel_args=OLD)  # nothing to stage: writes the drop-in of OLD
    assert code == 0 and first["reboot_required"] is False and first["trial_pending"] is False, first
    host.log.write_text("")
    return boot_config_run(capsys, host, kernel_args=NEW, **args)


# --- stage -------------------------------------------------------------------------------------------
def test_stage_a_changed_command_line_on_trial(capsys, host):
    code, result = stage_on_old(capsys, host)
    assert code == 0, result
    assert result["changed"] is True and result["loader"] == "grub"
    assert result["reboot_required"] is True
    assert result["reboot_reason"].startswith("missing from /proc/cmdline: isolcpus=managed_irq,2-3,6-7 "
                                              "nohz_full=2-3,6-7 rcu_nocbs=2-3,6-7")
    assert "no longer wanted but still in /proc/cmdline: nohz_full=2-3 rcu_nocbs=2-3" in result["reboot_reason"]
    assert result["trial_pending"] is True and result["trial_args"] == NEW
    # The default entry keeps booting what booted and passed.
    assert result["committed"] == OLD and dropin_args(host) == OLD
    assert "GRUB_DEFAULT=saved" in host.read(DROPIN)
    trial = host.read(TRIAL_CONFIG)
    assert 'QUANTBOT_TRIAL_ARGS="%s panic=10"' % " ".join(NEW) in trial
    assert 'QUANTBOT_COMMITTED_ARGS="%s"' % " ".join(OLD) in trial
    assert host.read(TRIAL_SCRIPT) == TRIAL_SCRIPT_TEXT
    assert host.state() == {"kernel_args": OLD, "trial": {"args": NEW, "boot_id": "boot-1", "reboot": True}}
    # grub.cfg was regenerated with the trial entry, then the entry selected for one boot.
    assert host.ran("update-grub") == [["update-grub"]]
    assert host.ran("grub-reboot") == [["grub-reboot", TRIAL_ENTRY_ID]]
    assert "next_entry=%s" % TRIAL_ENTRY_ID in host.read("/boot/grub/grubenv")
    assert TRIAL_ENTRY_ID in host.read("/boot/grub/grub.cfg")
    assert ["grub-probe", "--target=fs", str(host.path("/boot/grub"))] in host.commands()
    assert "grubenv next_entry=%s" % TRIAL_ENTRY_ID in result["files"]
    assert not host.path(WATCHDOG_DROPIN).exists()  # no /dev/watchdog0 on this host


def test_the_trial_script_is_executable_so_grub_mkconfig_runs_it(capsys, host):
    (host.bin / "honor-x").write_text("")
    stage_on_old(capsys, host)
    assert os.stat(str(host.path(TRIAL_SCRIPT))).st_mode & 0o111
    assert TRIAL_ENTRY_ID in host.read("/boot/grub/grub.cfg")


def test_stage_again_is_idempotent(capsys, host, digest):
    stage_on_old(capsys, host)
    host.log.write_text("")
    before = digest(str(host.root))
    code, result = boot_config_run(capsys, host, kernel_args=NEW)
    assert code == 0
    assert result["changed"] is False and result["files"] == []
    assert result["reboot_required"] is True and result["trial_pending"] is True
    assert host.ran("grub-reboot") == [] and host.ran("update-grub") == []
    assert digest(str(host.root)) == before


def test_commit_after_the_trial_booted(capsys, host):
    stage_on_old(capsys, host)
    host.boot("boot-2", NEW)
    host.log.write_text("")
    code, result = boot_config_run(capsys, host, kernel_args=NEW, action="commit")
    assert code == 0, result
    assert result["outcome"] == "committed" and result["changed"] is True
    assert result["committed"] == NEW and result["trial_pending"] is False and result["reboot_required"] is False
    assert dropin_args(host) == NEW
    assert host.read(TRIAL_CONFIG) is None
    assert host.state() == {"kernel_args": NEW}
    assert host.ran("update-grub") == [["update-grub"]] and host.ran("grub-reboot") == []
    assert TRIAL_ENTRY_ID not in host.read("/boot/grub/grub.cfg")
    # After the commit the next stage has nothing to do.
    host.log.write_text("")
    code, result = boot_config_run(capsys, host, kernel_args=NEW)
    assert result["changed"] is False and result["reboot_required"] is False and result["trial_pending"] is False
    assert host.commands() == []
    # ...and a second commit finds no trial.
    code, result = boot_config_run(capsys, host, kernel_args=NEW, action="commit")
    assert result["outcome"] == "none" and result["changed"] is False


def test_commit_after_a_fall_back_fails_naming_the_arguments_and_changes_nothing(capsys, host, digest):
    stage_on_old(capsys, host)
    host.boot("boot-2", OLD)  # the trial panicked; the reset booted the default entry
    host.log.write_text("")
    before = digest(str(host.root))
    code, result = boot_config_run(capsys, host, kernel_args=NEW, action="commit")
    assert code == 1 and result["failed"] is True
    assert result["msg"].startswith("fell back from the trial command line: the host came back on the previous "
                                    "command line, so it did not boot; not running: ")
    not_running = result["msg"].split("not running: ", 1)[1].split(";")[0].split(".")[0].split()
    assert not_running and set(not_running) <= set(NEW), result["msg"]
    # what the trial drops but the host still runs is named apart, not as "did not boot"
    dropped = [arg for arg in OLD if arg not in NEW]
    if dropped:
        assert "still running, should be gone: " + " ".join(dropped) in result["msg"], result["msg"]
    assert "The default entry still boots the previous command line (%s)" % " ".join(OLD) in result["msg"]
    assert result["files"] == []
    assert digest(str(host.root)) == before and host.commands() == []


def test_commit_before_the_reboot_fails_as_pending(capsys, host, digest):
    stage_on_old(capsys, host)
    before = digest(str(host.root))
    code, result = boot_config_run(capsys, host, kernel_args=NEW, action="commit")
    assert code == 1 and result["msg"].startswith("the host has not booted the trial command line")
    assert digest(str(host.root)) == before


def test_stage_when_the_kernel_already_runs_the_arguments_needs_no_reboot(capsys, host):
    host.boot("boot-1", NEW)
    code, result = boot_config_run(capsys, host, kernel_args=NEW)
    assert code == 0 and result["reboot_required"] is False and result["trial_pending"] is True
    assert host.read(TRIAL_CONFIG) is None and host.ran("grub-reboot") == []
    code, result = boot_config_run(capsys, host, kernel_args=NEW, action="commit")
    assert result["outcome"] == "committed" and dropin_args(host) == NEW


def test_the_watchdog_is_armed_for_the_trial_where_one_exists(capsys, host):
    host.write("/dev/watchdog0", "")
    stage_on_old(capsys, host)
    assert host.read(WATCHDOG_DROPIN).endswith("[Manager]\nRuntimeWatchdogSec=120s\n")
    host.boot("boot-2", NEW)
    boot_config_run(capsys, host, kernel_args=NEW, action="commit")
    assert host.read(WATCHDOG_DROPIN) is None


def test_stage_refuses_the_trial_where_grub_cannot_write(capsys, host, digest):
    host.committed(OLD)
    boot_config_run(capsys, host, kernel_args=OLD)
    host.probe("btrfs")
    host.log.write_text("")
    before = digest(str(host.root))
    code, result = boot_config_run(capsys, host, kernel_args=NEW)
    assert code == 1
    assert result["msg"].startswith("cannot boot the new kernel arguments on trial: /boot/grub is on btrfs, which GRUB "
                                    "cannot write")
    assert "boot_args_trial: false" in result["msg"]
    assert digest(str(host.root)) == before
    assert host.ran("update-grub") == [] and host.ran("grub-reboot") == []


@pytest.mark.parametrize("fs, abstraction, word", [
    ("ext2", "lvm", "lvm"), ("zfs", "", "zfs"), ("ext2", "diskfilter", "diskfilter")])
def test_stage_names_what_grub_cannot_write(capsys, host, fs, abstraction, word):
    host.probe(fs, abstraction)
    code, result = boot_config_run(capsys, host, kernel_args=NEW)
    assert code == 1 and "/boot/grub is on %s, which GRUB cannot write" % word in result["msg"]


def test_stage_without_trial_writes_the_default_at_once(capsys, host):
    host.committed(OLD)
    boot_config_run(capsys, host, kernel_args=OLD)
    host.probe("btrfs")
    host.log.write_text("")
    code, result = boot_config_run(capsys, host, kernel_args=NEW, trial=False)
    assert code == 0, result
    assert result["committed"] == NEW and dropin_args(host) == NEW
    assert result["trial_pending"] is False and result["reboot_required"] is True
    assert host.read(TRIAL_CONFIG) is None and host.state() == {"kernel_args": NEW}
    assert host.ran("update-grub") == [["update-grub"]] and host.ran("grub-reboot") == []
    assert host.ran("grub-probe") == []  # nothing to probe without a trial


def test_check_mode_changes_nothing(capsys, host, digest):
    host.committed(OLD)
    boot_config_run(capsys, host, kernel_args=OLD)
    host.log.write_text("")
    before = digest(str(host.root))
    code, result = boot_config_run(capsys, host, check=True, diff=True, kernel_args=NEW)
    assert code == 0 and result["changed"] is True
    assert result["reboot_required"] is True and result["trial_pending"] is True
    assert TRIAL_CONFIG in result["files"] and "grubenv next_entry=%s" % TRIAL_ENTRY_ID in result["files"]
    assert [d["after_header"] for d in result["diff"]][:1] == [TRIAL_CONFIG]
    assert digest(str(host.root)) == before
    # Only read-only commands ran.
    assert host.ran("update-grub") == [] and host.ran("grub-reboot") == []
    assert set(argv[0] for argv in host.commands()) <= {"grub-probe", "grub-editenv"}
    # Commit and absent in check mode too.
    host.boot("boot-2", OLD)
    stage_on_old(capsys, host)
    host.boot("boot-3", NEW)
    host.log.write_text("")
    before = digest(str(host.root))
    for action in ("commit", "absent"):
        code, result = boot_config_run(capsys, host, check=True, kernel_args=NEW, action=action)
        assert code == 0 and result["changed"] is True, result
    assert digest(str(host.root)) == before and host.ran("update-grub") == []


def test_absent_removes_everything_and_says_a_reboot_is_needed(capsys, host):
    stage_on_old(capsys, host)
    host.boot("boot-2", NEW)
    boot_config_run(capsys, host, kernel_args=NEW, action="commit")
    host.log.write_text("")
    code, result = boot_config_run(capsys, host, action="absent")
    assert code == 0, result
    assert result["changed"] is True and result["committed"] == []
    assert result["reboot_required"] is True
    assert result["reboot_reason"] == "no longer wanted but still in /proc/cmdline: " + " ".join(NEW)
    for logical in (DROPIN, TRIAL_SCRIPT, TRIAL_CONFIG, WATCHDOG_DROPIN, STATE):
        assert host.read(logical) is None, logical
    assert host.ran("update-grub") == [["update-grub"]]
    # Absent again: nothing left to do; after the reboot nothing to reboot for.
    host.boot("boot-3", [])
    code, result = boot_config_run(capsys, host, action="absent")
    assert result["changed"] is False and result["reboot_required"] is False


@pytest.mark.parametrize("args, needle", [
    ({"kernel_args": ["nohz_full=2-3 rcu_nocbs=2-3"]}, "kernel_args: 'nohz_full=2-3 rcu_nocbs=2-3' is not a single "
                                                       "kernel argument"),
    ({"kernel_args": ["quiet;reboot"]}, "'quiet;reboot' is not a single kernel argument"),
    ({"kernel_args": ["isolcpus=2-3", "isolcpus=4-5"]}, "kernel_args have duplicates: isolcpus"),
    ({"kernel_args": NEW, "panic_timeout": -1}, "panic_timeout must be >= 0, got -1"),
    ({"kernel_args": NEW, "watchdog_timeout": -5}, "watchdog_timeout must be >= 0, got -5"),
])
def test_bad_input_is_refused_naming_the_value_before_any_change(capsys, host, digest, args, needle):
    before = digest(str(host.root))
    code, result = boot_config_run(capsys, host, **args)
    assert code == 1 and needle in result["msg"], result
    assert digest(str(host.root)) == before and host.commands() == []


def test_a_corrupt_record_is_refused_naming_the_file(capsys, host, digest):
    host.write(STATE, "{not json")
    before = digest(str(host.root))
    code, result = boot_config_run(capsys, host, kernel_args=NEW)
    assert code == 1 and result["msg"].startswith(STATE + " is not JSON")
    assert digest(str(host.root)) == before
    host.write(STATE, '{"kernel_args": "quiet"}')
    before = digest(str(host.root))
    code, result = boot_config_run(capsys, host, kernel_args=NEW)
    assert code == 1 and "is corrupt ({'kernel_args': 'quiet'})" in result["msg"]
    assert digest(str(host.root)) == before and host.commands() == []


def test_a_failing_update_grub_is_reported(capsys, host):
    (host.bin / "update-grub").write_text("#!/bin/sh\necho 'grub-mkconfig: error: out of disk' >&2\nexit 1\n")
    code, result = boot_config_run(capsys, host, kernel_args=NEW)
    assert code == 1 and result["msg"] == "update-grub failed (rc 1): grub-mkconfig: error: out of disk"


def test_commit_after_a_fall_back_of_a_removal_only_trial_fails(capsys, host, digest):
    committed = OLD + ["skew_tick=1"]
    host.boot("boot-1", committed)
    host.committed(committed)
    boot_config_run(capsys, host, kernel_args=committed)
    code, result = boot_config_run(capsys, host, kernel_args=OLD)
    assert result["reboot_required"] is True and result["trial_pending"] is True
    host.boot("boot-2", committed)  # the trial failed; the default entry booted with skew_tick=1
    before = digest(str(host.root))
    code, result = boot_config_run(capsys, host, kernel_args=OLD, action="commit")
    assert code == 1 and "skew_tick=1" in result["msg"] and digest(str(host.root)) == before
    host.boot("boot-3", OLD)  # the next trial booted: skew_tick=1 is gone
    code, result = boot_config_run(capsys, host, kernel_args=OLD, action="commit")
    assert code == 0 and result["outcome"] == "committed" and dropin_args(host) == OLD
