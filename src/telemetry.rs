//! Logs and metrics, set up once at start.
//!
//! Logs go to stderr through `tracing` (text or JSON, filtered by `RUST_LOG`, default `info`).
//! Phone numbers are masked with [`mask_phone`]; secrets and API keys are never logged (their
//! settings types redact themselves). Metrics use the `metrics` facade with a Prometheus
//! recorder rendered by `GET /metrics`.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::prelude::*;

use crate::config::settings::LogFormat;

/// Metric names, in one place so the README and dashboards can rely on them.
pub mod names {
    /// Counter: webhook deliveries by `event` and `outcome` (accepted, duplicate,
    /// bad_signature, bad_content_type, malformed, too_large, too_many_items,
    /// store_unavailable). `event` is one of [`crate::ingress::KNOWN_EVENTS`] or `other` once
    /// the signature holds, and `unverified` before (nothing the request says becomes a label
    /// before the signature check, so the series cannot grow).
    pub const WEBHOOKS: &str = "ari_webhooks_total";
    /// Counter: deliveries refused for a missing or wrong signature.
    pub const SIGNATURE_FAILURES: &str = "ari_webhook_signature_failures_total";
    /// Counter: redeliveries (same idempotency key) and items already in the inbox, by `level`
    /// (`delivery` or `item`).
    pub const DUPLICATES: &str = "ari_webhook_duplicates_total";
    /// Counter: duplicate message copies that completed the stored message with content it
    /// lacked (a transcript, caption, media URL; see [`crate::inbox::enrich`]).
    pub const ENRICHED: &str = "ari_webhook_enriched_total";
    /// Counter: deliveries accepted after lone UTF-16 surrogate escapes were read as U+FFFD
    /// (the original body is kept with the delivery).
    pub const REPAIRED: &str = "ari_webhook_repaired_total";
    /// Counter: deliveries whose `X-Webhook-Batch` header disagrees with the body, by `header`
    /// (`batch`: the header said batch, the body is one event or Meta; `single`: no header, a
    /// batch body). The body is read as it shows.
    pub const BATCH_HEADER_MISMATCHES: &str = "ari_webhook_batch_header_mismatches_total";
    /// Counter: leases a dead previous run left, taken back at start (SQLite, under the
    /// database's lock file), by `kind` (`turn`: a conversation's turn lease, `send`: an
    /// outbox row's send lease). Issue 17 item 4.
    pub const LEASES_TAKEN_BACK: &str = "ari_leases_taken_back_total";
    /// Gauge: open connections, by `listener` (`main`, `metrics`).
    pub const HTTP_CONNECTIONS: &str = "ari_http_connections";
    /// Gauge: request bodies being read right now (at most `--max-body-reads`).
    pub const HTTP_BODY_READS: &str = "ari_http_body_reads";
    /// Gauge: the most request bodies read at once since start.
    pub const HTTP_BODY_READS_PEAK: &str = "ari_http_body_reads_peak";
    /// Counter: requests and connections the listener refused, by `reason` (`header_timeout`,
    /// `request_timeout`, `too_large`, `busy`: every body-read slot taken, `unreadable_body`).
    pub const HTTP_REFUSED: &str = "ari_http_refused_total";
    /// Counter: failed `accept` calls (e.g. out of file descriptors), each followed by a
    /// back-off.
    pub const HTTP_ACCEPT_ERRORS: &str = "ari_http_accept_errors_total";
    /// Counter: signed deliveries whose `X-Webhook-Event` the body contradicts (a message
    /// under a workflow header, say): the body is read as it shows.
    pub const EVENT_HEADER_MISMATCHES: &str = "ari_webhook_event_header_mismatches_total";
    /// Counter: inbox items stored, by `kind` and `state`.
    pub const INBOX_ITEMS: &str = "ari_inbox_items_total";
    /// Counter: items for a business number no workspace serves.
    pub const UNROUTABLE: &str = "ari_inbox_unroutable_total";
    /// Gauge: inbox rows waiting for the worker (read from the store at scrape time).
    pub const INBOX_DEPTH: &str = "ari_inbox_depth";
    /// Counter: outbox delivery attempts by `outcome` (sent, dry_run, retry, failed).
    pub const OUTBOX_SENDS: &str = "ari_outbox_sends_total";
    /// Counter: interactive messages (buttons, lists; issue 19) by `outcome`: `sent`, or
    /// `text_fallback` (WhatsApp refused the interactive form; its text went instead).
    pub const INTERACTIVE_SENDS: &str = "ari_interactive_sends_total";
    /// Counter: outbox rows failed for good, by `channel` (whatsapp, whatsapp_template,
    /// webhook) and `reason` (rejected, window_closed, max_attempts, max_age, reported_failed,
    /// no_crm): the dead letters `GET /admin/outbox?state=failed` lists.
    pub const OUTBOX_FAILED: &str = "ari_outbox_failed_total";
    /// Counter: turns by `outcome` (committed, stale, idle, busy, superseded,
    /// awaiting_transcript, error).
    pub const TURNS: &str = "ari_turns_total";
    /// Histogram: turn latency in seconds, from claim to commit.
    pub const TURN_SECONDS: &str = "ari_turn_seconds";
    /// Histogram: webhook handler latency in seconds, from first byte to response.
    pub const HANDLER_SECONDS: &str = "ari_webhook_handler_seconds";
    /// Counter: LLM calls by `arm` and `call` (`reply`, `extract`), whatever the outcome.
    pub const LLM_CALLS: &str = "ari_llm_calls_total";
    /// Histogram: LLM call latency in seconds (including a retry) by `arm` and `call`.
    pub const LLM_LATENCY_SECONDS: &str = "ari_llm_latency_seconds";
    /// Counter: failed LLM calls by `arm`, `call` and `kind` (timeout, rate_limited, status,
    /// transport, turn_budget, empty, rejected_booking_claim, rejected_prompt_leak,
    /// rejected_link, rejected_number, rejected_unstated_time, rejected_payment_request,
    /// invalid, prompt, request).
    pub const LLM_ERRORS: &str = "ari_llm_errors_total";
    /// Counter: LLM calls not made, by `arm`, `call` and `reason` (`turn_budget`: nothing
    /// left of the turn budget; `breaker_open`: the arm's circuit breaker is open;
    /// `short_answer`, `rules_read`: nothing for the model to read or word, see
    /// [`crate::llm::need`]; `low_budget`: too little budget left after an extraction;
    /// `contact_rate`: the contact sent more than `max_messages_per_minute`): no request
    /// reached the server.
    pub const LLM_SKIPPED: &str = "ari_llm_skipped_total";
    /// Gauge: each arm's circuit breaker by `arm`: 0 closed, 1 open, 2 half-open (trial).
    pub const LLM_BREAKER_STATE: &str = "ari_llm_breaker_state";
    /// Counter: replies that fell back to the template, by `arm` and `reason` (an error kind).
    pub const LLM_FALLBACKS: &str = "ari_llm_fallbacks_total";
    /// Counter: tokens by `arm`, `call` and `kind` (`prompt`, `completion`).
    pub const LLM_TOKENS: &str = "ari_llm_tokens_total";
    /// Counter: what the tokens cost, by `arm` and `call`, in millionths of a US dollar, at the
    /// arm's `price_per_mtok_in` / `price_per_mtok_out` (`llm.toml`); absent without prices.
    pub const LLM_COST_MICRO_USD: &str = "ari_llm_cost_micro_usd_total";
    /// Counter: voice notes by `outcome` (`transcribed`, `no_media`, `too_large`,
    /// `fetch_failed`, `failed`): what the transcription step did with a note without
    /// transcript (issue 15).
    pub const VOICE_NOTES: &str = "ari_voice_notes_total";
    /// Counter: due follow-ups by `outcome` (`nudge`, `template`: sent, proactive messages;
    /// `void`: no longer applied, nothing sent), counted once their turn committed (issue 18).
    pub const FOLLOWUPS: &str = "ari_followups_total";
    /// Counter: follow-ups that fell due and were queued as control rows (issue 18).
    pub const FOLLOWUPS_QUEUED: &str = "ari_followups_queued_total";
    /// Counter: conversations set aside after their turn failed the same way
    /// `--max-turn-attempts` times, and handed off as `stuck` (issue 16 item 9).
    pub const TURNS_SET_ASIDE: &str = "ari_turns_set_aside_total";
    /// Counter: new leads (conversations started) by `arm`: the A/B denominator.
    pub const LLM_LEADS: &str = "ari_llm_leads_total";
    /// Counter: leads whose consultation was booked, by `arm`. Booking share per arm =
    /// `ari_llm_bookings_total / ari_llm_leads_total`.
    pub const LLM_BOOKINGS: &str = "ari_llm_bookings_total";
}

/// Installs the global `tracing` subscriber. Call once, at start. `default_filter` applies
/// when `RUST_LOG` is unset (`info` for the service, `warn` where the output is a transcript).
pub fn init_logging(format: LogFormat, default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let registry = tracing_subscriber::registry().with(filter);
    let result = match format {
        LogFormat::Text => registry
            .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
            .try_init(),
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    };
    // A second call (tests) keeps the first subscriber.
    drop(result);
}

/// The process-wide Prometheus recorder, installed on first use. Returns the handle that renders
/// the text format. Safe to call many times (tests build many apps in one process).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full(names::HANDLER_SECONDS.to_string()),
                    &[
                        0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                    ],
                )
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full(names::TURN_SECONDS.to_string()),
                        &[
                            0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                        ],
                    )
                })
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full(names::LLM_LATENCY_SECONDS.to_string()),
                        crate::llm::metrics::LLM_LATENCY_BUCKETS,
                    )
                })
                .map(|b| b.build_recorder());
            match recorder {
                Ok(recorder) => {
                    let handle = recorder.handle();
                    if metrics::set_global_recorder(recorder).is_err() {
                        tracing::warn!("a metrics recorder was already installed");
                    }
                    let upkeep = handle.clone();
                    // Histograms drain on upkeep; a plain thread keeps this free of any runtime.
                    std::thread::spawn(move || {
                        loop {
                            std::thread::sleep(Duration::from_secs(5));
                            upkeep.run_upkeep();
                        }
                    });
                    handle
                }
                // The bucket list is a constant and valid; this branch only guards the API.
                Err(e) => unreachable!("invalid histogram buckets: {e}"),
            }
        })
        .clone()
}

/// Masks a phone number for logs, keeping the last 4 digits: `+6281234567890` → `+62*******7890`
/// keeps the `+` and the first two digits (the country code region) as well, which helps
/// debugging without identifying the lead.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    let n = chars.len();
    if n <= 4 {
        return "*".repeat(n);
    }
    let keep_head = if chars[0] == '+' { 3.min(n - 4) } else { 0 };
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| if i < keep_head || i >= n - 4 { *c } else { '*' })
        .collect()
}

/// Masks the personal data in a message text for logs: e-mail addresses become `<email>`, and
/// runs of 7 or more digits (phone and account numbers, with `+`, spaces, dots, dashes or
/// parentheses between them) are masked like [`mask_phone`]. The rest of the text stays
/// readable (dry-run logs show what would have been sent).
pub fn mask_text(text: &str) -> String {
    static EMAIL: OnceLock<regex::Regex> = OnceLock::new();
    static NUMBER: OnceLock<regex::Regex> = OnceLock::new();
    let email = EMAIL.get_or_init(|| {
        regex::Regex::new(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+").expect("regex")
    });
    let number = NUMBER.get_or_init(|| regex::Regex::new(r"\+?\d[\d\s().-]{5,}\d").expect("regex"));
    let text = email.replace_all(text, "<email>");
    number
        .replace_all(&text, |c: &regex::Captures<'_>| {
            let raw = &c[0];
            let digits: String = raw
                .chars()
                .filter(|ch| ch.is_ascii_digit() || *ch == '+')
                .collect();
            if digits.chars().filter(char::is_ascii_digit).count() >= 7 {
                mask_phone(&digits)
            } else {
                raw.to_string()
            }
        })
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_emails_and_long_numbers_in_texts() {
        let masked = mask_text(
            "Halo Budi, kami hubungi di +62 812-3456-7890 atau budi.s@gmail.com; \
             rekening 1234567890. Jadwal 10:00, Rp 500.000, tahun 2026.",
        );
        assert!(!masked.contains("3456"), "{masked}");
        assert!(!masked.contains("budi.s@"), "{masked}");
        assert!(!masked.contains("1234567890"), "{masked}");
        assert!(masked.contains("<email>"), "{masked}");
        assert!(masked.contains("+62*******7890"), "{masked}");
        for kept in ["Halo Budi", "10:00", "Rp 500.000", "2026"] {
            assert!(masked.contains(kept), "{kept}: {masked}");
        }
    }

    #[test]
    fn masks_all_but_last_four() {
        assert_eq!(mask_phone("+6281234567890"), "+62*******7890");
        assert_eq!(mask_phone("6281234567890"), "*********7890");
        assert_eq!(mask_phone("123"), "***");
        assert!(!mask_phone("+6281234567890").contains("812345"));
    }
}
