//! `state-machines/llm.toml`: the LLM arms of the A/B test (issue 5; seed §11.3-11.4 had two
//! hard-wired providers, Grok and Sea-Lion).
//!
//! The file is optional: absent means no LLM, and every `AskLlm` gets the core's template
//! reply exactly as before. Each `[[arm]]` is one OpenAI-compatible server + model. The API key
//! is never in the file: `api_key_env` names the environment variable that holds it, read once
//! at start. A missing variable is a start-up error naming the arm, not a silent empty key (the
//! seed sent `Bearer ` with an empty key and logged the 401 as a reply, §11.4).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

/// Per-attempt HTTP timeout when an arm sets none (ms). async-openai has no default timeout
/// (the seed's SDK waited 10 minutes, §11.4).
pub const DEFAULT_TIMEOUT_MS: u64 = 12_000;

/// Whole-call budget when the file sets none (ms): one attempt, the backoff and one retry must
/// fit, and the caller sends the template reply when it runs out. 25 s lets a 12 s attempt be
/// retried once after a fast 5xx, and stays well inside the 60 s turn lease.
pub const DEFAULT_BUDGET_MS: u64 = 25_000;

/// The turn budget when the file sets none (ms): every model call of one turn (extraction,
/// wording, retries) must end within it; the lead then gets the template at once (issue 15).
pub const DEFAULT_TURN_BUDGET_MS: u64 = 15_000;

/// The turn budget a reply call needs left after an extraction call when the file sets none
/// (ms): less, and the template goes out instead of a call the deadline would likely cut.
pub const DEFAULT_REPLY_MIN_BUDGET_MS: u64 = 4_000;

/// How far below the turn lease ([`crate::server::TURN_LEASE_MS`], 60 s) the turn budget must
/// stay (ms), so the store reads, the commit and the sends of a turn fit in the lease too.
pub const LEASE_MARGIN_MS: u64 = 10_000;

/// Largest voice note fetched for transcription when the file sets none (bytes): WhatsApp's
/// own limit for audio is 16 MB, OpenAI's transcription endpoint takes up to 25 MB.
pub const DEFAULT_TRANSCRIPTION_MAX_BYTES: u64 = 16 * 1024 * 1024;

/// Default `max_tokens`: WhatsApp replies are short; 300 tokens is ~1,000 characters.
pub const DEFAULT_MAX_TOKENS: u32 = 300;

/// Default sampling temperature (the seed used 0.8 for replies, §11.4).
pub const DEFAULT_TEMPERATURE: f32 = 0.7;

/// The file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    /// Whole-call budget in ms (attempt + backoff + at most one retry).
    #[serde(default)]
    budget_ms: Option<u64>,
    /// Every model call of one turn, in ms (default [`DEFAULT_TURN_BUDGET_MS`]).
    #[serde(default)]
    turn_budget_ms: Option<u64>,
    /// Run the structured-output extraction call (default true).
    #[serde(default)]
    extraction: Option<bool>,
    /// Turn budget (ms) a reply call needs left after an extraction call (default 4000).
    #[serde(default)]
    reply_min_budget_ms: Option<u64>,
    /// Consecutive failed calls that open an arm's circuit breaker (default 3).
    #[serde(default)]
    breaker_failures: Option<u32>,
    /// How long an open breaker skips the arm, in ms (default 30000).
    #[serde(default)]
    breaker_cooldown_ms: Option<u64>,
    /// Largest voice note fetched for transcription, in bytes (default 16 MiB).
    #[serde(default)]
    transcription_max_bytes: Option<u64>,
    /// Characters of one message in a request (default 1,000).
    #[serde(default)]
    max_message_chars: Option<usize>,
    /// Characters of one request, system prompt included (default 16,000).
    #[serde(default)]
    max_prompt_chars: Option<usize>,
    /// Lead messages per minute above which a contact's turn uses templates only (default 10).
    #[serde(default)]
    max_messages_per_minute: Option<u32>,
    /// The arms.
    #[serde(default, rename = "arm")]
    arms: Vec<FileArm>,
}

/// One `[[arm]]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileArm {
    name: String,
    base_url: String,
    model: String,
    #[serde(default)]
    api_key_env: Option<String>,
    #[serde(default)]
    temperature: Option<f32>,
    #[serde(default)]
    max_tokens: Option<u32>,
    #[serde(default)]
    max_tokens_field: Option<MaxTokensField>,
    weight: u32,
    #[serde(default)]
    timeout_ms: Option<u64>,
    /// Extra HTTP headers (e.g. OpenRouter's `HTTP-Referer`, `X-Title`). Not for secrets.
    #[serde(default)]
    headers: BTreeMap<String, String>,
    /// The model of `/audio/transcriptions` for voice notes without transcript (e.g.
    /// `whisper-1`); absent: this arm transcribes nothing.
    #[serde(default)]
    transcription_model: Option<String>,
    /// Price of a million prompt tokens (USD), for the cost figures.
    #[serde(default)]
    price_per_mtok_in: Option<f64>,
    /// Price of a million completion tokens (USD).
    #[serde(default)]
    price_per_mtok_out: Option<f64>,
}

/// Which request field carries the completion limit. OpenAI's newer models accept only
/// `max_completion_tokens`; many compatible servers (Ollama, llama.cpp, older vLLM) only the
/// classic `max_tokens`, which is the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaxTokensField {
    /// `max_tokens` (default; widest support).
    #[default]
    MaxTokens,
    /// `max_completion_tokens` (OpenAI reasoning and GPT-5 models).
    MaxCompletionTokens,
}

/// An API key read from the environment. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key (tests, or keys from elsewhere).
    pub fn new(key: impl Into<String>) -> Self {
        ApiKey(key.into())
    }

    /// The key, for the HTTP client only.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

/// One validated arm.
#[derive(Debug, Clone, PartialEq)]
pub struct ArmConfig {
    /// Stable name, used as the `arm` metric label and recorded on each assistant message.
    pub name: String,
    /// OpenAI-compatible API base including the version path, e.g. `https://api.x.ai/v1`,
    /// `http://localhost:11434/v1` (no trailing slash).
    pub base_url: String,
    /// Model id sent in every request.
    pub model: String,
    /// The environment variable the key came from (for messages; never the key).
    pub api_key_env: Option<String>,
    /// The key; `None` for local servers that need none (Ollama, llama.cpp, vLLM by default).
    pub api_key: Option<ApiKey>,
    /// Sampling temperature, 0.0..=2.0.
    pub temperature: f32,
    /// Completion token limit for replies.
    pub max_tokens: u32,
    /// The request field that carries `max_tokens`.
    pub max_tokens_field: MaxTokensField,
    /// Relative share of contacts (> 0).
    pub weight: u32,
    /// Per-attempt HTTP timeout (ms).
    pub timeout_ms: u64,
    /// Extra HTTP headers.
    pub headers: BTreeMap<String, String>,
    /// The transcription model (`/audio/transcriptions`) for voice notes without transcript;
    /// `None`: the arm transcribes nothing and such a note is answered as issue 14 says.
    pub transcription_model: Option<String>,
    /// What the arm's tokens cost (USD per million; zero when not configured).
    pub price: Price,
}

/// An arm's token prices (`price_per_mtok_in` / `price_per_mtok_out` in `llm.toml`), in US
/// dollars per million tokens; both zero when not configured (no cost is then reported).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Price {
    /// USD per million prompt (input) tokens.
    pub per_mtok_in: f64,
    /// USD per million completion (output) tokens.
    pub per_mtok_out: f64,
}

impl Price {
    /// What `prompt` and `completion` tokens cost, in millionths of a US dollar (rounded to
    /// the nearest): the unit of the `ari_llm_cost_micro_usd_total` counter.
    pub fn micro_usd(&self, prompt: u64, completion: u64) -> u64 {
        // A price per million tokens is exactly the price of one token in micro-USD.
        let micro = prompt as f64 * self.per_mtok_in + completion as f64 * self.per_mtok_out;
        micro.round().max(0.0) as u64
    }
}

/// The validated file.
#[derive(Debug, Clone, PartialEq)]
pub struct LlmConfig {
    /// Whole-call budget (ms), at least every arm's `timeout_ms`; a call also ends when the
    /// turn budget runs out, whichever comes first.
    pub budget_ms: u64,
    /// Every model call of one turn (extraction, wording, retries) ends within this many ms
    /// of the turn's first call; at most the turn lease minus [`LEASE_MARGIN_MS`] (50 s).
    pub turn_budget_ms: u64,
    /// Whether [`crate::llm::Llm::extract`] calls the model (false: it returns nothing).
    pub extraction: bool,
    /// After an extraction call, the reply is worded only when at least this much of the turn
    /// budget is left (ms, ≤ `turn_budget_ms`); else the template goes out.
    pub reply_min_budget_ms: u64,
    /// Consecutive failed calls of an arm that open its circuit breaker (≥ 1; default
    /// [`super::breaker::DEFAULT_FAILURES`]).
    pub breaker_failures: u32,
    /// How long an open breaker skips its arm (ms, > 0; default
    /// [`super::breaker::DEFAULT_COOLDOWN_MS`]).
    pub breaker_cooldown_ms: u64,
    /// Largest voice note fetched for transcription (bytes; default
    /// [`DEFAULT_TRANSCRIPTION_MAX_BYTES`]): a bigger one is not fetched, and the lead is asked
    /// to type.
    pub transcription_max_bytes: u64,
    /// What one request may carry (characters per message and per request; defaults
    /// [`super::caps::DEFAULT_MAX_MESSAGE_CHARS`], [`super::caps::DEFAULT_MAX_PROMPT_CHARS`]).
    pub caps: super::caps::Caps,
    /// A contact who sent more lead messages than this in the last minute gets template
    /// replies only, no model call (default [`super::caps::DEFAULT_MAX_MESSAGES_PER_MINUTE`]).
    pub max_messages_per_minute: u32,
    /// At least one arm, names unique.
    pub arms: Vec<ArmConfig>,
}

/// The file cannot be used; ARI refuses to start rather than run half-configured.
#[derive(Debug, thiserror::Error)]
pub enum LlmConfigError {
    /// Unreadable file.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Not valid TOML for this layout (unknown keys included).
    #[error("invalid LLM config: {0}")]
    Parse(String),
    /// A rule is broken; the message names the arm and the key.
    #[error("invalid LLM config: {0}")]
    Invalid(String),
}

impl LlmConfig {
    /// Reads `path`. `Ok(None)` when the file does not exist (no LLM: template replies).
    /// API keys are read from the process environment.
    pub fn load(path: &Path) -> Result<Option<Self>, LlmConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(LlmConfigError::Read {
                    path: path.display().to_string(),
                    source,
                });
            }
        };
        Self::parse(&text, |name| std::env::var(name).ok()).map(Some)
    }

    /// Parses and validates `text`; `env` looks up environment variables (injected for tests).
    pub fn parse(text: &str, env: impl Fn(&str) -> Option<String>) -> Result<Self, LlmConfigError> {
        let file: FileConfig =
            toml::from_str(text).map_err(|e| LlmConfigError::Parse(e.to_string()))?;
        if file.arms.is_empty() {
            return Err(LlmConfigError::Invalid(
                "no [[arm]]: delete the file to run without an LLM".into(),
            ));
        }
        let mut arms: Vec<ArmConfig> = Vec::with_capacity(file.arms.len());
        for a in file.arms {
            let arm = validate_arm(a, &env)?;
            if arms.iter().any(|x| x.name == arm.name) {
                return Err(LlmConfigError::Invalid(format!(
                    "arm {:?} is defined twice",
                    arm.name
                )));
            }
            arms.push(arm);
        }
        let budget_ms = file.budget_ms.unwrap_or(DEFAULT_BUDGET_MS);
        if let Some(a) = arms.iter().find(|a| a.timeout_ms > budget_ms) {
            return Err(LlmConfigError::Invalid(format!(
                "arm {:?}: timeout_ms {} exceeds budget_ms {budget_ms}",
                a.name, a.timeout_ms
            )));
        }
        let turn_budget_ms = turn_budget(file.turn_budget_ms)?;
        let breaker_failures = file
            .breaker_failures
            .unwrap_or(super::breaker::DEFAULT_FAILURES);
        let breaker_cooldown_ms = file
            .breaker_cooldown_ms
            .unwrap_or(super::breaker::DEFAULT_COOLDOWN_MS);
        if breaker_failures == 0 || breaker_cooldown_ms == 0 {
            return Err(LlmConfigError::Invalid(format!(
                "breaker_failures ({breaker_failures}) and breaker_cooldown_ms \
                 ({breaker_cooldown_ms}) must be > 0"
            )));
        }
        let reply_min_budget_ms = file
            .reply_min_budget_ms
            .unwrap_or(DEFAULT_REPLY_MIN_BUDGET_MS);
        if reply_min_budget_ms > turn_budget_ms {
            return Err(LlmConfigError::Invalid(format!(
                "reply_min_budget_ms {reply_min_budget_ms} exceeds turn_budget_ms \
                 {turn_budget_ms}: no reply would ever be worded after an extraction"
            )));
        }
        let transcription_max_bytes = file
            .transcription_max_bytes
            .unwrap_or(DEFAULT_TRANSCRIPTION_MAX_BYTES);
        if transcription_max_bytes == 0 {
            return Err(LlmConfigError::Invalid(
                "transcription_max_bytes must be > 0 (omit transcription_model to transcribe nothing)"
                    .into(),
            ));
        }
        let caps = super::caps::Caps {
            message_chars: file
                .max_message_chars
                .unwrap_or(super::caps::DEFAULT_MAX_MESSAGE_CHARS),
            prompt_chars: file
                .max_prompt_chars
                .unwrap_or(super::caps::DEFAULT_MAX_PROMPT_CHARS),
        };
        if caps.message_chars == 0 || caps.prompt_chars < caps.message_chars {
            return Err(LlmConfigError::Invalid(format!(
                "max_message_chars ({}) must be > 0 and at most max_prompt_chars ({})",
                caps.message_chars, caps.prompt_chars
            )));
        }
        let max_messages_per_minute = file
            .max_messages_per_minute
            .unwrap_or(super::caps::DEFAULT_MAX_MESSAGES_PER_MINUTE);
        if max_messages_per_minute == 0 {
            return Err(LlmConfigError::Invalid(
                "max_messages_per_minute must be > 0 (delete llm.toml to run without a model)"
                    .into(),
            ));
        }
        Ok(LlmConfig {
            caps,
            max_messages_per_minute,
            transcription_max_bytes,
            budget_ms,
            turn_budget_ms,
            reply_min_budget_ms,
            breaker_failures,
            breaker_cooldown_ms,
            extraction: file.extraction.unwrap_or(true),
            arms,
        })
    }
}

/// `ari check-config`: validates `<dir>/llm.toml` as `ari serve` does (keys read from the
/// environment). `Ok(None)` when there is no such file, else a one-line summary.
pub fn check_dir(dir: &Path) -> Result<Option<String>, LlmConfigError> {
    let path = dir.join(super::CONFIG_FILE);
    let Some(cfg) = LlmConfig::load(&path)? else {
        return Ok(None);
    };
    Ok(Some(format!(
        "{}: valid ({} arm(s), turn budget {} ms)",
        path.display(),
        cfg.arms.len(),
        cfg.turn_budget_ms
    )))
}

/// The turn budget as written, or the default; refused when 0 or closer than
/// [`LEASE_MARGIN_MS`] to the turn lease.
fn turn_budget(written: Option<u64>) -> Result<u64, LlmConfigError> {
    let ms = written.unwrap_or(DEFAULT_TURN_BUDGET_MS);
    let lease = u64::try_from(crate::server::TURN_LEASE_MS).unwrap_or(0);
    let max = lease.saturating_sub(LEASE_MARGIN_MS);
    if ms == 0 || ms > max {
        return Err(LlmConfigError::Invalid(format!(
            "turn_budget_ms {ms} must be between 1 and {max} (the {lease} ms turn lease minus \
             {LEASE_MARGIN_MS} ms for the store and the sends)"
        )));
    }
    Ok(ms)
}

fn validate_arm(
    a: FileArm,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<ArmConfig, LlmConfigError> {
    let name = a.name.trim().to_string();
    let bad = |msg: String| LlmConfigError::Invalid(format!("arm {name:?}: {msg}"));
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
    {
        return Err(LlmConfigError::Invalid(format!(
            "arm name {:?} must be non-empty ASCII letters, digits, '-', '_' or '.'",
            a.name
        )));
    }
    if a.weight == 0 {
        return Err(bad(
            "weight must be > 0 (remove the arm to disable it)".into()
        ));
    }
    if a.model.trim().is_empty() {
        return Err(bad("model is empty".into()));
    }
    let base_url = a.base_url.trim().trim_end_matches('/').to_string();
    match reqwest::Url::parse(&base_url) {
        Ok(u) if (u.scheme() == "http" || u.scheme() == "https") && u.host().is_some() => {}
        _ => {
            return Err(bad(format!(
                "base_url {:?} is not an http(s) URL such as https://api.openai.com/v1",
                a.base_url
            )));
        }
    }
    let temperature = a.temperature.unwrap_or(DEFAULT_TEMPERATURE);
    if !(0.0..=2.0).contains(&temperature) {
        return Err(bad(format!(
            "temperature {temperature} is not in 0.0..=2.0"
        )));
    }
    let max_tokens = a.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS);
    if max_tokens == 0 {
        return Err(bad("max_tokens must be > 0".into()));
    }
    let timeout_ms = a.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS);
    if timeout_ms == 0 {
        return Err(bad("timeout_ms must be > 0".into()));
    }
    for k in a.headers.keys() {
        let lower = k.to_ascii_lowercase();
        if lower == "authorization" || lower.contains("key") || lower.contains("token") {
            return Err(bad(format!(
                "header {k:?} looks like a credential: use api_key_env, never a key in the file"
            )));
        }
    }
    let api_key = match a.api_key_env.as_deref().map(str::trim) {
        None => None,
        Some("") => {
            return Err(bad(
                "api_key_env is empty; omit it for servers without keys".into(),
            ));
        }
        Some(var) => match env(var) {
            Some(v) if !v.trim().is_empty() => Some(ApiKey(v.trim().to_string())),
            _ => {
                return Err(bad(format!(
                    "environment variable {var} (api_key_env) is not set or empty"
                )));
            }
        },
    };
    let transcription_model = match a.transcription_model.as_deref().map(str::trim) {
        Some("") => {
            return Err(bad(
                "transcription_model is empty; omit it to transcribe nothing".into(),
            ));
        }
        other => other.map(str::to_string),
    };
    let price = price(a.price_per_mtok_in, a.price_per_mtok_out).map_err(bad)?;
    Ok(ArmConfig {
        transcription_model,
        price,
        name,
        base_url,
        model: a.model.trim().to_string(),
        api_key_env: a.api_key_env.map(|s| s.trim().to_string()),
        api_key,
        temperature,
        max_tokens,
        max_tokens_field: a.max_tokens_field.unwrap_or_default(),
        weight: a.weight,
        timeout_ms,
        headers: a.headers,
    })
}

/// An arm's prices as written; refused when negative or not a number.
fn price(per_mtok_in: Option<f64>, per_mtok_out: Option<f64>) -> Result<Price, String> {
    let check = |key: &str, v: Option<f64>| match v {
        Some(p) if !p.is_finite() || p < 0.0 => Err(format!(
            "{key} {p} must be a price >= 0 (USD per million tokens)"
        )),
        other => Ok(other.unwrap_or(0.0)),
    };
    Ok(Price {
        per_mtok_in: check("price_per_mtok_in", per_mtok_in)?,
        per_mtok_out: check("price_per_mtok_out", per_mtok_out)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "XAI_API_KEY").then(|| "xai-secret".to_string())
    }

    const TWO_ARMS: &str = r#"
        [[arm]]
        name = "grok"
        base_url = "https://api.x.ai/v1/"
        model = "grok-3"
        api_key_env = "XAI_API_KEY"
        temperature = 0.8
        max_tokens = 150
        weight = 50

        [[arm]]
        name = "local"
        base_url = "http://localhost:11434/v1"
        model = "llama3.1"
        weight = 50
        timeout_ms = 20000
    "#;

    #[test]
    fn parses_arms_with_defaults_and_reads_keys_from_env() {
        let c = LlmConfig::parse(TWO_ARMS, env).unwrap();
        assert_eq!(c.budget_ms, DEFAULT_BUDGET_MS);
        assert_eq!(c.turn_budget_ms, DEFAULT_TURN_BUDGET_MS);
        assert!(c.extraction);
        assert_eq!(c.arms.len(), 2);
        let g = &c.arms[0];
        assert_eq!(g.base_url, "https://api.x.ai/v1");
        assert_eq!(g.api_key, Some(ApiKey::new("xai-secret")));
        assert_eq!(g.timeout_ms, DEFAULT_TIMEOUT_MS);
        assert_eq!(c.arms[1].api_key, None);
        assert_eq!(c.arms[1].max_tokens, DEFAULT_MAX_TOKENS);
        assert!(!format!("{c:?}").contains("xai-secret"));
        assert_eq!(c.caps, crate::llm::caps::Caps::default());
        assert_eq!(
            c.max_messages_per_minute,
            crate::llm::caps::DEFAULT_MAX_MESSAGES_PER_MINUTE
        );
        let capped = format!("max_message_chars = 200\nmax_prompt_chars = 4000\n{TWO_ARMS}");
        let c = LlmConfig::parse(&capped, env).unwrap();
        assert_eq!((c.caps.message_chars, c.caps.prompt_chars), (200, 4000));
        for bad in [
            "max_message_chars = 0\n",
            "max_message_chars = 5000\nmax_prompt_chars = 4000\n",
            "max_messages_per_minute = 0\n",
        ] {
            assert!(
                LlmConfig::parse(&format!("{bad}{TWO_ARMS}"), env).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn errors_name_the_arm() {
        let missing_env = LlmConfig::parse(TWO_ARMS, |_| None)
            .unwrap_err()
            .to_string();
        assert!(missing_env.contains("\"grok\"") && missing_env.contains("XAI_API_KEY"));

        let zero = TWO_ARMS.replace("weight = 50\n\n", "weight = 0\n\n");
        let e = LlmConfig::parse(&zero, env).unwrap_err().to_string();
        assert!(e.contains("\"grok\"") && e.contains("weight"), "{e}");

        let bad_url = TWO_ARMS.replace("http://localhost:11434/v1", "localhost:11434");
        let e = LlmConfig::parse(&bad_url, env).unwrap_err().to_string();
        assert!(e.contains("\"local\"") && e.contains("base_url"), "{e}");

        let slow = TWO_ARMS.replace("timeout_ms = 20000", "timeout_ms = 90000");
        let e = LlmConfig::parse(&slow, env).unwrap_err().to_string();
        assert!(e.contains("\"local\"") && e.contains("budget_ms"), "{e}");

        let dup = TWO_ARMS.replace("name = \"local\"", "name = \"grok\"");
        assert!(LlmConfig::parse(&dup, env).is_err());
        assert!(LlmConfig::parse("budget_ms = 1000", env).is_err());
        assert!(LlmConfig::parse("[[arm]]\nnme = \"x\"", env).is_err());
    }

    #[test]
    fn the_turn_budget_stays_10_s_below_the_turn_lease() {
        let with = |ms: u64| LlmConfig::parse(&format!("turn_budget_ms = {ms}\n{TWO_ARMS}"), env);
        assert_eq!(with(50_000).unwrap().turn_budget_ms, 50_000);
        let e = with(300).unwrap_err().to_string();
        assert!(e.contains("reply_min_budget_ms"), "{e}");
        let e = with(50_001).unwrap_err().to_string();
        assert!(e.contains("turn_budget_ms") && e.contains("60000"), "{e}");
        assert!(with(0).is_err());
        let no_breaker = format!("breaker_failures = 0\n{TWO_ARMS}");
        let e = LlmConfig::parse(&no_breaker, env).unwrap_err().to_string();
        assert!(e.contains("breaker_failures"), "{e}");
    }

    #[test]
    fn transcription_and_prices_are_per_arm() {
        let t = TWO_ARMS.replace(
            "timeout_ms = 20000",
            "timeout_ms = 20000\ntranscription_model = \"whisper-1\"\nprice_per_mtok_in = 0.15\nprice_per_mtok_out = 0.6",
        );
        let c = LlmConfig::parse(&format!("transcription_max_bytes = 1000\n{t}"), env).unwrap();
        assert_eq!(c.transcription_max_bytes, 1000);
        assert_eq!(c.arms[0].transcription_model, None);
        assert_eq!(c.arms[0].price, Price::default());
        let local = &c.arms[1];
        assert_eq!(local.transcription_model.as_deref(), Some("whisper-1"));
        // 10,000 prompt tokens at $0.15/M and 1,000 completion tokens at $0.60/M: $0.0021.
        assert_eq!(local.price.micro_usd(10_000, 1_000), 2_100);
        let default = LlmConfig::parse(TWO_ARMS, env).unwrap();
        assert_eq!(
            default.transcription_max_bytes,
            DEFAULT_TRANSCRIPTION_MAX_BYTES
        );
        for bad in [
            "price_per_mtok_in = -1.0",
            "price_per_mtok_out = nan",
            "transcription_model = \" \"",
        ] {
            let t = TWO_ARMS.replace("timeout_ms = 20000", &format!("timeout_ms = 20000\n{bad}"));
            let e = LlmConfig::parse(&t, env).unwrap_err().to_string();
            assert!(e.contains("\"local\""), "{bad}: {e}");
        }
        assert!(
            LlmConfig::parse(&format!("transcription_max_bytes = 0\n{TWO_ARMS}"), env).is_err()
        );
    }

    #[test]
    fn a_key_in_a_header_is_refused() {
        let t = TWO_ARMS.replace(
            "timeout_ms = 20000",
            "timeout_ms = 20000\nheaders = { Authorization = \"Bearer x\" }",
        );
        assert!(LlmConfig::parse(&t, env).is_err());
    }

    #[test]
    fn an_absent_file_means_no_llm() {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            LlmConfig::load(&dir.path().join("llm.toml"))
                .unwrap()
                .is_none()
        );
    }
}
