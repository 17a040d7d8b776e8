#!/usr/bin/env bash
# The molecule scenarios of the lab tier, in the order CI runs them.
#   default      the lab itself: shape (2 NUMA nodes, SMT), GRUB boot, igb
#                SR-IOV ports on NUMA node 1 with a PHC, the PTP grandmaster
#   onboard      the whole onboarding on a fresh lab VM and the emulated
#                control plane: one reboot, idempotence, bad values refused
#                with the host untouched, broken layers named by validate.yml,
#                the kubelet transition and its restore, testinfra checks of
#                every layer, the ansible-runner jobs, offboard.yml
# Not in the CI lab tier, because onboard covers it:
#   host_tuning  the host part of onboard alone (no control plane), for work
#                on the host roles
# Not in the CI lab tier, because it does not fit the CI limit (about 50 min):
#   faults       the fault matrix on an onboarded node: a trial kernel that
#                panics and falls back, a run stopped before its reboot, a
#                reboot beyond hft_reboot_timeout, a dead package source
# Run one by hand: PATH=$PWD/.venv/bin:$PATH molecule test -s <scenario>
cd "$(dirname "$0")/../molecule" || exit 1
for s in default onboard; do
  [ -f "$s/molecule.yml" ] || { echo "lab-scenarios: molecule/$s/molecule.yml is missing" >&2; exit 1; }
  echo "$s"
done
