#!/usr/bin/env bash
# Runs every benchmark of bench/RESULTS.md one after the other and prints their figures.
# Needs what the tests need: redis-server, a running Docker engine (bash scripts/provision).
# Benchmarks are not part of `pnpm test` and assert nothing; read the figures.
#
#   bash bench/run-all.sh            # build, then all benchmarks (about 40 minutes on 2 cores)
#   bash bench/run-all.sh fleet      # only those whose name contains "fleet"
set -euo pipefail
cd "$(dirname "$0")/.."

only="${1:-}"
benchmarks=(
  "command-delivery|node master/test/dist/test/bench/command-delivery.js 300 100"
  "cloudflare-economy|node master/test/dist/test/bench/cloudflare-economy.js 100"
  "fleet-scale|node test/dist/bench/fleet-scale.js 1000 10 5 60"
  "budget-scale|node test/dist/bench/budget-scale.js 1000 10 10"
  "agent-request-cost|node test/dist/bench/agent-request-cost.js 200 20000 16"
  "agent-footprint|node test/dist/bench/agent-footprint.js 100 30"
  "convergence|node test/dist/bench/convergence.js 200 100"
  "recreate|node test/dist/bench/recreate.js 100"
  "rotation-gap|node test/dist/bench/rotation-gap.js 12"
  "dashboard-routes|node test/dist/bench/dashboard-routes.js 1000 10 7"
  "gateway-latency|node agent/test/dist/test/bench/gateway-latency.js 1000 20"
  "gateway-traffic|node master/test/dist/test/bench/gateway-traffic.js 1000 10"
)

pnpm build
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GB", $2/1024/1024}' /proc/meminfo), $(uname -r), node $(node --version), load $(cut -d' ' -f1-3 /proc/loadavg)"
status=0
for entry in "${benchmarks[@]}"; do
  name="${entry%%|*}"
  command="${entry#*|}"
  [[ -n "$only" && "$name" != *"$only"* ]] && continue
  echo
  echo "=== $name: $command"
  # One failed benchmark does not hide the figures of the others.
  $command || { status=$?; echo "=== $name failed with exit code $status"; }
done
exit "$status"
