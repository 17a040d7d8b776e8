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
  the SR-IOV device plugin's resources (below);
* plays the SR-IOV network device plugin (k8snetworkplumbingwg/sriov-network-
  device-plugin) of this node, as far as allocatable shows it: when the
  plugin's pod on this node (kube-system, app=sriovdp) appears with a new uid,
  or this stand-in starts (a node reboot restarts the plugin's container), it
  reads the configuration as the plugin would - --config-file (default
  /etc/pcidp/config.json) resolved through the pod's volumeMounts: a
  configMap volume is read through the API, a hostPath volume from this
  node's file system - discovers the VFs in sysfs (/sys/class/net/<pf>/device/
  virtfnN: PCI address, vendor, device, bound driver, link type) and applies
  each resource's selectors in the plugin's order (vendors, devices, drivers,
  pciAddresses, pfNames with VF ranges, rootDevices, linkTypes, isRdma), a
  device going to the first resource that selects it. Between two starts
  nothing is re-read, as with the real plugin. A resource that selects nothing
  reports 0; while the configuration cannot be read (missing ConfigMap or
  file, bad JSON) the plugin counts as crash-looping: its resources report 0
  and the next status round tries again;
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
import urllib.parse
import urllib.request
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, "/opt/hftlab/kube/python")
import yaml  # noqa: E402  pylint: disable=wrong-import-position

STATE_DIR = "/var/lib/kubelet"
STATUS_INTERVAL = 10
# The emulated SR-IOV device plugin: its pods, and the defaults of its command line.
DP_NAMESPACE = "kube-system"
DP_SELECTOR = "app=sriovdp"
DP_CONFIG_FILE = "/etc/pcidp/config.json"
DP_RESOURCE_PREFIX = "intel.com"
# ARPHRD_* -> the EncapType names netlink gives the plugin (linkTypes).
LINK_TYPES = {1: "ether", 32: "infiniband", 772: "loopback", 776: "sit", 778: "gre", 65534: "none"}
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


def resources(cfg, sys_root="/sys", proc_root="/proc", extended=None):
    """(capacity, allocatable) as the kubelet reports them; ``extended`` holds device plugin counts {name: n}."""
    cpus = cpulist(read(os.path.join(sys_root, "devices/system/cpu/online"), "0"))
    mem_kb = 0
    for line in read(os.path.join(proc_root, "meminfo")).splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    pages = {}
    for size, sub in (("2Mi", "hugepages-2048kB"), ("1Gi", "hugepages-1048576kB")):
        count = read(os.path.join(sys_root, "kernel/mm/hugepages", sub, "nr_hugepages"), "0")
        pages[size] = int(count or 0) * quantity(size)
    memory = mem_kb * 1024
    capacity = {"cpu": str(len(cpus)), "memory": "%dKi" % mem_kb, "pods": str(cfg.get("maxPods", 110)),
                "hugepages-2Mi": str(pages["2Mi"]), "hugepages-1Gi": str(pages["1Gi"])}
    reserved_mem = sum(quantity((cfg.get(k) or {}).get("memory", 0)) for k in ("kubeReserved", "systemReserved"))
    reserved_mem += quantity((cfg.get("evictionHard") or {}).get("memory.available", "0"))
    reserved_cpus = len(cpulist(cfg.get("reservedSystemCPUs") or ""))
    allocatable = dict(capacity)
    allocatable["cpu"] = str(max(len(cpus) - reserved_cpus, 0))
    allocatable["memory"] = "%dKi" % (max(memory - reserved_mem - pages["2Mi"] - pages["1Gi"], 0) // 1024)
    for name, count in sorted((extended or {}).items()):
        capacity[name] = allocatable[name] = str(count)
    return capacity, allocatable


# --------------------------------------------------------------------------
# the emulated SR-IOV network device plugin
# --------------------------------------------------------------------------
def _hex_id(path):
    value = read(path)
    return value.lower().replace("0x", "").zfill(4) if value else ""


def _link_type(path):
    try:
        return LINK_TYPES.get(int(read(path, "")), "")
    except ValueError:
        return ""


def scan_vfs(sys_root="/sys"):
    """Every VF of every PF in <sys_root>/class/net: {pci, pf, pf_pci, index, vendor, device, driver, link_type, rdma}."""
    net = os.path.join(sys_root, "class/net")
    try:
        names = sorted(os.listdir(net))
    except OSError:
        return []
    vfs = []
    for pf in names:
        device = os.path.join(net, pf, "device")
        try:
            entries = os.listdir(device)
        except OSError:
            continue
        for entry in entries:
            if not (entry.startswith("virtfn") and entry[6:].isdigit()):
                continue
            vf = os.path.realpath(os.path.join(device, entry))
            driver = os.path.join(vf, "driver")
            netdirs = sorted(os.listdir(os.path.join(vf, "net"))) if os.path.isdir(os.path.join(vf, "net")) else []
            link = _link_type(os.path.join(vf, "net", netdirs[0], "type")) if netdirs else \
                _link_type(os.path.join(net, pf, "type"))  # no netdev (vfio-pci): the PF's, as the plugin does
            vfs.append({"pci": os.path.basename(vf), "pf": pf, "pf_pci": os.path.basename(os.path.realpath(device)),
                        "index": int(entry[6:]), "vendor": _hex_id(os.path.join(vf, "vendor")),
                        "device": _hex_id(os.path.join(vf, "device")),
                        "driver": os.path.basename(os.path.realpath(driver)) if os.path.exists(driver) else "",
                        "link_type": link, "rdma": os.path.isdir(os.path.join(vf, "infiniband"))})
    return sorted(vfs, key=lambda v: (v["pf"], v["index"]))


def _function_selected(items, base, index, fold):
    """The plugin's pfNames/rootDevices rule: the FIRST item for this PF decides; '#a-b,c' limits the VF indices."""
    for item in items:
        name, sep, ranges = item.partition("#")
        if (name.lower() == base.lower()) if fold else (name == base):
            if not sep:
                return True
            for part in ranges.split(","):
                lo, dash, hi = part.partition("-")
                try:
                    if int(lo) <= index <= int(hi if dash else lo):
                        return True
                except ValueError:
                    return False  # the plugin logs a parse error and selects nothing
            return False
    return False


def _selected(sel, vf):
    for key, field in (("vendors", "vendor"), ("devices", "device"), ("drivers", "driver"),
                       ("pciAddresses", "pci"), ("linkTypes", "link_type")):
        if sel.get(key) and vf[field] not in sel[key]:
            return False
    if sel.get("pfNames") and not _function_selected(sel["pfNames"], vf["pf"], vf["index"], fold=True):
        return False
    if sel.get("rootDevices") and not _function_selected(sel["rootDevices"], vf["pf_pci"], vf["index"], fold=False):
        return False
    return vf["rdma"] or not sel.get("isRdma")


def plugin_resources(config, vfs, default_prefix=DP_RESOURCE_PREFIX):
    """{"<prefix>/<name>": count} as the plugin registers them from its config.json and the discovered VFs.

    Selector objects of a resource are applied in order; a device goes to the
    first resource (and selector object) that selects it. ``selectors`` may be
    one object (every plugin release) or a list of them (v3.6.0+). A resource
    that selects nothing counts 0 here (a real plugin skips it; kubelet then
    shows 0 for a resource it had).
    """
    taken = set()
    counts = {}
    for res in (config or {}).get("resourceList") or []:
        if (res.get("deviceType") or "netDevice") != "netDevice":
            continue  # accelerators and auxiliary devices are not emulated
        name = "%s/%s" % (res.get("resourcePrefix") or default_prefix, res.get("resourceName"))
        selectors = res.get("selectors")
        selectors = [selectors] if isinstance(selectors, dict) else list(selectors or [{}])
        count = 0
        for sel in selectors:
            for vf in vfs:
                if vf["pci"] not in taken and _selected(sel or {}, vf):
                    taken.add(vf["pci"])
                    count += 1
        counts[name] = counts.get(name, 0) + count
    return counts


def _arg(args, flag, default):
    for pos, arg in enumerate(args):
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
        if arg == flag and pos + 1 < len(args):
            return args[pos + 1]
    return default


def plugin_config_source(pod):
    """Where the plugin in this pod reads its config: ("configmap", namespace, name, key) or ("file", host path)."""
    spec = pod.get("spec") or {}
    container = (spec.get("containers") or [{}])[0]
    args = list(container.get("command") or [])[1:] + list(container.get("args") or [])
    env = dict((e.get("name"), e.get("value") if "value" in e else
                spec.get("nodeName") if ((e.get("valueFrom") or {}).get("fieldRef") or {}).get("fieldPath") ==
                "spec.nodeName" else "") for e in container.get("env") or [])
    path = _arg(args, "--config-file", DP_CONFIG_FILE)
    for key, value in env.items():
        path = path.replace("$(%s)" % key, value or "")
    mounts = sorted(container.get("volumeMounts") or [], key=lambda m: -len(m.get("mountPath", "")))
    for mount in mounts:
        base = mount.get("mountPath", "").rstrip("/")
        if path.startswith(base + "/"):
            rel = path[len(base) + 1:]
            volume = [v for v in spec.get("volumes") or [] if v.get("name") == mount.get("name")]
            volume = volume[0] if volume else {}
            if "configMap" in volume:
                items = volume["configMap"].get("items")
                keys = [i["key"] for i in items if i.get("path") == rel] if items else [rel]
                return ("configmap", (pod.get("metadata") or {}).get("namespace"), volume["configMap"].get("name"),
                        keys[0] if keys else None)
            if "hostPath" in volume:
                return ("file", os.path.join(volume["hostPath"].get("path", "/"), rel))
    return ("file", None)  # not mounted: the container's own file system, which the stand-in cannot see


class DevicePlugin(object):
    """The node's SR-IOV device plugin, started again whenever its pod's uid changes."""

    def __init__(self, api, node, sys_root="/sys", host_root="/"):
        self.api = api
        self.node = node
        self.sys_root = sys_root
        self.host_root = host_root
        self.uid = None
        self.counts = {}
        self.ok = False

    def pod(self):
        query = urllib.parse.urlencode({"labelSelector": DP_SELECTOR, "fieldSelector": "spec.nodeName=" + self.node})
        data = self.api.call("GET", "/api/v1/namespaces/%s/pods?%s" % (DP_NAMESPACE, query)) or {}
        key, dummy, value = DP_SELECTOR.partition("=")
        pods = [p for p in data.get("items") or [] if (p.get("spec") or {}).get("nodeName") == self.node
                and ((p.get("metadata") or {}).get("labels") or {}).get(key) == value
                and not (p.get("metadata") or {}).get("deletionTimestamp")]
        return pods[0] if pods else None

    def read_config(self, pod):
        source = plugin_config_source(pod)
        if source[0] == "configmap":
            dummy, namespace, name, key = source
            cm = self.api.call("GET", "/api/v1/namespaces/%s/configmaps/%s" % (namespace, name))
            if cm is None or key not in (cm.get("data") or {}):
                raise ValueError("configmap %s/%s has no key %s" % (namespace, name, key))
            return json.loads(cm["data"][key])
        if source[1] is None:
            raise ValueError("--config-file is not on a volume of the pod")
        with open(os.path.join(self.host_root, source[1].lstrip("/"))) as fh:
            return json.load(fh)

    def start(self, pod):
        """What the plugin does at start: read the config, discover the VFs, register the resources."""
        container = ((pod.get("spec") or {}).get("containers") or [{}])[0]
        prefix = _arg(list(container.get("args") or []), "--resource-prefix", DP_RESOURCE_PREFIX)
        config = self.read_config(pod)
        return plugin_resources(config, scan_vfs(self.sys_root), prefix)

    def sync(self):
        """Called every status round: restart on a new pod uid (or after a failed start); returns {resource: n}."""
        try:
            pod = self.pod()
        except (OSError, ValueError) as exc:  # API unreachable: the plugin keeps running as it was
            log("SR-IOV device plugin: cannot list its pod: %s" % exc)
            return self.counts
        if pod is None:
            self.uid, self.ok = None, False
            self.counts = dict((name, 0) for name in self.counts)  # plugin gone: its devices are unhealthy
            return self.counts
        uid = (pod.get("metadata") or {}).get("uid")
        if uid != self.uid or not self.ok:
            self.uid = uid
            try:
                self.counts = dict((name, 0) for name in self.counts)
                self.counts.update(self.start(pod))
                self.ok = True
                log("SR-IOV device plugin pod %s (uid %s) started: %s" % (
                    pod["metadata"].get("name"), uid, json.dumps(self.counts, sort_keys=True)))
            except (OSError, ValueError) as exc:
                self.ok = False
                log("SR-IOV device plugin pod %s (uid %s) cannot start: %s" % (pod["metadata"].get("name"), uid, exc))
        return self.counts


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
        self.device_plugin = None
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
        extended = self.device_plugin.sync() if self.device_plugin else None
        capacity, allocatable = resources(self.cfg, extended=extended)
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
        self.device_plugin = DevicePlugin(self.api, self.name)
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
