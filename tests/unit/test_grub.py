# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The boot configuration rules and the trial entry (plugins/module_utils/_grub.py).

The /etc/grub.d script (TRIAL_SCRIPT_TEXT) is run for real with /bin/sh: its
two fixed paths and its /boot glob point into tmp_path, and a stand-in for
grub-mkconfig_lib provides the four functions it calls, the way grub-mkconfig
runs the scripts of /etc/grub.d (with GRUB_CMDLINE_LINUX and friends exported).
"""

from __future__ import annotations

import os
import subprocess

import pytest

from ansible_collections.quantbot.hft.plugins.module_utils._grub import (
    DROPIN,
    HEADER,
    TRIAL_CONFIG,
    TRIAL_ENTRY_ID,
    TRIAL_SCRIPT,
    TRIAL_SCRIPT_TEXT,
    grubenv_problem,
    render_dropin,
    render_trial,
    render_watchdog,
    stage,
    trial_outcome,
)

BASE = "BOOT_IMAGE=/boot/vmlinuz-6.1.0-28-amd64 root=UUID=abcd ro quiet"
OLD = ["nohz_full=2-3", "rcu_nocbs=2-3"]
NEW = ["nohz_full=2-3,6-7", "rcu_nocbs=2-3,6-7"]


def running(*args):
    return (BASE + " " + " ".join(args)).split()


# --- grubenv_problem -------------------------------------------------------------------------
@pytest.mark.parametrize("fs, abstraction, problem", [
    ("ext2", [], None),                     # grub-probe says ext2 for ext4 too
    ("ext2", None, None),
    ("xfs", [], None),
    ("ext2", ["lvm"], "/boot/grub is on lvm, which GRUB cannot write"),
    ("ext2", ["diskfilter"], "/boot/grub is on diskfilter, which GRUB cannot write"),
    ("ext2", ["cryptodisk", "lvm"], "/boot/grub is on lvm, which GRUB cannot write"),
    ("btrfs", [], "/boot/grub is on btrfs, which GRUB cannot write"),
    ("zfs", [], "/boot/grub is on zfs, which GRUB cannot write"),
    ("squash4", [], "/boot/grub is on squash4, which GRUB cannot write"),
    (None, [], "grub-probe could not tell the file system of /boot/grub"),
    (None, ["lvm"], "/boot/grub is on lvm, which GRUB cannot write"),
])
def test_grubenv_problem(fs, abstraction, problem):
    assert grubenv_problem(fs, abstraction) == problem


# --- the rendered files ------------------------------------------------------------------------
def test_dropin_with_committed_arguments():
    text = render_dropin(OLD)
    assert text.startswith(HEADER)
    assert text.splitlines()[-2:] == ["GRUB_DEFAULT=saved", 'GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX nohz_full=2-3 '
                                                            'rcu_nocbs=2-3"']
    assert TRIAL_SCRIPT in text


def test_dropin_without_committed_arguments_still_selects_saved():
    text = render_dropin([])
    assert text.splitlines()[-1] == "GRUB_DEFAULT=saved"
    assert "GRUB_CMDLINE_LINUX=" not in text


def test_trial_config_with_panic():
    text = render_trial(NEW, OLD, 10)
    assert text == HEADER + ('QUANTBOT_TRIAL_ID="quantbot-hft-trial"\n'
                             'QUANTBOT_TRIAL_ARGS="nohz_full=2-3,6-7 rcu_nocbs=2-3,6-7 panic=10"\n'
                             'QUANTBOT_COMMITTED_ARGS="nohz_full=2-3 rcu_nocbs=2-3"\n')


def test_trial_config_without_panic_and_without_committed():
    text = render_trial(NEW, [], 0)
    assert 'QUANTBOT_TRIAL_ARGS="nohz_full=2-3,6-7 rcu_nocbs=2-3,6-7"\n' in text
    assert 'QUANTBOT_COMMITTED_ARGS=""\n' in text
    assert "panic=" not in text
    assert 'panic=30"' in render_trial(NEW, [], "30")


def test_watchdog_dropin():
    assert render_watchdog(120).endswith("[Manager]\nRuntimeWatchdogSec=120s\n")


# --- stage ---------------------------------------------------------------------------------------
def test_stage_nothing_to_change():
    decision = stage(OLD, running(*OLD), {"kernel_args": OLD})
    assert decision == {"committed": OLD, "trial_args": None, "reboot_required": False, "reason": "", "missing": [],
                        "stale": []}


def test_stage_running_has_wanted_but_the_default_does_not():
    # A trial that booted and waits for its commit (or arguments booted otherwise): a trial, no reboot.
    state = {"kernel_args": OLD, "trial": {"args": NEW, "boot_id": "b1"}}
    decision = stage(NEW, running(*NEW), state)
    assert decision == {"committed": OLD, "trial_args": NEW, "reboot_required": False, "reason": "", "missing": [],
                        "stale": []}
    # The same with no record at all (first run on a host that already booted with them).
    assert stage(NEW, running(*NEW), {})["trial_args"] == NEW


def test_stage_missing_arguments_take_a_trial_and_a_reboot():
    decision = stage(NEW, running(*OLD), {"kernel_args": OLD})
    assert decision["committed"] == OLD
    assert decision["trial_args"] == NEW
    assert decision["reboot_required"] is True
    assert decision["missing"] == NEW and decision["stale"] == OLD
    assert decision["reason"] == ("missing from /proc/cmdline: nohz_full=2-3,6-7 rcu_nocbs=2-3,6-7; no longer wanted "
                                  "but still in /proc/cmdline: nohz_full=2-3 rcu_nocbs=2-3")


def test_stage_first_time_on_a_bare_host():
    decision = stage(NEW, running(), None)
    assert decision["committed"] == [] and decision["trial_args"] == NEW and decision["reboot_required"] is True
    assert decision["reason"] == "missing from /proc/cmdline: nohz_full=2-3,6-7 rcu_nocbs=2-3,6-7"


def test_stage_stale_arguments_alone_take_a_trial_and_a_reboot():
    committed = ["nohz_full=2-3", "skew_tick=1"]
    decision = stage(["nohz_full=2-3"], running(*committed), {"kernel_args": committed})
    assert decision["missing"] == [] and decision["stale"] == ["skew_tick=1"]
    assert decision["reboot_required"] is True and decision["trial_args"] == ["nohz_full=2-3"]
    assert decision["reason"] == "no longer wanted but still in /proc/cmdline: skew_tick=1"


def test_stage_a_pending_trials_arguments_count_as_set_earlier():
    # A trial of NEW booted, then the plan went back to OLD before the commit: NEW is stale.
    state = {"kernel_args": OLD, "trial": {"args": NEW, "boot_id": "b1"}}
    decision = stage(OLD, running(*NEW), state)
    assert decision["stale"] == NEW and decision["missing"] == OLD and decision["reboot_required"] is True
    # ...and when the kernel never booted the trial, going back needs nothing: the trial is dropped.
    assert stage(OLD, running(*OLD), state) == {"committed": OLD, "trial_args": None, "reboot_required": False,
                                                "reason": "", "missing": [], "stale": []}


def test_stage_arguments_the_host_has_from_elsewhere_are_not_stale():
    # skew_tick=1 runs but was never ours: not a reason to reboot.
    decision = stage(OLD, running(*(OLD + ["skew_tick=1"])), {"kernel_args": OLD})
    assert decision["reboot_required"] is False and decision["stale"] == []


def test_stage_without_trial_writes_the_default_at_once():
    decision = stage(NEW, running(*OLD), {"kernel_args": OLD}, trial=False)
    assert decision["committed"] == NEW and decision["trial_args"] is None and decision["reboot_required"] is True
    assert decision["missing"] == NEW
    decision = stage(NEW, running(*NEW), {"kernel_args": OLD}, trial=False)
    assert decision == {"committed": NEW, "trial_args": None, "reboot_required": False, "reason": "", "missing": [],
                        "stale": []}


def test_stage_pairs_hugepages_with_their_size():
    wanted = ["hugepagesz=1G", "hugepages=0:4"]
    decision = stage(wanted, running("hugepagesz=2M", "hugepages=0:4"), {"kernel_args": []})
    assert decision["missing"] == ["hugepagesz=1G", "hugepages=0:4"] and decision["reboot_required"] is True


# --- trial_outcome --------------------------------------------------------------------------------
def test_no_trial():
    assert trial_outcome({"kernel_args": OLD}, running(*OLD), "b1") == ("none", [])
    assert trial_outcome(None, running(), "b1") == ("none", [])


def test_trial_pending_before_the_reboot():
    state = {"kernel_args": OLD, "trial": {"args": NEW, "boot_id": "b1"}}
    # The trial's arguments are missing and the committed ones it drops still run.
    assert trial_outcome(state, running(*OLD), "b1") == ("pending", NEW + OLD)
    # No boot id recorded: cannot tell a reboot happened, so it is pending.
    assert trial_outcome({"trial": {"args": NEW}}, running(*OLD), "b2") == ("pending", NEW)


def test_trial_booted():
    state = {"kernel_args": OLD, "trial": {"args": NEW, "boot_id": "b1"}}
    assert trial_outcome(state, running(*NEW), "b2") == ("booted", [])
    # A trial without reboot (the kernel already runs the arguments) counts as booted at once.
    assert trial_outcome(state, running(*NEW), "b1") == ("booted", [])


def test_trial_fell_back():
    state = {"kernel_args": OLD, "trial": {"args": NEW, "boot_id": "b1"}}
    assert trial_outcome(state, running(*OLD), "b2") == ("fell_back", NEW + OLD)
    # Only part of the trial booted (an argument init dropped, say): fell back, naming that one.
    assert trial_outcome(state, running(NEW[0]), "b2") == ("fell_back", [NEW[1]])


def test_a_trial_that_removes_an_argument_and_fell_back_is_not_booted():
    committed = ["nohz_full=2-3", "skew_tick=1"]
    state = {"kernel_args": committed, "trial": {"args": ["nohz_full=2-3"], "boot_id": "b1", "reboot": True}}
    # The host reset during the trial and booted the default entry: skew_tick=1 is still there.
    assert trial_outcome(state, running(*committed), "b2") == ("fell_back", ["skew_tick=1"])
    # Before the reboot it is pending; once the argument is gone it booted.
    assert trial_outcome(state, running(*committed), "b1") == ("pending", ["skew_tick=1"])
    assert trial_outcome(state, running("nohz_full=2-3"), "b2") == ("booted", [])


# --- the /etc/grub.d script, run ----------------------------------------------------------------
STUB_LIB = r"""# stand-in for /usr/share/grub/grub-mkconfig_lib (the functions 45_quantbot_hft_trial calls)
grub_file_is_not_garbage () {
  if test -f "$1" ; then
    case "$1" in
      *.dpkg-*|*.rpmsave|*.rpmnew|*.bak|*~|*.sig) return 1 ;;
    esac
  else
    return 1
  fi
  return 0
}
version_find_latest () {
  printf '%s\n' "$@" | sort -V | tail -n 1
}
make_system_path_relative_to_its_root () {
  echo "/boot"
}
prepare_grub_to_access_device () {
  echo "insmod part_gpt"
  echo "search --no-floppy --fs-uuid --set=root boot-of-$1"
}
"""


def test_the_script_parses():
    assert TRIAL_SCRIPT_TEXT.startswith(HEADER + "#")
    proc = subprocess.run(["/bin/sh", "-n"], input=TRIAL_SCRIPT_TEXT, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    broken = subprocess.run(["/bin/sh", "-n"], input=TRIAL_SCRIPT_TEXT + "\nif then\n", capture_output=True,
                            text=True, check=False)
    assert broken.returncode != 0  # the parse check itself can fail


def install(tmp_path, kernels=("vmlinuz-6.1.0-27-amd64", "vmlinuz-6.1.0-28-amd64", "vmlinuz-6.1.0-29-amd64.dpkg-tmp",
                               "initrd.img-6.1.0-28-amd64", "initrd.img-6.1.0-27-amd64")):
    """The script with its paths moved under tmp_path; returns (script, trial config path, boot dir)."""
    boot = tmp_path / "boot"
    boot.mkdir()
    for name in kernels:
        (boot / name).write_text("")
    lib = tmp_path / "grub-mkconfig_lib"
    lib.write_text(STUB_LIB)
    conf = tmp_path / "etc" / "boot-trial.cfg"
    text = TRIAL_SCRIPT_TEXT
    for old, new in ((TRIAL_CONFIG, str(conf)), ("${datarootdir}/grub/grub-mkconfig_lib", str(lib)),
                     ("for i in /boot/vmlinuz-* /vmlinuz-*; do", "for i in %s/vmlinuz-*; do" % boot)):
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    script = tmp_path / "45_quantbot_hft_trial"
    script.write_text(text)
    script.chmod(0o755)
    return script, conf, boot


def run_script(script, **env):
    environ = {"PATH": os.environ["PATH"], "GRUB_DEVICE": "/dev/sda2", "GRUB_DEVICE_UUID": "abcd",
               "GRUB_DEVICE_BOOT": "/dev/sda1", "GRUB_CMDLINE_LINUX_DEFAULT": "quiet"}
    environ.update(env)
    proc = subprocess.run(["/bin/sh", str(script)], env=environ, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout, proc.stderr


def test_the_script_emits_the_trial_entry(tmp_path):
    script, conf, boot = install(tmp_path)
    conf.parent.mkdir()
    conf.write_text(render_trial(NEW, OLD, 10))
    # What update-grub exports once the drop-in appended the committed arguments.
    out, err = run_script(script, GRUB_CMDLINE_LINUX="console=ttyS0,115200 nohz_full=2-3 rcu_nocbs=2-3")
    lines = out.splitlines()
    assert lines[0] == "menuentry 'quantbot.hft trial boot (Linux 6.1.0-28-amd64)' --id %s {" % TRIAL_ENTRY_ID
    assert lines[1:3] == ["\tinsmod part_gpt", "\tsearch --no-floppy --fs-uuid --set=root boot-of-/dev/sda1"]
    linux = lines[3]
    assert linux == ("\tlinux /boot/vmlinuz-6.1.0-28-amd64 root=UUID=abcd ro console=ttyS0,115200 quiet "
                     "nohz_full=2-3,6-7 rcu_nocbs=2-3,6-7 panic=10")
    # The committed arguments are stripped; the trial ones and panic= are there once.
    tokens = linux.split()
    assert "nohz_full=2-3" not in tokens and "rcu_nocbs=2-3" not in tokens
    assert tokens.count("nohz_full=2-3,6-7") == 1 and tokens[-1] == "panic=10"
    assert lines[4:] == ["\tinitrd /boot/initrd.img-6.1.0-28-amd64", "}"]
    assert "Found quantbot.hft trial entry: nohz_full=2-3,6-7 rcu_nocbs=2-3,6-7 panic=10" in err


def test_the_script_emits_nothing_without_a_trial(tmp_path):
    script, conf, boot = install(tmp_path)
    out, err = run_script(script, GRUB_CMDLINE_LINUX="nohz_full=2-3")
    assert out == "" and err == ""


def test_the_script_emits_nothing_without_a_kernel(tmp_path):
    script, conf, boot = install(tmp_path, kernels=("vmlinuz-6.1.0-29-amd64.dpkg-tmp",))
    conf.parent.mkdir()
    conf.write_text(render_trial(NEW, [], 10))
    out, dummy = run_script(script, GRUB_CMDLINE_LINUX="")
    assert out == ""


def test_the_script_without_uuid_uses_the_device_and_finds_other_initrd_names(tmp_path):
    script, conf, boot = install(tmp_path, kernels=("vmlinuz-5.14.0-362.el9.x86_64",
                                                    "initramfs-5.14.0-362.el9.x86_64.img"))
    conf.parent.mkdir()
    conf.write_text(render_trial(["isolcpus=2-3"], [], 0))
    out, dummy = run_script(script, GRUB_CMDLINE_LINUX="crashkernel=auto", GRUB_DISABLE_LINUX_UUID="true")
    lines = out.splitlines()
    assert lines[3] == "\tlinux /boot/vmlinuz-5.14.0-362.el9.x86_64 root=/dev/sda2 ro crashkernel=auto quiet isolcpus=2-3"
    assert lines[4] == "\tinitrd /boot/initramfs-5.14.0-362.el9.x86_64.img"


def test_the_script_keeps_base_arguments_that_only_look_like_committed_ones(tmp_path):
    script, conf, boot = install(tmp_path)
    conf.parent.mkdir()
    conf.write_text(render_trial(NEW, OLD, 5))
    # nohz_full=2 is a different token from nohz_full=2-3: it stays (whole tokens are compared).
    out, dummy = run_script(script, GRUB_CMDLINE_LINUX="nohz_full=2 nohz_full=2-3", GRUB_CMDLINE_LINUX_DEFAULT="")
    linux = out.splitlines()[3].split()
    assert "nohz_full=2" in linux and "nohz_full=2-3" not in linux


def test_paths_are_the_documented_ones():
    assert DROPIN == "/etc/default/grub.d/quantbot-hft.cfg"
    assert TRIAL_SCRIPT.startswith("/etc/grub.d/45_")  # sorts after 10_linux
    assert "conf=%s\n" % TRIAL_CONFIG in TRIAL_SCRIPT_TEXT
