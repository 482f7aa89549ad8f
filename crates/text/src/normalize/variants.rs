//! Hand-written table of Chinese look-alike (形近) and variant characters that
//! evaders substitute for ordinary simplified characters.
//!
//! The table is deliberately modest. It folds only characters that are rare in
//! ordinary Chinese text in their own right, so that folding them cannot merge
//! two unrelated posts in practice:
//!
//! * non-standard variant forms of very common characters (`囯`, `圀` → `国`);
//! * Japanese shinjitai forms that differ from both the traditional and the
//!   simplified Chinese form (`図` → `图`, `関` → `关`, `戦` → `战`…), which
//!   copy-paste campaigns use to dodge keyword lists. Japanese forms that are also
//!   ordinary Chinese characters with another meaning (`予`, `芸`, `欠`, `弁`,
//!   `糸`, `缶`, `浜`…) are left alone, which is why OpenCC's `jp2t` tables are
//!   not used wholesale (they map `沪` → `滬`, `连` → `聯`);
//! * banker's numerals (大写数字) that are used only as numerals (`壹`, `贰`,
//!   `叁`, `肆`, `柒`, `捌`, `玖`) → the plain numerals. `伍`, `陆`, `拾`, `佰`
//!   and `仟` are left alone: they are common in ordinary words (队伍, 大陆,
//!   收拾).
//!
//! Circled and parenthesised ideographs (`㊀`, `㈠`), Kangxi radicals (`⼀`) and
//! CJK compatibility ideographs are already folded by NFKC, and traditional
//! forms by the traditional→simplified step, so they are not repeated here.
//!
//! The folding runs before traditional→simplified conversion, so a target may
//! be traditional; all targets here are simplified already.

/// `(variant, ordinary)` pairs, sorted by the variant's code point.
pub(crate) const VARIANTS: &[(char, char)] = &[
    ('両', '两'),
    ('乗', '乘'),
    ('亜', '亚'),
    ('仮', '假'),
    ('伝', '传'),
    ('価', '价'),
    ('児', '儿'),
    ('処', '处'),
    ('剣', '剑'),
    ('労', '劳'),
    ('単', '单'),
    ('叁', '三'),
    ('営', '营'),
    ('団', '团'),
    ('囯', '国'),
    ('囲', '围'),
    ('図', '图'),
    ('圀', '国'),
    ('圧', '压'),
    ('壊', '坏'),
    ('壱', '一'),
    ('売', '卖'),
    ('壹', '一'),
    ('変', '变'),
    ('実', '实'),
    ('対', '对'),
    ('専', '专'),
    ('帰', '归'),
    ('広', '广'),
    ('弐', '二'),
    ('弾', '弹'),
    ('従', '从'),
    ('徳', '德'),
    ('恵', '惠'),
    ('悪', '恶'),
    ('戦', '战'),
    ('拠', '据'),
    ('挙', '举'),
    ('捌', '八'),
    ('柒', '七'),
    ('栄', '荣'),
    ('桜', '樱'),
    ('様', '样'),
    ('権', '权'),
    ('歩', '步'),
    ('歳', '岁'),
    ('毎', '每'),
    ('気', '气'),
    ('沢', '泽'),
    ('済', '济'),
    ('渋', '涩'),
    ('満', '满'),
    ('焼', '烧'),
    ('玖', '九'),
    ('発', '发'),
    ('県', '县'),
    ('穏', '稳'),
    ('経', '经'),
    ('緑', '绿'),
    ('肆', '四'),
    ('覚', '觉'),
    ('観', '观'),
    ('読', '读'),
    ('譲', '让'),
    ('贰', '二'),
    ('転', '转'),
    ('鉄', '铁'),
    ('銭', '钱'),
    ('関', '关'),
    ('険', '险'),
    ('隠', '隐'),
    ('雑', '杂'),
    ('駅', '驿'),
    ('験', '验'),
    ('黒', '黑'),
];

/// The ordinary form of a look-alike or variant character, if `c` is one.
pub(crate) fn fold_variant(c: char) -> Option<char> {
    VARIANTS.binary_search_by_key(&c, |&(v, _)| v).ok().map(|i| VARIANTS[i].1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_unique() {
        for w in VARIANTS.windows(2) {
            assert!(w[0].0 < w[1].0, "{:?} before {:?}", w[0], w[1]);
        }
    }

    #[test]
    fn targets_are_fixed_points() {
        for &(_, t) in VARIANTS {
            assert_eq!(fold_variant(t), None, "{t} is itself folded");
        }
    }
}
