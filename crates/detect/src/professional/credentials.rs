//! The fields each account holds a verified credential in: one byte per account.

use std::collections::HashMap;

use super::field::{Field, FieldSet};

#[derive(Debug, Default)]
pub struct Credentials {
    by_account: HashMap<String, FieldSet>,
}

impl Credentials {
    pub fn add(&mut self, account_id: &str, field: Field) {
        self.by_account.entry(account_id.to_string()).or_default().insert(field);
    }

    /// The fields `account_id` is verified in (none for an unknown account).
    pub fn of(&self, account_id: &str) -> FieldSet {
        self.by_account.get(account_id).copied().unwrap_or_default()
    }

    pub fn accounts(&self) -> usize {
        self.by_account.len()
    }
}
