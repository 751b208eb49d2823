//! Issue 16, "Done when": every kind of payload a lead's WhatsApp sends, posted signed in the
//! shape Meta's and Kapso's docs show it, with what it is stored as and the turn it produces.
//!
//! One service; each case comes from its own number, so each is the first message of its own
//! conversation. The Meta shapes follow the Cloud API's webhook reference ("messages" object,
//! one example per type); the Kapso v2 shapes are the shared fixtures, the v1 shape Kapso's v1
//! payload reference. Texts of the turn are not checked here (the dialogues do that): only
//! whether the lead is answered, and what the flow was handed.

mod common;

use ari::inbox::{EventKind, InboxRow, InboxState, MessageType};
use common::{Service, fixture};
use reqwest::StatusCode;
use serde_json::{Value, json};

const BUSINESS: &str = "106540352242922";

/// A lead's number for case `i`: +62 813 0000 00ii.
fn lead(i: usize) -> String {
    format!("+6281300000{i:02}")
}

/// A Meta-format delivery (`whatsapp_business_account`) of one message from `phone`.
fn meta(phone: &str, mut message: Value) -> Vec<u8> {
    let digits = phone.trim_start_matches('+');
    message["from"] = digits.into();
    message["timestamp"] = "1763605022".into();
    serde_json::to_vec(&json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "6281100099988", "phone_number_id": BUSINESS},
            "contacts": [{"wa_id": digits, "profile": {"name": "Lead"}}],
            "messages": [message]
        }}]}]
    }))
    .expect("json")
}

/// A Kapso v2 fixture with its lead's number replaced by `phone`.
fn kapso_v2(name: &str, phone: &str) -> Vec<u8> {
    let mut body: Value = serde_json::from_slice(&fixture(name)).expect("fixture json");
    body["conversation"]["phone_number"] = phone.into();
    if body["message"]["kapso"].get("phone_number").is_some() {
        body["message"]["kapso"]["phone_number"] = phone.into();
    }
    serde_json::to_vec(&body).expect("json")
}

/// What the turn of a case does for the lead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Turn {
    /// At least one reply is queued to the lead.
    Answered,
    /// Recorded, and the lead gets nothing.
    Silent,
}

/// One payload: how it is posted, what its stored message must say, and its turn.
struct Case {
    name: &'static str,
    body: Vec<u8>,
    headers: Vec<(&'static str, &'static str)>,
    check: fn(&ari::inbox::InboundMessage),
    turn: Turn,
}

fn case(
    name: &'static str,
    body: Vec<u8>,
    check: fn(&ari::inbox::InboundMessage),
    turn: Turn,
) -> Case {
    Case {
        name,
        body,
        headers: vec![],
        check,
        turn,
    }
}

fn media(m: &ari::inbox::InboundMessage) -> &ari::inbox::Media {
    m.media.as_ref().expect("media")
}

/// Every message type of Meta's webhook reference, and Kapso's v1 and v2 shapes.
fn cases() -> Vec<Case> {
    let mut cases = meta_media_cases();
    cases.extend(meta_reply_cases());
    cases.extend(kapso_cases());
    cases
}

/// Meta's media and content types: text, files, voice, video, sticker, location, contacts.
fn meta_media_cases() -> Vec<Case> {
    vec![
        case(
            "meta text",
            meta(
                &lead(0),
                json!({"id": "wamid.P0", "type": "text",
                "text": {"body": "halo kak, mau tanya kuliah di belanda"}}),
            ),
            |m| {
                assert_eq!(m.message_type, MessageType::Text);
                assert_eq!(
                    m.text.as_deref(),
                    Some("halo kak, mau tanya kuliah di belanda")
                );
            },
            Turn::Answered,
        ),
        case(
            "meta image with caption and url",
            meta(
                &lead(1),
                json!({"id": "wamid.P1",
                "type": "image", "image": {"caption": "ini paspor saya", "mime_type": "image/jpeg",
                "sha256": "c2hhMjU2", "id": "1001", "url": "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1001"}}),
            ),
            |m| {
                assert_eq!(m.message_type, MessageType::Image);
                assert_eq!(m.text.as_deref(), Some("ini paspor saya"));
                assert_eq!(media(m).content_type.as_deref(), Some("image/jpeg"));
                assert!(
                    media(m)
                        .url
                        .as_deref()
                        .is_some_and(|u| u.contains("mid=1001"))
                );
            },
            Turn::Answered,
        ),
        case(
            "meta document",
            meta(
                &lead(2),
                json!({"id": "wamid.P2", "type": "document",
                "document": {"caption": "cv saya kak", "filename": "CV_Rina_2026.pdf",
                "mime_type": "application/pdf", "sha256": "c2hh", "id": "1002",
                "url": "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1002"}}),
            ),
            |m| {
                assert_eq!(m.message_type, MessageType::Document);
                assert_eq!(media(m).filename.as_deref(), Some("CV_Rina_2026.pdf"));
                assert_eq!(media(m).content_type.as_deref(), Some("application/pdf"));
                assert!(media(m).url.is_some());
                assert_eq!(m.text.as_deref(), Some("cv saya kak"));
            },
            Turn::Answered,
        ),
        case(
            "meta voice note without transcript",
            meta(
                &lead(3),
                json!({"id": "wamid.P3",
                "type": "audio", "audio": {"mime_type": "audio/ogg; codecs=opus",
                "sha256": "c2hh", "id": "1003", "voice": true}}),
            ),
            |m| {
                assert_eq!(m.message_type, MessageType::Audio);
                assert_eq!(m.text, None);
            },
            Turn::Answered,
        ),
        case(
            "meta video",
            meta(
                &lead(4),
                json!({"id": "wamid.P4", "type": "video",
                "video": {"caption": "video kampusnya", "mime_type": "video/mp4", "sha256": "c2hh",
                "id": "1004"}}),
            ),
            |m| {
                assert_eq!(m.message_type, MessageType::Video);
                assert_eq!(m.text.as_deref(), Some("video kampusnya"));
            },
            Turn::Answered,
        ),
        case(
            "meta sticker",
            meta(
                &lead(5),
                json!({"id": "wamid.P5", "type": "sticker",
                "sticker": {"mime_type": "image/webp", "sha256": "c2hh", "id": "1005",
                "animated": false}}),
            ),
            |m| assert_eq!(m.message_type, MessageType::Sticker),
            Turn::Answered,
        ),
        case(
            "meta location",
            meta(
                &lead(6),
                json!({"id": "wamid.P6", "type": "location",
                "location": {"latitude": -6.2297465, "longitude": 106.829518,
                "name": "Kuningan City", "address": "Jl. Prof. DR. Satrio, Jakarta"}}),
            ),
            |m| {
                assert_eq!(m.message_type, MessageType::Location);
                let loc = m.location.as_ref().expect("location");
                assert_eq!(
                    (loc.latitude, loc.longitude),
                    (Some(-6.2297465), Some(106.829518))
                );
            },
            Turn::Answered,
        ),
        case(
            "meta contacts",
            meta(
                &lead(7),
                json!({"id": "wamid.P7", "type": "contacts",
                "contacts": [{"name": {"formatted_name": "Budi Santoso", "first_name": "Budi"},
                "phones": [{"phone": "+62 812-3456-7890", "type": "CELL", "wa_id": "6281234567890"}]}]}),
            ),
            |m| assert_eq!(m.message_type, MessageType::Contacts),
            Turn::Answered,
        ),
    ]
}

/// Meta's answers and notices: list replies, template buttons, orders, unsupported types,
/// reactions and a changed number.
fn meta_reply_cases() -> Vec<Case> {
    vec![
        case(
            "meta interactive list reply",
            meta(
                &lead(8),
                json!({"id": "wamid.P8",
                "type": "interactive", "context": {"from": "6281100099988", "id": "wamid.OUT8"},
                "interactive": {"type": "list_reply", "list_reply": {"id": "row_2",
                "title": "S2 di Jerman", "description": "Master"}}}),
            ),
            |m| {
                assert_eq!(m.message_type, MessageType::Interactive);
                assert_eq!(m.reply_id.as_deref(), Some("row_2"));
                assert_eq!(m.context_id.as_deref(), Some("wamid.OUT8"));
            },
            Turn::Answered,
        ),
        case(
            "meta template quick-reply button",
            meta(
                &lead(9),
                json!({"id": "wamid.P9",
                "type": "button", "context": {"from": "6281100099988", "id": "wamid.OUT9"},
                "button": {"text": "Ya, tertarik", "payload": "INTERESTED"}}),
            ),
            |m| {
                assert_eq!(m.message_type, MessageType::Button);
                assert_eq!(m.text.as_deref(), Some("Ya, tertarik"));
            },
            Turn::Answered,
        ),
        case(
            "meta order",
            meta(
                &lead(10),
                json!({"id": "wamid.P10", "type": "order",
                "order": {"catalog_id": "cat-1", "text": "paket konsultasi",
                "product_items": [{"product_retailer_id": "konsul-1", "quantity": 1,
                "item_price": 250000, "currency": "IDR"}]}}),
            ),
            |m| assert_eq!(m.message_type, MessageType::Other("order".into())),
            Turn::Answered,
        ),
        case(
            "meta unsupported",
            meta(
                &lead(11),
                json!({"id": "wamid.P11",
                "type": "unsupported", "errors": [{"code": 131051, "title": "Message type unknown",
                "message": "Message type unknown", "error_data": {"details":
                "Message type is currently not supported."}}]}),
            ),
            |m| assert_eq!(m.message_type, MessageType::Other("unsupported".into())),
            Turn::Answered,
        ),
        case(
            "meta reaction",
            meta(
                &lead(12),
                json!({"id": "wamid.P12", "type": "reaction",
                "reaction": {"message_id": "wamid.OUT12", "emoji": "👍"}}),
            ),
            |m| {
                assert_eq!(m.message_type, MessageType::Reaction);
                assert_eq!(m.reacts_to.as_deref(), Some("wamid.OUT12"));
            },
            Turn::Silent,
        ),
        case(
            "meta system: changed number",
            meta(
                &lead(13),
                json!({"id": "wamid.P13",
                "type": "system", "system": {"body": "Lead changed from 6281300000013 to 6281399999913",
                "wa_id": "6281399999913", "type": "user_changed_number"}}),
            ),
            |m| assert_eq!(m.message_type, MessageType::Other("system".into())),
            Turn::Silent,
        ),
    ]
}

/// Kapso's shapes: v2 with a transcript, a v2 image, v1, and v2 history sync.
fn kapso_cases() -> Vec<Case> {
    let mut cases = vec![
        case(
            "kapso v2 voice note with transcript",
            kapso_v2("v2-audio-received.json", &lead(14)),
            |m| {
                assert_eq!(m.message_type, MessageType::Audio);
                assert!(
                    m.text
                        .as_deref()
                        .is_some_and(|t| t.contains("IELTS saya 6.5"))
                );
            },
            Turn::Answered,
        ),
        case(
            "kapso v2 image",
            kapso_v2("v2-image-received.json", &lead(15)),
            |m| {
                assert_eq!(m.message_type, MessageType::Image);
                assert_eq!(media(m).filename.as_deref(), Some("transkrip.jpg"));
            },
            Turn::Answered,
        ),
    ];
    let v1 = serde_json::to_vec(&json!({
        "message": {"id": "0f6a7c1e-kapso-record", "whatsapp_message_id": "wamid.P16",
                    "message_type": "text", "content": "halo, info beasiswa dong",
                    "direction": "inbound", "origin": "cloud_api"},
        "conversation": {"id": "conv_p16", "phone_number": lead(16), "whatsapp_config_id": "cfg-1"},
        "whatsapp_config": {"id": "cfg-1", "phone_number_id": BUSINESS}
    }))
    .expect("json");
    let mut v1 = case(
        "kapso v1 text",
        v1,
        |m| {
            assert_eq!(m.message_type, MessageType::Text);
            assert_eq!(m.wamid, "wamid.P16");
            assert_eq!(m.text.as_deref(), Some("halo, info beasiswa dong"));
        },
        Turn::Answered,
    );
    v1.headers = vec![("x-webhook-payload-version", "v1")];
    cases.push(v1);
    let mut history: Value =
        serde_json::from_slice(&kapso_v2("v2-text-received.json", &lead(17))).expect("json");
    history["message"]["kapso"]["origin"] = "history_sync".into();
    cases.push(case(
        "kapso v2 history sync",
        serde_json::to_vec(&history).expect("json"),
        |m| assert_eq!(m.origin.as_deref(), Some("history_sync")),
        Turn::Silent,
    ));
    cases
}

/// The stored message row of `phone`.
fn row_of<'a>(rows: &'a [InboxRow], phone: &str) -> &'a InboxRow {
    rows.iter()
        .find(|r| {
            r.event.kind == EventKind::Message && r.event.contact_phone.as_deref() == Some(phone)
        })
        .unwrap_or_else(|| panic!("no message row for {phone}"))
}

#[tokio::test]
async fn every_message_type_is_stored_as_what_it_is_and_answered_or_recorded() {
    let svc = Service::spawn();
    let client = reqwest::Client::new();
    let cases = cases();
    for (i, c) in cases.iter().enumerate() {
        let mut req = client
            .post(svc.url("/webhooks/kapso"))
            .header("content-type", "application/json")
            .header(
                "x-webhook-signature",
                ari::ingress::signature::sign(common::SECRET.as_bytes(), &c.body),
            )
            .header("x-webhook-event", "whatsapp.message.received")
            .header("x-idempotency-key", format!("payload-{i}"));
        for (k, v) in &c.headers {
            req = req.header(*k, *v);
        }
        let r = req.body(c.body.clone()).send().await.expect("post");
        assert_eq!(r.status(), StatusCode::OK, "{}", c.name);
    }
    let rows = svc.wait_processed().await;
    for (i, c) in cases.iter().enumerate() {
        let phone = lead(i);
        let row = row_of(&rows, &phone);
        assert_eq!(
            row.event.phone_number_id.as_deref(),
            Some(BUSINESS),
            "{}",
            c.name
        );
        assert_eq!(row.state, InboxState::Done, "{}: {:?}", c.name, row.state);
        (c.check)(row.event.message.as_ref().expect("message"));
        let replies = svc.outbox_settled(&phone).await;
        match c.turn {
            Turn::Answered => assert!(!replies.is_empty(), "{}: the lead got no reply", c.name),
            Turn::Silent => assert!(replies.is_empty(), "{}: answered {replies:#?}", c.name),
        }
    }
}

/// Statuses of ARI's own messages and a batch of three messages for two leads: the statuses
/// are stored and start no turn, the batch's leads are answered once each.
#[tokio::test]
async fn statuses_start_no_turn_and_a_batch_answers_each_lead() {
    let svc = Service::spawn();
    let client = reqwest::Client::new();
    let status = serde_json::to_vec(&json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "6281100099988", "phone_number_id": BUSINESS},
            "statuses": [
                {"id": "wamid.OUT1", "status": "delivered", "timestamp": "1763605030",
                 "recipient_id": "6281300000090"},
                {"id": "wamid.OUT1", "status": "read", "timestamp": "1763605040",
                 "recipient_id": "6281300000090"}
            ]
        }}]}]
    }))
    .expect("json");
    let r = svc
        .post_signed(&client, &status, None, Some("statuses"))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let batch = fixture("v2-batch-received.json");
    let r = svc
        .post_signed(
            &client,
            &batch,
            Some("whatsapp.message.received"),
            Some("batch"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let rows = svc.wait_processed().await;
    let statuses: Vec<_> = rows
        .iter()
        .filter(|r| r.event.kind == EventKind::Status)
        .collect();
    assert_eq!(statuses.len(), 2, "{rows:#?}");
    assert!(svc.outbox_settled("+6281300000090").await.is_empty());
    let batch: Value = serde_json::from_slice(&fixture("v2-batch-received.json")).expect("json");
    let mut leads: Vec<String> = batch["data"]
        .as_array()
        .expect("batch data")
        .iter()
        .map(|item| {
            item["conversation"]["phone_number"]
                .as_str()
                .expect("phone")
                .to_string()
        })
        .collect();
    leads.dedup();
    assert_eq!(leads.len(), 2, "the fixture has two leads");
    for phone in &leads {
        let replies = svc.outbox_settled(phone).await;
        assert!(!replies.is_empty(), "{phone} got no reply");
    }
}
