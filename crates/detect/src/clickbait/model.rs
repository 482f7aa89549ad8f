//! The weights file (`models/clickbait.json`): one logistic regression per language.
//!
//! ```json
//! {"format": "steward-clickbait/2",
//!  "languages": {
//!    "zh": {"bias": -1.2, "weights": {"question": 3.1, "bait": 2.4, ...}, "c": 1.0,
//!           "cv_threshold": 0.52},
//!    "en": {"bias": -0.3, "cues": {"question": 1.2, ...}, "hash_bits": 18,
//!           "ngram_value": 1.0, "hashed_scale": 1e-4, "hashed": "<base64>", "cv_threshold": 0.54}}}
//! ```
//! Chinese weights are named after the features of [`super::zh::FEATURES`], English cue
//! weights after [`super::features::EN_CUES`], so a file trained with other features is
//! refused rather than misread. English hashed n-gram weights are quantized to i16
//! (`weight = q × hashed_scale`) and stored little-endian, base64-encoded. Each bias
//! already includes the cut chosen by cross-validation (`cv_threshold`), so a score of 0.5
//! is the operating threshold.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::features::{EN_CUES, Layout};
use super::zh::FEATURES;

pub const FORMAT: &str = "steward-clickbait/2";

/// A weights file as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelFile {
    pub format: String,
    /// How the weights were made: command, data sizes, seed, cross-validation figures.
    #[serde(default)]
    pub provenance: serde_json::Value,
    pub languages: Languages,
}

/// Both languages' weights.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Languages {
    pub zh: ZhFile,
    pub en: LangFile,
}

/// The Chinese weights as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZhFile {
    pub bias: f64,
    pub weights: BTreeMap<String, f64>,
    /// The inverse regularization strength chosen by cross-validation.
    pub c: f64,
    /// The probability cut chosen by cross-validation, already folded into `bias`.
    pub cv_threshold: f64,
}

/// The Chinese model, ready to score: weights in [`FEATURES`] order.
#[derive(Debug, Clone, PartialEq)]
pub struct ZhModel {
    pub bias: f64,
    pub weights: Vec<f64>,
}

impl ZhModel {
    pub fn to_file(&self, c: f64, cv_threshold: f64) -> ZhFile {
        ZhFile {
            bias: round6(self.bias),
            weights: FEATURES.iter().zip(&self.weights).map(|(n, w)| (n.to_string(), round6(*w))).collect(),
            c,
            cv_threshold: round6(cv_threshold),
        }
    }

    pub fn from_file(f: &ZhFile) -> Result<Self, String> {
        let mut weights = Vec::with_capacity(FEATURES.len());
        for name in FEATURES {
            let w = f.weights.get(*name).ok_or_else(|| {
                format!("zh: feature {name} has no weight (the file was trained with other features)")
            })?;
            weights.push(*w);
        }
        if let Some(extra) = f.weights.keys().find(|k| !FEATURES.contains(&k.as_str())) {
            return Err(format!("zh: unknown feature {extra} (the file was trained with other features)"));
        }
        if !f.bias.is_finite() || weights.iter().any(|w| !w.is_finite()) {
            return Err("zh: weights are not finite".into());
        }
        Ok(ZhModel { bias: f.bias, weights })
    }
}

/// The English weights as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LangFile {
    pub bias: f64,
    pub cues: BTreeMap<String, f64>,
    pub hash_bits: u32,
    pub ngram_value: f32,
    pub hashed_scale: f64,
    pub hashed: String,
    /// The probability cut chosen by cross-validation, already folded into `bias`.
    #[serde(default)]
    pub cv_threshold: f64,
}

/// The English model, ready to score.
#[derive(Debug, Clone)]
pub struct LangModel {
    pub layout: Layout,
    pub bias: f64,
    /// Cue weights, then hashed weights, indexed like the feature vector.
    pub weights: Vec<f32>,
}

impl LangModel {
    /// An all-zero model (scores 0.5 everywhere), for tests.
    pub fn zero(layout: Layout) -> Self {
        LangModel { layout, bias: 0.0, weights: vec![0.0; layout.dim()] }
    }

    /// The weights as stored: quantizes the hashed weights.
    pub fn to_file(&self, cv_threshold: f64) -> LangFile {
        let cues = self.layout.cues();
        let hashed = &self.weights[cues..];
        let max = hashed.iter().fold(0f32, |m, w| m.max(w.abs()));
        let scale = if max > 0.0 { f64::from(max) / f64::from(i16::MAX) } else { 1.0 };
        let mut bytes = Vec::with_capacity(hashed.len() * 2);
        for w in hashed {
            let q = (f64::from(*w) / scale).round().clamp(f64::from(i16::MIN), f64::from(i16::MAX)) as i16;
            bytes.extend_from_slice(&q.to_le_bytes());
        }
        LangFile {
            bias: round6(self.bias),
            cues: EN_CUES
                .iter()
                .zip(&self.weights[..cues])
                .map(|(n, w)| (n.to_string(), round6(f64::from(*w))))
                .collect(),
            hash_bits: self.layout.hash_bits,
            ngram_value: self.layout.ngram_value,
            hashed_scale: scale,
            hashed: base64_encode(&bytes),
            cv_threshold: round6(cv_threshold),
        }
    }

    pub fn from_file(f: &LangFile) -> Result<Self, String> {
        if !(1..=24).contains(&f.hash_bits) {
            return Err(format!("en: hash_bits {} is out of range 1..=24", f.hash_bits));
        }
        let layout = Layout { hash_bits: f.hash_bits, ngram_value: f.ngram_value };
        let mut weights = Vec::with_capacity(layout.dim());
        for name in EN_CUES {
            let w = f
                .cues
                .get(*name)
                .ok_or_else(|| format!("en: cue {name} has no weight (the file was trained with another cue list)"))?;
            weights.push(*w as f32);
        }
        if let Some(extra) = f.cues.keys().find(|k| !EN_CUES.contains(&k.as_str())) {
            return Err(format!("en: unknown cue {extra} (the file was trained with another cue list)"));
        }
        let bytes = base64_decode(&f.hashed).map_err(|e| format!("en: hashed: {e}"))?;
        let buckets = 1usize << f.hash_bits;
        if bytes.len() != buckets * 2 {
            return Err(format!("en: hashed holds {} bytes, expected {}", bytes.len(), buckets * 2));
        }
        weights.extend(
            bytes.chunks_exact(2).map(|b| (f64::from(i16::from_le_bytes([b[0], b[1]])) * f.hashed_scale) as f32),
        );
        if !f.bias.is_finite() || !f.ngram_value.is_finite() || weights.iter().any(|w| !w.is_finite()) {
            return Err("en: weights are not finite".into());
        }
        Ok(LangModel { layout, bias: f.bias, weights })
    }
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(B64[((n >> (18 - 6 * k)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

pub fn base64_decode(s: &str) -> Result<Vec<u8>, String> {
    let s = s.trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for (i, c) in s.bytes().enumerate() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return Err(format!("invalid base64 character at offset {i}")),
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips() {
        for n in 0..20usize {
            let bytes: Vec<u8> = (0..n).map(|i| (i * 37 + 11) as u8).collect();
            assert_eq!(base64_decode(&base64_encode(&bytes)).unwrap(), bytes);
        }
        assert_eq!(base64_encode(b"Man"), "TWFu");
        assert_eq!(base64_encode(b"Ma"), "TWE=");
        assert!(base64_decode("TW*u").is_err());
    }

    #[test]
    fn weights_round_trip_and_refuse_other_cue_lists() {
        let layout = Layout { hash_bits: 4, ngram_value: 0.5 };
        let mut m = LangModel::zero(layout);
        m.bias = -0.25;
        for (i, w) in m.weights.iter_mut().enumerate() {
            *w = (i as f32 - 20.0) / 10.0;
        }
        let f = m.to_file(0.4);
        let back = LangModel::from_file(&f).unwrap();
        assert_eq!(back.bias, -0.25);
        for (a, b) in m.weights.iter().zip(&back.weights) {
            assert!((a - b).abs() < 1e-3, "{a} vs {b}");
        }
        let mut bad = f.clone();
        bad.cues.remove("question");
        assert!(LangModel::from_file(&bad).unwrap_err().contains("question"));
        let mut bad = f.clone();
        bad.hashed.pop();
        bad.hashed.pop();
        assert!(LangModel::from_file(&bad).is_err());
        let mut bad = f;
        bad.hash_bits = 40;
        assert!(LangModel::from_file(&bad).is_err());
    }

    #[test]
    fn chinese_weights_round_trip_and_refuse_other_features() {
        let m = ZhModel { bias: -0.5, weights: (0..FEATURES.len()).map(|i| i as f64 / 4.0).collect() };
        let f = m.to_file(1.0, 0.55);
        assert_eq!(ZhModel::from_file(&f).unwrap(), m);
        let mut bad = f.clone();
        bad.weights.remove("question");
        assert!(ZhModel::from_file(&bad).unwrap_err().contains("question"));
        let mut bad = f.clone();
        bad.weights.insert("hype".into(), 1.0);
        assert!(ZhModel::from_file(&bad).unwrap_err().contains("hype"));
        let mut bad = f;
        bad.bias = f64::NAN;
        assert!(ZhModel::from_file(&bad).is_err());
    }
}
