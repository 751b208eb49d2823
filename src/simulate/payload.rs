//! Kapso v2 webhook bodies for what a simulated lead (or a person, or a workflow) does, in the
//! shapes of `tests/fixtures/kapso/` so they go through the real parser.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

/// The business number every simulated conversation writes to.
pub const PHONE_NUMBER_ID: &str = "100000000000001";
/// The Kapso conversation id of every simulated conversation (workflow events name it).
pub const CONVERSATION_ID: &str = "conv_simulate";

/// Who writes, to whom, and when.
pub struct Envelope<'a> {
    /// The lead, E.164.
    pub phone: &'a str,
    pub name: Option<&'a str>,
    pub wamid: String,
    pub at: DateTime<Utc>,
    pub first: bool,
    /// The wamid of the bot message this one quotes.
    pub context_id: Option<String>,
}

/// What the lead sends, as the `message` object's typed part and Kapso's `content` summary.
pub enum LeadMessage<'a> {
    Text(&'a str),
    Media {
        kind: &'a str,
        filename: Option<&'a str>,
        caption: Option<&'a str>,
        transcript: Option<&'a str>,
    },
    /// A tapped reply button (`list`: a list row instead).
    Interactive {
        id: &'a str,
        title: &'a str,
        list: bool,
    },
}

/// A `whatsapp.message.received` body.
pub fn received(env: &Envelope<'_>, message: &LeadMessage<'_>) -> Value {
    let (kind, typed, kapso) = message_parts(message);
    let mut m = json!({
        "id": env.wamid,
        "timestamp": env.at.timestamp().to_string(),
        "type": kind,
        "kapso": kapso,
    });
    if let Some(obj) = m.as_object_mut() {
        obj.insert(kind.to_string(), typed);
        if let Some(ctx) = &env.context_id {
            obj.insert("context".into(), json!({"id": ctx}));
        }
    }
    json!({
        "message": m,
        "conversation": conversation(env),
        "is_new_conversation": env.first,
        "phone_number_id": PHONE_NUMBER_ID
    })
}

fn message_parts(message: &LeadMessage<'_>) -> (&'static str, Value, Value) {
    let base = |content: &str, has_media: bool| {
        json!({"direction": "inbound", "status": "received", "origin": "cloud_api",
               "has_media": has_media, "content": content})
    };
    match message {
        LeadMessage::Text(text) => ("text", json!({"body": text}), base(text, false)),
        LeadMessage::Interactive { id, title, list } => {
            let (t, key) = if *list {
                ("list_reply", "list_reply")
            } else {
                ("button_reply", "button_reply")
            };
            let typed = json!({"type": t, key: {"id": id, "title": title}});
            (
                "interactive",
                typed.clone(),
                merge(base(title, false), json!({"message_type_data": typed})),
            )
        }
        LeadMessage::Media {
            kind,
            filename,
            caption,
            transcript,
        } => media_parts(kind, *filename, *caption, *transcript, base),
    }
}

fn media_parts(
    kind: &str,
    filename: Option<&str>,
    caption: Option<&str>,
    transcript: Option<&str>,
    base: impl Fn(&str, bool) -> Value,
) -> (&'static str, Value, Value) {
    let caption_part = |typed: Value| match caption {
        Some(c) => merge(typed, json!({"caption": c})),
        None => typed,
    };
    let file = filename.unwrap_or("file");
    let summary = |label: &str| {
        format!(
            "{}{label} attached ({file})",
            caption.map(|c| format!("{c} ")).unwrap_or_default()
        )
    };
    let media_data = |ct: &str| json!({"media_data": {"url": format!("https://api.kapso.ai/media/{file}"), "filename": file, "content_type": ct}});
    match kind {
        "document" => (
            "document",
            caption_part(json!({"id": "media-doc", "filename": file})),
            merge(
                base(&summary("Document"), true),
                media_data("application/pdf"),
            ),
        ),
        "image" | "video" => (
            if kind == "image" { "image" } else { "video" },
            caption_part(json!({"id": "media-img"})),
            merge(base(&summary("Image"), true), media_data("image/jpeg")),
        ),
        "audio" => {
            let mut kapso = merge(
                base("[Audio attached] (voice.ogg)", true),
                media_data("audio/ogg"),
            );
            if let Some(t) = transcript {
                kapso = merge(kapso, json!({"transcript": {"text": t}}));
            }
            ("audio", json!({"id": "media-audio", "voice": true}), kapso)
        }
        "sticker" => (
            "sticker",
            json!({"id": "media-sticker", "animated": false}),
            base("[Sticker]", true),
        ),
        "location" => (
            "location",
            json!({"latitude": -6.2297465, "longitude": 106.8295377, "name": "Kuningan City"}),
            base("Location: Kuningan City (-6.2297465, 106.8295377)", false),
        ),
        "contacts" => (
            "contacts",
            json!([{"name": {"formatted_name": "Sari Teman"}, "phones": [{"phone": "+6281300000000"}]}]),
            base("Contact: Sari Teman", false),
        ),
        _ => (
            "unsupported",
            json!({"errors": [{"code": 131051, "title": "Message type unknown"}]}),
            base("", false),
        ),
    }
}

/// A `whatsapp.message.sent` body from the WhatsApp Business app: a person wrote to the lead.
pub fn business_app_sent(env: &Envelope<'_>, text: &str) -> Value {
    json!({
        "message": {
            "id": env.wamid, "timestamp": env.at.timestamp().to_string(), "type": "text",
            "text": {"body": text},
            "kapso": {"direction": "outbound", "status": "sent", "origin": "business_app",
                      "has_media": false, "content": text,
                      "statuses": [{"id": env.wamid, "status": "sent",
                                    "timestamp": env.at.timestamp().to_string(),
                                    "recipient_id": env.phone.trim_start_matches('+')}]}
        },
        "conversation": conversation(env),
        "is_new_conversation": false,
        "phone_number_id": PHONE_NUMBER_ID
    })
}

/// A `workflow.execution.handoff` body naming the simulated conversation.
pub fn workflow_handoff(at: DateTime<Utc>, execution: &str) -> Value {
    json!({
        "event": "workflow.execution.handoff",
        "occurred_at": at.to_rfc3339(),
        "project_id": "sim-project", "workflow_id": "sim-workflow",
        "workflow_execution_id": execution, "status": "handoff", "channel": "whatsapp",
        "whatsapp_conversation_id": CONVERSATION_ID,
        "handoff": {"reason": "User requested human assistance", "source": "agent_tool"}
    })
}

/// A `whatsapp.conversation.ended` body for the simulated conversation at `at`: ended by a
/// person (the last message was just now), or by Kapso after 24 hours without messages.
pub fn conversation_ended(env: &Envelope<'_>, by_agent: bool) -> Value {
    let last = if by_agent {
        env.at - chrono::Duration::minutes(1)
    } else {
        env.at - chrono::Duration::hours(24)
    };
    json!({
        "conversation": {
            "id": CONVERSATION_ID, "phone_number": env.phone, "status": "ended",
            "phone_number_id": PHONE_NUMBER_ID,
            "last_active_at": last.to_rfc3339(), "updated_at": env.at.to_rfc3339(),
            "kapso": {"contact_name": env.name, "last_message_timestamp": last.to_rfc3339()}
        },
        "phone_number_id": PHONE_NUMBER_ID
    })
}

fn conversation(env: &Envelope<'_>) -> Value {
    json!({"id": CONVERSATION_ID, "phone_number": env.phone, "status": "active",
           "phone_number_id": PHONE_NUMBER_ID, "kapso": {"contact_name": env.name}})
}

fn merge(mut a: Value, b: Value) -> Value {
    if let (Some(a), Value::Object(b)) = (a.as_object_mut(), b) {
        a.extend(b);
    }
    a
}
