//! Signals: what detectors say about an event, for the policy to weigh.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One finding of a detector about one event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Signal {
    /// Signal name as policies refer to it, e.g. `unlabelled_ai`.
    pub name: String,
    /// Detector that raised it.
    pub detector: String,
    /// Version of that detector, so a decision can be traced to the code that made it.
    pub version: u32,
    /// Strength in `[0, 1]`.
    pub score: f64,
    /// Facts supporting the signal, shown in the statement of reasons.
    #[schema(value_type = Object)]
    pub evidence: Map<String, Value>,
}

impl Signal {
    pub fn new(name: &str, detector: &str, version: u32, score: f64) -> Self {
        Signal {
            name: name.to_string(),
            detector: detector.to_string(),
            version,
            score: score.clamp(0.0, 1.0),
            evidence: Map::new(),
        }
    }

    /// Adds one piece of evidence.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.evidence.insert(key.to_string(), value.into());
        self
    }
}
