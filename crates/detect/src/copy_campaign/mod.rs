//! Coordinated copy-paste campaigns: the same text published by many accounts within a short
//! time (集中发布相似文案, 多账号联动发布), however each copy is disguised.
//!
//! Every post with text goes through the [`Tracker`]: its links cut, normalized, sketched,
//! matched against the posts of the window and clustered. When the configured number of
//! distinct accounts post in a cluster within the burst window it becomes a campaign: each of
//! its posts, earlier ones included, gets a `copy_campaign` signal once, and every later copy
//! gets one as it arrives. Copies that spread from account to account over hours or days are
//! virality and never become a campaign; boilerplate with a link (转发微博 http://t.cn/...)
//! never joins a cluster. The signal carries what tells sockpuppets from people passing a
//! text on: how fast the accounts came, how many were new in the window or had posted
//! nothing but copies there, and how often each posted. The campaign's summary and members
//! go to the store (served by `GET /v1/campaigns`).

mod boilerplate;
mod tracker;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use steward_model::{GroupChange, GroupMember, Payload, Signal};

pub use boilerplate::{has_link, is_trivial, strip_links};
pub use tracker::{Campaign, CampaignConfig, Member, PostRef, Tracker, Update};

use crate::{About, Context, Detector, EarlierSignal, Findings, SignalSpec};

const NAME: &str = "copy_campaign";
const VERSION: u32 = 2;

const SPECS: &[SignalSpec] = &[SignalSpec {
    name: "copy_campaign",
    evidence: &[
        "campaign",
        "accounts",
        "posts",
        "first_seen",
        "span_minutes",
        "posts_per_hour",
        "burst_accounts",
        "burst_minutes",
        "new_account_share",
        "copying_account_share",
        "posts_per_account",
        "similarity",
    ],
}];
const ABOUT: About = About { name: NAME, version: VERSION, signals: SPECS };

/// The detector: a [`Tracker`] over post events.
pub struct CopyCampaign {
    tracker: Tracker,
}

impl CopyCampaign {
    pub fn new(config: CampaignConfig) -> Self {
        // Only the sketch parameters can make a tracker fail, and they are the defaults.
        CopyCampaign { tracker: Tracker::new(config).expect("the default sketch parameters are valid") }
    }
}

impl Default for CopyCampaign {
    fn default() -> Self {
        CopyCampaign::new(CampaignConfig::default())
    }
}

fn rfc3339(secs: i64) -> String {
    DateTime::<Utc>::from_timestamp(secs, 0).unwrap_or_default().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// `x` rounded to `places` decimals.
fn round(x: f64, places: i32) -> f64 {
    let scale = 10f64.powi(places);
    (x * scale).round() / scale
}

/// The campaign's figures, shared by the signal evidence and the stored summary.
fn figures(c: &Campaign, config: &CampaignConfig) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("accounts".into(), c.accounts.into());
    m.insert("posts".into(), c.posts.into());
    m.insert("first_seen".into(), rfc3339(c.first_seen).into());
    m.insert("span_minutes".into(), json!(round(c.span_minutes(), 1)));
    m.insert("posts_per_hour".into(), json!(round(c.posts_per_hour(), 1)));
    m.insert("burst_accounts".into(), config.min_accounts.into());
    m.insert("burst_minutes".into(), json!(round(c.burst_minutes(), 1)));
    m.insert("new_account_share".into(), json!(round(c.new_account_share(), 2)));
    m.insert("copying_account_share".into(), json!(round(c.copying_account_share(), 2)));
    m.insert("posts_per_account".into(), json!(round(c.posts_per_account(), 2)));
    m
}

impl Detector for CopyCampaign {
    fn about(&self) -> &'static About {
        &ABOUT
    }

    fn window(&self) -> Option<i64> {
        Some(self.tracker.config().window_secs)
    }

    fn needs_every_account(&self) -> bool {
        true
    }

    fn inspect(&mut self, ctx: &Context, out: &mut Findings) {
        let Payload::PostCreated(post) = &ctx.event.payload else { return };
        let text = post.full_text();
        let Some(update) = self.tracker.add(&PostRef {
            event_id: &ctx.event.id,
            post_id: &post.id,
            account_id: &post.account_id,
            time: post.created_at.timestamp(),
            text: &text,
        }) else {
            return;
        };
        let figures = figures(&update.campaign, self.tracker.config());
        let mut evidence = figures.clone();
        evidence.insert("campaign".into(), update.campaign.id.clone().into());
        let mut joined = Vec::with_capacity(update.joined.len());
        for m in update.joined {
            let mut signal = Signal::new(NAME, NAME, VERSION, f64::from(m.similarity));
            signal.evidence = evidence.clone();
            signal.evidence.insert("similarity".into(), json!(round(f64::from(m.similarity), 2)));
            let at = DateTime::<Utc>::from_timestamp(m.time, 0).unwrap_or_default();
            joined.push(GroupMember { post_id: m.post_id.clone(), account_id: m.account_id.clone(), at });
            if m.event_id == ctx.event.id {
                out.signals.push(signal);
            } else {
                out.earlier.push(EarlierSignal {
                    event_id: m.event_id,
                    post_id: m.post_id,
                    account_id: m.account_id,
                    signal,
                });
            }
        }
        let mut summary = figures;
        summary.insert("id".into(), update.campaign.id.clone().into());
        summary.insert("last_seen".into(), rfc3339(update.campaign.last_seen).into());
        summary.insert("detector".into(), json!({ "name": NAME, "version": VERSION }));
        out.groups.push(GroupChange {
            kind: "campaign",
            id: update.campaign.id,
            summary: Value::Object(summary),
            joined,
            absorbed: update.absorbed,
            at: ctx.event.at,
        });
    }
}

#[cfg(test)]
mod tests;
