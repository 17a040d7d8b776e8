# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# The Kubernetes connection options shared by quantbot.hft's node_* modules.
# Keep in step with KUBE_AUTH_ARG_SPEC in plugins/module_utils/_kube.py.

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type


class ModuleDocFragment(object):

    DOCUMENTATION = r"""
options:
  kubeconfig:
    description:
      - Path to a kubeconfig file on the host that runs the module.
      - When no O(kubeconfig), O(kubeconfig_content) or O(host) is given, the module uses
        E(K8S_AUTH_KUBECONFIG), then E(KUBECONFIG), then the in-cluster service account when it runs in a pod,
        then C(~/.kube/config).
      - A file that is not valid YAML or not a kubeconfig is refused, naming the file but not showing its content.
        A file readable by its group or others is used with a warning (it holds credentials; keep it mode 0600).
      - Least privilege, the identity each module needs, is in C(rbac/README.md) of the collection.
    type: path
  kubeconfig_content:
    description:
      - A kubeconfig as a mapping or as its YAML text, for example from a vault. Takes precedence over
        O(kubeconfig).
      - The content is never logged nor returned.
    type: raw
  context:
    description: The kubeconfig context to use. Defaults to the kubeconfig's current context.
    type: str
  host:
    description:
      - URL of the API server, for example V(https://10.0.0.10:6443).
      - Alone (with O(api_key) and O(ca_cert)) it replaces a kubeconfig; with a kubeconfig it overrides its server.
    type: str
  api_key:
    description: A bearer token for the API server. Never logged nor returned.
    type: str
  validate_certs:
    description: Verify the API server's TLS certificate. Turn off only in a lab.
    type: bool
    default: true
    aliases: [verify_ssl]
  ca_cert:
    description: Path to the CA bundle that signed the API server's certificate.
    type: path
    aliases: [ssl_ca_cert]
  proxy:
    description:
      - HTTP proxy URL for API requests.
      - By default the modules use no proxy, whatever E(https_proxy) says; a C(proxy-url) in the kubeconfig
        is honoured.
    type: str
  in_cluster:
    description:
      - Use the pod's service account (C(/var/run/secrets/kubernetes.io/serviceaccount)) and
        E(KUBERNETES_SERVICE_HOST). Detected automatically in a pod when no kubeconfig is set.
    type: bool
    default: false
  api_timeout:
    description: Timeout in seconds of each API request.
    type: int
    default: 30
requirements:
  - kubernetes (the official Python client) >= 24.2.0
  - PyYAML (for O(kubeconfig_content) given as text)
"""
