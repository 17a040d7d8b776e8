#!/usr/bin/env bash
# promtool from Debian bookworm's `prometheus` package, without installing the
# package (installing it would start a Prometheus server on the machine).
#
#   scripts/promtool.sh --ensure   fetch it into the cache if missing, print its path
#   scripts/promtool.sh --path     print its path if cached, exit 1 otherwise
#   scripts/promtool.sh ARGS...    run the cached promtool with ARGS (fetches it first)
#
# `apt-get download prometheus` fetches the .deb from the machine's own apt
# sources and `dpkg-deb -x` unpacks it into
# ~/.cache/quantbot-hft/promtool/prometheus_<version>/ (keyed by the package
# version, so a new Debian point release gets its own directory and an old one
# is reused). promtool is a static Go binary: nothing else of the package is
# needed, and no unit, user or service is created.
set -euo pipefail
cache_root="${QUANTBOT_CACHE:-$HOME/.cache/quantbot-hft}/promtool"

candidate() {
  apt-cache policy prometheus 2>/dev/null | sed -n 's/^  Candidate: //p' | head -n 1
}

cached() {
  # The newest cached version, when apt knows no candidate (offline machine).
  local d
  for d in $(ls -d "$cache_root"/prometheus_* 2>/dev/null | sort -V -r); do
    [ -x "$d/usr/bin/promtool" ] && { echo "$d/usr/bin/promtool"; return 0; }
  done
  return 1
}

dir_for() { echo "$cache_root/prometheus_${1//:/%3a}"; }

ensure() {
  local version dest bin work
  version=$(candidate)
  if [ -z "$version" ] || [ "$version" = "(none)" ]; then
    if cached; then return 0; fi
    # apt lists may be missing on a fresh machine.
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || true
    version=$(candidate)
    [ -n "$version" ] && [ "$version" != "(none)" ] || {
      echo "promtool: apt knows no 'prometheus' package (is bookworm main in the apt sources?)" >&2; return 1; }
  fi
  dest=$(dir_for "$version")
  bin="$dest/usr/bin/promtool"
  if [ -x "$bin" ]; then echo "$bin"; return 0; fi
  mkdir -p "$cache_root"
  work=$(mktemp -d "$cache_root/.fetch.XXXXXX")
  # shellcheck disable=SC2064
  trap "rm -rf '$work'" RETURN
  echo "promtool: fetching prometheus=$version (apt-get download, not installed)" >&2
  if ! (cd "$work" && apt-get download -qq -o APT::Sandbox::User=root "prometheus=$version" >&2); then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || true
    (cd "$work" && apt-get download -qq -o APT::Sandbox::User=root "prometheus=$version" >&2) || {
      echo "promtool: apt-get download prometheus=$version failed" >&2; return 1; }
  fi
  mkdir -p "$work/tree"
  dpkg-deb -x "$work"/prometheus_*.deb "$work/tree"
  [ -x "$work/tree/usr/bin/promtool" ] || { echo "promtool: the package holds no usr/bin/promtool" >&2; return 1; }
  # Keep only promtool (the server binary and its web assets are not needed).
  mkdir -p "$work/keep/usr/bin"
  mv "$work/tree/usr/bin/promtool" "$work/keep/usr/bin/promtool"
  rm -rf "$dest"
  mv "$work/keep" "$dest"
  "$bin" --version >/dev/null 2>&1 || { echo "promtool: $bin does not run" >&2; return 1; }
  echo "$bin"
}

case "${1:-}" in
  --ensure) ensure ;;
  --path) cached || { echo "promtool: not cached under $cache_root (run scripts/promtool.sh --ensure)" >&2; exit 1; } ;;
  *) bin=$(ensure) && exec "$bin" "$@" ;;
esac
