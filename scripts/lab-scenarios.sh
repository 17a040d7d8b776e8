#!/usr/bin/env bash
# Lists the molecule scenarios of the lab tier, in the order CI runs them.
# `default` proves the lab itself; later scenarios build on it.
cd "$(dirname "$0")/../molecule" || exit 1
order=(default host_tuning ptp_sriov kubernetes)
for s in "${order[@]}"; do [ -f "$s/molecule.yml" ] && echo "$s"; done
for d in */; do
  s=${d%/}
  [ -f "$s/molecule.yml" ] || continue
  case " ${order[*]} " in *" $s "*) ;; *) echo "$s" ;; esac
done
