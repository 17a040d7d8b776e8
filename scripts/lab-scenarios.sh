#!/usr/bin/env bash
# The molecule scenarios of the lab tier, in the order CI runs them.
#   default      the lab itself (shape, GRUB boot, SR-IOV, PHC, grandmaster)
#   host_tuning  the host part of onboard.yml: plan, boot_args, hugepages,
#                tuned, sriov, ptp, one reboot, idempotence, PTP lock, VFs
#                after the reboot, bad input refused with the host untouched
# molecule/kubernetes (the whole onboard with the emulated control plane) is
# not in this list yet: it has not passed end to end on the lab (see its
# molecule.yml). Run it by hand: molecule test -s kubernetes
cd "$(dirname "$0")/../molecule" || exit 1
for s in default host_tuning; do
  [ -f "$s/molecule.yml" ] || { echo "lab-scenarios: molecule/$s/molecule.yml is missing" >&2; exit 1; }
  echo "$s"
done
