# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The label, annotation and taint rules of _k8snames, against what the Kubernetes API accepts."""

from __future__ import annotations

import pytest

from ansible_collections.quantbot.hft.plugins.module_utils import _k8snames as names
from ansible_collections.quantbot.hft.plugins.module_utils._k8snames import K8sNameError

GOOD_KEYS = ["quantbot.io/hft", "quantbot.io/hft-unverified", "app", "a", "A.b_c-D", "kubernetes.io/hostname",
             "node-role.kubernetes.io/worker", "x" * 63, "%s/%s" % ("a" * 253, "n"),
             "%s.%s/name" % ("a" * 63, "b" * 63), "1.2.3/x9"]


@pytest.mark.parametrize("key", GOOD_KEYS)
def test_valid_keys(key):
    assert names.check_qualified_name(key) == key


@pytest.mark.parametrize("key, words", [
    ("", "must not be empty"),
    ("x" * 64, "name part 'xxx"),
    ("quantbot.io/" + "n" * 64, "is 64 characters long (at most 63)"),
    ("%s/n" % ("a" * 254), "is 254 characters long (a DNS subdomain has at most 253)"),
    ("Quantbot.io/hft", "prefix 'Quantbot.io' is not a DNS subdomain"),
    ("quantbot_io/hft", "is not a DNS subdomain"),
    ("-quantbot.io/hft", "is not a DNS subdomain"),
    ("quantbot..io/hft", "is not a DNS subdomain"),
    ("quantbot.io/hft/x", "more than one '/'"),
    ("/hft", "empty prefix"),
    ("quantbot.io/", "empty name"),
    ("quantbot.io/hft pool", "characters outside [A-Za-z0-9._-]: ' '"),
    ("quantbot.io/hft!", "'!'"),
    ("quantbot.io/-hft", "must start and end with a letter or digit"),
    ("quantbot.io/hft.", "must start and end with a letter or digit"),
    ("quantbot.io/hft\u00e9", "characters outside"),
    (5, "must be a string"),
])
def test_invalid_keys_name_the_key(key, words):
    with pytest.raises(K8sNameError) as err:
        names.check_qualified_name(key, "label key")
    assert words in str(err.value)
    if isinstance(key, str) and key:
        assert repr(key)[:20] in str(err.value)


@pytest.mark.parametrize("value", ["", "true", "alphaswarm-bots", "v1.2_3", "x" * 63, "0"])
def test_valid_values(value):
    assert names.check_label_value(value) == value


@pytest.mark.parametrize("value, words", [
    ("x" * 64, "is 64 characters long (at most 63)"),
    ("yes please", "' '"),
    ("a/b", "'/'"),
    ("-a", "must start and end"),
    ("a-", "must start and end"),
    (True, "must be a string"),
])
def test_invalid_values_name_the_value(value, words):
    with pytest.raises(K8sNameError) as err:
        names.check_label_value(value, "value of label quantbot.io/hft")
    assert words in str(err.value) and "value of label quantbot.io/hft" in str(err.value)


def test_labels_map():
    assert names.check_labels({"quantbot.io/hft": "true", "quantbot.io/pool": None})
    with pytest.raises(K8sNameError, match="value of label quantbot.io/pool 'a b'"):
        names.check_labels({"quantbot.io/hft": "true", "quantbot.io/pool": "a b"})


@pytest.mark.parametrize("taint, words", [
    ({"key": "quantbot.io/hft=true:NoSchedule", "effect": "NoSchedule"},
     "looks like kubectl's key=value:Effect; give key: quantbot.io/hft, value: true, effect: NoSchedule"),
    ({"key": "quantbot.io/hft:NoSchedule"}, "give key: quantbot.io/hft, effect: NoSchedule"),
    ({"key": "quantbot.io/hft=true"}, "give key: quantbot.io/hft, value: true"),
    ({"key": "quantbot.io/hft=true:NoSchedule-"}, "give key: quantbot.io/hft, value: true, effect: NoSchedule"),
    ({"key": "quantbot.io/hft", "value": "yes please"}, "value of taint quantbot.io/hft 'yes please'"),
    ({"key": "quantbot.io/hft", "value": "true", "effect": "NoScheduleX"}, "effect 'NoScheduleX'; use one of"),
    ({"key": "Quantbot.io/hft"}, "taint key 'Quantbot.io/hft'"),
    ({"value": "true"}, "taint key must not be empty"),
])
def test_invalid_taints(taint, words):
    with pytest.raises(K8sNameError) as err:
        names.check_taints([taint])
    assert words in str(err.value)


def test_valid_taints():
    assert names.check_taints([{"key": "quantbot.io/hft", "value": "true", "effect": "NoSchedule"},
                               {"key": "quantbot.io/hft-unverified", "effect": "NoExecute"},
                               {"key": "dedicated", "value": "", "effect": "PreferNoSchedule"}])
    with pytest.raises(K8sNameError, match="must be a mapping"):
        names.check_taints(["quantbot.io/hft=true:NoSchedule"])


def test_annotations():
    assert names.check_annotations({"quantbot.io/hft-failed-checks": "kernel_cmdline,ptp_sync",
                                    "quantbot.io/hft-validated-at": "2026-12-01T12:00:00Z",
                                    "quantbot.io/note": "any text: spaces, / and = are fine", "gone.io/x": None})
    with pytest.raises(K8sNameError, match="annotation key 'quantbot.io/hft valid'"):
        names.check_annotations({"quantbot.io/hft valid": "true"})
    with pytest.raises(K8sNameError, match="must be a string"):
        names.check_annotations({"quantbot.io/x": 5})
    with pytest.raises(K8sNameError, match="262144 bytes"):
        names.check_annotations({"quantbot.io/blob": "x" * (256 * 1024)})
