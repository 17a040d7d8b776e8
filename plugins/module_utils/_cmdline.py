# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Kernel command-line rules: one implementation for the planner, the roles and the checks.

Pure functions over lists of tokens. Nothing here reads a file.

* ``token_keys`` / ``missing_args``: a ``hugepages=`` token counts only after
  the same ``hugepagesz=`` (``hugepages=1:4`` after ``hugepagesz=1G`` is not the
  same argument as after ``hugepagesz=2M``).
* ``arg_problems``: what the boot_args role refuses (a token that is not one
  kernel argument, a duplicate, a key given twice).
* ``foreign_args``: running arguments with a key this role owns but a value it
  did not set (another owner: /etc/default/grub, tuned's bootloader plugin...).
* ``isolcpus_domain_cpus``: the CPUs /sys/devices/system/cpu/isolated lists for
  a set of arguments (only ``isolcpus`` without flags or with ``domain``).
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import re

# One kernel argument: no spaces, quotes or shell characters.
TOKEN_RE = re.compile(r"^[A-Za-z0-9_.,:=+/@%~^-]+$")
# Keys that may repeat, once per page size: hugepagesz=2M hugepages=1:64 hugepagesz=1G hugepages=1:2.
REPEATABLE_KEYS = ("hugepagesz", "hugepages")


class CmdlineError(ValueError):
    """Unusable kernel arguments; the message names them."""


def tokens(cmdline):
    """The tokens of a command line given as a string or a list (None is empty)."""
    if cmdline is None:
        return []
    if isinstance(cmdline, str):
        return cmdline.split()
    return [str(token) for token in cmdline]


def arg_key(token):
    return token.split("=", 1)[0]


def arg_value(args, key):
    """The value of the last ``key=...`` in args, or None."""
    value = None
    for token in tokens(args):
        if token.startswith(key + "="):
            value = token[len(key) + 1:]
    return value


def token_keys(args):
    """Comparison keys: a hugepages= token is keyed by the hugepagesz= before it."""
    keys = []
    size = None
    for token in tokens(args):
        if token.startswith("hugepagesz="):
            size = token.split("=", 1)[1]
            keys.append(token)
        elif token.startswith("hugepages="):
            keys.append((size, token))
        else:
            keys.append(token)
    return keys


def missing_args(wanted, running):
    """Arguments of ``wanted`` absent from ``running`` (exact tokens; None running = all missing)."""
    wanted = tokens(wanted)
    if running is None:
        return list(wanted)
    present = set(token_keys(running))
    return [arg for arg, key in zip(wanted, token_keys(wanted)) if key not in present]


def stale_args(previous, wanted, running):
    """Arguments set earlier (``previous``), no longer wanted, still on the running command line."""
    wanted_keys = set(token_keys(wanted))
    running_keys = set(token_keys(running))
    previous = tokens(previous)
    return [arg for arg, key in zip(previous, token_keys(previous))
            if key not in wanted_keys and key in running_keys]


def arg_problems(args, what="kernel arguments"):
    """Why ``args`` cannot be applied as they are ([] when they can)."""
    if isinstance(args, (str, dict)) or not isinstance(args, (list, tuple)):
        return ["%s must be a list of kernel arguments, got %r" % (what, args)]
    problems = []
    for arg in args:
        if not isinstance(arg, str) or not TOKEN_RE.match(arg):
            problems.append("%s: %r is not a single kernel argument (allowed characters: letters, digits "
                            "and _ . , : = + / @ %% ~ ^ -)" % (what, arg))
    if problems:
        return problems
    seen_tokens = set()
    dup_tokens = []
    for arg in args:
        if arg in seen_tokens and not arg.startswith("hugepages=") and arg not in dup_tokens:
            dup_tokens.append(arg)
        seen_tokens.add(arg)
    seen_keys = set()
    dup_keys = []
    for arg in args:
        key = arg_key(arg)
        if key in REPEATABLE_KEYS:
            continue
        if key in seen_keys and key not in dup_keys:
            dup_keys.append(key)
        seen_keys.add(key)
    sizes = [arg for arg in args if arg.startswith("hugepagesz=")]
    dup_sizes = sorted(set(size for size in sizes if sizes.count(size) > 1))
    dups = dup_tokens + [key for key in dup_keys if key not in dup_tokens]
    dups += [size for size in dup_sizes if size not in dups]
    if dups:
        problems.append("%s have duplicates: %s (only %s may repeat, once per page size)"
                        % (what, ", ".join(dups), " and ".join(REPEATABLE_KEYS)))
    # The kernel takes one hugepages= per hugepagesz= and ignores a second one
    # ("hugepages= specified twice without interleaving hugepagesz=").
    size, counted = None, False
    for arg in args:
        if arg.startswith("hugepagesz="):
            size, counted = arg, False
        elif arg.startswith("hugepages="):
            if counted:
                problems.append("%s: %s is a second hugepages= for %s; the kernel ignores it (one hugepages= per "
                                "hugepagesz=)" % (what, arg, size or "the default page size"))
            counted = True
    return problems


def foreign_args(running, owned, previous):
    """Running arguments with a key in ``owned`` that neither ``owned`` nor ``previous`` set.

    Two owners of one key fight on every boot, so the role refuses instead of
    guessing which one wins.
    """
    owned = tokens(owned)
    keys = set(arg_key(arg) for arg in owned)
    mine = set(owned) | set(tokens(previous))
    return [token for token in tokens(running) if arg_key(token) in keys and token not in mine]


def isolcpus_domain_cpus(args, parse_cpulist):
    """CPUs that /sys/devices/system/cpu/isolated shows for these arguments (a set).

    That file lists the scheduler-domain isolation only: ``isolcpus=2-3`` (no
    flag) or ``isolcpus=domain,...``. ``isolcpus=managed_irq,2-3`` leaves it
    empty, and so does nohz_full. ``parse_cpulist`` is the cpulist parser.
    """
    value = arg_value(args, "isolcpus")
    if value is None:
        return set()
    parts = [part for part in value.split(",") if part]
    flags = [part for part in parts if not part[0].isdigit()]
    cpus = ",".join(part for part in parts if part[0].isdigit())
    if flags and "domain" not in flags:
        return set()
    return set(parse_cpulist(cpus, "isolcpus"))


def booted_hugepages(running):
    """``{size: "hugepages=..."}`` as the running kernel booted with them (paired with hugepagesz=)."""
    out = {}
    size = None
    for token in tokens(running):
        if token.startswith("hugepagesz="):
            size = token.split("=", 1)[1]
        elif token.startswith("hugepages=") and size:
            out[size] = token
    return out
