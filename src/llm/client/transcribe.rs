//! Voice notes through the arm's OpenAI-compatible `/audio/transcriptions` endpoint (issue 15
//! item 5): Meta's webhook carries no transcript, so a lead who talks instead of typing would
//! otherwise be asked to type.
//!
//! The call is one of the turn's model calls: it is admitted by the arm's circuit breaker,
//! counted in the `ari_llm_*` metrics with `call="transcribe"`, and ends by the turn's deadline
//! ([`TurnBudget`]). Only arms with `transcription_model` transcribe.
//!
//! The answer is read into [`TranscriptionAnswer`], not async-openai's own response type:
//! that one requires a `usage` object, which compatible servers (whisper.cpp, faster-whisper)
//! often leave out (the library's `byot` escape hatch).

use std::time::{Duration, Instant};

use async_openai::types::InputSource;
use async_openai::types::audio::{AudioInput, CreateTranscriptionRequest};
use serde::Deserialize;

use super::{Arm, Llm, map_error};
use crate::llm::budget::TurnBudget;
use crate::llm::error::LlmError;
use crate::llm::metrics::{CallKind, record_call};
use crate::telemetry::mask_phone;

/// Longest transcript kept (characters): a WhatsApp text holds at most 4,096.
const MAX_TRANSCRIPT_CHARS: usize = 4_096;

/// A voice note's audio as fetched from Kapso's media API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioClip {
    /// The file's bytes.
    pub bytes: Vec<u8>,
    /// Its MIME type (WhatsApp voice notes: `audio/ogg; codecs=opus`), if known.
    pub mime_type: Option<String>,
}

impl AudioClip {
    /// A file name whose extension tells the server the format (OpenAI identifies the format
    /// by the name): `voice.ogg` for WhatsApp's Opus notes and for an unknown type.
    fn filename(&self) -> &'static str {
        const NAMES: &[(&str, &str)] = &[
            ("mpeg", "voice.mp3"),
            ("mp3", "voice.mp3"),
            ("mp4", "voice.m4a"),
            ("m4a", "voice.m4a"),
            ("aac", "voice.m4a"),
            ("amr", "voice.amr"),
            ("wav", "voice.wav"),
            ("webm", "voice.webm"),
        ];
        let mime = self.mime_type.as_deref().unwrap_or("").to_ascii_lowercase();
        NAMES
            .iter()
            .find(|(needle, _)| mime.contains(needle))
            .map_or("voice.ogg", |(_, name)| *name)
    }
}

/// A voice note's words, and who heard them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transcript {
    /// The words (trimmed, at most 4,096 characters).
    pub text: String,
    /// The arm that transcribed.
    pub arm: String,
    /// Its transcription model.
    pub model: String,
    /// Wall time of the call (ms).
    pub latency_ms: u64,
}

/// The part of a transcription answer ARI reads (`{"text": "..."}`); everything else, usage
/// included, may be absent.
#[derive(Debug, Deserialize)]
struct TranscriptionAnswer {
    #[serde(default)]
    text: String,
}

impl Llm {
    /// Whether `contact`'s arm transcribes voice notes (has a `transcription_model`).
    pub fn transcribes_for(&self, contact: &str) -> bool {
        self.arm(contact).cfg.transcription_model.is_some()
    }

    /// The largest voice note worth fetching (bytes, `transcription_max_bytes`).
    pub fn transcription_max_bytes(&self) -> u64 {
        self.transcription_max_bytes
    }

    /// Transcribes `clip` on `contact`'s arm within the turn's `budget`; `language` (ISO 639-1,
    /// e.g. `id`) is a hint for the server when the conversation's language is known.
    ///
    /// # Errors
    /// [`LlmError::Disabled`] when the arm has no `transcription_model`; otherwise the errors of
    /// any model call (budget spent, breaker open, timeout, status, transport); an answer
    /// without words is [`LlmError::Empty`]. The caller asks the lead to type.
    pub async fn transcribe_within(
        &self,
        contact: &str,
        clip: AudioClip,
        language: Option<&str>,
        budget: &TurnBudget,
    ) -> Result<Transcript, LlmError> {
        let arm = self.arm(contact);
        let Some(model) = arm.cfg.transcription_model.clone() else {
            return Err(LlmError::Disabled);
        };
        let result = self.transcribe_on(arm, model, clip, language, budget).await;
        if let Err(e) = &result {
            tracing::warn!(arm = %arm.cfg.name, contact = %mask_phone(contact), kind = e.kind(),
                error = %e, "voice-note transcription failed; the lead is asked to type");
        }
        result
    }

    async fn transcribe_on(
        &self,
        arm: &Arm,
        model: String,
        clip: AudioClip,
        language: Option<&str>,
        budget: &TurnBudget,
    ) -> Result<Transcript, LlmError> {
        let permit = self.admit(arm, CallKind::Transcribe, budget)?;
        let request = CreateTranscriptionRequest {
            file: AudioInput {
                source: InputSource::VecU8 {
                    filename: clip.filename().to_string(),
                    vec: clip.bytes,
                },
            },
            model: model.clone(),
            language: language.map(str::to_string),
            ..CreateTranscriptionRequest::default()
        };
        let started = Instant::now();
        let answer = self.send_transcription(arm, request, budget).await;
        let latency = started.elapsed();
        permit.finish(&answer);
        record_call(
            &arm.cfg,
            CallKind::Transcribe,
            latency,
            (None, None),
            answer.as_ref().err().map(LlmError::kind),
        );
        Ok(Transcript {
            text: answer?,
            arm: arm.cfg.name.clone(),
            model,
            latency_ms: u64::try_from(latency.as_millis()).unwrap_or(u64::MAX),
        })
    }

    /// One transcription request, ending at `budget_ms` or the turn's deadline; the words, or
    /// [`LlmError::Empty`].
    async fn send_transcription(
        &self,
        arm: &Arm,
        request: CreateTranscriptionRequest,
        budget: &TurnBudget,
    ) -> Result<String, LlmError> {
        let (end, by_turn) = budget.call_end(Duration::from_millis(self.budget_ms));
        let audio = arm.client.audio();
        let transcriptions = audio.transcription();
        let call = transcriptions.create_byot::<_, TranscriptionAnswer>(request);
        let answer = match tokio::time::timeout_at(end, call).await {
            Err(_) if by_turn => return Err(LlmError::TurnBudget { ms: budget.ms }),
            Err(_) => return Err(LlmError::Timeout { ms: self.budget_ms }),
            Ok(r) => r.map_err(|e| map_error(e, arm.cfg.timeout_ms))?,
        };
        let text: String = answer
            .text
            .trim()
            .chars()
            .take(MAX_TRANSCRIPT_CHARS)
            .collect();
        if text.is_empty() {
            return Err(LlmError::Empty);
        }
        tracing::debug!(arm = %arm.cfg.name, chars = text.chars().count(), "voice note transcribed");
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_name_tells_the_format() {
        let clip = |mime: Option<&str>| AudioClip {
            bytes: vec![],
            mime_type: mime.map(str::to_string),
        };
        assert_eq!(clip(Some("audio/ogg; codecs=opus")).filename(), "voice.ogg");
        assert_eq!(clip(None).filename(), "voice.ogg");
        assert_eq!(clip(Some("audio/mpeg")).filename(), "voice.mp3");
        assert_eq!(clip(Some("audio/mp4")).filename(), "voice.m4a");
        assert_eq!(clip(Some("audio/amr")).filename(), "voice.amr");
    }
}
