#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r"""
module: node_join
short_description: Join the host to a Kubernetes cluster with kubeadm and wait until its Node is Ready
version_added: 0.1.0
description:
  - Runs C(kubeadm join --config FILE) on the host, as an argument list (no shell), then waits until the Node
    reports Ready. FILE is a C(JoinConfiguration) (token discovery with the endpoint, the token and the CA pins,
    and the node name) that the module writes with mode 0600 in a fresh private directory and removes afterwards,
    also when kubeadm fails. The token is never on a command line, where any local user could read it in the
    process list.
  - Idempotent. When O(kubelet_conf) exists the host is already joined and the module reports no change; it
    still waits for the Node to be Ready when O(wait) is set.
  - With O(create_token=true) and admin credentials (O(kubeconfig) and friends), the module creates a bootstrap token
    itself, as C(kubeadm token create) does. It writes a C(bootstrap.kubernetes.io/token) Secret in C(kube-system) that
    expires after O(token_ttl) seconds. It reads the cluster CA and the API endpoint from C(kube-public/cluster-info)
    and pins the CA by the SHA-256 of its DER C(SubjectPublicKeyInfo). The token is never returned nor logged.
  - The API calls (finding the Node, waiting for Ready) use the given credentials, or, when none are given,
    O(kubelet_conf) once it exists (a kubelet may read its own Node).
  - Bad O(wait_timeout), O(poll_interval) or O(token_ttl) values are refused before anything runs.
author:
  - quantbot.hft maintainers (@quantbot)
extends_documentation_fragment:
  - quantbot.hft.kube
  - quantbot.hft.attributes
  - quantbot.hft.attributes.platform
attributes:
  check_mode:
    support: full
    details:
      - Reports whether the host would join; creates no token and runs nothing.
  diff_mode:
    support: none
  platform:
    platforms: linux
    details:
      - Needs kubeadm, a container runtime and the kubelet on the host.
options:
  node_name:
    description:
      - Name the Node registers under (kubeadm's C(--node-name)).
      - Defaults to the host name in lower case, as kubeadm does.
    type: str
    aliases: [name]
  api_server_endpoint:
    description:
      - The control plane endpoint, C(host:port), for example V(10.0.0.10:6443).
      - Required unless O(create_token=true), which reads it from C(kube-public/cluster-info).
    type: str
  token:
    description: A bootstrap token (C([a-z0-9]{6}.[a-z0-9]{16})). Never logged nor returned.
    type: str
  discovery_token_ca_cert_hash:
    description:
      - Pins of the cluster CA, C(sha256:<hex>) (the output of C(kubeadm token create --print-join-command)).
      - Computed from C(kube-public/cluster-info) when O(create_token=true) and not given.
    type: list
    elements: str
  create_token:
    description: Create a bootstrap token through the API with the admin credentials given in the auth options.
    type: bool
    default: false
  token_ttl:
    description: Lifetime in seconds of a token made by O(create_token). Must be greater than 0.
    type: int
    default: 3600
  kubeadm_api_version:
    description:
      - API version of the C(JoinConfiguration) handed to kubeadm.
      - V(kubeadm.k8s.io/v1beta4) needs kubeadm 1.31 or later; use V(kubeadm.k8s.io/v1beta3) with older kubeadm.
    type: str
    choices: [kubeadm.k8s.io/v1beta4, kubeadm.k8s.io/v1beta3]
    default: kubeadm.k8s.io/v1beta4
  kubeadm_path:
    description: The kubeadm binary (a name looked up in E(PATH), or a path).
    type: str
    default: kubeadm
  kubelet_conf:
    description: The kubelet kubeconfig that kubeadm writes; its existence means the host has joined.
    type: path
    default: /etc/kubernetes/kubelet.conf
  cri_socket:
    description:
      - The container runtime socket (C(nodeRegistration.criSocket)), for example
        V(unix:///run/containerd/containerd.sock).
    type: str
  extra_args:
    description:
      - More kubeadm join arguments, each one list item, for example V(--v=2) or V(--ignore-preflight-errors=Swap).
      - Arguments that belong in the C(JoinConfiguration) (C(--token), C(--discovery-token-ca-cert-hash),
        C(--node-name), C(--cri-socket), C(--config) and the like) are refused.
    type: list
    elements: str
    default: []
  wait:
    description: Wait until the Node's Ready condition is True.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for the Node to be Ready. Must be greater than 0.
    type: int
    default: 300
  poll_interval:
    description: Seconds between two looks at the Node. Must be greater than 0.
    type: float
    default: 5.0
seealso:
  - module: quantbot.hft.node_label
  - name: kubeadm join
    description: Token-based discovery with CA pinning.
    link: https://kubernetes.io/docs/reference/setup-tools/kubeadm/kubeadm-join/
"""

EXAMPLES = r"""
- name: Join the HFT node with a token made on the control plane
  quantbot.hft.node_join:
    api_server_endpoint: 10.0.0.10:6443
    token: "{{ vault_kubeadm_token }}"
    discovery_token_ca_cert_hash:
      - sha256:8ea3a0c6e4f2d7b1c0a9e8f7d6c5b4a3928170f6e5d4c3b2a1908f7e6d5c4b3a
    wait_timeout: 600

- name: Join with a token created through the API (admin kubeconfig content from the vault)
  quantbot.hft.node_join:
    create_token: true
    token_ttl: 900
    kubeconfig_content: "{{ vault_admin_kubeconfig }}"
    cri_socket: unix:///run/containerd/containerd.sock

- name: Join in the lab with a kubeadm stand-in
  quantbot.hft.node_join:
    api_server_endpoint: 192.168.122.1:6443
    token: abcdef.0123456789abcdef
    discovery_token_ca_cert_hash: ["{{ lab_ca_hash }}"]
    kubeadm_path: /usr/local/bin/kubeadm-standin
"""

RETURN = r"""
node_name:
  description: The Node name used.
  returned: success
  type: str
  sample: hft-node-07
joined:
  description: Whether this run joined the host (false when it already was, or in check mode).
  returned: success
  type: bool
  sample: true
ready:
  description: Whether the Node was Ready at the end (V(null) when O(wait=false) or in check mode).
  returned: success
  type: bool
  sample: true
token_created:
  description: Whether a bootstrap token was created (its value is never returned).
  returned: success
  type: bool
  sample: false
token_expiration:
  description: Expiry of the created token (RFC 3339).
  returned: when a token was created
  type: str
  sample: "2026-05-04T12:00:00Z"
discovery_token_ca_cert_hash:
  description: The CA pins used.
  returned: when the host joined
  type: list
  elements: str
  sample: ["sha256:8ea3a0c6e4f2d7b1c0a9e8f7d6c5b4a3928170f6e5d4c3b2a1908f7e6d5c4b3a"]
command:
  description:
    - The kubeadm command run (or that would run). The C(--config) file is removed once kubeadm has finished.
  returned: when the host was not joined yet
  type: list
  elements: str
  sample: ["/usr/bin/kubeadm", "join", "--config", "/tmp/quantbot-hft-join-3k2x8d1q/join-configuration.json"]
stdout:
  description: kubeadm's output.
  returned: when kubeadm ran
  type: str
  sample: This node has joined the cluster
"""

import datetime
import json
import os
import socket
import time

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.quantbot.hft.plugins.module_utils._kube import (
    HAS_KUBERNETES,
    KUBE_AUTH_ARG_SPEC,
    KUBERNETES_IMPORT_ERROR,
    KubeApi,
    KubeError,
    auth_params,
    ca_file_bytes,
    get_api_client,
    redact,
)
from ansible_collections.quantbot.hft.plugins.module_utils._nodeops import (
    JOIN_CONFIG_NAME,
    KUBEADM_API_VERSIONS,
    NodeOpsError,
    bootstrap_token_secret,
    ca_cert_hash,
    check_ca_hashes,
    cluster_info,
    endpoint_from_server,
    check_timing,
    generate_token,
    join_config_command,
    join_configuration,
    node_ready,
    private_file,
)

EXPLICIT_AUTH = ("kubeconfig", "kubeconfig_content", "host", "api_key")


def argument_spec():
    spec = dict(
        node_name=dict(type="str", aliases=["name"]),
        api_server_endpoint=dict(type="str"),
        token=dict(type="str", no_log=True),
        discovery_token_ca_cert_hash=dict(type="list", elements="str", no_log=False),
        create_token=dict(type="bool", default=False),
        token_ttl=dict(type="int", default=3600, no_log=False),
        kubeadm_api_version=dict(type="str", choices=list(KUBEADM_API_VERSIONS), default=KUBEADM_API_VERSIONS[0]),
        kubeadm_path=dict(type="str", default="kubeadm"),
        kubelet_conf=dict(type="path", default="/etc/kubernetes/kubelet.conf"),
        cri_socket=dict(type="str"),
        extra_args=dict(type="list", elements="str", default=[]),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=300),
        poll_interval=dict(type="float", default=5.0),
    )
    spec.update(KUBE_AUTH_ARG_SPEC)
    return spec


def _explicit_auth(params):
    return any(params.get(key) for key in EXPLICIT_AUTH) or params.get("in_cluster")


def api_for(params, allow_kubelet_conf=True):
    """An API wrapper from the explicit credentials, else from kubelet.conf, else None."""
    auth = auth_params(params)
    if _explicit_auth(params):
        return KubeApi(get_api_client(auth), timeout=params["api_timeout"])
    if allow_kubelet_conf and os.path.exists(params["kubelet_conf"]):
        auth["kubeconfig"] = params["kubelet_conf"]
        auth["context"] = None
        return KubeApi(get_api_client(auth), timeout=params["api_timeout"])
    return None


def make_token(module, api):
    """Create a bootstrap token; return (token, expiration, ca_pem, server)."""
    token = generate_token()
    module.no_log_values.add(token)
    module.no_log_values.add(token.split(".", 1)[1])
    body, expiration = bootstrap_token_secret(
        token, module.params["token_ttl"], datetime.datetime.now(datetime.timezone.utc),
        description="quantbot.hft node_join for %s" % module.params["node_name"])
    api.create_secret("kube-system", body)
    pem, server = cluster_info(api.get_configmap("kube-public", "cluster-info"))
    if pem is None:
        root = api.get_configmap("kube-system", "kube-root-ca.crt")
        text = ((root or {}).get("data") or {}).get("ca.crt")
        pem = text.encode() if text else ca_file_bytes(api.api_client)
    if server is None:
        server = api.api_client.configuration.host
    return token, expiration, pem, server


def wait_ready(module, api, name, result):
    deadline = time.time() + module.params["wait_timeout"]
    reason = "Node not registered yet"
    while True:
        node = api.get_node(name)
        if node is not None:
            ready, reason = node_ready(node)
            if ready:
                return True
            reason = reason or "Ready is not True"
        if time.time() >= deadline:
            result["ready"] = False
            module.fail_json(msg="Node %s not Ready after %ss: %s" % (name, module.params["wait_timeout"], reason),
                             **result)
        time.sleep(module.params["poll_interval"])


def run(module):
    params = module.params
    name = params["node_name"]
    result = dict(changed=False, node_name=name, joined=False, ready=None, token_created=False)
    check_timing(timeouts={"wait_timeout": params["wait_timeout"], "token_ttl": params["token_ttl"]},
                 intervals={"poll_interval": params["poll_interval"]})
    joined_before = os.path.exists(params["kubelet_conf"])

    if joined_before:
        if params["wait"] and not module.check_mode:
            api = api_for(params)
            result["ready"] = wait_ready(module, api, name, result)
        elif not params["wait"]:
            api = api_for(params)
            if api.get_node(name) is None:
                module.fail_json(msg="%s exists but Node %s is not registered; the kubelet may be down "
                                 "(or run kubeadm reset to join again)" % (params["kubelet_conf"], name), **result)
        return result

    kubeadm = params["kubeadm_path"]
    if os.sep not in kubeadm:
        kubeadm = module.get_bin_path(kubeadm, required=True)
    elif not os.access(kubeadm, os.X_OK):
        module.fail_json(msg="kubeadm_path %s is not an executable file" % kubeadm, **result)

    token = params["token"]
    hashes = list(params["discovery_token_ca_cert_hash"] or [])
    endpoint = params["api_server_endpoint"]
    if params["create_token"]:
        if not _explicit_auth(params):
            module.fail_json(msg="create_token needs admin credentials (kubeconfig, kubeconfig_content or "
                             "host with api_key)", **result)
        if token:
            module.fail_json(msg="give either token or create_token, not both", **result)
    elif not token:
        module.fail_json(msg="token is required unless create_token=true", **result)

    result["changed"] = True
    placeholder = os.path.join("<private directory>", JOIN_CONFIG_NAME)
    if module.check_mode:
        if not params["create_token"]:  # validates the arguments as a real run would
            join_configuration(endpoint, token, hashes, name, params["cri_socket"], params["kubeadm_api_version"])
        result["command"] = join_config_command(kubeadm, placeholder, params["extra_args"])
        return result
    # Refuse bad extra_args and CA pins before a token is made.
    join_config_command(kubeadm, placeholder, params["extra_args"])
    check_ca_hashes(hashes)

    if params["create_token"]:
        api = api_for(params, allow_kubelet_conf=False)
        token, expiration, pem, server = make_token(module, api)
        result.update(token_created=True, token_expiration=expiration)
        if not hashes:
            if not pem:
                module.fail_json(msg="cannot find the cluster CA (kube-public/cluster-info, "
                                 "kube-system/kube-root-ca.crt or ca_cert) to pin", **result)
            hashes = [ca_cert_hash(pem)]
        endpoint = endpoint or endpoint_from_server(server)

    config = join_configuration(endpoint, token, hashes, name, params["cri_socket"], params["kubeadm_api_version"])
    result["discovery_token_ca_cert_hash"] = hashes
    # The token goes to kubeadm in a file only root can read, never on its command line.
    with private_file(json.dumps(config, indent=2) + "\n") as path:
        cmd = join_config_command(kubeadm, path, params["extra_args"])
        result["command"] = cmd
        rc, out, err = module.run_command(cmd, check_rc=False)
    result["stdout"] = out
    if rc != 0:
        module.fail_json(msg="kubeadm join failed (rc %s)" % rc, rc=rc, stderr=err, **result)
    result["joined"] = True
    if params["wait"]:
        api = api_for(params)
        if api is None:
            module.fail_json(msg="kubeadm join finished but %s does not exist; cannot wait for the Node"
                             % params["kubelet_conf"], **result)
        result["ready"] = wait_ready(module, api, name, result)
    return result


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    if not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib("kubernetes"), exception=KUBERNETES_IMPORT_ERROR)
    if not module.params["node_name"]:
        module.params["node_name"] = socket.gethostname().lower()
    try:
        result = run(module)
    except (KubeError, NodeOpsError) as exc:
        module.fail_json(msg=str(exc))
    # Belt and braces: Ansible masks no_log values too, but kubeadm's own output is not ours.
    module.exit_json(**redact(result, list(module.no_log_values)))


if __name__ == "__main__":
    main()
