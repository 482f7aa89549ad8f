#!/usr/bin/env bash
# Runs every test of steward on a fresh Debian machine: installs what is missing
# (PostgreSQL from Debian), starts a throwaway PostgreSQL on a loopback port so the store
# suite runs against both backends, and runs the workspace tests.
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/postgres.sh
start_postgres

export STEWARD_TEST_DATABASE_URL="$PG_URL"
export STEWARD_REQUIRE_POSTGRES=1
cargo test --workspace --release --locked "$@"
