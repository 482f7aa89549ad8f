#!/usr/bin/env python3
"""Turns a copy-campaign posts file (../shared/data/copy/posts.jsonl) into steward events.

Each account gets one `account.upserted` just before its first post; each row becomes one
`post.created` at its `created_at` (unix seconds). Rows are written in time order (ties in
file order), which is how a platform would have sent them. NDJSON goes to stdout, so that

    python3 scripts/copy-events.py ../shared/data/copy/posts.jsonl --background-only > real.ndjson
    steward backtest --events real.ndjson

replays the real posts through the pipeline. A row that cannot be read is reported on
stderr with its line and left out; the rest are kept.
"""

import argparse
import json
import sys
from datetime import datetime, timezone


def rfc3339(seconds):
    return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_rows(path, background_only):
    rows, bad = [], 0
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                post = (int(row["created_at"]), line_no, str(row["id"]), str(row["account_id"]), row["text"])
                if not isinstance(post[4], str):
                    raise ValueError("text is not a string")
            except (ValueError, KeyError, TypeError) as e:
                print(f"{path}:{line_no}: left out: {e}", file=sys.stderr)
                bad += 1
                continue
            if background_only and row.get("campaign") is not None:
                continue
            rows.append(post)
    rows.sort()
    return rows, bad


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("posts", help="posts file: JSONL of {id, account_id, created_at, text, campaign}")
    parser.add_argument("--background-only", action="store_true", help="leave out the planted campaigns' posts")
    parser.add_argument("--limit", type=int, default=None, help="stop after this many posts")
    args = parser.parse_args()

    rows, bad = read_rows(args.posts, args.background_only)
    if args.limit is not None:
        rows = rows[: args.limit]
    seen = set()
    out = sys.stdout
    for created_at, _, post_id, account_id, text in rows:
        at = rfc3339(created_at)
        if account_id not in seen:
            seen.add(account_id)
            account = {"id": account_id, "handle": account_id, "display_name": account_id}
            out.write(json.dumps({"id": f"acct-{account_id}", "type": "account.upserted", "at": at,
                                  "account": account}, ensure_ascii=False) + "\n")
        post = {"id": post_id, "account_id": account_id, "kind": "short_post", "text": text, "created_at": at}
        out.write(json.dumps({"id": f"post-{post_id}", "type": "post.created", "at": at, "post": post},
                             ensure_ascii=False) + "\n")
    print(f"{len(rows)} posts from {len(seen)} accounts; {bad} rows left out", file=sys.stderr)


if __name__ == "__main__":
    main()
