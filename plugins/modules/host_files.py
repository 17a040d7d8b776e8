#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r"""
module: host_files
short_description: Write (or remove) all the files of one role in one pass
version_added: 0.2.0
description:
  - Writes every file of O(files) whose content, owner, group or mode differs, atomically (a temporary file in
    the same directory, then a rename), creating missing parent directories; removes the entries with
    O(files[].state=absent). Reports which files changed (RV(changed_files)), so handlers can restart only what
    a change concerns.
  - The host roles render their templates on the controller (C(lookup('ansible.builtin.template', ...))) and hand
    the contents to this module, so a role's files cost one round trip to the node instead of one
    C(ansible.builtin.template) call per file. Under software emulation every call to the node costs about a
    second; this is what keeps the steady-state onboarding within its budget.
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
    platforms: posix
options:
  files:
    description: The files.
    type: list
    elements: dict
    required: true
    suboptions:
      dest:
        description: Absolute path of the file.
        type: path
        required: true
      content:
        description: The whole content (for O(files[].state=present)).
        type: str
      mode:
        description: Octal mode as a string (V("0755")), or the number itself (a YAML V(0755)).
        type: raw
        default: "0644"
      owner:
        description: Owner (name or uid).
        type: str
        default: root
      group:
        description: Group (name or gid).
        type: str
        default: root
      state:
        description:
          - V(present) writes the file, V(absent) removes it (a directory is not removed).
          - Defaults to O(state).
        type: str
        choices: [present, absent]
  final_newline:
    description:
      - End every written content with a newline when it does not already. These are text files, and a file lookup
        or a filter such as C(to_nice_json) drops the final newline (a newline escape in a Jinja string literal
        does not help, since Ansible 2.19 keeps it as a backslash and an C(n)).
      - V(false) writes each content exactly as given.
    type: bool
    default: true
  state:
    description: The state of every entry that does not set its own (V(absent) to remove a role's files).
    type: str
    choices: [present, absent]
    default: present
  prune:
    description:
      - Directories to remove when they are empty after the files were handled (deepest first), for the
        directories a role created; a directory other roles still use is not empty and stays.
    type: list
    elements: path
    default: []
  directory_mode:
    description: Mode of the parent directories the module creates.
    type: str
    default: "0755"
seealso:
  - module: ansible.builtin.template
  - module: ansible.builtin.copy
"""

EXAMPLES = r"""
- name: Write the profile and the irqbalance drop-in in one pass
  quantbot.hft.host_files:
    files:
      - dest: /etc/tuned/quantbot-hft/tuned.conf
        content: "{{ lookup('ansible.builtin.template', 'tuned.conf.j2') }}"
      - dest: /etc/systemd/system/irqbalance.service.d/quantbot-hft.conf
        content: "{{ lookup('ansible.builtin.template', 'irqbalance-dropin.conf.j2') }}"
  register: __files
  notify: Restart irqbalance

- name: Remove them (offboarding)
  quantbot.hft.host_files:
    files:
      - dest: /etc/tuned/quantbot-hft/tuned.conf
    state: absent
"""

RETURN = r"""
changed_files:
  description: The files written or removed (or that would be, in check mode).
  returned: success
  type: list
  elements: str
  sample: [/etc/tuned/quantbot-hft/tuned.conf]
"""

import grp
import os
import pwd
import stat
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes


def _uid(owner):
    return int(owner) if owner.isdigit() else pwd.getpwnam(owner).pw_uid


def _gid(group):
    return int(group) if group.isdigit() else grp.getgrnam(group).gr_gid


def _mode(text, what):
    if isinstance(text, int) and not isinstance(text, bool):
        # A YAML integer (mode: 0644 is 420): the number is the mode, as in ansible.builtin.file.
        mode = text
    else:
        try:
            mode = int(str(text), 8)
        except ValueError:
            raise ValueError("%s must be an octal mode such as \"0644\", got %r" % (what, text))
    if not 0 <= mode <= 0o7777:
        raise ValueError("%s must be an octal mode such as \"0644\", got %r" % (what, text))
    if not 0 <= mode <= 0o7777:
        raise ValueError("%s must be an octal mode such as \"0644\", got %r" % (what, text))
    return mode


def _read(path):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except (IOError, OSError):
        return None


def _makedirs(module, path, mode):
    missing = []
    while path and not os.path.isdir(path):
        missing.append(path)
        path = os.path.dirname(path)
    for directory in reversed(missing):
        os.mkdir(directory, mode)
        os.chmod(directory, mode)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            files=dict(type="list", elements="dict", required=True, options=dict(
                dest=dict(type="path", required=True),
                content=dict(type="str"),
                mode=dict(type="raw", default="0644"),
                owner=dict(type="str", default="root"),
                group=dict(type="str", default="root"),
                state=dict(type="str", choices=["present", "absent"]),
            )),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            final_newline=dict(type="bool", default=True),
            directory_mode=dict(type="str", default="0755"),
            prune=dict(type="list", elements="path", default=[]),
        ),
        supports_check_mode=True,
    )
    changed_files = []
    diffs = []
    try:
        dir_mode = _mode(module.params["directory_mode"], "directory_mode")
        seen = set()
        for item in module.params["files"]:
            item["state"] = item["state"] or module.params["state"]
            dest = item["dest"]
            if not os.path.isabs(dest):
                raise ValueError("files: dest must be an absolute path, got %r" % dest)
            if dest in seen:
                raise ValueError("files: %s is listed twice" % dest)
            seen.add(dest)
            if item["state"] == "present" and item["content"] is None:
                raise ValueError("files: %s needs a content (or state: absent)" % dest)
            _mode(item["mode"], "mode of %s" % dest)
            # Owners and groups resolve before anything is written.
            try:
                item["uid"], item["gid"] = _uid(item["owner"]), _gid(item["group"])
            except KeyError:
                raise ValueError("files: %s has an unknown owner %r or group %r" % (dest, item["owner"], item["group"]))
        removed = set()
        for item in module.params["files"]:
            dest = item["dest"]
            before = _read(dest)
            if item["state"] == "absent":
                if before is None and not os.path.lexists(dest):
                    continue
                changed_files.append(dest)
                removed.add(dest)
                diffs.append({"before_header": dest, "after_header": dest + " (absent)",
                              "before": (before or b"").decode("utf-8", "replace"), "after": ""})
                if not module.check_mode:
                    os.remove(dest)
                continue
            content = to_bytes(item["content"])
            if module.params["final_newline"] and content and not content.endswith(b"\n"):
                content += b"\n"
            mode = _mode(item["mode"], "mode of %s" % dest)
            uid, gid = item["uid"], item["gid"]
            same = False
            if before == content:
                info = os.stat(dest)
                same = stat.S_IMODE(info.st_mode) == mode and info.st_uid == uid and info.st_gid == gid
            if same:
                continue
            changed_files.append(dest)
            diffs.append({"before_header": dest, "after_header": dest,
                          "before": (before or b"").decode("utf-8", "replace"),
                          "after": content.decode("utf-8", "replace")})
            if module.check_mode:
                continue
            directory = os.path.dirname(dest)
            _makedirs(module, directory, dir_mode)
            handle, tmp = tempfile.mkstemp(prefix=".quantbot-", dir=directory)
            with os.fdopen(handle, "wb") as out:
                out.write(content)
                out.flush()
                os.fsync(out.fileno())
            os.chown(tmp, uid, gid)
            os.chmod(tmp, mode)
            module.atomic_move(tmp, dest, unsafe_writes=False, keep_dest_attrs=False)
            # atomic_move gives a file it creates the default mode and owner: set ours again.
            os.chown(dest, uid, gid)
            os.chmod(dest, mode)
        for directory in sorted(module.params["prune"], key=len, reverse=True):
            # In check mode the removals did not happen: count them as done.
            left = [name for name in os.listdir(directory) if os.path.join(directory, name) not in removed
                    and os.path.join(directory, name) + "/" not in changed_files] if os.path.isdir(directory) else None
            if left == []:
                changed_files.append(directory + "/")
                if not module.check_mode:
                    os.rmdir(directory)
    except (ValueError, KeyError, IOError, OSError) as exc:
        module.fail_json(msg="host_files: %s" % exc, changed_files=changed_files)
    result = dict(changed=bool(changed_files), changed_files=changed_files)
    if module._diff:
        result["diff"] = diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
