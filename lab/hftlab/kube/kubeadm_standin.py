# -*- coding: utf-8 -*-
"""EMULATED kubeadm for the hftlab VM: `join` and `reset` only. Not kubeadm.

kubeadm join --config FILE        (what quantbot.hft.node_join runs: the token is in FILE)
kubeadm join ENDPOINT --token T --discovery-token-ca-cert-hash sha256:H [--node-name N] [--cri-socket S]
  FILE is a JoinConfiguration (kubeadm.k8s.io/v1beta3 or v1beta4) with discovery.bootstrapToken
  {token, apiServerEndpoint, caCertHashes} and nodeRegistration.name; this stand-in reads it as JSON
  (which is YAML; node_join writes JSON). As kubeadm, it refuses --config mixed with the flags it replaces.
  1. preflight: fails when /etc/kubernetes/kubelet.conf exists (already joined);
  2. discovery: reads kube-public/cluster-info anonymously and checks that the
     SHA-256 of its CA's SubjectPublicKeyInfo is one of the pinned hashes;
  3. checks the token against the bootstrap-token Secret in kube-system (the
     lab API does not authenticate; this is where the token is verified);
  4. "TLS bootstrap": writes /etc/kubernetes/kubelet.conf (a token kubeconfig
     for http://ENDPOINT), /var/lib/kubelet/config.yaml and kubeadm-flags.env;
  5. enables and restarts kubelet.service (the kubelet stand-in).
kubeadm reset [-f]: stops kubelet and removes what join wrote and the state files.
"""

import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request

TOKEN_RE = re.compile(r"^([a-z0-9]{6})\.([a-z0-9]{16})$")
HASH_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
KUBELET_CONF = "/etc/kubernetes/kubelet.conf"
CONFIG_YAML = "/var/lib/kubelet/config.yaml"
FLAGS_ENV = "/var/lib/kubelet/kubeadm-flags.env"
BASE_CONFIG = """apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: systemd
healthzBindAddress: 127.0.0.1
healthzPort: 10248
port: 10250
authentication:
  anonymous:
    enabled: false
"""


def fail(msg):
    sys.stderr.write("error execution phase preflight: %s\nTo see the stack trace of this error execute with --v=5 or higher\n"
                     % msg)
    return 1


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return json.loads(resp.read().decode())
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise


def spki_sha256(pem):
    der = base64.b64decode("".join(re.search(r"-----BEGIN CERTIFICATE-----(.+?)-----END", pem, re.S).group(1).split()))

    def tlv(pos):
        length, start = der[pos + 1], pos + 2
        if length & 0x80:
            count = length & 0x7F
            length, start = int.from_bytes(der[start:start + count], "big"), start + count
        return der[pos], start, start + length

    dummy, pos, dummy = tlv(0)
    dummy, pos, dummy = tlv(pos)
    tag, dummy, end = tlv(pos)
    if tag == 0xA0:
        pos = end
    for dummy in range(5):
        pos = tlv(pos)[2]
    end = tlv(pos)[2]
    return "sha256:" + hashlib.sha256(der[pos:end]).hexdigest()


def opts_of(argv):
    pos, opts, i = [], {}, 0
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("--"):
            key, eq, val = arg[2:].partition("=")
            if not eq:
                if key in ("force", "f") or i + 1 >= len(argv):
                    val = "true"
                else:
                    val, i = argv[i + 1], i + 1
            opts.setdefault(key, []).append(val)
        elif arg == "-f":
            opts["force"] = ["true"]
        else:
            pos.append(arg)
        i += 1
    return pos, opts


CONFIG_VERSIONS = ("kubeadm.k8s.io/v1beta3", "kubeadm.k8s.io/v1beta4")
MIXED_WITH_CONFIG = ("token", "discovery-token", "discovery-token-ca-cert-hash", "node-name", "cri-socket",
                     "tls-bootstrap-token", "discovery-file")


def from_config(pos, opts):
    """(endpoint, token, hashes, node_name) from a --config JoinConfiguration, or an error message."""
    mixed = [key for key in MIXED_WITH_CONFIG if key in opts] + (["control-plane endpoint %s" % pos[0]] if pos else [])
    if mixed:
        return "can not mix '--config' with arguments %s" % mixed
    path = opts["config"][-1]
    try:
        with open(path) as fh:
            config = json.load(fh)
    except OSError as exc:
        return "unable to read config from %r: %s" % (path, exc)
    except ValueError:
        return "%s: the hftlab stand-in reads a JoinConfiguration as JSON (which is YAML)" % path
    if config.get("kind") != "JoinConfiguration" or config.get("apiVersion") not in CONFIG_VERSIONS:
        return "%s: not a JoinConfiguration of %s" % (path, " or ".join(CONFIG_VERSIONS))
    boot = (config.get("discovery") or {}).get("bootstrapToken") or {}
    name = (config.get("nodeRegistration") or {}).get("name") or ""
    return boot.get("apiServerEndpoint") or "", boot.get("token") or "", list(boot.get("caCertHashes") or []), name


def join(pos, opts):
    if "config" in opts:
        found = from_config(pos, opts)
        if isinstance(found, str):
            return fail(found)
        endpoint, token, hashes, node_name = found
        node_name = (node_name or os.uname()[1]).lower()
        if not endpoint:
            return fail("discovery.bootstrapToken.apiServerEndpoint: Required value")
    else:
        if len(pos) != 1:
            return fail("kubeadm join needs exactly one control-plane endpoint (host:port), got %r" % pos)
        endpoint = pos[0]
        token = (opts.get("token") or [""])[-1]
        hashes = opts.get("discovery-token-ca-cert-hash") or []
        node_name = ((opts.get("node-name") or [""])[-1] or os.uname()[1]).lower()
    match = TOKEN_RE.match(token)
    if not match:
        return fail('the bootstrap token "%s" was not of the form "^([a-z0-9]{6})\\.([a-z0-9]{16})$"' % "<redacted>")
    if not hashes:
        return fail("discovery.bootstrapToken: Invalid value: using token-based discovery without caCertHashes can be "
                    "unsafe. Set unsafeSkipCAVerification as true to continue")
    for value in hashes:
        if not HASH_RE.match(value):
            return fail("invalid hash %r, expected sha256:<64 hex digits>" % value)
    if os.path.exists(KUBELET_CONF):
        return fail("[preflight] Some fatal errors occurred:\n\t[ERROR FileAvailable--etc-kubernetes-kubelet.conf]: "
                    "%s already exists" % KUBELET_CONF)
    base = "http://" + endpoint
    try:
        info = get(base + "/api/v1/namespaces/kube-public/configmaps/cluster-info")
    except (OSError, urllib.error.URLError) as exc:
        return fail("couldn't validate the identity of the API Server: %s: %s" % (base, exc))
    text = ((info or {}).get("data") or {}).get("kubeconfig") or ""
    ca = re.search(r"certificate-authority-data:\s*(\S+)", text)
    if not ca:
        return fail("couldn't validate the identity of the API Server: no cluster-info ConfigMap with a CA at %s" % base)
    pin = spki_sha256(base64.b64decode(ca.group(1)).decode())
    if pin not in hashes:
        return fail('cluster CA found in cluster-info ConfigMap is invalid: none of the public keys "%s" are pinned' % pin)
    secret = get(base + "/api/v1/namespaces/kube-system/secrets/bootstrap-token-" + match.group(1))
    data = dict((k, base64.b64decode(v).decode()) for k, v in ((secret or {}).get("data") or {}).items())
    data.update((secret or {}).get("stringData") or {})
    if data.get("token-secret") != match.group(2):
        return fail("couldn't validate the identity of the API Server: the bootstrap token is unknown or wrong")
    expiration = data.get("expiration")
    if expiration and time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()) > expiration:
        return fail("the bootstrap token expired at %s" % expiration)

    os.makedirs("/etc/kubernetes", exist_ok=True)
    os.makedirs("/var/lib/kubelet", exist_ok=True)
    node_token = "hftlab-node-%s-%s" % (node_name, hashlib.sha256(token.encode()).hexdigest()[:16])
    conf = {"apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": "kubernetes", "cluster": {"server": base, "certificate-authority-data": ca.group(1)}}],
            "users": [{"name": "system:node:" + node_name, "user": {"token": node_token}}],
            "contexts": [{"name": "system:node:%s@kubernetes" % node_name,
                          "context": {"cluster": "kubernetes", "user": "system:node:" + node_name}}],
            "current-context": "system:node:%s@kubernetes" % node_name}
    fd = os.open(KUBELET_CONF, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(conf, fh, indent=2)
    with open(CONFIG_YAML, "w") as fh:
        fh.write(BASE_CONFIG)
    with open(FLAGS_ENV, "w") as fh:
        fh.write('KUBELET_KUBEADM_ARGS="--hostname-override=%s"\n' % node_name)
    for argv in (["systemctl", "enable", "kubelet.service"], ["systemctl", "restart", "kubelet.service"]):
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            return fail("%s: %s" % (" ".join(argv), proc.stderr.strip()))
    print("[preflight] Running pre-flight checks (emulated)")
    print("[discovery] Cluster CA pinned: %s" % pin)
    print("[kubelet-start] Writing kubelet configuration to file \"%s\"" % CONFIG_YAML)
    print("[kubelet-start] Starting the kubelet")
    print("\nThis node has joined the cluster (hftlab emulated control plane):\n"
          "* Node %s registers with the API server at %s." % (node_name, base))
    return 0


def reset(dummy_pos, dummy_opts):
    subprocess.run(["systemctl", "stop", "kubelet.service"], capture_output=True, check=False)
    for path in (KUBELET_CONF, CONFIG_YAML, FLAGS_ENV, "/var/lib/kubelet/cpu_manager_state",
                 "/var/lib/kubelet/memory_manager_state"):
        if os.path.exists(path):
            os.unlink(path)
    print("[reset] kubelet stopped; kubelet.conf, config.yaml and the state files removed (emulated)")
    return 0


def main(argv):
    if not argv or argv[0] not in ("join", "reset", "version"):
        sys.stderr.write("usage: kubeadm join|reset|version (hftlab stand-in)\n")
        return 2
    if argv[0] == "version":
        print('kubeadm version: &version.Info{GitVersion:"v1.33.0-hftlab-standin"}')
        return 0
    pos, opts = opts_of(argv[1:])
    return join(pos, opts) if argv[0] == "join" else reset(pos, opts)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
