//! Clusters of near-duplicate posts over a sliding window, and the campaigns among them.
//!
//! Each non-trivial post is sketched (its links cut), looked up in a [`WindowIndex`] and
//! joined to every cluster holding a post whose estimated Jaccard similarity reaches the
//! threshold. Clusters merge by moving the smaller one's members into the larger (each post
//! moves O(log n) times). A cluster becomes a campaign when `min_accounts` distinct accounts
//! post in it within `burst_secs`; from then on every post that joins it is reported once,
//! and two campaigns that merge keep the older id.
//!
//! Coordination and virality both make copies; what differs is how they arrive. Accounts
//! acting together publish at once (集中发布); a quote that pleases people travels from one
//! to the next over a day or two. Until a cluster is a campaign it keeps, for each account,
//! its latest post within the burst, so the test costs a few entries, never a rescan. The
//! tracker also counts each account's posts and copies in the window, and each campaign
//! records how many of its accounts were new there or had posted nothing but copies: what
//! a reviewer (and the policy) needs to tell sockpuppets from people who liked a text.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};

use steward_text::{
    Candidate, DEFAULT_MAX_POSTINGS, DEFAULT_WINDOW_SECS, ParamsError, Signature, SketchParams, Sketcher, WindowIndex,
};

use super::boilerplate::{is_trivial, strip_links};
use crate::u64_map::U64Map;

/// What makes a campaign. The defaults follow from what a campaign is, not from a data set:
/// copies one LSH band layout finds reliably (estimated Jaccard ≥ 0.5 sits just under the
/// 21 × 6 layout's threshold of 0.6), by at least five accounts within two hours (a pace of
/// a new account every half hour or faster: an organised push, where people passing a text
/// on take a day), of a text long enough to carry a message.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CampaignConfig {
    /// Distinct accounts a cluster needs to be a campaign.
    pub min_accounts: usize,
    /// Seconds within which those accounts must post: `min_accounts` accounts copying a text
    /// further apart than this are a text spreading, not a campaign.
    pub burst_secs: i64,
    /// Estimated Jaccard similarity of 3-gram shingles at which two posts are copies.
    pub similarity: f32,
    /// Posts further apart than this (seconds) are never linked.
    pub window_secs: i64,
    /// Texts shorter than this many characters once normalized (and stripped of repost
    /// boilerplate) never join a cluster.
    pub min_chars: usize,
}

impl Default for CampaignConfig {
    fn default() -> Self {
        CampaignConfig {
            min_accounts: 5,
            burst_secs: 2 * 3600,
            similarity: 0.5,
            window_secs: DEFAULT_WINDOW_SECS,
            min_chars: 10,
        }
    }
}

/// One post as the tracker sees it.
#[derive(Debug, Clone, Copy)]
pub struct PostRef<'a> {
    pub event_id: &'a str,
    pub post_id: &'a str,
    pub account_id: &'a str,
    /// Post time, unix seconds.
    pub time: i64,
    pub text: &'a str,
}

/// A post that has just become part of a campaign.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub event_id: String,
    pub post_id: String,
    pub account_id: String,
    pub time: i64,
    /// Estimated similarity to its nearest copy.
    pub similarity: f32,
}

/// A campaign as it stands.
#[derive(Debug, Clone, PartialEq)]
pub struct Campaign {
    pub id: String,
    /// Posts and distinct accounts, counting posts that have left the window.
    pub posts: usize,
    pub accounts: usize,
    /// First and latest post time, unix seconds.
    pub first_seen: i64,
    pub last_seen: i64,
    /// Seconds within which the accounts that made it a campaign posted.
    pub burst_secs: i64,
    /// Accounts with no earlier post in the window when they first posted a copy.
    pub new_accounts: usize,
    /// Accounts whose earlier posts in the window (if any) were all copies: none of their
    /// own (the new accounts among them).
    pub copying_accounts: usize,
}

impl Campaign {
    /// Minutes from the first to the latest post.
    pub fn span_minutes(&self) -> f64 {
        (self.last_seen - self.first_seen) as f64 / 60.0
    }

    /// Posts per hour over the span (a span under a minute counts as one minute).
    pub fn posts_per_hour(&self) -> f64 {
        self.posts as f64 * 60.0 / self.span_minutes().max(1.0)
    }

    /// Minutes within which the accounts that made it a campaign posted.
    pub fn burst_minutes(&self) -> f64 {
        self.burst_secs as f64 / 60.0
    }

    /// Share of the accounts that were new in the window.
    pub fn new_account_share(&self) -> f64 {
        self.new_accounts as f64 / self.accounts.max(1) as f64
    }

    /// Share of the accounts that had posted nothing but copies in the window.
    pub fn copying_account_share(&self) -> f64 {
        self.copying_accounts as f64 / self.accounts.max(1) as f64
    }

    /// Posts per account.
    pub fn posts_per_account(&self) -> f64 {
        self.posts as f64 / self.accounts.max(1) as f64
    }
}

/// What one post changed.
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    /// The campaign the post is in, after the post.
    pub campaign: Campaign,
    /// Posts that joined the campaign with this post (the post itself among them), in
    /// arrival order: all members of a cluster that has just become a campaign.
    pub joined: Vec<Member>,
    /// Ids of campaigns merged into this one by the post.
    pub absorbed: Vec<String>,
}

struct Slot {
    cluster: u32,
    account: u64,
    /// Whether the post copied an earlier one.
    copy: bool,
    account_id: Box<str>,
    time: i64,
    similarity: f32,
    event_id: Box<str>,
    post_id: Box<str>,
}

struct Cluster {
    /// Ids of member posts; ids below the tracker's base have left the window.
    members: Vec<u32>,
    live: u32,
    posts: u32,
    /// Account keys, and how each account stood when it first posted in the cluster: a
    /// cluster's accounts outlive its posts in the window.
    accounts: U64Map<Standing>,
    new_accounts: u32,
    copying_accounts: u32,
    first: i64,
    last: i64,
    /// Until the cluster is a campaign: each account's latest post time, keeping only those
    /// within `burst_secs` of the latest one (a few entries: see [`keep_burst`]).
    recent: Vec<(i64, u64)>,
    /// Set once the cluster is a campaign, with the arrival number of its creation (older
    /// campaigns win merges).
    campaign: Option<(u64, Box<str>)>,
    /// Seconds within which the accounts that made it a campaign posted.
    burst: i64,
}

/// How an account stood when it first posted in a cluster.
#[derive(Debug, Clone, Copy)]
struct Standing {
    /// No earlier post in the window.
    new: bool,
    /// Its earlier posts in the window, if any, were all copies.
    copying: bool,
}

/// An account's posts in the window (non-trivial ones: what the tracker sees).
#[derive(Debug, Clone, Copy, Default)]
struct Activity {
    posts: u32,
    copies: u32,
}

/// The clustering state. Memory: the index's bytes per post plus the post's ids.
pub struct Tracker {
    config: CampaignConfig,
    sketcher: Sketcher,
    index: WindowIndex,
    sig: Signature,
    /// The last post's normalized text.
    normalized: String,
    /// The last post's text without its links, when it had any.
    unlinked: String,
    candidates: Vec<Candidate>,
    /// Id of `slots[0]`.
    base: u32,
    slots: VecDeque<Slot>,
    clusters: HashMap<u32, Cluster>,
    /// Accounts with posts in the window.
    activity: U64Map<Activity>,
    next_cluster: u32,
    campaigns_made: u64,
}

/// Most candidates a post is linked to (the best ones).
const MAX_LINKS: usize = 256;

/// Ids are kept below the index's limit of 2³¹ by renumbering the window when they get close.
const ID_LIMIT: u32 = 1 << 31;

impl Tracker {
    pub fn new(config: CampaignConfig) -> Result<Self, ParamsError> {
        let params = SketchParams::default();
        Ok(Tracker {
            config,
            sketcher: Sketcher::new(params)?,
            // The cap bounds the work a flood of identical posts costs each new copy; one
            // link into a cluster is all clustering needs.
            index: WindowIndex::with_max_postings(params, config.window_secs, DEFAULT_MAX_POSTINGS)?,
            sig: Signature::default(),
            normalized: String::new(),
            unlinked: String::new(),
            candidates: Vec::new(),
            base: 0,
            slots: VecDeque::new(),
            clusters: HashMap::new(),
            activity: U64Map::default(),
            next_cluster: 0,
            campaigns_made: 0,
        })
    }

    pub fn config(&self) -> &CampaignConfig {
        &self.config
    }

    /// Posts in the window.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Adds a post. Returns the campaign it is in, if it is in one.
    pub fn add(&mut self, post: &PostRef) -> Option<Update> {
        let text = strip_links(post.text, &mut self.unlinked);
        self.sketcher.sketch_into(text, &mut self.sig);
        self.sketcher.last_normalized_into(&mut self.normalized);
        if is_trivial(&self.normalized, self.config.min_chars) {
            return None;
        }
        if self.base as usize + self.slots.len() >= (ID_LIMIT - 1) as usize {
            self.renumber();
        }
        let id = self.base + self.slots.len() as u32;
        // Measure the window from this post, so that the query skips posts too old for it.
        self.index.advance_to(post.time);
        // Posts that have left the window leave their clusters and their accounts' counts
        // before this post is counted against them.
        self.evict();
        // Refused only when the post is older than the window: it cannot join anything.
        if !self.index.query_insert_into(id, post.time, &self.sig, &mut self.candidates).unwrap_or(false) {
            return None;
        }
        let account = account_key(post.account_id);
        let before = self.activity.get(&account).copied().unwrap_or_default();
        let standing = Standing { new: before.posts == 0, copying: before.copies == before.posts };
        let cluster = self.next_cluster;
        self.next_cluster = self.next_cluster.wrapping_add(1);
        let mut accounts = U64Map::default();
        accounts.insert(account, standing);
        self.clusters.insert(
            cluster,
            Cluster {
                members: vec![id],
                live: 1,
                posts: 1,
                accounts,
                new_accounts: u32::from(standing.new),
                copying_accounts: u32::from(standing.copying),
                first: post.time,
                last: post.time,
                recent: vec![(post.time, account)],
                campaign: None,
                burst: 0,
            },
        );
        self.slots.push_back(Slot {
            cluster,
            account,
            copy: false,
            account_id: post.account_id.into(),
            time: post.time,
            similarity: 0.0,
            event_id: post.event_id.into(),
            post_id: post.post_id.into(),
        });

        let mut joined: Vec<u32> = Vec::new();
        let mut absorbed = Vec::new();
        let mut current = cluster;
        let mut copy = false;
        let candidates = std::mem::take(&mut self.candidates);
        let threshold = self.config.similarity;
        // Candidates come best first; a flood of identical copies is one cluster already, so
        // its first few members link the post as well as all of them would.
        for c in candidates.iter().take(MAX_LINKS).filter(|c| c.jaccard >= threshold) {
            let Some(other) = self.slot_mut(c.id) else { continue };
            other.similarity = other.similarity.max(c.jaccard);
            let other = other.cluster;
            copy = true;
            if let Some(s) = self.slot_mut(id) {
                s.similarity = s.similarity.max(c.jaccard);
            }
            if other != current {
                current = self.merge(current, other, &mut joined, &mut absorbed);
            }
        }
        self.candidates = candidates;
        if let Some(s) = self.slot_mut(id) {
            s.copy = copy;
        }
        let activity = self.activity.entry(account).or_default();
        activity.posts += 1;
        activity.copies += u32::from(copy);

        let (min_accounts, burst_secs) = (self.config.min_accounts, self.config.burst_secs);
        let cluster = self.clusters.get_mut(&current)?;
        if cluster.campaign.is_none() {
            // Not a burst (yet): copies spreading, not a campaign.
            cluster.burst = burst(&mut cluster.recent, min_accounts, burst_secs)?;
            cluster.recent = Vec::new();
            self.campaigns_made += 1;
            cluster.campaign = Some((self.campaigns_made, format!("campaign-{}", post.post_id).into()));
            joined = cluster.members.clone();
        }
        joined.retain(|&m| m >= self.base);
        joined.sort_unstable();
        let update = Update {
            campaign: self.campaign_of(current)?,
            joined: joined.iter().filter_map(|&m| self.member(m)).collect(),
            absorbed,
        };
        Some(update)
    }

    /// Merges clusters `a` and `b`; returns the survivor. Members of a non-campaign side
    /// merged with a campaign are added to `joined`; a newer campaign merged into an older
    /// one is added to `absorbed`.
    fn merge(&mut self, a: u32, b: u32, joined: &mut Vec<u32>, absorbed: &mut Vec<String>) -> u32 {
        let (Some(ca), Some(cb)) = (self.clusters.get(&a), self.clusters.get(&b)) else { return a };
        let (big, small) = if ca.members.len() >= cb.members.len() { (a, b) } else { (b, a) };
        let Some(mut s) = self.clusters.remove(&small) else { return big };
        let base = self.base;
        for &m in &s.members {
            if m >= base
                && let Some(slot) = self.slots.get_mut((m - base) as usize)
            {
                slot.cluster = big;
            }
        }
        let (min_accounts, burst_secs) = (self.config.min_accounts, self.config.burst_secs);
        let Some(g) = self.clusters.get_mut(&big) else { return big };
        match (&g.campaign, &s.campaign) {
            (Some(_), None) => joined.extend(s.members.iter().copied().filter(|&m| m >= base)),
            (None, Some(_)) => joined.extend(g.members.iter().copied().filter(|&m| m >= base)),
            (Some(gc), Some(sc)) => {
                // The older campaign keeps its id.
                if sc.0 < gc.0 {
                    std::mem::swap(&mut g.campaign, &mut s.campaign);
                    g.burst = s.burst;
                }
                if let Some((_, id)) = s.campaign.take() {
                    absorbed.push(id.into());
                }
            }
            (None, None) => {}
        }
        if g.campaign.is_none() && s.campaign.is_some() {
            g.campaign = s.campaign.take();
            g.burst = s.burst;
        }
        g.members.extend(s.members.iter().copied().filter(|&m| m >= base));
        if g.members.len() > 2 * g.live as usize + 16 {
            g.members.retain(|&m| m >= base);
        }
        g.live += s.live;
        g.posts += s.posts;
        for (account, standing) in s.accounts {
            if let Entry::Vacant(e) = g.accounts.entry(account) {
                e.insert(standing);
                g.new_accounts += u32::from(standing.new);
                g.copying_accounts += u32::from(standing.copying);
            }
        }
        if g.campaign.is_some() {
            g.recent = Vec::new();
        } else {
            merge_recent(&mut g.recent, &s.recent);
            keep_burst(&mut g.recent, min_accounts, burst_secs);
        }
        g.first = g.first.min(s.first);
        g.last = g.last.max(s.last);
        big
    }

    fn slot_mut(&mut self, id: u32) -> Option<&mut Slot> {
        let i = id.checked_sub(self.base)? as usize;
        self.slots.get_mut(i)
    }

    fn member(&self, id: u32) -> Option<Member> {
        let s = self.slots.get(id.checked_sub(self.base)? as usize)?;
        Some(Member {
            event_id: s.event_id.to_string(),
            post_id: s.post_id.to_string(),
            account_id: s.account_id.to_string(),
            time: s.time,
            similarity: s.similarity,
        })
    }

    fn campaign_of(&self, cluster: u32) -> Option<Campaign> {
        let c = self.clusters.get(&cluster)?;
        let (_, id) = c.campaign.as_ref()?;
        Some(Campaign {
            id: id.to_string(),
            posts: c.posts as usize,
            accounts: c.accounts.len(),
            first_seen: c.first,
            last_seen: c.last,
            burst_secs: c.burst,
            new_accounts: c.new_accounts as usize,
            copying_accounts: c.copying_accounts as usize,
        })
    }

    /// Drops posts that have left the window, and clusters left with no post.
    fn evict(&mut self) {
        let Some(now) = self.index.now() else { return };
        let cutoff = now - self.config.window_secs;
        while self.slots.front().is_some_and(|s| s.time < cutoff) {
            let Some(slot) = self.slots.pop_front() else { break };
            self.base += 1;
            if let Entry::Occupied(mut e) = self.activity.entry(slot.account) {
                let a = e.get_mut();
                a.posts -= 1;
                a.copies -= u32::from(slot.copy);
                if a.posts == 0 {
                    e.remove();
                }
            }
            if let Some(c) = self.clusters.get_mut(&slot.cluster) {
                c.live -= 1;
                if c.live == 0 {
                    self.clusters.remove(&slot.cluster);
                }
            }
        }
    }

    /// Starts the window's ids again from 0: a rebuilt index with the same posts. Needed
    /// once every 2³¹ posts.
    fn renumber(&mut self) {
        let params = *self.index.params();
        let Ok(mut index) = WindowIndex::with_max_postings(params, self.config.window_secs, DEFAULT_MAX_POSTINGS)
        else {
            return;
        };
        // Signatures are not kept, so the window cannot be re-indexed: clustering starts
        // afresh, and a campaign running across the renumbering continues under a new id.
        if let Some(now) = self.index.now() {
            index.advance_to(now);
        }
        self.index = index;
        self.clusters.clear();
        self.slots.clear();
        self.activity.clear();
        self.base = 0;
    }
}

/// An account id as a cluster counts it: a 64-bit hash, so that memory holds no table of
/// every account ever seen (two accounts of one cluster collide with odds of about 2⁻⁶⁴).
fn account_key(account_id: &str) -> u64 {
    let mut h = DefaultHasher::new();
    account_id.hash(&mut h);
    h.finish()
}

/// Adds `other`'s latest post times per account to `recent`, keeping each account's latest.
fn merge_recent(recent: &mut Vec<(i64, u64)>, other: &[(i64, u64)]) {
    for &(time, account) in other {
        match recent.iter_mut().find(|(_, a)| *a == account) {
            Some(entry) => entry.0 = entry.0.max(time),
            None => recent.push((time, account)),
        }
    }
}

/// Drops from `recent` the accounts whose latest post is more than `burst_secs` before the
/// latest one, and all but the `min_accounts` latest: enough to tell whether they are a burst.
fn keep_burst(recent: &mut Vec<(i64, u64)>, min_accounts: usize, burst_secs: i64) {
    let Some(latest) = recent.iter().map(|r| r.0).max() else { return };
    recent.retain(|r| r.0 >= latest - burst_secs);
    let keep = min_accounts.max(1);
    if recent.len() > keep {
        recent.sort_unstable_by_key(|r| std::cmp::Reverse(r.0));
        recent.truncate(keep);
    }
}

/// When `recent` holds `min_accounts` accounts within `burst_secs`: the seconds the latest
/// `min_accounts` of them span.
fn burst(recent: &mut Vec<(i64, u64)>, min_accounts: usize, burst_secs: i64) -> Option<i64> {
    keep_burst(recent, min_accounts, burst_secs);
    if recent.len() < min_accounts.max(1) {
        return None;
    }
    let (first, last) = recent.iter().fold((i64::MAX, i64::MIN), |(f, l), r| (f.min(r.0), l.max(r.0)));
    Some(last - first)
}
