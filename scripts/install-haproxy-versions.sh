#!/usr/bin/env bash
# Installs HAProxy 3.0 (Debian trixie) and 3.2 (Debian sid) beside the system's 2.6, for the tests that
# drive a real HAProxy on every supported version (docs/haproxy-versions.md):
#   .tools/haproxy-3.0/bin/haproxy   .tools/haproxy-3.2/bin/haproxy
# The system is never touched: a private apt directory per suite (.tools/apt-<suite>) lists only
# `<suite> main` from the same Debian host the machine's own sources use, and an empty dpkg status,
# so apt sees nothing installed. haproxy and every library package it needs (the `lib*` packages of
# its Depends, followed recursively) are unpacked with `dpkg-deb -x`, then the binary is pointed at
# that directory's own loader and libraries with patchelf. `bin/haproxy` is a symlink named haproxy:
# the master re-executes its own argv[0] on reload.
# Idempotent: nothing is fetched when the binary there runs and reports the expected branch.
# Needs apt-get, apt-cache, dpkg-deb and patchelf (installed from Debian when missing and run as root).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/debian-mirror.sh

TOOLS="$PWD/.tools"
# branch suite: the suite's haproxy must be that branch (a suite that moves on fails loudly).
VERSIONS=("3.0 trixie" "3.2 sid")

fail() {
  echo "haproxy-versions: $*" >&2
  exit 1
}

# The first line of a command's output (no `| head`: under pipefail its SIGPIPE fails the command).
first_line() {
  local out
  out="$("$@" 2>&1)"
  echo "${out%%$'\n'*}"
}

# Prints why the installation in $1 is not usable for branch $2 (nothing when it is).
check_install() {
  local dir=$1 branch=$2 bin="$1/bin/haproxy" ld="$1/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
  [[ -x "$bin" && -x "$ld" ]] || { echo "$bin or its loader is missing"; return; }
  local version
  version="$("$bin" -v 2>&1)" || { echo "$bin -v failed: $version"; return; }
  version=${version%%$'\n'*}
  [[ "$version" == "HAProxy version $branch."* ]] || { echo "$bin reports '$version', expected $branch.x"; return; }
  # Every shared library must come from $dir: one found on the system instead would mix two glibcs.
  local libs
  libs="$("$ld" --list "$(readlink -f "$bin")" 2>&1)" || { echo "its loader cannot list its libraries: $libs"; return; }
  local outside
  outside="$(grep '=>' <<<"$libs" | grep -v "=> $dir/" || true)"
  [[ -z "$outside" ]] || echo "libraries missing from $dir: $(tr -s ' \t\n' ' ' <<<"$outside")"
}

need_tools() {
  local t
  for t in apt-get apt-cache dpkg-deb; do
    command -v "$t" >/dev/null || fail "$t is missing (this needs a Debian or Ubuntu machine)"
  done
  if ! command -v patchelf >/dev/null; then
    [[ $(id -u) == 0 ]] || fail "patchelf is missing: apt-get install patchelf (as root), then run this again"
    echo "haproxy-versions: installing patchelf from Debian"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends patchelf >/dev/null ||
      fail "apt-get install patchelf failed"
  fi
  [[ "$(dpkg --print-architecture)" == amd64 ]] || fail "only amd64 is handled here (this machine is $(dpkg --print-architecture))"
  [[ -f "$keyring" ]] || fail "$keyring is missing (package debian-archive-keyring)"
  [[ -n "$host" ]] || fail "no Debian mirror (a URI ending in /debian) in /etc/apt/sources.list*"
}

# The library packages $1 needs, recursively: the first alternative of each Depends/Pre-Depends that
# is a library package (lib*, zlib1g); adduser, init-system-helpers and the like are not needed to run.
lib_closure() {
  local -A seen=()
  local queue=("$@") pkg dep
  while ((${#queue[@]})); do
    pkg=${queue[0]}
    queue=("${queue[@]:1}")
    [[ -n "${seen[$pkg]:-}" ]] && continue
    seen[$pkg]=1
    while read -r dep; do
      [[ "$dep" =~ ^(lib|zlib1g) && -z "${seen[$dep]:-}" ]] && queue+=("$dep")
    done < <(apt-cache "${opts[@]}" show --no-all-versions "$pkg" |
      sed -nE 's/^(Pre-)?Depends: //p' | tr ',' '\n' | sed -E 's/\|.*//; s/\(.*\)//; s/:any//; s/[[:space:]]//g' | grep -v '^$')
  done
  printf '%s\n' "${!seen[@]}" | sort
}

install_branch() {
  local branch=$1 suite=$2
  local dir="$TOOLS/haproxy-$branch" apt="$TOOLS/apt-$suite"
  local why
  why="$(check_install "$dir" "$branch")"
  if [[ -z "$why" ]]; then
    echo "haproxy-versions: $dir/bin/haproxy ($(first_line "$dir/bin/haproxy" -v)) already installed"
    return
  fi
  [[ -e "$dir" ]] && echo "haproxy-versions: reinstalling $dir ($why)"

  mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial"
  echo "deb [signed-by=$keyring] $host $suite main" >"$apt/sources.list"
  : >"$apt/status"
  opts=(-o "Dir::Etc::sourcelist=$apt/sources.list" -o "Dir::Etc::sourceparts=-" -o "Dir::State::Lists=$apt/lists"
    -o "Dir::State::status=$apt/status" -o "Dir::Cache=$apt/cache" -o "APT::Sandbox::User=$(id -un)")
  echo "haproxy-versions: reading $host $suite main (private apt directory $apt)"
  apt-get -qq "${opts[@]}" update || fail "apt-get update of $host $suite main failed"

  local candidate
  candidate="$(apt-cache "${opts[@]}" show --no-all-versions haproxy 2>/dev/null | sed -n 's/^Version: //p')"
  [[ -n "$candidate" ]] || fail "$suite has no haproxy package"
  [[ "$candidate" == "$branch".* ]] || fail "$suite now ships haproxy $candidate, not $branch.x: update VERSIONS in $0"

  local packages
  mapfile -t packages < <(lib_closure haproxy)
  echo "haproxy-versions: fetching haproxy $candidate and ${#packages[@]} packages: ${packages[*]}"
  local debs="$apt/debs"
  rm -rf "$debs" && mkdir -p "$debs"
  (cd "$debs" && apt-get -qq "${opts[@]}" download "${packages[@]}") || fail "apt-get download from $suite failed"

  # Unpacked beside the final directory, moved into place only once it runs: the paths patchelf
  # writes are the final ones.
  local tmp="$dir.tmp.$$"
  rm -rf "$tmp" && mkdir -p "$tmp/bin"
  local deb
  for deb in "$debs"/*.deb; do dpkg-deb -x "$deb" "$tmp" || fail "dpkg-deb -x $deb failed"; done
  [[ -f "$tmp/usr/sbin/haproxy" ]] || fail "the haproxy package of $suite has no usr/sbin/haproxy"
  patchelf --force-rpath --set-interpreter "$dir/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" \
    --set-rpath "$dir/usr/lib/x86_64-linux-gnu" "$tmp/usr/sbin/haproxy" || fail "patchelf on $tmp/usr/sbin/haproxy failed"
  ln -s ../usr/sbin/haproxy "$tmp/bin/haproxy"
  rm -rf "$dir" && mv "$tmp" "$dir" && rm -rf "$debs"

  why="$(check_install "$dir" "$branch")"
  [[ -z "$why" ]] || fail "$dir does not run: $why"
  echo "haproxy-versions: installed $dir/bin/haproxy ($(first_line "$dir/bin/haproxy" -v))"
}

keyring=/usr/share/keyrings/debian-archive-keyring.gpg
host="$(debian_host)"
opts=()
need_tools
for v in "${VERSIONS[@]}"; do
  # shellcheck disable=SC2086 # "branch suite"
  install_branch $v
done
