//! A later copy of a stored message completing it (issue 16 item 3, and issue 14's voice notes).
//!
//! The same WhatsApp message can arrive twice: through a Meta-format webhook (no transcript, no
//! media URL, no Kapso content summary) and through Kapso's v2 webhook (with them). The inbox
//! stores it once (the `(phone_number_id, wamid)` claim); this module says what a later copy
//! adds to the stored one, so the store can complete it in the transaction of the claim
//! conflict instead of dropping the new content:
//!
//! - the stored inbox row is still pending and no turn holds its conversation: the row's event
//!   is completed in place, and its turn reads the new content;
//! - otherwise (the row is done, or a turn is reading it now) and the copy adds text (what a
//!   turn reads): one enrichment row is queued under the claim `<wamid>#enriched`
//!   ([`enrichment_claim`]), so a turn runs once for the new content; a further enriching copy
//!   completes that row while it is pending and queues nothing more;
//! - a copy that adds only metadata (a media URL, a file name, the Kapso conversation id)
//!   completes the stored row in place and queues no turn (a turn that answered the message
//!   would answer it again for a URL it does not read).
//!
//! Both stores apply the same [`Fill`]s: SQLite with [`apply_fills`], Convex with the same rule
//! in `convex/model/enrich.ts` (the fills are sent with the item).

use serde::Serialize;
use serde_json::{Map, Value};

use super::InboundEvent;

/// Suffix of an enrichment row's claim in the inbox's `wamid` column: `<wamid>#enriched`.
pub const ENRICHED_SUFFIX: &str = "#enriched";

/// The claim of a message's enrichment row: `<wamid>#enriched` (its idempotency key within the
/// business number), so a message is enriched by at most one queued turn.
pub fn enrichment_claim(wamid: &str) -> String {
    format!("{wamid}{ENRICHED_SUFFIX}")
}

/// One field a copy may complete in the stored event: `path` into the event's JSON (e.g.
/// `["message", "text"]`), the copy's value, and whether it is content a turn reads (the text:
/// a transcript, a caption, a Kapso content summary) or metadata only.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fill {
    pub path: Vec<&'static str>,
    pub value: Value,
    pub content: bool,
}

/// What [`apply_fills`] changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    /// At least one field was missing and is now filled.
    pub filled: bool,
    /// One of the filled fields is content (a turn should read it).
    pub content: bool,
}

/// The fields a copy of a message offers: every field of the copy that is set among the text,
/// the media's id, URL, file name, content type and size, the contact name and the Kapso
/// conversation id. Empty for an event that is not a message.
pub fn fills_of(event: &InboundEvent) -> Vec<Fill> {
    let Some(m) = &event.message else {
        return Vec::new();
    };
    let text = |s: &Option<String>| s.clone().map(Value::String);
    let mut offered: Vec<(Vec<&'static str>, Option<Value>, bool)> =
        vec![(vec!["message", "text"], text(&m.text), true)];
    if let Some(media) = &m.media {
        offered.extend([
            (vec!["message", "media", "id"], text(&media.id), false),
            (vec!["message", "media", "url"], text(&media.url), false),
            (
                vec!["message", "media", "filename"],
                text(&media.filename),
                false,
            ),
            (
                vec!["message", "media", "content_type"],
                text(&media.content_type),
                false,
            ),
            (
                vec!["message", "media", "byte_size"],
                media.byte_size.map(Value::from),
                false,
            ),
        ]);
    }
    offered.push((vec!["contact_name"], text(&event.contact_name), false));
    offered.push((
        vec!["kapso_conversation_id"],
        text(&event.kapso_conversation_id),
        false,
    ));
    offered
        .into_iter()
        .filter_map(|(path, value, content)| {
            value.map(|value| Fill {
                path,
                value,
                content,
            })
        })
        .collect()
}

/// Fills the stored event's JSON where it lacks a field (absent or `null`) that a fill offers;
/// never overwrites a value. Missing parent objects are created; a parent that is not an object
/// leaves that fill out.
pub fn apply_fills(stored: &mut Value, fills: &[Fill]) -> Applied {
    let mut applied = Applied::default();
    for fill in fills {
        let Some((last, parents)) = fill.path.split_last() else {
            continue;
        };
        let Some(parent) = parents.iter().try_fold(&mut *stored, |at, key| {
            let obj = at.as_object_mut()?;
            let child = obj
                .entry(key.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if child.is_null() {
                *child = Value::Object(Map::new());
            }
            Some(child)
        }) else {
            continue;
        };
        let Some(obj) = parent.as_object_mut() else {
            continue;
        };
        let slot = obj.entry(last.to_string()).or_insert(Value::Null);
        if slot.is_null() {
            *slot = fill.value.clone();
            applied.filled = true;
            applied.content |= fill.content;
        }
    }
    applied
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inbox::{EventKind, InboundMessage, Media, MessageType};
    use serde_json::json;

    fn voice(text: Option<&str>, url: Option<&str>) -> InboundEvent {
        let mut e = InboundEvent::unknown("whatsapp.message.received");
        e.kind = EventKind::Message;
        e.message = Some(InboundMessage {
            wamid: "wamid.V".into(),
            timestamp: None,
            message_type: MessageType::Audio,
            text: text.map(str::to_string),
            reply_id: None,
            media: Some(Media {
                id: Some("m1".into()),
                url: url.map(str::to_string),
                ..Media::default()
            }),
            location: None,
            reacts_to: None,
            context_id: None,
            origin: None,
            referral: None,
        });
        e
    }

    #[test]
    fn a_transcript_completes_a_voice_note_without_one() {
        let mut stored = serde_json::to_value(voice(None, None)).unwrap();
        let applied = apply_fills(&mut stored, &fills_of(&voice(Some("halo"), Some("u"))));
        assert_eq!(
            applied,
            Applied {
                filled: true,
                content: true
            }
        );
        let event: InboundEvent = serde_json::from_value(stored).unwrap();
        let m = event.message.unwrap();
        assert_eq!(m.text.as_deref(), Some("halo"));
        assert_eq!(m.media.unwrap().url.as_deref(), Some("u"));
    }

    #[test]
    fn nothing_is_overwritten_and_metadata_is_not_content() {
        let mut stored = serde_json::to_value(voice(Some("first"), None)).unwrap();
        let applied = apply_fills(&mut stored, &fills_of(&voice(Some("second"), Some("u"))));
        assert_eq!(
            applied,
            Applied {
                filled: true,
                content: false
            }
        );
        assert_eq!(stored["message"]["text"], json!("first"));
        let again = apply_fills(&mut stored, &fills_of(&voice(Some("second"), Some("u"))));
        assert_eq!(again, Applied::default());
    }

    #[test]
    fn missing_media_is_created_and_a_non_object_parent_is_left_alone() {
        let mut stored = json!({"message": {"media": null}});
        apply_fills(&mut stored, &fills_of(&voice(None, Some("u"))));
        assert_eq!(stored["message"]["media"]["url"], json!("u"));
        let mut odd = json!({"message": "not an object"});
        assert_eq!(
            apply_fills(&mut odd, &fills_of(&voice(Some("x"), None))),
            Applied::default()
        );
    }

    #[test]
    fn the_enrichment_claim_names_the_wamid() {
        assert_eq!(enrichment_claim("wamid.X"), "wamid.X#enriched");
        assert!(fills_of(&InboundEvent::unknown("x")).is_empty());
    }
}
