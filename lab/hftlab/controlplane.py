"""The lab's emulated Kubernetes control plane (kmock 0.8 plus the pieces it lacks).

Nothing here is a real kube-apiserver. It is:

* ``KmockServer``: a kmock ``KubernetesEmulator`` on 127.0.0.1 served from an
  asyncio loop in a background thread, with handlers for what our modules need
  and kmock 0.8 lacks (label/field selectors on LIST, the Eviction subresource,
  the node proxy ``/configz``, pod uids, Namespace objects, resource discovery
  for kubernetes.core), and a per-instance request log. The integration tests
  (``tests/integration/kube/conftest.py``) use the same class.
* ``Controllers``: a thread that plays the DaemonSet controller (one pod
  ``<ds>-<node>`` per Node that matches the DaemonSet's nodeSelector, removed
  when the label goes) and the node lifecycle controller (Ready -> Unknown
  when the kubelet stops posting status for 40 s). It talks HTTP to the API
  like a real controller.
* ``serve()``: the ``hftlab controlplane up`` process: seeds namespace
  ``alphaswarm-bots``, DaemonSet ``quantbot-ptp``, the bootstrap token and
  ``kube-public/cluster-info`` (with a lab CA), writes the admin kubeconfig
  and ``join.json`` into the run directory.

The node proxy ``/configz``: a real API server proxies it to the kubelet. The
lab's kubelet stand-in runs in the VM, which the host cannot reach, so the
stand-in reports its effective configuration into ConfigMap
``hftlab-system/kubelet-configz-<node>`` and the proxy answers from there, or
503 (as the real proxy does for an unreachable kubelet) when there is no
report or the kubelet has not posted status for ``KUBELET_STALE_S`` seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import bisect
import collections
import datetime
import importlib.metadata
import importlib.util
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
import warnings

from .state import LabError, load_state, proc_cmdline, read_pid, save_json, tail, tcp_open, write_pid, write_text

PTP_NAMESPACE = "alphaswarm-bots"
PTP_DAEMONSET = "quantbot-ptp"
HFT_LABEL = "quantbot.io/hft"
GATE_TAINT = "quantbot.io/hft-unverified"  # the onboarding gate (issue 14): set until validation passes
SRIOV_DP_NAMESPACE = "kube-system"
SRIOV_DP_DAEMONSET = "sriov-device-plugin"
SRIOV_DP_CONFIGMAP = "sriovdp-config"
SRIOV_DP_SOURCES = ("configmap", "hostfile")  # where the emulated plugin's /etc/pcidp comes from
LAB_NAMESPACE = "hftlab-system"
CONFIGZ_PREFIX = "kubelet-configz-"
KUBELET_STALE_S = 40
GUEST_HOST_ADDR = "10.0.2.2"  # the host's loopback as QEMU user-mode networking shows it to the guest
MARKER = "hftlab-controlplane"

# The integration tests' default: every node's kubelet answers with the HFT settings.
DEFAULT_CONFIGZ = {"kubeletconfig": {"cpuManagerPolicy": "static",
                                     "topologyManagerPolicy": "single-numa-node",
                                     "reservedSystemCPUs": "0-1,4-5"}}


def is_alive_cmdline(pid: int | None, marker: str) -> bool:
    """True if *pid* runs `python -m hftlab.controlplane serve ... --marker <marker>` (a reused PID reads False)."""
    argv = proc_cmdline(pid) if pid else None
    return bool(argv) and "hftlab.controlplane" in argv and marker in argv


def now_rfc3339() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc).timestamp()
    except ValueError:
        return None


# --------------------------------------------------------------------------
# selectors (kmock ignores them)
# --------------------------------------------------------------------------
def _field(obj, path):
    value = obj
    for part in path.split("."):
        value = (value or {}).get(part) if isinstance(value, dict) else None
    return "" if value is None else str(value)


def match_fields(obj, selector):
    for term in filter(None, (selector or "").split(",")):
        if "!=" in term:
            key, val = term.split("!=", 1)
            if _field(obj, key) == val:
                return False
        else:
            key, val = term.replace("==", "=").split("=", 1)
            if _field(obj, key) != val:
                return False
    return True


def match_labels(obj, selector):
    labels = (obj.get("metadata") or {}).get("labels") or {}
    for term in filter(None, (selector or "").split(",")):
        term = term.strip()
        if "!=" in term:
            key, val = term.split("!=", 1)
            if labels.get(key) == val:
                return False
        elif "=" in term:
            key, val = term.replace("==", "=").split("=", 1)
            if labels.get(key) != val:
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def configz_from_report(configmap: dict | None, node: dict | None, now: float | None = None) -> dict | None:
    """The kubelet's /configz from its report ConfigMap, or None when the kubelet is unreachable."""
    if not configmap or not node:
        return None
    text = (configmap.get("data") or {}).get("configz")
    if not text:
        return None
    beat = None
    for cond in (node.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            beat = parse_rfc3339(cond.get("lastHeartbeatTime"))
    if beat is None or (now or time.time()) - beat > KUBELET_STALE_S:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


# --------------------------------------------------------------------------
# an indexed read path: LIST with selectors and real limit/continue paging, GET by name
# --------------------------------------------------------------------------
# kmock keeps its objects in one dict and scans (and, in the old lister, copied and
# hashed) every object of every resource on each LIST or GET, so a request cost
# O(all objects). At fleet scale (thousands of Nodes and Pods) that made the
# emulator, not the client, the bottleneck. The index below groups the objects by
# resource, keeps them sorted by (namespace, name) for stable paging, and indexes
# labels and a few fields for selectors. Every write request (and every direct
# injection) bumps a generation; the index is rebuilt lazily on the first read
# after a write, so a read-mostly workload pays the scan once.
INDEXED_FIELDS = {"pods": ("spec.nodeName", "metadata.namespace"), "nodes": ("metadata.name",)}
LIST_KINDS = {"pods": "PodList", "nodes": "NodeList", "daemonsets": "DaemonSetList", "configmaps": "ConfigMapList",
              "secrets": "SecretList", "namespaces": "NamespaceList"}


def object_uid(plural: str, namespace: str | None, name: str) -> str:
    """The stable uid the lab API shows for an object that was stored without one."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "%s/%s/%s" % (plural, namespace, name)))


def _equality_terms(selector: str | None) -> list[tuple[str, str]]:
    """The ``key=value`` / ``key==value`` terms of a selector (the ones an index can answer)."""
    terms = []
    for term in filter(None, (selector or "").split(",")):
        term = term.strip()
        if "!=" in term or "=" not in term:
            continue
        key, val = term.replace("==", "=").split("=", 1)
        terms.append((key.strip(), val.strip()))
    return terms


def encode_continue(key: tuple[str, str], generation: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": list(key), "rv": generation}).encode()).decode()


def decode_continue(token: str) -> tuple[str, str]:
    """The (namespace, name) a continue token resumes after; ValueError for a token we did not issue."""
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()).decode())
        after = data["after"]
        if not (isinstance(after, list) and len(after) == 2 and all(isinstance(p, str) for p in after)):
            raise ValueError(token)
        return after[0], after[1]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError, binascii.Error):
        raise ValueError("invalid continue token %r" % token) from None


class _ResourceIndex:
    """The live objects of one resource: sorted keys, raw bodies, label and field postings."""

    def __init__(self, plural: str):
        self.plural = plural
        self.raw = {}       # (namespace or "", name) -> raw dict
        self.uids = {}      # key -> uid to show when the object has none
        self.labels = {}    # (label, value) -> set of keys
        self.fields = dict((f, {}) for f in INDEXED_FIELDS.get(plural, ()))
        self.keys = []
        self.encoded = {}   # key -> JSON bytes, filled as objects are served

    def add(self, namespace, name, raw):
        key = (namespace or "", name)
        self.raw[key] = raw
        self.uids[key] = object_uid(self.plural, namespace, name)
        for label, value in (((raw.get("metadata") or {}).get("labels")) or {}).items():
            self.labels.setdefault((label, str(value)), set()).add(key)
        for field, postings in self.fields.items():
            postings.setdefault(_field(raw, field), set()).add(key)

    def finish(self):
        self.keys = sorted(self.raw)

    def shown(self, key):
        """The object as served: the stored body, with a uid when it has none (a shallow copy only then)."""
        raw = self.raw[key]
        meta = raw.get("metadata") or {}
        if meta.get("uid"):
            return raw
        shown = dict(raw)
        shown["metadata"] = dict(meta, uid=self.uids[key])
        return shown

    def shown_json(self, key) -> bytes:
        """``shown(key)`` as JSON, encoded once per index build (lists re-send the same objects)."""
        data = self.encoded.get(key)
        if data is None:
            data = self.encoded[key] = json.dumps(self.shown(key), separators=(",", ":")).encode()
        return data

    def select(self, namespace, label_selector, field_selector):
        """Sorted keys of the objects that match; equality terms narrow through the postings first."""
        narrowed = None
        for label, value in _equality_terms(label_selector):
            hits = self.labels.get((label, value), set())
            narrowed = hits if narrowed is None else narrowed & hits
        for field, value in _equality_terms(field_selector):
            if field in self.fields:
                hits = self.fields[field].get(value, set())
                narrowed = hits if narrowed is None else narrowed & hits
        keys = self.keys if narrowed is None else sorted(narrowed)
        out = []
        for key in keys:
            if namespace is not None and key[0] != namespace:
                continue
            raw = self.raw[key]
            if (not label_selector or match_labels(raw, label_selector)) and \
                    (not field_selector or match_fields(raw, field_selector)):
                out.append(key)
        return out


class StoreIndex:
    """A read index over kmock's object store, rebuilt on the first read after a write (``touch()``)."""

    def __init__(self, objects):
        self._objects = objects
        self.generation = 0
        self.builds = 0
        self._built = -1
        self._by_resource = {}

    def touch(self):
        self.generation += 1

    def _resource(self, resource) -> _ResourceIndex | None:
        if self._built != self.generation:
            by_resource = {}
            for (res, namespace, name), obj in self._objects.items():
                if obj.deleted:
                    continue
                key = (res.group or "", res.version or "", res.plural or "")
                entry = by_resource.get(key)
                if entry is None:
                    entry = by_resource[key] = _ResourceIndex(res.plural or "")
                entry.add(namespace, name, obj.raw)
            for entry in by_resource.values():
                entry.finish()
            self._by_resource = by_resource
            self._built = self.generation
            self.builds += 1
        return self._by_resource.get((resource.group or "", resource.version or "", resource.plural or ""))

    def get(self, resource, namespace, name):
        """The object as served, or None."""
        entry = self._resource(resource)
        key = (namespace or "", name)
        return entry.shown(key) if entry is not None and key in entry.raw else None

    def get_json(self, resource, namespace, name) -> bytes | None:
        """``get()`` as JSON bytes (encoded once per index build), or None."""
        entry = self._resource(resource)
        key = (namespace or "", name)
        return entry.shown_json(key) if entry is not None and key in entry.raw else None

    def _page(self, resource, namespace, label_selector, field_selector, limit, token):
        entry = self._resource(resource)
        keys = entry.select(namespace, label_selector, field_selector) if entry is not None else []
        start = 0
        if token:
            start = bisect.bisect_right(keys, decode_continue(token))
        try:
            limit = int(limit) if limit not in (None, "") else 0
        except ValueError:
            raise ValueError("limit must be an integer: %r" % (limit,)) from None
        if limit < 0:
            raise ValueError("limit must not be negative: %s" % limit)
        end = len(keys) if not limit else min(len(keys), start + limit)
        meta = {"resourceVersion": str(self.generation)}
        if end < len(keys):
            meta["continue"] = encode_continue(keys[end - 1], self.generation)
            meta["remainingItemCount"] = len(keys) - end
        head = {"apiVersion": "apps/v1" if resource.group == "apps" else "v1",
                "kind": LIST_KINDS.get(resource.plural, "List"), "metadata": meta}
        return entry, keys[start:end], head

    def list(self, resource, namespace=None, label_selector=None, field_selector=None, limit=None, token=None):
        """A List body with ``limit``/``continue`` paging as the API server does it.

        ``continue`` resumes after the last key of the previous page (the lab keeps no
        snapshot per resourceVersion, so objects written between pages show up if they
        sort later, and a real server would answer from its snapshot). ``remainingItemCount``
        is set when more pages follow. ValueError for a bad ``limit`` or token.
        """
        entry, keys, head = self._page(resource, namespace, label_selector, field_selector, limit, token)
        return dict(head, items=[entry.shown(key) for key in keys])

    def list_json(self, resource, namespace=None, label_selector=None, field_selector=None, limit=None,
                  token=None) -> bytes:
        """``list()`` as JSON bytes, assembled from the objects' cached encodings."""
        entry, keys, head = self._page(resource, namespace, label_selector, field_selector, limit, token)
        return b"".join([json.dumps(head, separators=(",", ":")).encode()[:-1], b',"items":[',
                         b",".join(entry.shown_json(key) for key in keys), b"]}"])


def indexed_emulator():
    """A kmock KubernetesEmulator whose write requests invalidate its ``index`` (a StoreIndex).

    Any request other than GET/HEAD counts as a write: kmock classifies a POST to a
    subresource (an Eviction) as no action at all, yet the handler deletes the pod.
    """
    import kmock  # pylint: disable=import-outside-toplevel

    class IndexedEmulator(kmock.KubernetesEmulator):  # pylint: disable=too-many-ancestors
        # Seconds every answer waits, as a remote API server's round trip would (0: answer at once;
        # the fleet benchmark can set it). The wait is asynchronous: requests in flight overlap.
        latency_s = 0.0

        async def _handle(self, request):
            if self.latency_s:
                await asyncio.sleep(self.latency_s)
            try:
                return await super()._handle(request)
            finally:
                if str(getattr(request.method, "value", request.method)).upper() not in ("GET", "HEAD"):
                    self.index.touch()

    km = IndexedEmulator()
    km.index = StoreIndex(km.objects)
    return km


INDEXED_READS = ("v1/pods", "v1/nodes", "apps/v1/daemonsets", "v1/configmaps")


def install_indexed_reads(km, kubernetes_error, resources=INDEXED_READS):
    """Serve LIST (selectors, paging) and GET-by-name of ``resources`` from ``km.index``.

    One reaction for every GET, registered before the others: kmock matches each
    request against every reaction's filters in turn, and that matching cost more
    than the answer itself. Requests this reaction does not serve (other resources,
    subresources such as the node proxy, watches) raise NotImplementedError, which
    kmock takes as "not mine" and passes on to the next reaction.
    """
    import kmock  # pylint: disable=import-outside-toplevel

    served = set()
    for resource in resources:
        res = kmock.resource(resource)
        served.add((res.group or "", res.version or "", res.plural or ""))

    def indexed_get(request):
        res = request.resource
        if res is None or request.subresource or (res.group or "", res.version or "", res.plural or "") not in served:
            raise NotImplementedError
        if request.action == kmock.action.LIST:
            try:
                body = km.index.list_json(res, request.namespace, request.params.get("labelSelector"),
                                          request.params.get("fieldSelector"), request.params.get("limit"),
                                          request.params.get("continue"))
            except ValueError as exc:
                raise kubernetes_error(status=400, reason="BadRequest", message=str(exc)) from None
        elif request.action == kmock.action.FETCH:
            body = km.index.get_json(res, request.namespace, request.name)
            if body is None:
                raise kubernetes_error(status=404, reason="NotFound", message='%s "%s" not found' % (res.plural,
                                                                                                     request.name))
        else:
            raise NotImplementedError
        return kmock.Response(status=200, headers={"Content-Type": "application/json"}, payload=body)

    km["get"] << indexed_get


def _request_tuple(request) -> tuple:
    """(METHOD, path, query dict) of a kmock request."""
    method = request.method.value if hasattr(request.method, "value") else request.method
    return str(method).upper(), request.url.path, dict(request.params)


# --------------------------------------------------------------------------
# the kmock server in a thread
# --------------------------------------------------------------------------
# One entry per HTTP request a server instance served, in arrival order. ``user``
# is who sent it: the name registered for its bearer token in
# ``KmockServer.users``, "system:anonymous" without one, "unknown" for a token
# nobody registered. The token itself is never kept.
LoggedRequest = collections.namedtuple("LoggedRequest", "method path query user")


def _logging_server_cls(server):
    """An aiohttp RawTestServer class that appends each request to ``server.request_log`` before kmock sees it."""
    from aiohttp.test_utils import RawTestServer  # pylint: disable=import-outside-toplevel

    def record(raw):
        auth = raw.headers.get("Authorization") or ""
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else None
        user = "system:anonymous" if not token else server.users.get(token, "unknown")
        server.request_log.append(LoggedRequest(raw.method.upper(), raw.path, dict(raw.query), user))

    class LoggingServer(RawTestServer):
        def __init__(self, handler, **kwargs):
            async def logged(raw):
                record(raw)
                answer = await serve_namespaces(server.km, raw)
                return answer if answer is not None else await handler(raw)
            super().__init__(logged, **kwargs)

    return LoggingServer


# kmock 0.8 parses /api/v1/namespaces/<name> as "namespace <name>, no resource" and fails on
# POST /api/v1/namespaces, so Namespace objects are served here, from kmock's own store
# (the key KmockServer.inject uses), before kmock sees the request.
NAMESPACE_PATH = re.compile(r"^/api/v1/namespaces(?:/([^/]+))?/?$")


def _status(code: int, reason: str, message: str):
    from aiohttp import web  # pylint: disable=import-outside-toplevel

    return web.json_response({"apiVersion": "v1", "kind": "Status", "metadata": {}, "status": "Failure",
                              "code": code, "reason": reason, "message": message}, status=code)


async def serve_namespaces(km, raw):
    """The answer to a Namespace request (create, list, get, patch, delete), or None for any other request."""
    import kmock  # pylint: disable=import-outside-toplevel
    from aiohttp import web  # pylint: disable=import-outside-toplevel

    match = NAMESPACE_PATH.match(raw.path)
    if not match or raw.query.get("watch") not in (None, "false", "0"):
        return None
    resource = kmock.resource("v1/namespaces")
    name = match.group(1)
    method = raw.method.upper()
    if name is None:
        if method == "GET":
            items = [obj.raw for (res, dummy, dummy2), obj in km.objects.items() if res == resource and not obj.deleted]
            return web.json_response({"apiVersion": "v1", "kind": "NamespaceList", "metadata": {"resourceVersion": "1"},
                                      "items": items})
        if method != "POST":
            return _status(405, "MethodNotAllowed", "%s is not supported on namespaces" % method)
        body = json.loads(await raw.read() or b"{}")
        name = (body.get("metadata") or {}).get("name")
        if not name:
            return _status(422, "Invalid", "metadata.name: Required value")
        body.setdefault("status", {"phase": "Active"})
        key = (resource, None, name)
        if key in km.objects and not km.objects[key].deleted:
            return _status(409, "AlreadyExists", 'namespaces "%s" already exists' % name)
        if key in km.objects:
            km.objects[key].create(body)
        else:
            km.objects[key] = body
        return web.json_response(km.objects[key].raw, status=201)
    key = (resource, None, name)
    if key not in km.objects or km.objects[key].deleted:
        return _status(404, "NotFound", 'namespaces "%s" not found' % name)
    obj = km.objects[key]
    if method == "GET":
        return web.json_response(obj.raw)
    if method == "PATCH":
        obj.patch(json.loads(await raw.read() or b"{}"))
        return web.json_response(obj.raw)
    if method == "DELETE":
        last = obj.raw
        obj.delete()
        return web.json_response(last)
    return _status(405, "MethodNotAllowed", "%s is not supported on namespaces/%s" % (method, name))


class KmockServer:
    """kmock KubernetesEmulator on 127.0.0.1:<port> (0: any free port), run by a background thread.

    ``configz``: per-node overrides of the node proxy /configz (a dict, or an int status to fail with).
    ``default_configz``: the answer for nodes without an override and without a kubelet report; None
    answers 503 as for an unreachable kubelet (the lab); the default "tests" answers a copy of ``DEFAULT_CONFIGZ``.
    ``request_log``: every request served, as ``LoggedRequest(method, path, query, user)``; ``users`` maps
    bearer tokens to the user names the log shows. ``log_limit`` keeps only the newest entries (None: all).
    """

    def __init__(self, port: int = 0, host: str = "127.0.0.1", default_configz="tests", log_limit: int | None = None):
        self.host = host
        self.port = port or None
        self._want_port = port
        self.configz = {}
        self.default_configz = json.loads(json.dumps(DEFAULT_CONFIGZ)) if default_configz == "tests" else default_configz
        self.refuse_evictions = {}
        self.evictions = []
        self.users = {}
        self.request_log = collections.deque(maxlen=log_limit)
        self._ready = threading.Event()
        self._error = None
        self._loop = None
        self._stop = None
        self._thread = threading.Thread(target=self._run, name="kmock", daemon=True)

    # lifecycle -----------------------------------------------------------
    def start(self):
        self._thread.start()
        if not self._ready.wait(20):
            raise RuntimeError("kmock did not start: %r" % (self._error,))
        if self._error:
            raise self._error
        return self

    def stop(self):
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def wait(self):
        self._thread.join()

    def _run(self):
        self._loop = asyncio.new_event_loop()
        try:
            self._loop.run_until_complete(self._main())
        except Exception as exc:  # surfaced by start()  # pylint: disable=broad-except
            self._error = exc
            self._ready.set()
        finally:
            self._loop.close()

    async def _main(self):  # noqa: C901 - one closure per kmock gap
        import kmock  # pylint: disable=import-outside-toplevel
        from kmock._internal.k8s import KubernetesError  # pylint: disable=import-outside-toplevel

        self._stop = asyncio.Event()
        server_kwargs = {"host": self.host, "server_cls": _logging_server_cls(self)}
        if self._want_port:
            server_kwargs["port"] = self._want_port
        async with indexed_emulator() as km, kmock.Server(km, **server_kwargs) as srv:
            self.km = km
            self.port = srv.port
            # kmock's bundled resource discovery (/api/v1, /apis/<group>/<version> of the core
            # groups, rbac.authorization.k8s.io included), which kubernetes.core's client needs.
            with warnings.catch_warnings():  # kmock 0.8 reads it with a deprecated importlib call
                warnings.simplefilter("ignore", DeprecationWarning)
                km.resources.load_bundled()

            def get_one(resource, namespace, name):
                return km.index.get(kmock.resource(resource), namespace, name)

            install_indexed_reads(km, KubernetesError)

            def evict(request):
                ref = "%s/%s" % (request.namespace, request.name)
                self.evictions.append(ref)
                key = (kmock.resource("v1/pods"), request.namespace, request.name)
                if key not in km.objects or km.objects[key].deleted:
                    raise KubernetesError(status=404, reason="NotFound", message='pods "%s" not found' % request.name)
                if self.refuse_evictions.get(ref, 0) > 0:
                    self.refuse_evictions[ref] -= 1
                    raise KubernetesError(status=429, reason="TooManyRequests",
                                          message="Cannot evict pod as it would violate the pod's disruption budget.")
                km.objects[key].delete()
                return {"apiVersion": "v1", "kind": "Status", "status": "Success", "code": 201}

            km["post", kmock.resource("v1/pods"), kmock.subresource("eviction")] << evict

            def configz(request):
                if request.name in self.configz:
                    value = self.configz[request.name]
                    if isinstance(value, int):
                        raise KubernetesError(status=value, reason="Unavailable", message="kubelet unreachable")
                    return value
                report = configz_from_report(get_one("v1/configmaps", LAB_NAMESPACE, CONFIGZ_PREFIX + request.name),
                                             get_one("v1/nodes", None, request.name))
                if report is not None:
                    return report
                if self.default_configz is not None:
                    return self.default_configz
                raise KubernetesError(status=503, reason="ServiceUnavailable",
                                      message="error trying to reach service: dial tcp: connect: connection refused "
                                              "(the kubelet of %s is not running)" % request.name)

            km["get", kmock.resource("v1/nodes"), kmock.subresource("proxy/configz")] << configz

            self._ready.set()
            await self._stop.wait()

    # helpers -------------------------------------------------------------
    def inject(self, resource: str, namespace: str | None, body: dict) -> None:
        """Store an object directly, without a request (it does not appear in the request log)."""
        import kmock  # pylint: disable=import-outside-toplevel

        def put():
            self.km.objects[(kmock.resource(resource), namespace, body["metadata"]["name"])] = body
            self.km.index.touch()
        self._loop.call_soon_threadsafe(put)

    def load(self, objects, timeout: float = 120) -> int:
        """Store many objects at once and wait until they are stored: ``objects`` yields
        (resource, namespace, body). Seeding through POST costs kmock a scan of every
        object per create; this is how the fleet benchmark seeds thousands. Returns the count."""
        import kmock  # pylint: disable=import-outside-toplevel

        objects = list(objects)

        async def put():
            for resource, namespace, body in objects:
                self.km.objects[(kmock.resource(resource), namespace, body["metadata"]["name"])] = body
            self.km.index.touch()
        asyncio.run_coroutine_threadsafe(put(), self._loop).result(timeout)
        return len(objects)

    def drain_requests(self, keep: int = 64, timeout: float = 10) -> list:
        """(method, path, query) of the logged requests but the newest ``keep``, removed from kmock's log.

        kmock matches each new request against its whole log, so a request costs time
        in proportion to the requests before it; a long run (the fleet benchmark's
        thousands of requests) drains the log as it goes and counts what it took plus
        what ``requests()`` still shows. kmock finds a request's reaction through the log,
        so the newest entries (requests still being answered) must stay: ``keep`` must
        exceed the requests in flight at once.
        """
        async def take():
            log = self.km._requests  # pylint: disable=protected-access
            count = max(0, len(log) - keep)
            taken = [_request_tuple(r) for r in log[:count]]
            del log[:count]
            return taken
        return asyncio.run_coroutine_threadsafe(take(), self._loop).result(timeout)

    def undrained_requests(self) -> list:
        """(method, path, query) of the requests still in kmock's own log (what drain_requests has not taken)."""
        return [_request_tuple(r) for r in list(self.km._requests)]  # pylint: disable=protected-access

    def trim_request_log(self, keep: int = 200) -> None:
        """kmock keeps every request for assertions; a long-running lab server drops the old ones."""
        log = getattr(getattr(self, "km", None), "_requests", None)
        if isinstance(log, list) and len(log) > 10 * keep:
            self._loop.call_soon_threadsafe(lambda: log.__delitem__(slice(0, len(log) - keep)))

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def requests(self, user: str | None = None):
        """(method, path, query) of every request served so far (only those *user* sent, when given)."""
        return [(r.method, r.path, r.query) for r in list(self.request_log) if user is None or r.user == user]


def write_kubeconfig(path, server, token, context="kmock", extra_wrong_context=False):
    """A token kubeconfig (JSON is YAML). ``extra_wrong_context`` adds a context that points nowhere (tests)."""
    data = {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "kmock", "cluster": {"server": server}}],
        "users": [{"name": "tester", "user": {"token": token}}],
        "contexts": [{"name": context, "context": {"cluster": "kmock", "user": "tester"}}],
        "current-context": context,
    }
    if extra_wrong_context:
        data["clusters"].append({"name": "elsewhere", "cluster": {"server": "http://127.0.0.1:9"}})
        data["contexts"].append({"name": "wrong", "context": {"cluster": "elsewhere", "user": "tester"}})
    write_text(str(path), json.dumps(data, indent=2) + "\n", mode=0o600)
    return str(path)


# --------------------------------------------------------------------------
# a tiny HTTP client (the controllers and the seeding talk to the API like anyone else)
# --------------------------------------------------------------------------
class Api:
    def __init__(self, base: str, token: str | None = None, timeout: float = 10):
        self.base = base.rstrip("/")
        self.token = token
        self.timeout = timeout

    def call(self, method: str, path: str, body=None, content_type: str = "application/json"):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", content_type)
        if self.token:
            req.add_header("Authorization", "Bearer " + self.token)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310 - loopback only
                text = resp.read().decode()
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise
        return json.loads(text) if text else {}

    def get(self, path):
        return self.call("GET", path)

    def items(self, path):
        return (self.get(path) or {}).get("items") or []

    def create(self, path, body):
        try:
            return self.call("POST", path, body)
        except urllib.error.HTTPError as exc:
            if exc.code == 409:
                return None
            raise

    def merge(self, path, body):
        return self.call("PATCH", path, body, "application/merge-patch+json")

    def delete(self, path):
        return self.call("DELETE", path)


# --------------------------------------------------------------------------
# the controllers
# --------------------------------------------------------------------------
def _ready_condition(node: dict) -> dict | None:
    for cond in (node.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return cond
    return None


def _owned_by(pod: dict, ds: dict) -> bool:
    for ref in (pod.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("kind") == "DaemonSet" and ref.get("name") == ds["metadata"]["name"]:
            return True
    return False


def daemonset_pod(ds: dict, node_name: str) -> dict:
    meta = ds["metadata"]
    template = (ds.get("spec") or {}).get("template") or {}
    spec = json.loads(json.dumps(template.get("spec") or {}))
    spec["nodeName"] = node_name
    spec["tolerations"] = daemonset_tolerations(spec)
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": "%s-%s" % (meta["name"], node_name),
            "namespace": meta["namespace"],
            "uid": str(uuid.uuid4()),
            "labels": dict((template.get("metadata") or {}).get("labels") or {}),
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": meta["name"],
                                 "uid": meta.get("uid") or str(uuid.uuid5(uuid.NAMESPACE_URL, meta["name"])),
                                 "controller": True, "blockOwnerDeletion": True}],
        },
        "spec": spec,
    }


# Tolerations the real DaemonSet controller adds to every DaemonSet pod (pkg/controller/daemon/util).
DAEMONSET_TOLERATIONS = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
]
HOST_NETWORK_TOLERATION = {"key": "node.kubernetes.io/network-unavailable", "operator": "Exists",
                           "effect": "NoSchedule"}


def tolerates(toleration: dict, taint: dict) -> bool:
    """Kubernetes' Toleration.ToleratesTaint: effect (empty = all), key (empty + Exists = all), Exists or Equal value."""
    if toleration.get("effect") and toleration["effect"] != taint.get("effect"):
        return False
    operator = toleration.get("operator") or "Equal"
    if not toleration.get("key"):
        return operator == "Exists"
    if toleration["key"] != taint.get("key"):
        return False
    if operator == "Exists":
        return True
    return operator == "Equal" and (toleration.get("value") or "") == (taint.get("value") or "")


def untolerated_taints(node: dict, pod_spec: dict, effects=("NoSchedule", "NoExecute")) -> list[dict]:
    """The node's taints with one of ``effects`` that no toleration of the pod spec tolerates."""
    tolerations = pod_spec.get("tolerations") or []
    return [t for t in (node.get("spec") or {}).get("taints") or []
            if t.get("effect") in effects and not any(tolerates(tol, t) for tol in tolerations)]


def daemon_placement(node: dict, pod_spec: dict) -> tuple[bool, bool]:
    """(should_run, should_continue_running) of a DaemonSet pod on a node, as the real controller decides.

    A new pod needs the nodeSelector and every NoSchedule/NoExecute taint
    tolerated (the controller's default tolerations included); a running pod
    stays unless the nodeSelector stops matching or an untolerated NoExecute
    taint appears (tolerationSeconds is not emulated). PreferNoSchedule never
    blocks.
    """
    labels = (node.get("metadata") or {}).get("labels") or {}
    if not all(labels.get(k) == v for k, v in (pod_spec.get("nodeSelector") or {}).items()):
        return False, False
    spec = dict(pod_spec, tolerations=daemonset_tolerations(pod_spec))
    return not untolerated_taints(node, spec), not untolerated_taints(node, spec, effects=("NoExecute",))


def daemonset_tolerations(pod_spec: dict) -> list[dict]:
    """The template's tolerations plus the ones the DaemonSet controller adds."""
    extra = DAEMONSET_TOLERATIONS + ([HOST_NETWORK_TOLERATION] if pod_spec.get("hostNetwork") else [])
    have = list(pod_spec.get("tolerations") or [])
    return have + [t for t in extra if t not in have]


def reconcile_daemonsets(api: Api, namespaces=(PTP_NAMESPACE, SRIOV_DP_NAMESPACE)) -> list[str]:
    """One pass of the emulated DaemonSet controller; returns what it did (for logs and tests)."""
    actions = []
    nodes = api.items("/api/v1/nodes")
    for ns in namespaces:
        pods = api.items("/api/v1/namespaces/%s/pods" % ns)
        for ds in api.items("/apis/apps/v1/namespaces/%s/daemonsets" % ns):
            template = ((ds.get("spec") or {}).get("template") or {}).get("spec") or {}
            have = {}
            for pod in pods:
                if _owned_by(pod, ds):
                    have[(pod.get("spec") or {}).get("nodeName")] = pod
            wanted = {}
            for node in nodes:
                should_run, should_continue = daemon_placement(node, template)
                if should_run or (should_continue and node["metadata"]["name"] in have):
                    cond = _ready_condition(node) or {}
                    wanted[node["metadata"]["name"]] = cond.get("status") == "True"
            for node_name, ready in sorted(wanted.items()):
                phase = "Running" if ready else "Pending"
                pod = have.get(node_name)
                if pod is None:
                    body = daemonset_pod(ds, node_name)
                    api.create("/api/v1/namespaces/%s/pods" % ns, body)
                    pod = body
                    actions.append("created %s/%s" % (ns, body["metadata"]["name"]))
                if (pod.get("status") or {}).get("phase") != phase:
                    status = {"phase": phase, "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                              "startTime": now_rfc3339()}
                    api.merge("/api/v1/namespaces/%s/pods/%s/status" % (ns, pod["metadata"]["name"]), {"status": status})
                    actions.append("%s/%s %s" % (ns, pod["metadata"]["name"], phase))
            for node_name, pod in sorted(have.items(), key=lambda kv: str(kv[0])):
                if node_name not in wanted:
                    api.delete("/api/v1/namespaces/%s/pods/%s" % (ns, pod["metadata"]["name"]))
                    actions.append("deleted %s/%s" % (ns, pod["metadata"]["name"]))
            count = len(wanted)
            ready_count = sum(1 for v in wanted.values() if v)
            status = {"currentNumberScheduled": count, "desiredNumberScheduled": count, "numberReady": ready_count,
                      "numberAvailable": ready_count, "numberMisscheduled": 0}
            if (ds.get("status") or {}) != dict(ds.get("status") or {}, **status):
                api.merge("/apis/apps/v1/namespaces/%s/daemonsets/%s/status" % (ns, ds["metadata"]["name"]),
                          {"status": status})
    return actions


def reconcile_node_lifecycle(api: Api, now: float | None = None) -> list[str]:
    """Ready -> Unknown for nodes whose kubelet stopped posting status (the node lifecycle controller)."""
    actions = []
    now = now or time.time()
    for node in api.items("/api/v1/nodes"):
        cond = _ready_condition(node)
        if not cond or cond.get("status") == "Unknown":
            continue
        beat = parse_rfc3339(cond.get("lastHeartbeatTime"))
        if beat is not None and now - beat > KUBELET_STALE_S:
            conds = [dict(c) for c in node["status"]["conditions"]]
            for c in conds:
                if c.get("type") == "Ready":
                    c.update(status="Unknown", reason="NodeStatusUnknown", message="Kubelet stopped posting node status.",
                             lastTransitionTime=now_rfc3339())
            api.merge("/api/v1/nodes/%s/status" % node["metadata"]["name"], {"status": {"conditions": conds}})
            actions.append("node %s Ready=Unknown" % node["metadata"]["name"])
    return actions


class Controllers(threading.Thread):
    def __init__(self, api: Api, interval: float = 2.0, log=print, server=None):
        super().__init__(name="controllers", daemon=True)
        self.server = server
        self.api = api
        self.interval = interval
        self.log = log
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.wait(self.interval):
            try:
                for action in reconcile_daemonsets(self.api) + reconcile_node_lifecycle(self.api):
                    self.log(action)
            except Exception as exc:  # keep reconciling  # pylint: disable=broad-except
                self.log("controller error: %s" % exc)
            if self.server is not None:
                self.server.trim_request_log()


# --------------------------------------------------------------------------
# seeding
# --------------------------------------------------------------------------
def hft_daemonset(namespace: str, name: str, labels: dict, containers: list, volumes=None, annotations=None,
                  selector=None) -> dict:
    """A hostNetwork DaemonSet for the HFT nodes: nodeSelector quantbot.io/hft=true and :func:`hft_tolerations`."""
    pod_spec = {"nodeSelector": {HFT_LABEL: "true"}, "tolerations": hft_tolerations(), "hostNetwork": True,
                "containers": containers}
    if volumes:
        pod_spec["volumes"] = volumes
    meta = {"name": name, "namespace": namespace, "uid": str(uuid.uuid4()), "labels": dict(labels)}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": meta,
            "spec": {"selector": {"matchLabels": selector or dict(labels)},
                     "template": {"metadata": {"labels": dict(labels)}, "spec": pod_spec}}}


def ptp_daemonset() -> dict:
    return hft_daemonset(PTP_NAMESPACE, PTP_DAEMONSET, {"app": PTP_DAEMONSET},
                         [{"name": "ptp4l", "image": "registry.invalid/quantbot/linuxptp:4.0"},
                          {"name": "phc2sys", "image": "registry.invalid/quantbot/linuxptp:4.0"}])


def hft_tolerations() -> list[dict]:
    """What a DaemonSet for HFT nodes must tolerate: the runbook's taint, and the gate taint until validation passes."""
    return [{"key": HFT_LABEL, "operator": "Equal", "value": "true", "effect": "NoSchedule"},
            {"key": GATE_TAINT, "operator": "Exists", "effect": "NoSchedule"}]


def sriov_dp_daemonset(source: str = "configmap") -> dict:
    """The SR-IOV network device plugin's DaemonSet as upstream deploys it, for the HFT nodes.

    ``source`` is where its /etc/pcidp comes from: ``configmap`` (upstream's
    ConfigMap sriovdp-config, key config.json) or ``hostfile`` (a hostPath
    /etc/pcidp on the node). Nothing runs it: the kubelet stand-in reads the
    pod's volumes and emulates the plugin when the pod's uid changes.
    """
    if source not in SRIOV_DP_SOURCES:
        raise LabError("unknown SR-IOV device plugin config source %r (use %s)" % (source, " or ".join(SRIOV_DP_SOURCES)))
    volume = ({"name": "config-volume", "configMap": {"name": SRIOV_DP_CONFIGMAP,
                                                      "items": [{"key": "config.json", "path": "config.json"}]}}
              if source == "configmap" else
              {"name": "config-volume", "hostPath": {"path": "/etc/pcidp", "type": "DirectoryOrCreate"}})
    container = {"name": "kube-sriovdp", "image": "ghcr.io/k8snetworkplumbingwg/sriov-network-device-plugin:v3.11.0",
                 "args": ["--log-dir=sriovdp", "--log-level=10"],
                 "volumeMounts": [{"name": "config-volume", "mountPath": "/etc/pcidp"}]}
    return hft_daemonset(SRIOV_DP_NAMESPACE, SRIOV_DP_DAEMONSET, {"app": "sriovdp", "name": SRIOV_DP_DAEMONSET,
                                                                  "tier": "node"},
                         [container], volumes=[volume], annotations={"hftlab.quantbot.io/config-source": source},
                         selector={"name": SRIOV_DP_DAEMONSET})


def make_lab_ca(run_dir: str) -> str:
    """A self-signed lab CA (openssl), kept in the run dir; returns the PEM."""
    crt, key = os.path.join(run_dir, "ca.crt"), os.path.join(run_dir, "ca.key")
    if not os.path.exists(crt):
        proc = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
                               "-subj", "/CN=hftlab-kubernetes-ca", "-keyout", key, "-out", crt],
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise LabError("openssl could not make the lab CA: %s" % proc.stderr.strip())
        os.chmod(key, 0o600)
    with open(crt, encoding="ascii") as fh:
        return fh.read()


def spki_sha256(pem: str) -> str:
    """``sha256:<hex>`` of the certificate's SubjectPublicKeyInfo (kubeadm's CA pin).

    One implementation: the kubeadm stand-in's, which must stay a single
    stdlib-only file because it is copied into the VM.
    """
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "kube", "kubeadm_standin.py")
    spec = importlib.util.spec_from_file_location("hftlab_kubeadm_standin", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.spki_sha256(pem)


def seed(api: Api, port: int, ca_pem: str, token: str, server: KmockServer | None = None,
         sriov_dp_source: str = "configmap") -> None:
    if server is not None:
        for ns in (PTP_NAMESPACE, LAB_NAMESPACE, "kube-system", "kube-public"):
            server.inject("v1/namespaces", None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns},
                                                  "status": {"phase": "Active"}})
    api.create("/apis/apps/v1/namespaces/%s/daemonsets" % PTP_NAMESPACE, ptp_daemonset())
    api.create("/apis/apps/v1/namespaces/%s/daemonsets" % SRIOV_DP_NAMESPACE, sriov_dp_daemonset(sriov_dp_source))
    cluster_kubeconfig = (
        "apiVersion: v1\nkind: Config\nclusters:\n- name: \"\"\n  cluster:\n"
        "    certificate-authority-data: %s\n    server: http://%s:%d\ncontexts: []\nusers: []\n"
        % (base64.b64encode(ca_pem.encode()).decode(), GUEST_HOST_ADDR, port))
    api.create("/api/v1/namespaces/kube-public/configmaps", {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cluster-info", "namespace": "kube-public"},
        "data": {"kubeconfig": cluster_kubeconfig}})
    api.create("/api/v1/namespaces/kube-system/configmaps", {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kube-root-ca.crt", "namespace": "kube-system"},
        "data": {"ca.crt": ca_pem}})
    token_id, token_secret = token.split(".")
    expiration = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    api.create("/api/v1/namespaces/kube-system/secrets", {
        "apiVersion": "v1", "kind": "Secret", "type": "bootstrap.kubernetes.io/token",
        "metadata": {"name": "bootstrap-token-" + token_id, "namespace": "kube-system"},
        "data": dict((k, base64.b64encode(v.encode()).decode()) for k, v in {
            "token-id": token_id, "token-secret": token_secret, "expiration": expiration,
            "usage-bootstrap-authentication": "true", "usage-bootstrap-signing": "true",
            "auth-extra-groups": "system:bootstrappers:kubeadm:default-node-token"}.items())})


def new_token() -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "%s.%s" % ("".join(secrets.choice(alphabet) for dummy in range(6)),
                      "".join(secrets.choice(alphabet) for dummy in range(16)))


# --------------------------------------------------------------------------
# the `hftlab controlplane` process
# --------------------------------------------------------------------------
def serve(run_dir: str, port: int) -> int:
    """Run the control plane in the foreground until SIGTERM (the background process of `controlplane up`)."""
    def log(msg):
        print("[controlplane %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)

    server = KmockServer(port=port, default_configz=None, log_limit=2000).start()
    api = Api(server.url)
    ca_pem = make_lab_ca(run_dir)
    token = new_token()
    seed(api, server.port, ca_pem, token, server,
         sriov_dp_source=os.environ.get("HFTLAB_SRIOV_DP_CONFIG", "configmap"))  # `controlplane up --sriov-dp-config`
    admin_token = secrets.token_hex(16)
    write_kubeconfig(os.path.join(run_dir, "kubeconfig"), server.url, admin_token, context="hftlab")
    save_json(os.path.join(run_dir, "join.json"), {
        "api_server_endpoint": "%s:%d" % (GUEST_HOST_ADDR, server.port),
        "token": token,
        "discovery_token_ca_cert_hash": spki_sha256(ca_pem),
        "server": server.url,
    })
    os.chmod(os.path.join(run_dir, "join.json"), 0o600)
    controllers = Controllers(api, log=log, server=server)
    controllers.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    save_json(os.path.join(run_dir, "controlplane.json"),
              {"port": server.port, "pid": os.getpid(), "started_at": time.time(), "url": server.url})
    log("serving the emulated Kubernetes API on %s (guest: http://%s:%d)" % (server.url, GUEST_HOST_ADDR, server.port))
    stop.wait()
    controllers.stopping.set()
    server.stop()
    log("stopped")
    return 0


class ControlPlane:
    """Start/stop/status of the background control plane of one lab instance (PID file managed)."""

    def __init__(self, run_dir: str, instance: str, log=print):
        self.run_dir = run_dir
        self.instance = instance
        self.marker = "%s-%s" % (MARKER, instance)
        self.pidfile = os.path.join(run_dir, "controlplane.pid")
        self.statefile = os.path.join(run_dir, "controlplane.json")
        self.logfile = os.path.join(run_dir, "controlplane.log")
        self.log = log

    def pid(self) -> int | None:
        pid = read_pid(self.pidfile)
        return pid if is_alive_cmdline(pid, self.marker) else None

    def status(self) -> dict:
        pid = self.pid()
        st = load_state(self.statefile) if pid else {}
        info = {"running": bool(pid), "pid": pid, "run_dir": self.run_dir}
        if pid:
            info.update(port=st.get("port"), url=st.get("url"), kubeconfig=os.path.join(self.run_dir, "kubeconfig"),
                        guest_url="http://%s:%s" % (GUEST_HOST_ADDR, st.get("port")),
                        answering=bool(st.get("port")) and tcp_open("127.0.0.1", st["port"]))
        return info

    def up(self, port: int = 0, timeout: float = 30) -> dict:
        if self.pid():
            self.log("control plane already running (pid %s)" % self.pid())
            return self.status()
        os.makedirs(self.run_dir, exist_ok=True)
        for name in ("controlplane.json", "join.json", "kubeconfig"):
            if os.path.exists(os.path.join(self.run_dir, name)):
                os.unlink(os.path.join(self.run_dir, name))
        with open(self.logfile, "ab") as logfh:
            proc = subprocess.Popen(  # pylint: disable=consider-using-with
                [sys.executable, "-m", "hftlab.controlplane", "serve", "--run-dir", self.run_dir, "--port", str(port),
                 "--marker", self.marker],
                stdin=subprocess.DEVNULL, stdout=logfh, stderr=subprocess.STDOUT, start_new_session=True)
        write_pid(self.pidfile, proc.pid)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise LabError("the control plane exited (rc %s):\n%s" % (proc.returncode, tail(self.logfile, 20)))
            st = load_state(self.statefile)
            if st.get("pid") == proc.pid and tcp_open("127.0.0.1", st["port"]):
                self.log("control plane pid %s on %s; kubeconfig %s" % (proc.pid, st["url"],
                                                                        os.path.join(self.run_dir, "kubeconfig")))
                return self.status()
            time.sleep(0.2)
        proc.terminate()
        raise LabError("the control plane did not answer within %ss:\n%s" % (timeout, tail(self.logfile, 20)))

    def down(self) -> bool:
        pid = self.pid()
        if not pid:
            self.log("control plane is not running")
        else:
            self.log("stopping the control plane (pid %s)" % pid)
            os.kill(pid, signal.SIGTERM)
            for dummy in range(100):
                if not is_alive_cmdline(pid, self.marker):
                    break
                time.sleep(0.1)
            else:
                os.kill(pid, signal.SIGKILL)
        for name in ("controlplane.pid", "controlplane.json"):
            if os.path.exists(os.path.join(self.run_dir, name)):
                os.unlink(os.path.join(self.run_dir, name))
        return bool(pid)


# --------------------------------------------------------------------------
# the node side: kubeadm/kubelet stand-ins and the kubernetes Python client
# --------------------------------------------------------------------------
KUBE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "kube")
# Distributions of the kubernetes client's dependency closure left out of the node bundle:
# only kubernetes.aio (also left out) uses them.
_BUNDLE_SKIP = {"aiohttp", "aiohttp-retry", "aiohappyeyeballs", "aiosignal", "frozenlist", "multidict", "propcache",
                "yarl", "attrs", "async-timeout", "tzdata"}


def python_client_paths() -> list[str]:
    """Top-level import paths (relative to site-packages) of the kubernetes client and its dependencies."""
    seen, todo, tops = set(), ["kubernetes"], set()
    while todo:
        name = todo.pop()
        key = name.lower().replace("_", "-")
        if key in seen or key in _BUNDLE_SKIP:
            continue
        seen.add(key)
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        for path in dist.files or []:
            top = str(path).split("/", maxsplit=1)[0]
            if not (top.endswith((".dist-info", ".pth")) or top.startswith("..") or top == "__pycache__"):
                tops.add(top)
        for req in dist.requires or []:
            if "extra ==" not in req:
                todo.append(re.split(r"[ ;<>=!~\[(]", req)[0])
    return sorted(tops)


def node_bundle(path: str) -> str:
    """A tar.gz with the stand-ins (top level) and the kubernetes Python client (python/) for the VM."""
    import tempfile  # pylint: disable=import-outside-toplevel

    import kubernetes  # pylint: disable=import-outside-toplevel

    site = os.path.dirname(os.path.dirname(os.path.abspath(kubernetes.__file__)))
    with tempfile.TemporaryDirectory() as stage:
        os.mkdir(os.path.join(stage, "python"))
        for top in python_client_paths():
            os.symlink(os.path.join(site, top), os.path.join(stage, "python", top))
        for name in os.listdir(KUBE_DIR):
            if not name.startswith((".", "__")):
                os.symlink(os.path.join(KUBE_DIR, name), os.path.join(stage, name))
        argv = ["tar", "-czhf", path, "--exclude=__pycache__", "--exclude=python/kubernetes/aio", "-C", stage, "."]
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise LabError("could not pack the node bundle: %s" % proc.stderr.strip())
    return path


def install_node(ssh_run, key: str, port: int, bundle: str, log=print) -> None:
    """Ship the stand-ins (kubeadm, kubelet.service) and the kubernetes client into the VM; kubelet stays inactive."""
    started = time.monotonic()
    scp = ["scp", "-q", "-i", key, "-P", str(port), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
           "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "IdentitiesOnly=yes",
           bundle, "hft@127.0.0.1:/tmp/hftlab-kube.tgz"]
    proc = subprocess.run(scp, capture_output=True, text=True, timeout=300, check=False)
    if proc.returncode != 0:
        raise LabError("scp of the node bundle failed: %s" % proc.stderr.strip())
    res = ssh_run(key, port, "sudo sh -c 'mkdir -p /opt/hftlab/kube && tar -xzf /tmp/hftlab-kube.tgz -C /opt/hftlab/kube "
                  "&& rm -f /tmp/hftlab-kube.tgz && sh /opt/hftlab/kube/install.sh'", timeout=600)
    if res.returncode != 0:
        raise LabError("installing the kubeadm/kubelet stand-ins failed:\n%s%s" % (res.stdout, res.stderr))
    log("kubeadm/kubelet stand-ins and the kubernetes Python client installed in the VM (%.0fs)"
        % (time.monotonic() - started))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hftlab.controlplane")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_serve = sub.add_parser("serve")
    p_serve.add_argument("--run-dir", required=True)
    p_serve.add_argument("--port", type=int, default=0)
    p_serve.add_argument("--marker", default=MARKER)  # identifies the process in /proc/PID/cmdline
    args = parser.parse_args(argv)
    return serve(args.run_dir, args.port)


if __name__ == "__main__":
    sys.exit(main())
