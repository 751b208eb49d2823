//! The core's data: what a turn brings in ([`TurnInput`]), what it gives back ([`TurnOutput`]:
//! a new [`Snapshot`] and [`Effect`]s), and the persisted, versioned snapshot.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::extract::Pending;
use super::graph::{HandoffReason, StageId};
use super::schedule::SlotOption;
use super::scoring::{LeadScore, Temperature};
use super::yesno::YesNo;

/// Current layout version of [`Snapshot`]; bump it and add a migration in
/// [`Snapshot::from_json`] when the layout changes.
pub const SCHEMA_VERSION: u32 = 1;

/// One inbound message of a turn (several rapid messages form one turn).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum InboundMessage {
    /// Plain text.
    Text {
        /// The text.
        text: String,
    },
    /// An image, maybe with a caption (the caption is read as text).
    Image {
        /// Caption, if any.
        caption: Option<String>,
    },
    /// A voice note; the shell may supply a transcript (read as text).
    Audio {
        /// Transcript, if any.
        transcript: Option<String>,
    },
    /// A button or list reply: `id` is ours (e.g. a slot id), `title` what the lead saw.
    Interactive {
        /// The reply id.
        id: String,
        /// The visible title.
        title: String,
    },
    /// A shared location (not read as text).
    Location {
        /// Latitude.
        latitude: f64,
        /// Longitude.
        longitude: f64,
    },
    /// A document, maybe with a caption (read as text); its file name may name the document
    /// it is ("IELTS.pdf", "transkrip.jpg").
    Document {
        /// The file name, if Kapso gave one.
        filename: Option<String>,
        /// Caption, if any.
        caption: Option<String>,
    },
    /// A message the core cannot read (a sticker, a contact card, an unsupported type, a
    /// location without coordinates): it still gets an answer.
    Unreadable {
        /// The WhatsApp message type (`sticker`, `contacts`, `unsupported`...).
        message_type: String,
    },
    /// A reaction emoji (not read as text; a reaction-only turn gets no reply).
    Reaction {
        /// The emoji.
        emoji: String,
    },
}

/// What happened, from the core's point of view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum InputEvent {
    /// The lead wrote (one or more messages merged into one turn).
    Messages {
        /// In arrival order.
        messages: Vec<InboundMessage>,
    },
    /// A person replied from the WhatsApp Business app, or a Kapso workflow handed off.
    HumanTakeover,
    /// An admin handed the conversation back to the bot.
    Resume,
    /// A consultant closed the conversation (handoff → completed).
    Close,
    /// The shell gave up on this conversation's turn after it failed the same way
    /// `--max-turn-attempts` times (an unreadable snapshot, invalid stored data: issue 16 item
    /// 9): an active conversation is handed off with reason `stuck`, so the lead gets
    /// `stages.handoff.texts.stuck` and a consultant the handoff notice.
    TurnFailed,
    /// A follow-up fell due (issue 18): the shell queued it for `due_at`
    /// ([`super::followup::FollowupState::due`]); the core decides whether it still applies.
    /// Never in the same turn as a lead message (the shell drops it then: the lead wrote).
    FollowupDue {
        /// The due time the follow-up was queued for.
        due_at: DateTime<Utc>,
    },
    /// The lead stopped (`stopped`) or resumed marketing messages from the business: a send
    /// refused with Meta's 131050, or a `user_preferences` webhook (issue 18). Recorded on the
    /// consent record, with no reply.
    MarketingPreference {
        /// Stopped (`true`) or resumed (`false`).
        stopped: bool,
    },
    /// The shell's answer to an [`Effect::BookSlot`].
    BookingResult {
        /// What happened.
        result: BookingResult,
    },
}

/// Outcome of a booking attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum BookingResult {
    /// Booked.
    Booked {
        /// The booked slot's id.
        slot_id: String,
        /// The store's appointment id.
        appointment_id: String,
    },
    /// The slot's capacity was used up meanwhile (or booking failed).
    SlotTaken {
        /// The slot's id.
        slot_id: String,
    },
}

/// Everything one turn needs besides the snapshot and the config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TurnInput {
    /// The clock (the core never reads it).
    pub now: DateTime<Utc>,
    /// What happened.
    pub event: InputEvent,
    /// The contact's lead-form answers (seed §5.1), as strings; merged every turn, a changed
    /// form value applies, an unchanged one never overrides a chat correction.
    #[serde(default)]
    pub form_answers: BTreeMap<String, String>,
    /// Free slots, pre-loaded by the shell when [`super::needs_free_slots`] says so;
    /// `None` = not loaded (treated as no free slot).
    #[serde(default)]
    pub free_slots: Option<Vec<SlotOption>>,
    /// Lead fields an LLM read in this turn's messages, already validated by the shell. The
    /// rule-based extractor wins: these only fill fields it did not find and that are not
    /// known yet.
    #[serde(default)]
    pub llm_fields: BTreeMap<String, String>,
    /// The store's id of the conversation: the round-robin key that assigns a handed-off lead
    /// without a booked consultation to a consultant (`handoff::assign`). 0 when unknown.
    #[serde(default)]
    pub conversation_id: i64,
    /// The ad referral of this turn's lead messages, if one carried it (the first).
    #[serde(default)]
    pub lead_source: Option<LeadSource>,
    /// The slot ids the message the lead replies to offered, in its order (WhatsApp's reply
    /// context on the newest lead message, read against the recent messages' meta: issue 16
    /// item 7). Empty when the lead replies to nothing or to a message that offered no slots.
    /// A pick such as "yang ke-2" is read against these, not the slots shown last.
    #[serde(default)]
    pub replied_to_slots: Vec<String>,
}

impl TurnInput {
    /// A text turn (convenience for tests and simple callers).
    pub fn text(now: DateTime<Utc>, text: &str) -> Self {
        Self {
            now,
            event: InputEvent::Messages {
                messages: vec![InboundMessage::Text {
                    text: text.to_string(),
                }],
            },
            form_answers: BTreeMap::new(),
            free_slots: None,
            llm_fields: BTreeMap::new(),
            conversation_id: 0,
            lead_source: None,
            replied_to_slots: Vec::new(),
        }
    }
}

/// What the core did in a turn, for coverage and for reading why the bot answered as it did:
/// the flow edges taken (named as [`super::graph::edge_name`]), the named extraction rules
/// that read something ([`super::extract::RULES`]), and the language detected with confidence
/// in the lead's words, if any. Not persisted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TurnTrace {
    /// Edges taken, in order.
    #[serde(default)]
    pub edges: Vec<String>,
    /// Extraction rules that matched, in order, without repeats.
    #[serde(default)]
    pub rules: Vec<String>,
    /// The language (`id`, `en`...) the lead's words were confidently detected in.
    #[serde(default)]
    pub language_detected: Option<String>,
}

impl TurnTrace {
    /// Appends `other` (a later event of the same turn).
    pub fn extend(&mut self, other: TurnTrace) {
        self.edges.extend(other.edges);
        for r in other.rules {
            if !self.rules.contains(&r) {
                self.rules.push(r);
            }
        }
        if other.language_detected.is_some() {
            self.language_detected = other.language_detected;
        }
    }
}

/// A rendered reply: the template key (`stage.text_key`), its values and the text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    /// `stages.<stage>.texts.<key>` as `<stage>.<key>`, or `fields.<key>.question`.
    pub template: String,
    /// Placeholder values used.
    pub values: BTreeMap<String, String>,
    /// The rendered text to send.
    pub text: String,
}

/// A lead field's state: known value, or the lead cannot/will not say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", content = "value", rename_all = "snake_case")]
pub enum FieldValue {
    /// The value.
    Known(String),
    /// Asked, not available ("belum tau", "rahasia"): the question ends, the field scores 0.
    Unknown,
}

/// Changes to the lead record the shell persists (CRM fields, score, status).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct LeadUpdate {
    /// Fields learned or corrected this turn.
    pub fields: BTreeMap<String, FieldValue>,
    /// New score, when scored this turn.
    pub score: Option<LeadScore>,
    /// Temperature of that score.
    pub temperature: Option<Temperature>,
    /// CRM status (`hot_lead`, `prospect`, `cold_lead`), only when scored.
    pub status: Option<String>,
}

/// Something the shell must do; the core never does I/O.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Effect {
    /// While handed off: pass the lead's words to the consultant who has the lead (the
    /// booked consultation's, else the round-robin one), so no message falls through.
    Relay {
        /// What the lead wrote in this turn.
        text: String,
        /// The consultant who has the lead (`HandoffData::assignee`); `None` when no consultant
        /// is configured (the relay then goes nowhere, with a warning).
        #[serde(default)]
        to: Option<Assignee>,
    },
    /// Send this text.
    Reply(Reply),
    /// Send this approved WhatsApp template (the follow-up after the 24 h window closed,
    /// issue 18): `name` and `language` as approved, `parameters` for `{{1}}`, `{{2}}`...
    Template {
        /// The approved template's name.
        name: String,
        /// Its language code (`id`, `en_US`).
        language: String,
        /// Its body parameters, in order.
        parameters: Vec<String>,
    },
    /// Ask the LLM with `instruction` (plus history and knowledge results); send `fallback`
    /// when no LLM is configured or it fails.
    AskLlm {
        /// The instruction.
        instruction: String,
        /// Template reply to send instead.
        fallback: Reply,
    },
    /// Search the knowledge base; results go into the next `AskLlm`.
    SearchKnowledge {
        /// The lead's question.
        query: String,
        /// Known destination country, to narrow the search.
        country: Option<String>,
        /// The lead asks for recommendations (a `knowledge.recommendation_words` word): answer
        /// with the destinations that fit the lead's country, IELTS and budget, not search hits.
        recommend: bool,
    },
    /// These slots were shown to the lead (the shell may send them as a list message).
    OfferSlots {
        /// The slots, numbered from 1 in this order.
        slots: Vec<SlotOption>,
    },
    /// Book this slot atomically, then feed [`InputEvent::BookingResult`] back.
    BookSlot {
        /// The slot.
        slot: SlotOption,
        /// Appointment notes (seed: `Booked via ARI. Lead score: <n>`).
        notes: String,
    },
    /// Move a booked consultation to the confirmed new slot in one store transaction (book
    /// `to`, cancel `from`), then feed [`InputEvent::BookingResult`] back (`SlotTaken`: `from`
    /// stays booked). The shell tells the consultants of both slots.
    MoveAppointment {
        /// The booking being moved.
        from: BookedAppointment,
        /// The new slot.
        to: SlotOption,
        /// Appointment notes of the new booking (as [`Effect::BookSlot`]'s).
        notes: String,
        /// Consultant summary, for a consultant who gets the lead only now.
        summary: String,
    },
    /// Cancel this booked consultation (the lead asked to cancel). The shell cancels it in the
    /// store, sets the lead's CRM status to `cancelled` and tells the consultant.
    CancelAppointment {
        /// The store's appointment id.
        appointment_id: String,
        /// The slot it held.
        slot: SlotOption,
        /// True when the lead is choosing another slot (the consultant's notice says so).
        /// The flow moves a booking with [`Effect::MoveAppointment`] instead, so it sends
        /// `false`.
        reschedule: bool,
    },
    /// Hand the conversation to a person: notify with this summary.
    Handoff {
        /// Why.
        reason: HandoffReason,
        /// Consultant summary (lead data, score and reasons, documents).
        summary: String,
        /// The consultant who gets the lead (the booked consultation's, else the round-robin
        /// pick); `None` when no consultant is configured.
        #[serde(default)]
        to: Option<Assignee>,
    },
    /// Persist lead changes.
    UpdateLead(LeadUpdate),
}

/// Scheduling sub-step (state-local data of `scheduling`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SchedulingStep {
    /// Waiting for a day.
    #[default]
    AskingDay,
    /// Slots shown, waiting for a pick.
    ShowingSlots,
    /// Slot picked, waiting for yes.
    Confirming,
    /// `BookSlot` emitted, waiting for the result.
    AwaitingBooking,
}

/// State-local data of `scheduling`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SchedulingData {
    /// Sub-step.
    pub step: SchedulingStep,
    /// Slots last shown (numbered from 1).
    pub shown: Vec<SlotOption>,
    /// The picked slot.
    pub selected: Option<SlotOption>,
    /// The booked consultation being moved (the lead asked to reschedule it): it stays booked
    /// until the new slot is confirmed, then [`Effect::MoveAppointment`] moves it in one store
    /// step. `None` for a first booking.
    #[serde(default)]
    pub moving: Option<Box<BookedAppointment>>,
    /// The handoff the reschedule request came from: restored when the move is done or the
    /// lead keeps the booking after all.
    #[serde(default)]
    pub handoff: Option<HandoffData>,
    /// The time the lead last named while choosing ("kamis jam 10"): a later message naming
    /// only a day keeps it ("yg tgl 26").
    #[serde(default)]
    pub asked_time: Option<crate::scheduling::TimeQuery>,
}

/// State-local data of `handoff`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandoffData {
    /// Why.
    pub reason: HandoffReason,
    /// When.
    pub at: DateTime<Utc>,
    /// Last automatic message (the handoff message counts); one per quiet period.
    pub last_ack_at: Option<DateTime<Utc>>,
    /// The consultant who has the lead: relays and notices go to them. Set when the handoff
    /// happens (the booked consultation's consultant, else the round-robin pick) and kept
    /// through a takeover; `None` in snapshots stored before it existed (filled in on the next
    /// lead message) or when no consultant is configured.
    #[serde(default)]
    pub assignee: Option<Assignee>,
}

/// A consultant a handed-off lead is assigned to (from `scheduling.slots`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignee {
    /// As configured (`consultant_name`).
    pub name: String,
    /// E.164 (`consultant_whatsapp`).
    pub whatsapp: String,
}

/// The persisted stage with its local data. Tagged by the stable stage name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name")]
pub enum StageSnapshot {
    /// See [`StageId::Greeting`].
    #[serde(rename = "greeting")]
    Greeting,
    /// See [`StageId::Qualifying`].
    #[serde(rename = "qualifying")]
    Qualifying,
    /// See [`StageId::Scoring`]; `nurtured` counts warm-nurture messages.
    #[serde(rename = "scoring")]
    Scoring {
        /// Inbound messages nurtured so far.
        nurtured: u32,
    },
    /// See [`StageId::Booking`].
    #[serde(rename = "booking")]
    Booking,
    /// See [`StageId::Scheduling`].
    #[serde(rename = "scheduling")]
    Scheduling(SchedulingData),
    /// See [`StageId::Handoff`].
    #[serde(rename = "handoff")]
    Handoff(HandoffData),
    /// See [`StageId::Completed`].
    #[serde(rename = "completed")]
    Completed,
}

impl StageSnapshot {
    /// The stage id.
    pub fn id(&self) -> StageId {
        match self {
            StageSnapshot::Greeting => StageId::Greeting,
            StageSnapshot::Qualifying => StageId::Qualifying,
            StageSnapshot::Scoring { .. } => StageId::Scoring,
            StageSnapshot::Booking => StageId::Booking,
            StageSnapshot::Scheduling(_) => StageId::Scheduling,
            StageSnapshot::Handoff(_) => StageId::Handoff,
            StageSnapshot::Completed => StageId::Completed,
        }
    }
}

/// Per-conversation data shared by all stages (statig's shared storage).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct LeadState {
    /// Field key → known/unknown.
    pub fields: BTreeMap<String, FieldValue>,
    /// Form values already applied (so an unchanged form value never undoes a correction).
    pub form_seen: BTreeMap<String, String>,
    /// Document key → answer (absent = not asked yet).
    pub documents: BTreeMap<String, YesNo>,
    /// The question asked last.
    pub pending: Option<Pending>,
    /// How many times in a row `pending` has been asked (the re-ask policy).
    #[serde(default)]
    pub asks: u32,
    /// Latest score.
    pub score: Option<LeadScore>,
    /// The consultation booked in this cycle, until it is cancelled.
    #[serde(default)]
    pub appointment: Option<BookedAppointment>,
    /// Turns in a row with nothing learned and no stage change.
    pub idle_turns: u32,
    /// Inbound turns handled, all cycles.
    pub turns: u32,
    /// Completed cycles.
    pub cycles: u32,
    /// The conversation's language (`id`, `en`): detected from the lead's words, sticky,
    /// switched on request; `None` until a first message was read (the persona's language
    /// applies).
    #[serde(default)]
    pub language: Option<String>,
    /// `language` was detected or asked for, not just the default (`flow::language`).
    #[serde(default)]
    pub language_settled: bool,
    /// A language one confident message was written in, not yet switched to.
    #[serde(default)]
    pub language_challenger: Option<String>,
    /// The consent record (issue 18): when the lead opted out of messages ("STOP"), `None`
    /// when never or since resumed ("MULAI"). Proactive messages (reminders) are not sent
    /// while it is set; replies to the lead's own messages are.
    #[serde(default)]
    pub opted_out_at: Option<DateTime<Utc>>,
    /// Follow-ups for a lead who went quiet (issue 18): the last lead message, the count, the
    /// next one due.
    #[serde(default)]
    pub followup: super::followup::FollowupState,
    /// Where the opt-out came from: `message` (the lead wrote it) or `marketing` (131050, or
    /// the lead's marketing preference): a marketing resume clears only the latter.
    #[serde(default)]
    pub opted_out_via: Option<String>,
    /// Where the lead came from (issue 16 item 5): the click-to-WhatsApp ad of the first
    /// message that carried one (first touch; a later ad does not replace it).
    #[serde(default)]
    pub source: Option<LeadSource>,
}

/// A click-to-WhatsApp ad or post the lead came from: Meta's `referral` object on the lead's
/// message (Kapso passes it through). Every part is optional; text parts are as Meta sent them
/// (one line each where shown to a consultant, [`crate::sanitize::notice_line`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeadSource {
    /// `ad` or `post`.
    #[serde(default)]
    pub source_type: Option<String>,
    /// The ad's or post's id.
    #[serde(default)]
    pub source_id: Option<String>,
    /// The ad's or post's URL.
    #[serde(default)]
    pub source_url: Option<String>,
    /// The ad's headline.
    #[serde(default)]
    pub headline: Option<String>,
    /// The ad's body text.
    #[serde(default)]
    pub body: Option<String>,
    /// The click id that ad-conversion reporting needs (`ctwa_clid`).
    #[serde(default)]
    pub ctwa_clid: Option<String>,
    /// When ARI first saw it (set by the core: the turn's clock).
    #[serde(default)]
    pub first_seen: Option<DateTime<Utc>>,
}

impl LeadSource {
    /// How the source reads in a summary or a text: the headline, else the URL, else the id.
    pub fn label(&self) -> Option<&str> {
        [&self.headline, &self.source_url, &self.source_id]
            .into_iter()
            .find_map(|x| x.as_deref().filter(|s| !s.trim().is_empty()))
    }
}

/// A booked consultation, kept so the lead can cancel or reschedule it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookedAppointment {
    /// The store's appointment id.
    pub id: String,
    /// The booked slot.
    pub slot: SlotOption,
}

/// The persisted conversation state: stable names, versioned, independent of statig's layout.
///
/// Every new field, here or in a type it holds, is `#[serde(default)]`: snapshots stored
/// before the field existed still load, and replicas can roll (old and new builds run side by
/// side during a deploy; an old build ignores the fields it does not know). Only a change that
/// a default cannot express bumps [`SCHEMA_VERSION`] with a migration in
/// [`Snapshot::from_json`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Layout version ([`SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// Current stage and its local data.
    pub stage: StageSnapshot,
    /// Lead data, documents, counters.
    pub lead: LeadState,
}

impl Default for Snapshot {
    fn default() -> Self {
        Self::new()
    }
}

/// A stored snapshot could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// Not valid JSON for any known layout.
    #[error("invalid flow snapshot: {0}")]
    Invalid(#[from] serde_json::Error),
    /// Written by a newer ARI.
    #[error("flow snapshot schema_version {0} is newer than this build ({SCHEMA_VERSION})")]
    TooNew(u32),
}

impl Snapshot {
    /// A new conversation: greeting, nothing known.
    pub fn new() -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            stage: StageSnapshot::Greeting,
            lead: LeadState::default(),
        }
    }

    /// Stored JSON → snapshot (the place to migrate older `schema_version`s).
    pub fn from_json(json: &str) -> Result<Self, SnapshotError> {
        let value: serde_json::Value = serde_json::from_str(json)?;
        let version = value
            .get("schema_version")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0) as u32;
        if version > SCHEMA_VERSION {
            return Err(SnapshotError::TooNew(version));
        }
        Ok(serde_json::from_value(value)?)
    }

    /// Snapshot → JSON for the store.
    pub fn to_json(&self) -> String {
        // Serializing plain data with string keys cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The stage id.
    pub fn stage_id(&self) -> StageId {
        self.stage.id()
    }

    /// A field's known value.
    pub fn field(&self, key: &str) -> Option<&str> {
        match self.lead.fields.get(key) {
            Some(FieldValue::Known(v)) => Some(v),
            _ => None,
        }
    }

    /// The handoff reason, when handed off.
    pub fn handoff_reason(&self) -> Option<HandoffReason> {
        match &self.stage {
            StageSnapshot::Handoff(h) => Some(h.reason),
            _ => None,
        }
    }
}

/// The result of one turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TurnOutput {
    /// Store this.
    pub snapshot: Snapshot,
    /// Run these, in order.
    pub effects: Vec<Effect>,
    /// Stage changes this turn, in order (for logs and metrics).
    pub transitions: Vec<(StageId, StageId)>,
    /// The edges taken, rules matched and language detected (coverage, debugging).
    pub trace: TurnTrace,
}

impl TurnOutput {
    /// The texts of the replies (fallback text for `AskLlm`), in order.
    pub fn reply_texts(&self) -> Vec<&str> {
        self.effects
            .iter()
            .filter_map(|e| match e {
                Effect::Reply(r) => Some(r.text.as_str()),
                Effect::AskLlm { fallback, .. } => Some(fallback.text.as_str()),
                _ => None,
            })
            .collect()
    }

    /// Template keys of the replies, in order.
    pub fn reply_templates(&self) -> Vec<&str> {
        self.effects
            .iter()
            .filter_map(|e| match e {
                Effect::Reply(r) => Some(r.template.as_str()),
                Effect::AskLlm { fallback, .. } => Some(fallback.template.as_str()),
                _ => None,
            })
            .collect()
    }
}
