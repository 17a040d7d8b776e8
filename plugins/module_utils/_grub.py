# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The boot configuration of the kernel arguments, with a trial boot that falls back by itself.

Pure functions; quantbot.hft.boot_config does the I/O.

Debian's ``update-grub`` builds its normal entries from one
``GRUB_CMDLINE_LINUX``. The boot_args role appends the arguments that booted
and passed (the *committed* ones) to it through its drop-in
(``/etc/default/grub.d/quantbot-hft.cfg``), which also sets
``GRUB_DEFAULT=saved``. A new command line first boots once as the entry
``quantbot-hft-trial`` that our own ``/etc/grub.d`` script writes (the
distribution's base arguments, without the committed ones, plus the new ones
and ``panic=<s>``), selected for one boot with ``grub-reboot``. GRUB clears
``next_entry`` as it boots it, so any later reset (the panic timeout, a
watchdog, a power cycle) boots the default entry again: the last command line
that booted and passed. Only after the trial command line booted and the
post-boot checks passed does ``commit`` make it the default, with no second
reboot.

The trial entry sorts after ``10_linux`` (``45_``), so it is never entry 0,
which ``GRUB_DEFAULT=saved`` boots while no ``saved_entry`` is set.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

from ansible_collections.quantbot.hft.plugins.module_utils._cmdline import missing_args, stale_args

TRIAL_ENTRY_ID = "quantbot-hft-trial"
DROPIN = "/etc/default/grub.d/quantbot-hft.cfg"
TRIAL_SCRIPT = "/etc/grub.d/45_quantbot_hft_trial"
TRIAL_CONFIG = "/etc/quantbot-hft/boot-trial.cfg"
WATCHDOG_DROPIN = "/etc/systemd/system.conf.d/quantbot-hft-trial-watchdog.conf"
# What GRUB cannot write its environment block on (grub-mkconfig's 00_header, check_writable).
NO_WRITE_ABSTRACTIONS = ("diskfilter", "lvm")
NO_WRITE_FS = ("btrfs", "cpiofs", "newc", "odc", "romfs", "squash4", "tarfs", "zfs")

HEADER = "# Written by quantbot.hft.boot_config (role quantbot.hft.boot_args). Do not edit.\n"

TRIAL_SCRIPT_TEXT = HEADER + r"""#
# The trial boot entry of quantbot.hft: the distribution's kernel arguments
# without the committed quantbot.hft ones, plus the trial arguments and
# panic=<s>, for the newest kernel (the one the default entry boots). Emits
# nothing unless a trial is staged in the file below. Selected for one boot
# by `grub-reboot quantbot-hft-trial`.
set -e
conf=/etc/quantbot-hft/boot-trial.cfg
[ -r "$conf" ] || exit 0
prefix="/usr"
exec_prefix="/usr"
datarootdir="/usr/share"
. "${datarootdir}/grub/grub-mkconfig_lib"
. "$conf"
list=
for i in /boot/vmlinuz-* /vmlinuz-*; do
  if grub_file_is_not_garbage "$i"; then list="$list $i"; fi
done
linux=$(version_find_latest $list)
[ -n "$linux" ] || exit 0
basename=$(basename "$linux")
dirname=$(dirname "$linux")
rel_dirname=$(make_system_path_relative_to_its_root "$dirname")
version=$(echo "$basename" | sed -e "s,^[^0-9]*-,,g")
if [ "x${GRUB_DEVICE_UUID}" = "x" ] || [ "x${GRUB_DISABLE_LINUX_UUID}" = "xtrue" ]; then
  root_device="${GRUB_DEVICE}"
else
  root_device="UUID=${GRUB_DEVICE_UUID}"
fi
base=
for token in ${GRUB_CMDLINE_LINUX} ${GRUB_CMDLINE_LINUX_DEFAULT}; do
  case " ${QUANTBOT_COMMITTED_ARGS} " in
    *" ${token} "*) ;;
    *) base="${base} ${token}" ;;
  esac
done
echo "Found quantbot.hft trial entry: ${QUANTBOT_TRIAL_ARGS}" >&2
echo "menuentry 'quantbot.hft trial boot (Linux ${version})' --id ${QUANTBOT_TRIAL_ID} {"
prepare_grub_to_access_device "${GRUB_DEVICE_BOOT}" | sed -e "s/^/\t/"
echo "	linux ${rel_dirname}/${basename} root=${root_device} ro${base} ${QUANTBOT_TRIAL_ARGS}"
for initrd in "initrd.img-${version}" "initrd-${version}.img" "initramfs-${version}.img"; do
  if [ -e "${dirname}/${initrd}" ]; then
    echo "	initrd ${rel_dirname}/${initrd}"
    break
  fi
done
echo "}"
"""


class GrubError(ValueError):
    """The boot configuration cannot be changed as asked; the message says why."""


def grubenv_problem(fs, abstraction):
    """Why GRUB cannot save its environment here (grub-reboot's next_entry), or None when it can."""
    for item in abstraction or []:
        if item in NO_WRITE_ABSTRACTIONS:
            return "/boot/grub is on %s, which GRUB cannot write" % item
    if fs in NO_WRITE_FS:
        return "/boot/grub is on %s, which GRUB cannot write" % fs
    if fs is None:
        return "grub-probe could not tell the file system of /boot/grub"
    return None


def render_dropin(committed):
    """The GRUB drop-in: the committed arguments, and GRUB_DEFAULT=saved for grub-reboot."""
    text = HEADER + ("# The kernel arguments that booted and passed (boot_args owns them); the trial entry\n"
                     "# (%s) carries new ones for one boot first.\n" % TRIAL_SCRIPT)
    text += "GRUB_DEFAULT=saved\n"
    if committed:
        text += 'GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX %s"\n' % " ".join(committed)
    return text


def render_trial(trial_args, committed, panic):
    """The trial configuration the /etc/grub.d script reads."""
    args = list(trial_args) + (["panic=%d" % int(panic)] if panic else [])
    return HEADER + 'QUANTBOT_TRIAL_ID="%s"\nQUANTBOT_TRIAL_ARGS="%s"\nQUANTBOT_COMMITTED_ARGS="%s"\n' % (
        TRIAL_ENTRY_ID, " ".join(args), " ".join(committed))


def render_watchdog(seconds):
    return HEADER + "# Armed for the trial boot only: a hang resets the host, which then boots the default entry.\n" \
                    "[Manager]\nRuntimeWatchdogSec=%ds\n" % int(seconds)


def stage(wanted, running, state, trial=True):
    """What the boot configuration must become so that the next boot has ``wanted``.

    ``running``: the running command line tokens; ``state``: the record
    ``{kernel_args: committed, trial: {args, boot_id} | None}``. Returns
    ``{committed, trial_args, reboot_required, reason, missing, stale}``:
    ``trial_args`` is None when no trial is pending afterwards.

    * nothing to change: the default already has ``wanted`` and the kernel runs it;
    * the kernel runs ``wanted`` but the default does not have it (a trial that
      booted and still waits for its commit, or arguments booted otherwise):
      a trial without reboot, committed after the post-boot checks;
    * the kernel lacks some of ``wanted``, or runs arguments set earlier and no
      longer wanted: a trial of ``wanted`` and a reboot (without trial: the
      default gets ``wanted`` at once, as before).
    """
    committed = list((state or {}).get("kernel_args") or [])
    pending = ((state or {}).get("trial") or {}).get("args")
    previous = committed + [arg for arg in pending or [] if arg not in committed]
    missing = missing_args(wanted, running)
    stale = stale_args(previous, wanted, running)
    reasons = []
    if missing:
        reasons.append("missing from /proc/cmdline: " + " ".join(missing))
    if stale:
        reasons.append("no longer wanted but still in /proc/cmdline: " + " ".join(stale))
    reboot = bool(missing or stale)
    if not reboot and committed == list(wanted):
        return {"committed": committed, "trial_args": None, "reboot_required": False, "reason": "",
                "missing": [], "stale": []}
    if not trial:
        return {"committed": list(wanted), "trial_args": None, "reboot_required": reboot,
                "reason": "; ".join(reasons), "missing": missing, "stale": stale}
    return {"committed": committed, "trial_args": list(wanted), "reboot_required": reboot,
            "reason": "; ".join(reasons), "missing": missing, "stale": stale}


def trial_outcome(state, running, boot_id):
    """Where a staged trial stands: ``none``, ``pending`` (not rebooted yet), ``booted`` or ``fell_back``.

    Returns ``(outcome, missing)``: the trial arguments the running kernel lacks,
    and the committed arguments the trial drops that it still runs.
    """
    trial = (state or {}).get("trial")
    if not trial:
        return "none", []
    wanted = trial.get("args") or []
    committed = (state or {}).get("kernel_args") or []
    # What the trial adds must run, and what it removes must not: a trial that
    # only drops an argument is not booted while the dropped argument still runs.
    missing = missing_args(wanted, running) + stale_args(committed, wanted, running)
    if not missing:
        return "booted", []
    if not trial.get("boot_id") or trial.get("boot_id") == boot_id:
        return "pending", missing
    return "fell_back", missing
