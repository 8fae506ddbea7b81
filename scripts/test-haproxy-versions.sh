#!/usr/bin/env bash
# The test files that drive a real HAProxy through its runtime API, its reloads and its parser, run
# again on HAProxy 3.0 and 3.2 (.tools/haproxy-<branch>, scripts/install-haproxy-versions.sh). `npm test`
# runs this after the whole suite on the system's 2.6. Why these files and not all of them, and what
# each covers: docs/testing.md, "Every supported HAProxy". A branch that is not installed fails the
# run with how to install it: a pass must mean every branch was tested.
#   scripts/test-haproxy-versions.sh [branch...]    default: 3.0 3.2
set -euo pipefail
cd "$(dirname "$0")/.."

FILES=(
  test/apply/haproxy-version.test.ts   # the selected binary is the one on PATH; version parsing
  test/apply/applier.test.ts           # reload confirmed, refused, rolled back; restart adoption; runtime writes
  test/apply/runtime-verify.test.ts    # the check after runtime commands: get map of the changed keys, the answer format
  test/integration/runtime.test.ts     # every runtime path, reload count from show proc
  test/integration/spares.test.ts      # a new app on a spare backend: add server + add map, no reload
  test/integration/daemon.test.ts      # deploy, scale, domains, 503, Consul restart, end to end
  test/integration/guard.test.ts       # never-shrink guard held and released through reloads
  test/integration/edge.test.ts        # forwarded headers, h2 over TLS, 308, body limit, tcp ports, stats, PROXY protocol
  test/integration/features.test.ts    # redirect, allow-list, path routing; group weights and maintenance at runtime
  test/integration/tenants.test.ts     # ownership attacks by a hostile tenant; two routers deciding the same owners
  test/integration/rate-limit.test.ts  # stick-tables, 429, and two routers sharing a counter through peers (localpeer)
  test/integration/auth.test.ts        # userlists with every crypt scheme (each branch has its own libcrypt)
  test/integration/cache.test.ts       # router.cache: what each branch's cache stores and serves, eviction, cache_lookups/cache_hits
  test/tls/certs.test.ts               # set/commit ssl cert and crt-list at runtime, checked with SNI
  test/acme/single.test.ts             # HTTP-01 answered by HAProxy itself, against Pebble
  test/faults/haproxy.test.ts          # a refused reload, the bind retry that pauses a worker, a killed master
  test/render/render.test.ts           # every golden configuration through this branch's haproxy -c
  test/systemd/service.test.ts         # `paas-router run` under systemd's notify socket; SIGTERM leaves HAProxy
  test/server/server.test.ts           # /status and /metrics of a running cluster, HAProxy's state in them
  test/deploy/prometheus.test.ts       # a real Prometheus scrapes HAProxy's own exporter: the series the dashboard reads
)

branches=("$@")
((${#branches[@]})) || branches=(3.0 3.2)

failed=()
for branch in "${branches[@]}"; do
  bin="$PWD/.tools/haproxy-$branch/bin/haproxy"
  if [[ ! -x "$bin" ]]; then
    echo "test-haproxy-versions: $bin is missing: run scripts/install-haproxy-versions.sh (scripts/setup.sh --test does)" >&2
    failed+=("$branch (not installed)")
    continue
  fi
  echo "# HAProxy $branch ($("$bin" -v | sed -n 1p)): ${#FILES[@]} files"
  start=$SECONDS
  if PAAS_ROUTER_TEST_HAPROXY="$bin" bash scripts/tap.sh "${FILES[@]}"; then
    echo "# HAProxy $branch: passed in $((SECONDS - start)) s"
  else
    failed+=("$branch")
  fi
done
if ((${#failed[@]})); then
  echo "test-haproxy-versions: failed on HAProxy ${failed[*]}" >&2
  exit 1
fi
