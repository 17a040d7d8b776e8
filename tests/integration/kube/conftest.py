# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A Kubernetes API for the node_* module tests: kmock in a thread, or a real cluster.

``kube`` (function scope) gives each test a fresh API and a kubeconfig file:

* default: a kmock 0.8 ``KubernetesEmulator`` served on 127.0.0.1 from an
  asyncio loop in a background thread (kmock's own pytest fixture is async,
  and the modules run as subprocesses, so the server must live outside the
  test's own event loop). The modules reach it through the kubeconfig.
* ``QUANTBOT_REAL_CLUSTER=1`` with ``$KUBECONFIG`` set: the same tests run
  against that cluster. Tests marked ``kmock_only`` are skipped there (they
  seed what a real cluster computes itself: Node status, kubelet configz,
  PodDisruptionBudget refusals). Node-level tests use ``$QUANTBOT_TEST_NODE``
  (an existing, disposable worker) and a test label key
  ``test.quantbot.io/hft-it`` instead of ``quantbot.io/hft``; pods go to a
  throw-away namespace ``quantbot-it-<random>`` that is deleted afterwards.

kmock gaps filled with custom handlers (kmock 0.8 serves them wrong or not at all); the server is
``hftlab.controlplane.KmockServer`` (lab/hftlab/controlplane.py), shared with the lab's emulated
control plane:

1. LIST pods/nodes honour ``fieldSelector`` (``spec.nodeName=``, ``metadata.name=``,
   ``metadata.namespace=``, ``status.phase=``, with ``=``, ``==`` and ``!=``) and
   ``labelSelector`` (``k=v``, ``k==v``, ``k!=v``, ``k``, ``!k``). kmock ignores both and
   returns everything. (The modules also filter on spec.nodeName themselves.)
2. ``POST .../pods/NAME/eviction`` (policy/v1 Eviction): deletes the pod and
   answers 201 like the API server, 404 for a missing pod, and 429 (a
   PodDisruptionBudget refusal) while ``kube.refuse_evictions[ns/name]`` > 0.
   kmock has no eviction subresource.
3. ``GET /api/v1/nodes/NAME/proxy/configz``: answers ``kube.configz[NAME]``
   (default: ``controlplane.DEFAULT_CONFIGZ``, cpuManagerPolicy static, topologyManagerPolicy single-numa-node).
   kmock would return the Node object itself (it ignores the subresource).
4. Pod reads/lists add the ``uid`` kmock leaves out, so drain can tell a
   recreated pod from the one it evicted.
5. Namespaces (create, list, get, patch, delete): kmock 0.8 cannot parse their paths.
6. Resource discovery (``/api/v1``, ``/apis/<group>/<version>``): kmock's bundled list,
   which kubernetes.core's dynamic client needs (``playbooks/rbac.yml``).

Every request is logged per server (``server.request_log``: method, path, query and the
user registered for its bearer token in ``server.users``); the RBAC conformance test
(``test_rbac_conformance.py``) judges a module's requests from it.

Not filled (the modules do not depend on them): keyed strategic merge of
lists (the modules send whole taint lists), status subresource, PUT,
resourceVersion preconditions (node_label only sends a resourceVersion when
the Node has one, which kmock Nodes do not).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
import uuid

import pytest

INTEG_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(INTEG_DIR)))
COLLECTIONS = os.path.join(REPO_ROOT, ".collections")
if os.path.isdir(COLLECTIONS) and COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)

REAL = os.environ.get("QUANTBOT_REAL_CLUSTER") == "1" and bool(os.environ.get("KUBECONFIG"))
TEST_TOKEN = "kmock-s3cr3t-bearer-token-do-not-print"
MODULE_PKG = "ansible_collections.quantbot.hft.plugins.modules"


_THIS = sys.modules[__name__]


def pytest_pycollect_makemodule(module_path, parent):  # pylint: disable=unused-argument
    """Make ``from conftest import ...`` in this directory's tests import this file.

    pytest imports every conftest.py of the run as the module ``conftest`` (rootdir-relative
    names need packages), so the last one loaded wins: with ``pytest tests/integration/kube
    tests/unit`` that is tests/unit's, and these tests would import names it does not have.
    This hook runs for each test file here just before pytest imports it.
    """
    sys.modules["conftest"] = _THIS


def pytest_configure(config):
    config.addinivalue_line("markers", "kmock_only: needs seeding a real cluster cannot do; skipped "
                                       "when QUANTBOT_REAL_CLUSTER=1")


def pytest_collection_modifyitems(config, items):
    if not REAL:
        return
    skip = pytest.mark.skip(reason="seeds Node status/configz/PDB refusals: kmock only")
    for item in items:
        if "kmock_only" in item.keywords:
            item.add_marker(skip)


# --------------------------------------------------------------------------
# the kmock server (gaps 1-4) lives in the lab's emulated control plane
# --------------------------------------------------------------------------
try:
    from hftlab import controlplane  # the lab package (pip install -e lab)
except ImportError:  # a checkout without the lab installed
    sys.path.insert(0, os.path.join(REPO_ROOT, "lab"))
    from hftlab import controlplane

KmockServer = controlplane.KmockServer
match_fields = controlplane.match_fields
match_labels = controlplane.match_labels


def wait_until(fn, timeout=15.0, interval=0.1):
    """Call fn until it returns something true or ``timeout`` seconds pass; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def ansible_env(**extra):
    """The environment for ansible-playbook from a test: the checkout as quantbot.hft, no colours."""
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO_ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_COLLECTIONS_PATH=COLLECTIONS)
    env.update(extra)
    return env


def write_kubeconfig(path, server, token=TEST_TOKEN, context="kmock"):
    """A kubeconfig for the test API, with a second context "wrong" that points nowhere."""
    return controlplane.write_kubeconfig(path, server, token, context=context, extra_wrong_context=True)


# --------------------------------------------------------------------------
# the fixture object
# --------------------------------------------------------------------------
class Kube(object):
    """What a test needs: kubeconfig, a client, seeding helpers and a module runner."""

    def __init__(self, kubeconfig, server=None, real=False, tmp_path=None):
        from kubernetes import client, config

        self.kubeconfig = kubeconfig
        self.server = server
        self.real = real
        self.tmp_path = tmp_path
        cfg = client.Configuration()
        config.load_kube_config(config_file=kubeconfig, client_configuration=cfg, persist_config=False)
        cfg.proxy = None
        self.client = client
        self.api_client = client.ApiClient(cfg)
        self.v1 = client.CoreV1Api(self.api_client)
        self.token = None if real else TEST_TOKEN  # the bearer token that must never be printed
        self.label_key = "test.quantbot.io/hft-it" if real else "quantbot.io/hft"
        self.namespace = "quantbot-it-%s" % uuid.uuid4().hex[:6] if real else "alphaswarm-bots"
        self._created_ns = False
        self._cleanup = []

    # reading -------------------------------------------------------------
    def node(self, name):
        resp = self.v1.read_node(name, _preload_content=False)
        return json.loads(resp.data)

    def pod_exists(self, namespace, name):
        from kubernetes.client.rest import ApiException
        try:
            self.v1.read_namespaced_pod(name, namespace, _preload_content=False)
            return True
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise

    # seeding -------------------------------------------------------------
    def node_name(self):
        if self.real:
            name = os.environ.get("QUANTBOT_TEST_NODE")
            if not name:
                pytest.skip("set QUANTBOT_TEST_NODE to a disposable worker for real-cluster node tests")
            return name
        return None

    def seed_node(self, name, labels=None, taints=None, allocatable=None, ready=True, unschedulable=False):
        """Create a Node (kmock) with status; on a real cluster return the existing test node."""
        real_name = self.node_name()
        if real_name:
            return real_name
        body = {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": name, "labels": dict({"kubernetes.io/hostname": name}, **(labels or {}))},
                "spec": {}}
        if taints:
            body["spec"]["taints"] = taints
        if unschedulable:
            body["spec"]["unschedulable"] = True
        self.v1.create_node(body, _preload_content=False)
        status = {"conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                  "reason": "KubeletReady" if ready else "KubeletNotReady"}]}
        if allocatable is not None:
            status["allocatable"] = allocatable
            status["capacity"] = allocatable
        self.v1.patch_node_status(name, {"status": status}, _preload_content=False)
        return name

    def ensure_namespace(self, namespace=None):
        namespace = namespace or self.namespace
        if self.real and not self._created_ns:
            self.v1.create_namespace({"metadata": {"name": namespace}}, _preload_content=False)
            self._created_ns = True
            self._cleanup.append(lambda: self.v1.delete_namespace(namespace, _preload_content=False))
        return namespace

    def seed_pod(self, name, node, namespace=None, phase="Running", owner=None, cpu=None, memory=None,
                 cpu_limit=None, memory_limit=None, labels=None, annotations=None, volumes=None):
        namespace = self.ensure_namespace(namespace)
        resources = {}
        if cpu or memory:
            resources["requests"] = dict((k, v) for k, v in (("cpu", cpu), ("memory", memory)) if v)
        if cpu_limit or memory_limit:
            resources["limits"] = dict((k, v) for k, v in (("cpu", cpu_limit), ("memory", memory_limit)) if v)
        meta = {"name": name, "namespace": namespace, "labels": labels or {"app": name}}
        if annotations:
            meta["annotations"] = annotations
        if owner:
            kind, oname = owner
            meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": kind, "name": oname,
                                        "uid": str(uuid.uuid4()), "controller": True}]
        body = {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
                "spec": {"nodeName": node,
                         "containers": [{"name": "bot", "image": "registry.invalid/bot:1",
                                         "resources": resources}]}}
        if volumes:
            body["spec"]["volumes"] = volumes
        self.v1.create_namespaced_pod(namespace, body, _preload_content=False)
        if not self.real and phase:
            self.v1.patch_namespaced_pod_status(name, namespace, {"status": {"phase": phase}},
                                                _preload_content=False)
        return "%s/%s" % (namespace, name)

    def seed_cluster_info(self, pem, server="https://10.0.0.10:6443"):
        """kube-public/cluster-info as kubeadm writes it (the CA node_join create_token pins, the API endpoint)."""
        if isinstance(pem, str):
            pem = pem.encode()
        info = ("apiVersion: v1\nkind: Config\nclusters:\n- name: \"\"\n  cluster:\n"
                "    certificate-authority-data: %s\n    server: %s\n" % (base64.b64encode(pem).decode(), server))
        self.v1.create_namespaced_config_map("kube-public", {"metadata": {"name": "cluster-info"},
                                                             "data": {"kubeconfig": info}}, _preload_content=False)

    def cleanup(self):
        for fn in reversed(self._cleanup):
            try:
                fn()
            except Exception:  # best effort on a real cluster
                pass

    # running modules -----------------------------------------------------
    def run(self, module, args, check=False, diff=False, auth=True, env=None, timeout=60):
        """Run quantbot.hft.<module> as Ansible runs it (JSON args on stdin); return the result dict."""
        module_args = dict(args)
        if auth:
            module_args.setdefault("kubeconfig", self.kubeconfig)
        module_args["_ansible_check_mode"] = check
        module_args["_ansible_diff"] = diff
        run_env = dict(os.environ)
        run_env["PYTHONPATH"] = COLLECTIONS + os.pathsep + run_env.get("PYTHONPATH", "")
        run_env.update(env or {})
        proc = subprocess.run([sys.executable, "-m", "%s.%s" % (MODULE_PKG, module)],
                              input=json.dumps({"ANSIBLE_MODULE_ARGS": module_args}),
                              capture_output=True, text=True, timeout=timeout, env=run_env, cwd=REPO_ROOT,
                              check=False)
        out = proc.stdout.strip()
        try:
            result = json.loads(out[out.index("{"):])
        except ValueError:
            raise AssertionError("module %s printed no JSON (rc %s):\n%s\n%s" % (module, proc.returncode,
                                                                                 proc.stdout, proc.stderr))
        result["_raw"] = proc.stdout + proc.stderr
        result["_rc"] = proc.returncode
        return result

    def run_adhoc(self, module, args, timeout=120):
        """Run quantbot.hft.<module> through `ansible localhost -m` (AnsiballZ, callbacks and all).

        Returns (status word such as SUCCESS/CHANGED/FAILED/SKIPPED, result dict).
        """
        module_args = dict(args)
        module_args.setdefault("kubeconfig", self.kubeconfig)
        bindir = os.path.dirname(sys.executable)
        env = dict(os.environ, PATH=bindir + os.pathsep + os.environ.get("PATH", ""), ANSIBLE_NOCOLOR="1")
        proc = subprocess.run([os.path.join(bindir, "ansible"), "localhost", "-o", "-m", "quantbot.hft." + module,
                               "-a", json.dumps(module_args)],
                              capture_output=True, text=True, timeout=timeout, env=env, cwd=REPO_ROOT, check=False)
        line = [ln for ln in proc.stdout.splitlines() if ln.startswith("localhost | ")]
        if not line:
            raise AssertionError("ansible printed no result:\n%s\n%s" % (proc.stdout, proc.stderr))
        head, dummy, body = line[0].partition(" => ")
        return head.split(" | ")[1].split(":")[0].strip(), json.loads(body) if body else {}


@pytest.fixture
def kube(tmp_path):
    if REAL:
        k = Kube(os.environ["KUBECONFIG"].split(os.pathsep)[0], real=True, tmp_path=tmp_path)
        yield k
        k.cleanup()
        return
    server = KmockServer().start()
    try:
        path = write_kubeconfig(tmp_path / "kubeconfig", server.url)
        yield Kube(path, server=server, tmp_path=tmp_path)
    finally:
        server.stop()


@pytest.fixture
def hft_node(kube):
    """A Node with everything the runbook's checks want (kmock), or $QUANTBOT_TEST_NODE."""
    name = kube.seed_node("hft-node-07", allocatable={
        "cpu": "8", "memory": "16Gi", "pods": "110",
        "hugepages-2Mi": "2Gi", "openshift.io/quantbot_hft_vf": "4"})
    return name


# --------------------------------------------------------------------------
# a kubeadm stand-in for node_join
# --------------------------------------------------------------------------
STANDIN = r'''#!{python}
"""Test kubeadm: records argv and the JoinConfiguration, registers the Node as a kubelet would."""
import json, os, shutil, sys, urllib.request
argv = sys.argv
with open(os.environ["STANDIN_LOG"], "a") as log:
    log.write(json.dumps(argv) + "\n")
if argv[1:2] != ["join"] or "--config" not in argv:
    sys.stderr.write("this stand-in only does kubeadm join --config FILE\n")
    sys.exit(2)
flags = [a.split("=", 1)[0][2:] for a in argv[2:] if a.startswith("--") and a.split("=", 1)[0] != "--config"]
mixed = [f for f in flags if f in ("token", "discovery-token-ca-cert-hash", "node-name", "cri-socket")]
if mixed:
    sys.stderr.write("can not mix '--config' with arguments %s\n" % mixed)
    sys.exit(1)
path = argv[argv.index("--config") + 1]
with open(path) as handle:
    config = json.load(handle)
with open(os.environ["STANDIN_CONFIG_LOG"], "a") as log:
    log.write(json.dumps({{"path": path, "mode": oct(os.stat(path).st_mode & 0o777),
                          "dir_mode": oct(os.stat(os.path.dirname(path)).st_mode & 0o777),
                          "config": config}}) + "\n")
if os.environ.get("STANDIN_RC", "0") != "0":
    sys.stderr.write("error execution phase preflight: [preflight] Some fatal errors occurred\n")
    sys.exit(int(os.environ["STANDIN_RC"]))
name = config["nodeRegistration"]["name"]
server = os.environ["STANDIN_SERVER"]
def call(method, path, body, ctype="application/json"):
    req = urllib.request.Request(server + path, data=json.dumps(body).encode(), method=method,
                                 headers={{"Content-Type": ctype}})
    urllib.request.urlopen(req).read()
call("POST", "/api/v1/nodes", {{"apiVersion": "v1", "kind": "Node", "metadata": {{"name": name}}}})
ready = os.environ.get("STANDIN_READY", "True")
call("PATCH", "/api/v1/nodes/%s/status" % name,
     {{"status": {{"conditions": [{{"type": "Ready", "status": ready, "reason": "KubeletReady"}}]}}}},
     "application/merge-patch+json")
shutil.copy(os.environ["STANDIN_KUBECONFIG"], os.environ["STANDIN_KUBELET_CONF"])
print("This node has joined the cluster")
'''


def _read_jsonl(path):
    if not os.path.exists(path):
        return []
    with open(path) as handle:
        return [json.loads(line) for line in handle]


@pytest.fixture
def standin(kube, tmp_path):
    """A kubeadm that records its argv (``calls()``) and the JoinConfiguration files it read (``configs()``)."""
    return make_standin(kube, tmp_path)


def make_standin(kube, tmp_path):
    """The ``standin`` fixture's object, for a given API (tests that make their own)."""
    path = tmp_path / "kubeadm-standin"
    path.write_text(STANDIN.format(python=sys.executable))
    path.chmod(0o755)
    conf = tmp_path / "etc-kubernetes" / "kubelet.conf"
    conf.parent.mkdir()
    env = {"STANDIN_LOG": str(tmp_path / "argv.log"), "STANDIN_CONFIG_LOG": str(tmp_path / "config.log"),
           "STANDIN_SERVER": kube.server.url, "STANDIN_KUBECONFIG": kube.kubeconfig, "STANDIN_KUBELET_CONF": str(conf)}

    class S(object):
        kubeadm = str(path)
        kubelet_conf = str(conf)

        @staticmethod
        def calls():
            return _read_jsonl(env["STANDIN_LOG"])

        @staticmethod
        def configs():
            return _read_jsonl(env["STANDIN_CONFIG_LOG"])

    S.env = env
    return S
