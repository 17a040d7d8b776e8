# -*- coding: utf-8 -*-
"""EMULATED kubelet for the hftlab VM (python3 standard library + the bundled PyYAML). Not a kubelet.

What it does, as far as the quantbot.hft playbooks can see:
* loads --config (kubeadm's /var/lib/kubelet/config.yaml) and merges every
  *.conf of --config-dir over it in lexical order (maps merged, lists replaced);
* refuses to start, like kubelet, when /var/lib/kubelet/cpu_manager_state or
  memory_manager_state was written under another policy ("configured policy
  "static" differs from state checkpoint policy "none""), and writes them when
  they are absent;
* registers the Node (name = --hostname-override or the host name) with the
  credentials of --kubeconfig and posts its status every 10 s: Ready, capacity
  and allocatable cpu, memory, hugepages-2Mi/1Gi (nr_hugepages from sysfs) and
  the SR-IOV resource (sum of sriov_numvfs of the PFs in
  /etc/hftlab/sriov-device-plugin.json), re-read every time;
* serves http://127.0.0.1:10248/healthz and http://127.0.0.1:10250/configz
  (plain HTTP, no authentication) and reports the same configz to the lab
  control plane (ConfigMap hftlab-system/kubelet-configz-<node>), which answers
  the API server's node proxy /configz from it.
"""

import copy
import glob
import json
import os
import signal
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, "/opt/hftlab/kube/python")
import yaml  # noqa: E402  pylint: disable=wrong-import-position

STATE_DIR = "/var/lib/kubelet"
SRIOV_CONFIG = "/etc/hftlab/sriov-device-plugin.json"
STATUS_INTERVAL = 10
DEFAULTS = {
    "kind": "KubeletConfiguration", "apiVersion": "kubelet.config.k8s.io/v1beta1",
    "cpuManagerPolicy": "none", "cpuManagerReconcilePeriod": "10s",
    "topologyManagerPolicy": "none", "topologyManagerScope": "container",
    "memoryManagerPolicy": "None", "healthzPort": 10248, "healthzBindAddress": "127.0.0.1",
    "port": 10250, "maxPods": 110, "cgroupDriver": "systemd",
    "evictionHard": {"memory.available": "100Mi", "nodefs.available": "10%", "nodefs.inodesFree": "5%",
                     "imagefs.available": "15%"},
}
BINARY = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40}
DECIMAL = {"k": 10 ** 3, "M": 10 ** 6, "G": 10 ** 9, "T": 10 ** 12}


def log(msg):
    sys.stderr.write("kubelet-standin: %s\n" % msg)
    sys.stderr.flush()


def parse_args(argv):
    """kubelet-style --flag=value / --flag value; unknown flags are accepted and ignored."""
    opts = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("--"):
            if "=" in arg:
                key, val = arg[2:].split("=", 1)
            elif i + 1 < len(argv) and not argv[i + 1].startswith("--"):
                key, val = arg[2:], argv[i + 1]
                i += 1
            else:
                key, val = arg[2:], "true"
            opts[key] = val
        i += 1
    return opts


def merge(base, over):
    out = copy.deepcopy(base)
    for key, val in (over or {}).items():
        if isinstance(val, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], val)
        else:
            out[key] = copy.deepcopy(val)
    return out


def load_config(config_file, config_dir):
    """DEFAULTS <- --config <- every *.conf of --config-dir in lexical order."""
    cfg = dict(DEFAULTS)
    if config_file:
        with open(config_file) as fh:
            cfg = merge(cfg, yaml.safe_load(fh) or {})
    if config_dir:
        for path in sorted(glob.glob(os.path.join(config_dir, "*.conf"))):
            with open(path) as fh:
                cfg = merge(cfg, yaml.safe_load(fh) or {})
    return cfg


def quantity(text):
    text = str(text).strip()
    for suffix, mult in list(BINARY.items()) + list(DECIMAL.items()):
        if text.endswith(suffix):
            return int(float(text[:-len(suffix)]) * mult)
    return int(float(text))


def cpulist(text):
    cpus = set()
    for part in filter(None, (text or "").replace(" ", "").split(",")):
        lo, dummy, hi = part.partition("-")
        cpus.update(range(int(lo), int(hi or lo) + 1))
    return cpus


def read(path, default=""):
    try:
        with open(path) as fh:
            return fh.read().strip()
    except OSError:
        return default


def check_state(cfg, state_dir=STATE_DIR):
    """Like kubelet: refuse a checkpoint written under another policy; write missing checkpoints."""
    for name, key, default in (("cpu_manager_state", "cpuManagerPolicy", "none"),
                               ("memory_manager_state", "memoryManagerPolicy", "None")):
        policy = cfg.get(key) or default
        path = os.path.join(state_dir, name)
        if os.path.exists(path):
            try:
                with open(path) as fh:
                    state = json.load(fh)
            except ValueError:
                raise SystemExit("could not restore state from checkpoint: %s is corrupt" % path)
            if state.get("policyName") != policy:
                what = "cpu manager" if name.startswith("cpu") else "memory manager"
                raise SystemExit('failed to initialize %s: could not restore state from checkpoint: configured policy '
                                 '"%s" differs from state checkpoint policy "%s"' % (what, policy, state.get("policyName")))
            continue
        body = {"policyName": policy}
        if name.startswith("cpu"):
            online = read("/sys/devices/system/cpu/online")
            body["defaultCpuSet"] = online if policy == "static" else ""
        else:
            body["machineState"] = {}
        body["checksum"] = zlib.crc32(json.dumps(body, sort_keys=True).encode())
        os.makedirs(state_dir, exist_ok=True)
        with open(path, "w") as fh:
            json.dump(body, fh)


def resources(cfg, sys_root="/sys", proc_root="/proc", sriov_config=SRIOV_CONFIG):
    """(capacity, allocatable) as the kubelet and the SR-IOV device plugin would report them."""
    cpus = cpulist(read(os.path.join(sys_root, "devices/system/cpu/online"), "0"))
    mem_kb = 0
    for line in read(os.path.join(proc_root, "meminfo")).splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    pages = {}
    for size, sub in (("2Mi", "hugepages-2048kB"), ("1Gi", "hugepages-1048576kB")):
        count = read(os.path.join(sys_root, "kernel/mm/hugepages", sub, "nr_hugepages"), "0")
        pages[size] = int(count or 0) * quantity(size)
    try:
        with open(sriov_config) as fh:
            dp = json.load(fh)
    except (OSError, ValueError):
        dp = {}
    vfs = 0
    for pf in dp.get("pfs") or []:
        vfs += int(read(os.path.join(sys_root, "class/net", pf, "device/sriov_numvfs"), "0") or 0)
    memory = mem_kb * 1024
    capacity = {"cpu": str(len(cpus)), "memory": "%dKi" % mem_kb, "pods": str(cfg.get("maxPods", 110)),
                "hugepages-2Mi": str(pages["2Mi"]), "hugepages-1Gi": str(pages["1Gi"])}
    reserved_mem = sum(quantity((cfg.get(k) or {}).get("memory", 0)) for k in ("kubeReserved", "systemReserved"))
    reserved_mem += quantity((cfg.get("evictionHard") or {}).get("memory.available", "0"))
    reserved_cpus = len(cpulist(cfg.get("reservedSystemCPUs") or ""))
    allocatable = dict(capacity)
    allocatable["cpu"] = str(max(len(cpus) - reserved_cpus, 0))
    allocatable["memory"] = "%dKi" % (max(memory - reserved_mem - pages["2Mi"] - pages["1Gi"], 0) // 1024)
    if dp.get("resource"):
        capacity[dp["resource"]] = allocatable[dp["resource"]] = str(vfs)
    return capacity, allocatable


class Api(object):
    def __init__(self, kubeconfig):
        with open(kubeconfig) as fh:
            data = yaml.safe_load(fh)
        ctx_name = data.get("current-context")
        ctx = [c["context"] for c in data["contexts"] if c["name"] == ctx_name][0]
        self.server = [c["cluster"]["server"] for c in data["clusters"] if c["name"] == ctx["cluster"]][0].rstrip("/")
        self.token = [u["user"].get("token") for u in data["users"] if u["name"] == ctx["user"]][0]

    def call(self, method, path, body=None, ctype="application/json"):
        req = urllib.request.Request(self.server + path, method=method,
                                     data=None if body is None else json.dumps(body).encode())
        req.add_header("Content-Type", ctype)
        if self.token:
            req.add_header("Authorization", "Bearer " + self.token)
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                text = resp.read().decode()
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise
        return json.loads(text) if text else {}


def now():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class Kubelet(object):
    def __init__(self, opts):
        self.opts = opts
        self.name = (opts.get("hostname-override") or socket.gethostname()).lower()
        self.cfg = load_config(opts.get("config"), opts.get("config-dir"))
        self.api = None
        self.started = now()
        self.stopping = threading.Event()

    def configz(self):
        return {"kubeletconfig": self.cfg}

    def register(self):
        node = self.api.call("GET", "/api/v1/nodes/" + self.name)
        if node is None:
            self.api.call("POST", "/api/v1/nodes", {
                "apiVersion": "v1", "kind": "Node",
                "metadata": {"name": self.name, "labels": {
                    "kubernetes.io/hostname": self.name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
                    "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": "amd64"},
                    "annotations": {"hftlab.quantbot.io/emulated": "kubelet stand-in"}},
                "spec": {}})
            log("registered Node %s" % self.name)
        self.api.call("PATCH", "/api/v1/namespaces/hftlab-system/configmaps/kubelet-configz-" + self.name,
                      {"data": {"configz": json.dumps(self.configz())}}, "application/merge-patch+json") or \
            self.api.call("POST", "/api/v1/namespaces/hftlab-system/configmaps", {
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "kubelet-configz-" + self.name, "namespace": "hftlab-system"},
                "data": {"configz": json.dumps(self.configz())}})

    def post_status(self):
        capacity, allocatable = resources(self.cfg)
        stamp = now()
        conds = [{"type": t, "status": "False", "reason": "Kubelet" + r, "message": m,
                  "lastHeartbeatTime": stamp, "lastTransitionTime": self.started}
                 for t, r, m in (("MemoryPressure", "HasSufficientMemory", "kubelet has sufficient memory available"),
                                 ("DiskPressure", "HasNoDiskPressure", "kubelet has no disk pressure"),
                                 ("PIDPressure", "HasSufficientPID", "kubelet has sufficient PID available"))]
        conds.append({"type": "Ready", "status": "True", "reason": "KubeletReady",
                      "message": "kubelet is posting ready status (hftlab kubelet stand-in)",
                      "lastHeartbeatTime": stamp, "lastTransitionTime": self.started})
        self.api.call("PATCH", "/api/v1/nodes/%s/status" % self.name, {"status": {
            "capacity": capacity, "allocatable": allocatable, "conditions": conds,
            "addresses": [{"type": "Hostname", "address": self.name}],
            "nodeInfo": {"kubeletVersion": "v1.33.0-hftlab-standin", "kubeProxyVersion": "",
                         "operatingSystem": "linux", "architecture": "amd64",
                         "containerRuntimeVersion": "emulated://0.0.0"}}}, "application/merge-patch+json")

    def serve(self, port, routes):
        kubelet = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                body = routes.get(self.path.split("?")[0])
                if body is None:
                    self.send_error(404)
                    return
                data = body(kubelet)
                self.send_response(200)
                self.send_header("Content-Type", "application/json" if data.startswith("{") else "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data.encode())

            def log_message(self, *args):  # quiet
                pass

        httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        return httpd

    def run(self):
        check_state(self.cfg, self.opts.get("root-dir", STATE_DIR))
        kubeconfig = self.opts.get("kubeconfig", "/etc/kubernetes/kubelet.conf")
        if not os.path.exists(kubeconfig):
            raise SystemExit("unable to load bootstrap kubeconfig: stat %s: no such file or directory" % kubeconfig)
        self.api = Api(kubeconfig)
        self.serve(int(self.cfg.get("healthzPort") or 10248), {"/healthz": lambda k: "ok"})
        self.serve(int(self.cfg.get("port") or 10250), {"/configz": lambda k: json.dumps(k.configz())})
        log("cpuManagerPolicy=%s topologyManagerPolicy=%s memoryManagerPolicy=%s reservedSystemCPUs=%s" % (
            self.cfg.get("cpuManagerPolicy"), self.cfg.get("topologyManagerPolicy"),
            self.cfg.get("memoryManagerPolicy"), self.cfg.get("reservedSystemCPUs")))
        registered = False
        while not self.stopping.is_set():
            try:
                if not registered:
                    self.register()
                    registered = True
                self.post_status()
            except (OSError, ValueError, urllib.error.URLError) as exc:
                log("API server %s: %s" % (self.api.server, exc))
            self.stopping.wait(STATUS_INTERVAL)
        try:  # a stopped kubelet no longer answers the node proxy
            self.api.call("DELETE", "/api/v1/namespaces/hftlab-system/configmaps/kubelet-configz-" + self.name)
        except (OSError, urllib.error.URLError):
            pass


def main(argv):
    opts = parse_args(argv)
    try:
        kubelet = Kubelet(opts)
    except (OSError, yaml.YAMLError) as exc:
        log("failed to load kubelet config: %s" % exc)
        return 1
    signal.signal(signal.SIGTERM, lambda *a: kubelet.stopping.set())
    try:
        kubelet.run()
    except SystemExit as exc:
        log("command failed: %s" % exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
