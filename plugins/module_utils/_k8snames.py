# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the Kubernetes API accepts as label, annotation and taint keys and values.

The rules of apimachinery's ``IsQualifiedName`` and ``IsValidLabelValue`` (and
the taint validation of the core API), so that a module refuses a bad value
before it sends anything, with a message that names the value, instead of
passing on the API server's 422 after a partial run:

* a key is ``[prefix/]name``: the optional prefix is a DNS subdomain (at most
  253 characters, lower-case alphanumerics, ``-`` and ``.``, each dot-separated
  label starting and ending alphanumeric); the name is 1 to 63 characters of
  ``[A-Za-z0-9._-]``, starting and ending alphanumeric;
* a label value (and a taint value) is empty or 1 to 63 characters of the
  same set, starting and ending alphanumeric;
* a taint effect is ``NoSchedule``, ``PreferNoSchedule`` or ``NoExecute``;
  a taint key holding ``=`` or ``:`` is kubectl's ``key=value:Effect`` pasted
  into the key, and the message says how to split it;
* an annotation value may be any string; all annotations of an object
  together must stay within 256 KiB.

Plain functions over plain data; ``K8sNameError`` (a ValueError) says what is wrong.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import re

TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
NAME_MAX = 63
PREFIX_MAX = 253
ANNOTATIONS_MAX_BYTES = 256 * 1024

_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


class K8sNameError(ValueError):
    """A key or value the Kubernetes API would reject; the message names it."""


def _name_problem(name):
    """Why ``name`` is not a valid name part / label value body (None if it is)."""
    if len(name) > NAME_MAX:
        return "is %d characters long (at most %d)" % (len(name), NAME_MAX)
    bad = sorted(set(re.findall(r"[^A-Za-z0-9._-]", name)))
    if bad:
        return "has characters outside [A-Za-z0-9._-]: %s" % " ".join(repr(ch) for ch in bad)
    if not _NAME.match(name):
        return "must start and end with a letter or digit"
    return None


def _prefix_problem(prefix):
    if len(prefix) > PREFIX_MAX:
        return "is %d characters long (a DNS subdomain has at most %d)" % (len(prefix), PREFIX_MAX)
    for part in prefix.split("."):
        if not _DNS_LABEL.match(part):
            return ("is not a DNS subdomain (lower-case letters, digits, '-' and '.', each part starting and "
                    "ending with a letter or digit)")
    return None


def check_qualified_name(key, what="label key"):
    """Raise K8sNameError unless ``key`` is a valid ``[prefix/]name``; return it as a str."""
    if key is None or key == "":
        raise K8sNameError("%s must not be empty" % what)
    if not isinstance(key, str):
        raise K8sNameError("%s %r must be a string" % (what, key))
    parts = key.split("/")
    if len(parts) > 2:
        raise K8sNameError("%s %r has more than one '/' (the form is [prefix/]name)" % (what, key))
    name = parts[-1]
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            raise K8sNameError("%s %r has an empty prefix before '/'" % (what, key))
        problem = _prefix_problem(prefix)
        if problem:
            raise K8sNameError("%s %r: the prefix %r %s" % (what, key, prefix, problem))
    if not name:
        raise K8sNameError("%s %r has an empty name after the prefix" % (what, key))
    problem = _name_problem(name)
    if problem:
        raise K8sNameError("%s %r: the name part %r %s" % (what, key, name, problem))
    return key


def check_label_value(value, what="label value"):
    """Raise K8sNameError unless ``value`` is a valid label (or taint) value; return it."""
    if not isinstance(value, str):
        raise K8sNameError("%s %r must be a string" % (what, value))
    if value == "":
        return value
    problem = _name_problem(value)
    if problem:
        raise K8sNameError("%s %r %s" % (what, value, problem))
    return value


def check_labels(labels):
    """Every key and value of a label map (values already strings, None allowed for 'remove')."""
    for key, value in sorted((labels or {}).items(), key=lambda kv: str(kv[0])):
        check_qualified_name(key, "label key")
        if value is not None:
            check_label_value(value, "value of label %s" % key)
    return labels


def check_taint(taint):
    """One taint {key, value?, effect?}: key, value and effect as the API validates them."""
    key = taint.get("key")
    if isinstance(key, str) and ("=" in key or ":" in key):
        hint = ""
        match = re.match(r"^([^=:]+)(?:=([^:]*))?(?::(\w+))?-?$", key)
        if match:
            hint = "; give key: %s" % match.group(1)
            if match.group(2) is not None:
                hint += ", value: %s" % match.group(2)
            if match.group(3):
                hint += ", effect: %s" % match.group(3)
        raise K8sNameError("taint key %r looks like kubectl's key=value:Effect%s" % (key, hint))
    check_qualified_name(key, "taint key")
    value = taint.get("value")
    if value not in (None, ""):
        check_label_value(value, "value of taint %s" % key)
    effect = taint.get("effect")
    if effect not in (None, "") and effect not in TAINT_EFFECTS:
        raise K8sNameError("taint %s has effect %r; use one of %s" % (key, effect, ", ".join(TAINT_EFFECTS)))
    return taint


def check_taints(taints):
    for taint in taints or []:
        if not isinstance(taint, dict):
            raise K8sNameError("a taint must be a mapping with key, value and effect, not %r" % (taint,))
        check_taint(taint)
    return taints


def check_annotations(annotations):
    """Annotation keys are qualified names; values are strings (None: remove); 256 KiB in all."""
    total = 0
    for key, value in sorted((annotations or {}).items(), key=lambda kv: str(kv[0])):
        check_qualified_name(key, "annotation key")
        if value is not None:
            if not isinstance(value, str):
                raise K8sNameError("value of annotation %s must be a string, not %r" % (key, value))
            total += len(key.encode("utf-8")) + len(value.encode("utf-8"))
    if total > ANNOTATIONS_MAX_BYTES:
        raise K8sNameError("the annotations given are %d bytes; all of an object's annotations together must "
                           "stay within %d bytes" % (total, ANNOTATIONS_MAX_BYTES))
    return annotations
