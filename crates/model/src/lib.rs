//! Domain types of steward and their validation; no I/O.
//!
//! Events ([`Event`]) arrive as JSON records and are checked by [`parse_event`], which names
//! the field and the reason for every rejection. Detectors turn events into [`Signal`]s, the
//! policy turns signals into [`Decision`]s with [`Restriction`]s and [`CreditEntry`]s, and an
//! account's [`Standing`] is computed from those at read time.
//!
//! ```
//! use steward_model::{parse_event, Limits, Payload};
//! let record = r#"{"id":"e1","type":"account.upserted","at":"2026-11-22T08:00:00Z",
//!   "account":{"id":"a1","handle":"chen","display_name":"陈医生","followers":12}}"#.as_bytes();
//! let event = parse_event(record, &Limits::default(), chrono::Utc::now()).unwrap();
//! assert!(matches!(event.payload, Payload::AccountUpserted(_)));
//! ```

pub mod chars;
pub mod chat_group;
pub mod decision;
pub mod entity;
pub mod event;
pub mod factcheck_import;
pub mod group;
pub mod notice;
pub mod review;
pub mod role;
pub mod signal;
pub mod sor;
pub mod standing;

pub use chat_group::{GroupRole, GroupRules};
pub use decision::*;
pub use entity::*;
pub use event::*;
pub use group::{GroupChange, GroupMember};
pub use notice::{Audience, Delivery, DeliveryState, Notice, NoticeKind, StoredNotice};
pub use review::*;
pub use role::Role;
pub use signal::Signal;
pub use standing::Standing;
