#!/usr/bin/env python3
"""MinHash LSH peers on steward's pre-tokenized shingles: rensa, gaoya and datasketch.

Run by scripts/peers/run.sh, which gives it what `steward bench sketch` wrote: the
normalized shingle set of every post (JSONL, one array of u64 shingle hashes per post), the
truth pairs (exact shingle Jaccard >= 0.8 between a sampled post and any other post) and
steward's own results. For each library, not timed: turning the shingle sets into the input
type the library takes. Timed (median of --runs): MinHash signatures of every post, LSH
insert of every post and an LSH query for every post's candidates, with the band layout
21 bands x 6 rows where the library allows it. The runs go round robin: each round times
every library once and, through --steward-timing, each steward configuration once, so all
share the machine's slow and fast spells. Pair recall: a truth pair is found when one
post of the pair is among the query candidates of the other.

Posts whose shingle set is empty (text that normalizes to nothing) are left out for the
peers: an empty set would make every such post a candidate of every other. posts/s divides
the whole corpus by each library's time, as it does for steward.
"""

import argparse
import base64
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
from importlib.metadata import version

K = 128
BANDS = 21
ROWS = 6


def load(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


class Peer:
    """One library: `prepare` (not timed), `run` (timed), `candidates` (not timed)."""

    name = ""
    layout = ""

    def prepare(self, sets, ids):
        raise NotImplementedError

    def run(self, data):
        raise NotImplementedError

    def candidates(self, data, result):
        """Candidate post numbers for each post number, as a dict of sets."""
        raise NotImplementedError


class RensaObjects(Peer):
    """rensa's R-MinHash (full-set MinHash) and RMinHashLSH.

    RMinHashLSH takes `num_bands` and requires num_perm % num_bands == 0, so 21 x 6 needs
    num_perm = 126 (the same bands as steward's, which use 126 of its 128 values). The LSH
    returns candidate keys only from `query` / `query_all`, which take RMinHash objects; the
    batch constructor `RMinHash.from_token_sets` takes str/bytes tokens (it has no prehashed
    variant that returns objects), so each shingle hash is given as its 8 little-endian
    bytes. Batch calls throughout: from_token_sets, insert_many, query_all.
    """

    name = "rensa (RMinHash + RMinHashLSH.query_all)"
    layout = "K=126, 21x6"

    def prepare(self, sets, ids):
        return ids, [[h.to_bytes(8, "little") for h in sets[i]] for i in ids]

    def run(self, data):
        import rensa

        ids, tokens = data
        sketches = rensa.RMinHash.from_token_sets(tokens, num_perm=BANDS * ROWS, seed=42)
        lsh = rensa.RMinHashLSH(threshold=0.6, num_perm=BANDS * ROWS, num_bands=BANDS)
        lsh.insert_many(sketches)
        return lsh.query_all(sketches)

    def candidates(self, data, result):
        ids, _ = data
        return {ids[k]: {ids[c] for c in cands} for k, cands in enumerate(result)}


class RensaMatrix(Peer):
    """rensa's fastest full-set path: prehashed u64 tokens in one flat buffer into a digest
    matrix, `insert_matrix`, then `query_duplicate_flags_matrix`. That query returns one
    flag per post (has another candidate), not the candidates, so it does less than the
    other rows; the recall shown is that of the same signatures and bands, computed
    afterwards by grouping equal bands (what the LSH tables do).
    """

    name = "rensa (digest matrix, flags only)"
    layout = "K=126, 21x6"

    def prepare(self, sets, ids):
        import numpy as np

        flat = np.fromiter((h for i in ids for h in sets[i]), dtype=np.uint64)
        offsets = np.zeros(len(ids) + 1, dtype=np.uint64)
        offsets[1:] = np.cumsum([len(sets[i]) for i in ids])
        return ids, flat, offsets

    def run(self, data):
        import rensa

        _, flat, offsets = data
        matrix = rensa.RMinHash.digest_matrix_from_flat_token_hashes(flat, offsets, BANDS * ROWS, 42)
        lsh = rensa.RMinHashLSH(threshold=0.6, num_perm=BANDS * ROWS, num_bands=BANDS)
        lsh.insert_matrix(matrix)
        flags = lsh.query_duplicate_flags_matrix(matrix)
        return matrix, flags

    def candidates(self, data, result):
        ids = data[0]
        rows = result[0].to_rows()
        return band_candidates(ids, rows)


def band_candidates(ids, rows):
    cands = {i: set() for i in ids}
    for b in range(BANDS):
        buckets = {}
        for k, row in enumerate(rows):
            buckets.setdefault(tuple(row[b * ROWS:(b + 1) * ROWS]), []).append(ids[k])
        for members in buckets.values():
            if len(members) > 1:
                for m in members:
                    cands[m].update(members)
    return cands


class Gaoya(Peer):
    """gaoya's MinHashIndex with 32-bit hashes (K = bands x band_width = 126, 21 x 6 exactly).

    gaoya takes tokens as str only, so each shingle hash is given as an 11-character ASCII
    string (its 8 bytes in base64); gaoya hashes tokens itself (FNV) and then evaluates K
    hash functions per token. Its query filters candidates by estimated Jaccard >=
    jaccard_threshold; 0.0 keeps every band candidate. Its Python API has no query by
    signature or by id: `par_bulk_query_tokens` computes the signatures again, so gaoya signs
    every post twice. Batch calls: par_bulk_insert_tokens, par_bulk_query_tokens (Rayon,
    one thread here); 'vec' id containers (the documented choice without removals).
    """

    name = "gaoya (MinHashIndex, par_bulk_*_tokens)"
    layout = "K=126, 21x6"

    def prepare(self, sets, ids):
        def token(h):
            return base64.b64encode(h.to_bytes(8, "little")).rstrip(b"=").decode("ascii")

        return ids, [[token(h) for h in sets[i]] for i in ids]

    def run(self, data):
        from gaoya.gaoya import minhash

        ids, tokens = data
        index = minhash.MinHash32StringIntIndexVec(
            jaccard_threshold=0.0,
            num_bands=BANDS,
            band_width=ROWS,
            num_hashes=None,
            analyzer="word",
            lowercase=False,
            ngram_range=(1, 1),
        )
        index.par_bulk_insert_tokens(ids, tokens)
        return index.par_bulk_query_tokens(tokens)

    def candidates(self, data, result):
        ids, _ = data
        return {ids[k]: set(cands) for k, cands in enumerate(result)}


class Datasketch(Peer):
    """datasketch's MinHash (K = 128, default 'affine32' scheme) and MinHashLSH with
    params=(21, 6) (it allows b x r <= K). The fastest documented path: MinHash.bulk with a
    cheap hashfunc instead of SHA-1 (the tokens are already hashes: their low 32 bits, as the
    scheme takes 32-bit input, with hashfunc=int), an insertion_session without duplicate
    checks, and one query per post (there is no batch query).
    """

    name = "datasketch (MinHash.bulk + MinHashLSH)"
    layout = "K=128, 21x6"

    def prepare(self, sets, ids):
        return ids, [[h & 0xFFFFFFFF for h in sets[i]] for i in ids]

    def run(self, data):
        from datasketch import MinHash, MinHashLSH

        ids, tokens = data
        sketches = MinHash.bulk(tokens, num_perm=K, hashfunc=int)
        lsh = MinHashLSH(threshold=0.6, num_perm=K, params=(BANDS, ROWS))
        with lsh.insertion_session() as session:
            for key, m in zip(ids, sketches):
                session.insert(key, m, check_duplication=False)
        return [lsh.query(m) for m in sketches]

    def candidates(self, data, result):
        ids, _ = data
        return {ids[k]: set(cands) for k, cands in enumerate(result)}


PEERS = {
    "rensa": RensaObjects,
    "rensa-matrix": RensaMatrix,
    "gaoya": Gaoya,
    "datasketch": Datasketch,
}
PACKAGES = {"rensa": "rensa", "rensa-matrix": "rensa", "gaoya": "gaoya", "datasketch": "datasketch"}


def pair_recall(pairs, cands):
    empty = set()
    found = sum(1 for a, b in pairs if b in cands.get(a, empty) or a in cands.get(b, empty))
    return found, (found / len(pairs) if pairs else 1.0)


def query_recall_mean(pairs, queries, cands):
    """Mean over the sampled posts that have truth pairs of the fraction of their pairs found."""
    empty = set()
    per_query = {}
    for a, b in pairs:
        hit = b in cands.get(a, empty) or a in cands.get(b, empty)
        for q in (a, b):
            if q in queries:
                total, found = per_query.get(q, (0, 0))
                per_query[q] = (total + 1, found + hit)
    if not per_query:
        return 1.0
    return sum(found / total for total, found in per_query.values()) / len(per_query)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shingles", required=True)
    ap.add_argument("--truth", required=True)
    ap.add_argument("--steward", action="append", default=[], help="steward bench sketch JSON (repeatable)")
    ap.add_argument(
        "--steward-timing",
        action="append",
        default=[],
        help="a command timing one steward run (`steward bench sketch --runs 1 --queries 0 --min-seconds S ...`), one per "
        "--steward in the same order: run once a round between the peers' runs, so that steward and the "
        "peers are timed under the same machine conditions",
    )
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", nargs="*", choices=sorted(PEERS), help="run only these peers")
    ap.add_argument("--json", help="also write all results as JSON here")
    args = ap.parse_args()

    sets = load(args.shingles)
    with open(args.truth, encoding="utf-8") as f:
        truth = json.load(f)
    pairs = [tuple(p) for p in truth["pairs"]]
    queries = set(truth["queries"])
    stewards = []
    for path in args.steward:
        with open(path, encoding="utf-8") as f:
            stewards.append(json.load(f))
    n = len(sets)
    ids = [i for i, s in enumerate(sets) if s]
    load_before = os.getloadavg()

    if args.steward_timing and len(args.steward_timing) != len(stewards):
        sys.exit("give one --steward-timing per --steward")
    # Round robin: each round times every peer once and every steward configuration once, so
    # a slow spell of this shared machine falls on all of them alike. (One pass of steward
    # over the corpus lasts a fraction of a second, the peers' runs up to many seconds: the
    # timing command repeats the corpus for seconds (--min-seconds) so that steward, too, is
    # timed over the machine's fast and slow spells, not in one of them.)
    keys = args.only or list(PEERS)
    peers = {key: PEERS[key]() for key in keys}
    prepared = {key: peers[key].prepare(sets, ids) for key in keys}
    seconds = {key: [] for key in keys}
    last = {}
    steward_seconds = [([], []) for _ in args.steward_timing]
    for _ in range(args.runs):
        for key in keys:
            last[key] = None
            started = time.perf_counter()
            last[key] = peers[key].run(prepared[key])
            seconds[key].append(time.perf_counter() - started)
            print(f"  {key}: {seconds[key][-1]:.3f} s", file=sys.stderr, flush=True)
        for k, cmd in enumerate(args.steward_timing):
            run = json.loads(subprocess.run(shlex.split(cmd), check=True, capture_output=True, text=True).stdout)
            steward_seconds[k][0].append(run["seconds"])
            steward_seconds[k][1].append(run["from_shingles_seconds"])
            print(f"  steward #{k + 1}: {run['seconds']:.3f} s", file=sys.stderr, flush=True)
    for s, (text_s, shingle_s) in zip(stewards, steward_seconds):
        s["interleaved_seconds"], s["interleaved_from_shingles_seconds"] = text_s, shingle_s
        s["posts_per_second_median"] = s["posts"] / statistics.median(text_s)
        s["from_shingles_posts_per_second_median"] = s["posts"] / statistics.median(shingle_s)

    results = []
    for key in keys:
        peer, data, result = peers[key], prepared.pop(key), last.pop(key)
        cands = peer.candidates(data, result)
        found, recall = pair_recall(pairs, cands)
        q_recall = query_recall_mean(pairs, queries, cands)
        med = statistics.median(seconds[key])
        results.append(
            {
                "peer": key,
                "name": peer.name,
                "version": version(PACKAGES[key]),
                "layout": peer.layout,
                "seconds": seconds[key],
                "seconds_median": med,
                "posts_per_second_median": n / med,
                "found_pairs": found,
                "pair_recall": recall,
                "query_recall_mean": q_recall,
            }
        )
        del data, result, cands

    load_after = os.getloadavg()
    print(
        f"corpus: {n} posts ({len(ids)} with shingles); 3-char shingles, K=128, LSH 21 bands x 6 rows; "
        f"truth: {len(pairs)} pairs with exact shingle Jaccard >= {truth['threshold']} "
        f"over {len(truth['queries'])} sampled posts"
    )
    print(
        f"machine: {os.cpu_count()} cores, load average {load_before[0]:.2f} before the peers, "
        f"{load_after[0]:.2f} after; posts/s = corpus posts / median of {args.runs} runs, one thread each, "
        f"{'round robin with steward' if args.steward_timing else 'steward timed apart'}"
    )
    rows = []  # (label, posts/s median, pair recall, mean recall per query)
    for k, s in enumerate(stewards):
        days = s["window_secs"] / 86400
        window = f"{days:g}-day window" if days < 3650 else "all posts kept"
        cap = f"cap {s['max_postings']}" if s["max_postings"] < 10**6 else "no cap"
        rows.append(
            (
                f"#{k + 1} steward text ({window}, {cap})",
                s["posts_per_second_median"],
                s["pair_recall"],
                s["query_recall_mean"],
            )
        )
    for k, s in enumerate(stewards):
        rows.append(
            (
                f"#{k + 1}s same, from shingles",
                s["from_shingles_posts_per_second_median"],
                s["pair_recall"],
                s["query_recall_mean"],
            )
        )
    tags = [row[0].split()[0] for row in rows]
    head = f"{'':48} {'layout':12} {'posts/s':>9} {'recall':>7} {'q-recall':>8}" + "".join(f" {t + '/peer':>9}" for t in tags)
    print()
    print(head)
    for label, pps, recall, q_recall in rows:
        print(f"{label:48} {'K=128, 21x6':12} {pps:>9.0f} {recall:>7.4f} {q_recall:>8.4f}")
    for r in results:
        line = f"{r['name'] + ' ' + r['version']:48} {r['layout']:12} {r['posts_per_second_median']:>9.0f}"
        line += f" {r['pair_recall']:>7.4f} {r['query_recall_mean']:>8.4f}"
        line += "".join(f" {row[1] / r['posts_per_second_median']:>8.2f}x" for row in rows)
        print(line)
    print(
        "recall: truth pairs found / truth pairs; q-recall: mean over the sampled posts with truth pairs of "
        "the fraction of their pairs found; #Ns: steward configuration #N timed from the pre-tokenized "
        "shingles (signature + query + insert, the peers' work)"
    )
    print()
    for k, s in enumerate(stewards):
        print(
            f"steward #{k + 1}: {s['bytes_per_post']:.0f} bytes per post in the index holding all "
            f"{s['bytes_per_post_posts']} posts with shingles; pair recall {s['found_pairs']}/{s['truth_pairs']}, "
            f"in the timed window {s['pair_recall_in_window']:.4f} "
            f"({s['found_pairs_in_window']}/{s['truth_pairs_in_window']} truth pairs inside it); "
            f"best of {s['runs']}: {s['posts_per_second']:.0f} posts/s from text, "
            f"{s['from_shingles_posts_per_second']:.0f} from shingles"
        )
    for k, s in enumerate(stewards):
        if "interleaved_seconds" in s:
            print(f"steward #{k + 1}: runs {', '.join(f'{x:.3f}' for x in s['interleaved_seconds'])} s from text")
    for r in results:
        print(
            f"{r['peer']}: runs {', '.join(f'{x:.3f}' for x in r['seconds'])} s; "
            f"pair recall {r['found_pairs']}/{len(pairs)}"
        )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"steward": stewards, "peers": results, "load": [load_before, load_after]}, f, indent=1)


if __name__ == "__main__":
    main()
