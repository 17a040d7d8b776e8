#!/usr/bin/env bash
# The whole quantbot.hft test suite, as CI runs it (.ci/run calls exactly this).
#
#   scripts/test.sh           fast tier, then the lab tier (a real QEMU VM)
#   scripts/test.sh --fast    fast tier only (lint, sanity, alert rules, unit, docs, syntax)
#   scripts/test.sh --lab     lab tier only (molecule scenarios on the lab VM)
#
# Exit status is non-zero when any step fails. A pytest run that collects no
# test exits 5, which counts as a failure here (nothing passes silently).
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

tiers=all
case "${1:-}" in
  --fast) tiers=fast ;;
  --lab) tiers=lab ;;
  "") ;;
  *) echo "usage: $0 [--fast|--lab]" >&2; exit 2 ;;
esac

scripts/setup.sh --install || { echo "test: set-up failed" >&2; exit 1; }
export PATH="$here/.venv/bin:$PATH"
export ANSIBLE_CONFIG="$here/ansible.cfg"
# promtool (Debian's prometheus package, unpacked by the set-up, never installed):
# the rule tests and the exposition checks in pytest use it.
PROMTOOL=$(scripts/promtool.sh --ensure) || { echo "test: promtool missing (scripts/setup.sh --install fetches it)" >&2; exit 1; }
export PROMTOOL

passed=0 failed=0 failed_names=()
step() {
  local name=$1; shift
  local t0=$SECONDS
  printf '\n=== %s: %s\n' "$name" "$*"
  "$@"
  local rc=$?
  if [ $rc -eq 0 ]; then
    passed=$((passed + 1)); printf '=== %s: ok (%ss)\n' "$name" $((SECONDS - t0))
  else
    failed=$((failed + 1)); failed_names+=("$name")
    printf '=== %s: FAILED rc=%s (%ss)\n' "$name" "$rc" $((SECONDS - t0))
  fi
}

t_start=$SECONDS
if [ "$tiers" != lab ]; then
  step lint ansible-lint
  step sanity scripts/sanity.sh
  step rules scripts/check-monitoring.sh
  step pytest python -m pytest -p no:cacheprovider -m "not lab" tests/unit lab/tests tests/integration
  step docs scripts/check-docs.sh
  step syntax scripts/check-syntax.sh
  echo "fast tier: $((SECONDS - t_start))s"
fi
if [ "$tiers" != fast ]; then
  if [ "$failed" -gt 0 ]; then
    echo "lab tier skipped: the fast tier failed (${failed_names[*]})"
    failed=$((failed + 1)); failed_names+=(lab-skipped)
  else
    t_lab=$SECONDS
    for scenario in $(scripts/lab-scenarios.sh); do
      step "molecule-$scenario" molecule test -s "$scenario"
    done
    echo "lab tier: $((SECONDS - t_lab))s"
  fi
fi
echo
echo "total: $((SECONDS - t_start))s${failed_names:+; failed: ${failed_names[*]}}"
echo "steps: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
