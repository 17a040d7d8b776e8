#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r"""
module: boot_config
short_description: Put kernel arguments into the boot configuration, with a trial boot that falls back by itself
version_added: 0.2.0
description:
  - The one owner of the kernel arguments in the boot configuration (used by the C(quantbot.hft.boot_args) role).
  - On Debian (GRUB, C(update-grub)) the arguments that booted and passed (the I(committed) ones) live in the drop-in
    C(/etc/default/grub.d/quantbot-hft.cfg), which also sets C(GRUB_DEFAULT=saved). A new command line first boots
    once as a trial entry of our own (C(/etc/grub.d/45_quantbot_hft_trial), menu entry id C(quantbot-hft-trial)), with
    C(panic=<s>) added so that a kernel panic reboots, selected with C(grub-reboot) for one boot. GRUB clears the
    one-shot selection as it boots it, so any reset during the trial boots the last committed command line again.
  - O(action=stage) (before the reboot) stages the trial when O(kernel_args) differ from what the default entry boots.
    The result says whether a reboot is needed, comparing the running C(/proc/cmdline) with O(kernel_args) (missing
    arguments, and arguments set earlier and no longer wanted that are still running). Where a hardware watchdog
    exists (C(/dev/watchdog0)) and O(watchdog_timeout) is set, systemd arms it for the trial boot
    (C(RuntimeWatchdogSec)), so a hang after systemd started falls back too.
  - O(action=commit) (after the reboot and the post-boot checks) makes the trial command line the default, without
    another reboot. It fails, changing nothing, when the host came back on the previous command line (a panic, a hang,
    an argument the kernel or init refused); the message names the arguments that did not boot.
  - O(action=absent) removes everything the module wrote; the result says whether a reboot is needed for the
    running kernel to lose the arguments.
  - The trial needs GRUB to save its environment (C(next_entry)); on C(/boot) on LVM, RAID (diskfilter), btrfs or ZFS
    it cannot, and the module refuses the trial with a message naming the file system. O(trial=false) then writes
    the new arguments straight into the default entry (no fallback).
  - RHEL family (C(grubby), BLS entries; documented, not tested) - O(loader=grubby) adds and removes the arguments on
    every installed kernel and supports no trial (set O(trial=false)). The equivalent trial there is
    C(grubby --add-kernel=<kernel> --copy-default --title=trial --args=<new>) plus C(grub2-reboot trial).
author:
  - quantbot.hft maintainers (@quantbot)
extends_documentation_fragment:
  - quantbot.hft.attributes
  - quantbot.hft.attributes.platform
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    platforms: linux
options:
  kernel_args:
    description: The kernel arguments this module owns, in order (the plan's C(kernel_args) plus any extra ones).
    type: list
    elements: str
    default: []
  action:
    description: V(stage) before the reboot, V(commit) after it and the post-boot checks, V(absent) to remove them.
    type: str
    choices: [stage, commit, absent]
    default: stage
  trial:
    description: Boot a changed command line once on trial before it becomes the default.
    type: bool
    default: true
  panic_timeout:
    description: Seconds after a kernel panic before the trial boot reboots (C(panic=<s>)); 0 leaves it out.
    type: int
    default: 10
  watchdog_timeout:
    description: C(RuntimeWatchdogSec) for the trial boot when a hardware watchdog exists; 0 does not arm it.
    type: int
    default: 120
  loader:
    description: V(auto) picks V(grub) when C(update-grub) exists, else V(grubby).
    type: str
    choices: [auto, grub, grubby]
    default: auto
  state_file:
    description: The record of the committed and trial arguments (state, not configuration).
    type: path
    default: /var/lib/quantbot-hft/boot_args.json
  root:
    description: Prefix of every path the module reads and writes (tests run it on a scratch tree).
    type: path
    default: /
seealso:
  - module: quantbot.hft.node_topology
  - name: GRUB manual, Simple configuration (GRUB_DEFAULT=saved, grub-reboot)
    link: https://www.gnu.org/software/grub/manual/grub/html_node/Simple-configuration.html
    description: How saved_entry and next_entry select the boot entry.
"""

EXAMPLES = r"""
- name: Stage the plan's arguments (a trial boot when they changed)
  quantbot.hft.boot_config:
    kernel_args: "{{ hft_plan.kernel_args }}"
  register: __boot

- name: After the reboot and the post-boot checks, make the trial command line the default
  quantbot.hft.boot_config:
    kernel_args: "{{ hft_plan.kernel_args }}"
    action: commit
  when: __boot.trial_pending

- name: Offboarding, remove every argument this module set
  quantbot.hft.boot_config:
    action: absent
"""

RETURN = r"""
reboot_required:
  description: A reboot is needed for the running kernel to match (stage, absent).
  returned: success
  type: bool
reboot_reason:
  description: Why, naming the arguments.
  returned: success
  type: str
  sample: "missing from /proc/cmdline: nohz_full=2-3,6-7"
trial_pending:
  description: A trial is staged and waits for its commit (after the reboot and the post-boot checks).
  returned: success
  type: bool
trial_args:
  description: The arguments of the pending trial (without C(panic=)).
  returned: success
  type: list
  elements: str
committed:
  description: The arguments the default entry boots after this run.
  returned: success
  type: list
  elements: str
outcome:
  description: For O(action=commit), V(committed), V(none) (no trial pending), or V(fell_back) (the task failed).
  returned: success
  type: str
files:
  description: The files written or removed.
  returned: success
  type: list
  elements: str
"""

import json
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.quantbot.hft.plugins.module_utils._cmdline import arg_problems, tokens
from ansible_collections.quantbot.hft.plugins.module_utils._grub import (
    DROPIN,
    TRIAL_CONFIG,
    TRIAL_ENTRY_ID,
    TRIAL_SCRIPT,
    TRIAL_SCRIPT_TEXT,
    WATCHDOG_DROPIN,
    GrubError,
    grubenv_problem,
    render_dropin,
    render_trial,
    render_watchdog,
    stage,
    trial_outcome,
)


class BootConfig(object):
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.root = self.params["root"]
        self.changed_files = []
        self.diff = []

    def path(self, logical):
        return os.path.join(self.root, logical.lstrip("/"))

    def read(self, logical):
        try:
            with open(self.path(logical)) as handle:
                return handle.read()
        except (IOError, OSError):
            return None

    def run(self, argv, what):
        rc, out, err = self.module.run_command(argv, check_rc=False)
        if rc != 0:
            raise GrubError("%s failed (rc %s): %s" % (what, rc, (err or out).strip()[-800:]))
        return out

    def put(self, logical, content, mode=0o644):
        """Write (content) or remove (None) a file; record the change; nothing in check mode."""
        before = self.read(logical)
        path = self.path(logical)
        if before == content:
            if content is not None and (os.stat(path).st_mode & 0o7777) != mode:
                self.changed_files.append(logical + " (mode)")
                if not self.module.check_mode:
                    os.chmod(path, mode)
                return True
            return False
        self.changed_files.append(logical)
        self.diff.append({"before_header": logical, "after_header": logical, "before": before or "",
                          "after": content or ""})
        if self.module.check_mode:
            return True
        if content is None:
            os.remove(path)
            return True
        directory = os.path.dirname(path)
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o755)
        tmp = path + ".quantbot-tmp"
        with open(tmp, "w") as handle:
            handle.write(content)
        self.module.atomic_move(tmp, path)
        # atomic_move gives a file it creates the default mode: set ours (the trial script must be executable).
        os.chmod(path, mode)
        return True

    def state(self):
        text = self.read(self.params["state_file"])
        if text is None:
            return {}
        try:
            data = json.loads(text)
        except ValueError:
            raise GrubError("%s is not JSON; it must hold {\"kernel_args\": [...]}. Fix or remove it by hand"
                            % self.params["state_file"])
        if not isinstance(data, dict) or not isinstance(data.get("kernel_args", []), list):
            raise GrubError("%s is corrupt (%r); it must hold {\"kernel_args\": [...]}" % (self.params["state_file"],
                                                                                           data))
        return data

    def save_state(self, committed, trial):
        data = {"kernel_args": committed}
        if trial:
            data["trial"] = trial
        return self.put(self.params["state_file"], json.dumps(data, indent=2, sort_keys=True) + "\n")

    def loader(self):
        wanted = self.params["loader"]
        if wanted != "auto":
            return wanted
        return "grub" if self.module.get_bin_path("update-grub") or self.module.get_bin_path("grub-mkconfig") \
            else "grubby"

    def update_grub(self):
        if self.module.check_mode:
            return
        update = self.module.get_bin_path("update-grub")
        if update:
            self.run([update], "update-grub")
        else:
            self.run([self.module.get_bin_path("grub-mkconfig", required=True), "-o", "/boot/grub/grub.cfg"],
                     "grub-mkconfig")

    def grubenv(self):
        editenv = self.module.get_bin_path("grub-editenv")
        if not editenv:
            return {}
        rc, out, dummy = self.module.run_command([editenv, "list"], check_rc=False)
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line) if rc == 0 else {}

    def writable_problem(self):
        probe = self.module.get_bin_path("grub-probe")
        if not probe:
            return "grub-probe is not installed"
        grubdir = "/boot/grub" if os.path.isdir(self.path("/boot/grub")) else "/boot/grub2"
        rc, fs, dummy = self.module.run_command([probe, "--target=fs", self.path(grubdir)], check_rc=False)
        rc2, abstraction, dummy = self.module.run_command([probe, "--target=abstraction", self.path(grubdir)],
                                                          check_rc=False)
        return grubenv_problem(fs.strip() if rc == 0 else None, abstraction.split() if rc2 == 0 else [])

    def grub_cfg_stale(self, committed, trial):
        """True when grub.cfg does not reflect the drop-in and the trial (an update-grub that failed or never ran)."""
        cfg = self.read("/boot/grub/grub.cfg")
        if cfg is None:
            return True
        if committed and " ".join(committed) not in cfg:
            return True
        return (TRIAL_ENTRY_ID in cfg) != bool(trial)

    def watchdog_present(self):
        return os.path.exists(self.path("/dev/watchdog0")) or os.path.exists(self.path("/dev/watchdog"))

    # actions ------------------------------------------------------------------
    def running(self):
        return tokens(self.read("/proc/cmdline") or "")

    def boot_id(self):
        return (self.read("/proc/sys/kernel/random/boot_id") or "").strip()

    def stage_grub(self, wanted):
        state = self.state()
        decision = stage(wanted, self.running(), state, trial=self.params["trial"])
        trial_args = decision["trial_args"]
        if trial_args is not None and decision["reboot_required"]:
            problem = self.writable_problem()
            if problem:
                raise GrubError("cannot boot the new kernel arguments on trial: %s, so grub-reboot cannot select a "
                                "one-shot entry and a failed boot could not fall back. Set boot_args_trial: false to "
                                "write them straight into the default entry (no automatic fallback)" % problem)
        trial = None
        if trial_args is not None:
            old = state.get("trial") or {}
            same = old.get("args") == trial_args
            trial = {"args": trial_args, "boot_id": old.get("boot_id") if same else self.boot_id(),
                     "reboot": decision["reboot_required"]}
        changed = self.put(DROPIN, render_dropin(decision["committed"]))
        changed |= self.put(TRIAL_SCRIPT, TRIAL_SCRIPT_TEXT, 0o755)
        changed |= self.put(TRIAL_CONFIG, render_trial(trial_args, decision["committed"], self.params["panic_timeout"])
                            if trial_args is not None and decision["reboot_required"] else None)
        arm = trial_args is not None and decision["reboot_required"] and self.params["watchdog_timeout"] > 0 \
            and self.watchdog_present()
        self.put(WATCHDOG_DROPIN, render_watchdog(self.params["watchdog_timeout"]) if arm else None)
        self.save_state(decision["committed"], trial)
        if changed or self.grub_cfg_stale(decision["committed"], trial_args is not None and decision["reboot_required"]):
            self.update_grub()
        if trial_args is not None and decision["reboot_required"] \
                and self.grubenv().get("next_entry") != TRIAL_ENTRY_ID:
            self.changed_files.append("grubenv next_entry=%s" % TRIAL_ENTRY_ID)
            if not self.module.check_mode:
                self.run([self.module.get_bin_path("grub-reboot", required=True), TRIAL_ENTRY_ID], "grub-reboot")
        return dict(reboot_required=decision["reboot_required"], reboot_reason=decision["reason"],
                    trial_pending=trial is not None, trial_args=trial_args or [], committed=decision["committed"])

    def commit_grub(self):
        state = self.state()
        outcome, missing = trial_outcome(state, self.running(), self.boot_id())
        if outcome == "none":
            return dict(outcome="none", reboot_required=False, reboot_reason="", trial_pending=False, trial_args=[],
                        committed=list(state.get("kernel_args") or []))
        trial_args = state["trial"]["args"]
        if outcome != "booted":
            absent = [arg for arg in missing if arg in trial_args]
            lingering = [arg for arg in missing if arg not in trial_args]
            raise GrubError(
                "%s the trial command line: the host %s, so it did not boot%s%s. The default entry still boots the "
                "previous command line (%s); nothing else was changed. Remove or fix the arguments and run again"
                % ("the host has not booted" if outcome == "pending" else "fell back from",
                   "is still on the command line it had before the trial" if outcome == "pending"
                   else "came back on the previous command line",
                   ("; not running: " + " ".join(absent)) if absent else "",
                   ("; still running, should be gone: " + " ".join(lingering)) if lingering else "",
                   " ".join(state.get("kernel_args") or []) or "no quantbot.hft arguments"))
        self.put(DROPIN, render_dropin(trial_args))
        self.put(TRIAL_CONFIG, None)
        self.put(WATCHDOG_DROPIN, None)
        self.save_state(trial_args, None)
        self.update_grub()
        return dict(outcome="committed", reboot_required=False, reboot_reason="", trial_pending=False, trial_args=[],
                    committed=trial_args)

    def absent_grub(self):
        state = self.state()
        owned = list(state.get("kernel_args") or []) + list((state.get("trial") or {}).get("args") or [])
        still = [arg for arg in owned if arg in self.running()]
        changed = False
        for logical in (DROPIN, TRIAL_SCRIPT, TRIAL_CONFIG, WATCHDOG_DROPIN, self.params["state_file"]):
            changed |= self.put(logical, None)
        if changed:
            self.update_grub()
        return dict(reboot_required=bool(still),
                    reboot_reason=("no longer wanted but still in /proc/cmdline: " + " ".join(still)) if still else "",
                    trial_pending=False, trial_args=[], committed=[])

    def grubby(self, wanted, absent=False):
        if self.params["trial"] and not absent:
            raise GrubError("the trial boot is implemented for GRUB with update-grub (Debian); on grubby (BLS) hosts "
                            "set boot_args_trial: false (the equivalent is grubby --add-kernel --copy-default plus "
                            "grub2-reboot, see the boot_args role README)")
        grubby = self.module.get_bin_path("grubby", required=True)
        info = self.run([grubby, "--info=ALL"], "grubby --info=ALL")
        lines = [line.split("=", 1)[1].strip().strip('"').split() for line in info.splitlines()
                 if line.startswith("args=")]
        common = set(lines[0]).intersection(*lines[1:]) if lines else set()
        anywhere = set(arg for line in lines for arg in line)
        state = self.state()
        previous = list(state.get("kernel_args") or [])
        add = [arg for arg in wanted if arg not in common]
        remove = [arg for arg in previous if arg not in wanted and arg in anywhere]
        if add:
            self.changed_files.append("grubby --args=%s" % " ".join(add))
            if not self.module.check_mode:
                self.run([grubby, "--update-kernel=ALL", "--args=%s" % " ".join(add)], "grubby --args")
        if remove:
            self.changed_files.append("grubby --remove-args=%s" % " ".join(remove))
            if not self.module.check_mode:
                self.run([grubby, "--update-kernel=ALL", "--remove-args=%s" % " ".join(remove)], "grubby --remove-args")
        if absent:
            self.put(self.params["state_file"], None)
        else:
            self.save_state(list(wanted), None)
        running = self.running()
        decision = stage(wanted, running, {"kernel_args": previous}, trial=False)
        return dict(reboot_required=decision["reboot_required"], reboot_reason=decision["reason"],
                    trial_pending=False, trial_args=[], committed=[] if absent else list(wanted))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            kernel_args=dict(type="list", elements="str", default=[]),
            action=dict(type="str", choices=["stage", "commit", "absent"], default="stage"),
            trial=dict(type="bool", default=True),
            panic_timeout=dict(type="int", default=10),
            watchdog_timeout=dict(type="int", default=120),
            loader=dict(type="str", choices=["auto", "grub", "grubby"], default="auto"),
            state_file=dict(type="path", default="/var/lib/quantbot-hft/boot_args.json"),
            root=dict(type="path", default="/"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    problems = arg_problems(params["kernel_args"], "kernel_args")
    for key in ("panic_timeout", "watchdog_timeout"):
        if params[key] < 0:
            problems.append("%s must be >= 0, got %d" % (key, params[key]))
    if problems:
        module.fail_json(msg="; ".join(problems))
    config = BootConfig(module)
    try:
        loader = config.loader()
        action = params["action"]
        if loader == "grubby":
            result = config.grubby(params["kernel_args"] if action != "absent" else [], absent=action == "absent") \
                if action != "commit" else dict(outcome="none", reboot_required=False, reboot_reason="",
                                                trial_pending=False, trial_args=[], committed=params["kernel_args"])
        elif action == "stage":
            result = config.stage_grub(list(params["kernel_args"]))
        elif action == "commit":
            result = config.commit_grub()
        else:
            result = config.absent_grub()
    except GrubError as exc:
        module.fail_json(msg=str(exc), files=config.changed_files)
    result.update(changed=bool(config.changed_files), files=config.changed_files, loader=loader)
    if module._diff:
        result["diff"] = config.diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
