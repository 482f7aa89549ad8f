#!/usr/bin/env bash
# Side-by-side comparison of steward's text matching with the MinHash libraries rensa, gaoya
# and datasketch on the same corpus: posts/s, the ratios, pair recall and steward's bytes per
# post. Installs the peers into .venv-peers (repo root, gitignored), builds steward release,
# runs `steward bench sketch` (which also writes the normalized shingle sets and the truth
# pairs into a temporary directory, removed at exit) and scripts/peers/peers.py.
#
#   scripts/peers/run.sh [--limit N] [--runs N]
#
# The corpus is read at run time only: STEWARD_PEERS_POSTS, by default
# ../shared/data/copy/posts-long.jsonl. Everything runs on one thread per library.
set -euo pipefail
cd "$(dirname "$0")/../.."

POSTS="${STEWARD_PEERS_POSTS:-../shared/data/copy/posts-long.jsonl}"
VENV=.venv-peers
PEER_PACKAGES=(rensa==0.5.0 gaoya==0.2.2 datasketch==2.0.0 numpy==2.4.6)

limit=()
runs=3
while [ $# -gt 0 ]; do
  case "$1" in
    --limit) limit=(--limit "$2"); shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    *) echo "usage: $0 [--limit N] [--runs N]" >&2; exit 2 ;;
  esac
done
[ -f "$POSTS" ] || { echo "no corpus at $POSTS" >&2; exit 1; }

if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install --quiet --disable-pip-version-check "${PEER_PACKAGES[@]}"

cargo build --release -p steward
target="${CARGO_TARGET_DIR:-target}"
steward="$target/release/steward"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# 1: the product configuration (7-day window, at most 64 duplicate groups per band hash:
#    copies with equal signatures share one group), which also writes the peers' input and
#    ground truth.
"$steward" bench sketch --posts "$POSTS" "${limit[@]}" --runs "$runs" \
  --dump-shingles "$tmp/shingles.jsonl" --dump-truth "$tmp/truth.json" >"$tmp/steward.json"
# 2: the peers' work exactly: every post kept, every candidate returned.
"$steward" bench sketch --posts "$POSTS" "${limit[@]}" --runs "$runs" \
  --window-days 36500 --max-postings 1000000000 >"$tmp/steward-all.json"

# 3: the peers, round robin with one timed run of each steward configuration a round (no
#    recall sample: the recall figures come from 1 and 2), each run repeating the corpus for
#    at least 3 s, since one pass lasts a fraction of a second and the peers' runs seconds.
timing="$(printf '%q ' "$steward" bench sketch --posts "$POSTS" "${limit[@]}" --runs 1 --queries 0 --min-seconds 3)"
RAYON_NUM_THREADS=1 OMP_NUM_THREADS=1 "$VENV/bin/python" scripts/peers/peers.py \
  --shingles "$tmp/shingles.jsonl" --truth "$tmp/truth.json" --runs "$runs" \
  --steward "$tmp/steward.json" --steward-timing "$timing" \
  --steward "$tmp/steward-all.json" --steward-timing "$timing --window-days 36500 --max-postings 1000000000"
