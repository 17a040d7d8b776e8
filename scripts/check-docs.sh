#!/usr/bin/env bash
# Every module and every role of the collection must render with ansible-doc.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
export PATH="$PWD/.venv/bin:$PATH"
rc=0 n=0
for f in plugins/modules/*.py; do
  [ -e "$f" ] || continue
  name=$(basename "$f" .py)
  n=$((n + 1))
  if out=$(ansible-doc "quantbot.hft.$name" 2>&1) && grep -q "quantbot.hft.$name" <<<"$out"; then
    echo "ansible-doc quantbot.hft.$name: ok"
  else
    echo "ansible-doc quantbot.hft.$name: FAILED"; echo "$out" | tail -20; rc=1
  fi
done
for d in roles/*/; do
  [ -f "$d/meta/argument_specs.yml" ] || { [ -d "$d" ] && echo "role $(basename "$d"): no meta/argument_specs.yml" && rc=1; continue; }
  name=$(basename "$d")
  n=$((n + 1))
  if out=$(ansible-doc -t role "quantbot.hft.$name" 2>&1) && grep -q "ENTRY POINT" <<<"$out"; then
    echo "ansible-doc -t role quantbot.hft.$name: ok"
  else
    echo "ansible-doc -t role quantbot.hft.$name: FAILED"; echo "$out" | tail -20; rc=1
  fi
done
[ "$n" -gt 0 ] || { echo "no module or role found: nothing was checked"; exit 1; }
exit $rc
