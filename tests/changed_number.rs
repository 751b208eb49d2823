//! Issue 16 item 6, end to end: WhatsApp's `user_changed_number` system message moves the
//! lead's conversation to the new number, unanswered, and the lead goes on from there.

mod common;

use ari::store::{ConversationKey, Store};
use common::kapso_mock::MockKapso;
use common::{Options, Service, text_payload};
use reqwest::StatusCode;

const OLD: &str = "+6281234567890";
const NEW: &str = "+6281298765432";

/// Meta's system message (the "System messages webhook reference"): no contacts array, the new
/// number in `system.wa_id`.
fn changed_number(wamid: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "6281100099988",
                         "phone_number_id": "106540352242922"},
            "messages": [{"from": "6281234567890", "id": wamid, "timestamp": "1763605022",
                          "type": "system",
                          "system": {"body": "User Budi changed from 6281234567890 to 6281298765432",
                                     "wa_id": "6281298765432", "type": "user_changed_number"}}]
        }}]}]
    }))
    .expect("json")
}

async fn record(svc: &Service, phone: &str) -> Option<ari::store::ConversationRecord> {
    let store = ari::store::sqlite::SqliteStore::open(&svc.db_path)
        .await
        .expect("open store");
    let key = ConversationKey {
        workspace_id: "default".into(),
        contact_phone: phone.into(),
    };
    let record = store.conversation_record(&key).await.expect("record");
    store.close().await.expect("close");
    record
}

#[tokio::test]
async fn a_changed_number_carries_the_conversation_to_the_new_number() {
    let mock = MockKapso::start().await;
    let svc = Service::spawn_with(Options {
        kapso: Some((mock.uri(), "test-kapso-key".into())),
        ..Options::default()
    });
    let c = reqwest::Client::new();
    let hello = text_payload(OLD, "wamid.hello", "halo kak, aku Budi mau S2 di Australia");
    let r = svc
        .post_signed(&c, &hello, Some("whatsapp.message.received"), None)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    mock.wait_for(1).await;
    svc.wait_processed().await;
    let before = record(&svc, OLD).await.expect("conversation");

    let r = svc
        .post_signed(&c, &changed_number("wamid.system1"), None, None)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    svc.wait_processed().await;
    assert!(record(&svc, OLD).await.is_none(), "the old number is free");
    let moved = record(&svc, NEW).await.expect("moved");
    assert_eq!(moved.conversation_id, before.conversation_id);
    assert_eq!(
        moved.snapshot, before.snapshot,
        "nothing of the lead is lost"
    );

    // The lead goes on from the new number: the same conversation answers, not a new greeting.
    let next = text_payload(NEW, "wamid.next", "budget sekitar 300 juta");
    let r = svc
        .post_signed(&c, &next, Some("whatsapp.message.received"), None)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let replies = mock.wait_for(2).await;
    svc.wait_processed().await;
    assert_eq!(
        replies.len(),
        2,
        "the system message got no reply: {replies:#?}"
    );
    assert_eq!(replies[1].to, NEW.trim_start_matches('+'));
    let after = record(&svc, NEW).await.expect("conversation");
    assert_eq!(after.conversation_id, before.conversation_id);
    assert!(after.version > moved.version);
}
