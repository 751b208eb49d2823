//! [`KapsoClient`]: the live HTTP client for Kapso's Meta-compatible send API.

mod media;
pub use media::{FetchedMedia, MediaError};

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use backon::{ExponentialBuilder, Retryable};
use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};
use reqwest::{StatusCode, Url};
use serde::Deserialize;
use serde_json::json;

use super::error::{
    AttemptError, BuildError, RATE_LIMIT_CODES, SendError, TransientError, parse_error_body,
    truncate,
};
use super::{SentMessage, digits_only};
use crate::telemetry::mask_phone;

/// Graph API version in the send path: `/meta/whatsapp/{GRAPH_API_VERSION}/{phone_number_id}/messages`.
///
/// Source: seed spec section 13.4 and docs.kapso.ai "Mark messages as read" (both use `v24.0`).
pub const GRAPH_API_VERSION: &str = "v24.0";

/// Header carrying the Kapso project API key (not a Bearer token). Source: seed spec 13.4.
pub const API_KEY_HEADER: &str = "X-API-Key";

/// Header carrying the outbox row's idempotency key. See the module docs: Kapso does not document
/// honouring it, so it is a hint only.
pub const IDEMPOTENCY_KEY_HEADER: &str = "Idempotency-Key";

/// Timeouts and retry budget of a [`KapsoClient`].
///
/// Every duration is a [`Duration`]; the defaults are given in seconds (s) or milliseconds (ms).
/// Retries happen on timeouts, connection/transport errors, HTTP 429, HTTP 5xx and the Meta
/// rate-limit codes in [`RATE_LIMIT_CODES`](super::RATE_LIMIT_CODES) (issue 4, "Outbound");
/// never on other 4xx.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Time allowed to establish the TCP+TLS connection. Default 5 s.
    pub connect_timeout: Duration,
    /// Time allowed for one whole attempt (connect, send, response headers and body). Default
    /// 10 s. Each attempt's timeout is also clipped to what is left of [`Self::max_total`].
    pub attempt_timeout: Duration,
    /// Most HTTP requests for one `send_text` call, the first included. Default 4. A value of 0
    /// is treated as 1.
    pub max_attempts: u32,
    /// Upper bound of the first backoff; it doubles per retry. Default 500 ms.
    pub initial_backoff: Duration,
    /// Largest backoff upper bound. Default 8 s.
    pub max_backoff: Duration,
    /// Budget for the whole call, attempts and waits together. A retry whose wait would end past
    /// it is not made; the call returns [`SendError::Exhausted`]. Default 30 s.
    pub max_total: Duration,
    /// Largest `Retry-After` honoured; a longer one is clipped to this. Default 15 s.
    pub retry_after_cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            attempt_timeout: Duration::from_secs(10),
            max_attempts: 4,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(8),
            max_total: Duration::from_secs(30),
            retry_after_cap: Duration::from_secs(15),
        }
    }
}

/// Client for Kapso's WhatsApp send API (`POST {base}/meta/whatsapp/v24.0/{phone_number_id}/messages`).
///
/// Cheap to clone (the connection pool is shared). The API key is never logged: it is stored as
/// a sensitive header value and left out of `Debug`.
#[derive(Clone)]
pub struct KapsoClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base_url: Url,
    api_key: HeaderValue,
    policy: RetryPolicy,
}

impl fmt::Debug for KapsoClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KapsoClient")
            .field("base_url", &self.inner.base_url.as_str())
            .field("api_key", &"<redacted>")
            .field("policy", &self.inner.policy)
            .finish()
    }
}

#[derive(Deserialize)]
struct SendResponse {
    #[serde(default)]
    messages: Vec<SendResponseMessage>,
}

#[derive(Deserialize)]
struct SendResponseMessage {
    #[serde(default)]
    id: Option<String>,
}

impl KapsoClient {
    /// Builds a client for `base_url` (e.g. `https://api.kapso.ai`, or a mock server; a path
    /// prefix is kept) authenticating with the Kapso project `api_key`.
    ///
    /// # Errors
    /// [`BuildError::BadBaseUrl`] for a non-http(s) URL, [`BuildError::BadApiKey`] when the key is
    /// not a valid header value, [`BuildError::Http`] when the HTTP client cannot be built.
    pub fn new(base_url: Url, api_key: String, policy: RetryPolicy) -> Result<Self, BuildError> {
        if !matches!(base_url.scheme(), "http" | "https") || base_url.cannot_be_a_base() {
            return Err(BuildError::BadBaseUrl(base_url.scheme().to_owned()));
        }
        let mut api_key =
            HeaderValue::from_str(api_key.trim()).map_err(|_| BuildError::BadApiKey)?;
        api_key.set_sensitive(true);
        let http = reqwest::Client::builder()
            .connect_timeout(policy.connect_timeout)
            .user_agent(concat!("ari/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                base_url,
                api_key,
                policy,
            }),
        })
    }

    /// The policy this client was built with.
    pub fn policy(&self) -> &RetryPolicy {
        &self.inner.policy
    }

    /// Sends a free-form text message and returns Meta's message id (`wamid…`).
    ///
    /// Request (seed spec 13.4): `POST {base}/meta/whatsapp/v24.0/{phone_number_id}/messages`,
    /// headers `X-API-Key`, `Content-Type: application/json`, `Idempotency-Key: {idempotency_key}`,
    /// body `{"messaging_product":"whatsapp","to":"<digits>","type":"text","text":{"body":…}}`.
    /// `to` may be E.164 (`+62 812-…`) or digits; everything but ASCII digits is stripped.
    /// Expected 2xx body: `{"messages":[{"id":"wamid…"}]}`.
    ///
    /// Retries per [`RetryPolicy`] with exponential backoff and full jitter, honouring a
    /// `Retry-After` in seconds (clipped to [`RetryPolicy::retry_after_cap`]).
    ///
    /// # Errors
    /// - [`SendError::Rejected`]: a non-retryable 4xx (e.g. code 131047, 24 h window closed).
    /// - [`SendError::Exhausted`]: transient failures until the attempt/time budget ran out.
    /// - [`SendError::InvalidResponse`]: 2xx without `messages[0].id`; the message may be sent.
    /// - [`SendError::InvalidRequest`]: empty `phone_number_id`, no digits in `to`, empty body.
    pub async fn send_text(
        &self,
        phone_number_id: &str,
        to: &str,
        body: &str,
        idempotency_key: &str,
    ) -> Result<SentMessage, SendError> {
        let to_digits = digits_only(to);
        validate(phone_number_id, &to_digits, body)?;
        let payload = json!({
            "messaging_product": "whatsapp",
            "to": to_digits,
            "type": "text",
            "text": { "body": body },
        });
        self.send_payload(phone_number_id, &to_digits, &payload, idempotency_key)
            .await
    }

    /// Sends an approved WhatsApp template message (the only kind WhatsApp accepts outside the
    /// 24 h window after the lead's last message): `name` and `language` (e.g. `id`) as
    /// approved at Meta, `parameters` filling the body's `{{1}}`, `{{2}}`, ... in order,
    /// `buttons` the payloads of its quick-reply buttons by index (issue 19: a
    /// `{"type":"button","sub_type":"quick_reply","index":"0","parameters":[{"type":"payload",
    /// "payload":..}]}` component each; Meta, "Template messages"). Same
    /// endpoint, retries and errors as [`Self::send_text`].
    pub async fn send_template(
        &self,
        phone_number_id: &str,
        to: &str,
        template: &super::Template<'_>,
        idempotency_key: &str,
    ) -> Result<SentMessage, SendError> {
        let super::Template {
            name,
            language,
            parameters,
            buttons,
        } = *template;
        let to_digits = digits_only(to);
        validate(phone_number_id, &to_digits, name)?;
        let params: Vec<_> = parameters
            .iter()
            .map(|p| json!({"type": "text", "text": p}))
            .collect();
        let mut components = vec![json!({ "type": "body", "parameters": params })];
        components.extend(buttons.iter().enumerate().map(|(i, payload)| {
            json!({"type": "button", "sub_type": "quick_reply", "index": i.to_string(),
                "parameters": [{"type": "payload", "payload": payload}]})
        }));
        let payload = json!({
            "messaging_product": "whatsapp",
            "to": to_digits,
            "type": "template",
            "template": {
                "name": name,
                "language": { "code": language },
                "components": components,
            },
        });
        self.send_payload(phone_number_id, &to_digits, &payload, idempotency_key)
            .await
    }

    /// Sends an interactive message (reply buttons or a list; issue 19): `interactive` is Meta's
    /// `interactive` object ([`super::interactive::Interactive::to_meta`]), sent as
    /// `{"messaging_product":"whatsapp","recipient_type":"individual","to","type":"interactive",
    /// "interactive":{..}}` (developers.facebook.com, "Interactive reply buttons messages").
    /// Same endpoint, retries and errors as [`Self::send_text`]; WhatsApp only takes it inside
    /// the 24 h window (131047 otherwise, like free text).
    pub async fn send_interactive(
        &self,
        phone_number_id: &str,
        to: &str,
        interactive: &serde_json::Value,
        idempotency_key: &str,
    ) -> Result<SentMessage, SendError> {
        let to_digits = digits_only(to);
        let body = interactive["body"]["text"].as_str().unwrap_or_default();
        validate(phone_number_id, &to_digits, body)?;
        let payload = json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to_digits,
            "type": "interactive",
            "interactive": interactive,
        });
        self.send_payload(phone_number_id, &to_digits, &payload, idempotency_key)
            .await
    }

    /// Posts a message payload and reads Kapso's message id from the answer.
    async fn send_payload(
        &self,
        phone_number_id: &str,
        to_digits: &str,
        payload: &serde_json::Value,
        idempotency_key: &str,
    ) -> Result<SentMessage, SendError> {
        let url = self.messages_url(phone_number_id)?;
        let masked = mask_phone(to_digits);
        let (status, text, attempts) = self
            .post(&url, payload, Some(idempotency_key), true, &masked)
            .await?;
        let message_id = serde_json::from_str::<SendResponse>(&text)
            .ok()
            .and_then(|r| r.messages.into_iter().next())
            .and_then(|m| m.id)
            .filter(|id| !id.is_empty())
            .ok_or_else(|| SendError::InvalidResponse {
                status,
                reason: format!("no messages[0].id in {}", truncate(&text)),
            })?;
        tracing::debug!(to = %masked, %message_id, attempts, "kapso: message accepted");
        Ok(SentMessage {
            message_id,
            attempts,
            dry_run: false,
        })
    }

    /// Marks the inbound message `inbound_wamid` as read and shows a typing indicator, which
    /// WhatsApp dismisses on the next reply or after about 25 s.
    ///
    /// Body (docs.kapso.ai "Mark messages as read"; peers.md section 0):
    /// `{"messaging_product":"whatsapp","status":"read","message_id":"<wamid>","typing_indicator":{"type":"text"}}`
    /// on the same endpoint as [`Self::send_text`]. Any 2xx counts as success; the body is ignored.
    ///
    /// Best effort: exactly one attempt, no retries (the indicator is cosmetic and stale after
    /// 25 s). The caller should log the error and carry on.
    ///
    /// # Errors
    /// [`SendError::Rejected`] on a 4xx, [`SendError::Exhausted`] (attempts = 1) on a timeout,
    /// connection error, 429 or 5xx, [`SendError::InvalidRequest`] for empty arguments.
    pub async fn mark_read_with_typing(
        &self,
        phone_number_id: &str,
        inbound_wamid: &str,
    ) -> Result<(), SendError> {
        if phone_number_id.is_empty() {
            return Err(SendError::InvalidRequest("empty phone_number_id"));
        }
        if inbound_wamid.is_empty() {
            return Err(SendError::InvalidRequest("empty inbound message id"));
        }
        let url = self.messages_url(phone_number_id)?;
        let payload = json!({
            "messaging_product": "whatsapp",
            "status": "read",
            "message_id": inbound_wamid,
            "typing_indicator": { "type": "text" },
        });
        self.post(&url, &payload, None, false, "-")
            .await
            .map(|_| ())
    }

    /// `{base}/meta/whatsapp/v24.0/{phone_number_id}/messages`, the id percent-encoded as one
    /// path segment.
    pub(crate) fn messages_url(&self, phone_number_id: &str) -> Result<Url, SendError> {
        let mut url = self.inner.base_url.clone();
        url.path_segments_mut()
            .map_err(|()| SendError::InvalidRequest("Kapso base URL cannot take a path"))?
            .pop_if_empty()
            .extend([
                "meta",
                "whatsapp",
                GRAPH_API_VERSION,
                phone_number_id,
                "messages",
            ]);
        Ok(url)
    }

    /// POSTs `payload` to `url`, retrying transient failures when `retry` is set.
    /// Returns the 2xx status, its body and the number of attempts.
    async fn post(
        &self,
        url: &Url,
        payload: &serde_json::Value,
        idempotency_key: Option<&str>,
        retry: bool,
        masked_to: &str,
    ) -> Result<(u16, String, u32), SendError> {
        let policy = &self.inner.policy;
        let start = Instant::now();
        let attempts = AtomicU32::new(0);
        let retries = if retry {
            policy.max_attempts.saturating_sub(1) as usize
        } else {
            0
        };
        // Jitter is applied in `adjust` (full jitter), so backon's own additive jitter stays off.
        let backoff = ExponentialBuilder::new()
            .with_min_delay(policy.initial_backoff)
            .with_max_delay(policy.max_backoff)
            .with_factor(2.0)
            .with_max_times(retries);

        let result = (|| async {
            let n = attempts.fetch_add(1, Ordering::Relaxed) + 1;
            let remaining = policy.max_total.saturating_sub(start.elapsed());
            let timeout = policy
                .attempt_timeout
                .min(remaining)
                .max(Duration::from_millis(1));
            let outcome = self
                .attempt(url.clone(), payload, idempotency_key, timeout)
                .await;
            if let Err(e) = &outcome {
                tracing::debug!(attempt = n, to = %masked_to, error = %e, "kapso: attempt failed");
            }
            outcome
        })
        .retry(backoff)
        .sleep(tokio::time::sleep)
        .when(AttemptError::is_transient)
        .adjust(|err, next| {
            let next = next?;
            let delay = match err.retry_after() {
                Some(retry_after) => retry_after.min(policy.retry_after_cap),
                None => full_jitter(next),
            };
            // Stop when the wait would end past the total budget; the outbox retries later.
            (start.elapsed() + delay < policy.max_total).then_some(delay)
        })
        .notify(|err, delay| {
            tracing::warn!(
                to = %masked_to,
                error = %err,
                retry_in_ms = delay.as_millis() as u64,
                "kapso: transient failure, retrying"
            );
        })
        .await;

        let attempts = attempts.load(Ordering::Relaxed);
        match result {
            Ok((status, text)) => Ok((status, text, attempts)),
            Err(AttemptError::Permanent(e)) => Err(e),
            Err(AttemptError::Transient(last)) => Err(SendError::Exhausted { last, attempts }),
        }
    }

    /// One HTTP request, classified.
    async fn attempt(
        &self,
        url: Url,
        payload: &serde_json::Value,
        idempotency_key: Option<&str>,
        timeout: Duration,
    ) -> Result<(u16, String), AttemptError> {
        let mut req = self
            .inner
            .http
            .post(url)
            .timeout(timeout)
            .header(API_KEY_HEADER, self.inner.api_key.clone())
            .json(payload);
        if let Some(key) = idempotency_key {
            req = req.header(IDEMPOTENCY_KEY_HEADER, key);
        }
        let resp = req.send().await.map_err(classify_transport)?;
        let status = resp.status();
        let retry_after = parse_retry_after(resp.headers());
        let body = resp.text().await;

        if status.is_success() {
            // Kapso accepted the message; failing to read the answer must not cause a resend.
            return body.map(|text| (status.as_u16(), text)).map_err(|e| {
                AttemptError::Permanent(SendError::InvalidResponse {
                    status: status.as_u16(),
                    reason: format!("reading the body failed: {}", error_chain(&e)),
                })
            });
        }

        let text = body.unwrap_or_default();
        let parsed = parse_error_body(&text);
        let rate_limited = parsed.code.is_some_and(|c| RATE_LIMIT_CODES.contains(&c));
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() || rate_limited {
            Err(AttemptError::Transient(TransientError::Status {
                status: status.as_u16(),
                code: parsed.code,
                message: parsed.message,
                retry_after,
            }))
        } else {
            Err(AttemptError::Permanent(SendError::Rejected {
                status: status.as_u16(),
                code: parsed.code,
                title: parsed.title,
                message: parsed.message,
                details: parsed.details,
            }))
        }
    }
}

/// Local checks shared by the live and dry-run senders.
pub(crate) fn validate(
    phone_number_id: &str,
    to_digits: &str,
    body: &str,
) -> Result<(), SendError> {
    if phone_number_id.is_empty() {
        return Err(SendError::InvalidRequest("empty phone_number_id"));
    }
    if to_digits.is_empty() {
        return Err(SendError::InvalidRequest("recipient has no digits"));
    }
    if body.trim().is_empty() {
        return Err(SendError::InvalidRequest("empty message body"));
    }
    Ok(())
}

fn classify_transport(e: reqwest::Error) -> AttemptError {
    if e.is_builder() {
        return AttemptError::Permanent(SendError::InvalidRequest(
            "the HTTP request could not be built (bad header value?)",
        ));
    }
    AttemptError::Transient(if e.is_timeout() {
        TransientError::Timeout
    } else if e.is_connect() {
        TransientError::Connect(error_chain(&e))
    } else {
        TransientError::Transport(error_chain(&e))
    })
}

/// `e` and its sources joined with `: ` (reqwest's top-level message alone says little).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}

/// The `Retry-After` header in its delta-seconds form (RFC 9110 10.2.3). The HTTP-date form is
/// ignored (the computed backoff is used instead).
pub(crate) fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let secs: u64 = headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(secs))
}

/// "Full jitter" (AWS Architecture Blog, "Exponential Backoff And Jitter"): a uniformly random
/// wait in `[0, cap]`, which spreads retries of many senders better than backon's additive
/// jitter (`cap + [0, cap)`).
pub(crate) fn full_jitter(cap: Duration) -> Duration {
    cap.mul_f64(random_fraction())
}

/// A random number in `[0, 1)`. Jitter needs no cryptographic quality: std's per-instance random
/// SipHash keys are enough and avoid another dependency.
fn random_fraction() -> f64 {
    let bits = RandomState::new().build_hasher().finish() >> 11; // 53 random bits
    bits as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(base: &str) -> KapsoClient {
        KapsoClient::new(
            Url::parse(base).unwrap(),
            "secret-key".into(),
            RetryPolicy::default(),
        )
        .unwrap()
    }

    #[test]
    fn builds_the_messages_url() {
        let c = client("https://api.kapso.ai");
        assert_eq!(
            c.messages_url("647015955153740").unwrap().as_str(),
            "https://api.kapso.ai/meta/whatsapp/v24.0/647015955153740/messages"
        );
        let c = client("http://127.0.0.1:9/prefix/");
        assert_eq!(
            c.messages_url("1/2").unwrap().as_str(),
            "http://127.0.0.1:9/prefix/meta/whatsapp/v24.0/1%2F2/messages"
        );
    }

    #[test]
    fn rejects_bad_base_urls_and_keys() {
        let bad = KapsoClient::new(
            Url::parse("mailto:a@b.c").unwrap(),
            "k".into(),
            RetryPolicy::default(),
        );
        assert!(matches!(bad, Err(BuildError::BadBaseUrl(_))));
        let bad = KapsoClient::new(
            Url::parse("https://api.kapso.ai").unwrap(),
            "bad\nkey".into(),
            RetryPolicy::default(),
        );
        assert!(matches!(bad, Err(BuildError::BadApiKey)));
    }

    #[test]
    fn debug_never_shows_the_key() {
        let c = client("https://api.kapso.ai");
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("secret-key"), "{dbg}");
        assert!(dbg.contains("<redacted>"));
    }

    #[test]
    fn retry_after_seconds_form_only() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(parse_retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(parse_retry_after(&h), None);
        assert_eq!(parse_retry_after(&HeaderMap::new()), None);
    }

    #[test]
    fn full_jitter_stays_within_the_cap_and_varies() {
        let cap = Duration::from_millis(1000);
        let samples: Vec<Duration> = (0..200).map(|_| full_jitter(cap)).collect();
        assert!(samples.iter().all(|d| *d <= cap));
        let distinct: std::collections::HashSet<_> = samples.iter().collect();
        assert!(distinct.len() > 150, "jitter looks constant");
        assert!(samples.iter().any(|d| *d < cap / 2));
        assert!(samples.iter().any(|d| *d > cap / 2));
    }
}
