//! @mentions: an address, not something the text says. `@谣言粉碎机 真的吗？` asks a
//! question of an account; read as words, the account's name would make it a post about
//! rumours.

/// Longest name a mention is taken to have, in characters (Weibo allows 30).
const MAX_NAME_CHARS: usize = 30;

/// `text` without its @mentions (`@` and the name after it: letters, digits, `_` and `-`,
/// Han characters included), each replaced by a space: `text` itself when it has none,
/// else `buf` rewritten. An `@` inside a word (an e-mail address) is not a mention.
pub fn strip_mentions<'a>(text: &'a str, buf: &'a mut String) -> &'a str {
    if !text.contains(['@', '＠']) {
        return text;
    }
    buf.clear();
    let mut prev: Option<char> = None;
    let mut chars = text.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        let starts_mention = matches!(c, '@' | '＠') && !prev.is_some_and(|p| p.is_ascii_alphanumeric());
        if starts_mention && chars.peek().is_some_and(|&(_, n)| is_name_char(n)) {
            let mut taken = 0;
            while taken < MAX_NAME_CHARS && chars.peek().is_some_and(|&(_, n)| is_name_char(n)) {
                chars.next();
                taken += 1;
            }
            buf.push(' ');
            prev = Some(' ');
        } else {
            buf.push(c);
            prev = Some(c);
        }
    }
    buf
}

fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stripped(text: &str) -> String {
        let mut buf = String::new();
        strip_mentions(text, &mut buf).to_string()
    }

    #[test]
    fn mentions_are_cut_and_the_rest_kept() {
        assert_eq!(stripped("@谣言粉碎机 真的会这样嘛？"), "  真的会这样嘛？");
        assert_eq!(stripped("报应不爽啊！@青岛交通广播FM897 @青岛动保-抵制狗肉节"), "报应不爽啊！   ");
        assert_eq!(stripped("回复＠小A_b:好的"), "回复 :好的");
        assert_eq!(stripped("no mention here"), "no mention here");
    }

    #[test]
    fn an_email_address_or_a_lone_at_sign_is_not_a_mention() {
        assert_eq!(stripped("write to a@b.com"), "write to a@b.com");
        assert_eq!(stripped("meet @ 5pm"), "meet @ 5pm");
        assert_eq!(stripped("@"), "@");
    }
}
