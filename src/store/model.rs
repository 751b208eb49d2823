//! The data the turn pipeline reads and writes through the store: conversations (with their
//! flow snapshot, version and lease), messages and outbox rows.
//!
//! The flow snapshot is opaque here (`serde_json::Value`): the flow core owns its shape and its
//! `schema_version`, the store only keeps it with the conversation, so a renamed state never
//! needs a migration of the tables.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::inbox::InboxRow;

/// One conversation: one lead (E.164 phone) in one workspace.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ConversationKey {
    pub workspace_id: String,
    /// E.164 with a leading `+`.
    pub contact_phone: String,
}

/// Whether a message came from the lead or went to the lead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Inbound,
    Outbound,
}

impl Direction {
    /// The stable lowercase name used in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }

    /// Parses [`Direction::as_str`]'s output.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "inbound" => Some(Direction::Inbound),
            "outbound" => Some(Direction::Outbound),
            _ => None,
        }
    }
}

/// Meta key set (`true`) on a message whose outbox row failed for good: the recipient never
/// got it.
pub const UNDELIVERED_META: &str = "undelivered";

/// Meta key set (`true`) on an undelivered message once someone was told (a fallback row was
/// queued for it, or a notice or relay listed it); an undelivered message without it is listed
/// in the consultant's next notice or relay.
pub const TOLD_META: &str = "told";

/// A message of a conversation as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMessage {
    pub id: i64,
    pub direction: Direction,
    pub text: Option<String>,
    /// WhatsApp message id: the lead's wamid for inbound, Kapso's returned id for outbound once
    /// sent.
    pub wamid: Option<String>,
    /// Free-form details: message type, LLM model and arm, tokens, latency (ms)...
    pub meta: Value,
    /// Milliseconds since the Unix epoch.
    pub created_at_ms: i64,
}

/// Everything a turn needs, read in one round trip by [`super::Store::begin_turn`].
#[derive(Debug, Clone)]
pub struct TurnClaim {
    pub conversation_id: i64,
    /// The conversation's version when claimed; the commit is fenced by it.
    pub version: i64,
    /// Proves this worker holds the lease; the commit must present it.
    pub lease_token: String,
    /// The flow snapshot, `None` for a conversation's first turn.
    pub snapshot: Option<Value>,
    pub contact_name: Option<String>,
    /// The business number the lead last wrote to (the reply goes out from it).
    pub phone_number_id: Option<String>,
    /// The conversation's pending inbox rows, in arrival order (the turn's input).
    pub inbound: Vec<InboxRow>,
    /// The latest messages, oldest first (at most [`RECENT_MESSAGES`]).
    pub recent: Vec<StoredMessage>,
}

/// How many recent messages a turn reads (the LLM's context window of the conversation).
pub const RECENT_MESSAGES: usize = 20;

/// Result of [`super::Store::begin_turn`].
#[derive(Debug, Clone)]
pub enum BeginTurn {
    /// The lease is ours: run the turn and commit it.
    Claimed(Box<TurnClaim>),
    /// Another worker holds an unexpired lease until this time (ms since the epoch).
    Busy { lease_until_ms: i64 },
    /// Nothing is pending for this conversation.
    Idle,
}

/// A message written by a turn. An outbound message with `send` also gets an outbox row in the
/// same transaction.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub direction: Direction,
    /// For an inbound message: the inbox row it came from.
    pub inbox_id: Option<i64>,
    pub wamid: Option<String>,
    pub text: Option<String>,
    pub meta: Value,
    pub send: Option<SendRequest>,
}

/// Where an outbound text goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendRequest {
    /// The business number to send from.
    pub phone_number_id: String,
    /// The recipient, E.164.
    pub to: String,
    /// What to queue if it cannot be delivered (kept with the outbox row).
    pub fallback: Option<Fallback>,
    /// How it goes: [`Channel::Whatsapp`] (the message's text) or
    /// [`Channel::WhatsappTemplate`] (the text is the template body JSON, a follow-up after
    /// the 24 h window, issue 18).
    pub channel: Channel,
    /// The same reply as an interactive message (issue 19): Meta's `interactive` object as JSON
    /// ([`crate::kapso::interactive::Interactive::to_meta`]), kept with the outbox row; the
    /// message's text is its fallback, sent when WhatsApp refuses the interactive form.
    pub interactive: Option<String>,
}

/// What the outbox queues, in the same write, when a row fails for good (issue 20): the
/// template version of a text WhatsApp refused outside the 24 h window (131047), the CRM event
/// and the team's copy of a notice nobody received, the consultant's notice of a reply the lead
/// never got. Built by whoever queues the row (the worker knows the templates, the team number
/// and the CRM) and kept with it as JSON, so a failed send costs no store read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fallback {
    /// Queued when WhatsApp refuses the text outside the 24 h window (131047).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub window_closed: Vec<QueuedRow>,
    /// With 131047 the row ends [`OutboxState::NeedsTemplate`] (no template is configured for
    /// it), not [`OutboxState::Failed`].
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub needs_template: bool,
    /// Queued when it fails for good otherwise (refused, given up at the outbox's cap,
    /// reported failed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub undeliverable: Vec<QueuedRow>,
}

impl Fallback {
    /// Whether it queues nothing and changes no state.
    pub fn is_empty(&self) -> bool {
        self.window_closed.is_empty() && !self.needs_template && self.undeliverable.is_empty()
    }

    /// The state a row failing for `reason` ends in, the rows queued with it, and the tag of
    /// their idempotency keys (`<row key>-<tag><n>`).
    pub fn on_failure(&self, reason: FailReason) -> (OutboxState, &[QueuedRow], &'static str) {
        match reason {
            FailReason::WindowClosed if self.needs_template => {
                (OutboxState::NeedsTemplate, &self.window_closed, "w")
            }
            FailReason::WindowClosed => (OutboxState::Failed, &self.window_closed, "w"),
            _ => (OutboxState::Failed, &self.undeliverable, "u"),
        }
    }
}

/// A row a [`Fallback`] queues in the failed row's conversation (from the same business
/// number; due at once).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedRow {
    pub channel: Channel,
    /// E.164, or the URL of a webhook row.
    pub to: String,
    /// The text, a template's JSON `{"name", "language", "parameters"}`, or a webhook's JSON.
    pub body: String,
    /// At most one such row per conversation and window: see [`Once`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub once: Option<Once>,
    /// This row's own fallback (a template's: the team's copy and the CRM event).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<Box<Fallback>>,
}

/// "At most one": a queued row with a key already queued in the conversation (a relay
/// template, the notice of a lead's missed reply) is not queued again. Instead:
/// - a row of that key still waiting, never tried, takes `merge` in (appended: to a text after
///   a line break, to a template's last parameter after ` | `);
/// - else, a row of that key queued less than `window_ms` ago (ever, with `None`) stands for
///   this one: nothing is queued, and the failed message stays "not told" (listed in the next
///   notice or relay);
/// - else (the window has passed) it is queued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Once {
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_ms: Option<i64>,
    pub merge: String,
}

/// Longest template parameter a merge makes (characters; WhatsApp takes about 1024).
pub const MERGED_PARAMETER_MAX: usize = 900;

/// `body` of a row of `channel` with `addition` merged in ([`Once`]): a text gets it on a line
/// of its own; a template's last parameter gets ` | addition` (capped at
/// [`MERGED_PARAMETER_MAX`] characters; template parameters take no line breaks); a webhook
/// body is left as it is.
pub fn merge_body(channel: Channel, body: &str, addition: &str) -> String {
    match channel {
        Channel::Whatsapp => format!("{body}\n{addition}"),
        Channel::Webhook => body.to_string(),
        Channel::WhatsappTemplate => {
            let Ok(mut value) = serde_json::from_str::<Value>(body) else {
                return body.to_string();
            };
            if let Some(last) = value
                .get_mut("parameters")
                .and_then(Value::as_array_mut)
                .and_then(|p| p.last_mut())
            {
                let joined = format!("{} | {addition}", last.as_str().unwrap_or_default());
                let capped: String = if joined.chars().count() > MERGED_PARAMETER_MAX {
                    let kept: String = joined.chars().take(MERGED_PARAMETER_MAX - 1).collect();
                    format!("{kept}…")
                } else {
                    joined
                };
                *last = Value::String(capped);
            }
            value.to_string()
        }
    }
}

/// Columns kept beside the snapshot so operators can query conversations without decoding it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConversationSummary {
    pub flow_state: Option<String>,
    /// 0..=100.
    pub lead_score: Option<i64>,
    pub lead_temperature: Option<String>,
    pub handoff_reason: Option<String>,
    /// The conversation's language (`id`, `en`; `flow::language`), for what reads no
    /// snapshot: reminders, operators' lists.
    pub language: Option<String>,
    /// When the next follow-up falls due (ms since the epoch; `flow::followup`), `None` when
    /// none is scheduled: what [`super::Store::queue_due_followups`] looks for.
    pub followup_due_ms: Option<i64>,
}

/// One turn's writes, applied by [`super::Store::commit_turn`] in one transaction.
#[derive(Debug, Clone)]
pub struct TurnCommit {
    pub conversation_id: i64,
    /// The version [`TurnClaim::version`] returned: the fence.
    pub version: i64,
    pub lease_token: String,
    /// Inbox rows this turn consumed: marked done in the same transaction.
    pub consumed_inbox_ids: Vec<i64>,
    pub snapshot: Value,
    pub summary: ConversationSummary,
    /// In order: the inbound messages, then the replies.
    pub messages: Vec<NewMessage>,
    /// Milliseconds since the Unix epoch.
    pub now_ms: i64,
    /// The new outbox rows are claimed by the committer for this long (ms): its sender delivers
    /// them directly; if it dies, they become due for any sender afterwards.
    pub outbox_lease_ms: i64,
    /// CRM changes this turn made (none on most turns).
    pub lead: LeadChange,
    /// CRM webhook calls to queue in the same transaction (outbox rows, channel `webhook`).
    pub webhooks: Vec<NewWebhook>,
    /// Messages of this conversation that never arrived and that a notice or relay of this turn
    /// listed: marked [`TOLD_META`] in the same transaction.
    pub told_undelivered: Vec<i64>,
    /// The lead's new number (E.164), when this turn read a `user_changed_number` system
    /// message (issue 16 item 6): in the same transaction the conversation moves to it with
    /// its pending replies and inbox rows and records the old number; when the new number has
    /// a conversation already, this one is closed and linked to it (its appointments move).
    pub move_to: Option<String>,
}

/// A turn's changes to the lead's CRM record. The status is written only when a turn sets it
/// (scored, booked), so a status set by a person in the CRM is not overwritten by later turns;
/// tags are only ever added.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeadChange {
    /// `hot_lead`, `prospect`, `cold_lead` (seed §6.3 `temperatureToLeadStatus`) or `booked`.
    pub status: Option<String>,
    /// Tags to add, e.g. `1on1` (seed §10 handoff tags).
    pub add_tags: Vec<String>,
}

/// Why a conversation's turn is set aside ([`super::Store::set_aside_turn`], issue 16 item 9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TurnFailure {
    /// The error every attempt ended with (logged and kept in the queued row).
    pub error: String,
    /// How many attempts failed that way (`--max-turn-attempts`).
    pub attempts: u32,
    /// The stored snapshot is what cannot be read: clear it (its text is kept in the row).
    pub reset_snapshot: bool,
    /// Milliseconds since the Unix epoch.
    pub now_ms: i64,
}

/// What [`super::Store::set_aside_turn`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetAside {
    /// The conversation's id, `None` when the contact has none yet.
    pub conversation_id: Option<i64>,
    /// Pending inbox rows set aside.
    pub rows: u64,
    /// Whether a [`crate::inbox::TURN_STUCK_EVENT`] row was queued.
    pub queued: bool,
}

/// A conversation's record as operators and tests read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationRecord {
    pub conversation_id: i64,
    pub version: i64,
    pub summary: ConversationSummary,
    pub lead_status: Option<String>,
    pub tags: Vec<String>,
    /// The stored flow snapshot (JSON), `None` before the first turn commits.
    pub snapshot: Option<Value>,
    /// The lead's number (E.164) before WhatsApp's `user_changed_number` moved the
    /// conversation (issue 16 item 6); `None` when it never moved.
    pub previous_phone: Option<String>,
}

/// What [`super::Store::erase_contact`] did: the receipt an operator keeps (UU PDP's right to
/// erasure, issue 18). The counts are the rows whose content was erased; the rows themselves
/// stay as counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EraseReceipt {
    pub conversation_id: i64,
    pub messages: u64,
    pub appointments: u64,
    pub outbox_rows: u64,
    pub inbox_rows: u64,
    /// ms since the Unix epoch.
    pub erased_at_ms: i64,
}

/// Result of [`super::Store::erase_contact`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EraseOutcome {
    /// Erased; the receipt.
    Erased(EraseReceipt),
    /// A turn holds the conversation's lease right now: nothing was erased; try again.
    Busy,
    /// No conversation of that contact.
    NotFound,
}

/// Result of [`super::Store::commit_turn`].
#[derive(Debug, Clone, PartialEq)]
pub enum CommitOutcome {
    /// Applied; the conversation is now at `version`. `outbox` holds the rows this commit created
    /// and claimed for the committer (handed to the sender directly, so the sender needs no
    /// extra read). It is empty when an older reply of the contact is still undelivered: then
    /// the new rows are left unclaimed and go out after it, through `claim_outbox`.
    Committed {
        version: i64,
        outbox: Vec<OutboxRow>,
    },
    /// The conversation moved on (another worker committed, or our lease was taken after it
    /// expired): nothing was written; redo the turn from a fresh `begin_turn`.
    Stale,
}

/// Where an outbox row stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxState {
    /// Waiting to be sent (or to be retried at `next_attempt_at_ms`).
    Pending,
    /// Kapso accepted it; `kapso_message_id` holds the id.
    Sent,
    /// No API key configured: logged instead of sent.
    DryRun,
    /// Failed for good, with a [`FailReason`]: Kapso refused it (a 4xx other than 429),
    /// WhatsApp reported it failed, or it was still failing after the outbox's attempt or age
    /// cap (a dead letter). A failed row never holds back the later rows of its conversation;
    /// `POST /admin/outbox/{id}/retry` requeues it.
    Failed,
    /// WhatsApp refused the text outside the 24 h window (131047) and no approved template is
    /// configured for it: it cannot be delivered until one is (or the recipient writes first).
    /// Final like [`OutboxState::Failed`].
    NeedsTemplate,
}

impl OutboxState {
    /// Every state, in the order of [`OutboxState::as_str`]'s names.
    pub const ALL: [OutboxState; 5] = [
        OutboxState::Pending,
        OutboxState::Sent,
        OutboxState::DryRun,
        OutboxState::Failed,
        OutboxState::NeedsTemplate,
    ];

    /// Whether the row failed for good ([`OutboxState::Failed`] or
    /// [`OutboxState::NeedsTemplate`]): an admin may requeue it.
    pub fn is_failure(self) -> bool {
        matches!(self, OutboxState::Failed | OutboxState::NeedsTemplate)
    }

    /// The stable lowercase name used in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxState::Pending => "pending",
            OutboxState::Sent => "sent",
            OutboxState::DryRun => "dry_run",
            OutboxState::Failed => "failed",
            OutboxState::NeedsTemplate => "needs_template",
        }
    }

    /// Parses [`OutboxState::as_str`]'s output.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => OutboxState::Pending,
            "sent" => OutboxState::Sent,
            "dry_run" => OutboxState::DryRun,
            "failed" => OutboxState::Failed,
            "needs_template" => OutboxState::NeedsTemplate,
            _ => return None,
        })
    }
}

/// Why an outbox row failed for good (the `reason` label of `ari_outbox_failed_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailReason {
    /// Kapso or Meta refused it (a 4xx other than 429 and the rate-limit codes), or the request
    /// was invalid: sending it again would be refused again.
    Rejected,
    /// WhatsApp refused free text outside the recipient's 24 h window (131047).
    WindowClosed,
    /// Still failing (transient errors) after `--outbox-max-attempts` attempts.
    MaxAttempts,
    /// Still failing (transient errors) `--outbox-max-age-minutes` after it was queued.
    MaxAge,
    /// Kapso accepted it, then WhatsApp reported it failed (`whatsapp.message.failed`) with
    /// another code than 131047.
    ReportedFailed,
    /// A CRM webhook row while no CRM webhook is configured any more.
    NoCrm,
}

impl FailReason {
    /// The stable lowercase name used in the store and the metric.
    pub fn as_str(self) -> &'static str {
        match self {
            FailReason::Rejected => "rejected",
            FailReason::WindowClosed => "window_closed",
            FailReason::MaxAttempts => "max_attempts",
            FailReason::MaxAge => "max_age",
            FailReason::ReportedFailed => "reported_failed",
            FailReason::NoCrm => "no_crm",
        }
    }

    /// Parses [`FailReason::as_str`]'s output.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "rejected" => FailReason::Rejected,
            "window_closed" => FailReason::WindowClosed,
            "max_attempts" => FailReason::MaxAttempts,
            "max_age" => FailReason::MaxAge,
            "reported_failed" => FailReason::ReportedFailed,
            "no_crm" => FailReason::NoCrm,
            _ => return None,
        })
    }
}

/// How an outbox row is delivered. Rows of one conversation go out in order per channel, so a
/// failing CRM endpoint never holds back the lead's replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// A WhatsApp text through Kapso (`to` is E.164, `body` the text).
    Whatsapp,
    /// A signed JSON POST to the CRM webhook (`to` is the URL, `body` the JSON).
    Webhook,
    /// An approved WhatsApp template message (`to` is E.164, `body` the JSON
    /// `{"name", "language", "parameters": [..]}`): what WhatsApp accepts outside the 24 h window.
    WhatsappTemplate,
}

impl Channel {
    /// The stable lowercase name used in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Whatsapp => "whatsapp",
            Channel::Webhook => "webhook",
            Channel::WhatsappTemplate => "whatsapp_template",
        }
    }

    /// Parses [`Channel::as_str`]'s output.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "whatsapp" => Some(Channel::Whatsapp),
            "webhook" => Some(Channel::Webhook),
            "whatsapp_template" => Some(Channel::WhatsappTemplate),
            _ => None,
        }
    }
}

/// A CRM webhook call a turn queues (e.g. a handoff), delivered through the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWebhook {
    pub url: String,
    /// The JSON body, exactly as it will be signed and sent.
    pub body: String,
}

/// One outbound delivery (a WhatsApp text, or a CRM webhook call) waiting for, or past,
/// delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRow {
    pub id: i64,
    pub conversation_id: i64,
    pub channel: Channel,
    /// Unique per row and stable across retries and restarts: `ari-<conversation>-<version>-<n>`.
    pub idempotency_key: String,
    pub phone_number_id: String,
    /// E.164.
    pub to: String,
    pub body: String,
    pub state: OutboxState,
    pub attempts: i64,
    /// Milliseconds since the Unix epoch.
    pub next_attempt_at_ms: i64,
    pub kapso_message_id: Option<String>,
    /// The last error (kept after a final failure: what the admin list shows).
    pub error: Option<String>,
    /// Why the row failed for good; `None` unless it did.
    pub reason: Option<FailReason>,
    /// When the row was queued, or last requeued by an admin (ms since the Unix epoch): the
    /// outbox's age cap (`--outbox-max-age-minutes`) counts from here.
    pub queued_at_ms: i64,
    /// A `whatsapp` row sent as an interactive message (issue 19): Meta's `interactive` object
    /// as JSON; `body` is then its text fallback. `None` for every other row.
    pub interactive: Option<String>,
}

/// What happened to one delivery attempt of an outbox row.
#[derive(Debug, Clone, PartialEq)]
pub enum SendOutcome {
    /// Kapso accepted the message and returned its id.
    Sent { kapso_message_id: String },
    /// Dry run: recorded, not sent.
    DryRun,
    /// A webhook call was accepted (2xx); there is no message id.
    Delivered,
    /// Transient failure: try again at `next_attempt_at_ms`.
    Retry {
        error: String,
        next_attempt_at_ms: i64,
    },
    /// Permanent failure (e.g. 131047 outside the 24 h window, or a dead letter after the
    /// attempt or age cap): never retried, unless an admin requeues it.
    Failed { error: String, reason: FailReason },
}

/// A consultation to book (from the flow's `BookSlot`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAppointment {
    pub conversation_id: i64,
    pub workspace_id: String,
    /// The slot's stable id (the same id for every lead offered that slot).
    pub slot_id: String,
    /// Start instant, ms since the Unix epoch (UTC).
    pub starts_at_ms: i64,
    pub duration_minutes: u32,
    pub consultant_name: String,
    /// E.164.
    pub consultant_whatsapp: String,
    /// How many leads the slot takes (from the slot rule).
    pub capacity: u32,
    pub notes: String,
    pub now_ms: i64,
}

/// Result of [`super::Store::book_slot`] and [`super::Store::move_appointment`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BookingOutcome {
    /// Booked, or moved (or this conversation already held this slot: the same appointment).
    Booked { appointment_id: i64 },
    /// The slot's capacity is used up.
    Full,
}

/// A booked consultation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appointment {
    pub id: i64,
    pub conversation_id: i64,
    pub slot_id: String,
    /// ms since the Unix epoch (UTC).
    pub starts_at_ms: i64,
    pub duration_minutes: u32,
    pub consultant_name: String,
    pub consultant_whatsapp: String,
    /// `booked` or `cancelled`.
    pub status: String,
    pub notes: String,
}

/// A booked consultation ahead, with what the reminder task needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpcomingAppointment {
    pub appointment: Appointment,
    pub key: ConversationKey,
    /// The business number to send from.
    pub phone_number_id: Option<String>,
    pub contact_name: Option<String>,
    /// When it was booked, ms since the Unix epoch.
    pub booked_at_ms: i64,
    /// Reminder kinds already recorded (e.g. `reminder_24h`).
    pub reminders_sent: Vec<String>,
    /// The lead's latest message, ms since the Unix epoch (WhatsApp's 24 h window).
    pub last_inbound_ms: Option<i64>,
    /// The conversation's language from its summary (`None`: the workspace's persona
    /// language), so the reminder is in the lead's language without reading the snapshot.
    pub language: Option<String>,
}

/// One message of a reminder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReminderMessage {
    /// E.164.
    pub to: String,
    /// The text, or for a template the JSON `{"name", "language", "parameters"}`.
    pub body: String,
    /// [`Channel::Whatsapp`] or [`Channel::WhatsappTemplate`].
    pub channel: Channel,
    /// What to queue if it cannot be delivered (the lead's template reminder outside the
    /// window; the consultant's notice fallbacks).
    pub fallback: Option<Fallback>,
    /// The lead's reminder as reply buttons (issue 19; Meta's interactive object as JSON),
    /// `body` being its text fallback.
    pub interactive: Option<String>,
}

/// One reminder to record: its messages go out through the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReminder {
    pub appointment_id: i64,
    pub conversation_id: i64,
    /// `reminder_24h` or `reminder_2h`.
    pub kind: String,
    /// The messages; the lead's text is also logged in the conversation.
    pub messages: Vec<ReminderMessage>,
    pub phone_number_id: String,
    /// The lead (E.164): a message to this number is logged as an outbound message.
    pub contact_phone: String,
    pub now_ms: i64,
    /// As [`TurnCommit::outbox_lease_ms`].
    pub outbox_lease_ms: i64,
    /// The language of the lead's text (`id`, `en`), logged in its meta as every lead-facing
    /// message's is.
    pub language: Option<String>,
}

/// What [`super::Store::due`] is asked (issue 17 item 3): one cheap read that says whether the
/// worker has anything to do, so an idle replica calls nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DueQuery {
    /// The caller's clock (ms since the epoch).
    pub now_ms: i64,
    /// List the conversations with pending inbox rows ([`DueReport::pending`],
    /// [`DueReport::orphans_due`]): on Convex, rows another replica ingested. The SQLite store
    /// is owned by one process, whose recovery poll finds them instead (`false`).
    pub with_pending: bool,
    /// At most this many conversations in [`DueReport::pending`].
    pub limit: u32,
    /// As in [`super::Store::pending_conversations`] (ms): an orphan older than this is due to
    /// be set aside.
    pub orphan_ttl_ms: i64,
    /// When the reminder pass last ran (ms; 0 before the first): only reminder times after it
    /// count in [`DueReport::next_reminder_ms`].
    pub reminders_after_ms: i64,
}

/// What [`super::Store::due`] found (plain data). Times are ms since the epoch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DueReport {
    /// Conversations with pending inbox rows, at most [`DueQuery::limit`] (empty unless
    /// [`DueQuery::with_pending`]).
    pub pending: Vec<ConversationKey>,
    /// Pending rows that name only a Kapso conversation id can be attached now, or are old
    /// enough to be set aside: [`super::Store::pending_conversations`] has work.
    pub orphans_due: bool,
    /// Inbox rows in state `pending` (`ari_inbox_depth`; Convex reads at most 4,096).
    pub pending_rows: u64,
    /// Heads of line of the outbox (oldest pending row per conversation and channel) due now:
    /// [`super::Store::claim_outbox`] has work.
    pub outbox_due: u64,
    /// The earliest later attempt time of an outbox head (a retry, or a send lease ending).
    pub next_outbox_ms: Option<i64>,
    /// The earliest reminder time (a booked appointment's start minus 24 h or 2 h) after
    /// [`DueQuery::reminders_after_ms`]; at or before `now_ms`: the reminder pass has work.
    pub next_reminder_ms: Option<i64>,
    /// The earliest follow-up due time of any conversation; at or before `now_ms`:
    /// [`super::Store::queue_due_followups`] has work.
    pub next_followup_ms: Option<i64>,
    /// Moves when an admin stores a knowledge entry (`PUT /admin/knowledge/...`): a replica
    /// that sees it move rereads the stored entries.
    pub knowledge_version: i64,
}
