#!/usr/bin/env bash
# Rebuilds models/zh-chars.tsv: how common each Chinese character is in general text, as
# its information in nats (-ln of its share of all characters), from the word frequencies
# of jieba's dictionary (PyPI package jieba, MIT). The claim matcher reads the file so that
# a character a post shares with a claim only on its own (他, 的, 可) counts no more than it
# would in any text, however seldom the claims of the base use it.
#
#   scripts/zh-chars.sh [VERSION]      # default: the version recorded below
#
# Needs pip (only to fetch the source package) and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION="${1:-0.42.1}"
OUT=models/zh-chars.tsv
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

pip download --quiet --no-deps --no-binary :all: -d "$work" "jieba==$VERSION" >/dev/null
tar xzf "$work"/jieba-"$VERSION".tar.gz -C "$work"

python3 - "$work/jieba-$VERSION/jieba/dict.txt" "$OUT" "$VERSION" <<'PY'
import collections, math, sys

dict_path, out, version = sys.argv[1:]
counts = collections.Counter()
for line in open(dict_path, encoding="utf-8"):
    parts = line.split()
    if len(parts) < 2:
        continue
    word, freq = parts[0], int(parts[1])
    for c in word:
        if "\u3400" <= c <= "\u9fff":
            counts[c] += freq
total = sum(counts.values())
# Characters rarer than this say nothing the matcher's own estimate would not (it gives a
# character it has never seen about 11 nats).
LIMIT = 12.0
rows = sorted(((-math.log(n / total), c) for c, n in counts.items()), key=lambda r: (r[0], r[1]))
with open(out, "w", encoding="utf-8") as f:
    f.write("# How common each Chinese character is in general text: -ln(share of all characters), in nats.\n")
    f.write(f"# Source: word frequencies of jieba's dictionary (PyPI package jieba {version}, licence: MIT),\n")
    f.write(f"# {total} character occurrences; converted by scripts/zh-chars.sh. Characters above {LIMIT} nats are left out.\n")
    for info, c in rows:
        if info < LIMIT:
            f.write(f"{c}\t{info:.2f}\n")
PY
echo "wrote $OUT: $(grep -vc '^#' "$OUT") characters"
