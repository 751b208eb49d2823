//! [`Llm`]: the arms' async-openai clients, the reply and extraction calls, their budgets.
//!
//! Budgets (issue 5): every attempt has the arm's `timeout_ms` (set on the reqwest client,
//! since async-openai has none); async-openai's own retry layer is lowered from 3 retries to
//! [`MAX_RETRIES`] = 1 (it retries 429 honouring an integer `Retry-After`, 5xx and connect
//! errors; a timeout is never retried); the whole call, retry and backoff included, is cut
//! at `budget_ms`; and every call of one turn ends by the turn's deadline ([`TurnBudget`],
//! `turn_budget_ms`): a call it leaves no time for is not made. Any failure is an
//! [`LlmError`]: the caller sends the template reply.
//!
//! Reply and extraction are two calls on purpose: extraction must run before the flow core
//! decides (its fields feed the decision), the reply after (it words the decision).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use std::sync::{Mutex, MutexGuard, PoisonError};

use super::breaker::{Admission, Breaker, BreakerState, Outcome};
use super::budget::TurnBudget;

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::middleware::ReqwestService;
use async_openai::middleware::retry::OpenAIRetryLayer;
use async_openai::types::chat::{
    ChatCompletionRequestAssistantMessage, ChatCompletionRequestMessage,
    ChatCompletionRequestSystemMessage, ChatCompletionRequestUserMessage,
    CreateChatCompletionRequest, CreateChatCompletionRequestArgs, ResponseFormat,
    ResponseFormatJsonSchema,
};

use super::config::{ArmConfig, LlmConfig, LlmConfigError, MaxTokensField};
use super::error::LlmError;
use super::extract::{ExtractedFields, Grounding, SCHEMA_NAME, parse_answer, schema};
use super::guard::{Rejection, allowed_for, check_reply};
use super::metrics::{
    CallKind, record_booking, record_breaker, record_call, record_fallback, record_lead,
    record_skip,
};
use super::prompt::{Prompts, leak_markers};
use super::request::{ChatMessage, ExtractRequest, HISTORY_MESSAGES, ReplyRequest, Role};
use crate::sanitize;
use crate::telemetry::mask_phone;

mod transcribe;
pub use transcribe::{AudioClip, Transcript};

/// Retries after the first attempt (429 / 5xx / connect errors), within the budget.
pub const MAX_RETRIES: usize = 1;

/// Completion limit of an extraction answer (eight short JSON strings).
const EXTRACT_MAX_TOKENS: u32 = 400;

/// Longest server error message kept in an error (characters).
const MAX_ERROR_CHARS: usize = 300;

/// A model reply that passed the check, with what the assistant message records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LlmReply {
    /// The text to send (trimmed, within 4,096 characters).
    pub text: String,
    /// The model the server says answered (the configured one if it does not say).
    pub model: String,
    /// The arm used.
    pub arm: String,
    /// Prompt tokens, when the server reports usage.
    pub prompt_tokens: Option<u32>,
    /// Completion tokens, when the server reports usage.
    pub completion_tokens: Option<u32>,
    /// Wall time of the call including a retry (ms).
    pub latency_ms: u64,
}

/// One arm: its settings, client and circuit breaker.
struct Arm {
    cfg: ArmConfig,
    client: Client<OpenAIConfig>,
    breaker: Mutex<Breaker>,
}

impl Arm {
    /// The breaker (a panic elsewhere while holding it leaves plain data: still usable).
    fn breaker(&self) -> MutexGuard<'_, Breaker> {
        self.breaker.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records an admitted call's outcome; logs and publishes a change of state.
    fn record(&self, admitted: Admission, outcome: Outcome) {
        let now = tokio::time::Instant::now();
        let (before, after) = {
            let mut b = self.breaker();
            let before = b.state(now);
            b.record(admitted, outcome, now);
            (before, b.state(now))
        };
        if before != after {
            record_breaker(&self.cfg.name, after);
            tracing::warn!(arm = %self.cfg.name, from = before.as_str(), to = after.as_str(),
                "LLM circuit breaker changed state");
        }
    }
}

/// An admitted call: its outcome goes to the arm's breaker when it is dropped (a call dropped
/// before [`Permit::finish`], e.g. for a newer message, gives no verdict).
struct Permit<'a> {
    arm: &'a Arm,
    admitted: Admission,
    outcome: Outcome,
}

impl Permit<'_> {
    /// The call ended with `result`.
    fn finish<T>(mut self, result: &Result<T, LlmError>) {
        self.outcome = Outcome::of(result);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.arm.record(self.admitted, self.outcome);
    }
}

impl std::fmt::Debug for Arm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Arm").field("cfg", &self.cfg).finish()
    }
}

/// The LLM library: build once at start ([`Llm::load`] or [`Llm::new`]), share behind an
/// `Arc`; every method takes `&self` and is safe to call concurrently.
#[derive(Debug)]
pub struct Llm {
    arms: Vec<Arm>,
    weights: Vec<u32>,
    budget_ms: u64,
    turn_budget_ms: u64,
    reply_min_budget_ms: u64,
    extraction: bool,
    prompts: Prompts,
    transcription_max_bytes: u64,
    caps: super::caps::Caps,
    max_messages_per_minute: u32,
}

impl Llm {
    /// Each arm's circuit breaker, `(arm name, state)` in config order, for `/readyz`; the
    /// `ari_llm_breaker_state` gauges are refreshed on the way (an open breaker whose cool-down
    /// ended shows half-open).
    pub fn breakers(&self) -> Vec<(String, BreakerState)> {
        let now = tokio::time::Instant::now();
        self.arms
            .iter()
            .map(|a| {
                let state = a.breaker().state(now);
                record_breaker(&a.cfg.name, state);
                (a.cfg.name.clone(), state)
            })
            .collect()
    }
}

/// What came back from one chat completion.
struct Answer {
    content: String,
    model: String,
    prompt_tokens: Option<u32>,
    completion_tokens: Option<u32>,
}

fn short(s: &str) -> String {
    s.chars().take(MAX_ERROR_CHARS).collect()
}

/// async-openai's error → ours. Bodies are cut short; nothing here contains the key.
fn map_error(e: OpenAIError, timeout_ms: u64) -> LlmError {
    match e {
        OpenAIError::Reqwest(r) if r.is_timeout() => LlmError::Timeout { ms: timeout_ms },
        OpenAIError::Reqwest(r) => LlmError::Transport(short(&r.without_url().to_string())),
        OpenAIError::ApiError(a) if a.status_code.as_u16() == 429 => LlmError::RateLimited {
            message: short(&a.api_error.message),
        },
        OpenAIError::ApiError(a) => LlmError::Status {
            status: a.status_code.as_u16(),
            message: short(&a.api_error.message),
        },
        OpenAIError::JSONDeserialize(err, _) => {
            LlmError::Transport(format!("unreadable answer: {}", short(&err.to_string())))
        }
        OpenAIError::InvalidArgument(m) => LlmError::Request(short(&m)),
        other => LlmError::Transport(short(&other.to_string())),
    }
}

fn build_client(cfg: &ArmConfig) -> Result<Client<OpenAIConfig>, String> {
    let timeout = Duration::from_millis(cfg.timeout_ms);
    let http = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .build()
        .map_err(|e| format!("HTTP client: {e}"))?;
    // Explicit key, org and project: `OpenAIConfig::new()` would otherwise pick up
    // OPENAI_API_KEY / OPENAI_ORG_ID from the environment and send them to any server.
    let mut oa = OpenAIConfig::new()
        .with_api_base(cfg.base_url.clone())
        .with_api_key(cfg.api_key.as_ref().map(|k| k.expose()).unwrap_or(""))
        .with_org_id("")
        .with_project_id("");
    for (k, v) in &cfg.headers {
        let name = reqwest::header::HeaderName::from_bytes(k.as_bytes())
            .map_err(|e| format!("header {k:?}: {e}"))?;
        oa = oa
            .with_header(name, v.as_str())
            .map_err(|e| format!("header {k:?}: {e}"))?;
    }
    let service = tower::ServiceBuilder::new()
        .layer(OpenAIRetryLayer::new(MAX_RETRIES))
        .service(ReqwestService::new(http.clone()));
    Ok(Client::with_config(oa)
        .with_http_client(http)
        .with_http_service(service))
}

/// A history message as the chat request carries it; the lead's text as prompt data
/// ([`crate::sanitize::prompt`]).
fn to_message(m: &ChatMessage) -> ChatCompletionRequestMessage {
    match m.role {
        Role::Lead => {
            ChatCompletionRequestUserMessage::from(crate::sanitize::prompt(&m.text, usize::MAX))
                .into()
        }
        Role::Assistant => ChatCompletionRequestAssistantMessage::from(m.text.as_str()).into(),
    }
}

impl Llm {
    /// Reads `path` (e.g. `state-machines/llm.toml`) and builds the clients, with the prompts
    /// of the file's folder (`<flow_dir>/prompts/` overriding the compiled ones). `Ok(None)`
    /// when the file does not exist: run without an LLM.
    pub fn load(path: &Path) -> Result<Option<Llm>, LlmConfigError> {
        match LlmConfig::load(path)? {
            Some(cfg) => Llm::with_prompts_of(cfg, path.parent()).map(Some),
            None => Ok(None),
        }
    }

    /// Builds the clients for a validated config, with the compiled prompts.
    pub fn new(config: LlmConfig) -> Result<Llm, LlmConfigError> {
        Llm::with_prompts_of(config, None)
    }

    /// Builds the clients for a validated config, with `flow_dir`'s prompt overrides.
    pub fn with_prompts_of(
        config: LlmConfig,
        flow_dir: Option<&Path>,
    ) -> Result<Llm, LlmConfigError> {
        let prompts =
            Prompts::load(flow_dir).map_err(|e| LlmConfigError::Invalid(e.to_string()))?;
        let mut arms = Vec::with_capacity(config.arms.len());
        let cooldown = Duration::from_millis(config.breaker_cooldown_ms);
        for cfg in config.arms {
            let client = build_client(&cfg)
                .map_err(|e| LlmConfigError::Invalid(format!("arm {:?}: {e}", cfg.name)))?;
            let breaker = Mutex::new(Breaker::new(config.breaker_failures, cooldown));
            record_breaker(&cfg.name, BreakerState::Closed);
            arms.push(Arm {
                cfg,
                client,
                breaker,
            });
        }
        if arms.is_empty() {
            return Err(LlmConfigError::Invalid("no arm".into()));
        }
        Ok(Llm {
            weights: arms.iter().map(|a| a.cfg.weight).collect(),
            arms,
            budget_ms: config.budget_ms,
            turn_budget_ms: config.turn_budget_ms,
            reply_min_budget_ms: config.reply_min_budget_ms,
            extraction: config.extraction,
            prompts,
            transcription_max_bytes: config.transcription_max_bytes,
            caps: config.caps,
            max_messages_per_minute: config.max_messages_per_minute,
        })
    }

    /// Lead messages per minute above which a contact's turn makes no model call (`llm.toml`
    /// `max_messages_per_minute`).
    pub fn max_messages_per_minute(&self) -> u32 {
        self.max_messages_per_minute
    }

    fn arm(&self, contact: &str) -> &Arm {
        let i = super::arm::assign(contact, &self.weights).unwrap_or(0);
        &self.arms[i.min(self.arms.len() - 1)]
    }

    /// The arm name of a contact (sticky: a function of the number and the weights).
    pub fn arm_for(&self, contact: &str) -> &str {
        &self.arm(contact).cfg.name
    }

    /// A new turn's budget: `turn_budget_ms` from now. Start it once per turn and hand it to
    /// every call of the turn.
    pub fn turn_budget(&self) -> TurnBudget {
        TurnBudget::starting_now(self.turn_budget_ms)
    }

    /// After an extraction call of the turn: whether enough of `budget` is left to word the
    /// reply (`reply_min_budget_ms`). `false` is counted as a skipped reply call
    /// (`reason="low_budget"`) for `contact`'s arm: the caller sends the template. A spent
    /// budget answers `true`: the reply call itself then reports `turn_budget`.
    pub fn may_word_after_extraction(&self, contact: &str, budget: &TurnBudget) -> bool {
        let left = budget.remaining();
        if left.is_zero() || left >= Duration::from_millis(self.reply_min_budget_ms) {
            return true;
        }
        record_skip(self.arm_for(contact), CallKind::Reply, "low_budget");
        tracing::info!(
            left_ms = left.as_millis() as u64,
            reply_min_budget_ms = self.reply_min_budget_ms,
            "too little turn budget left after the extraction: the template goes out"
        );
        false
    }

    /// Whether the extraction call is switched on (`extraction` in `llm.toml`).
    pub fn extraction_enabled(&self) -> bool {
        self.extraction
    }

    /// Re-reads `flow_dir`'s prompt overrides (on a flow reload): valid ones apply from the
    /// next call and are logged; a broken one is logged with `file:line` and the previous
    /// prompts keep running.
    pub fn reload_prompts(&self, flow_dir: &Path) {
        match self.prompts.reload(flow_dir) {
            Ok(overrides) => tracing::info!(?overrides, "prompts reloaded"),
            Err(e) => {
                tracing::error!(error = %e, "prompt template rejected; previous prompts stay")
            }
        }
    }

    /// The prompts (for callers that want to log or test a rendered prompt).
    pub fn prompts(&self) -> &Prompts {
        &self.prompts
    }

    /// Counts a new lead for the contact's arm (call once per new conversation).
    pub fn record_new_lead(&self, contact: &str) {
        record_lead(self.arm_for(contact));
    }

    /// Counts a booking for the contact's arm (call on `appointment_booked`).
    pub fn record_booking(&self, contact: &str) {
        record_booking(self.arm_for(contact));
    }

    /// Words the core's decision: one chat completion with the stage's system prompt and the
    /// recent history, checked before it is returned. Every `Err` means "send
    /// `fallback.text`" and has been counted in `ari_llm_fallbacks_total`.
    /// A call on its own: a fresh [`TurnBudget`]. A turn uses [`Llm::reply_within`].
    pub async fn reply(&self, req: &ReplyRequest) -> Result<LlmReply, LlmError> {
        self.reply_within(req, &self.turn_budget()).await
    }

    /// [`Llm::reply`] within the turn's `budget`: no call when it is spent, cut at its
    /// deadline otherwise.
    pub async fn reply_within(
        &self,
        req: &ReplyRequest,
        budget: &TurnBudget,
    ) -> Result<LlmReply, LlmError> {
        let arm = self.arm(&req.contact);
        let result = self.reply_on(arm, req, budget).await;
        if let Err(e) = &result {
            record_fallback(&arm.cfg.name, e.kind());
            tracing::warn!(
                arm = %arm.cfg.name,
                contact = %mask_phone(&req.contact),
                kind = e.kind(),
                error = %e,
                "LLM reply failed; sending the template reply"
            );
        }
        result
    }

    async fn reply_on(
        &self,
        arm: &Arm,
        req: &ReplyRequest,
        budget: &TurnBudget,
    ) -> Result<LlmReply, LlmError> {
        let permit = self.admit(arm, CallKind::Reply, budget)?;
        let system = self.prompts.system(req)?;
        let markers = leak_markers(&system);
        let system_chars = system.chars().count();
        let mut messages: Vec<ChatCompletionRequestMessage> =
            vec![ChatCompletionRequestSystemMessage::from(system).into()];
        let skip = req.recent.len().saturating_sub(HISTORY_MESSAGES);
        let recent = self.caps.fit_history(system_chars, &req.recent[skip..]);
        messages.extend(recent.iter().map(to_message));
        if req.recent.last().is_none_or(|m| m.role != Role::Lead) {
            // Some servers refuse a conversation that does not end with a user turn.
            messages
                .push(ChatCompletionRequestUserMessage::from("(Tulis balasan berikutnya.)").into());
        }
        let request = self.request(arm, messages, arm.cfg.max_tokens, None)?;
        let started = Instant::now();
        let answer = self.send(arm, request, budget).await;
        let latency = started.elapsed();
        let tokens = answer
            .as_ref()
            .map(|a| (a.prompt_tokens, a.completion_tokens))
            .unwrap_or((None, None));
        permit.finish(&answer);
        let result = answer.and_then(|a| {
            let allowed = allowed_for(req);
            let text =
                check_reply(&a.content, req.booked, &markers, &allowed).map_err(|r| match r {
                    Rejection::Empty => LlmError::Empty,
                    other => LlmError::Rejected(other),
                })?;
            Ok(LlmReply {
                text,
                model: a.model,
                arm: arm.cfg.name.clone(),
                prompt_tokens: a.prompt_tokens,
                completion_tokens: a.completion_tokens,
                latency_ms: latency.as_millis() as u64,
            })
        });
        record_call(
            &arm.cfg,
            CallKind::Reply,
            latency,
            tokens,
            result.as_ref().err().map(LlmError::kind),
        );
        result
    }

    /// Lead fields from the latest messages: a structured-output call (JSON schema), values
    /// validated. Merge with the rules' result with [`super::extract::merge`]. An `Err` means
    /// "use the rules' result alone".
    /// A call on its own: a fresh [`TurnBudget`]. A turn uses [`Llm::extract_within`].
    pub async fn extract(&self, req: &ExtractRequest) -> Result<ExtractedFields, LlmError> {
        self.extract_within(req, &self.turn_budget()).await
    }

    /// [`Llm::extract`] within the turn's `budget`: no call when it is spent, cut at its
    /// deadline otherwise.
    pub async fn extract_within(
        &self,
        req: &ExtractRequest,
        budget: &TurnBudget,
    ) -> Result<ExtractedFields, LlmError> {
        if !self.extraction {
            return Err(LlmError::Disabled);
        }
        let arm = self.arm(&req.contact);
        let result = self.extract_on(arm, req, budget).await;
        if let Err(e) = &result {
            tracing::warn!(
                arm = %arm.cfg.name,
                contact = %mask_phone(&req.contact),
                kind = e.kind(),
                error = %e,
                "LLM extraction failed; using the rule-based fields only"
            );
        }
        result
    }

    async fn extract_on(
        &self,
        arm: &Arm,
        req: &ExtractRequest,
        budget: &TurnBudget,
    ) -> Result<ExtractedFields, LlmError> {
        let permit = self.admit(arm, CallKind::Extract, budget)?;
        let system = self.prompts.extraction(req)?;
        // The transcript's labels ("RIWAYAT:", "Lead: "...) are counted with the prompt.
        let overhead = system.chars().count() + 32 + 8 * (req.history.len() + req.latest.len());
        let skip = req.history.len().saturating_sub(HISTORY_MESSAGES);
        let (history, latest) =
            self.caps
                .fit_extraction(overhead, &req.history[skip..], &req.latest);
        let capped = ExtractRequest {
            history,
            latest,
            ..req.clone()
        };
        let transcript = super::prompt::extraction_transcript(&capped);
        let messages = vec![
            ChatCompletionRequestSystemMessage::from(system).into(),
            ChatCompletionRequestUserMessage::from(transcript).into(),
        ];
        let format = ResponseFormat::JsonSchema {
            json_schema: ResponseFormatJsonSchema {
                description: Some(
                    "Lead data stated in the latest messages; null when not stated".into(),
                ),
                name: SCHEMA_NAME.into(),
                schema: schema(),
                strict: Some(true),
            },
        };
        let request = self.request(arm, messages, EXTRACT_MAX_TOKENS, Some(format))?;
        let started = Instant::now();
        let answer = self.send(arm, request, budget).await;
        let latency = started.elapsed();
        let tokens = answer
            .as_ref()
            .map(|a| (a.prompt_tokens, a.completion_tokens))
            .unwrap_or((None, None));
        permit.finish(&answer);
        let result = answer.and_then(|a| {
            if a.content.trim().is_empty() {
                return Err(LlmError::Empty);
            }
            let grounding = Grounding {
                latest: &req.latest,
                current_year: chrono::Datelike::year(&req.now.with_timezone(&req.time_zone)),
            };
            let (fields, rejected) =
                parse_answer(&a.content, grounding).map_err(LlmError::Invalid)?;
            if !rejected.is_empty() {
                tracing::info!(arm = %arm.cfg.name, rejected = %sanitize::log(&format!("{rejected:?}")),
                    "model values dropped: not grounded in the lead's words or not valid");
            }
            Ok(ExtractedFields {
                fields,
                rejected,
                model: a.model,
                arm: arm.cfg.name.clone(),
                prompt_tokens: a.prompt_tokens,
                completion_tokens: a.completion_tokens,
                latency_ms: latency.as_millis() as u64,
            })
        });
        record_call(
            &arm.cfg,
            CallKind::Extract,
            latency,
            tokens,
            result.as_ref().err().map(LlmError::kind),
        );
        result
    }

    fn request(
        &self,
        arm: &Arm,
        messages: Vec<ChatCompletionRequestMessage>,
        max_tokens: u32,
        format: Option<ResponseFormat>,
    ) -> Result<CreateChatCompletionRequest, LlmError> {
        let mut b = CreateChatCompletionRequestArgs::default();
        b.model(arm.cfg.model.clone()).messages(messages);
        if format.is_some() {
            // Extraction: deterministic.
            b.temperature(0.0);
        } else {
            b.temperature(arm.cfg.temperature);
        }
        match arm.cfg.max_tokens_field {
            #[allow(deprecated)]
            MaxTokensField::MaxTokens => {
                b.max_tokens(max_tokens);
            }
            MaxTokensField::MaxCompletionTokens => {
                b.max_completion_tokens(max_tokens);
            }
        }
        if let Some(f) = format {
            b.response_format(f);
        }
        b.build()
            .map_err(|e| LlmError::Request(short(&e.to_string())))
    }

    /// Whether a call may be made now: `Err` (counted as a skipped call, no request sent)
    /// when the turn budget is spent or the arm's breaker is open.
    fn admit<'a>(
        &self,
        arm: &'a Arm,
        call: CallKind,
        budget: &TurnBudget,
    ) -> Result<Permit<'a>, LlmError> {
        if budget.is_spent() {
            record_skip(&arm.cfg.name, call, "turn_budget");
            tracing::info!(arm = %arm.cfg.name, call = call.as_str(), turn_budget_ms = budget.ms,
                "the turn budget ran out: no model call, the template goes out");
            return Err(LlmError::TurnBudget { ms: budget.ms });
        }
        let admitted = arm.breaker().admit(tokio::time::Instant::now());
        match admitted {
            Admission::Skip => {
                record_skip(&arm.cfg.name, call, "breaker_open");
                Err(LlmError::BreakerOpen {
                    arm: arm.cfg.name.clone(),
                })
            }
            Admission::Trial => {
                record_breaker(&arm.cfg.name, BreakerState::HalfOpen);
                tracing::info!(arm = %arm.cfg.name, call = call.as_str(),
                    "LLM circuit breaker half-open: this call is the trial");
                Ok(Permit {
                    arm,
                    admitted,
                    outcome: Outcome::Abandoned,
                })
            }
            Admission::Call => Ok(Permit {
                arm,
                admitted,
                outcome: Outcome::Abandoned,
            }),
        }
    }

    /// One chat completion, ending at `budget_ms` or the turn's deadline, whichever is first.
    async fn send(
        &self,
        arm: &Arm,
        request: CreateChatCompletionRequest,
        budget: &TurnBudget,
    ) -> Result<Answer, LlmError> {
        let (end, by_turn) = budget.call_end(Duration::from_millis(self.budget_ms));
        let chat = arm.client.chat();
        let response = match tokio::time::timeout_at(end, chat.create(request)).await {
            Err(_) if by_turn => {
                tracing::info!(arm = %arm.cfg.name, turn_budget_ms = budget.ms,
                    "the turn budget ended a model call");
                return Err(LlmError::TurnBudget { ms: budget.ms });
            }
            Err(_) => return Err(LlmError::Timeout { ms: self.budget_ms }),
            Ok(r) => r.map_err(|e| map_error(e, arm.cfg.timeout_ms))?,
        };
        let content = response
            .choices
            .first()
            .and_then(|c| c.message.content.clone())
            .unwrap_or_default();
        if content.trim().is_empty() {
            return Err(LlmError::Empty);
        }
        let (prompt_tokens, completion_tokens) = response
            .usage
            .as_ref()
            .map(|u| (Some(u.prompt_tokens), Some(u.completion_tokens)))
            .unwrap_or((None, None));
        Ok(Answer {
            content,
            model: if response.model.is_empty() {
                arm.cfg.model.clone()
            } else {
                response.model
            },
            prompt_tokens,
            completion_tokens,
        })
    }
}

impl Llm {
    /// `arm name → model`, in config order.
    pub fn arms(&self) -> BTreeMap<String, String> {
        self.arms
            .iter()
            .map(|a| (a.cfg.name.clone(), a.cfg.model.clone()))
            .collect()
    }
}

/// Reloads `llm`'s prompts from `flow_dir` whenever `reloads` changes (the flow config's reload
/// attempts: [`crate::config::flow::FlowConfigHandle::reloads`], on SIGHUP or a file change
/// in the flow folder). Stops when `shutdown` becomes `true` or a sender is dropped.
pub fn spawn_prompt_reloader(
    llm: std::sync::Arc<Llm>,
    flow_dir: std::path::PathBuf,
    mut reloads: tokio::sync::watch::Receiver<u64>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() { break; }
                }
                changed = reloads.changed() => {
                    if changed.is_err() { break; }
                    llm.reload_prompts(&flow_dir);
                }
            }
        }
    })
}
