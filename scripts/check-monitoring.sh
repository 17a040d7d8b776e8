#!/usr/bin/env bash
# The Prometheus alert rules: `promtool check rules` (syntax, PromQL, duplicate
# rules) and `promtool test rules` (each rule firing and not firing on synthetic
# series). promtool comes from Debian's prometheus package, unpacked by
# scripts/promtool.sh (no Prometheus server is installed or started).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
promtool=${PROMTOOL:-$(scripts/promtool.sh --ensure)} || { echo "check-monitoring: no promtool" >&2; exit 1; }
shopt -s nullglob
rules=(monitoring/prometheus/*.rules.yml)
tests=(monitoring/prometheus/tests/*.yml)
if [ ${#rules[@]} -eq 0 ] || [ ${#tests[@]} -eq 0 ]; then
  echo "check-monitoring: no rules or no rule tests found" >&2; exit 1
fi
rc=0
"$promtool" check rules --lint=all --lint-fatal "${rules[@]}" || rc=1
"$promtool" test rules "${tests[@]}" || rc=1
exit $rc
