//! What a post says of its own: links and the default texts of share buttons say nothing.
//!
//! A repost button writes 转发微博 and a share button writes its template and a short link,
//! different for every click; many accounts pressing the same button is not many accounts
//! writing the same text. Links are cut before a text is sketched (so that two posts are
//! never copies because their links look alike), and a text with too little left once the
//! boilerplate is gone never joins a cluster.

/// Default texts of repost and share buttons (normalized), which say nothing by themselves.
/// Longer phrases first, so that a shorter one never splits a longer one.
const BOILERPLATE: &[&str] = &["转发微博", "分享图片", "分享视频", "话题详情", "repost", "转发", "分享"];

/// Whether a normalized text is too short to mean anything once repost boilerplate is gone.
pub fn is_trivial(normalized: &str, min_chars: usize) -> bool {
    if normalized.chars().count() < min_chars {
        return true;
    }
    if !BOILERPLATE.iter().any(|b| normalized.contains(b)) {
        return false;
    }
    let mut rest = normalized.to_string();
    for b in BOILERPLATE {
        rest = rest.replace(b, "");
    }
    rest.chars().count() < min_chars
}

/// `text` without its web links (`http://` or `https://` and the URL characters after it),
/// each replaced by a space: `text` itself when it has none, else `buf` rewritten.
pub fn strip_links<'a>(text: &'a str, buf: &'a mut String) -> &'a str {
    // Most texts have no link, and no ASCII colon either: one memchr tells.
    if !text.as_bytes().contains(&b':') {
        return text;
    }
    let Some(first) = find_link(text) else { return text };
    buf.clear();
    let mut rest = text;
    let mut at = first;
    loop {
        buf.push_str(&rest[..at]);
        buf.push(' ');
        let after = &rest[at..];
        let end = after.find(|c: char| !is_url_char(c)).unwrap_or(after.len());
        rest = &after[end..];
        match find_link(rest) {
            Some(next) => at = next,
            None => break,
        }
    }
    buf.push_str(rest);
    buf
}

/// Whether `text` holds a web link: `http://`, `https://` or a `www.` host.
pub fn has_link(text: &str) -> bool {
    find_link(text).is_some()
        || text.match_indices("www.").any(|(at, _)| {
            let starts_word = !text[..at].chars().next_back().is_some_and(|c| c.is_ascii_alphanumeric());
            starts_word && text[at + 4..].chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        })
}

/// Byte offset of the first `http://` or `https://` in `text`.
fn find_link(text: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = text[from..].find("http") {
        let at = from + i;
        let tail = &text.as_bytes()[at + 4..];
        if tail.starts_with(b"://") || tail.starts_with(b"s://") {
            return Some(at);
        }
        from = at + 4;
    }
    None
}

/// Characters a URL may hold unescaped (RFC 3986) and `%`.
fn is_url_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~:/?#[]@!$&'()*+,;=%".contains(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stripped(text: &str) -> String {
        let mut buf = String::new();
        strip_links(text, &mut buf).to_string()
    }

    #[test]
    fn links_are_cut_and_the_rest_is_kept() {
        assert_eq!(stripped("没有链接的文字"), "没有链接的文字");
        assert_eq!(stripped("转发微博 http://t.cn/Ab3xZ9q"), "转发微博  ");
        assert_eq!(stripped("看这个https://example.com/a?b=1&c=%20，太好了"), "看这个 ，太好了");
        assert_eq!(stripped("http://a.cn/1 和 http://b.cn/2"), "  和  ");
        // A link cut short by an edit ends where URL characters end.
        assert_eq!(stripped("链接http://t.cn/A6就d"), "链接 就d");
        assert_eq!(stripped("httpx 与 http 不是链接"), "httpx 与 http 不是链接");
    }

    #[test]
    fn links_are_found_with_a_scheme_or_www() {
        assert!(has_link("see https://example.com/x") && has_link("go to www.example.com now"));
        assert!(!has_link("the www. prefix") && !has_link("awww.cute") && !has_link("plain text"));
    }

    #[test]
    fn boilerplate_with_a_link_is_trivial() {
        let sketcher_form = |t: &str| steward_text::normalize(&stripped(t));
        for text in
            ["转发微博 http://t.cn/Ab3xZ9q", "#热门微博# http://t.cn/Qw8rT2m", "分享图片 https://example.com/p/123456"]
        {
            assert!(is_trivial(&sketcher_form(text), 10), "{text}");
        }
        assert!(!is_trivial(&sketcher_form("本市明天全天停水，请大家提前囤水 http://t.cn/x"), 10));
    }
}
