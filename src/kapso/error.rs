//! Errors of the Kapso outbound client and the parsing of Kapso's/Meta's error bodies.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

/// Meta error codes that mean "rate limited, try again later" even though Meta answers them
/// with a 4xx status: they are retried like a 429 instead of being reported as [`SendError::Rejected`].
///
/// - `130429`: Cloud API throughput reached (80 msg/s per number by default).
/// - `131056`: pair rate limit, about one message per 6 s to the same user.
///
/// Source: `shared/reference/peers.md` section 0 (Meta throughput and pair-rate docs).
pub const RATE_LIMIT_CODES: [i64; 2] = [130_429, 131_056];

/// Meta error code for "Re-engagement message": the 24 h customer-service window is closed, so
/// free-form text is refused and only an approved template can be sent. Permanent for the row.
///
/// Source: `shared/reference/peers.md` section 0.
pub const CODE_WINDOW_CLOSED: i64 = 131_047;

/// Meta error code for a send refused because the user stopped marketing messages from this
/// business: recorded on the contact like an opt-out (issue 18), permanent for the row.
pub const CODE_MARKETING_STOPPED: i64 = 131_050;

/// Why sending through Kapso failed. Built so the caller (the outbox worker) can decide what to
/// record: [`SendError::is_retryable`] says whether the same row may be tried again later.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Kapso or Meta refused the request with a non-retryable status (a 4xx other than 429 and
    /// other than the rate-limit codes in [`RATE_LIMIT_CODES`]). Permanent: record the row as
    /// failed with this error. It is returned at once, without further attempts.
    ///
    /// Fields come from Meta's error body
    /// `{"error":{"message","type","code","error_data":{"details"},"fbtrace_id"}}` when present;
    /// otherwise `message` holds Kapso's error text or the (truncated) raw body.
    #[error("Kapso rejected the request: HTTP {status}{}: {message}", code.map(|c| format!(", code {c}")).unwrap_or_default())]
    Rejected {
        /// HTTP status code of the response, e.g. `400`.
        status: u16,
        /// Meta's numeric error code, e.g. `131047` (24 h window closed), when the body had one.
        code: Option<i64>,
        /// Short title: Meta's `error_user_title`, else its `type` (e.g. `OAuthException`).
        title: Option<String>,
        /// Meta's `message` (e.g. `(#131047) Re-engagement message`), Kapso's error text, or the
        /// raw body truncated to 500 bytes.
        message: String,
        /// Meta's `error_data.details`, the human explanation, when present.
        details: Option<String>,
    },
    /// Every attempt failed with a transient error (timeout, connection error, 429, 5xx or a
    /// rate-limit code), and the attempt or total-time budget of the
    /// [`RetryPolicy`](super::RetryPolicy) ran out. Retry the row later.
    ///
    /// Caution: after a timeout, Kapso may have accepted the message without the client seeing
    /// the answer. See the module docs on idempotency.
    #[error("sending through Kapso failed after {attempts} attempt(s): {last}")]
    Exhausted {
        /// The error of the last attempt.
        last: TransientError,
        /// How many HTTP requests were made (at least 1).
        attempts: u32,
    },
    /// Kapso answered 2xx but the body was not the expected shape (e.g. no `messages[0].id`), or
    /// it could not be read. The message may well have been sent: do NOT resend automatically;
    /// record the row as failed for a human to check.
    #[error("Kapso answered HTTP {status} with an unexpected body: {reason}")]
    InvalidResponse {
        /// HTTP status of the response (2xx).
        status: u16,
        /// What was wrong, including a truncated copy of the body.
        reason: String,
    },
    /// The request was refused locally before any HTTP call: e.g. the recipient has no digits or
    /// the body is empty. Permanent.
    #[error("invalid send request: {0}")]
    InvalidRequest(&'static str),
}

impl SendError {
    /// Whether the same outbox row may be tried again later: `true` only for
    /// [`SendError::Exhausted`] (transient failures). `Rejected`, `InvalidResponse` and
    /// `InvalidRequest` are permanent for the row.
    pub fn is_retryable(&self) -> bool {
        matches!(self, SendError::Exhausted { .. })
    }

    /// Meta's error code when one is known: from a `Rejected` body or from the last transient
    /// attempt's body (e.g. `131047`, `130429`).
    pub fn code(&self) -> Option<i64> {
        match self {
            SendError::Rejected { code, .. } => *code,
            SendError::Exhausted {
                last: TransientError::Status { code, .. },
                ..
            } => *code,
            _ => None,
        }
    }
}

/// A failure of one attempt that is worth retrying.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TransientError {
    /// The attempt hit the connect or per-attempt total timeout
    /// ([`RetryPolicy::connect_timeout`](super::RetryPolicy::connect_timeout),
    /// [`RetryPolicy::attempt_timeout`](super::RetryPolicy::attempt_timeout)).
    #[error("timed out")]
    Timeout,
    /// The TCP/TLS connection could not be established.
    #[error("connection failed: {0}")]
    Connect(String),
    /// Another transport error (connection reset mid-request, protocol error).
    #[error("transport error: {0}")]
    Transport(String),
    /// Kapso answered 429, 5xx, or a 4xx carrying a rate-limit code ([`RATE_LIMIT_CODES`]).
    #[error("HTTP {status}{}: {message}", code.map(|c| format!(", code {c}")).unwrap_or_default())]
    Status {
        /// HTTP status code, e.g. `429` or `503`.
        status: u16,
        /// Meta's error code when the body had one.
        code: Option<i64>,
        /// Error message from the body (truncated raw body when not Meta-shaped).
        message: String,
        /// The `Retry-After` header in its seconds form, uncapped, when present.
        retry_after: Option<Duration>,
    },
}

/// Outcome of one failed attempt, used inside the retry loop.
#[derive(Debug)]
pub(crate) enum AttemptError {
    /// Retry (if the policy allows).
    Transient(TransientError),
    /// Stop at once and return this.
    Permanent(SendError),
}

impl AttemptError {
    pub(crate) fn is_transient(&self) -> bool {
        matches!(self, AttemptError::Transient(_))
    }

    pub(crate) fn retry_after(&self) -> Option<Duration> {
        match self {
            AttemptError::Transient(TransientError::Status { retry_after, .. }) => *retry_after,
            _ => None,
        }
    }
}

impl fmt::Display for AttemptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttemptError::Transient(e) => write!(f, "{e}"),
            AttemptError::Permanent(e) => write!(f, "{e}"),
        }
    }
}

/// Error returned by [`KapsoClient::new`](super::KapsoClient::new).
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The base URL cannot have path segments appended (e.g. `mailto:`), or is not http(s).
    #[error("Kapso base URL must be an http(s) URL, got scheme {0:?}")]
    BadBaseUrl(String),
    /// The API key contains characters not allowed in an HTTP header value.
    #[error("Kapso API key is not a valid HTTP header value")]
    BadApiKey,
    /// The HTTP client could not be built (TLS initialisation).
    #[error("building the HTTP client failed: {0}")]
    Http(#[from] reqwest::Error),
}

/// Error details parsed from a non-2xx body.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct ErrorBody {
    pub code: Option<i64>,
    pub title: Option<String>,
    pub message: String,
    pub details: Option<String>,
}

#[derive(Deserialize)]
struct MetaEnvelope {
    error: MetaErrorField,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum MetaErrorField {
    Object(MetaError),
    Text(String),
}

#[derive(Deserialize)]
struct MetaError {
    #[serde(default)]
    message: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    code: Option<i64>,
    #[serde(default)]
    error_user_title: Option<String>,
    #[serde(default)]
    error_user_msg: Option<String>,
    #[serde(default)]
    error_data: Option<MetaErrorData>,
}

#[derive(Deserialize)]
struct MetaErrorData {
    #[serde(default)]
    details: Option<String>,
}

/// Longest piece of a raw body kept in an error, in bytes.
const MAX_BODY_IN_ERROR: usize = 500;

/// Truncates `s` to at most [`MAX_BODY_IN_ERROR`] bytes on a char boundary.
pub(crate) fn truncate(s: &str) -> String {
    if s.len() <= MAX_BODY_IN_ERROR {
        return s.to_owned();
    }
    let mut end = MAX_BODY_IN_ERROR;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// Parses Meta's `{"error":{...}}` shape, Kapso's `{"error":"text"}` shape, or falls back to
/// the truncated raw body.
pub(crate) fn parse_error_body(body: &str) -> ErrorBody {
    match serde_json::from_str::<MetaEnvelope>(body) {
        Ok(MetaEnvelope {
            error: MetaErrorField::Object(e),
        }) => ErrorBody {
            code: e.code,
            title: e.error_user_title.or(e.kind),
            message: e
                .message
                .or(e.error_user_msg)
                .unwrap_or_else(|| truncate(body)),
            details: e.error_data.and_then(|d| d.details),
        },
        Ok(MetaEnvelope {
            error: MetaErrorField::Text(message),
        }) => ErrorBody {
            message,
            ..ErrorBody::default()
        },
        Err(_) => ErrorBody {
            message: truncate(body.trim()),
            ..ErrorBody::default()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_meta_error_shape() {
        let body = r#"{"error":{"message":"(#131047) Re-engagement message","type":"OAuthException","code":131047,"error_data":{"messaging_product":"whatsapp","details":"Message failed to send because more than 24 hours have passed since the customer last replied to this number."},"fbtrace_id":"AbCd"}}"#;
        let e = parse_error_body(body);
        assert_eq!(e.code, Some(131_047));
        assert_eq!(e.title.as_deref(), Some("OAuthException"));
        assert_eq!(e.message, "(#131047) Re-engagement message");
        assert!(e.details.unwrap_or_default().contains("24 hours"));
    }

    #[test]
    fn parses_kapso_text_error_and_garbage() {
        let e = parse_error_body(r#"{"error":"Invalid API key"}"#);
        assert_eq!(e.message, "Invalid API key");
        assert_eq!(e.code, None);
        let e = parse_error_body("<html>bad gateway</html>");
        assert_eq!(e.message, "<html>bad gateway</html>");
    }

    #[test]
    fn truncates_long_bodies_on_char_boundary() {
        let long = "é".repeat(400); // 800 bytes
        let t = truncate(&long);
        assert!(t.len() <= MAX_BODY_IN_ERROR + '…'.len_utf8());
        assert!(t.ends_with('…'));
    }

    #[test]
    fn retryability() {
        let exhausted = SendError::Exhausted {
            last: TransientError::Timeout,
            attempts: 3,
        };
        assert!(exhausted.is_retryable());
        let rejected = SendError::Rejected {
            status: 400,
            code: Some(CODE_WINDOW_CLOSED),
            title: None,
            message: "x".into(),
            details: None,
        };
        assert!(!rejected.is_retryable());
        assert_eq!(rejected.code(), Some(131_047));
        assert!(!SendError::InvalidRequest("x").is_retryable());
    }
}
