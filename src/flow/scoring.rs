//! Lead score 0..=100 and temperature, exactly the seed's rules (§6) with configured weights.
//!
//! Each seed component is scaled by `configured weight / seed weight` (seed weights 25/35/30/10),
//! so the default config reproduces the seed's numbers. Fixed on purpose: matching is on whole
//! words ("selama" is not "lama", "12 tahun" is not "2 tahun"), "6,5" reads as 6.5, and the
//! clock is an input (a "2028" timeline does not change meaning with the wall clock).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use super::text::{has_any, words};
use crate::config::flow::{FlowConfig, Weights};

/// Seed component maxima (§6.1): basic 25, qualification 35, documents 30, engagement 10.
pub const SEED_WEIGHTS: Weights = Weights {
    basic: 25,
    qualification: 35,
    documents: 30,
    engagement: 10,
};

/// Seed document keys and labels in reason order (§6.3).
const SEED_DOCUMENTS: &[(&str, &str)] = &[
    ("passport", "Paspor"),
    ("cv", "CV"),
    ("english_test", "Tes bahasa Inggris"),
    ("transcript", "Transkrip"),
];

/// Lead temperature (§6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Temperature {
    /// Score ≥ hot threshold.
    Hot,
    /// Score ≥ warm threshold.
    Warm,
    /// Below the warm threshold.
    Cold,
}

impl Temperature {
    /// Stable lowercase name (`hot`, `warm`, `cold`).
    pub fn as_str(self) -> &'static str {
        match self {
            Temperature::Hot => "hot",
            Temperature::Warm => "warm",
            Temperature::Cold => "cold",
        }
    }

    /// CRM lead status (seed `temperatureToLeadStatus`): hot_lead / prospect / cold_lead.
    pub fn lead_status(self) -> &'static str {
        match self {
            Temperature::Hot => "hot_lead",
            Temperature::Warm => "prospect",
            Temperature::Cold => "cold_lead",
        }
    }
}

/// The rules a score is computed with: weights, thresholds, which fields count for
/// completeness, and the document labels used in reasons.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoringRules {
    /// Component maxima (sum 100).
    pub weights: Weights,
    /// Hot threshold (seed 70).
    pub hot_threshold: u32,
    /// Warm threshold (seed 40).
    pub warm_threshold: u32,
    /// Fields counted for completeness (seed: the 6 required fields).
    pub required_fields: Vec<String>,
    /// `(document key, label)` in reason order.
    pub documents: Vec<(String, String)>,
}

impl ScoringRules {
    /// The seed's hard-coded rules (§6.1, §6.3).
    pub fn seed() -> Self {
        Self {
            weights: SEED_WEIGHTS,
            hot_threshold: 70,
            warm_threshold: 40,
            required_fields: [
                "name",
                "email",
                "english_level",
                "budget",
                "timeline",
                "country",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            documents: SEED_DOCUMENTS
                .iter()
                .map(|(k, l)| (k.to_string(), l.to_string()))
                .collect(),
        }
    }

    /// The rules of a flow config.
    pub fn from_config(cfg: &FlowConfig) -> Self {
        Self {
            weights: cfg.scoring.weights,
            hot_threshold: cfg.scoring.hot_threshold,
            warm_threshold: cfg.scoring.warm_threshold,
            required_fields: cfg.qualification.required_fields.clone(),
            documents: SEED_DOCUMENTS
                .iter()
                .map(|(k, l)| {
                    let label = cfg.documents.get(*k).map_or(*l, |d| d.label.as_str());
                    (k.to_string(), label.to_string())
                })
                .collect(),
        }
    }

    /// Temperature of a score under these thresholds.
    pub fn temperature(&self, score: u32) -> Temperature {
        if score >= self.hot_threshold {
            Temperature::Hot
        } else if score >= self.warm_threshold {
            Temperature::Warm
        } else {
            Temperature::Cold
        }
    }
}

/// What a score is computed from: the known field values (unknown fields are absent), the
/// documents the lead answered (`true` = has it), an optional engagement (0..=10, default 5).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScoreInput {
    /// Field key → value, known values only.
    pub fields: BTreeMap<String, String>,
    /// Document key → has it.
    pub documents: BTreeMap<String, bool>,
    /// Engagement 0..=10; `None` = the seed's default 5.
    pub engagement: Option<f64>,
    /// Current year in the lead's time zone (for "2028"-style timelines).
    pub current_year: i32,
}

/// A lead score with its per-component breakdown (unrounded, after weight scaling) and the
/// seed's reason strings (§6.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeadScore {
    /// Total, rounded half up, clamped to 0..=100.
    pub total: u32,
    /// Temperature by the configured thresholds.
    pub temperature: Temperature,
    /// Completeness + email + country.
    pub basic: f64,
    /// English + budget + timeline + program, at least 0.
    pub qualification: f64,
    /// Documents ready.
    pub documents: f64,
    /// Engagement.
    pub engagement: f64,
    /// Reasons in the seed's order and wording.
    pub reasons: Vec<String>,
}

#[allow(clippy::expect_used)]
fn re(p: &str) -> Regex {
    Regex::new(p).expect("static regex")
}
static IELTS_SCORE: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)ielts\s*[:\-]?\s*(?:saya\s+)?(\d+(?:[.,]\d+)?)"));
static BARE_BAND: LazyLock<Regex> = LazyLock::new(|| re(r"\b([6-9](?:[.,][05])?)\b"));
static VALID_EMAIL: LazyLock<Regex> = LazyLock::new(|| re(r"^[^\s@]+@[^\s@]+\.[^\s@]+$"));
static LONG_YEARS: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b(?:[2-9]|dua|tiga|empat|lima|two|three|four|five)\s*(?:tahun|taun|thn|years?|yrs?)\b|\byear\s+after\s+next\b|\blusa\s+tahun\b",
    )
});
static YEAR: LazyLock<Regex> = LazyLock::new(|| re(r"\b(20\d{2})\b"));

fn num(s: &str) -> Option<f64> {
    s.replace(',', ".").parse().ok()
}

/// IELTS 6.5 or better (seed `hasHighIelts`, with "6,5" read as 6.5 and whole-word levels).
pub fn has_high_ielts(english: &str) -> bool {
    let s = english.to_lowercase();
    if let Some(c) = IELTS_SCORE.captures(&s) {
        return num(&c[1]).is_some_and(|v| v >= 6.5);
    }
    if let Some(c) = BARE_BAND.captures(&s) {
        return num(&c[1]).is_some_and(|v| v >= 6.5);
    }
    has_any(&words(&s), &["mahir", "fluent", "advanced", "c1", "c2"])
}

/// A far-away timeline (seed `isLongTimeline`, whole words, injected year).
pub fn is_long_timeline(timeline: &str, current_year: i32) -> bool {
    let s = timeline.to_lowercase();
    if LONG_YEARS.is_match(&s) {
        return true;
    }
    if let Some(y) = YEAR.captures(&s).and_then(|c| c[1].parse::<i32>().ok())
        && y - current_year >= 2
    {
        return true;
    }
    has_any(&words(&s), &["lama", "nanti dulu", "belum tau"])
}

/// JS `Math.round`: half up.
fn round_half_up(x: f64) -> f64 {
    (x + 0.5).floor()
}

/// Scores a lead (seed `calculateLeadScore` + `getScoreReasons`).
pub fn score(input: &ScoreInput, rules: &ScoringRules) -> LeadScore {
    let get = |k: &str| {
        input
            .fields
            .get(k)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    };
    let mut reasons = Vec::new();

    // Basic (seed max 25).
    let required = rules.required_fields.len().max(1) as f64;
    let filled = rules
        .required_fields
        .iter()
        .filter(|k| get(k).is_some())
        .count() as f64;
    let completeness = round_half_up(filled / required * 15.0);
    reasons.push(format!("Form lengkap ({completeness}/15)"));
    let mut basic = completeness;
    if get("email").is_some_and(|e| VALID_EMAIL.is_match(e)) {
        basic += 5.0;
        reasons.push("Email valid".to_string());
    }
    if let Some(c) = get("country") {
        basic += 5.0;
        reasons.push(format!("Negara tujuan: {c}"));
    }

    // Qualification (seed nominal 35, actually up to 38).
    let mut qual = 0.0;
    if let Some(e) = get("english_level") {
        qual += 10.0;
        if has_high_ielts(e) {
            qual += 3.0;
            reasons.push(format!("Skor IELTS 6.5+ ({e})"));
        } else {
            reasons.push(format!("Bahasa Inggris: {e}"));
        }
    }
    if let Some(b) = get("budget") {
        qual += 10.0;
        reasons.push(format!("Budget jelas: {b}"));
    }
    if let Some(t) = get("timeline") {
        qual += 10.0;
        if is_long_timeline(t, input.current_year) {
            qual -= 10.0;
            reasons.push(format!("Timeline jauh ({t}) - penalty"));
        } else {
            reasons.push(format!("Timeline dekat: {t}"));
        }
    }
    if get("program").is_some() {
        qual += 5.0;
    }
    let qual = f64::max(qual, 0.0);

    // Documents (seed 7.5 each).
    let ready: Vec<&str> = rules
        .documents
        .iter()
        .filter(|(k, _)| input.documents.get(k).copied() == Some(true))
        .map(|(_, l)| l.as_str())
        .collect();
    let docs = 7.5 * ready.len() as f64;
    if !ready.is_empty() {
        reasons.push(format!("Dokumen siap: {}", ready.join(", ")));
    }

    let engagement = input.engagement.unwrap_or(5.0).clamp(0.0, 10.0);

    let w = rules.weights;
    let scale = |v: f64, configured: u32, seed: u32| v * f64::from(configured) / f64::from(seed);
    let basic = scale(basic, w.basic, SEED_WEIGHTS.basic);
    let qual = scale(qual, w.qualification, SEED_WEIGHTS.qualification);
    let docs = scale(docs, w.documents, SEED_WEIGHTS.documents);
    let engagement = scale(engagement, w.engagement, SEED_WEIGHTS.engagement);
    let raw = round_half_up(basic + qual + docs + engagement);
    let total = raw.clamp(0.0, 100.0) as u32;
    LeadScore {
        total,
        temperature: rules.temperature(total),
        basic,
        qualification: qual,
        documents: docs,
        engagement,
        reasons,
    }
}
