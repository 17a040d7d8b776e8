#!/usr/bin/env bash
# quantbot.hft set-up for a fresh Debian 12 machine (run as root).
#
#   scripts/setup.sh            install everything, then run the main job
#                               (onboard.yml on the embedded lab node)
#   scripts/setup.sh --install  install everything only (used by scripts/test.sh)
#
# Idempotent: a warm machine skips what is already in place.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
log() { printf '[setup %(%H:%M:%S)T] %s\n' -1 "$*"; }

pkgs_of() { sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$1"; }

missing_pkgs() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' || echo "$p"
  done
}

# The URI of the Debian mirror that serves "bookworm main" on this machine, read
# from its own apt sources (never hard-coded here).
debian_mirror() {
  python3 - <<'PY'
import glob, re
uris = []
for path in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")):
    try:
        for line in open(path):
            m = re.match(r"\s*deb\s+(\[[^]]*\]\s+)?(\S+)\s+bookworm\s+.*\bmain\b", line)
            if m:
                uris.append(m.group(2))
    except OSError:
        pass
for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
    for stanza in open(path).read().split("\n\n"):
        fields = {}
        for line in stanza.splitlines():
            if ":" in line and not line.startswith(("#", " ")):
                k, v = line.split(":", 1)
                fields[k.strip().lower()] = v.split()
        if "deb" in fields.get("types", []) and "bookworm" in fields.get("suites", []) \
                and "main" in fields.get("components", []):
            uris.extend(fields.get("uris", []))
print(uris[0] if uris else "")
PY
}

install_apt() {
  local base backports
  mapfile -t base < <(pkgs_of scripts/apt-packages.txt)
  mapfile -t backports < <(pkgs_of scripts/apt-backports.txt)
  local src=/etc/apt/sources.list.d/quantbot-backports.sources
  if [ ! -f "$src" ]; then
    local uri; uri=$(debian_mirror)
    [ -n "$uri" ] || { echo "setup: no 'bookworm main' source found in /etc/apt/sources*; cannot add bookworm-backports" >&2; exit 1; }
    log "adding bookworm-backports from the machine's own mirror"
    printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$uri" > "$src"
    rm -f /var/lib/apt/periodic/quantbot-updated
  fi
  local need_base need_bp
  need_base=$(missing_pkgs "${base[@]}")
  need_bp=$(missing_pkgs "${backports[@]}")
  if [ -n "$need_bp" ] || ! qemu_ok; then need_bp="${backports[*]}"; fi
  if [ -z "$need_base" ] && [ -z "$need_bp" ]; then
    log "apt packages present"
    return
  fi
  log "apt-get update"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  if [ -n "$need_base" ]; then
    log "apt-get install $need_base"
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need_base >/dev/null
  fi
  if [ -n "$need_bp" ]; then
    log "apt-get install -t bookworm-backports $need_bp"
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends -t bookworm-backports $need_bp >/dev/null
  fi
}

qemu_ok() {
  command -v qemu-system-x86_64 >/dev/null 2>&1 || return 1
  local v; v=$(qemu-system-x86_64 --version | sed -n 's/.*version \([0-9]*\)\..*/\1/p')
  [ "${v:-0}" -ge 8 ]
}

install_venv() {
  local stamp=.venv/.quantbot-stamp
  local want; want=$(cat requirements.txt lab/pyproject.toml 2>/dev/null | sha256sum | cut -c1-16)
  if [ -x .venv/bin/python ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    log "venv up to date (.venv)"
    return
  fi
  log "creating .venv and installing pinned Python dependencies"
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r requirements.txt
  if [ -f lab/pyproject.toml ]; then
    .venv/bin/pip install -q --disable-pip-version-check -e ./lab
  fi
  echo "$want" > "$stamp"
}

# promtool for the alert rule tests, unpacked from Debian's prometheus package
# into ~/.cache/quantbot-hft/promtool/<version>/ (the package is not installed,
# so no Prometheus server runs on this machine).
install_promtool() {
  local bin
  bin=$(scripts/promtool.sh --ensure) || { echo "setup: cannot provide promtool" >&2; exit 1; }
  log "promtool: $bin"
}

main() {
  local install_only=0
  [ "${1:-}" = "--install" ] && install_only=1
  [ "$(id -u)" -eq 0 ] || { echo "setup: run as root (apt-get, QEMU lab)" >&2; exit 1; }
  install_apt
  install_promtool
  install_venv
  [ "$install_only" -eq 1 ] && return 0
  log "running the main job on the embedded lab default"
  exec scripts/main-job.sh
}

main "$@"
