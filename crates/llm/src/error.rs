//! The client's errors: short, and fit to show an operator.

use std::fmt;
use std::time::Duration;

/// Which bound a request went over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutKind {
    /// Opening the connection.
    Connect,
    /// From sending the request to the answer's first piece of text.
    FirstToken,
    /// Between two reads once the answer has started.
    Idle,
    /// The whole answer.
    Total,
}

impl fmt::Display for TimeoutKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeoutKind::Connect => "no connection",
            TimeoutKind::FirstToken => "no first token",
            TimeoutKind::Idle => "nothing more",
            TimeoutKind::Total => "no complete answer",
        })
    }
}

/// What went wrong with a chat request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LlmError {
    /// The server answered with an error status.
    #[error("the model server answered HTTP {status}: {body}")]
    Http {
        /// The HTTP status code.
        status: u16,
        /// The start of the answer's body.
        body: String,
    },
    /// The server could not be reached.
    #[error("cannot reach the model server: {reason}")]
    Connect {
        /// Why, as the HTTP client put it.
        reason: String,
    },
    /// A bound was passed.
    #[error("the model server is too slow: {which} within {}", secs(*.after))]
    Timeout {
        /// Which bound.
        which: TimeoutKind,
        /// The bound.
        after: Duration,
    },
    /// The answer stopped before the server said it was complete.
    #[error("the model's answer was cut off")]
    Cut,
    /// The server sent something that is not a chat stream.
    #[error("the model server sent something unreadable: {what}")]
    Malformed {
        /// What, with an excerpt.
        what: String,
    },
    /// The client's configuration cannot work (a bad URL or API key).
    #[error("{what}")]
    Config {
        /// What is wrong and where.
        what: String,
    },
}

fn secs(d: Duration) -> String {
    format!("{}s", d.as_secs_f64())
}

/// The first `max` characters of `text`, with `…` when cut.
pub(crate) fn excerpt(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}
