//! Voice notes without transcript, transcribed before the turn reads them (issue 15 item 5).
//!
//! Meta's webhook carries no transcript. When the lead's LLM arm has a `transcription_model`
//! and ARI sends live (a Kapso API key: the audio comes from Kapso's media API), each claimed
//! voice note without words is fetched and transcribed, within the turn budget that the
//! turn's later model calls share. The transcript becomes the message's text: the plan reads
//! it like typed text, and the commit stores it on the message (its meta names the arm, as
//! `transcribed_by`). Nothing else is written, so a turn that is redone (stale, superseded)
//! transcribes again.
//!
//! Without transcription (no arm, dry run, a person has taken over, a note over
//! `transcription_max_bytes`, a failure), the note keeps no text and issue 14's rule applies:
//! with a Meta-format webhook configured the turn waits a grace for Kapso's copy, else the
//! lead is asked to type.

use crate::flow::{HandoffReason, Snapshot};
use crate::inbox::{EventKind, InboxRow, MessageType};
use crate::llm::{AudioClip, Llm, TurnBudget};
use crate::store::{ConversationKey, NewMessage, TurnClaim};
use crate::telemetry::names;

use super::turn::TurnDeps;

/// What transcription did for a turn.
#[derive(Debug, Default)]
pub(super) struct Voice {
    /// The claimed rows with the transcripts filled in; `None` when nothing was transcribed
    /// (the claim's rows stand).
    pub(super) rows: Option<Vec<InboxRow>>,
    /// `(wamid, arm)` of each transcribed note.
    transcribed: Vec<(String, String)>,
    /// The turn budget the first transcription started (the turn's other calls share it).
    pub(super) budget: Option<TurnBudget>,
    /// The read mark and "typing…" went out before the first transcription.
    pub(super) typing_shown: bool,
}

impl Voice {
    /// Records the arm in the meta of each transcribed note's stored message.
    pub(super) fn annotate(&self, messages: &mut [NewMessage]) {
        for m in messages {
            let arm = self
                .transcribed
                .iter()
                .find(|(wamid, _)| m.wamid.as_deref() == Some(wamid.as_str()));
            if let (Some((_, arm)), Some(meta)) = (arm, m.meta.as_object_mut()) {
                meta.insert("transcribed_by".into(), arm.clone().into());
            }
        }
    }
}

/// The indices of the claimed voice notes that carry no words.
fn untranscribed(rows: &[InboxRow]) -> Vec<usize> {
    rows.iter()
        .enumerate()
        .filter(|(_, r)| r.kind == EventKind::Message)
        .filter(|(_, r)| {
            r.event.message.as_ref().is_some_and(|m| {
                m.message_type == MessageType::Audio
                    && m.text.is_none()
                    && m.origin.as_deref() != Some(super::plan::HISTORY_SYNC)
            })
        })
        .map(|(i, _)| i)
        .collect()
}

/// Transcribes the claim's voice notes without words (module docs). Never fails: a note it
/// cannot transcribe keeps no text.
pub(super) async fn transcribe(
    deps: &TurnDeps,
    key: &ConversationKey,
    claim: &TurnClaim,
    snapshot: &Snapshot,
) -> Voice {
    let mut voice = Voice::default();
    let notes = untranscribed(&claim.inbound);
    let (Some(llm), Some(kapso)) = (&deps.llm, deps.outbox.kapso()) else {
        return voice;
    };
    let taken_over = snapshot.handoff_reason() == Some(HandoffReason::HumanTakeover);
    if notes.is_empty() || taken_over || !llm.transcribes_for(&key.contact_phone) {
        return voice;
    }
    let pnid = claim.phone_number_id.clone().unwrap_or_default();
    let mut rows = claim.inbound.clone();
    for i in notes {
        let Some(m) = rows[i].event.message.as_mut() else {
            continue;
        };
        let budget = *voice.budget.get_or_insert_with(|| llm.turn_budget());
        if deps.mark_read && !voice.typing_shown && !pnid.is_empty() {
            voice.typing_shown = true;
            deps.outbox.mark_read(pnid.clone(), m.wamid.clone());
        }
        let media = m.media.clone().unwrap_or_default();
        let Some(clip) = fetch(kapso, &media, &pnid, llm, &budget).await else {
            continue;
        };
        if let Some(t) = heard(llm, key, clip, snapshot, &budget).await {
            m.text = Some(t.text);
            voice.transcribed.push((m.wamid.clone(), t.arm));
        }
    }
    if !voice.transcribed.is_empty() {
        voice.rows = Some(rows);
    }
    voice
}

/// A note's audio from Kapso's media API, cut at the turn's deadline; `None` (counted,
/// logged) when it cannot be had.
async fn fetch(
    kapso: &crate::kapso::KapsoClient,
    media: &crate::inbox::Media,
    pnid: &str,
    llm: &Llm,
    budget: &TurnBudget,
) -> Option<AudioClip> {
    let fetching = kapso.fetch_media(
        media.id.as_deref(),
        media.url.as_deref(),
        pnid,
        llm.transcription_max_bytes(),
    );
    match tokio::time::timeout_at(budget.deadline, fetching).await {
        Ok(Ok(f)) => Some(AudioClip {
            bytes: f.bytes,
            mime_type: media.content_type.clone().or(f.mime_type),
        }),
        Ok(Err(e)) => {
            count(fetch_outcome(&e));
            tracing::warn!(error = %e,
                "cannot fetch a voice note for transcription; the lead is asked to type");
            None
        }
        Err(_) => {
            count("turn_budget");
            tracing::info!(
                turn_budget_ms = budget.ms,
                "the turn budget ended a voice note's download"
            );
            None
        }
    }
}

/// The words of one fetched note, or `None` (counted and logged by [`Llm::transcribe_within`]).
async fn heard(
    llm: &Llm,
    key: &ConversationKey,
    clip: AudioClip,
    snapshot: &Snapshot,
    budget: &TurnBudget,
) -> Option<crate::llm::Transcript> {
    let language = snapshot.lead.language.as_deref();
    match llm
        .transcribe_within(&key.contact_phone, clip, language, budget)
        .await
    {
        Ok(t) => {
            count("transcribed");
            tracing::info!(arm = %t.arm, model = %t.model, latency_ms = t.latency_ms,
                chars = t.text.chars().count(), "voice note transcribed");
            Some(t)
        }
        Err(e) => {
            count(e.kind());
            None
        }
    }
}

/// The `outcome` label of a failed fetch.
fn fetch_outcome(e: &crate::kapso::MediaError) -> &'static str {
    match e {
        crate::kapso::MediaError::TooLarge { .. } => "too_large",
        crate::kapso::MediaError::Invalid(_) => "no_media",
        _ => "fetch_failed",
    }
}

fn count(outcome: &'static str) {
    metrics::counter!(names::VOICE_NOTES, "outcome" => outcome).increment(1);
}
