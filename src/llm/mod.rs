//! LLM replies and extraction (issue 5), on async-openai against any OpenAI-compatible server
//! (OpenAI, xAI Grok, OpenRouter, vLLM, Ollama, llama.cpp).
//!
//! The flow core decides; the model only words the reply and helps extract lead data (the seed
//! let the model decide everything and sent its error text to leads, §11). A library the turn
//! calls:
//!
//! - [`Llm::load`] reads `state-machines/llm.toml` ([`config`]); absent file = no LLM, template
//!   replies exactly as before.
//! - [`Llm::reply`] for an `Effect::AskLlm`: build the request with
//!   [`ReplyRequest::for_ask_llm`], send [`LlmReply::text`] on `Ok`, the effect's
//!   `fallback.text` on any `Err` ([`LlmError`]; counted as a fallback already).
//! - [`Llm::extract`] before the core runs: validated fields to merge into the rules' result
//!   with [`merge`] (rules win).
//! - [`Llm::turn_budget`] starts a turn's one deadline ([`TurnBudget`]); pass it to
//!   [`Llm::reply_within`] and [`Llm::extract_within`] so every call of the turn ends by it.
//! - [`keep_typing`] refreshes WhatsApp's typing indicator while a call runs.
//! - [`Llm::record_new_lead`] / [`Llm::record_booking`] feed the per-arm booking share.
//!
//! Modules: [`config`] (the file), [`arm`] (sticky A/B assignment), [`budget`] (the turn's deadline), [`breaker`] (skipping a server that is down), [`prompt`] (minijinja
//! templates in `prompts/`), [`request`] (inputs), [`client`] (calls and budgets), [`need`] (which calls a turn needs), [`guard`]
//! (reply check), [`extract`] (schema, validation, merge), [`metrics`], [`typing`], [`error`].

pub mod arm;
pub mod breaker;
pub mod budget;
pub mod caps;
pub mod client;
pub mod config;
pub mod error;
pub mod extract;
pub mod guard;
pub mod metrics;
pub mod need;
pub mod prompt;
pub mod request;
pub mod typing;

pub use breaker::BreakerState;
pub use budget::TurnBudget;
pub use client::{AudioClip, Llm, LlmReply, MAX_RETRIES, Transcript, spawn_prompt_reloader};
pub use config::{ArmConfig, LlmConfig, LlmConfigError};
pub use error::LlmError;
pub use extract::{ExtractedFields, merge};
pub use request::{ChatMessage, ExtractRequest, LeadFacts, ReplyRequest, Role};
pub use typing::{TYPING_REFRESH, keep_typing};

/// The LLM config's file name inside the flow folder (`--flow-dir`, `state-machines/` by
/// default). Absent: no LLM, template replies.
pub const CONFIG_FILE: &str = "llm.toml";

/// Where the service looks for the LLM config with the default flow folder.
pub const DEFAULT_CONFIG_PATH: &str = "state-machines/llm.toml";
