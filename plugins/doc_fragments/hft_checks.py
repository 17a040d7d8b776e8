# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# The options of the HFT node checks that node_validate and fleet_audit share.
# Keep in step with CHECK_ARG_SPEC in plugins/module_utils/_validate.py.

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type


class ModuleDocFragment(object):

    DOCUMENTATION = r"""
options:
  label_key:
    description: The HFT pool label.
    type: str
    default: quantbot.io/hft
  label_value:
    description: Value of O(label_key).
    type: str
    default: "true"
  ptp_namespace:
    description: Namespace of the PTP DaemonSet.
    type: str
    default: alphaswarm-bots
  ptp_daemonset:
    description: Name of the PTP DaemonSet (its pods are C(<name>-<id>)).
    type: str
    default: quantbot-ptp
  hugepages_resource:
    description: Node resource name of the HugePages the bots request.
    type: str
    default: hugepages-2Mi
  hugepages_request:
    description: The bot's HugePages request, a Kubernetes quantity.
    type: str
    default: 1Gi
  vf_resource:
    description: Node resource name of the SR-IOV VFs (the SR-IOV device plugin's resource).
    type: str
    default: openshift.io/quantbot_hft_vf
  vf_request:
    description: The bot's VF request.
    type: int
    default: 1
  cpu_manager_policy:
    description: Expected kubelet C(cpuManagerPolicy).
    type: str
    default: static
  topology_manager_policy:
    description: Expected kubelet C(topologyManagerPolicy). An empty string skips that check.
    type: str
    default: single-numa-node
  bot_namespace:
    description: Namespace of the HFT bot pods. Its pods on the node that no DaemonSet owns are bots.
    type: str
    default: alphaswarm-bots
  bot_selector:
    description: Labels a pod must carry to count as a bot (in addition to O(bot_namespace)).
    type: dict
    default: {}
"""
