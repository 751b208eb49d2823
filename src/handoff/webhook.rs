//! The CRM webhook: a signed JSON POST per handoff, per relayed lead message and per notice
//! nobody received, delivered through the outbox (so it is retried and recorded like a reply).
//!
//! Signed the way Kapso signs its webhooks to ARI, so a CRM can reuse the same check:
//! `X-Webhook-Signature` is the lowercase hex HMAC-SHA256 of the raw body under the shared
//! secret, `X-Webhook-Event` names the event, and `X-Idempotency-Key` is stable across retries
//! (the outbox row's key) so the receiver can drop a repeat. Since a body-only signature can be
//! replayed at any time and with any key, each call also carries `X-Webhook-Timestamp` (Unix
//! seconds of this attempt) and `X-Webhook-Signature-V2`, the hex HMAC-SHA256 of
//! `"<timestamp>.<idempotency key>.<body>"`: a receiver that checks it and refuses an old
//! timestamp cannot be replayed to (issue 21 item 8).
//!
//! Redirects are not followed (a 3xx is a refusal): the signed body and any credentials in the
//! URL never go to another address. Credentials in the configured URL (`user:pass@`, query
//! values such as `?token=`) are used for the call only: the URL stored on outbox rows and
//! shown in logs is [`redact_url`]'s, and errors carry no URL.

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

/// Header carrying the Unix time (seconds) of a CRM call.
pub const TIMESTAMP_HEADER: &str = "x-webhook-timestamp";

/// Header carrying the HMAC over timestamp, idempotency key and body.
pub const SIGNATURE_V2_HEADER: &str = "x-webhook-signature-v2";

/// The string [`SIGNATURE_V2_HEADER`] signs: `"<timestamp>.<idempotency key>.<body>"`.
pub fn signed_string(timestamp: i64, idempotency_key: &str, body: &str) -> String {
    format!("{timestamp}.{idempotency_key}.{body}")
}

/// A URL without its credentials, for storing and logging: no user or password, and every
/// query value replaced by `redacted` (`https://crm.example/hook?token=redacted`). A URL that
/// does not parse is shown as `<invalid url>`.
pub fn redact_url(url: &str) -> String {
    let Ok(mut parsed) = reqwest::Url::parse(url) else {
        return "<invalid url>".to_string();
    };
    let _ = parsed.set_username("");
    let _ = parsed.set_password(None);
    if parsed.query().is_some() {
        let keys: Vec<String> = parsed.query_pairs().map(|(k, _)| k.into_owned()).collect();
        parsed
            .query_pairs_mut()
            .clear()
            .extend_pairs(keys.iter().map(|k| (k.as_str(), "redacted")));
    }
    parsed.to_string()
}

/// Where and how handoffs are posted.
#[derive(Clone)]
pub struct CrmWebhook {
    /// The configured URL without its credentials ([`redact_url`]): what outbox rows store.
    pub url: String,
    /// The configured URL as given, credentials included: what is called.
    target: String,
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
    /// A client with a 10 s timeout per call, following no redirect.
    pub fn new(url: String, secret: String) -> Result<CrmWebhook, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(CrmWebhook {
            url: redact_url(&url),
            target: url,
            secret,
            client,
        })
    }

    /// Posts `body` (JSON) to `url` (an outbox row's: the configured URL, redacted, is called
    /// with its credentials), signed. Ok on 2xx.
    pub async fn post(
        &self,
        url: &str,
        body: &str,
        idempotency_key: &str,
    ) -> Result<(), WebhookError> {
        let target = if url == self.url { &self.target } else { url };
        let timestamp = chrono::Utc::now().timestamp();
        let signed = signed_string(timestamp, idempotency_key, body);
        let response = self
            .client
            .post(target)
            .header("content-type", "application/json")
            .header(
                crate::ingress::SIGNATURE_HEADER,
                sign(self.secret.as_bytes(), body.as_bytes()),
            )
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(
                SIGNATURE_V2_HEADER,
                sign(self.secret.as_bytes(), signed.as_bytes()),
            )
            .header(crate::ingress::EVENT_HEADER, event_of(body))
            .header(crate::ingress::IDEMPOTENCY_HEADER, idempotency_key)
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| WebhookError {
                // Without the URL: it may hold a token.
                message: e.without_url().to_string(),
                retryable: true,
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        if status.is_redirection() {
            return Err(WebhookError {
                message: format!("{status}: redirects are not followed"),
                retryable: false,
            });
        }
        let text = response.text().await.unwrap_or_default();
        Err(WebhookError {
            message: format!("{status}: {}", text.chars().take(300).collect::<String>()),
            retryable: status.is_server_error() || status.as_u16() == 429,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_leave_the_url_redacted() {
        assert_eq!(
            redact_url("https://ari:s3cret@crm.example/hook?token=abc&x=1"),
            "https://crm.example/hook?token=redacted&x=redacted"
        );
        assert_eq!(
            redact_url("https://crm.example/hook"),
            "https://crm.example/hook"
        );
        assert_eq!(redact_url("not a url"), "<invalid url>");
        let crm = CrmWebhook::new("https://u:p@crm.example/h?key=k".into(), "s".into()).unwrap();
        let shown = format!("{crm:?}");
        assert!(
            !shown.contains(":p@") && !shown.contains("key=k"),
            "{shown}"
        );
    }
}
