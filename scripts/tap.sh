#!/usr/bin/env bash
# Runs tap with the given arguments and, when it fails, repeats every failed assertion with its
# diagnostics and the subtests it sits in at the very end of the output: CI keeps only the tail of a
# long run, and a failure 10 000 lines up is otherwise out of sight.
#   scripts/tap.sh [tap arguments...]
set -uo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp "${TMPDIR:-/tmp}/paas-router-tap.XXXXXX")
trap 'rm -f "$log"' EXIT
npx tap "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
if ((status != 0)); then
  echo
  echo "# ---- failed assertions (repeated from above) ----"
  awk '
    # The enclosing subtests, by indentation depth (4 spaces a level).
    /^ *# Subtest: / { match($0, /^ */); depth = RLENGTH / 4; path[depth] = substr($0, RLENGTH + 12); next }
    /^ *not ok / {
      match($0, /^ */); depth = RLENGTH / 4; where = ""
      for (i = 0; i < depth; i++) where = where (i ? " > " : "") path[i]
      print "# in: " where; print; showing = 1; shown = 0; next
    }
    showing { print; shown++; if ($0 ~ /^ *\.\.\.$/ || shown >= 60) { showing = 0; print "" } }
  ' "$log"
  echo "# ---- tap exited with $status ----"
fi
exit "$status"
