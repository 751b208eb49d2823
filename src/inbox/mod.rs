//! The inbox: what ingress records for every accepted webhook delivery, before it answers 200.
//!
//! One delivery (one HTTP POST from Kapso) becomes one [`NewDelivery`] holding one
//! [`InboundEvent`] per item it carries: a batched delivery holds several messages, a Meta-format
//! delivery holds every message and status of every entry and change. The store claims the
//! delivery's idempotency key and each message's `(phone_number_id, wamid)` atomically, so a
//! redelivery, or the same message arriving through both a Kapso and a Meta webhook, is stored
//! once. The worker (a later part) processes the pending rows in arrival order.

pub mod enrich;

use serde::{Deserialize, Serialize};

/// What an inbox row is about. Stored as the lowercase name (`"message"`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// An inbound WhatsApp message from a lead (`whatsapp.message.received`, Meta `messages[]`).
    Message,
    /// A status of a message: `whatsapp.message.sent|delivered|read|failed` or Meta `statuses[]`.
    /// Outbound messages typed by a person in the WhatsApp Business app arrive as `sent` with
    /// origin `business_app`.
    Status,
    /// `whatsapp.conversation.created|ended|inactive`.
    Conversation,
    /// `workflow.execution.handoff|failed` (a Kapso workflow handed the conversation to a human).
    Workflow,
    /// An operator's command for a conversation, e.g. `ari.conversation.resume` (hand a
    /// conversation a person took over back to the bot). Queued like a message so it applies
    /// in order with the lead's messages.
    Control,
    /// Anything the service cannot interpret yet: stored raw and acknowledged, never dropped.
    Unknown,
}

impl EventKind {
    /// The stable lowercase name used in the store and in metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Message => "message",
            EventKind::Status => "status",
            EventKind::Conversation => "conversation",
            EventKind::Workflow => "workflow",
            EventKind::Control => "control",
            EventKind::Unknown => "unknown",
        }
    }
}

/// Where an inbox row stands. Stored as the lowercase name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InboxState {
    /// Waiting for the worker.
    Pending,
    /// The business number (`phone_number_id`) is served by no configured workspace: kept for
    /// an operator, never processed automatically.
    Unroutable,
    /// A message without a sender phone (business-scoped user ids only): kept and logged; ARI
    /// cannot reply to it through the phone-number send API.
    NoSender,
    /// Handled by the worker.
    Done,
    /// Set aside with its conversation's turn, which failed the same way `--max-turn-attempts`
    /// times (issue 16 item 9): kept for an operator, never processed again. The conversation
    /// was handed off as `stuck` instead ([`TURN_STUCK_EVENT`]).
    SetAside,
}

impl InboxState {
    /// The stable lowercase name used in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            InboxState::Pending => "pending",
            InboxState::Unroutable => "unroutable",
            InboxState::NoSender => "no_sender",
            InboxState::Done => "done",
            InboxState::SetAside => "set_aside",
        }
    }

    /// Parses [`InboxState::as_str`]'s output.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => InboxState::Pending,
            "unroutable" => InboxState::Unroutable,
            "no_sender" => InboxState::NoSender,
            "done" => InboxState::Done,
            "set_aside" => InboxState::SetAside,
            _ => return None,
        })
    }
}

/// The WhatsApp message types ARI distinguishes (Kapso v2 `message.type`, Meta `messages[].type`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageType {
    Text,
    Image,
    Video,
    Audio,
    Document,
    Sticker,
    Location,
    Reaction,
    Contacts,
    Template,
    /// Interactive reply: a button or list row the lead tapped.
    Interactive,
    /// Quick-reply button of a template message (Meta type `button`).
    Button,
    /// Any other type, with its name.
    Other(String),
}

impl MessageType {
    /// Maps a payload's `type` string.
    pub fn from_wire(s: &str) -> Self {
        match s {
            "text" => MessageType::Text,
            "image" => MessageType::Image,
            "video" => MessageType::Video,
            "audio" | "voice" => MessageType::Audio,
            "document" => MessageType::Document,
            "sticker" => MessageType::Sticker,
            "location" => MessageType::Location,
            "reaction" => MessageType::Reaction,
            "contacts" => MessageType::Contacts,
            "template" => MessageType::Template,
            "interactive" => MessageType::Interactive,
            "button" => MessageType::Button,
            other => MessageType::Other(other.to_string()),
        }
    }
}

/// Media metadata of an image, video, audio, document or sticker message (Kapso
/// `message.kapso.media_data`, or the Meta media object). Sizes in bytes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Media {
    pub id: Option<String>,
    pub url: Option<String>,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub byte_size: Option<u64>,
}

/// A shared location (degrees, WGS 84).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Location {
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub name: Option<String>,
    pub address: Option<String>,
}

/// One inbound WhatsApp message, normalised from either payload format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundMessage {
    /// The WhatsApp message id (`wamid.…`).
    pub wamid: String,
    /// WhatsApp's timestamp, seconds since the Unix epoch.
    pub timestamp: Option<i64>,
    pub message_type: MessageType,
    /// The text the flow reads: the body of a text, the caption of media, the transcript of a
    /// voice note, the title of a tapped button, the name of a location, the emoji of a
    /// reaction. `None` when the message carries no text at all.
    pub text: Option<String>,
    /// The id of a tapped interactive button or list row (e.g. a slot id), or of a template
    /// quick-reply button's payload.
    pub reply_id: Option<String>,
    pub media: Option<Media>,
    pub location: Option<Location>,
    /// For a reaction: the wamid it reacts to.
    pub reacts_to: Option<String>,
    /// For a reply: the wamid it quotes (`context.id`).
    pub context_id: Option<String>,
    /// Kapso's origin: `cloud_api`, `business_app` or `history_sync`.
    pub origin: Option<String>,
    /// The click-to-WhatsApp ad or post the message came from (Meta's `referral`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referral: Option<crate::flow::LeadSource>,
}

/// A Meta error attached to a status, e.g. code 131047 (24 h window closed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusError {
    pub code: Option<i64>,
    pub title: Option<String>,
    pub message: Option<String>,
}

/// A status of a message (`sent`, `delivered`, `read`, `failed`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusUpdate {
    /// The wamid of the message the status is about.
    pub wamid: String,
    /// `sent`, `delivered`, `read`, `failed` (as WhatsApp names them).
    pub status: String,
    /// Seconds since the Unix epoch.
    pub timestamp: Option<i64>,
    /// The recipient, E.164 with `+`.
    pub recipient: Option<String>,
    /// Kapso's origin of the message (`business_app` means a person typed it on the phone).
    pub origin: Option<String>,
    /// `inbound` or `outbound` (Kapso v2 only).
    pub direction: Option<String>,
    /// The message's text, when the status event carries it (Kapso v2 `message.text.body`).
    pub text: Option<String>,
    pub errors: Vec<StatusError>,
}

/// A Kapso workflow event (`workflow.execution.handoff|failed`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowEvent {
    pub execution_id: Option<String>,
    pub status: Option<String>,
    pub reason: Option<String>,
}

/// One item of a delivery, normalised. The raw JSON of the item is stored beside it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundEvent {
    pub kind: EventKind,
    /// The event's name, e.g. `whatsapp.message.received`; Meta items are named
    /// `meta.message`, `meta.status`, `meta.<field>`; an unknown item keeps whatever name it had.
    pub event_type: String,
    /// The business number's id at Meta (selects the workspace).
    pub phone_number_id: Option<String>,
    /// The lead's phone, E.164 with a leading `+`. `None` for business-scoped user ids.
    pub contact_phone: Option<String>,
    /// The lead's WhatsApp profile name.
    pub contact_name: Option<String>,
    /// Kapso's conversation id (`conv_…`), which workflow events refer to.
    pub kapso_conversation_id: Option<String>,
    pub message: Option<InboundMessage>,
    pub status: Option<StatusUpdate>,
    pub workflow: Option<WorkflowEvent>,
    /// `whatsapp.conversation.ended` by a person (an agent or a manual closure), not by
    /// Kapso's 24-hour inactivity: it closes a handed-off conversation
    /// ([`crate::ingress::events`] decides from the payload).
    #[serde(default)]
    pub ended_by_agent: bool,
}

impl InboundEvent {
    /// An item the service cannot interpret: it is stored raw and acknowledged.
    pub fn unknown(event_type: impl Into<String>) -> Self {
        InboundEvent {
            kind: EventKind::Unknown,
            event_type: event_type.into(),
            phone_number_id: None,
            contact_phone: None,
            contact_name: None,
            kapso_conversation_id: None,
            message: None,
            status: None,
            workflow: None,
            ended_by_agent: false,
        }
    }

    /// The WhatsApp message id this item is about (a message's own id, or the id a status
    /// refers to), used for the per-message dedup claim.
    pub fn wamid(&self) -> Option<&str> {
        self.message
            .as_ref()
            .map(|m| m.wamid.as_str())
            .or_else(|| self.status.as_ref().map(|s| s.wamid.as_str()))
    }
}

/// One item ready to be stored: the normalised event, its raw JSON, its routing outcome.
#[derive(Debug, Clone)]
pub struct NewInboxItem {
    pub event: InboundEvent,
    /// The item's JSON as received (one element of a batch, one Meta message or status).
    pub raw: serde_json::Value,
    /// The workspace that serves the business number; `None` when unroutable or not known yet
    /// (workflow events name a Kapso conversation, not a number).
    pub workspace_id: Option<String>,
    pub state: InboxState,
}

/// One webhook delivery, as the store receives it from ingress.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    /// Kapso's `X-Idempotency-Key`, or `sha256:<hex of the raw body>` when the header is absent.
    pub idempotency_key: String,
    /// The `X-Webhook-Event` header, if any.
    pub event_header: Option<String>,
    /// The request id assigned by ingress (also in the logs).
    pub request_id: String,
    /// Receipt time, milliseconds since the Unix epoch.
    pub received_at_ms: i64,
    pub items: Vec<NewInboxItem>,
    /// The body verbatim, kept only when ingress had to repair it to parse it (lone UTF-16
    /// surrogate escapes rewritten to U+FFFD, [`crate::ingress::surrogates`]): the items' raw
    /// JSON then differs from what was received. `None` otherwise.
    pub original_body: Option<String>,
    /// `sha256:<hex>` of the body as received, when ingress has one: a delivery of the same
    /// bytes under another idempotency key (a signed body replayed with other headers) is a
    /// duplicate delivery too (issue 21). `None` for deliveries ARI makes itself.
    pub body_hash: Option<String>,
}

/// The control event that hands a conversation back to the bot.
pub const RESUME_EVENT: &str = "ari.conversation.resume";

/// The control event that closes a handed-off conversation (the lead's next message starts a
/// new cycle).
pub const CLOSE_EVENT: &str = "ari.conversation.close";

/// The control event of a follow-up that fell due (issue 18): its raw JSON holds `due_at_ms`,
/// the due time it was queued for. Queued by [`crate::store::Store::queue_due_followups`].
pub const FOLLOWUP_DUE_EVENT: &str = "ari.followup.due";

/// The control event the outbox queues when WhatsApp refused a send with 131050 (the user
/// stopped marketing messages), also the control item of a `user_preferences` webhook whose
/// user stopped them: the turn records it on the contact as an opt-out (issue 18).
pub const MARKETING_STOPPED_EVENT: &str = "ari.consent.marketing_stopped";

/// The control item of a `user_preferences` webhook whose user resumed marketing messages: the
/// turn clears a marketing opt-out (issue 18).
pub const MARKETING_RESUMED_EVENT: &str = "ari.consent.marketing_resumed";

/// The control event queued when a conversation's turn was given up (issue 16 item 9,
/// [`crate::store::Store::set_aside_turn`]): its raw JSON holds `error`, `attempts`, the ids of
/// the rows set aside (`set_aside`) and, when the snapshot was the unreadable part, the stored
/// text (`snapshot`). Its turn hands the conversation off as `stuck`.
pub const TURN_STUCK_EVENT: &str = "ari.turn.stuck";

/// Kapso's event for a conversation that ended (closes a handoff when a person ended it).
pub const CONVERSATION_ENDED_EVENT: &str = "whatsapp.conversation.ended";

/// What happened to a delivery in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnqueueOutcome {
    /// The idempotency key was claimed before: nothing new was stored.
    DuplicateDelivery,
    /// The delivery was recorded. `stored` items are new; `duplicates` items were already in the
    /// inbox under another delivery (the same wamid through another webhook); `enriched` of
    /// those duplicates completed the stored message with content it lacked (in place, or
    /// through one queued enrichment row: [`enrich`]).
    Accepted {
        stored: usize,
        duplicates: usize,
        enriched: usize,
    },
}

/// An inbox row as read back from the store.
#[derive(Debug, Clone, PartialEq)]
pub struct InboxRow {
    /// Arrival order: strictly increasing.
    pub id: i64,
    pub delivery_key: String,
    pub kind: EventKind,
    pub event_type: String,
    pub workspace_id: Option<String>,
    pub state: InboxState,
    pub event: InboundEvent,
    pub raw: serde_json::Value,
    pub received_at_ms: i64,
}
