//! Kapso's legacy v1 payloads (issue 16 item 4). v2 is recommended (the README and the start-up
//! log say so); v1 webhooks still work at Kapso, so ARI reads them rather than storing their
//! messages as unknown events.
//!
//! What differs from v2, per Kapso's migration guide (docs.kapso.ai, "Legacy v1 webhooks"): the
//! business number is `whatsapp_config.phone_number_id` (a nested `whatsapp_config` object in
//! every payload), and a message is Kapso's own record, not Meta's: `message_type`, `content`
//! (the text, or Kapso's text summary of media), `direction`, `origin` at the message level, and
//! the WhatsApp id in `whatsapp_message_id` (`id` is Kapso's). Conversations and workflow
//! events are read as in v2.
//!
//! A payload is v1 when `X-Webhook-Payload-Version` says `v1`, or, without the header, when its
//! shape says so (a `whatsapp_config` object, or a message with `message_type`).

use serde_json::{Map, Value};

use super::events::{int_at, normalize_e164, str_at};
use crate::inbox::{EventKind, InboundEvent, InboundMessage, Media, MessageType, StatusUpdate};

/// Header naming the payload version (`v1` or `v2`).
pub const PAYLOAD_VERSION_HEADER: &str = "x-webhook-payload-version";

/// Whether a single Kapso payload is v1: the header decides when it names a version, else the
/// shape.
pub fn is_v1(obj: &Map<String, Value>, version: Option<&str>) -> bool {
    match version.map(str::trim) {
        Some(v) if v.eq_ignore_ascii_case("v1") => true,
        Some(v) if v.eq_ignore_ascii_case("v2") => false,
        _ => {
            obj.get("whatsapp_config").is_some_and(Value::is_object)
                || obj
                    .get("message")
                    .is_some_and(|m| m.get("message_type").is_some())
        }
    }
}

/// Completes an event read by the v2 parser from a v1 payload: the business number from
/// `whatsapp_config`, and the message or status from v1's message record (the v2 reading of it
/// is dropped: its `id` is not the wamid).
pub fn complete(obj: &Map<String, Value>, mut event: InboundEvent) -> InboundEvent {
    if let Some(pnid) = obj
        .get("whatsapp_config")
        .and_then(|c| str_at(c, "phone_number_id"))
    {
        event.phone_number_id = Some(pnid.to_string());
    }
    let Some(m) = obj.get("message") else {
        return event;
    };
    if event.contact_phone.is_none() {
        event.contact_phone = ["phone_number", "from"]
            .iter()
            .find_map(|k| str_at(m, k))
            .and_then(normalize_e164);
    }
    let event_type = event.event_type.clone();
    if event_type == "whatsapp.message.received" {
        event.kind = EventKind::Unknown;
        event.message = None;
        if let Some(message) = message(m) {
            event.kind = EventKind::Message;
            event.message = Some(message);
        }
    } else if let Some(suffix) = event_type.strip_prefix("whatsapp.message.") {
        event.kind = EventKind::Unknown;
        event.status = None;
        if let Some(s) = status(m, suffix) {
            event.kind = EventKind::Status;
            event.contact_phone = event.contact_phone.or_else(|| s.recipient.clone());
            event.status = Some(s);
        }
    }
    event
}

/// The wamid of a v1 message record: `whatsapp_message_id` (else `id`).
fn wamid(m: &Value) -> Option<String> {
    str_at(m, "whatsapp_message_id")
        .or_else(|| str_at(m, "id"))
        .map(str::to_string)
}

/// The text a turn reads from v1's `content`: the whole content for texts, taps and other
/// types; for a voice note only a transcript Kapso appended (`Transcript: ...`); nothing for
/// other media (v1's content there is Kapso's summary of the file, not the lead's words).
fn text_of(message_type: &MessageType, content: Option<&str>) -> Option<String> {
    let content = content?;
    let text = match message_type {
        MessageType::Audio => content
            .split_once("Transcript:")
            .map(|(_, transcript)| transcript)?,
        MessageType::Image
        | MessageType::Video
        | MessageType::Document
        | MessageType::Sticker
        | MessageType::Location
        | MessageType::Contacts => return None,
        _ => content,
    };
    Some(text.trim().to_string()).filter(|t| !t.is_empty())
}

/// One v1 message record as an [`InboundMessage`]. `None` without an id.
fn message(m: &Value) -> Option<InboundMessage> {
    let wamid = wamid(m)?;
    let message_type = MessageType::from_wire(str_at(m, "message_type").unwrap_or("text"));
    let media_url = str_at(m, "media_url").map(str::to_string);
    let has_media = matches!(
        message_type,
        MessageType::Image
            | MessageType::Video
            | MessageType::Audio
            | MessageType::Document
            | MessageType::Sticker
    );
    Some(InboundMessage {
        wamid,
        timestamp: int_at(m.get("timestamp")),
        text: text_of(&message_type, str_at(m, "content")),
        message_type,
        reply_id: None,
        media: has_media.then(|| Media {
            url: media_url,
            ..Media::default()
        }),
        location: None,
        reacts_to: None,
        context_id: None,
        origin: str_at(m, "origin").map(str::to_string),
        referral: None,
    })
}

/// A v1 status event's message record as a [`StatusUpdate`] (`status` in the record, else the
/// event's suffix). `None` without an id.
fn status(m: &Value, suffix: &str) -> Option<StatusUpdate> {
    Some(StatusUpdate {
        wamid: wamid(m)?,
        status: str_at(m, "status").unwrap_or(suffix).to_string(),
        timestamp: int_at(m.get("timestamp")),
        recipient: str_at(m, "phone_number").and_then(normalize_e164),
        origin: str_at(m, "origin").map(str::to_string),
        direction: str_at(m, "direction").map(str::to_string),
        text: str_at(m, "content").map(str::to_string),
        errors: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingress::events::parse_body;
    use serde_json::json;

    /// A v1 `whatsapp.message.received` payload built from the fields Kapso's migration guide
    /// names: `whatsapp_config.phone_number_id`, and a message record with `message_type`,
    /// `content`, `direction`, `origin`, `whatsapp_message_id`.
    fn received(message_type: &str, content: &str, extra: Value) -> Value {
        let mut message = json!({"id": "0f6a7c1e-kapso-record", "whatsapp_message_id": "wamid.V1",
            "message_type": message_type, "content": content, "direction": "inbound",
            "origin": "cloud_api", "timestamp": "1763605022"});
        if let (Some(m), Value::Object(x)) = (message.as_object_mut(), extra) {
            m.extend(x);
        }
        json!({"message": message,
               "conversation": {"id": "conv_1", "phone_number": "+6281234567890",
                                "whatsapp_config_id": "cfg-1"},
               "whatsapp_config": {"id": "cfg-1", "phone_number_id": "106540352242922"}})
    }

    fn read(body: &Value, event: &str, version: Option<&str>) -> InboundEvent {
        let items = parse_body(body, Some(event), false, version).unwrap();
        assert_eq!(items.len(), 1);
        items.into_iter().next().map(|(e, _)| e).unwrap()
    }

    fn message_of(e: &InboundEvent) -> &InboundMessage {
        e.message.as_ref().expect("a message")
    }

    #[test]
    fn a_v1_text_is_a_message_of_its_business_number_with_the_wamid() {
        for version in [Some("v1"), None] {
            let e = read(
                &received("text", "halo kak", json!({})),
                "whatsapp.message.received",
                version,
            );
            assert_eq!(e.kind, EventKind::Message);
            assert_eq!(e.phone_number_id.as_deref(), Some("106540352242922"));
            assert_eq!(e.contact_phone.as_deref(), Some("+6281234567890"));
            let m = message_of(&e);
            assert_eq!(m.wamid, "wamid.V1");
            assert_eq!(m.message_type, MessageType::Text);
            assert_eq!(m.text.as_deref(), Some("halo kak"));
            assert_eq!(m.origin.as_deref(), Some("cloud_api"));
        }
    }

    #[test]
    fn v1_media_voice_and_taps_read_what_the_lead_said() {
        let voice = received(
            "audio",
            "[Audio attached]\nTranscript: IELTS 6.5",
            json!({"media_url": "https://m/v"}),
        );
        let e = read(&voice, "whatsapp.message.received", Some("v1"));
        let m = message_of(&e);
        assert_eq!(m.message_type, MessageType::Audio);
        assert_eq!(m.text.as_deref(), Some("IELTS 6.5"));
        assert_eq!(
            m.media.as_ref().and_then(|x| x.url.as_deref()),
            Some("https://m/v")
        );
        let image = read(
            &received("image", "[Image attached] (cv.jpg)", json!({})),
            "whatsapp.message.received",
            Some("v1"),
        );
        assert_eq!(message_of(&image).message_type, MessageType::Image);
        assert_eq!(message_of(&image).text, None);
        let tap = read(
            &received("interactive", "Selasa 10:00", json!({})),
            "whatsapp.message.received",
            Some("v1"),
        );
        assert_eq!(message_of(&tap).message_type, MessageType::Interactive);
        assert_eq!(message_of(&tap).text.as_deref(), Some("Selasa 10:00"));
    }

    #[test]
    fn a_v1_message_sent_from_the_business_app_is_a_takeover_status() {
        let mut body = received(
            "text",
            "Halo, saya konsultan",
            json!({"direction": "outbound",
            "origin": "business_app", "status": "sent"}),
        );
        let e = read(&body, "whatsapp.message.sent", Some("v1"));
        assert_eq!(e.kind, EventKind::Status);
        let s = e.status.as_ref().unwrap();
        assert_eq!((s.wamid.as_str(), s.status.as_str()), ("wamid.V1", "sent"));
        assert_eq!(s.origin.as_deref(), Some("business_app"));
        // Without the header, the shape says v1; a v2 reading would take Kapso's record id.
        body["message"]["whatsapp_message_id"] = json!("wamid.V1b");
        let e = read(&body, "whatsapp.message.sent", None);
        assert_eq!(e.status.unwrap().wamid, "wamid.V1b");
    }

    #[test]
    fn a_voice_note_reads_only_the_transcript_and_media_no_summary() {
        let summary = "[Audio attached] (voice.ogg)\nTranscript: budget 500jt kak";
        assert_eq!(
            text_of(&MessageType::Audio, Some(summary)).as_deref(),
            Some("budget 500jt kak")
        );
        assert_eq!(text_of(&MessageType::Audio, Some("[Audio attached]")), None);
        assert_eq!(text_of(&MessageType::Image, Some("[Image attached]")), None);
        assert_eq!(
            text_of(&MessageType::Text, Some(" halo ")).as_deref(),
            Some("halo")
        );
    }

    #[test]
    fn the_header_wins_over_the_shape() {
        let v1 = serde_json::json!({"whatsapp_config": {"phone_number_id": "1"}});
        let obj = v1.as_object().unwrap();
        assert!(is_v1(obj, None));
        assert!(!is_v1(obj, Some("v2")));
        let v2 = serde_json::json!({"message": {"type": "text"}});
        assert!(!is_v1(v2.as_object().unwrap(), None));
        assert!(is_v1(v2.as_object().unwrap(), Some("V1")));
    }
}
