# Sourced by the installers of .tools/: the Debian mirror the machine already uses (deb822 .sources
# "URIs:" or one-line "deb" entries), the first URI ending in /debian, so a local mirror or proxy
# keeps being used. Prints nothing when there is none.
debian_host() {
  local files=()
  [[ -f /etc/apt/sources.list ]] && files+=(/etc/apt/sources.list)
  for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [[ -f "$f" ]] && files+=("$f")
  done
  ((${#files[@]})) || return 0
  {
    grep -hE '^[[:space:]]*URIs:' "${files[@]}" 2>/dev/null | sed -E 's/^[[:space:]]*URIs:[[:space:]]*//' | tr ' ' '\n' || true
    grep -hE '^[[:space:]]*deb[[:space:]]' "${files[@]}" 2>/dev/null | sed -E 's/\[[^]]*\]//' | awk '{print $2}' || true
  } | grep -E '^(https?|file)://.*/debian/?$' | head -n 1 | sed -E 's#/$##' || true
}
