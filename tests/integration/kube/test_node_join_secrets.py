# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The bootstrap token never shows: node_join's join path through ansible-playbook -vvv.

A play on localhost runs quantbot.hft.node_join with a given token, registers
the result and prints it, then joins a second time with create_token (the
token is made inside the module), then a kubeadm failure. The test greps
everything ansible-playbook printed at -vvv and the argv the kubeadm
stand-in recorded for the tokens. The JoinConfiguration the stand-in read
must hold them (so the grep would find them if they leaked). kmock only.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys

import pytest

from conftest import ansible_env, controlplane

pytestmark = pytest.mark.kmock_only

GIVEN_TOKEN = "q7xk2m.4vd9c0ajw3zpe5bh"
PLAY = """
- name: Join with a given token, then with one the module makes, then a failing kubeadm
  hosts: localhost
  connection: local
  gather_facts: false
  vars_files:
    - secrets.yml
  tasks:
    - name: Join with the given token
      quantbot.hft.node_join:
        node_name: hft-node-31
        api_server_endpoint: 127.0.0.1:6443
        token: "{{ join_token }}"
        discovery_token_ca_cert_hash: ["{{ ca_hash }}"]
        kubeadm_path: "{{ kubeadm }}"
        kubelet_conf: "{{ kubelet_conf }}"
        wait_timeout: 20
        poll_interval: 0.2
      register: joined

    - name: Print what was registered
      ansible.builtin.debug:
        var: joined

    - name: Forget the join, as kubeadm reset would
      ansible.builtin.file:
        path: "{{ kubelet_conf }}"
        state: absent

    - name: Join with a token the module creates through the API
      quantbot.hft.node_join:
        node_name: hft-node-32
        create_token: true
        token_ttl: 600
        kubeconfig: "{{ admin_kubeconfig }}"
        kubeadm_path: "{{ kubeadm }}"
        kubelet_conf: "{{ kubelet_conf }}"
        wait_timeout: 20
        poll_interval: 0.2
      register: created

    - name: Print what was registered
      ansible.builtin.debug:
        var: created

    - name: Forget the second join
      ansible.builtin.file:
        path: "{{ kubelet_conf }}"
        state: absent

    - name: Join with a kubeadm that fails
      quantbot.hft.node_join:
        node_name: hft-node-33
        api_server_endpoint: 127.0.0.1:6443
        token: "{{ join_token }}"
        discovery_token_ca_cert_hash: ["{{ ca_hash }}"]
        kubeadm_path: "{{ kubeadm }}"
        kubelet_conf: "{{ kubelet_conf }}"
      environment:
        STANDIN_RC: "1"
      register: failed_join
      ignore_errors: true  # the test reads the failure's output

    - name: Print the failure
      ansible.builtin.debug:
        var: failed_join
"""


def _secrets(kube):
    data = json.loads(kube.v1.list_namespaced_secret("kube-system", _preload_content=False).data)["items"]
    out = []
    for secret in data:
        values = secret.get("stringData") or dict((k, base64.b64decode(v).decode())
                                                  for k, v in (secret.get("data") or {}).items())
        out.append("%s.%s" % (values["token-id"], values["token-secret"]))
    return out


def test_no_token_in_vvv_output_nor_in_kubeadm_argv(kube, standin, tmp_path):
    pem = controlplane.make_lab_ca(str(tmp_path))
    kube.seed_cluster_info(pem)
    secrets_file = tmp_path / "secrets.yml"
    secrets_file.write_text(json.dumps(dict(join_token=GIVEN_TOKEN, ca_hash=controlplane.spki_sha256(pem),
                                            kubeadm=standin.kubeadm, kubelet_conf=standin.kubelet_conf,
                                            admin_kubeconfig=kube.kubeconfig)))
    (tmp_path / "play.yml").write_text(PLAY)
    env = ansible_env(ANSIBLE_LOCALHOST_WARNING="0", **standin.env)
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-vvv",
                           "-i", "localhost,", "-e", "ansible_python_interpreter=%s" % sys.executable,
                           str(tmp_path / "play.yml")],
                          capture_output=True, text=True, cwd=str(tmp_path), timeout=300, check=False, env=env)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    assert "This node has joined the cluster" in output and "kubeadm join failed (rc 1)" in output

    created = _secrets(kube)
    assert len(created) == 1
    tokens = [GIVEN_TOKEN, created[0]]
    configs = standin.configs()
    given = [c["config"]["discovery"]["bootstrapToken"]["token"] for c in configs]
    assert given == [GIVEN_TOKEN, created[0], GIVEN_TOKEN]
    argv = json.dumps(standin.calls())
    for token in tokens:
        secret_part = token.split(".")[1]
        assert token not in output and secret_part not in output, "the token leaked into ansible's -vvv output"
        assert token not in argv and secret_part not in argv, "the token reached kubeadm's command line"
    assert output.count("VALUE_SPECIFIED_IN_NO_LOG_PARAMETER") + output.count("********") > 0
    for config in configs:  # every JoinConfiguration is gone, the failed join's included
        assert not os.path.exists(config["path"]) and not os.path.exists(os.path.dirname(config["path"]))
