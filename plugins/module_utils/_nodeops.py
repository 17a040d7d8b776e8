# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Node label/taint diffs, cordon and drain planning: plain functions over plain dicts.

Nothing here talks to the API. The modules read the Node and its pods, ask these
functions what to send, and send it. ``evict_pods`` takes the API calls as
arguments so its retry logic is tested with fakes.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import base64
import binascii
import contextlib
import datetime
import hashlib
import os
import random
import re
import shutil
import tempfile
import time

TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"

# The runbook's defaults (hft-node-onboarding, step 1).
DEFAULT_LABELS = {"quantbot.io/hft": "true"}
DEFAULT_TAINTS = [{"key": "quantbot.io/hft", "value": "true", "effect": "NoSchedule"}]


class NodeOpsError(ValueError):
    """Bad input or an operation that cannot finish; the message says why."""


# --------------------------------------------------------------------------
# labels and taints
# --------------------------------------------------------------------------
def normalise_taints(taints, what="taints"):
    """Validate taints given by a user: list of {key, value?, effect}. Values become strings."""
    out = []
    seen = set()
    for taint in taints or []:
        if not isinstance(taint, dict) or not taint.get("key"):
            raise NodeOpsError("each item of %s needs a key: %r" % (what, taint))
        effect = taint.get("effect") or "NoSchedule"
        if effect not in TAINT_EFFECTS:
            raise NodeOpsError("taint %s has effect %r; use one of %s"
                               % (taint["key"], effect, ", ".join(TAINT_EFFECTS)))
        value = taint.get("value")
        item = {"key": str(taint["key"]), "effect": effect}
        if value not in (None, ""):
            item["value"] = str(value)
        if (item["key"], effect) in seen:
            raise NodeOpsError("taint %s:%s is given twice" % (item["key"], effect))
        seen.add((item["key"], effect))
        out.append(item)
    return out


def normalise_labels(labels):
    out = {}
    for key, value in (labels or {}).items():
        if not key:
            raise NodeOpsError("label keys must not be empty")
        out[str(key)] = "" if value is None else str(value)
        if isinstance(value, bool):  # YAML true -> "true", as kubectl writes it
            out[str(key)] = "true" if value else "false"
    return out


def _clean_taint(taint):
    """A taint from the API, reduced to what identifies it (timeAdded kept if present)."""
    return dict((k, v) for k, v in taint.items() if v is not None)


def _same_slot(a, b):
    return a.get("key") == b.get("key") and a.get("effect") == b.get("effect")


def desired_taints(current, taints, state):
    """The full taint list the node should carry.

    present: each taint replaces the taint with the same key and effect (value
    updated) or is appended; others are kept in their order.
    absent: taints with the same key and effect are removed (the value does not
    matter, as with ``kubectl taint nodes N key=value:effect-``).
    """
    result = [_clean_taint(t) for t in current or []]
    for taint in taints:
        slots = [i for i, t in enumerate(result) if _same_slot(t, taint)]
        if state == "absent":
            result = [t for i, t in enumerate(result) if i not in slots]
        elif slots:
            existing = result[slots[0]]
            if existing.get("value") != taint.get("value"):
                updated = dict(taint)
                result[slots[0]] = updated
        else:
            result.append(dict(taint))
    return result


def desired_labels(current, labels, state):
    """The node's full label map after the change, and the patch that makes it."""
    current = dict(current or {})
    after = dict(current)
    patch = {}
    for key, value in labels.items():
        if state == "absent":
            if key in after:
                del after[key]
                patch[key] = None
        elif after.get(key) != value:
            after[key] = value
            patch[key] = value
    return after, patch


def label_taint_change(node, labels, taints, state="present"):
    """What node_label must do.

    Returns ``{changed, patch, before, after}``: ``before``/``after`` hold the
    node's complete labels and taints; ``patch`` is the body to send (``None``
    when nothing changes): labels as a strategic/merge patch map (None deletes)
    and, when the taints change, the complete taint list (a list in a merge
    patch replaces the whole list, and a server that only does plain merges
    behaves the same). A resourceVersion, when the node has one, makes the
    write conditional so that a concurrent taint change is not lost.
    """
    if state not in ("present", "absent"):
        raise NodeOpsError("state must be present or absent, not %r" % (state,))
    labels = normalise_labels(labels)
    taints = normalise_taints(taints)
    meta = node.get("metadata") or {}
    spec = node.get("spec") or {}
    cur_labels = dict(meta.get("labels") or {})
    cur_taints = [_clean_taint(t) for t in spec.get("taints") or []]

    new_labels, label_patch = desired_labels(cur_labels, labels, state)
    new_taints = desired_taints(cur_taints, taints, state)

    patch = {}
    if label_patch:
        patch.setdefault("metadata", {})["labels"] = label_patch
    if new_taints != cur_taints:
        patch.setdefault("spec", {})["taints"] = new_taints
        if meta.get("resourceVersion"):
            patch.setdefault("metadata", {})["resourceVersion"] = meta["resourceVersion"]
    before = {"labels": cur_labels, "taints": cur_taints}
    after = {"labels": new_labels, "taints": new_taints}
    return {
        "changed": before != after,
        "patch": patch or None,
        "before": before,
        "after": after,
    }


def normalise_annotations(annotations):
    """Annotation values as the API stores them: strings (YAML true -> "true"); None stays None (remove)."""
    out = {}
    for key, value in (annotations or {}).items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        out[str(key)] = None if value is None else str(value)
    return out


def annotation_change(node, annotations, state="present"):
    """What node_label must do to the Node's annotations.

    present: each annotation is set to its value, and one whose value is None is
    removed; absent: each named annotation is removed, whatever its value. Returns
    ``{changed, patch, before, after}``: ``patch`` is the ``metadata.annotations``
    map of a merge patch (None deletes), or None when nothing changes.
    """
    if state not in ("present", "absent"):
        raise NodeOpsError("state must be present or absent, not %r" % (state,))
    annotations = normalise_annotations(annotations)
    before = dict(((node.get("metadata") or {}).get("annotations")) or {})
    if state == "present":
        after, patch = desired_labels(before, dict((k, v) for k, v in annotations.items() if v is not None),
                                      "present")
        removed = [k for k, v in annotations.items() if v is None]
    else:
        after, patch = dict(before), {}
        removed = list(annotations)
    after, gone = desired_labels(after, dict.fromkeys(removed), "absent")
    patch.update(gone)
    return {"changed": before != after, "patch": patch or None, "before": before, "after": after}


# --------------------------------------------------------------------------
# cordon / drain
# --------------------------------------------------------------------------
def is_cordoned(node):
    return bool((node.get("spec") or {}).get("unschedulable"))


def cordon_patch(node, cordon=True):
    """The patch that (un)cordons the node, or None if it already is."""
    if is_cordoned(node) == bool(cordon):
        return None
    return {"spec": {"unschedulable": True if cordon else None}}


def _controller(pod):
    for ref in (pod.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    refs = (pod.get("metadata") or {}).get("ownerReferences") or []
    return refs[0] if refs else None


def pod_ref(pod):
    meta = pod.get("metadata") or {}
    return "%s/%s" % (meta.get("namespace") or "default", meta.get("name"))


def plan_drain(pods, delete_emptydir_data=False, force=False, ignore_daemonsets=True):
    """Sort the node's pods like ``kubectl drain``.

    Returns ``{evict, skip, blockers}``: ``evict`` is a list of pod refs
    (``namespace/name``) to evict; ``skip`` and ``blockers`` are lists of
    ``{pod, reason}``. Mirror (static) pods and DaemonSet pods are skipped
    (the DaemonSet controller would recreate them at once; the HFT DaemonSets
    leave when the node's label goes). Finished pods are evicted like others.
    A pod with emptyDir data (unless delete_emptydir_data) or without a
    controller (unless force) blocks the drain, as kubectl does, because its
    data or the pod itself would be lost for good.
    """
    evict, skip, blockers = [], [], []
    for pod in pods:
        meta = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        ref = pod_ref(pod)
        if meta.get("deletionTimestamp"):
            skip.append({"pod": ref, "reason": "already terminating"})
            continue
        if MIRROR_ANNOTATION in (meta.get("annotations") or {}):
            skip.append({"pod": ref, "reason": "mirror pod (static pod of the kubelet)"})
            continue
        owner = _controller(pod)
        if owner and owner.get("kind") == "DaemonSet":
            if ignore_daemonsets:
                skip.append({"pod": ref, "reason": "managed by DaemonSet %s" % owner.get("name")})
            else:
                blockers.append({"pod": ref, "reason": "managed by DaemonSet %s" % owner.get("name")})
            continue
        phase = (pod.get("status") or {}).get("phase")
        finished = phase in ("Succeeded", "Failed")
        if not owner and not force and not finished:
            blockers.append({"pod": ref, "reason": "not managed by a controller (set force to evict it)"})
            continue
        if not finished and not delete_emptydir_data and any(
                "emptyDir" in (vol or {}) for vol in spec.get("volumes") or []):
            blockers.append({"pod": ref, "reason": "uses emptyDir data (set delete_emptydir_data to evict it)"})
            continue
        evict.append(ref)
    return {"evict": evict, "skip": skip, "blockers": blockers}


def evict_pods(refs, evict, is_gone, timeout, interval=2.0, clock=time.monotonic, sleep=time.sleep):
    """Evict every pod in refs through the Eviction API and wait until they are gone.

    ``evict(ref)`` returns the HTTP status: 200/201 accepted, 404 already gone,
    429 refused for now (a PodDisruptionBudget). 429 is retried every
    ``interval`` seconds until ``timeout``. ``is_gone(ref)`` tells whether the
    pod has left the node. Returns ``{evicted, gone, pending}``; ``pending``
    holds the refs that were refused or still present at the timeout.
    """
    deadline = clock() + timeout
    todo = list(refs)
    evicted = []
    retries = {}
    while todo:
        waiting = []
        for ref in todo:
            status = evict(ref)
            if status in (200, 201):
                evicted.append(ref)
            elif status == 404:
                continue
            elif status == 429:
                retries[ref] = retries.get(ref, 0) + 1
                waiting.append(ref)
            else:
                raise NodeOpsError("eviction of %s answered HTTP %s" % (ref, status))
        todo = waiting
        if todo:
            if clock() >= deadline:
                break
            sleep(interval)
    refused = list(todo)
    left = list(evicted)
    while left:
        left = [ref for ref in left if not is_gone(ref)]
        if not left or clock() >= deadline:
            break
        sleep(interval)
    return {
        "evicted": evicted,
        "gone": [ref for ref in evicted if ref not in left],
        "pending": refused + left,
        "refused": refused,
        "retries": retries,
    }


def node_ready(node):
    """(ready: bool, reason: str) from the Node's Ready condition."""
    for cond in ((node or {}).get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return cond.get("status") == "True", cond.get("reason") or cond.get("message") or ""
    return False, "no Ready condition yet"


# --------------------------------------------------------------------------
# kubeadm join: bootstrap tokens and the CA pin
# --------------------------------------------------------------------------
TOKEN_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
TOKEN_RE = re.compile(r"^([a-z0-9]{6})\.([a-z0-9]{16})$")
CA_HASH_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
BOOTSTRAP_GROUP = "system:bootstrappers:kubeadm:default-node-token"


def generate_token(choice=None):
    """A kubeadm bootstrap token ``[a-z0-9]{6}.[a-z0-9]{16}`` from a CSPRNG."""
    if choice is None:
        choice = random.SystemRandom().choice
    return "%s.%s" % ("".join(choice(TOKEN_ALPHABET) for dummy in range(6)),
                      "".join(choice(TOKEN_ALPHABET) for dummy in range(16)))


def bootstrap_token_secret(token, ttl_seconds, now, description="quantbot.hft node_join"):
    """The kube-system Secret that makes ``token`` a bootstrap token (what ``kubeadm token create`` writes).

    ``now`` is a timezone-aware UTC datetime. Returns (body, expiration RFC 3339 string).
    """
    match = TOKEN_RE.match(token or "")
    if not match:
        raise NodeOpsError("a bootstrap token must look like [a-z0-9]{6}.[a-z0-9]{16}")
    if ttl_seconds <= 0:
        raise NodeOpsError("token_ttl must be positive (a token without expiry is a standing credential)")
    expiration = (now + datetime.timedelta(seconds=int(ttl_seconds))).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "bootstrap.kubernetes.io/token",
        "metadata": {"name": "bootstrap-token-%s" % match.group(1), "namespace": "kube-system"},
        "stringData": {
            "description": description,
            "token-id": match.group(1),
            "token-secret": match.group(2),
            "expiration": expiration,
            "usage-bootstrap-authentication": "true",
            "usage-bootstrap-signing": "true",
            "auth-extra-groups": BOOTSTRAP_GROUP,
        },
    }
    return body, expiration


def pem_to_der(pem):
    """DER bytes of the first CERTIFICATE block of a PEM (bytes or str)."""
    if isinstance(pem, bytes):
        pem = pem.decode("ascii", "replace")
    match = re.search(r"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", pem, re.DOTALL)
    if not match:
        raise NodeOpsError("no PEM certificate found in the cluster CA data")
    try:
        return base64.b64decode("".join(match.group(1).split()))
    except (TypeError, ValueError):
        raise NodeOpsError("the cluster CA certificate is not valid base64")


def _tlv(data, pos):
    """(tag, content_start, end) of the DER element at pos."""
    if pos + 2 > len(data):
        raise NodeOpsError("truncated DER certificate")
    tag = data[pos]
    length = data[pos + 1]
    start = pos + 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or start + count > len(data):
            raise NodeOpsError("unsupported DER length in certificate")
        length = int(binascii.hexlify(bytes(data[start:start + count])), 16)
        start += count
    end = start + length
    if end > len(data):
        raise NodeOpsError("truncated DER certificate")
    return tag, start, end


def spki_der(cert_der):
    """The DER SubjectPublicKeyInfo of an X.509 certificate (what kubeadm pins)."""
    data = bytearray(cert_der)
    tag, start, dummy = _tlv(data, 0)
    if tag != 0x30:
        raise NodeOpsError("the CA data is not a DER certificate")
    tag, pos, tbs_end = _tlv(data, start)  # tbsCertificate
    if tag != 0x30:
        raise NodeOpsError("the CA data is not a DER certificate")
    tag, dummy, end = _tlv(data, pos)
    if tag == 0xA0:  # [0] EXPLICIT version
        pos = end
    # serialNumber, signature, issuer, validity, subject, then subjectPublicKeyInfo
    for dummy in range(5):
        tag, dummy2, pos = _tlv(data, pos)
    tag, dummy, end = _tlv(data, pos)
    if tag != 0x30 or end > tbs_end:
        raise NodeOpsError("no SubjectPublicKeyInfo in the CA certificate")
    return bytes(data[pos:end])


def ca_cert_hash(pem):
    """``sha256:<hex>`` of the CA's SubjectPublicKeyInfo, as --discovery-token-ca-cert-hash wants."""
    return "sha256:" + hashlib.sha256(spki_der(pem_to_der(pem))).hexdigest()


def cluster_info(configmap):
    """(ca_pem bytes or None, server URL or None) from kube-public/cluster-info."""
    text = ((configmap or {}).get("data") or {}).get("kubeconfig")
    if not text:
        return None, None
    ca = re.search(r"certificate-authority-data:\s*(\S+)", text)
    server = re.search(r"server:\s*(\S+)", text)
    pem = None
    if ca:
        try:
            pem = base64.b64decode(ca.group(1).strip("'\""))
        except (TypeError, ValueError):
            pem = None
    return pem, server.group(1).strip("'\"") if server else None


def endpoint_from_server(server):
    """host:port of an API server URL (what kubeadm join takes)."""
    text = re.sub(r"^[a-z]+://", "", server or "").rstrip("/")
    return text.split("/", 1)[0] or None


KUBEADM_API_VERSIONS = ("kubeadm.k8s.io/v1beta4", "kubeadm.k8s.io/v1beta3")
# kubeadm refuses these next to --config ("can not mix '--config' with arguments"); they are the
# JoinConfiguration's, and --token/--discovery-token/--tls-bootstrap-token would put a token on the
# command line, which is what the configuration file avoids.
CONFIG_FLAGS = ("--config", "--token", "--discovery-token", "--discovery-token-ca-cert-hash",
                "--discovery-token-unsafe-skip-ca-verification", "--discovery-file", "--tls-bootstrap-token",
                "--node-name", "--cri-socket", "--apiserver-advertise-address", "--apiserver-bind-port",
                "--control-plane", "--certificate-key")
JOIN_CONFIG_NAME = "join-configuration.json"


def check_ca_hashes(ca_hashes):
    for value in ca_hashes or []:
        if not CA_HASH_RE.match(value or ""):
            raise NodeOpsError("discovery_token_ca_cert_hash %r must be sha256:<64 hex digits>" % (value,))


def join_configuration(endpoint, token, ca_hashes, node_name=None, cri_socket=None,
                       api_version=KUBEADM_API_VERSIONS[0]):
    """The kubeadm JoinConfiguration (token discovery with CA pins) as a dict.

    kubeadm reads it with ``kubeadm join --config FILE``; JSON is YAML, so the
    file is written as JSON and needs no YAML library on the node.
    """
    if not endpoint:
        raise NodeOpsError("api_server_endpoint is required (or create_token with admin credentials, "
                           "which reads it from kube-public/cluster-info)")
    if not TOKEN_RE.match(token or ""):
        raise NodeOpsError("token must look like [a-z0-9]{6}.[a-z0-9]{16}")
    if not ca_hashes:
        raise NodeOpsError("discovery_token_ca_cert_hash is required: joining without pinning the CA "
                           "would trust any API server")
    check_ca_hashes(ca_hashes)
    if api_version not in KUBEADM_API_VERSIONS:
        raise NodeOpsError("kubeadm_api_version %r: use one of %s" % (api_version, ", ".join(KUBEADM_API_VERSIONS)))
    registration = {}
    if node_name:
        registration["name"] = node_name
    if cri_socket:
        registration["criSocket"] = cri_socket
    config = {
        "apiVersion": api_version,
        "kind": "JoinConfiguration",
        "discovery": {"bootstrapToken": {"token": token, "apiServerEndpoint": endpoint,
                                         "caCertHashes": list(ca_hashes)}},
    }
    if registration:
        config["nodeRegistration"] = registration
    return config


def join_config_command(kubeadm, config_path, extra_args=None):
    """``kubeadm join --config FILE [extra args]`` as an argument list (never a shell string).

    Extra arguments that belong in the JoinConfiguration (or would carry a token) are refused.
    """
    extra = list(extra_args or [])
    for arg in extra:
        flag = str(arg).split("=", 1)[0]
        if flag in CONFIG_FLAGS:
            raise NodeOpsError("extra_args must not hold %s: it belongs in the JoinConfiguration that the module "
                               "writes (kubeadm refuses it next to --config)" % flag)
    return [kubeadm, "join", "--config", config_path] + extra


@contextlib.contextmanager
def private_file(content, name=JOIN_CONFIG_NAME, prefix="quantbot-hft-join-", parent=None):
    """Write content to a file only its owner can read (0600, in a fresh 0700 directory); remove both on exit.

    The directory goes whatever happens inside the ``with`` (an exception, a
    sys.exit from fail_json), so a secret in the file does not outlive the call.
    """
    directory = tempfile.mkdtemp(prefix=prefix, dir=parent)
    path = os.path.join(directory, name)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(content)
        yield path
    finally:
        shutil.rmtree(directory, ignore_errors=True)


# --------------------------------------------------------------------------
# timing options (checked before anything is read or changed)
# --------------------------------------------------------------------------
def _seconds(value):
    return not isinstance(value, bool) and isinstance(value, (int, float))


def check_timing(timeouts=None, intervals=None):
    """Refuse a timeout that is not above 0 and a poll interval that is not above 0, naming the option.

    A zero interval would poll the API server back to back until the timeout.
    ``timeouts`` and ``intervals`` map option names to values (seconds).
    """
    for name, value in sorted((timeouts or {}).items()):
        if not _seconds(value) or value <= 0:
            raise NodeOpsError("%s must be a number of seconds greater than 0, not %r" % (name, value))
    for name, value in sorted((intervals or {}).items()):
        if not _seconds(value) or value <= 0:
            raise NodeOpsError("%s must be a number of seconds greater than 0 (a pause between two polls), not %r"
                               % (name, value))
