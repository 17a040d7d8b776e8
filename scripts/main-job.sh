#!/usr/bin/env bash
# The main job on the embedded default target: boot the lab node (a QEMU VM
# that boots through its own GRUB), start the lab's EMULATED Kubernetes control
# plane (kmock on loopback, kubeadm/kubelet stand-ins in the VM; see
# lab/README.md), and onboard the node:
#   ansible-playbook onboard.yml -l hft-lab-1
# The VM stays up afterwards; `.venv/bin/hftlab down` stops it and the control plane.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
hftlab up
hftlab controlplane up
ansible-playbook onboard.yml -l hft-lab-1 "$@"
echo
echo "The lab node is still running: '.venv/bin/hftlab ssh' logs in, '.venv/bin/hftlab down' stops it."
