#!/usr/bin/env bash
# Installs what paas-router needs on a fresh Debian machine (run as root):
#   scripts/setup.sh          HAProxy, socat and the npm packages (enough for `npm run dev`)
#   scripts/setup.sh --test   plus the tools the test suite drives (ansible, ansible-lint, chromium,
#                             prometheus + promtool for the alert rules and the scrape test,
#                             python3 for the sd_notify socket receiver, patchelf) and HAProxy 3.0
#                             and 3.2 beside the system's 2.6 (scripts/install-haproxy-versions.sh)
# Both install a real Consul agent (1.8.7) into .tools/consul/ (scripts/install-consul.sh), used by the
# tests, the bench and `npm run dev`.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(haproxy socat)
if [[ "${1:-}" == "--test" ]]; then
  packages+=(ansible ansible-lint chromium python3)
  packages+=(pebble) # ACME tests: pebble and pebble-challtestsrv (test/acme/)
  packages+=(prometheus) # alert rules (promtool) and the scrape test (test/deploy/)
  packages+=(patchelf)   # HAProxy 3.0/3.2 from trixie/sid run on their own libraries (.tools/haproxy-*)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Debian's package enables haproxy.service with its own config; the router runs its own HAProxy.
if command -v systemctl >/dev/null && systemctl is-active --quiet haproxy 2>/dev/null; then
  echo "note: haproxy.service is running; the dev cluster and tests use their own loopback ports"
fi

# HAProxy 3.1+: after a refused reload, the next new worker binds listening sockets of its own; if it
# exits too, the kernel resets the connections queued on them unless it may move them to the sockets
# that stay (docs/haproxy-versions.md, "A refused reload"). The ansible role sets the same on routers.
if [[ -e /proc/sys/net/ipv4/tcp_migrate_req ]]; then
  { echo 'net.ipv4.tcp_migrate_req = 1' >/etc/sysctl.d/60-paas-router.conf; } 2>/dev/null || echo "warning: cannot write /etc/sysctl.d/60-paas-router.conf"
  sysctl -q -w net.ipv4.tcp_migrate_req=1 || echo "warning: cannot set net.ipv4.tcp_migrate_req=1 here (read-only /proc/sys?): HAProxy 3.1+ can reset connections after refused reloads"
fi

npm ci --no-audit --no-fund

scripts/install-consul.sh
if [[ "${1:-}" == "--test" ]]; then
  scripts/install-haproxy-versions.sh
fi
