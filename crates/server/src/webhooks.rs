//! Webhook configuration: where notices are delivered and how, an admin's file given at
//! start (`steward serve --webhooks FILE`), checked whole before anything runs.
//!
//! ```toml
//! [[endpoint]]
//! url = "https://notify.example.org/steward"   # http or https
//! secret_env = "STEWARD_WEBHOOK_SECRET"         # the variable holding the secret, >= 32 bytes
//! audience = "account"                          # account | reporter; one endpoint each
//!
//! [delivery]                  # all optional; the defaults shown
//! attempts = 16               # a notice is dead after this many failed attempts
//! backoff_base_seconds = 10   # the wait after the first failure, doubled after each
//! backoff_cap_seconds = 21600 # the longest wait (6 h); every wait is jittered by ±20%
//! timeout_seconds = 10        # an attempt not answered in time has failed
//! concurrency = 64            # deliveries at once (one at a time per recipient)
//! poll_seconds = 0.2          # how often the outbox is read when idle
//! ```
//!
//! Every problem is reported, each with the file, the line and why ([`ConfigErrors`]).

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use steward_model::Audience;
use toml::Spanned;

/// The fewest bytes a signing secret may have.
pub const MIN_SECRET_BYTES: usize = 32;

/// Where one audience's notices go.
#[derive(Clone)]
pub struct Endpoint {
    pub url: reqwest::Url,
    /// Signs every request (HMAC-SHA256); never shown.
    pub secret: Vec<u8>,
    pub audience: Audience,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint").field("url", &self.url.as_str()).field("audience", &self.audience).finish()
    }
}

/// How notices are retried and how many go at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    /// Failed attempts after which a notice is dead.
    pub attempts: u32,
    /// The wait after the first failure; doubled after each next one.
    pub backoff_base: Duration,
    /// The longest wait.
    pub backoff_cap: Duration,
    /// How long an attempt may take.
    pub timeout: Duration,
    /// Deliveries in flight at once, to different recipients.
    pub concurrency: usize,
    /// How often the outbox is read when nothing is in flight.
    pub poll: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            attempts: 16,
            backoff_base: Duration::from_secs(10),
            backoff_cap: Duration::from_secs(6 * 3600),
            timeout: Duration::from_secs(10),
            concurrency: 64,
            poll: Duration::from_millis(200),
        }
    }
}

/// Checked webhook configuration: at most one endpoint per audience.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    pub endpoints: HashMap<Audience, Endpoint>,
    pub settings: Settings,
}

/// One problem in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub line: usize,
    pub message: String,
}

/// Every problem in a webhook file, each with where and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors {
    pub file: String,
    pub errors: Vec<ConfigError>,
}

impl std::fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.errors.len();
        write!(f, "webhook configuration {} has {n} error{}:", self.file, if n == 1 { "" } else { "s" })?;
        for e in &self.errors {
            write!(f, "\n  {}:{}: {}", self.file, e.line, e.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    endpoint: Vec<Spanned<RawEndpoint>>,
    delivery: Option<RawDelivery>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEndpoint {
    url: Spanned<String>,
    secret_env: Spanned<String>,
    audience: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDelivery {
    attempts: Option<Spanned<u32>>,
    backoff_base_seconds: Option<Spanned<f64>>,
    backoff_cap_seconds: Option<Spanned<f64>>,
    timeout_seconds: Option<Spanned<f64>>,
    concurrency: Option<Spanned<usize>>,
    poll_seconds: Option<Spanned<f64>>,
}

impl WebhookConfig {
    /// Reads and checks `path`, taking secrets from the process environment.
    pub fn load(path: &Path) -> Result<WebhookConfig, ConfigErrors> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigErrors {
            file: file.clone(),
            errors: vec![ConfigError { line: 0, message: format!("cannot read it: {e}") }],
        })?;
        Self::parse(&text, &file, |name| std::env::var_os(name).map(|v| v.into_encoded_bytes()))
    }

    /// Checks the text of a webhook file named `file`, reading the variable named by
    /// `secret_env` through `env`.
    pub fn parse(text: &str, file: &str, env: impl Fn(&str) -> Option<Vec<u8>>) -> Result<WebhookConfig, ConfigErrors> {
        let mut errors = Vec::new();
        let line = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
        let mut fail = |offset: usize, message: String| errors.push(ConfigError { line: line(offset), message });
        let raw: RawFile = match toml::from_str(text) {
            Ok(raw) => raw,
            Err(e) => {
                fail(e.span().map_or(0, |s| s.start), e.message().trim().to_string());
                return Err(ConfigErrors { file: file.to_string(), errors });
            }
        };
        if raw.endpoint.is_empty() {
            fail(0, "no endpoint: add an [[endpoint]] with url, secret_env and audience".into());
        }
        let mut endpoints = HashMap::new();
        for e in raw.endpoint {
            let at = e.span().start;
            let e = e.into_inner();
            let url = match reqwest::Url::parse(e.url.get_ref()) {
                Ok(u) if !matches!(u.scheme(), "http" | "https") => {
                    fail(e.url.span().start, format!("url {:?} is not http(s)", e.url.get_ref()));
                    None
                }
                Ok(u) if u.host_str().is_none_or(str::is_empty) => {
                    fail(e.url.span().start, format!("url {:?} has no host", e.url.get_ref()));
                    None
                }
                Ok(u) => Some(u),
                Err(err) => {
                    fail(
                        e.url.span().start,
                        format!("url {:?} is not a URL ({err}); give an http(s) URL", e.url.get_ref()),
                    );
                    None
                }
            };
            let name = e.secret_env.get_ref();
            let secret = match env(name) {
                _ if name.is_empty() => {
                    fail(
                        e.secret_env.span().start,
                        "secret_env is empty: name the environment variable holding the secret".into(),
                    );
                    None
                }
                None => {
                    fail(e.secret_env.span().start, format!("environment variable {name} (secret_env) is not set"));
                    None
                }
                Some(s) if s.len() < MIN_SECRET_BYTES => {
                    let n = s.len();
                    fail(
                        e.secret_env.span().start,
                        format!("the secret in {name} is {n} bytes; at least {MIN_SECRET_BYTES} are needed"),
                    );
                    None
                }
                Some(s) => Some(s),
            };
            let audience = match Audience::parse(e.audience.get_ref()) {
                Some(a) if endpoints.contains_key(&a) => {
                    fail(at, format!("a second endpoint for audience {}: give one per audience", a.as_str()));
                    None
                }
                Some(a) => Some(a),
                None => {
                    fail(
                        e.audience.span().start,
                        format!("audience {:?} is not account, reporter or group", e.audience.get_ref()),
                    );
                    None
                }
            };
            if let (Some(url), Some(secret), Some(audience)) = (url, secret, audience) {
                endpoints.insert(audience, Endpoint { url, secret, audience });
            }
        }
        let settings = raw.delivery.map(|d| settings(d, &mut fail)).unwrap_or_default();
        if !errors.is_empty() {
            return Err(ConfigErrors { file: file.to_string(), errors });
        }
        Ok(WebhookConfig { endpoints, settings })
    }
}

/// The `[delivery]` table over the defaults.
fn settings(d: RawDelivery, fail: &mut impl FnMut(usize, String)) -> Settings {
    let mut s = Settings::default();
    let mut seconds = |v: Option<Spanned<f64>>, name: &str, into: &mut Duration| {
        if let Some(v) = v {
            match Duration::try_from_secs_f64(*v.get_ref()) {
                Ok(d) if !d.is_zero() && d <= Duration::from_secs(7 * 86_400) => *into = d,
                _ => fail(v.span().start, format!("{name} must be more than 0 and at most 604800 (a week)")),
            }
        }
    };
    seconds(d.backoff_base_seconds, "backoff_base_seconds", &mut s.backoff_base);
    seconds(d.backoff_cap_seconds, "backoff_cap_seconds", &mut s.backoff_cap);
    seconds(d.timeout_seconds, "timeout_seconds", &mut s.timeout);
    seconds(d.poll_seconds, "poll_seconds", &mut s.poll);
    if let Some(a) = d.attempts {
        match *a.get_ref() {
            0 => fail(a.span().start, "attempts must be at least 1".into()),
            n => s.attempts = n,
        }
    }
    if let Some(c) = d.concurrency {
        match *c.get_ref() {
            n @ 1..=4096 => s.concurrency = n,
            _ => fail(c.span().start, "concurrency must be between 1 and 4096".into()),
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn env(name: &str) -> Option<Vec<u8>> {
        match name {
            "GOOD" => Some(SECRET.to_vec()),
            "SHORT" => Some(b"too short".to_vec()),
            _ => None,
        }
    }

    fn errors(text: &str) -> Vec<(usize, String)> {
        let e = WebhookConfig::parse(text, "hooks.toml", env).unwrap_err();
        e.errors.into_iter().map(|e| (e.line, e.message)).collect()
    }

    #[test]
    fn a_good_file_is_read_with_its_settings() {
        let c = WebhookConfig::parse(
            "[[endpoint]]\nurl = \"https://n.example.org/hook\"\nsecret_env = \"GOOD\"\naudience = \"account\"\n\
             [delivery]\nattempts = 3\nbackoff_base_seconds = 0.01\n",
            "hooks.toml",
            env,
        )
        .unwrap();
        let e = &c.endpoints[&Audience::Account];
        assert_eq!((e.url.as_str(), e.secret.as_slice()), ("https://n.example.org/hook", SECRET));
        assert_eq!(c.settings.attempts, 3);
        assert_eq!(c.settings.backoff_base, Duration::from_millis(10));
        assert_eq!(c.settings.backoff_cap, Settings::default().backoff_cap);
        assert!(!format!("{e:?}").contains("0123"), "the secret is never shown");
    }

    #[test]
    fn every_error_is_named_with_its_line() {
        let text = "[[endpoint]]\nurl = \"ftp://n.example.org/\"\nsecret_env = \"MISSING\"\naudience = \"account\"\n\
                    \n[[endpoint]]\nurl = \"http://r.example.org/\"\nsecret_env = \"SHORT\"\naudience = \"everyone\"\n";
        assert_eq!(
            errors(text),
            vec![
                (2, "url \"ftp://n.example.org/\" is not http(s)".to_string()),
                (3, "environment variable MISSING (secret_env) is not set".to_string()),
                (8, "the secret in SHORT is 9 bytes; at least 32 are needed".to_string()),
                (9, "audience \"everyone\" is not account, reporter or group".to_string()),
            ]
        );
        let shown = WebhookConfig::parse(text, "hooks.toml", env).unwrap_err().to_string();
        assert!(shown.starts_with("webhook configuration hooks.toml has 4 errors:\n  hooks.toml:2: url"), "{shown}");
    }

    #[test]
    fn unreadable_files_and_unknown_keys_are_refused() {
        assert_eq!(errors("")[0].1, "no endpoint: add an [[endpoint]] with url, secret_env and audience");
        let unknown = errors(
            "[[endpoint]]\nurl = \"http://x/\"\nsecret_env = \"GOOD\"\naudience = \"account\"\nsecret = \"x\"\n",
        );
        assert_eq!(unknown[0].0, 5);
        assert!(unknown[0].1.contains("unknown field `secret`"), "{unknown:?}");
        let twice = "[[endpoint]]\nurl = \"http://x/\"\nsecret_env = \"GOOD\"\naudience = \"account\"\n\
                     [[endpoint]]\nurl = \"http://y/\"\nsecret_env = \"GOOD\"\naudience = \"account\"\n";
        assert_eq!(
            errors(twice),
            vec![(5, "a second endpoint for audience account: give one per audience".to_string())]
        );
        let bad = errors(
            "[[endpoint]]\nurl = \"not a url\"\nsecret_env = \"GOOD\"\naudience = \"account\"\n[delivery]\nattempts = 0\nconcurrency = 0\ntimeout_seconds = -1\n",
        );
        assert_eq!(bad.iter().map(|e| e.0).collect::<Vec<_>>(), vec![2, 8, 6, 7], "{bad:?}");
    }
}
