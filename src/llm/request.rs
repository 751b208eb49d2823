//! What the turn hands the LLM library: plain owned data, built from the flow's snapshot and
//! config by [`ReplyRequest::for_ask_llm`] / [`ExtractRequest::for_turn`], or filled by hand.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::config::flow::{FlowConfig, GreetingStyle, Persona};
use crate::flow::extract::Pending;
use crate::flow::turn::{SchedulingStep, StageSnapshot};
use crate::flow::yesno::YesNo;
use crate::flow::{FieldValue, HandoffReason, Reply, SlotOption, Snapshot, StageId, Temperature};
use crate::knowledge::KnowledgeAnswer;

/// Who wrote a message of the conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The lead (inbound).
    Lead,
    /// ARI or a consultant (outbound).
    Assistant,
}

/// One message of the recent history, oldest first; the lead's newest message(s) last.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Who wrote it.
    pub role: Role,
    /// The text.
    pub text: String,
}

impl ChatMessage {
    /// A lead message.
    pub fn lead(text: impl Into<String>) -> Self {
        Self {
            role: Role::Lead,
            text: text.into(),
        }
    }

    /// An assistant message.
    pub fn assistant(text: impl Into<String>) -> Self {
        Self {
            role: Role::Assistant,
            text: text.into(),
        }
    }
}

/// How many history messages go to the model (seed §11.2 kept the last 10).
pub const HISTORY_MESSAGES: usize = 10;

/// A known lead field with its label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownField {
    /// Field key (`country`...).
    pub key: String,
    /// Label from the flow config (`negara tujuan`...).
    pub label: String,
    /// The value.
    pub value: String,
}

/// What the flow knows about the lead, in the prompt's terms.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LeadFacts {
    /// The lead's name, if known.
    pub name: Option<String>,
    /// Known fields (name included), in the config's asking order, then the rest.
    pub known: Vec<KnownField>,
    /// Labels of fields the lead cannot or will not give.
    pub unknown: Vec<String>,
    /// Labels of required fields still missing, in asking order.
    pub missing: Vec<String>,
    /// `(document label, answer)` for documents asked so far.
    pub documents: Vec<(String, String)>,
    /// Latest score and temperature.
    pub score: Option<(u32, Temperature)>,
    /// The ad the lead came from (its headline, else URL or id; one line), if any.
    pub source: Option<String>,
}

impl LeadFacts {
    /// From the flow's snapshot, labelled with the config's field and document labels.
    pub fn from_snapshot(snapshot: &Snapshot, cfg: &FlowConfig) -> Self {
        let label = |key: &str| {
            cfg.fields
                .get(key)
                .map(|f| f.label.clone())
                .unwrap_or_else(|| key.replace('_', " "))
        };
        let mut order: Vec<&str> = cfg
            .qualification
            .required_fields
            .iter()
            .chain(cfg.qualification.important_fields.iter())
            .map(String::as_str)
            .collect();
        for k in snapshot.lead.fields.keys() {
            if !order.contains(&k.as_str()) {
                order.push(k);
            }
        }
        let mut facts = LeadFacts {
            name: snapshot.field("name").map(str::to_string),
            source: snapshot
                .lead
                .source
                .as_ref()
                .and_then(crate::flow::LeadSource::label)
                .map(|l| crate::sanitize::prompt(l, 120)),
            ..LeadFacts::default()
        };
        for key in order {
            match snapshot.lead.fields.get(key) {
                Some(FieldValue::Known(v)) => facts.known.push(KnownField {
                    key: key.to_string(),
                    label: label(key),
                    value: v.clone(),
                }),
                Some(FieldValue::Unknown) => facts.unknown.push(label(key)),
                None => {
                    if cfg.qualification.required_fields.iter().any(|r| r == key) {
                        facts.missing.push(label(key));
                    }
                }
            }
        }
        for doc in &cfg.qualification.document_order {
            if let Some(answer) = snapshot.lead.documents.get(doc) {
                let label = cfg
                    .documents
                    .get(doc)
                    .map(|d| d.label.clone())
                    .unwrap_or_else(|| doc.clone());
                let answer = match answer {
                    YesNo::Yes => "sudah ada",
                    YesNo::No => "belum ada",
                    YesNo::Unknown => "belum tahu",
                };
                facts.documents.push((label, answer.to_string()));
            }
        }
        facts.score = snapshot
            .lead
            .score
            .as_ref()
            .map(|s| (s.total, s.temperature));
        facts
    }
}

/// Everything one reply needs. Owned, so the turn can build it and drop its borrows.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplyRequest {
    /// The contact's E.164 number (picks the arm; never sent to the model).
    pub contact: String,
    /// Stage whose system prompt is used.
    pub stage: StageId,
    /// The core's instruction (`AskLlm.instruction`).
    pub instruction: String,
    /// The one question the core wants asked (`fallback.values["question"]`; may be empty).
    pub question: String,
    /// The template reply the caller sends on failure, shown to the model as the content to
    /// word (so the model cannot change what the flow decided).
    pub fallback_text: String,
    /// Bot name, tone, greeting style.
    pub persona: Persona,
    /// Lead data, missing fields, documents, score.
    pub lead: LeadFacts,
    /// The knowledge-base answer for this turn's question, if any.
    pub knowledge: Option<KnowledgeAnswer>,
    /// Real free slots (never invented); only the booking and scheduling prompts show them.
    pub slots: Vec<SlotOption>,
    /// Scheduling sub-step, in scheduling.
    pub scheduling_step: Option<SchedulingStep>,
    /// The slot picked (scheduling: confirming) or booked.
    pub selected_slot: Option<SlotOption>,
    /// The core booked a consultation: only then may the reply say so.
    pub booked: bool,
    /// Recent history, oldest first, ending with the lead's newest message(s).
    pub recent: Vec<ChatMessage>,
    /// The turn's clock.
    pub now: DateTime<Utc>,
    /// Time zone for the greeting, the date and slot times (Asia/Jakarta by default).
    pub time_zone: Tz,
    /// The conversation's language code (`id`, `en`): the snapshot's, else the persona's.
    pub language: String,
    /// Its name for the prompt (`locale.language_name` of that language: "English").
    pub language_name: String,
    /// Links and numbers a reply may hold besides those of the knowledge answer and the
    /// template (the reply check's allow-list, [`super::guard::Allowed`]): the community
    /// link, the consultants' and the team's numbers (E.164), the meeting links.
    pub allowed: Vec<String>,
}

impl ReplyRequest {
    /// The request for an `Effect::AskLlm { instruction, fallback }` of a turn. `snapshot` is
    /// the snapshot after the turn (lead data includes what was just learned); the prompt's
    /// stage is the one that produced the fallback (its template key `stage.text`), e.g. a
    /// knowledge question on the first message still gets the greeting prompt (seed §11.1:
    /// the prompt uses the state before the transition). `free_slots` is the turn's
    /// `TurnInput::free_slots`; in scheduling the shown slots are used instead.
    #[allow(clippy::too_many_arguments)]
    pub fn for_ask_llm(
        contact: &str,
        snapshot: &Snapshot,
        cfg: &FlowConfig,
        instruction: &str,
        fallback: &Reply,
        knowledge: Option<KnowledgeAnswer>,
        free_slots: Option<&[SlotOption]>,
        recent: Vec<ChatMessage>,
        now: DateTime<Utc>,
    ) -> Self {
        let stage = fallback
            .template
            .split('.')
            .next()
            .and_then(stage_by_name)
            .unwrap_or_else(|| snapshot.stage_id());
        let (scheduling_step, shown, selected) = match &snapshot.stage {
            StageSnapshot::Scheduling(s) => (Some(s.step), s.shown.clone(), s.selected.clone()),
            _ => (None, Vec::new(), None),
        };
        // Slots only matter (and are only shown) when offering or scheduling.
        let slots = if !matches!(stage, StageId::Booking | StageId::Scheduling) {
            Vec::new()
        } else if shown.is_empty() {
            free_slots.map(<[SlotOption]>::to_vec).unwrap_or_default()
        } else {
            shown
        };
        let language = snapshot
            .lead
            .language
            .clone()
            .unwrap_or_else(|| cfg.persona.language.clone());
        let language_name = cfg.in_language(&language).locale.language_name.clone();
        ReplyRequest {
            contact: contact.to_string(),
            stage,
            instruction: instruction.to_string(),
            question: fallback.values.get("question").cloned().unwrap_or_default(),
            fallback_text: fallback.text.clone(),
            persona: cfg.persona.clone(),
            lead: LeadFacts::from_snapshot(snapshot, cfg),
            knowledge: knowledge.filter(|k| !k.text.trim().is_empty()),
            slots,
            scheduling_step,
            selected_slot: selected,
            booked: snapshot.handoff_reason() == Some(HandoffReason::AppointmentBooked),
            recent,
            now,
            time_zone: crate::flow::schedule::time_zone(cfg),
            language,
            language_name,
            allowed: configured_links_and_numbers(cfg),
        }
    }
}

/// The configuration's links and numbers a reply may name: the community link, every
/// consultant's number and meeting link, the team number.
pub fn configured_links_and_numbers(cfg: &FlowConfig) -> Vec<String> {
    let mut out = vec![cfg.persona.community_link.clone()];
    for slot in &cfg.scheduling.slots {
        out.push(slot.consultant_whatsapp.clone());
        out.extend(slot.meeting_url.clone());
    }
    out.extend(cfg.handoff.fallback_whatsapp.clone());
    out.retain(|s| !s.trim().is_empty());
    out.sort();
    out.dedup();
    out
}

/// Everything one extraction needs.
#[derive(Debug, Clone, PartialEq)]
pub struct ExtractRequest {
    /// The contact's E.164 number (picks the arm).
    pub contact: String,
    /// Earlier messages for context, oldest first; never this turn's `latest` (the prompt
    /// shows each message once).
    pub history: Vec<ChatMessage>,
    /// The lead's newest message(s) of this turn: the only text values are taken from.
    pub latest: Vec<String>,
    /// The field the bot asked for last (so a bare "Budi" is a name).
    pub pending_field: Option<String>,
    /// Fields already known (key → value), so the model does not repeat them.
    pub known: BTreeMap<String, String>,
    /// The turn's clock (relative timelines, "tahun depan").
    pub now: DateTime<Utc>,
    /// Time zone for today's date.
    pub time_zone: Tz,
}

impl ExtractRequest {
    /// The request for a turn, from the snapshot before the turn. `history` may end with this
    /// turn's messages (the turn's history does): those trailing lead messages that are in
    /// `latest` are dropped from it, so the newest message appears once in the prompt, under
    /// "PESAN TERBARU" (issue 15).
    pub fn for_turn(
        contact: &str,
        snapshot: &Snapshot,
        cfg: &FlowConfig,
        mut history: Vec<ChatMessage>,
        latest: Vec<String>,
        now: DateTime<Utc>,
    ) -> Self {
        while history
            .last()
            .is_some_and(|m| m.role == Role::Lead && latest.contains(&m.text))
        {
            history.pop();
        }
        let known = snapshot
            .lead
            .fields
            .iter()
            .filter_map(|(k, v)| match v {
                FieldValue::Known(v) => Some((k.clone(), v.clone())),
                FieldValue::Unknown => None,
            })
            .collect();
        ExtractRequest {
            contact: contact.to_string(),
            history,
            latest,
            pending_field: match &snapshot.lead.pending {
                Some(Pending::Field(f)) => Some(f.clone()),
                _ => None,
            },
            known,
            now,
            time_zone: crate::flow::schedule::time_zone(cfg),
        }
    }
}

/// A stage by its stable name.
pub fn stage_by_name(name: &str) -> Option<StageId> {
    StageId::ALL.into_iter().find(|s| s.as_str() == name)
}

/// Seed §11.1 greeting-style wording.
pub fn style_text(style: GreetingStyle) -> &'static str {
    match style {
        GreetingStyle::Formal => "sopan dan formal",
        GreetingStyle::Professional => "profesional tapi ramah",
        GreetingStyle::Casual | GreetingStyle::Friendly => "santai dan friendly",
    }
}
