# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""KubeApi.list_paged and get_daemonset over a scripted request() (no API server)."""

from __future__ import annotations

import pytest

from ansible_collections.quantbot.hft.plugins.module_utils._kube import KubeApi, KubeError


class Scripted(KubeApi):
    """request() answers from a list of pages (or KubeErrors) and records every query."""

    def __init__(self, answers):
        super(Scripted, self).__init__(api_client=None)
        self.answers = list(answers)
        self.seen = []

    def request(self, what, method, path, query=None, body=None, content_type="application/json"):
        self.seen.append((method, path, dict(query or {})))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def page(items, token=None):
    return {"kind": "NodeList", "metadata": {"continue": token} if token else {}, "items": items}


def test_follows_continue_tokens_with_the_selectors_on_every_page():
    api = Scripted([page([1, 2], "t1"), page([3, 4], "t2"), page([5])])
    items, pages = api.list_paged("LIST nodes", "/api/v1/nodes", label_selector="quantbot.io/hft=true",
                                  field_selector="spec.unschedulable!=true", limit=2)
    assert (items, pages) == ([1, 2, 3, 4, 5], 3)
    assert [q.get("continue") for dummy, dummy2, q in api.seen] == [None, "t1", "t2"]
    assert all(q["limit"] == 2 and q["labelSelector"] == "quantbot.io/hft=true" and
               q["fieldSelector"] == "spec.unschedulable!=true" for dummy, dummy2, q in api.seen)


def test_a_server_that_ignores_limit_is_one_page():
    api = Scripted([page(list(range(1201)))])
    assert api.list_paged("LIST pods", "/api/v1/pods", limit=500) == (list(range(1201)), 1)
    assert "labelSelector" not in api.seen[0][2] and "fieldSelector" not in api.seen[0][2]


def test_an_expired_token_restarts_the_list_once():
    gone = KubeError("LIST nodes: 410 The provided continue parameter is too old", status=410)
    api = Scripted([page([1], "t1"), gone, page([1], "t9"), page([2])])
    assert api.list_paged("LIST nodes", "/api/v1/nodes", limit=1) == ([1, 2], 4)
    twice = Scripted([page([1], "t1"), gone, page([1], "t2"), gone])
    with pytest.raises(KubeError, match="410"):
        twice.list_paged("LIST nodes", "/api/v1/nodes", limit=1)


def test_errors_and_bad_pages_are_clear():
    with pytest.raises(KubeError, match="403"):
        Scripted([KubeError("LIST pods: 403 forbidden", status=403)]).list_paged("LIST pods", "/api/v1/pods")
    with pytest.raises(KubeError, match="repeated continue token"):
        Scripted([page([1], "same"), page([2], "same")]).list_paged("LIST pods", "/api/v1/pods")
    with pytest.raises(KubeError, match="page 1 is not a List"):
        Scripted([{"items": "nope"}]).list_paged("LIST pods", "/api/v1/pods")
    with pytest.raises(KubeError, match="page size must be at least 1"):
        Scripted([]).list_paged("LIST pods", "/api/v1/pods", limit=0)


def test_get_daemonset_path_and_404():
    api = Scripted([{"kind": "DaemonSet"}, KubeError("GET daemonset: 404 not found", status=404)])
    assert api.get_daemonset("alphaswarm-bots", "quantbot-ptp") == {"kind": "DaemonSet"}
    assert api.get_daemonset("alphaswarm-bots", "quantbot-ptp") is None
    assert api.seen[0][:2] == ("GET", "/apis/apps/v1/namespaces/alphaswarm-bots/daemonsets/quantbot-ptp")
