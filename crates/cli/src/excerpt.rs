//! Short excerpts of texts, for the samples that reports print.

/// At most `chars` characters of `s`, its runs of whitespace as single spaces, with `…` when
/// cut.
pub fn excerpt(s: &str, chars: usize) -> String {
    let s: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    match s.char_indices().nth(chars) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_characters_and_folds_whitespace() {
        assert_eq!(excerpt("标题党标题党", 3), "标题党…");
        assert_eq!(excerpt("short", 10), "short");
        assert_eq!(excerpt("a \n\n b", 10), "a b");
    }
}
