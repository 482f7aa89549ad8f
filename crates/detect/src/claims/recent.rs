//! The posts of the recent window, kept as key sets (tokens and characters) with their
//! lengths so that a fact-check published after them can still find them: 4 bytes a key,
//! about 0.8 KB for a typical post.

use std::collections::VecDeque;

use super::tokens::Analysis;

/// A post of the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentPost {
    pub event_id: String,
    pub post_id: String,
    pub account_id: String,
    /// Post time, unix seconds.
    pub time: i64,
    /// Length in positions (see [`super::tokens::Analysis::length`]).
    pub length: u32,
    /// Where its tokens start in the shared buffer (counted from the first token ever kept).
    start: u64,
    len: u32,
}

/// Recent posts, oldest first, with their keys (low 32 bits of tokens and characters,
/// sorted) in one buffer.
#[derive(Debug)]
pub struct RecentPosts {
    window_secs: i64,
    posts: VecDeque<RecentPost>,
    tokens: VecDeque<u32>,
    /// The offset of `tokens[0]`.
    base: u64,
    latest: i64,
}

impl RecentPosts {
    pub fn new(window_secs: i64) -> Self {
        RecentPosts { window_secs, posts: VecDeque::new(), tokens: VecDeque::new(), base: 0, latest: i64::MIN }
    }

    pub fn is_empty(&self) -> bool {
        self.posts.is_empty()
    }

    /// Keeps a post, and lets go of those that have left the window behind the latest post.
    pub fn push(&mut self, event_id: &str, post_id: &str, account_id: &str, time: i64, text: &Analysis) {
        if self.window_secs <= 0 {
            return;
        }
        let mut keys: Vec<u32> = text.tokens.iter().chain(&text.chars).map(|t| *t as u32).collect();
        keys.sort_unstable();
        keys.dedup();
        let start = self.base + self.tokens.len() as u64;
        self.tokens.extend(&keys);
        self.posts.push_back(RecentPost {
            event_id: event_id.to_string(),
            post_id: post_id.to_string(),
            account_id: account_id.to_string(),
            time,
            length: text.length,
            start,
            len: keys.len() as u32,
        });
        self.latest = self.latest.max(time);
        let horizon = self.latest.saturating_sub(self.window_secs);
        while self.posts.front().is_some_and(|p| p.time < horizon) {
            if let Some(old) = self.posts.pop_front() {
                let end = (old.start + u64::from(old.len) - self.base) as usize;
                self.tokens.drain(..end);
                self.base = old.start + u64::from(old.len);
            }
        }
    }

    /// Each post of the window with its sorted 32-bit keys.
    pub fn iter(&self) -> impl Iterator<Item = (&RecentPost, impl Iterator<Item = u32> + '_)> {
        self.posts.iter().map(|p| {
            let from = (p.start - self.base) as usize;
            (p, self.tokens.range(from..from + p.len as usize).copied())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claims::tokens::Token;

    fn text(tokens: &[Token]) -> Analysis {
        Analysis { tokens: tokens.to_vec(), length: tokens.len() as u32, ..Analysis::default() }
    }

    #[test]
    fn posts_leave_the_window_with_their_tokens() {
        let mut recent = RecentPosts::new(100);
        recent.push("e1", "p1", "a1", 1000, &text(&[3, 1, 2]));
        recent.push("e2", "p2", "a2", 1050, &text(&[5, 4]));
        recent.push("e3", "p3", "a3", 1120, &text(&[7]));
        let kept: Vec<(String, Vec<u32>)> = recent.iter().map(|(p, t)| (p.post_id.clone(), t.collect())).collect();
        assert_eq!(kept, vec![("p2".to_string(), vec![4, 5]), ("p3".to_string(), vec![7])]);
        // A late post older than the window's start is kept until a newer post evicts it.
        recent.push("e4", "p4", "a4", 1500, &text(&[9, 8]));
        let kept: Vec<String> = recent.iter().map(|(p, _)| p.post_id.clone()).collect();
        assert_eq!(kept, vec!["p4"]);
    }

    #[test]
    fn a_zero_window_keeps_nothing() {
        let mut recent = RecentPosts::new(0);
        recent.push("e1", "p1", "a1", 1000, &text(&[1]));
        assert!(recent.is_empty());
    }
}
