#!/usr/bin/env bash
# The distributed mode's fault tests (issue 20), over several seeds, on the 3-node NATS cluster
# of scripts/nats.sh and the PostgreSQL of scripts/postgres.sh (both started if not running):
# workers SIGKILLed at each crash point, and nats-server nodes SIGKILLed and restarted one at a
# time under load. Prints Jepsen's classes (ok, lost, unknown) per seed; fails if an
# acknowledged event is lost, stored twice or decided twice, if anything is left pending, or if
# the audit log does not verify. STEWARD_FAULT_SEEDS sets the seeds per test (default 3 and 2).
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/postgres.sh
start_postgres
source scripts/nats.sh
start_nats_cluster

export STEWARD_TEST_DATABASE_URL="$PG_URL"
export STEWARD_REQUIRE_POSTGRES=1
export STEWARD_REQUIRE_NATS=1
log=$(mktemp)
status=0
cargo test --release --locked -p steward --test faults -- --ignored --nocapture --test-threads 1 2>&1 | tee "$log" || status=$?
echo "== fault test report"
grep -A20 '^== ' "$log" | grep -E '^(== |seed )' || true
rm -f "$log"
exit "$status"
