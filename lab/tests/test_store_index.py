"""The lab API's read index (hftlab.controlplane.StoreIndex): selectors, paging, uids, invalidation.

Runs over stand-ins for kmock's store (objects with .raw and .deleted, keyed by a resource
with group/version/plural), so it needs no server; the integration tests run it behind kmock.
"""

from __future__ import annotations

import collections
import json

import pytest

from hftlab import controlplane as cp

Res = collections.namedtuple("Res", "group version plural")
PODS, NODES, DS = Res("", "v1", "pods"), Res("", "v1", "nodes"), Res("apps", "v1", "daemonsets")


class Obj:
    def __init__(self, raw, deleted=False):
        self.raw, self.deleted = raw, deleted


def store(nodes=7, pods_per_node=2):
    objects = {}
    for i in range(nodes):
        name = "n%02d" % i
        labels = {"quantbot.io/hft": "true"} if i % 2 == 0 else {"role": "worker"}
        objects[(NODES, None, name)] = Obj({"metadata": {"name": name, "labels": labels}})
        for j in range(pods_per_node):
            ns = "alphaswarm-bots" if j == 0 else "kube-system"
            objects[(PODS, ns, "p-%s-%d" % (name, j))] = Obj({"metadata": {"name": "p-%s-%d" % (name, j),
                                                                           "namespace": ns, "uid": "u-%s-%d" % (name, j)},
                                                              "spec": {"nodeName": name}, "status": {"phase": "Running"}})
    objects[(PODS, "alphaswarm-bots", "gone")] = Obj(None, deleted=True)
    return objects


def brute(objects, res, namespace=None, labels=None, fields=None):
    keys = sorted(((ns or ""), name) for (r, ns, name), o in objects.items()
                  if r == res and not o.deleted and (namespace is None or ns == namespace)
                  and cp.match_labels(o.raw, labels) and cp.match_fields(o.raw, fields))
    return keys


@pytest.mark.parametrize("res, namespace, labels, fields", [
    (NODES, None, "quantbot.io/hft=true", None),
    (NODES, None, "quantbot.io/hft!=true", None),
    (NODES, None, "!quantbot.io/hft", None),
    (NODES, None, "role,quantbot.io/hft", None),
    (NODES, None, None, "metadata.name=n03"),
    (PODS, None, None, "spec.nodeName=n04"),
    (PODS, "kube-system", None, "spec.nodeName=n04"),
    (PODS, None, None, "spec.nodeName=n04,metadata.namespace!=kube-system"),
    (PODS, None, None, "status.phase=Running"),
    (PODS, "alphaswarm-bots", None, None),
    (DS, None, None, None),
])
def test_selection_is_what_a_scan_would_give(res, namespace, labels, fields):
    objects = store()
    index = cp.StoreIndex(objects)
    got = index.list(res, namespace, labels, fields)
    want = brute(objects, res, namespace, labels, fields)
    assert [((i["metadata"].get("namespace") or ""), i["metadata"]["name"]) for i in got["items"]] == want
    assert "continue" not in got["metadata"]


def test_paging_walks_every_item_once_in_order():
    objects = store(nodes=11, pods_per_node=3)
    index = cp.StoreIndex(objects)
    seen, token, pages = [], None, 0
    while True:
        page = index.list(PODS, limit=4, token=token)
        pages += 1
        seen.extend(i["metadata"]["name"] for i in page["items"])
        token = page["metadata"].get("continue")
        if not token:
            break
        assert page["metadata"]["remainingItemCount"] == 33 - len(seen)
    assert pages == 9 and len(seen) == 33 == len(set(seen))
    assert seen == [name for dummy, name in brute(objects, PODS)]
    as_json = json.loads(index.list_json(PODS, limit=4))
    assert as_json == index.list(PODS, limit=4)


def test_limit_zero_means_everything_and_bad_input_is_a_value_error():
    index = cp.StoreIndex(store())
    assert len(index.list(PODS, limit=0)["items"]) == 14
    with pytest.raises(ValueError, match="negative"):
        index.list(PODS, limit=-1)
    with pytest.raises(ValueError, match="integer"):
        index.list(PODS, limit="ten")
    with pytest.raises(ValueError, match="invalid continue token"):
        index.list(PODS, token="not-a-token")


def test_uid_is_filled_stably_and_stored_uids_are_kept():
    objects = store()
    index = cp.StoreIndex(objects)
    node = index.get(NODES, None, "n01")
    assert node["metadata"]["uid"] == cp.object_uid("nodes", None, "n01")
    assert "uid" not in objects[(NODES, None, "n01")].raw["metadata"]     # the store is not changed
    assert index.get(PODS, "alphaswarm-bots", "p-n01-0")["metadata"]["uid"] == "u-n01-0"
    assert index.get(PODS, "alphaswarm-bots", "gone") is None and index.get(PODS, "x", "y") is None
    assert json.loads(index.get_json(NODES, None, "n01")) == node


def test_writes_rebuild_on_the_next_read_only():
    objects = store()
    index = cp.StoreIndex(objects)
    index.list(NODES)
    index.list(PODS)
    assert index.builds == 1
    objects[(NODES, None, "n99")] = Obj({"metadata": {"name": "n99", "labels": {"quantbot.io/hft": "true"}}})
    assert "n99" not in [i["metadata"]["name"] for i in index.list(NODES)["items"]]   # not touched yet
    index.touch()
    assert "n99" in [i["metadata"]["name"] for i in index.list(NODES, label_selector="quantbot.io/hft=true")["items"]]
    assert index.builds == 2


def test_continue_token_roundtrip():
    token = cp.encode_continue(("ns", "name"), 7)
    assert cp.decode_continue(token) == ("ns", "name")
