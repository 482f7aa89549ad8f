#!/usr/bin/env bash
# Quality gates: `steward eval ...` on ../shared/data, failing below the floors the issues
# set. Run after a release build.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${STEWARD_EVAL_DATA:-../shared/data}"
STEWARD="${CARGO_TARGET_DIR:-target}/release/steward"

# gate NAME JSON FIELD OP FLOOR
gate() {
  local name=$1 json=$2 field=$3 op=$4 floor=$5
  python3 - "$name" "$json" "$field" "$op" "$floor" <<'PY'
import json, sys
name, text, field, op, floor = sys.argv[1:]
value = json.loads(text)[field]
ok = value >= float(floor) if op == ">=" else value <= float(floor)
print(f"{'ok  ' if ok else 'FAIL'} {name}: {field} = {value:.4f} (must be {op} {floor})")
sys.exit(0 if ok else 1)
PY
}

status=0
[ -d "$DATA" ] || { echo "no evaluation data at $DATA"; exit 1; }
"$STEWARD" --version

# Copy-paste campaigns (issues 3 and 16). The full report is printed: the missed campaigns,
# the campaigns made of unlabelled posts (background_campaigns, background_posts: real
# floods, and virality the burst test should leave alone) and a sample of ten of them;
# speed on the long-text file is reported, not gated.
copy=$("$STEWARD" eval copy --posts "$DATA/copy/posts.jsonl" --show-background 10)
echo "$copy"
gate "copy campaigns" "$copy" campaign_recall ">=" 0.95 || status=1
gate "copy campaigns" "$copy" mean_purity ">=" 0.95 || status=1
"$STEWARD" eval copy --posts "$DATA/copy/posts-long.jsonl" | grep -E '"(campaign_recall|mean_purity|posts_per_second)"'

# Clickbait (issues 4 and 16). Only titles are scored: a post's title, or a leading 【headline】
# over its body. The Chinese figures are cross-validated on the training file with whole
# topics held out, C and the cut chosen again inside each outer fold (nested), printed beside
# a character n-gram baseline under the same folds; English is cross-validated (stratified).
# The flag rate over the real background posts of the copy file is gated at 1%.
cbzh=$("$STEWARD" eval clickbait --csv "$DATA/clickbait/hancd-sina.csv" --cv)
echo "$cbzh"
gate "clickbait zh (topic-held-out CV)" "$cbzh" f1 ">=" 0.80 || status=1
gate "clickbait zh (topic-held-out CV)" "$cbzh" accuracy ">=" 0.78 || status=1
cben=$("$STEWARD" eval clickbait --csv "$DATA/clickbait/sc-clickbait-en-train.csv" --cv)
echo "$cben" | grep -E '"(cv|precision|recall|f1|accuracy|seconds)"' | head -6
gate "clickbait en (stratified CV)" "$cben" f1 ">=" 0.97 || status=1
cbposts=$("$STEWARD" eval clickbait --posts "$DATA/copy/posts.jsonl")
echo "$cbposts"
gate "clickbait on real posts" "$cbposts" flag_rate "<=" 0.01 || status=1

# Debunked claims (issues 4 and 16). A match counts when the fact-check ranked first is one
# of the post's `accept` set (every ruling of the same rumour); the posts marked
# `unmatchable` (their ruling is about an image or video the text never states) are left
# out. The shipped threshold is the one cross-validation on this file chooses (k-fold by
# rumour, see `cross_validation` in the report: the median of the folds' thresholds, rounded
# up to the hundredth), so it is checked to be that one; the floors apply at it. The curve (matched recall at false match rates of 0.5%, 1% and 2%, steward
# beside the BM25 baseline, each threshold fitted on this file) is an analysis, printed, not
# gated. `steward eval claims --show-errors` lists every miss and false match.
claims=$("$STEWARD" eval claims --factchecks "$DATA/claims/factchecks.jsonl" --posts "$DATA/claims/posts.jsonl")
echo "$claims"
python3 - "$claims" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
cv = r["cross_validation"]
print(f"claims cross-validation ({cv['method']}): out-of-fold matched_recall "
      f"{cv['out_of_fold_matched_recall']:.3f} at false_match_rate {cv['out_of_fold_false_match_rate']:.3f}; "
      f"chosen threshold {cv['threshold']}, shipped {r['threshold']}")
print("claims curve (analysis only, thresholds fitted on this file's null posts):")
print("  false matches <=   steward matched (thr)     BM25 matched (thr)")
for p in r["curve"]["points"]:
    s, b = p["steward"], p["baseline"]
    print(f"  {p['false_match_rate_at_most']:>15.1%}   {s['matched_recall']:.3f} ({s['threshold']:.3f})"
          f"         {b['matched_recall']:.3f} ({b['threshold']:.2f})")
PY
gate "debunked claims" "$claims" recall_at_1 ">=" 0.95 || status=1
gate "debunked claims" "$claims" matched_recall ">=" 0.85 || status=1
gate "debunked claims" "$claims" false_match_rate "<=" 0.02 || status=1
python3 - "$claims" <<'PY' || status=1
import json, sys
r = json.loads(sys.argv[1])
ok = abs(r["threshold"] - r["cross_validation"]["shipped_as"]) < 1e-6
print(f"{'ok  ' if ok else 'FAIL'} debunked claims: shipped threshold {r['threshold']} is the cross-validated "
      f"median {r['cross_validation']['threshold']} rounded up to the hundredth ({r['cross_validation']['shipped_as']})")
sys.exit(0 if ok else 1)
PY
# Speed against a 100,000-entry knowledge base grown from the real one (target 5,000
# posts/s on one core): reported, not gated, as the machine is shared.
"$STEWARD" bench claims --factchecks "$DATA/claims/factchecks.jsonl" --posts "$DATA/claims/posts.jsonl" \
  --kb-size 100000 --seconds 3
# Impersonation (issue 5). The registry's look-alikes must be found, its owners and real
# ordinary users left alone; speed against a 100,000-identity registry is reported.
imp=$("$STEWARD" eval impersonation --registry "$DATA/impersonation/registry.jsonl" \
  --accounts "$DATA/impersonation/accounts.jsonl")
echo "$imp"
gate "impersonation" "$imp" precision ">=" 0.97 || status=1
gate "impersonation" "$imp" recall ">=" 0.92 || status=1
"$STEWARD" bench impersonation --registry "$DATA/impersonation/registry.jsonl" \
  --accounts "$DATA/impersonation/accounts.jsonl" --identities 100000

# Precision on real traffic (issue 16): the real background posts of the copy file replayed
# as events through the whole pipeline with the default policy, the knowledge base and the
# registry loaded first, decide on at most 3% of the posts. The per-rule table is printed.
replay=$(mktemp -d)
python3 - "$DATA" > "$replay/knowledge.ndjson" <<'PY'
import json, sys
data = sys.argv[1]
at = "2010-12-01T00:00:00Z"  # before the first post, so the replay's traffic time starts there
for kind, entity, path in [("factcheck.upserted", "factcheck", "claims/factchecks.jsonl"),
                           ("identity.upserted", "identity", "impersonation/registry.jsonl")]:
    for n, line in enumerate(open(f"{data}/{path}", encoding="utf-8")):
        if not line.strip():
            continue
        record = json.loads(line)
        # Fact-check times come as "YYYY-MM-DD hh:mm:ss" or a date (China time), or not at all.
        published = record.pop("published_at", None)
        if published:
            published = published.replace(" ", "T") if len(published) > 10 else published + "T00:00:00"
            record["published_at"] = published + "+08:00"
        print(json.dumps({"id": f"{entity}-{n}", "type": kind, "at": at, entity: record}, ensure_ascii=False))
PY
python3 scripts/copy-events.py "$DATA/copy/posts.jsonl" --background-only > "$replay/posts.ndjson"
backtest=$("$STEWARD" backtest --events "$replay/knowledge.ndjson" "$replay/posts.ndjson" --samples 0 --json)
real=$(python3 -c 'import json,sys; print(json.dumps(json.loads(sys.argv[1])["policy"]))' "$backtest")
python3 - "$real" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
print(f"real-traffic replay: {r['events']} events ({r['posts']} posts) in {r['seconds']:.1f} s, "
      f"{r['events_per_second']:.0f} events/s; live decisions on {r['posts_decided']} posts "
      f"({r['share_of_posts_decided']:.2%}), {r['posts_decided_with_shadow']} counting shadow rules")
print(f"  {'rule':<34} {'mode':<7} {'events':>8} {'posts%':>8} {'accounts':>9} {'live':>7} {'shadow':>7}  breaker")
for x in r["rules"]:
    print(f"  {x['rule']:<34} {x['mode']:<7} {x['events']:>8} {x['share_of_posts']:>8.3%} {x['accounts']:>9} "
          f"{x['live']:>7} {x['shadow']:>7}  {x.get('breaker_tripped_at') or '-'}")
PY
gate "real traffic" "$real" share_of_posts_decided "<=" 0.03 || status=1
rm -rf "$replay"

exit $status
