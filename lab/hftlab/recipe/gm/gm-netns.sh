#!/bin/sh
# Put the GM igb port into its own network namespace "gm" (a separate
# "machine" wired back to back to the node's HFT port) and bring it up.
set -eu
. /opt/hftlab/gm/gm.env
ip netns add gm 2>/dev/null || true
if ip link show "$GM_IF" >/dev/null 2>&1; then
  ip link set "$GM_IF" netns gm
fi
ip -n gm link set lo up
ip -n gm link set "$GM_IF" up
