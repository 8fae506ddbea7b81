#!/usr/bin/env bash
# Installs a real Consul agent (Debian bullseye's consul 1.8.7, MPL-2.0) into .tools/consul/consul for
# the tests, the bench and `npm run dev`. The system's apt sources are never touched: a private apt
# directory under .tools/apt lists only `bullseye main` from the same Debian host the machine's own
# sources use. Idempotent: nothing is fetched when the binary is there with the expected sha256.
# Needs apt-get and dpkg-deb (any Debian or Ubuntu); root is not required.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION="1.8.7+dfsg1-2+b3"
DEB_SHA256="e4e888bba104daba1d9161f49bfc52649a7e4efd45b1a7ead5bc54f2cb9c89d9"
BIN_SHA256="a449efb10a03df3cb9310f3a54d933ccda7c4faba4f421f183fc90a82056798e"
TOOLS="$PWD/.tools"
BIN="$TOOLS/consul/consul"
APT="$TOOLS/apt"

sha() { sha256sum "$1" | cut -d' ' -f1; }

if [[ -x "$BIN" && "$(sha "$BIN")" == "$BIN_SHA256" ]]; then
  echo "consul: $BIN ($("$BIN" version | head -n 1)) already installed"
  exit 0
fi

# debian_host: the Debian mirror the machine already uses.
source scripts/lib/debian-mirror.sh

arch="$(dpkg --print-architecture)"
if [[ "$arch" != amd64 ]]; then
  echo "consul: only amd64 is pinned here (this machine is $arch); install consul 1.8.x at $BIN by hand" >&2
  exit 1
fi

host="$(debian_host)"
if [[ -z "$host" ]]; then
  echo "consul: no Debian mirror (a URI ending in /debian) in /etc/apt/sources.list*; install consul 1.8.x at $BIN by hand" >&2
  exit 1
fi
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[[ -f "$keyring" ]] || { echo "consul: $keyring is missing (package debian-archive-keyring)" >&2; exit 1; }

mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial" "$TOOLS/consul"
echo "deb [signed-by=$keyring] $host bullseye main" >"$APT/sources.list"
opts=(-o "Dir::Etc::sourcelist=$APT/sources.list" -o "Dir::Etc::sourceparts=-"
  -o "Dir::State::Lists=$APT/lists" -o "Dir::Cache=$APT/cache" -o "APT::Sandbox::User=$(id -un)")

echo "consul: fetching consul=$VERSION from $host bullseye main (private apt directory $APT)"
apt-get -qq "${opts[@]}" update
(cd "$APT" && apt-get -qq "${opts[@]}" download "consul=$VERSION")
deb="$APT/consul_${VERSION}_amd64.deb"
if [[ "$(sha "$deb")" != "$DEB_SHA256" ]]; then
  echo "consul: $deb has sha256 $(sha "$deb"), expected $DEB_SHA256" >&2
  exit 1
fi

tmp="$BIN.tmp.$$"
dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/bin/consul >"$tmp"
if [[ "$(sha "$tmp")" != "$BIN_SHA256" ]]; then
  echo "consul: extracted binary has sha256 $(sha "$tmp"), expected $BIN_SHA256" >&2
  rm -f "$tmp"
  exit 1
fi
chmod 755 "$tmp"
mv "$tmp" "$BIN"
rm -f "$deb"
echo "consul: installed $BIN ($("$BIN" version | head -n 1))"
