#!/usr/bin/env bash
# Syntax-checks every playbook against the lab and the example production inventory.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
export PATH="$PWD/.venv/bin:$PATH"
rc=0
for pb in onboard.yml playbooks/*.yml; do
  [ -e "$pb" ] || continue
  for inv in inventory/lab/hosts.yml inventory/production/hosts.yml; do
    [ -e "$inv" ] || continue
    if ansible-playbook --syntax-check -i "$inv" "$pb" >/dev/null 2>/tmp/syntax.$$; then
      echo "syntax $pb ($inv): ok"
    else
      echo "syntax $pb ($inv): FAILED"; cat /tmp/syntax.$$; rc=1
    fi
  done
done
rm -f /tmp/syntax.$$
exit $rc
