//! Parsing Kapso webhook bodies into [`InboundEvent`]s.
//!
//! Three shapes arrive on the same endpoint (see `tests/fixtures/kapso/README.md`):
//! - Kapso v2 event payloads, one event per delivery; the event's name is in the
//!   `X-Webhook-Event` header (workflow events also carry it as `event` in the body);
//! - Kapso batched deliveries, `{"type": ..., "batch": true, "data": [<v2 payload>, ...]}`: the
//!   body decides ([`Shape`]); `X-Webhook-Batch` is only compared with it, and a mismatch is
//!   logged and counted (issue 16 item 2), never obeyed;
//! - the raw Meta Cloud API format, `{"object": ..., "entry": [{"changes": [{"value": ...}]}]}`,
//!   where every entry, change, message and status counts (not only the first).
//!
//! Parsing is tolerant by design: Kapso warns that fields such as `phone_number` may be absent,
//! and new event types appear. Only a body that is not a JSON object is rejected; any item that
//! cannot be interpreted becomes an [`EventKind::Unknown`] item that is stored raw and
//! acknowledged, so nothing is ever dropped.

use serde_json::{Map, Value};

use crate::inbox::{
    EventKind, InboundEvent, InboundMessage, Location, Media, MessageType, StatusError,
    StatusUpdate, WorkflowEvent,
};

/// Why a body cannot be accepted at all (answered 400).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PayloadError {
    /// The body is valid JSON but not an object (`[]`, `"x"`, `3`, `null`).
    #[error("the webhook body must be a JSON object, got {0}")]
    NotAnObject(&'static str),
}

/// One parsed item: the normalised event and the JSON it came from.
pub type ParsedItem = (InboundEvent, Value);

/// Parses a webhook body into its items.
///
/// `event_header` is `X-Webhook-Event`; `batch_header` is whether `X-Webhook-Batch: true` was
/// sent: it is compared with the body's [`Shape`] (a mismatch is logged and counted), and the
/// body is read as its shape says. `version` is `X-Webhook-Payload-Version` (`v1` selects
/// Kapso's legacy payloads, [`super::v1`]; without it the shape decides). Never fails on an
/// object: what it cannot interpret comes back as an
/// [`EventKind::Unknown`] item holding the JSON. A delivery that holds no item at all (e.g. a
/// Meta payload with an empty `entry`) yields one unknown item with the whole body, so that the
/// delivery is still visible in the inbox.
pub fn parse_body(
    body: &Value,
    event_header: Option<&str>,
    batch_header: bool,
    version: Option<&str>,
) -> Result<Vec<ParsedItem>, PayloadError> {
    let Some(obj) = body.as_object() else {
        return Err(PayloadError::NotAnObject(json_type_name(body)));
    };
    let shape = Shape::of(obj);
    if (shape == Shape::Batch) != batch_header {
        let header = if batch_header { "batch" } else { "single" };
        metrics::counter!(crate::telemetry::names::BATCH_HEADER_MISMATCHES, "header" => header)
            .increment(1);
        tracing::warn!(
            x_webhook_batch = batch_header,
            body = shape.as_str(),
            "X-Webhook-Batch does not match the body: read as the body shows"
        );
    }
    let mut items = match shape {
        Shape::Meta => parse_meta(obj),
        Shape::Batch => parse_batch(obj, event_header, version),
        Shape::Single => vec![(parse_kapso(obj, event_header, version), body.clone())],
    };
    if items.is_empty() {
        let name = event_header.unwrap_or("unknown");
        items.push((InboundEvent::unknown(name), body.clone()));
    }
    Ok(items)
}

/// What a body is, from the body alone (issue 16 item 2: the batch header means what the body
/// shows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// The raw Meta Cloud API format: `object` and `entry`.
    Meta,
    /// A Kapso batch: `batch: true`, or a `data` array in a body that is no single event (no
    /// `message` or `conversation`).
    Batch,
    /// One Kapso v2 event.
    Single,
}

impl Shape {
    /// The shape of a body object.
    pub fn of(obj: &Map<String, Value>) -> Shape {
        let single_event = obj.contains_key("message") || obj.contains_key("conversation");
        if obj.contains_key("entry") && obj.contains_key("object") {
            Shape::Meta
        } else if obj.get("batch").and_then(Value::as_bool) == Some(true)
            || (obj.get("data").is_some_and(Value::is_array) && !single_event)
        {
            Shape::Batch
        } else {
            Shape::Single
        }
    }

    /// `meta`, `batch` or `single` (logs).
    pub fn as_str(self) -> &'static str {
        match self {
            Shape::Meta => "meta",
            Shape::Batch => "batch",
            Shape::Single => "single",
        }
    }
}

fn json_type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// One Kapso payload, v2 or legacy v1 (read as v2, then completed by [`super::v1`]).
fn parse_kapso(
    obj: &Map<String, Value>,
    hint: Option<&str>,
    version: Option<&str>,
) -> InboundEvent {
    let event = parse_v2(obj, hint);
    if super::v1::is_v1(obj, version) {
        super::v1::complete(obj, event)
    } else {
        event
    }
}

fn parse_batch(
    obj: &Map<String, Value>,
    event_header: Option<&str>,
    version: Option<&str>,
) -> Vec<ParsedItem> {
    let batch_type = obj.get("type").and_then(Value::as_str).or(event_header);
    let Some(data) = obj.get("data").and_then(Value::as_array) else {
        let name = batch_type.unwrap_or("unknown");
        return vec![(InboundEvent::unknown(name), Value::Object(obj.clone()))];
    };
    data.iter()
        .map(|item| match item.as_object() {
            Some(o) => (parse_kapso(o, batch_type, version), item.clone()),
            None => (
                InboundEvent::unknown(batch_type.unwrap_or("unknown")),
                item.clone(),
            ),
        })
        .collect()
}

/// Names the event of a single v2 payload. The body decides whatever it can, so that a signed
/// body replayed under another `X-Webhook-Event` keeps its meaning (issue 21 item 8):
/// - an `event` or `type` the body names wins;
/// - a message says itself what it is (`message.kapso.direction` and `status`; v1 keeps them
///   on the message): inbound is `whatsapp.message.received`, outbound
///   `whatsapp.message.<status>`; only a message that says neither takes a
///   `whatsapp.message.*` hint;
/// - an `inactivity` object is `whatsapp.conversation.inactive`; another conversation event
///   takes only a `whatsapp.conversation.*` hint;
/// - a workflow event takes only a `workflow.execution.*` hint, and only with its own fields
///   ([`is_workflow_body`]);
/// - anything else takes the hint as it is (an event ARI does not handle, stored raw).
///
/// A hint the body contradicts is dropped, logged and counted
/// (`ari_webhook_event_header_mismatches_total`).
fn v2_event_type(obj: &Map<String, Value>, hint: Option<&str>) -> String {
    let hint = hint.map(str::trim).filter(|h| !h.is_empty());
    let (name, hint_fits) = body_event_type(obj, hint);
    if let Some(h) = hint
        && !hint_fits
        && h != name
    {
        metrics::counter!(crate::telemetry::names::EVENT_HEADER_MISMATCHES).increment(1);
        tracing::warn!(
            header = %crate::ingress::event_label(h),
            body = %crate::ingress::event_label(&name),
            "X-Webhook-Event does not match the body: read as the body shows"
        );
    }
    name
}

/// The event name of a v2 payload, and whether the hint was taken (see [`v2_event_type`]).
fn body_event_type(obj: &Map<String, Value>, hint: Option<&str>) -> (String, bool) {
    let family = |prefix: &str| hint.filter(|h| h.starts_with(prefix)).map(str::to_string);
    for key in ["event", "type"] {
        if let Some(s) = obj.get(key).and_then(Value::as_str) {
            return (s.to_string(), hint == Some(s));
        }
    }
    if let Some(msg) = obj.get("message") {
        let kapso = msg.get("kapso");
        // v2 keeps them in `message.kapso`, legacy v1 on the message itself.
        let direction = kapso
            .and_then(|k| str_at(k, "direction"))
            .or_else(|| str_at(msg, "direction"));
        let status = kapso
            .and_then(|k| str_at(k, "status"))
            .or_else(|| str_at(msg, "status"));
        let said = match (direction, status) {
            (Some("outbound"), Some(s)) => Some(format!("whatsapp.message.{s}")),
            (Some("inbound"), _) => Some("whatsapp.message.received".to_string()),
            _ => None,
        };
        return match (said, family("whatsapp.message.")) {
            (Some(said), _) => {
                let fits = hint == Some(said.as_str());
                (said, fits)
            }
            (None, Some(h)) => (h, true),
            (None, None) => ("whatsapp.message.received".to_string(), false),
        };
    }
    if obj.contains_key("inactivity") {
        let name = "whatsapp.conversation.inactive";
        return (name.to_string(), hint == Some(name));
    }
    if obj.contains_key("conversation") {
        return match family("whatsapp.conversation.") {
            Some(h) => (h, true),
            None => ("unknown".to_string(), false),
        };
    }
    if is_workflow_body(obj) {
        return match family("workflow.execution.") {
            Some(h) => (h, true),
            None => ("unknown".to_string(), false),
        };
    }
    match hint {
        Some(h) if !h.starts_with("workflow.execution.") => (h.to_string(), true),
        _ => ("unknown".to_string(), false),
    }
}

/// Whether a body carries a Kapso workflow event's own fields: a `workflow_execution_id` and
/// a `workflow_id` (or a `status`), and no message.
pub fn is_workflow_body(obj: &Map<String, Value>) -> bool {
    str_at_value(obj.get("workflow_execution_id")).is_some()
        && (obj.contains_key("workflow_id") || obj.contains_key("status"))
        && !obj.contains_key("message")
}

fn parse_v2(obj: &Map<String, Value>, hint: Option<&str>) -> InboundEvent {
    let event_type = v2_event_type(obj, hint);
    let conversation = obj.get("conversation");
    let message = obj.get("message");
    let kapso_msg = message.and_then(|m| m.get("kapso"));

    let mut event = InboundEvent::unknown(event_type.clone());
    event.phone_number_id = str_at_value(obj.get("phone_number_id"))
        .or_else(|| conversation.and_then(|c| str_at(c, "phone_number_id")))
        .or_else(|| kapso_msg.and_then(|k| str_at(k, "phone_number_id")))
        .map(str::to_string);
    event.contact_phone = conversation
        .and_then(|c| str_at(c, "phone_number"))
        .or_else(|| kapso_msg.and_then(|k| str_at(k, "phone_number")))
        .or_else(|| message.and_then(|m| str_at(m, "from")))
        .and_then(normalize_e164);
    event.contact_name = conversation
        .and_then(|c| c.get("kapso"))
        .and_then(|k| str_at(k, "contact_name"))
        .map(str::to_string);
    event.kapso_conversation_id = conversation
        .and_then(|c| str_at(c, "id"))
        .or_else(|| str_at_value(obj.get("whatsapp_conversation_id")))
        .map(str::to_string);

    match event_type.as_str() {
        "whatsapp.message.received" => {
            if let Some(m) = message.and_then(parse_message) {
                event.kind = EventKind::Message;
                event.message = Some(m);
            }
        }
        t if t.starts_with("whatsapp.message.") => {
            let suffix = &t["whatsapp.message.".len()..];
            if let Some(s) = message.and_then(|m| parse_v2_status(m, suffix)) {
                event.kind = EventKind::Status;
                if event.contact_phone.is_none() {
                    event.contact_phone = s.recipient.clone();
                }
                event.status = Some(s);
            }
        }
        t if t.starts_with("whatsapp.conversation.") && conversation.is_some() => {
            event.kind = EventKind::Conversation;
            event.ended_by_agent =
                t == crate::inbox::CONVERSATION_ENDED_EVENT && !ended_by_inactivity(obj);
        }
        t if t.starts_with("workflow.execution.") && is_workflow_body(obj) => {
            event.kind = EventKind::Workflow;
            event.workflow = Some(WorkflowEvent {
                execution_id: str_at_value(obj.get("workflow_execution_id")).map(str::to_string),
                status: str_at_value(obj.get("status")).map(str::to_string),
                reason: obj
                    .get("handoff")
                    .and_then(|h| str_at(h, "reason"))
                    .or_else(|| obj.get("error").and_then(|e| str_at(e, "message")))
                    .map(str::to_string),
            });
        }
        _ => {}
    }
    event
}

/// Whether a `whatsapp.conversation.ended` payload is Kapso ending a silent conversation, not
/// a person closing it. Kapso ends a conversation on an agent's action, a manual closure, or 24
/// hours without messages, and documents no field naming which; so it counts as inactivity
/// when the payload says so (an `inactivity` object, or a reason such as `inactivity`,
/// `timeout`, `expired`), or when its last message is 24 hours or more older than the end
/// (`conversation.updated_at`, else `ended_at`). Anything else is a person's close.
fn ended_by_inactivity(obj: &Map<String, Value>) -> bool {
    if obj.contains_key("inactivity") {
        return true;
    }
    let conversation = obj.get("conversation");
    let reasons = [
        "reason",
        "ended_reason",
        "end_reason",
        "ended_by",
        "closed_by",
    ];
    let said = |v: Option<&Value>| {
        reasons
            .iter()
            .filter_map(|k| v.and_then(|v| str_at(v, k)))
            .any(|r| {
                let r = r.to_lowercase();
                ["inactiv", "timeout", "timed_out", "expire", "24h"]
                    .iter()
                    .any(|w| r.contains(w))
            })
    };
    let top = Value::Object(obj.clone());
    if said(Some(&top))
        || said(conversation)
        || said(conversation.and_then(|c| c.get("metadata")))
        || said(conversation.and_then(|c| c.get("kapso")))
    {
        return true;
    }
    let time = |v: Option<&Value>, key: &str| {
        v.and_then(|v| str_at(v, key))
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
    };
    let last = time(
        conversation.and_then(|c| c.get("kapso")),
        "last_message_timestamp",
    )
    .or_else(|| time(conversation, "last_active_at"));
    let ended = time(conversation, "updated_at").or_else(|| time(Some(&top), "ended_at"));
    matches!((last, ended), (Some(l), Some(e)) if e - l >= chrono::Duration::hours(24))
}

fn parse_v2_status(m: &Value, suffix: &str) -> Option<StatusUpdate> {
    let wamid = str_at(m, "id")?.to_string();
    let kapso = m.get("kapso");
    let statuses = kapso
        .and_then(|k| k.get("statuses"))
        .and_then(Value::as_array);
    let errors = statuses
        .into_iter()
        .flatten()
        .flat_map(parse_status_errors)
        .collect();
    let recipient = statuses
        .and_then(|s| s.iter().find_map(|s| str_at(s, "recipient_id")))
        .and_then(normalize_e164);
    let status = kapso
        .and_then(|k| str_at(k, "status"))
        .unwrap_or(suffix)
        .to_string();
    Some(StatusUpdate {
        wamid,
        status,
        timestamp: int_at(m.get("timestamp")),
        recipient,
        origin: kapso.and_then(|k| str_at(k, "origin")).map(str::to_string),
        direction: kapso
            .and_then(|k| str_at(k, "direction"))
            .map(str::to_string),
        text: m
            .get("text")
            .and_then(|t| str_at(t, "body"))
            .map(str::to_string),
        errors,
    })
}

fn parse_status_errors(status: &Value) -> Vec<StatusError> {
    status
        .get("errors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|e| StatusError {
            code: int_at(e.get("code")),
            title: str_at(e, "title").map(str::to_string),
            message: str_at(e, "message")
                .or_else(|| e.get("error_data").and_then(|d| str_at(d, "details")))
                .map(str::to_string),
        })
        .collect()
}

/// Parses one WhatsApp message object (the same structure in v2 `message` and Meta
/// `messages[]`; v2 adds a `kapso` object). `None` without an `id`.
fn parse_message(m: &Value) -> Option<InboundMessage> {
    let wamid = str_at(m, "id")?.to_string();
    let wire_type = str_at(m, "type").unwrap_or("text");
    let message_type = MessageType::from_wire(wire_type);
    let kapso = m.get("kapso");
    let typed = m.get(wire_type);

    let mut reply_id = None;
    let mut reacts_to = None;
    let mut location = None;
    let mut media = None;
    let text: Option<String> = match &message_type {
        MessageType::Text => typed.and_then(|t| str_at(t, "body")).map(str::to_string),
        MessageType::Image | MessageType::Video | MessageType::Document | MessageType::Sticker => {
            media = Some(parse_media(typed, kapso));
            typed
                .and_then(|t| str_at(t, "caption"))
                .or_else(|| {
                    kapso
                        .and_then(|k| k.get("message_type_data"))
                        .and_then(|d| str_at(d, "caption"))
                })
                .map(str::to_string)
        }
        MessageType::Audio => {
            media = Some(parse_media(typed, kapso));
            kapso
                .and_then(|k| k.get("transcript"))
                .and_then(|t| str_at(t, "text"))
                .map(str::to_string)
        }
        MessageType::Interactive => {
            let reply = typed.and_then(|i| {
                ["button_reply", "list_reply", "nfm_reply"]
                    .iter()
                    .find_map(|k| i.get(*k))
            });
            reply_id = reply.and_then(|r| str_at(r, "id")).map(str::to_string);
            reply
                .and_then(|r| str_at(r, "title"))
                .map(str::to_string)
                .or_else(|| kapso.and_then(|k| str_at(k, "content")).map(str::to_string))
        }
        MessageType::Button => {
            reply_id = typed.and_then(|b| str_at(b, "payload")).map(str::to_string);
            typed.and_then(|b| str_at(b, "text")).map(str::to_string)
        }
        MessageType::Location => {
            let loc = Location {
                latitude: typed
                    .and_then(|l| l.get("latitude"))
                    .and_then(Value::as_f64),
                longitude: typed
                    .and_then(|l| l.get("longitude"))
                    .and_then(Value::as_f64),
                name: typed.and_then(|l| str_at(l, "name")).map(str::to_string),
                address: typed.and_then(|l| str_at(l, "address")).map(str::to_string),
            };
            let parts: Vec<&str> = [loc.name.as_deref(), loc.address.as_deref()]
                .into_iter()
                .flatten()
                .collect();
            let text = (!parts.is_empty()).then(|| parts.join(", "));
            location = Some(loc);
            text
        }
        MessageType::Reaction => {
            reacts_to = typed
                .and_then(|r| str_at(r, "message_id"))
                .map(str::to_string);
            typed.and_then(|r| str_at(r, "emoji")).map(str::to_string)
        }
        MessageType::Contacts => {
            let names: Vec<&str> = typed
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|c| c.get("name").and_then(|n| str_at(n, "formatted_name")))
                .collect();
            (!names.is_empty()).then(|| names.join(", "))
        }
        // Kapso's summary of it, else the text the type's object carries (an `order`'s note).
        MessageType::Template | MessageType::Other(_) => kapso
            .and_then(|k| str_at(k, "content"))
            .or_else(|| typed.and_then(|t| str_at(t, "text")))
            .map(str::to_string),
    };
    let text = text.map(|t| t.trim().to_string()).filter(|t| !t.is_empty());

    Some(InboundMessage {
        wamid,
        timestamp: int_at(m.get("timestamp")),
        message_type,
        text,
        reply_id,
        media,
        location,
        reacts_to,
        context_id: m
            .get("context")
            .and_then(|c| str_at(c, "id"))
            .map(str::to_string),
        origin: kapso.and_then(|k| str_at(k, "origin")).map(str::to_string),
        referral: m.get("referral").and_then(parse_referral),
    })
}

/// Meta's `referral` object of a message from a click-to-WhatsApp ad or post (`source_type`,
/// `source_id`, `source_url`, `headline`, `body`, `ctwa_clid`); `None` when absent or empty.
fn parse_referral(r: &Value) -> Option<crate::flow::LeadSource> {
    let get = |k: &str| {
        str_at(r, k)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    };
    let source = crate::flow::LeadSource {
        source_type: get("source_type"),
        source_id: get("source_id"),
        source_url: get("source_url"),
        headline: get("headline"),
        body: get("body"),
        ctwa_clid: get("ctwa_clid"),
        first_seen: None,
    };
    (source != crate::flow::LeadSource::default()).then_some(source)
}

fn parse_media(typed: Option<&Value>, kapso: Option<&Value>) -> Media {
    let data = kapso.and_then(|k| k.get("media_data"));
    Media {
        id: typed.and_then(|t| str_at(t, "id")).map(str::to_string),
        // Kapso's media URL, else the `url` Meta's newer payloads put in the media object.
        url: data
            .and_then(|d| str_at(d, "url"))
            .or_else(|| kapso.and_then(|k| str_at(k, "media_url")))
            .or_else(|| typed.and_then(|t| str_at(t, "url")))
            .map(str::to_string),
        filename: data
            .and_then(|d| str_at(d, "filename"))
            .or_else(|| typed.and_then(|t| str_at(t, "filename")))
            .map(str::to_string),
        content_type: data
            .and_then(|d| str_at(d, "content_type"))
            .or_else(|| typed.and_then(|t| str_at(t, "mime_type")))
            .map(str::to_string),
        byte_size: data
            .and_then(|d| d.get("byte_size"))
            .and_then(Value::as_u64),
    }
}

/// Every message and status of every entry and change of a Meta Cloud API payload. Changes of
/// other fields (template updates, account alerts, ...) become unknown items named
/// `meta.<field>`.
fn parse_meta(obj: &Map<String, Value>) -> Vec<ParsedItem> {
    let mut items = Vec::new();
    let Some(entries) = obj.get("entry").and_then(Value::as_array) else {
        return vec![(
            InboundEvent::unknown("meta.unknown"),
            Value::Object(obj.clone()),
        )];
    };
    for entry in entries {
        let Some(changes) = entry.get("changes").and_then(Value::as_array) else {
            items.push((InboundEvent::unknown("meta.unknown"), entry.clone()));
            continue;
        };
        for change in changes {
            let field = str_at(change, "field").unwrap_or("unknown");
            let value = change.get("value");
            if field == "user_preferences"
                && let Some(value) = value
            {
                parse_user_preferences(value, change, &mut items);
                continue;
            }
            if field != "messages" || value.is_none() {
                items.push((
                    InboundEvent::unknown(format!("meta.{field}")),
                    change.clone(),
                ));
                continue;
            }
            let before = items.len();
            if let Some(value) = value {
                parse_meta_value(value, &mut items);
            }
            if items.len() == before {
                items.push((InboundEvent::unknown("meta.messages"), change.clone()));
            }
        }
    }
    items
}

/// A `user_preferences` change (Meta's webhook field: the user stopped or resumed marketing
/// messages, `{"wa_id", "category": "marketing_messages", "value": "stop" | "resume"}` per
/// item): each becomes a control item for the contact's conversation,
/// [`crate::inbox::MARKETING_STOPPED_EVENT`] or [`crate::inbox::MARKETING_RESUMED_EVENT`],
/// that the turn records on the consent record (issue 18). Other categories or values stay
/// unknown items (`meta.user_preferences`), stored and acknowledged.
fn parse_user_preferences(value: &Value, change: &Value, items: &mut Vec<ParsedItem>) {
    let pnid = value
        .get("metadata")
        .and_then(|m| str_at(m, "phone_number_id"))
        .map(str::to_string);
    let prefs = value.get("user_preferences").and_then(Value::as_array);
    let before = items.len();
    for raw in prefs.into_iter().flatten() {
        let event_type = match (str_at(raw, "category"), str_at(raw, "value")) {
            (Some("marketing_messages"), Some("stop")) => crate::inbox::MARKETING_STOPPED_EVENT,
            (Some("marketing_messages"), Some("resume")) => crate::inbox::MARKETING_RESUMED_EVENT,
            _ => {
                items.push((InboundEvent::unknown("meta.user_preferences"), raw.clone()));
                continue;
            }
        };
        let mut event = InboundEvent::unknown(event_type);
        event.kind = EventKind::Control;
        event.phone_number_id = pnid.clone();
        event.contact_phone = str_at(raw, "wa_id").and_then(normalize_e164);
        items.push((event, raw.clone()));
    }
    if items.len() == before {
        items.push((
            InboundEvent::unknown("meta.user_preferences"),
            change.clone(),
        ));
    }
}

fn parse_meta_value(value: &Value, items: &mut Vec<ParsedItem>) {
    let pnid = value
        .get("metadata")
        .and_then(|m| str_at(m, "phone_number_id"))
        .map(str::to_string);
    let contacts = value.get("contacts").and_then(Value::as_array);
    let name_of = |wa_id: &str| {
        contacts
            .into_iter()
            .flatten()
            .find(|c| str_at(c, "wa_id") == Some(wa_id))
            .and_then(|c| c.get("profile"))
            .and_then(|p| str_at(p, "name"))
            .map(str::to_string)
    };
    for raw in value
        .get("messages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let mut event = InboundEvent::unknown("meta.message");
        event.phone_number_id = pnid.clone();
        if let Some(message) = parse_message(raw) {
            let from = str_at(raw, "from");
            event.kind = EventKind::Message;
            event.contact_phone = from.and_then(normalize_e164);
            event.contact_name = from.and_then(name_of);
            event.message = Some(message);
        }
        items.push((event, raw.clone()));
    }
    for raw in value
        .get("statuses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let mut event = InboundEvent::unknown("meta.status");
        event.phone_number_id = pnid.clone();
        if let (Some(wamid), Some(status)) = (str_at(raw, "id"), str_at(raw, "status")) {
            let recipient = str_at(raw, "recipient_id").and_then(normalize_e164);
            event.kind = EventKind::Status;
            event.contact_phone = recipient.clone();
            event.status = Some(StatusUpdate {
                wamid: wamid.to_string(),
                status: status.to_string(),
                timestamp: int_at(raw.get("timestamp")),
                recipient,
                origin: None,
                direction: Some("outbound".to_string()),
                text: None,
                errors: parse_status_errors(raw),
            });
        }
        items.push((event, raw.clone()));
    }
}

/// Normalises a phone number to E.164 with a leading `+` (WhatsApp numbers are always
/// international: Meta sends digits only, Kapso sends `+` and digits). Separators (spaces,
/// dashes, dots, parentheses) are dropped and a `00` international prefix becomes `+`.
/// Returns `None` unless 8 to 15 digits remain (E.164 allows at most 15).
pub fn normalize_e164(raw: &str) -> Option<String> {
    let trimmed = raw.trim();
    let rest = trimmed
        .strip_prefix('+')
        .or_else(|| trimmed.strip_prefix("00"))
        .unwrap_or(trimmed);
    let mut digits = String::with_capacity(rest.len());
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '(' | ')' => {}
            _ => return None,
        }
    }
    ((8..=15).contains(&digits.len()) && !digits.starts_with('0')).then(|| format!("+{digits}"))
}

pub(super) fn str_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn str_at_value(v: Option<&Value>) -> Option<&str> {
    v.and_then(Value::as_str)
}

/// An integer given as a JSON number or a decimal string (WhatsApp sends timestamps as strings).
pub(super) fn int_at(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn e164_normalisation() {
        assert_eq!(
            normalize_e164("+6281234567890").as_deref(),
            Some("+6281234567890")
        );
        assert_eq!(
            normalize_e164("6281234567890").as_deref(),
            Some("+6281234567890")
        );
        assert_eq!(
            normalize_e164("+62 812-3456-7890").as_deref(),
            Some("+6281234567890")
        );
        assert_eq!(
            normalize_e164("006281234567890").as_deref(),
            Some("+6281234567890")
        );
        assert_eq!(normalize_e164("12345"), None);
        assert_eq!(normalize_e164("+1234567890123456"), None);
        assert_eq!(normalize_e164("US.13491208655302741918"), None);
        assert_eq!(normalize_e164(""), None);
    }

    #[test]
    fn metas_media_url_is_read() {
        let typed = json!({"id": "2249017763541230", "mime_type": "application/pdf",
                           "filename": "IELTS_TRF.pdf", "url": "https://lookaside.fbsbx.com/x"});
        let media = parse_media(Some(&typed), None);
        assert_eq!(media.url.as_deref(), Some("https://lookaside.fbsbx.com/x"));
        assert_eq!(media.filename.as_deref(), Some("IELTS_TRF.pdf"));
        assert_eq!(media.content_type.as_deref(), Some("application/pdf"));
    }

    #[test]
    fn non_objects_are_rejected() {
        for body in [json!([]), json!("x"), json!(1), json!(null), json!(true)] {
            assert!(parse_body(&body, None, false, None).is_err(), "{body}");
        }
    }

    #[test]
    fn unknown_object_is_kept_as_one_unknown_item() {
        let body = json!({"hello": "world"});
        let items = parse_body(&body, Some("whatsapp.phone_number.created"), false, None).unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].0.kind, EventKind::Unknown);
        assert_eq!(items[0].0.event_type, "whatsapp.phone_number.created");
        assert_eq!(items[0].1, body);
    }

    #[test]
    fn received_without_message_id_is_unknown_not_a_crash() {
        let body = json!({"message": {"type": "text"}, "conversation": {}});
        let items = parse_body(&body, Some("whatsapp.message.received"), false, None).unwrap();
        assert_eq!(items[0].0.kind, EventKind::Unknown);
    }

    #[test]
    fn a_conversation_ended_by_a_person_is_told_from_one_ended_by_inactivity() {
        let ended = |extra: Value, last: &str| {
            let mut conversation = json!({"id": "conv_1", "phone_number": "+6281234567890",
                "status": "ended", "updated_at": "2026-11-25T10:00:00Z",
                "kapso": {"last_message_timestamp": last}});
            if let (Some(c), Value::Object(x)) = (conversation.as_object_mut(), extra) {
                c.extend(x);
            }
            let body = json!({"conversation": conversation, "phone_number_id": "1"});
            let obj = body.as_object().cloned().unwrap_or_default();
            parse_v2(&obj, Some("whatsapp.conversation.ended"))
        };
        let by_agent = ended(json!({}), "2026-11-25T09:58:00Z");
        assert_eq!(by_agent.kind, EventKind::Conversation);
        assert!(by_agent.ended_by_agent);
        assert_eq!(by_agent.contact_phone.as_deref(), Some("+6281234567890"));
        assert!(
            !ended(json!({}), "2026-11-24T09:59:00Z").ended_by_agent,
            "24 h silent"
        );
        let reason = json!({"metadata": {"ended_reason": "inactivity_timeout"}});
        assert!(!ended(reason, "2026-11-25T09:58:00Z").ended_by_agent);
        let created = parse_v2(
            json!({"conversation": {"id": "c", "phone_number": "+6281234567890"}})
                .as_object()
                .unwrap(),
            Some("whatsapp.conversation.created"),
        );
        assert!(!created.ended_by_agent);
    }

    #[test]
    fn meta_with_empty_entry_is_visible() {
        let body = json!({"object": "whatsapp_business_account", "entry": []});
        let items = parse_body(&body, None, false, None).unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].0.kind, EventKind::Unknown);
    }

    #[test]
    fn batch_flag_in_body_or_header() {
        let one = json!({"message": {"id": "wamid.A", "type": "text", "text": {"body": "hi"}},
                         "conversation": {"phone_number": "+6281111111111"},
                         "phone_number_id": "1"});
        let body = json!({"type": "whatsapp.message.received", "batch": true, "data": [one, one]});
        assert_eq!(parse_body(&body, None, false, None).unwrap().len(), 2);
        let body = json!({"type": "whatsapp.message.received", "data": [one]});
        for header in [true, false] {
            let items = parse_body(&body, None, header, None).unwrap();
            assert_eq!(items.len(), 1);
            assert_eq!(items[0].0.kind, EventKind::Message);
            assert_eq!(
                items[0].0.message.as_ref().unwrap().text.as_deref(),
                Some("hi")
            );
        }
    }

    /// Issue 16 item 2: a single event under `X-Webhook-Batch: true` is still that event.
    #[test]
    fn a_single_event_under_a_batch_header_is_read_as_one_event() {
        let one = json!({"message": {"id": "wamid.A", "type": "text", "text": {"body": "hi"}},
                         "conversation": {"phone_number": "+6281111111111"},
                         "phone_number_id": "1"});
        let items = parse_body(&one, Some("whatsapp.message.received"), true, None).unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].0.kind, EventKind::Message);
        assert_eq!(items[0].1, one);
        let obj = one.as_object().unwrap();
        assert_eq!(Shape::of(obj), Shape::Single);
    }
}
