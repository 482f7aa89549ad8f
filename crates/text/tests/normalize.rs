//! Each normalization step on its own, then the fast path against the steps.

mod common;

use common::Rng;
use steward_text::{normalize, normalize_chars_into, normalize_into, steps};

#[test]
fn full_width_to_half_width() {
    assert_eq!(steps::nfkc("ＡＢＣ１２３　ｘ！"), "ABC123 x!");
    assert_eq!(steps::nfkc("①㊀⼀ﬁ"), "1一一fi");
    assert_eq!(normalize("ＡＢＣ１２３"), "abc123");
    assert_eq!(normalize("ｗｅｉｘｉｎ：ａｂｃ１２３"), "weixinabc123");
}

#[test]
fn zero_width_and_format_characters_removed() {
    let padded = "加\u{200B}微\u{200C}信\u{200D}号\u{FEFF}码\u{00AD}吧\u{2060}啊\u{2062}哦\u{202E}嗯\u{3164}";
    assert_eq!(steps::strip_invisible(padded), "加微信号码吧啊哦嗯");
    assert_eq!(normalize(padded), "加微信号码吧啊哦嗯");
    for c in ['\u{200B}', '\u{200F}', '\u{2064}', '\u{FEFF}', '\u{00AD}', '\u{E0041}'] {
        assert!(steps::is_invisible(c), "{c:?}");
    }
    assert!(!steps::is_invisible('a') && !steps::is_invisible('中'));
    assert_eq!(normalize("pay\u{200B}pal"), "paypal");
}

#[test]
fn confusables_folded_to_latin() {
    // Cyrillic 'а' (U+0430) inside a Latin word.
    let spoofed = "p\u{0430}ypal";
    assert_ne!(spoofed, "paypal");
    assert_eq!(steps::fold_confusables(spoofed), "paypal");
    assert_eq!(normalize(spoofed), "paypal");
    // Greek capitals, mathematical bold, accents.
    assert_eq!(normalize("\u{0391}pple"), "apple");
    assert_eq!(normalize("𝐇𝐞𝐥𝐥𝐨"), "hello");
    assert_eq!(normalize("Café Crème"), "cafe creme");
    // Chinese is left alone.
    assert_eq!(steps::fold_confusables("中文口丨"), "中文口丨");
}

#[test]
fn chinese_variants_folded() {
    assert_eq!(steps::fold_variants("中囯"), "中国");
    assert_eq!(steps::fold_variants("地図"), "地图");
    assert_eq!(steps::fold_variants("壹贰叁"), "一二三");
    assert_eq!(steps::fold_variants("大陆队伍"), "大陆队伍");
    assert_eq!(normalize("中囯人民"), normalize("中国人民"));
    assert_eq!(normalize("関注"), "关注");
}

#[test]
fn traditional_to_simplified() {
    assert_eq!(steps::to_simplified("資訊"), "资讯");
    assert_eq!(steps::to_simplified("臺灣的電腦軟體"), "台湾的电脑软体");
    assert_eq!(normalize("資訊"), "资讯");
    assert_eq!(normalize("緊急擴散，轉給家人"), "紧急扩散转给家人");
}

#[test]
fn bracket_emoticons_removed() {
    assert_eq!(steps::strip_emoticons("好[吃惊]的[doge]"), "好的");
    assert_eq!(steps::strip_emoticons("［哈哈］真的"), "真的");
    // Not emoticons: empty, too long, spaces or punctuation inside, unclosed.
    for s in ["[]", "[一二三四五六七]", "[a b]", "[a,b]", "[吃惊", "【重要】"] {
        assert_eq!(steps::strip_emoticons(s), s, "{s}");
    }
    assert_eq!(normalize("[吃惊]真的假的[doge][good]"), "真的假的");
    assert_eq!(normalize("转发[1234567]"), "转发1234567");
    assert_eq!(steps::emoticon_len("[ok]x"), Some(4));
    assert_eq!(steps::emoticon_len("[吃惊]"), Some(8));
}

#[test]
fn emoji_removed() {
    assert_eq!(normalize("好😀的👍🏻！🇨🇳"), "好的");
    assert_eq!(normalize("❤️爱你❤"), "爱你");
    assert_eq!(normalize("👨\u{200D}👩\u{200D}👧一家"), "一家");
    assert_eq!(normalize("1\u{FE0F}\u{20E3}号"), "1号");
}

#[test]
fn punctuation_and_whitespace_folded() {
    assert_eq!(steps::fold_punctuation("Hello,   World!!"), "Hello World");
    assert_eq!(steps::fold_punctuation("h.e.l.l.o"), "hello");
    assert_eq!(steps::fold_punctuation("中 文，。！"), "中文");
    assert_eq!(steps::fold_punctuation("  abc 中文 def  "), "abc中文def");
    assert_eq!(steps::fold_punctuation("加。微。信"), "加微信");
    assert_eq!(normalize("  Hello,\n\tWorld!  "), "hello world");
    assert_eq!(normalize("“震惊！”——《某某》…"), "震惊某某");
    assert_eq!(normalize("call 138-0000-0000 now"), "call 13800000000 now");
    assert_eq!(normalize(""), "");
    assert_eq!(normalize("！？。，"), "");
}

#[test]
fn case_folded() {
    assert_eq!(steps::fold_case("ÄBC Straße"), "äbc straße");
    assert_eq!(normalize("HELLO World"), "hello world");
    assert_eq!(normalize("ＨＥＬＬＯ"), "hello");
}

#[test]
fn evasions_collapse_to_the_original() {
    let original = normalize("紧急通知：明天起全市停水，请大家转告！");
    for evasion in [
        "紧急通知:明天起全市停水,请大家转告!",
        "緊急通知：明天起全市停水，請大家轉告！",
        "紧\u{200B}急\u{200B}通\u{200B}知 明天起全市停水 请大家转告 [吃惊][吃惊]",
        "紧急通知😱😱明天起全市停水👉请大家转告🙏",
        "紧。急。通。知。明。天。起。全。市。停。水。请。大。家。转。告",
    ] {
        assert_eq!(normalize(evasion), original, "{evasion}");
    }
}

#[test]
fn normalize_into_reuses_its_buffer() {
    let mut buf = String::from("left over");
    normalize_into("ＡＢ", &mut buf);
    assert_eq!(buf, "ab");
    normalize_into("中文", &mut buf);
    assert_eq!(buf, "中文");
}

/// Both forms of the fast path, text and code points, equal the steps one by
/// one on `s`; returns the normalized text.
fn check_fast_paths(s: &str) -> String {
    let expected = steps::reference(s);
    let n = normalize(s);
    assert_eq!(n, expected, "{s:?}");
    let mut chars = vec![7];
    normalize_chars_into(s, &mut chars);
    assert!(chars.iter().copied().eq(expected.chars().map(u32::from)), "code points of {s:?}");
    n
}

#[test]
fn fast_path_equals_the_steps_on_samples() {
    for s in [
        "Ｈｅｌｌｏ，  Wörld！[doge]資訊",
        "p\u{0430}ypal 登录 → https://example.com/a?b=1",
        "臺灣 ＆ 香港：２０２４年【重要】通知～",
        "e\u{0301}cole ǅ ﬀ ㎏ ½ ℃ № Ⅻ",
        "İstanbul ΣΊΣΥΦΟΣ",
        "한국어 텍스트 ひらがな カタカナ ｶﾀｶﾅ",
        "\u{1160}\u{3164}\u{FFA0}x",
        "[吃惊][a][一二三四五六][ok ]",
        // Runs of unchanged Han broken by traditional characters, a full-width
        // emoticon, kana, Latin and the end of the text.
        "今天天氣很好［吃惊］我們一起去公園散步吧abc中文ひらがな中",
    ] {
        check_fast_paths(s);
    }
}

#[test]
fn fast_path_equals_the_steps_on_random_code_points() {
    let ranges: &[(u32, u32)] = &[
        (0x20, 0x7F),
        (0xA0, 0x250),
        (0x300, 0x370),
        (0x370, 0x530),
        (0x1100, 0x1200),
        (0x1E00, 0x2000),
        (0x2000, 0x2BFF),
        (0x2E80, 0x3100),
        (0x3100, 0x3400),
        (0x4E00, 0xA000),
        (0xAC00, 0xD7A4),
        (0xF900, 0xFB00),
        (0xFE00, 0xFFFF),
        (0x1D400, 0x1D800),
        (0x1F000, 0x1FB00),
        (0x20000, 0x2A6E0),
        (0xE0000, 0xE0080),
        (0x0, 0x110000),
    ];
    let mut rng = Rng(0x1234_5678_9ABC_DEF1);
    for _ in 0..3000 {
        let mut s = String::new();
        for _ in 0..rng.below(12) {
            let (lo, hi) = ranges[rng.below(ranges.len())];
            let cp = lo + rng.below((hi - lo) as usize) as u32;
            if let Some(c) = char::from_u32(cp) {
                s.push(c);
            }
            if rng.chance(0.1) {
                s.push([' ', '[', ']', '，', 'a', '中'][rng.below(6)]);
            }
        }
        let n = check_fast_paths(&s);
        assert_eq!(normalize(&n), n, "not idempotent: {s:?}");
    }
}

#[test]
fn normalization_is_idempotent() {
    for s in ["Ｈｅｌｌｏ，  Wörld！[doge]資訊", "紧急通知😱😱明天起全市停水👉请大家转告🙏", "e\u{0301}cole ǅ ﬀ ㎏ ½ ℃"]
    {
        let once = normalize(s);
        assert_eq!(normalize(&once), once, "{s}");
    }
}

#[test]
fn idempotent_on_every_code_point() {
    let mut bad = Vec::new();
    let mut buf = String::new();
    for c in (0..0x11_0000u32).filter_map(char::from_u32) {
        let once = normalize(&format!("a{c}b"));
        normalize_into(&once, &mut buf);
        if buf != once {
            bad.push(c);
        }
    }
    assert!(bad.is_empty(), "{} code points, e.g. {:?}", bad.len(), &bad[..bad.len().min(20)]);
}

#[test]
fn ascii_fast_path_equals_the_steps() {
    let alphabet = b"aZ09 [].\n\t-_!xyzBQ[[]]";
    let mut rng = Rng(99);
    for _ in 0..20_000 {
        let len = rng.below(16);
        let s: String = (0..len).map(|_| char::from(alphabet[rng.below(alphabet.len())])).collect();
        check_fast_paths(&s);
    }
}
