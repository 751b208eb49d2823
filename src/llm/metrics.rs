//! Per-arm metrics, so the A/B test can be read from `/metrics` (names in
//! [`crate::telemetry::names`]): call counts, latency, errors, fallbacks, tokens, and the leads
//! and bookings per arm whose ratio is the booking share.

use std::time::Duration;

use super::config::ArmConfig;
use crate::telemetry::names;

/// Suggested buckets (seconds) for [`names::LLM_LATENCY_SECONDS`]; without them the Prometheus
/// exporter renders the histogram as a summary. Register with
/// `PrometheusBuilder::set_buckets_for_metric(Matcher::Full(..), LLM_LATENCY_BUCKETS)`.
pub const LLM_LATENCY_BUCKETS: &[f64] = &[0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 12.0, 20.0, 30.0];

/// `reply`, `extract` or `transcribe`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    /// A reply.
    Reply,
    /// An extraction.
    Extract,
    /// A voice note's transcription (`/audio/transcriptions`).
    Transcribe,
}

impl CallKind {
    /// Metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            CallKind::Reply => "reply",
            CallKind::Extract => "extract",
            CallKind::Transcribe => "transcribe",
        }
    }
}

/// One finished call of `arm`: count, latency, and tokens or the error kind; with prices
/// configured, the tokens' cost in `ari_llm_cost_micro_usd_total` (millionths of a US dollar).
pub fn record_call(
    arm: &ArmConfig,
    call: CallKind,
    latency: Duration,
    tokens: (Option<u32>, Option<u32>),
    error: Option<&'static str>,
) {
    let cost = arm.price.micro_usd(
        u64::from(tokens.0.unwrap_or(0)),
        u64::from(tokens.1.unwrap_or(0)),
    );
    if cost > 0 {
        metrics::counter!(names::LLM_COST_MICRO_USD, "arm" => arm.name.clone(), "call" => call.as_str())
            .increment(cost);
    }
    let arm = arm.name.as_str();
    let labels = [
        ("arm", arm.to_string()),
        ("call", call.as_str().to_string()),
    ];
    metrics::counter!(names::LLM_CALLS, &labels).increment(1);
    metrics::histogram!(names::LLM_LATENCY_SECONDS, &labels).record(latency.as_secs_f64());
    if let Some(kind) = error {
        metrics::counter!(names::LLM_ERRORS, "arm" => arm.to_string(), "call" => call.as_str(), "kind" => kind).increment(1);
    }
    if let Some(p) = tokens.0 {
        metrics::counter!(names::LLM_TOKENS, "arm" => arm.to_string(), "call" => call.as_str(), "kind" => "prompt").increment(u64::from(p));
    }
    if let Some(c) = tokens.1 {
        metrics::counter!(names::LLM_TOKENS, "arm" => arm.to_string(), "call" => call.as_str(), "kind" => "completion").increment(u64::from(c));
    }
}

/// A call was not made (`reason`: `turn_budget`...): no request reached the server.
pub fn record_skip(arm: &str, call: CallKind, reason: &'static str) {
    metrics::counter!(names::LLM_SKIPPED, "arm" => arm.to_string(), "call" => call.as_str(), "reason" => reason)
        .increment(1);
}

/// A reply fell back to the template.
pub fn record_fallback(arm: &str, reason: &'static str) {
    metrics::counter!(names::LLM_FALLBACKS, "arm" => arm.to_string(), "reason" => reason)
        .increment(1);
}

/// A new lead started on `arm`.
pub fn record_lead(arm: &str) {
    metrics::counter!(names::LLM_LEADS, "arm" => arm.to_string()).increment(1);
}

/// A lead on `arm` booked a consultation.
pub fn record_booking(arm: &str) {
    metrics::counter!(names::LLM_BOOKINGS, "arm" => arm.to_string()).increment(1);
}

/// An arm's circuit breaker state (`ari_llm_breaker_state`: 0 closed, 1 open, 2 half-open).
pub fn record_breaker(arm: &str, state: super::breaker::BreakerState) {
    metrics::gauge!(names::LLM_BREAKER_STATE, "arm" => arm.to_string()).set(state.gauge());
}
