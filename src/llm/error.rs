//! The library's one error type. Every variant means the same thing to the caller: send the
//! core's template reply (`AskLlm.fallback`). The variants exist for logs and metrics.

use super::guard::Rejection;

/// Why no model reply (or extraction) is available.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    /// The per-attempt timeout or the whole-call budget ran out.
    #[error("LLM call timed out after {ms} ms")]
    Timeout {
        /// The limit that fired (ms).
        ms: u64,
    },
    /// Still rate limited (HTTP 429) after the one retry.
    #[error("LLM server rate limited the call (HTTP 429): {message}")]
    RateLimited {
        /// The server's message.
        message: String,
    },
    /// The server answered an error status (5xx after the retry, or 4xx).
    #[error("LLM server answered HTTP {status}: {message}")]
    Status {
        /// HTTP status.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// The turn budget ran out: the call was cut at the turn's deadline, or not made because
    /// nothing was left of it.
    #[error("the turn budget of {ms} ms ran out")]
    TurnBudget {
        /// The configured turn budget (ms).
        ms: u64,
    },
    /// The arm's circuit breaker is open (the server failed repeatedly): no call was made.
    #[error("LLM arm {arm:?} is skipped: its circuit breaker is open")]
    BreakerOpen {
        /// The arm.
        arm: String,
    },
    /// Connection or protocol failure (refused, reset, TLS, unreadable body).
    #[error("LLM transport error: {0}")]
    Transport(String),
    /// The model answered nothing (no choice, no content, or only whitespace).
    #[error("LLM answered empty")]
    Empty,
    /// The reply failed the check before sending.
    #[error("LLM reply rejected: {0}")]
    Rejected(Rejection),
    /// The extraction answer was not the JSON asked for.
    #[error("LLM extraction answer invalid: {0}")]
    Invalid(String),
    /// A prompt template failed (a bug in `prompts/`).
    #[error(transparent)]
    Prompt(#[from] super::prompt::PromptError),
    /// The request could not be built (bad header value, builder error).
    #[error("LLM request could not be built: {0}")]
    Request(String),
    /// Extraction is switched off in `llm.toml`.
    #[error("LLM extraction is disabled")]
    Disabled,
}

impl LlmError {
    /// Stable label for metrics (`reason`) and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            LlmError::Timeout { .. } => "timeout",
            LlmError::TurnBudget { .. } => "turn_budget",
            LlmError::BreakerOpen { .. } => "breaker_open",
            LlmError::RateLimited { .. } => "rate_limited",
            LlmError::Status { .. } => "status",
            LlmError::Transport(_) => "transport",
            LlmError::Empty => "empty",
            LlmError::Rejected(r) => match r {
                Rejection::Empty => "empty",
                Rejection::BookingClaim => "rejected_booking_claim",
                Rejection::PromptLeak => "rejected_prompt_leak",
                Rejection::Link => "rejected_link",
                Rejection::Number => "rejected_number",
                Rejection::UnstatedTime => "rejected_unstated_time",
                Rejection::PaymentRequest => "rejected_payment_request",
            },
            LlmError::Invalid(_) => "invalid",
            LlmError::Prompt(_) => "prompt",
            LlmError::Request(_) => "request",
            LlmError::Disabled => "disabled",
        }
    }
}
