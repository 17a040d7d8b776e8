#!/usr/bin/env bash
# Fleet-audit benchmark: seeds N HFT nodes (default 1000) with their pods and a known
# set of broken ones into the lab's emulated API on loopback (no emulated controllers),
# then times quantbot.hft.fleet_audit and a per-node baseline written with the same
# client (both from the end of the same imports to the exit of their process; the
# whole-process times are in the summary line), and prints one JSON line last (see
# scripts/bench_fleet_audit.py and README.md).
#
#   scripts/bench-fleet-audit.sh                       # 1,000 nodes
#   scripts/bench-fleet-audit.sh --nodes 5000          # the baseline is sampled (1,000 nodes) and scaled
#   scripts/bench-fleet-audit.sh --nodes 100 --rtt-ms 2 --configz
#
# Exit status 1 when the audit did not name exactly the seeded broken nodes and checks.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
py="$here/.venv/bin/python"
[ -x "$py" ] || { echo "bench-fleet-audit: no $py; run scripts/setup.sh --install first" >&2; exit 2; }
exec "$py" "$here/scripts/bench_fleet_audit.py" "$@"
