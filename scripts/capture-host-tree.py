# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Capture a host as a fixture tree that quantbot.hft.host_facts reads back to the same facts.

    PATH="$PWD/.venv/bin:$PATH" python scripts/capture-host-tree.py HOST DEST [--inventory FILE] [-e KEY=VALUE ...]

(from the checkout, with its virtualenv first on PATH: the script runs ``ansible`` from PATH).

Runs ``quantbot.hft.host_facts record=true`` on HOST (with become), then writes
DEST/sys, DEST/proc and DEST/root with every file it read, and
DEST/replay.json with the directory listings, link targets and command outputs
(``systemctl show``, ``grub-probe``, the timestamping ioctl). Unit tests load it
with ``tests/unit/hostfacts_tree.py``. Only what host_facts reads is copied.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys

ROOTS = (("/sys", "sys"), ("/proc", "proc"))


def local_path(dest, logical):
    for prefix, sub in ROOTS:
        if logical == prefix or logical.startswith(prefix + "/"):
            return os.path.join(dest, sub, logical[len(prefix):].lstrip("/"))
    return os.path.join(dest, "root", logical.lstrip("/"))


def capture(host, inventory, module_args, extra):
    env = dict(os.environ, ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="ansible.posix.json")
    argv = ["ansible", host, "--become", "-m", "quantbot.hft.host_facts", "-a", json.dumps(module_args)]
    if inventory:
        argv += ["-i", inventory]
    for item in extra:
        argv += ["-e", item]
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    try:
        data = json.loads(proc.stdout)
        result = data["plays"][0]["tasks"][0]["hosts"][host]
    except (ValueError, KeyError, IndexError):
        sys.exit("capture: host_facts did not answer (rc %s): %s %s" % (proc.returncode, proc.stdout[-2000:],
                                                                        proc.stderr[-2000:]))
    if result.get("failed") or "recorded" not in result:
        sys.exit("capture: host_facts failed: %s" % result.get("msg"))
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("host")
    parser.add_argument("dest")
    parser.add_argument("--inventory", "-i")
    parser.add_argument("--units", default="", help="comma-separated extra units")
    parser.add_argument("--packages", default="", help="comma-separated packages")
    parser.add_argument("-e", dest="extra", action="append", default=[])
    args = parser.parse_args(argv)
    module_args = {"record": True,
                   "units": [u for u in args.units.split(",") if u],
                   "packages": [p for p in args.packages.split(",") if p]}
    result = capture(args.host, args.inventory, module_args, args.extra)
    recorded = result["recorded"]
    if os.path.exists(args.dest):
        shutil.rmtree(args.dest)
    for logical, text in sorted(recorded["files"].items()):
        path = local_path(args.dest, logical)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as handle:
            handle.write(text)
    for logical in recorded["dirs"]:
        os.makedirs(local_path(args.dest, logical), exist_ok=True)
    replay = {"options": module_args, "dirs": recorded["dirs"], "links": recorded["links"],
              "commands": recorded["commands"], "clock": recorded.get("clock") or [], "tests": recorded.get("tests") or {}, "host_facts": result["host_facts"]}
    with open(os.path.join(args.dest, "replay.json"), "w") as handle:
        json.dump(replay, handle, indent=1, sort_keys=True)
        handle.write("\n")
    print("captured %d files, %d directories, %d links, %d commands into %s"
          % (len(recorded["files"]), len(recorded["dirs"]), len(recorded["links"]), len(recorded["commands"]),
             args.dest))


if __name__ == "__main__":
    main()
