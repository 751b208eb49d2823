//! The CRM webhook: a signed JSON POST per handoff, per relayed lead message and per notice
//! nobody received, delivered through the outbox (so it is retried and recorded like a reply).
//!
//! Signed the way Kapso signs its webhooks to ARI, so a CRM can reuse the same check:
//! `X-Webhook-Signature` is the lowercase hex HMAC-SHA256 of the raw body under the shared
//! secret, `X-Webhook-Event` names the event, and `X-Idempotency-Key` is stable across retries
//! (the outbox row's key) so the receiver can drop a repeat.

use std::time::Duration;

use crate::ingress::signature::sign;

/// The event name of a handoff call.
pub const HANDOFF_EVENT: &str = "ari.lead.handoff";

/// The event name of a handed-off lead's message relayed to the consultant.
pub const RELAY_EVENT: &str = "ari.lead.message_relayed";

/// The event name of a consultant notice nobody received (issue 20: outside the window without
/// a template, or undeliverable): it carries the notice's text.
pub const UNDELIVERED_EVENT: &str = "ari.notice.undelivered";

/// The `X-Webhook-Event` of a body: its `event` field ([`HANDOFF_EVENT`] when it has none).
pub fn event_of(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("event").and_then(|e| e.as_str()).map(str::to_string))
        .unwrap_or_else(|| HANDOFF_EVENT.to_string())
}

/// Where and how handoffs are posted.
#[derive(Clone)]
pub struct CrmWebhook {
    /// `http` or `https` URL.
    pub url: String,
    secret: String,
    client: reqwest::Client,
}

impl std::fmt::Debug for CrmWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CrmWebhook")
            .field("url", &self.url)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// A failed call: `retryable` for timeouts, connection errors, 429 and 5xx.
#[derive(Debug, thiserror::Error)]
#[error("CRM webhook: {message}")]
pub struct WebhookError {
    pub message: String,
    pub retryable: bool,
}

impl CrmWebhook {
    /// A client with a 10 s timeout per call.
    pub fn new(url: String, secret: String) -> Result<CrmWebhook, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(5))
            .build()?;
        Ok(CrmWebhook {
            url,
            secret,
            client,
        })
    }

    /// Posts `body` (JSON) to `url`, signed. Ok on 2xx.
    pub async fn post(
        &self,
        url: &str,
        body: &str,
        idempotency_key: &str,
    ) -> Result<(), WebhookError> {
        let response = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header(
                crate::ingress::SIGNATURE_HEADER,
                sign(self.secret.as_bytes(), body.as_bytes()),
            )
            .header(crate::ingress::EVENT_HEADER, event_of(body))
            .header(crate::ingress::IDEMPOTENCY_HEADER, idempotency_key)
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| WebhookError {
                message: e.to_string(),
                retryable: true,
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let text = response.text().await.unwrap_or_default();
        Err(WebhookError {
            message: format!("{status}: {}", text.chars().take(300).collect::<String>()),
            retryable: status.is_server_error() || status.as_u16() == 429,
        })
    }
}
