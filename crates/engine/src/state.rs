//! What the engine keeps in memory between events, rebuilt from the store at start: the
//! current accounts and the enforcement that has not lapsed yet. A partitioned engine (a
//! worker's) starts empty and loads each account's as its first event comes.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use steward_model::{Account, CreditEntry, Restriction, Reversal, Standing};
use steward_policy::Policy;
use steward_store::{AccountStates, EntityRow, Store, StoreError};

#[derive(Default)]
pub(crate) struct State {
    pub accounts: HashMap<String, Account>,
    pub enforcement: HashMap<String, Enforcement>,
    /// The accounts loaded, when not all are ([`State::partial`]).
    loaded: Option<HashSet<String>>,
}

/// An account's restrictions and credit entries that may still matter.
#[derive(Default)]
pub(crate) struct Enforcement {
    pub restrictions: Vec<Restriction>,
    pub credits: Vec<CreditEntry>,
}

/// The account a stored row holds.
pub(crate) fn account_of(row: &EntityRow) -> Result<Account, StoreError> {
    serde_json::from_str(&row.body).map_err(|e| StoreError::Corrupt(format!("account {}: {e}", row.id)))
}

impl State {
    pub fn load(store: &dyn Store, now: DateTime<Utc>) -> Result<State, StoreError> {
        let (restrictions, credits) = store.enforcement_in_force(now)?;
        let all = AccountStates {
            accounts: store.entities("account")?,
            restrictions,
            credits,
            reversals: store.reversals(None)?,
        };
        let mut state = State::default();
        state.add(all)?;
        Ok(state)
    }

    /// Takes in accounts as stored, with their enforcement and reversals.
    fn add(&mut self, states: AccountStates) -> Result<(), StoreError> {
        for row in &states.accounts {
            let account = account_of(row)?;
            self.accounts.insert(account.id.clone(), account);
        }
        for r in states.restrictions {
            self.enforcement.entry(r.account_id.clone()).or_default().restrictions.push(r);
        }
        for c in states.credits {
            self.enforcement.entry(c.account_id.clone()).or_default().credits.push(c);
        }
        for r in &states.reversals {
            self.reverse(r);
        }
        Ok(())
    }

    /// A partitioned engine's: no account yet, each loaded by [`State::load_accounts`] before
    /// its events. Any other's: every account's, loaded now.
    pub fn for_engine(
        store: &dyn Store,
        options: &crate::EngineOptions,
        now: DateTime<Utc>,
    ) -> Result<State, StoreError> {
        if options.partitioned {
            return Ok(State { loaded: Some(HashSet::new()), ..State::default() });
        }
        State::load(store, now)
    }

    /// Loads the accounts among `ids` not loaded yet, with their enforcement in force at `now`
    /// and the reversals of their decisions. Nothing to do when every account is loaded.
    pub fn load_accounts<'a>(
        &mut self,
        store: &dyn Store,
        ids: impl IntoIterator<Item = &'a str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let Some(loaded) = &self.loaded else { return Ok(()) };
        let mut new: Vec<&str> = ids.into_iter().filter(|id| !loaded.contains(*id)).collect();
        if new.is_empty() {
            return Ok(());
        }
        new.sort_unstable();
        new.dedup();
        self.add(store.account_states(&new, now)?)?;
        if let Some(loaded) = &mut self.loaded {
            loaded.extend(new.into_iter().map(str::to_string));
        }
        Ok(())
    }

    /// Lets go of what was loaded about `ids` (changed elsewhere): they are loaded again with
    /// their next event. Only a partial state can; a whole one keeps them.
    pub fn forget<'a>(&mut self, ids: impl IntoIterator<Item = &'a str>) {
        let Some(loaded) = &mut self.loaded else { return };
        for id in ids {
            if loaded.remove(id) {
                self.accounts.remove(id);
                self.enforcement.remove(id);
            }
        }
    }

    /// Ends the enforcement of a decision a person overturned, from the reversal on.
    pub fn reverse(&mut self, reversal: &Reversal) {
        let Some(account_id) = &reversal.account_id else { return };
        if let Some(e) = self.enforcement.get_mut(account_id) {
            Reversal::apply(std::slice::from_ref(reversal), &mut e.restrictions, &mut e.credits);
        }
    }

    pub fn standing(&self, account_id: &str, policy: &Policy, at: DateTime<Utc>) -> Standing {
        let initial = policy.credit.initial;
        let standing = match self.enforcement.get(account_id) {
            Some(e) => Standing::compute(account_id, &e.restrictions, &e.credits, initial, at),
            None => Standing::compute(account_id, &[], &[], initial, at),
        };
        standing.with_disclosure(self.accounts.get(account_id), policy.disclosure.followers)
    }

    /// Adds new enforcement and drops what has lapsed for the accounts it touches, so
    /// memory holds only what can still matter.
    pub fn enforce(&mut self, restrictions: &[Restriction], credits: &[CreditEntry], now: DateTime<Utc>) {
        let accounts = restrictions.iter().filter(|r| r.post_id.is_none()).map(|r| &r.account_id);
        for account_id in accounts.chain(credits.iter().map(|c| &c.account_id)) {
            let e = self.enforcement.entry(account_id.clone()).or_default();
            e.restrictions.retain(|r| r.end.is_none_or(|end| end > now));
            e.credits.retain(|c| c.restores_at.is_none_or(|r| r > now));
        }
        for r in restrictions.iter().filter(|r| r.post_id.is_none()) {
            self.enforcement.entry(r.account_id.clone()).or_default().restrictions.push(r.clone());
        }
        for c in credits {
            self.enforcement.entry(c.account_id.clone()).or_default().credits.push(c.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use steward_store::{Batch, SqliteStore};

    use super::*;

    fn account_row(id: &str, followers: u64) -> EntityRow {
        let at = DateTime::<Utc>::from_timestamp(1_764_000_000, 0).unwrap();
        let body = serde_json::json!({"id": id, "handle": id, "display_name": id, "followers": followers});
        EntityRow {
            kind: "account",
            id: id.into(),
            account_id: Some(id.into()),
            body: body.to_string(),
            deleted: false,
            updated_at: at,
        }
    }

    #[test]
    fn a_partial_state_loads_accounts_once_and_again_after_forgetting_them() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        store.commit(&Batch { entities: vec![account_row("a1", 10)], ..Batch::default() }).unwrap();
        let now = Utc::now();
        let mut state = State { loaded: Some(HashSet::new()), ..State::default() };
        state.load_accounts(&store, ["a1", "a2", "a1"], now).unwrap();
        assert_eq!(state.accounts["a1"].followers, 10);
        assert!(!state.accounts.contains_key("a2"));
        // Changed elsewhere: not seen until forgotten, then loaded as stored.
        store.commit(&Batch { entities: vec![account_row("a1", 99)], ..Batch::default() }).unwrap();
        state.load_accounts(&store, ["a1"], now).unwrap();
        assert_eq!(state.accounts["a1"].followers, 10);
        state.forget(["a1"]);
        assert!(!state.accounts.contains_key("a1"));
        state.load_accounts(&store, ["a1"], now).unwrap();
        assert_eq!(state.accounts["a1"].followers, 99);
    }

    #[test]
    fn a_whole_state_keeps_what_it_holds() {
        let mut state = State::default();
        state.accounts.insert("a1".into(), account_of(&account_row("a1", 1)).unwrap());
        state.forget(["a1"]);
        assert!(state.accounts.contains_key("a1"));
    }
}
