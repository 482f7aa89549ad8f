#!/usr/bin/env bash
# The distributed mode's fault tests (issue 20), over several seeds, on the 3-node NATS cluster
# of scripts/nats.sh and the PostgreSQL of scripts/postgres.sh (both started if not running):
# workers SIGKILLed at each crash point, and nats-server nodes SIGKILLed and restarted one at a
# time under load. Prints Jepsen's classes (ok, lost, unknown) per seed; fails if an
# acknowledged event is lost, stored twice or decided twice, if anything is left pending, or if
# the audit log does not verify. STEWARD_FAULT_SEEDS sets the seeds per test (default 3 and 2).
# Then the throughput test (tests/scale.rs; STEWARD_SCALE_POSTS, default 30,000).
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/postgres.sh
start_postgres
source scripts/nats.sh
# A fresh cluster: streams the test suite left behind (a failed test does not drop its own)
# would have every restarted node catch their consumers up too.
stop_nats_cluster
start_nats_cluster

export STEWARD_TEST_DATABASE_URL="$PG_URL"
export STEWARD_REQUIRE_POSTGRES=1
export STEWARD_REQUIRE_NATS=1
log=$(mktemp)
status=0
cargo test --release --locked -p steward --test faults -- --ignored --nocapture --test-threads 1 2>&1 | tee "$log" || status=$?
# Throughput with 1, 2 and 3 workers against the single box (events/s, CPU per event).
cargo test --release --locked -p steward --test scale -- --ignored --nocapture 2>&1 | tee -a "$log" || status=$?
echo "== fault test and throughput report"
grep -A20 '^== ' "$log" | grep -E '^(== |seed |single box|[123] worker)' || true
rm -f "$log"
exit "$status"
