//! Outbound: replies to WhatsApp leads through Kapso's send API (issue 4, "Outbound").
//!
//! - [`KapsoClient`] is the live HTTP client: [`KapsoClient::send_text`] and
//!   [`KapsoClient::mark_read_with_typing`] against
//!   `POST {ARI_KAPSO_BASE_URL}/meta/whatsapp/v24.0/{phone_number_id}/messages` with the
//!   `X-API-Key` header (seed spec section 13.4).
//! - [`Sender`] is what the rest of ARI holds: `Live(KapsoClient)` or `DryRun` when no API key is
//!   configured, so the service is useful with no keys at all.
//! - [`SendError`] tells the caller whether a failure is permanent ([`SendError::Rejected`], e.g.
//!   Meta code 131047 "24 h window closed") or worth retrying later ([`SendError::Exhausted`]).
//!
//! # Retries
//! Exponential backoff with full jitter on timeouts, connection errors, HTTP 429, HTTP 5xx and
//! Meta's rate-limit codes 130429 (throughput) and 131056 (pair rate), honouring `Retry-After` in
//! seconds (clipped); no retry on other 4xx. Attempts and total time are bounded by
//! [`RetryPolicy`]. The loop is [`backon`]'s: it lets the delay be overridden per error
//! (`Retry::adjust`), which is what `Retry-After` needs, and stops when `adjust` returns `None`,
//! which is how the total-time budget is enforced. backon's own jitter is additive
//! (`delay + [0, delay)`), so full jitter (`[0, delay]`) is applied in `adjust` too.
//!
//! # Idempotency: what is and is not guaranteed
//! Each send carries the outbox row's key as an `Idempotency-Key` header. Kapso does not document
//! honouring that header on this endpoint, and Meta's Cloud API has no idempotency key, so treat
//! it as a hint only. **At-most-once delivery is the store's job**: the outbox row records the
//! returned message id and is never resent once it has one. One gap remains that no client can
//! close: when an attempt times out after Kapso accepted it, the retry sends a second copy. Keep
//! [`RetryPolicy::attempt_timeout`] well above Kapso's normal latency to make that rare.
//!
//! # Logging
//! The API key is never logged (sensitive header, redacted `Debug`). Phone numbers are logged
//! masked to their last 4 digits ([`crate::telemetry::mask_phone`]).

mod client;
mod error;
pub mod interactive;
pub mod outbox;

pub use client::{
    API_KEY_HEADER, FetchedMedia, GRAPH_API_VERSION, IDEMPOTENCY_KEY_HEADER, KapsoClient,
    MediaError, RetryPolicy,
};
pub use error::{
    BuildError, CODE_MARKETING_STOPPED, CODE_WINDOW_CLOSED, RATE_LIMIT_CODES, SendError,
    TransientError,
};
pub use reqwest::Url;

/// Prefix of the synthetic message ids returned by [`Sender::DryRun`]: `dry-run:<idempotency key>`.
pub const DRY_RUN_PREFIX: &str = "dry-run:";

/// An approved template message to send: its name and language code as approved at Meta, the
/// body's `{{1}}`, `{{2}}`... in order, and the payloads of its quick-reply buttons by index
/// (issue 19; empty: none).
#[derive(Debug, Clone, Copy)]
pub struct Template<'a> {
    /// As approved at Meta.
    pub name: &'a str,
    /// Language code (`id`, `en_US`).
    pub language: &'a str,
    /// Body variables.
    pub parameters: &'a [String],
    /// Quick-reply payloads by button index.
    pub buttons: &'a [String],
}

/// A message Kapso accepted (or, in dry-run, pretended to).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    /// Meta's message id (`wamid.…`) from the 2xx body `{"messages":[{"id":…}]}`; in dry-run
    /// `dry-run:<idempotency key>`. Record it on the outbox row: `whatsapp.message.failed`
    /// webhooks are matched to the row by this id.
    pub message_id: String,
    /// HTTP requests made, the successful one included (1 = first try); 0 in dry-run.
    pub attempts: u32,
    /// True when nothing was sent ([`Sender::DryRun`]).
    pub dry_run: bool,
}

/// The outbound sender the rest of ARI uses: live through Kapso, or dry-run.
///
/// Plain enum on purpose (no trait object): tests of the sending path use a mock Kapso server
/// with `Live`, and everything else can run `DryRun`.
#[derive(Debug, Clone)]
pub enum Sender {
    /// Sends through Kapso.
    Live(KapsoClient),
    /// No API key configured (`ARI_KAPSO_API_KEY` unset): logs each reply with `tracing` at INFO
    /// and returns `dry-run:<idempotency key>` as the message id. Makes no HTTP request.
    DryRun,
}

impl Sender {
    /// `Live` when `api_key` is set and non-blank, `DryRun` otherwise (issue 4: "Without
    /// `ARI_KAPSO_API_KEY` the sender runs dry").
    ///
    /// # Errors
    /// Those of [`KapsoClient::new`] (only possible in the `Live` case).
    pub fn from_config(
        base_url: Url,
        api_key: Option<String>,
        policy: RetryPolicy,
    ) -> Result<Self, BuildError> {
        match api_key {
            Some(key) if !key.trim().is_empty() => {
                Ok(Sender::Live(KapsoClient::new(base_url, key, policy)?))
            }
            _ => {
                tracing::warn!(
                    "no Kapso API key configured: replies are logged, not sent (dry-run)"
                );
                Ok(Sender::DryRun)
            }
        }
    }

    /// True for [`Sender::DryRun`].
    pub fn is_dry_run(&self) -> bool {
        matches!(self, Sender::DryRun)
    }

    /// Sends (or, dry, logs) a text reply. See [`KapsoClient::send_text`] for the request, the
    /// retries and the errors. Dry-run applies the same local validation, then returns
    /// `SentMessage { message_id: "dry-run:<idempotency_key>", attempts: 0, dry_run: true }`.
    ///
    /// # Errors
    /// As [`KapsoClient::send_text`]; dry-run only returns [`SendError::InvalidRequest`].
    pub async fn send_text(
        &self,
        phone_number_id: &str,
        to: &str,
        body: &str,
        idempotency_key: &str,
    ) -> Result<SentMessage, SendError> {
        match self {
            Sender::Live(client) => {
                client
                    .send_text(phone_number_id, to, body, idempotency_key)
                    .await
            }
            Sender::DryRun => {
                let to_digits = digits_only(to);
                client::validate(phone_number_id, &to_digits, body)?;
                // Masked: a reply may repeat the lead's phone, e-mail or account number.
                tracing::info!(
                    phone_number_id,
                    to = %crate::telemetry::mask_phone(&to_digits),
                    idempotency_key,
                    body = %crate::telemetry::mask_text(body),
                    "dry-run: reply not sent (no Kapso API key)"
                );
                Ok(SentMessage {
                    message_id: format!("{DRY_RUN_PREFIX}{idempotency_key}"),
                    attempts: 0,
                    dry_run: true,
                })
            }
        }
    }

    /// Sends (or, dry, logs) an approved template message; see [`KapsoClient::send_template`].
    ///
    /// # Errors
    /// As [`KapsoClient::send_template`]; dry-run only returns [`SendError::InvalidRequest`].
    pub async fn send_template(
        &self,
        phone_number_id: &str,
        to: &str,
        template: &Template<'_>,
        idempotency_key: &str,
    ) -> Result<SentMessage, SendError> {
        let Template {
            name, parameters, ..
        } = *template;
        match self {
            Sender::Live(client) => {
                client
                    .send_template(phone_number_id, to, template, idempotency_key)
                    .await
            }
            Sender::DryRun => {
                let to_digits = digits_only(to);
                client::validate(phone_number_id, &to_digits, name)?;
                tracing::info!(
                    phone_number_id,
                    to = %crate::telemetry::mask_phone(&to_digits),
                    idempotency_key,
                    template = name,
                    parameters = ?parameters.iter().map(|p| crate::telemetry::mask_text(p)).collect::<Vec<_>>(),
                    "dry-run: template message not sent (no Kapso API key)"
                );
                Ok(SentMessage {
                    message_id: format!("{DRY_RUN_PREFIX}{idempotency_key}"),
                    attempts: 0,
                    dry_run: true,
                })
            }
        }
    }

    /// Sends (or, dry, logs as text with its ids: [`interactive::as_text`]) an interactive
    /// message; see [`KapsoClient::send_interactive`].
    ///
    /// # Errors
    /// As [`KapsoClient::send_interactive`]; dry-run only returns [`SendError::InvalidRequest`].
    pub async fn send_interactive(
        &self,
        phone_number_id: &str,
        to: &str,
        interactive: &serde_json::Value,
        idempotency_key: &str,
    ) -> Result<SentMessage, SendError> {
        match self {
            Sender::Live(client) => {
                client
                    .send_interactive(phone_number_id, to, interactive, idempotency_key)
                    .await
            }
            Sender::DryRun => {
                let to_digits = digits_only(to);
                let text = interactive::as_text(interactive);
                client::validate(phone_number_id, &to_digits, &text)?;
                tracing::info!(
                    phone_number_id,
                    to = %crate::telemetry::mask_phone(&to_digits),
                    idempotency_key,
                    body = %crate::telemetry::mask_text(&text),
                    "dry-run: interactive message not sent (no Kapso API key)"
                );
                Ok(SentMessage {
                    message_id: format!("{DRY_RUN_PREFIX}{idempotency_key}"),
                    attempts: 0,
                    dry_run: true,
                })
            }
        }
    }

    /// Marks the inbound message read with a typing indicator (best effort, one attempt). See
    /// [`KapsoClient::mark_read_with_typing`]. Dry-run logs at DEBUG and returns `Ok(())`.
    ///
    /// # Errors
    /// As [`KapsoClient::mark_read_with_typing`]; never in dry-run.
    pub async fn mark_read_with_typing(
        &self,
        phone_number_id: &str,
        inbound_wamid: &str,
    ) -> Result<(), SendError> {
        match self {
            Sender::Live(client) => {
                client
                    .mark_read_with_typing(phone_number_id, inbound_wamid)
                    .await
            }
            Sender::DryRun => {
                tracing::debug!(
                    phone_number_id,
                    inbound_wamid,
                    "dry-run: mark read + typing"
                );
                Ok(())
            }
        }
    }
}

/// Keeps only ASCII digits: `"+62 812-3456-7890"` → `"6281234567890"`. Kapso's `to` field is
/// "digits only" (seed spec 13.4: the inbound `from` with non-digits removed).
pub fn digits_only(phone: &str) -> String {
    phone.chars().filter(char::is_ascii_digit).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_only_drops_separators() {
        assert_eq!(digits_only("+62 812-3456-7890"), "6281234567890");
    }

    #[tokio::test]
    async fn dry_run_validates_and_returns_synthetic_id() {
        let s = Sender::DryRun;
        let sent = s.send_text("pn", "+62 812", "hi", "row-1").await.unwrap();
        assert_eq!(sent.message_id, "dry-run:row-1");
        assert!(sent.dry_run);
        assert_eq!(sent.attempts, 0);
        let err = s.send_text("pn", "+", "hi", "row-1").await.unwrap_err();
        assert!(matches!(err, SendError::InvalidRequest(_)));
        assert!(s.mark_read_with_typing("pn", "wamid.x").await.is_ok());
    }
}
