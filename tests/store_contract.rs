//! The store contract, written against the `Store` trait so every implementation runs the same
//! checks: SQLite, and Convex on the local Convex server (`tests/convex-server/`, Node required).

use std::sync::Arc;

use ari::inbox::{
    EnqueueOutcome, EventKind, FOLLOWUP_DUE_EVENT, InboundEvent, InboundMessage, InboxState, Media,
    MessageType, NewDelivery, NewInboxItem, RESUME_EVENT, StatusUpdate, TURN_STUCK_EVENT,
};
use ari::store::convex::ConvexStore;
use ari::store::sqlite::SqliteStore;
#[path = "common/convex.rs"]
mod convex_server;

use ari::store::{
    BeginTurn, BookingOutcome, Channel, CommitOutcome, ConversationKey, ConversationSummary,
    Direction, EraseOutcome, FailReason, Fallback, LeadChange, NewAppointment, NewMessage,
    NewReminder, NewWebhook, Once, OutboxState, QueuedRow, ReminderMessage, SendOutcome,
    SendRequest, Store, StoreError, TurnClaim, TurnCommit, TurnFailure,
};

fn message(pnid: &str, wamid: &str, text: &str) -> NewInboxItem {
    let mut event = InboundEvent::unknown("whatsapp.message.received");
    event.kind = EventKind::Message;
    event.phone_number_id = Some(pnid.into());
    event.contact_phone = Some("+6281234567890".into());
    event.message = Some(InboundMessage {
        wamid: wamid.into(),
        timestamp: Some(1_763_604_907),
        message_type: MessageType::Text,
        text: Some(text.into()),
        reply_id: None,
        media: None,
        location: None,
        reacts_to: None,
        context_id: None,
        origin: Some("cloud_api".into()),
        referral: None,
    });
    NewInboxItem {
        raw: serde_json::json!({"id": wamid, "text": {"body": text}}),
        event,
        workspace_id: Some("default".into()),
        state: InboxState::Pending,
    }
}

fn status(pnid: &str, wamid: &str, value: &str) -> NewInboxItem {
    let mut event = InboundEvent::unknown(format!("whatsapp.message.{value}"));
    event.kind = EventKind::Status;
    event.phone_number_id = Some(pnid.into());
    event.status = Some(StatusUpdate {
        wamid: wamid.into(),
        status: value.into(),
        timestamp: None,
        recipient: None,
        origin: None,
        direction: Some("outbound".into()),
        text: None,
        errors: vec![],
    });
    NewInboxItem {
        raw: serde_json::json!({"id": wamid, "status": value}),
        event,
        workspace_id: Some("default".into()),
        state: InboxState::Pending,
    }
}

fn delivery(key: &str, items: Vec<NewInboxItem>) -> NewDelivery {
    NewDelivery {
        body_hash: None,
        idempotency_key: key.into(),
        event_header: Some("whatsapp.message.received".into()),
        request_id: "req".into(),
        received_at_ms: 1_763_604_907_000,
        items,
        original_body: None,
    }
}

async fn redelivery_is_a_duplicate(store: &dyn Store) {
    let d = delivery("k1", vec![message("p", "w1", "halo")]);
    assert_eq!(
        store.enqueue_inbound(d.clone()).await.unwrap(),
        EnqueueOutcome::Accepted {
            stored: 1,
            duplicates: 0,
            enriched: 0
        }
    );
    assert_eq!(
        store.enqueue_inbound(d).await.unwrap(),
        EnqueueOutcome::DuplicateDelivery
    );
    assert_eq!(store.list_inbox(0, 100).await.unwrap().len(), 1);
}

/// Issue 21: the same body under another idempotency key is a duplicate delivery; deliveries
/// without a body hash (ARI's own) never collide.
async fn the_same_body_under_another_key_is_a_duplicate(store: &dyn Store) {
    let with_hash = |key: &str, hash: Option<&str>, wamid: &str| NewDelivery {
        body_hash: hash.map(str::to_string),
        ..delivery(key, vec![message("p", wamid, "halo")])
    };
    let first = store
        .enqueue_inbound(with_hash("k1", Some("sha256:aa"), "w1"))
        .await
        .unwrap();
    assert!(
        matches!(first, EnqueueOutcome::Accepted { stored: 1, .. }),
        "{first:?}"
    );
    assert_eq!(
        store
            .enqueue_inbound(with_hash("k2", Some("sha256:aa"), "w2"))
            .await
            .unwrap(),
        EnqueueOutcome::DuplicateDelivery
    );
    for (key, wamid) in [("k3", "w3"), ("k4", "w4")] {
        let out = store
            .enqueue_inbound(with_hash(key, None, wamid))
            .await
            .unwrap();
        assert!(
            matches!(out, EnqueueOutcome::Accepted { stored: 1, .. }),
            "{out:?}"
        );
    }
    assert_eq!(store.list_inbox(0, 10).await.unwrap().len(), 3);
}

async fn a_message_under_another_key_is_stored_once(store: &dyn Store) {
    store
        .enqueue_inbound(delivery("a", vec![message("p", "w1", "halo")]))
        .await
        .unwrap();
    let out = store
        .enqueue_inbound(delivery(
            "b",
            vec![message("p", "w1", "halo"), message("p", "w2", "lagi")],
        ))
        .await
        .unwrap();
    assert_eq!(
        out,
        EnqueueOutcome::Accepted {
            stored: 1,
            duplicates: 1,
            enriched: 0
        }
    );
    // The same wamid on another business number is another message.
    let out = store
        .enqueue_inbound(delivery("c", vec![message("q", "w1", "halo")]))
        .await
        .unwrap();
    assert_eq!(
        out,
        EnqueueOutcome::Accepted {
            stored: 1,
            duplicates: 0,
            enriched: 0
        }
    );
    let rows = store.list_inbox(0, 100).await.unwrap();
    let wamids: Vec<_> = rows
        .iter()
        .map(|r| r.event.wamid().unwrap().to_string())
        .collect();
    assert_eq!(wamids, ["w1", "w2", "w1"]);
}

async fn statuses_are_claimed_per_status_value(store: &dyn Store) {
    let out = store
        .enqueue_inbound(delivery(
            "s1",
            vec![
                status("p", "w9", "sent"),
                status("p", "w9", "delivered"),
                status("p", "w9", "sent"),
            ],
        ))
        .await
        .unwrap();
    assert_eq!(
        out,
        EnqueueOutcome::Accepted {
            stored: 2,
            duplicates: 1,
            enriched: 0
        }
    );
}

async fn rows_come_back_in_arrival_order_with_paging(store: &dyn Store) {
    for i in 0..5 {
        store
            .enqueue_inbound(delivery(
                &format!("d{i}"),
                vec![message("p", &format!("w{i}"), &format!("t{i}"))],
            ))
            .await
            .unwrap();
    }
    let all = store.list_inbox(0, 100).await.unwrap();
    assert_eq!(all.len(), 5);
    assert!(all.windows(2).all(|w| w[0].id < w[1].id));
    let page = store.list_inbox(all[1].id, 2).await.unwrap();
    assert_eq!(
        page.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![all[2].id, all[3].id]
    );
    let row = &all[0];
    assert_eq!(row.kind, EventKind::Message);
    assert_eq!(row.delivery_key, "d0");
    assert_eq!(row.workspace_id.as_deref(), Some("default"));
    assert_eq!(row.raw["text"]["body"], "t0");
    assert_eq!(
        row.event.message.as_ref().unwrap().text.as_deref(),
        Some("t0")
    );
}

async fn depth_counts_pending_rows_only(store: &dyn Store) {
    let mut unroutable = message("x", "u1", "?");
    unroutable.state = InboxState::Unroutable;
    unroutable.workspace_id = None;
    store
        .enqueue_inbound(delivery(
            "m",
            vec![message("p", "w1", "a"), unroutable, message("p", "w2", "b")],
        ))
        .await
        .unwrap();
    assert_eq!(store.inbox_depth().await.unwrap(), 2);
}

async fn concurrent_claims_of_one_key_store_once(store: Arc<dyn Store>) {
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .enqueue_inbound(delivery("same", vec![message("p", "w1", "halo")]))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut accepted = 0;
    for t in tasks {
        if matches!(t.await.unwrap(), EnqueueOutcome::Accepted { .. }) {
            accepted += 1;
        }
    }
    assert_eq!(accepted, 1);
    assert_eq!(store.list_inbox(0, 100).await.unwrap().len(), 1);
}

async fn closed_store_is_unavailable(store: &dyn Store) {
    store.check_writable().await.unwrap();
    store.close().await.unwrap();
    let err = store
        .enqueue_inbound(delivery("late", vec![message("p", "w1", "halo")]))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err}");
    assert!(store.check_writable().await.is_err());
}

/// A voice note of the lead: a Meta-format copy (no transcript, no URL) or Kapso's (both).
fn voice(wamid: &str, transcript: Option<&str>, url: Option<&str>) -> NewInboxItem {
    let mut item = message("p", wamid, "");
    if let Some(m) = item.event.message.as_mut() {
        m.message_type = MessageType::Audio;
        m.text = transcript.map(str::to_string);
        m.media = Some(Media {
            id: Some("media-1".into()),
            url: url.map(str::to_string),
            ..Media::default()
        });
    }
    item.raw = serde_json::json!({"id": wamid, "type": "audio", "copy": url.is_some()});
    item
}

fn accepted(stored: usize, duplicates: usize, enriched: usize) -> EnqueueOutcome {
    EnqueueOutcome::Accepted {
        stored,
        duplicates,
        enriched,
    }
}

fn text_of(row: &ari::inbox::InboxRow) -> Option<&str> {
    row.event.message.as_ref().and_then(|m| m.text.as_deref())
}

/// Issue 16 item 1: a body ingress repaired to parse it is kept verbatim with its delivery.
async fn a_repaired_body_is_kept_beside_its_rows(store: &dyn Store) {
    let body = r#"{"message":{"id":"w1","text":{"body":"halo \ud83d"}}}"#;
    let mut repaired = delivery("repaired", vec![message("p", "w1", "halo \u{FFFD}")]);
    repaired.original_body = Some(body.to_string());
    store.enqueue_inbound(repaired).await.unwrap();
    store
        .enqueue_inbound(delivery("plain", vec![message("p", "w2", "halo")]))
        .await
        .unwrap();
    let kept = store.delivery_original_body("repaired").await.unwrap();
    assert_eq!(kept.as_deref(), Some(body));
    assert_eq!(store.delivery_original_body("plain").await.unwrap(), None);
    assert_eq!(store.delivery_original_body("unknown").await.unwrap(), None);
}

/// Issue 16 item 3: the Kapso copy of a pending voice note completes it in place.
async fn a_later_copy_completes_a_pending_message(store: &dyn Store) {
    let first = store
        .enqueue_inbound(delivery("meta", vec![voice("wv", None, None)]))
        .await
        .unwrap();
    assert_eq!(first, accepted(1, 0, 0));
    let copy = voice("wv", Some("saya mau kuliah di Jerman"), Some("https://m/1"));
    let out = store
        .enqueue_inbound(delivery("kapso", vec![copy.clone()]))
        .await
        .unwrap();
    assert_eq!(out, accepted(0, 1, 1));
    let rows = store.list_inbox(0, 100).await.unwrap();
    assert_eq!(rows.len(), 1, "stored once");
    assert_eq!(rows[0].state, InboxState::Pending);
    assert_eq!(text_of(&rows[0]), Some("saya mau kuliah di Jerman"));
    let media = rows[0].event.message.as_ref().and_then(|m| m.media.clone());
    assert_eq!(media.and_then(|m| m.url).as_deref(), Some("https://m/1"));
    // A third copy adds nothing: a plain duplicate.
    let again = store
        .enqueue_inbound(delivery("kapso-again", vec![copy]))
        .await
        .unwrap();
    assert_eq!(again, accepted(0, 1, 0));
    // A copy without the content does not undo it, and a text message is not touched.
    store
        .enqueue_inbound(delivery("meta-again", vec![voice("wv", None, None)]))
        .await
        .unwrap();
    let rows = store.list_inbox(0, 100).await.unwrap();
    assert_eq!(text_of(&rows[0]), Some("saya mau kuliah di Jerman"));
    assert_eq!(store.inbox_depth().await.unwrap(), 1);
}

/// A copy of a message a turn already answered queues one enrichment row, once.
async fn a_later_copy_of_an_answered_message_queues_one_enrichment_row(store: &dyn Store) {
    store
        .enqueue_inbound(delivery("meta", vec![voice("wv", None, None)]))
        .await
        .unwrap();
    let c = claim(store, 1_000).await;
    let done = store.commit_turn(commit_of(&c, &["ketik ya"], 1_100)).await;
    assert!(matches!(done.unwrap(), CommitOutcome::Committed { .. }));
    let out = store
        .enqueue_inbound(delivery(
            "kapso",
            vec![voice("wv", Some("budget 500jt"), None)],
        ))
        .await
        .unwrap();
    assert_eq!(out, accepted(0, 1, 1));
    // A second enriching copy (with more) completes the queued row; no second row.
    let out = store
        .enqueue_inbound(delivery(
            "kapso-2",
            vec![voice("wv", Some("budget 500jt"), Some("https://m/1"))],
        ))
        .await
        .unwrap();
    assert_eq!(out, accepted(0, 1, 1));
    let out = store
        .enqueue_inbound(delivery(
            "kapso-3",
            vec![voice("wv", Some("budget 500jt"), Some("https://m/1"))],
        ))
        .await
        .unwrap();
    assert_eq!(out, accepted(0, 1, 0));
    let rows = store.list_inbox(0, 100).await.unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0].state, InboxState::Done);
    assert_eq!(text_of(&rows[0]), None, "what the turn read stays");
    assert_eq!(rows[1].state, InboxState::Pending);
    assert_eq!(rows[1].kind, EventKind::Message);
    assert_eq!(rows[1].event.wamid(), Some("wv"));
    assert_eq!(text_of(&rows[1]), Some("budget 500jt"));
    let url = rows[1].event.message.as_ref().and_then(|m| m.media.clone());
    assert_eq!(url.and_then(|m| m.url).as_deref(), Some("https://m/1"));
    // The next turn reads the new content, once.
    let next = claim(store, 2_000).await;
    assert_eq!(next.inbound.len(), 1);
    assert_eq!(text_of(&next.inbound[0]), Some("budget 500jt"));
    let done = store.commit_turn(commit_of(&next, &["oke"], 2_100)).await;
    assert!(matches!(done.unwrap(), CommitOutcome::Committed { .. }));
    let out = store
        .enqueue_inbound(delivery(
            "kapso-4",
            vec![voice("wv", Some("budget 500jt"), None)],
        ))
        .await
        .unwrap();
    assert_eq!(out, accepted(0, 1, 0));
    assert_eq!(store.inbox_depth().await.unwrap(), 0);
}

/// A pending row a turn is reading now is not changed under it: the new content gets its own
/// row, for the next turn. A copy adding only metadata to an answered message queues nothing.
async fn a_copy_during_a_turn_or_adding_metadata_only(store: &dyn Store) {
    store
        .enqueue_inbound(delivery("meta", vec![voice("wv", None, None)]))
        .await
        .unwrap();
    // The lease is live at the copy's receipt time.
    let received = 1_763_604_907_000;
    let c = claim(store, received - 1_000).await;
    let out = store
        .enqueue_inbound(delivery("kapso", vec![voice("wv", Some("halo kak"), None)]))
        .await
        .unwrap();
    assert_eq!(out, accepted(0, 1, 1));
    let done = store
        .commit_turn(commit_of(&c, &["ketik ya"], received))
        .await;
    assert!(matches!(done.unwrap(), CommitOutcome::Committed { .. }));
    let next = claim(store, received + 1_000).await;
    assert_eq!(next.inbound.len(), 1);
    assert_eq!(text_of(&next.inbound[0]), Some("halo kak"));
    let done = store
        .commit_turn(commit_of(&next, &["halo"], received + 1_100))
        .await;
    assert!(matches!(done.unwrap(), CommitOutcome::Committed { .. }));
    // Metadata only: the answered message's record is completed, no turn is queued.
    store
        .enqueue_inbound(delivery("meta-img", vec![voice("wi", None, None)]))
        .await
        .unwrap();
    let c = claim(store, received + 2_000).await;
    let done = store
        .commit_turn(commit_of(&c, &["ok"], received + 2_100))
        .await;
    assert!(matches!(done.unwrap(), CommitOutcome::Committed { .. }));
    let out = store
        .enqueue_inbound(delivery(
            "kapso-img",
            vec![voice("wi", None, Some("https://m/2"))],
        ))
        .await
        .unwrap();
    assert_eq!(out, accepted(0, 1, 1));
    assert_eq!(store.inbox_depth().await.unwrap(), 0);
    let rows = store.list_inbox(0, 100).await.unwrap();
    let last = rows.last().unwrap();
    assert_eq!(last.event.wamid(), Some("wi"));
    let url = last.event.message.as_ref().and_then(|m| m.media.clone());
    assert_eq!(url.and_then(|m| m.url).as_deref(), Some("https://m/2"));
}

fn key() -> ConversationKey {
    ConversationKey {
        workspace_id: "default".into(),
        contact_phone: "+6281234567890".into(),
    }
}

async fn claim(store: &dyn Store, now_ms: i64) -> TurnClaim {
    match store.begin_turn(&key(), now_ms, 30_000).await.unwrap() {
        BeginTurn::Claimed(c) => *c,
        other => panic!("expected a claim, got {other:?}"),
    }
}

fn commit_of(claim: &TurnClaim, replies: &[&str], now_ms: i64) -> TurnCommit {
    let mut messages: Vec<NewMessage> = claim
        .inbound
        .iter()
        .map(|r| NewMessage {
            direction: Direction::Inbound,
            inbox_id: Some(r.id),
            wamid: r.event.wamid().map(str::to_string),
            text: r.event.message.as_ref().and_then(|m| m.text.clone()),
            meta: serde_json::json!({}),
            send: None,
        })
        .collect();
    messages.extend(replies.iter().map(|t| NewMessage {
        direction: Direction::Outbound,
        inbox_id: None,
        wamid: None,
        text: Some(t.to_string()),
        meta: serde_json::json!({"template": "test"}),
        send: Some(SendRequest {
            phone_number_id: "p".into(),
            to: "+6281234567890".into(),
            fallback: None,
            channel: Channel::Whatsapp,
            interactive: None,
        }),
    }));
    TurnCommit {
        conversation_id: claim.conversation_id,
        version: claim.version,
        lease_token: claim.lease_token.clone(),
        consumed_inbox_ids: claim.inbound.iter().map(|r| r.id).collect(),
        snapshot: serde_json::json!({"schema_version": 1, "state": "qualifying", "turns": claim.version + 1}),
        summary: ConversationSummary {
            flow_state: Some("qualifying".into()),
            lead_score: Some(5),
            ..ConversationSummary::default()
        },
        messages,
        now_ms,
        outbox_lease_ms: 0,
        lead: LeadChange::default(),
        webhooks: vec![],
        told_undelivered: vec![],
        move_to: None,
    }
}

/// A commit of one reply per `(to, text, fallback)`.
fn commit_sends(
    claim: &TurnClaim,
    sends: Vec<(&str, &str, Option<Fallback>)>,
    now_ms: i64,
) -> TurnCommit {
    let mut commit = commit_of(claim, &[], now_ms);
    commit
        .messages
        .extend(sends.into_iter().map(|(to, text, fallback)| NewMessage {
            direction: Direction::Outbound,
            inbox_id: None,
            wamid: None,
            text: Some(text.to_string()),
            meta: serde_json::json!({}),
            send: Some(SendRequest {
                phone_number_id: "p".into(),
                to: to.into(),
                fallback,
                channel: Channel::Whatsapp,
                interactive: None,
            }),
        }));
    commit
}

/// Issue 19: a reply sent as buttons keeps its interactive message on its outbox row (the
/// row's body its text), in the commit's rows and when read back; a reminder's too.
async fn an_interactive_reply_keeps_its_message_on_its_row(store: &dyn Store) {
    store
        .enqueue_inbound(delivery("i1", vec![message("p", "w1", "mau kak")]))
        .await
        .unwrap();
    let c = claim(store, 1_000).await;
    let buttons = r#"{"type":"button","body":{"text":"Mau?"},"action":{"buttons":[]}}"#;
    let mut commit = commit_of(&c, &["Mau?", "plain"], 2_000);
    let reply = commit
        .messages
        .iter_mut()
        .find(|m| m.text.as_deref() == Some("Mau?"));
    reply.unwrap().send.as_mut().unwrap().interactive = Some(buttons.into());
    let CommitOutcome::Committed { outbox, .. } = store.commit_turn(commit).await.unwrap() else {
        panic!("not committed");
    };
    assert_eq!(outbox[0].interactive.as_deref(), Some(buttons));
    assert_eq!(outbox[0].body, "Mau?");
    assert_eq!(
        outbox[0].channel,
        Channel::Whatsapp,
        "same queue as the texts"
    );
    assert_eq!(outbox[1].interactive, None);
    let read = store.conversation_outbox(&key()).await.unwrap();
    assert_eq!(read[0].interactive.as_deref(), Some(buttons));
    assert_eq!(read[1].interactive, None);
}

async fn a_turn_claims_reads_and_commits_once(store: &dyn Store) {
    assert!(matches!(
        store.begin_turn(&key(), 1_000, 30_000).await.unwrap(),
        BeginTurn::Idle
    ));
    store
        .enqueue_inbound(delivery(
            "t1",
            vec![
                message("p", "w1", "halo"),
                message("p", "w2", "nama saya Budi"),
            ],
        ))
        .await
        .unwrap();
    let c = claim(store, 1_000).await;
    assert_eq!(c.version, 0);
    assert!(c.snapshot.is_none());
    assert_eq!(c.phone_number_id.as_deref(), Some("p"));
    let texts: Vec<_> = c
        .inbound
        .iter()
        .map(|r| r.event.message.as_ref().unwrap().text.clone().unwrap())
        .collect();
    assert_eq!(texts, ["halo", "nama saya Budi"]);
    // The lease keeps a second worker out.
    assert!(matches!(
        store.begin_turn(&key(), 2_000, 30_000).await.unwrap(),
        BeginTurn::Busy {
            lease_until_ms: 31_000
        }
    ));
    let out = store
        .commit_turn(commit_of(
            &c,
            &["Halo! Boleh tau namanya?", "Email?"],
            3_000,
        ))
        .await
        .unwrap();
    let CommitOutcome::Committed { version, outbox } = out else {
        panic!("{out:?}")
    };
    assert_eq!(version, 1);
    assert_eq!(outbox.len(), 2);
    assert_ne!(outbox[0].idempotency_key, outbox[1].idempotency_key);
    assert_eq!(outbox[0].state, OutboxState::Pending);
    assert_eq!(outbox[0].body, "Halo! Boleh tau namanya?");
    assert_eq!(store.inbox_depth().await.unwrap(), 0);
    // The same commit again is stale: the version moved.
    assert_eq!(
        store
            .commit_turn(commit_of(&c, &["again"], 3_500))
            .await
            .unwrap(),
        CommitOutcome::Stale
    );
    // Nothing pending: the next begin is idle; the next message resumes from the snapshot.
    assert!(matches!(
        store.begin_turn(&key(), 4_000, 30_000).await.unwrap(),
        BeginTurn::Idle
    ));
    store
        .enqueue_inbound(delivery("t2", vec![message("p", "w3", "budi@example.com")]))
        .await
        .unwrap();
    let c2 = claim(store, 5_000).await;
    assert_eq!(c2.version, 1);
    assert_eq!(c2.snapshot.as_ref().unwrap()["state"], "qualifying");
    assert_eq!(c2.recent.len(), 4);
    assert_eq!(c2.recent[0].text.as_deref(), Some("halo"));
    assert_eq!(c2.recent[3].direction, Direction::Outbound);
    let messages = store.conversation_messages(&key()).await.unwrap();
    assert_eq!(messages.len(), 4);
}

async fn an_expired_lease_is_taken_over_and_the_old_holder_is_fenced(store: &dyn Store) {
    store
        .enqueue_inbound(delivery("t1", vec![message("p", "w1", "halo")]))
        .await
        .unwrap();
    let slow = claim(store, 1_000).await;
    // The slow worker's lease (30 s) expires; another worker takes the conversation.
    let fast = claim(store, 40_000).await;
    assert_ne!(slow.lease_token, fast.lease_token);
    assert_eq!(
        store
            .commit_turn(commit_of(&slow, &["late"], 41_000))
            .await
            .unwrap(),
        CommitOutcome::Stale
    );
    assert!(matches!(
        store
            .commit_turn(commit_of(&fast, &["on time"], 41_000))
            .await
            .unwrap(),
        CommitOutcome::Committed { version: 1, .. }
    ));
    let bodies: Vec<_> = store
        .conversation_outbox(&key())
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.body)
        .collect();
    assert_eq!(bodies, ["on time"]);
}

async fn the_outbox_delivers_one_row_per_contact_at_a_time(store: &dyn Store) {
    store
        .enqueue_inbound(delivery("t1", vec![message("p", "w1", "halo")]))
        .await
        .unwrap();
    let c = claim(store, 1_000).await;
    let CommitOutcome::Committed { outbox, .. } = store
        .commit_turn(commit_of(&c, &["first", "second"], 1_000))
        .await
        .unwrap()
    else {
        panic!("stale")
    };
    let due = store.claim_outbox(1_000, 1_000, 10).await.unwrap();
    assert_eq!(
        due.iter().map(|o| o.body.as_str()).collect::<Vec<_>>(),
        ["first"]
    );
    // A transient failure: not due again before its retry time, and the second row waits.
    store
        .record_send(
            outbox[0].id,
            SendOutcome::Retry {
                error: "500".into(),
                next_attempt_at_ms: 5_000,
            },
            1_100,
        )
        .await
        .unwrap();
    assert!(
        store
            .claim_outbox(2_000, 1_000, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let due = store.claim_outbox(5_000, 1_000, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].attempts, 1);
    store
        .record_send(
            outbox[0].id,
            SendOutcome::Sent {
                kapso_message_id: "wamid.OUT1".into(),
            },
            5_100,
        )
        .await
        .unwrap();
    let due = store.claim_outbox(5_100, 1_000, 10).await.unwrap();
    assert_eq!(
        due.iter().map(|o| o.body.as_str()).collect::<Vec<_>>(),
        ["second"]
    );
    store
        .record_send(outbox[1].id, SendOutcome::DryRun, 5_200)
        .await
        .unwrap();
    assert!(
        store
            .claim_outbox(9_999, 1_000, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // WhatsApp later reports the first as failed (24 h window closed).
    assert_eq!(
        store
            .record_delivery_failure(
                "wamid.OUT1",
                "131047 Re-engagement message",
                FailReason::WindowClosed,
                9_000
            )
            .await
            .unwrap(),
        Some(outbox[0].id)
    );
    assert_eq!(
        store
            .record_delivery_failure("wamid.UNKNOWN", "x", FailReason::ReportedFailed, 9_000)
            .await
            .unwrap(),
        None
    );
    let rows = store.conversation_outbox(&key()).await.unwrap();
    assert_eq!(rows[0].state, OutboxState::Failed);
    assert_eq!(rows[0].kapso_message_id.as_deref(), Some("wamid.OUT1"));
    assert_eq!(rows[1].state, OutboxState::DryRun);
    // The sent message's wamid is recorded on the message too.
    let messages = store.conversation_messages(&key()).await.unwrap();
    assert!(
        messages
            .iter()
            .any(|m| m.wamid.as_deref() == Some("wamid.OUT1"))
    );
}

/// Issue 20, dead letters: a row failed for good (refused, or given up at the outbox's cap)
/// holds back none of the conversation's later rows, keeps its last error and reason, is listed
/// by state, and an admin's requeue makes it pending and due again with its count reset.
async fn a_failed_row_holds_nothing_back_and_can_be_requeued(store: &dyn Store) {
    store
        .enqueue_inbound(delivery("t1", vec![message("p", "w1", "halo")]))
        .await
        .unwrap();
    let c = claim(store, 1_000).await;
    let CommitOutcome::Committed { outbox, .. } = store
        .commit_turn(commit_of(&c, &["first", "second"], 1_000))
        .await
        .unwrap()
    else {
        panic!("stale")
    };
    assert_eq!(outbox[0].queued_at_ms, 1_000);
    assert_eq!(outbox[0].reason, None);
    store
        .record_send(
            outbox[0].id,
            SendOutcome::Retry {
                error: "HTTP 500".into(),
                next_attempt_at_ms: 1_500,
            },
            1_100,
        )
        .await
        .unwrap();
    store
        .record_send(
            outbox[0].id,
            SendOutcome::Failed {
                error: "HTTP 500".into(),
                reason: FailReason::MaxAttempts,
            },
            1_600,
        )
        .await
        .unwrap();
    // A repeat of the final outcome changes nothing (a retried request).
    store
        .record_send(
            outbox[0].id,
            SendOutcome::Failed {
                error: "other".into(),
                reason: FailReason::Rejected,
            },
            1_700,
        )
        .await
        .unwrap();
    let due = store.claim_outbox(2_000, 1_000, 10).await.unwrap();
    assert_eq!(
        due.iter().map(|o| o.body.as_str()).collect::<Vec<_>>(),
        ["second"],
        "a failed row held back the next one"
    );
    let failed = store.list_outbox(OutboxState::Failed, 0, 10).await.unwrap();
    assert_eq!(failed.len(), 1, "{failed:#?}");
    assert_eq!(failed[0].id, outbox[0].id);
    assert_eq!(failed[0].reason, Some(FailReason::MaxAttempts));
    assert_eq!(failed[0].error.as_deref(), Some("HTTP 500"));
    assert_eq!(failed[0].attempts, 2);
    assert!(
        store
            .list_outbox(OutboxState::Failed, failed[0].id, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .list_outbox(OutboxState::Pending, 0, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    // Requeued: pending, due now, counted afresh; the error stays for the record.
    let row = store
        .requeue_outbox(outbox[0].id, 5_000)
        .await
        .unwrap()
        .expect("the row");
    assert_eq!(row.state, OutboxState::Pending);
    assert_eq!(row.attempts, 0);
    assert_eq!(row.reason, None);
    assert_eq!(row.queued_at_ms, 5_000);
    assert_eq!(row.error.as_deref(), Some("HTTP 500"));
    store
        .record_send(due[0].id, SendOutcome::DryRun, 5_000)
        .await
        .unwrap();
    let due = store.claim_outbox(5_000, 1_000, 10).await.unwrap();
    assert_eq!(
        due.iter().map(|o| o.body.as_str()).collect::<Vec<_>>(),
        ["first"]
    );
    // A row that has not failed is left as it is; an unknown id is None.
    let sent = store
        .requeue_outbox(outbox[1].id, 6_000)
        .await
        .unwrap()
        .expect("the row");
    assert_eq!(sent.state, OutboxState::DryRun);
    assert_eq!(sent.queued_at_ms, 1_000);
    assert_eq!(store.requeue_outbox(999_999, 6_000).await.unwrap(), None);
    assert!(
        store
            .list_outbox(OutboxState::Failed, 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Issue 20: a row's final failure queues its fallback in the same write: the template version
/// for 131047 (or `needs_template` without one), the undeliverable rows otherwise; a row with a
/// `once` key is queued once per window, merged into a waiting one; the failed message is marked
/// undelivered (and told when a fallback row tells someone), and a commit marks listed ones told.
async fn a_final_failure_queues_its_fallback_in_the_same_write(store: &dyn Store) {
    const LEAD: &str = "+6281234567890";
    const CONSULTANT: &str = "+6281111000001";
    let template = |param: &str| QueuedRow {
        channel: Channel::WhatsappTemplate,
        to: CONSULTANT.into(),
        body: serde_json::json!({"name": "t", "language": "id", "parameters": ["Budi", param]})
            .to_string(),
        once: None,
        fallback: None,
    };
    let hook = QueuedRow {
        channel: Channel::Webhook,
        to: "https://crm.example/hook".into(),
        body: r#"{"event":"ari.notice.undelivered"}"#.into(),
        once: None,
        fallback: None,
    };
    let with_template = Fallback {
        window_closed: vec![template("a")],
        needs_template: false,
        undeliverable: vec![hook.clone()],
    };
    let no_template = Fallback {
        window_closed: vec![hook.clone()],
        needs_template: true,
        undeliverable: vec![],
    };
    let relay = |merge: &str| Fallback {
        window_closed: vec![QueuedRow {
            once: Some(Once {
                key: "relay_template:c".into(),
                window_ms: Some(86_400_000),
                merge: merge.into(),
            }),
            ..template(merge)
        }],
        ..Fallback::default()
    };
    store
        .enqueue_inbound(delivery("t1", vec![message("p", "w1", "halo")]))
        .await
        .unwrap();
    let c = claim(store, 1_000).await;
    let CommitOutcome::Committed { outbox, .. } = store
        .commit_turn(commit_sends(
            &c,
            vec![
                (CONSULTANT, "notice 1", Some(with_template.clone())),
                (CONSULTANT, "notice 2", Some(no_template)),
                (CONSULTANT, "notice 3", Some(with_template)),
                (CONSULTANT, "relay 1", Some(relay("r1"))),
                (CONSULTANT, "relay 2", Some(relay("r2"))),
                (CONSULTANT, "relay 3", Some(relay("r3"))),
                (LEAD, "reply", None),
            ],
            1_000,
        ))
        .await
        .unwrap()
    else {
        panic!("stale")
    };
    let window = |error: &str| SendOutcome::Failed {
        error: error.into(),
        reason: FailReason::WindowClosed,
    };
    // 131047 with a template: failed, the template queued due at once.
    store
        .record_send(outbox[0].id, window("131047"), 2_000)
        .await
        .unwrap();
    // 131047 without one: needs_template, the CRM row queued.
    store
        .record_send(outbox[1].id, window("131047"), 2_000)
        .await
        .unwrap();
    // Refused otherwise: the undeliverable rows.
    store
        .record_send(
            outbox[2].id,
            SendOutcome::Failed {
                error: "131026".into(),
                reason: FailReason::Rejected,
            },
            2_000,
        )
        .await
        .unwrap();
    let rows = store.conversation_outbox(&key()).await.unwrap();
    let by_key = |k: &str| rows.iter().find(|r| r.idempotency_key == k).cloned();
    assert_eq!(rows[0].state, OutboxState::Failed);
    assert_eq!(rows[0].reason, Some(FailReason::WindowClosed));
    assert_eq!(rows[1].state, OutboxState::NeedsTemplate);
    assert_eq!(rows[1].reason, Some(FailReason::WindowClosed));
    assert_eq!(rows[2].state, OutboxState::Failed);
    let tpl = by_key(&format!("{}-w0", outbox[0].idempotency_key)).expect("template row");
    assert_eq!(tpl.channel, Channel::WhatsappTemplate);
    assert_eq!(tpl.state, OutboxState::Pending);
    assert_eq!(tpl.to, CONSULTANT);
    assert_eq!(tpl.phone_number_id, "p");
    assert_eq!(tpl.next_attempt_at_ms, 2_000);
    assert_eq!(tpl.queued_at_ms, 2_000);
    let crm = by_key(&format!("{}-w0", outbox[1].idempotency_key)).expect("crm row");
    assert_eq!(crm.channel, Channel::Webhook);
    assert_eq!(crm.to, "https://crm.example/hook");
    let refused = by_key(&format!("{}-u0", outbox[2].idempotency_key)).expect("undeliverable");
    assert_eq!(refused.channel, Channel::Webhook);
    assert!(by_key(&format!("{}-w0", outbox[2].idempotency_key)).is_none());
    // A retried final outcome queues nothing twice.
    store
        .record_send(outbox[0].id, window("131047"), 2_100)
        .await
        .unwrap();
    assert_eq!(
        store.conversation_outbox(&key()).await.unwrap().len(),
        rows.len()
    );

    // Relays: the first queues the template, the second merges into it while it waits.
    store
        .record_send(outbox[3].id, window("131047"), 3_000)
        .await
        .unwrap();
    store
        .record_send(outbox[4].id, window("131047"), 3_000)
        .await
        .unwrap();
    let templates = |rows: &[ari::store::OutboxRow]| {
        rows.iter()
            .filter(|r| r.channel == Channel::WhatsappTemplate && r.body.contains("r1"))
            .cloned()
            .collect::<Vec<_>>()
    };
    let rows = store.conversation_outbox(&key()).await.unwrap();
    let merged = templates(&rows);
    assert_eq!(merged.len(), 1, "{rows:#?}");
    let body: serde_json::Value = serde_json::from_str(&merged[0].body).unwrap();
    assert_eq!(body["parameters"][1], "r1 | r2");
    // Once it is out (after the notice's template, ahead in the template queue), a third relay
    // within the window queues nothing.
    let mut out = false;
    for _ in 0..3 {
        for r in store.claim_outbox(3_000, 1_000, 100).await.unwrap() {
            if r.channel != Channel::WhatsappTemplate {
                continue;
            }
            out |= r.id == merged[0].id;
            store
                .record_send(
                    r.id,
                    SendOutcome::Sent {
                        kapso_message_id: format!("wamid.T{}", r.id),
                    },
                    3_100,
                )
                .await
                .unwrap();
        }
    }
    assert!(out, "the relay template was never due");
    let before = store.conversation_outbox(&key()).await.unwrap().len();
    store
        .record_send(outbox[5].id, window("131047"), 4_000)
        .await
        .unwrap();
    assert_eq!(
        store.conversation_outbox(&key()).await.unwrap().len(),
        before,
        "a second relay template within the window"
    );

    // The messages: undelivered, told when a fallback row told someone.
    let messages = store.conversation_messages(&key()).await.unwrap();
    let meta = |text: &str| {
        messages
            .iter()
            .find(|m| m.text.as_deref() == Some(text))
            .map(|m| (m.id, m.meta.clone()))
            .unwrap()
    };
    assert_eq!(meta("notice 1").1["undelivered"], true);
    assert_eq!(meta("notice 1").1["told"], true);
    assert_eq!(meta("relay 2").1["told"], true);
    let (relay3, relay3_meta) = meta("relay 3");
    assert_eq!(relay3_meta["undelivered"], true);
    assert!(relay3_meta.get("told").is_none(), "{relay3_meta}");
    assert!(meta("reply").1.get("undelivered").is_none());

    // WhatsApp reports the sent reply failed with 131047: no fallback, failed; a later commit
    // marks a listed message told.
    store
        .record_send(
            outbox[6].id,
            SendOutcome::Sent {
                kapso_message_id: "wamid.R".into(),
            },
            5_000,
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .record_delivery_failure("wamid.R", "131047", FailReason::WindowClosed, 5_100)
            .await
            .unwrap(),
        Some(outbox[6].id)
    );
    store
        .enqueue_inbound(delivery("t2", vec![message("p", "w2", "halo?")]))
        .await
        .unwrap();
    let c2 = claim(store, 6_000).await;
    let mut commit = commit_of(&c2, &[], 6_000);
    commit.told_undelivered = vec![relay3];
    store.commit_turn(commit).await.unwrap();
    let messages = store.conversation_messages(&key()).await.unwrap();
    let relay3_meta = &messages.iter().find(|m| m.id == relay3).unwrap().meta;
    assert_eq!(relay3_meta["told"], true);
    let reply = messages
        .iter()
        .find(|m| m.text.as_deref() == Some("reply"))
        .unwrap();
    assert_eq!(reply.meta["undelivered"], true);
    let rows = store.conversation_outbox(&key()).await.unwrap();
    let reply_row = rows.iter().find(|r| r.id == outbox[6].id).unwrap();
    assert_eq!(reply_row.state, OutboxState::Failed);
    assert_eq!(reply_row.reason, Some(FailReason::WindowClosed));
}

async fn replies_behind_an_undelivered_one_wait_their_turn(store: &dyn Store) {
    store
        .enqueue_inbound(delivery("t1", vec![message("p", "w1", "halo")]))
        .await
        .unwrap();
    let c1 = claim(store, 1_000).await;
    let CommitOutcome::Committed { outbox: first, .. } = store
        .commit_turn(commit_of(&c1, &["first"], 1_000))
        .await
        .unwrap()
    else {
        panic!("stale")
    };
    assert_eq!(first.len(), 1);
    // The first reply fails for now; the lead writes again and gets a second reply.
    store
        .record_send(
            first[0].id,
            SendOutcome::Retry {
                error: "timeout".into(),
                next_attempt_at_ms: 9_000,
            },
            2_000,
        )
        .await
        .unwrap();
    store
        .enqueue_inbound(delivery("t2", vec![message("p", "w2", "halo?")]))
        .await
        .unwrap();
    let c2 = claim(store, 3_000).await;
    let CommitOutcome::Committed { outbox: second, .. } = store
        .commit_turn(commit_of(&c2, &["second"], 3_000))
        .await
        .unwrap()
    else {
        panic!("stale")
    };
    assert!(
        second.is_empty(),
        "a reply was handed out ahead of an undelivered older one"
    );
    // Nothing is due before the first reply's retry time; then strictly in order.
    assert!(
        store
            .claim_outbox(4_000, 1_000, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let due = store.claim_outbox(9_000, 1_000, 10).await.unwrap();
    assert_eq!(
        due.iter().map(|o| o.body.as_str()).collect::<Vec<_>>(),
        ["first"]
    );
    store
        .record_send(
            due[0].id,
            SendOutcome::Sent {
                kapso_message_id: "wamid.1".into(),
            },
            9_100,
        )
        .await
        .unwrap();
    let due = store.claim_outbox(9_100, 1_000, 10).await.unwrap();
    assert_eq!(
        due.iter().map(|o| o.body.as_str()).collect::<Vec<_>>(),
        ["second"]
    );
}

async fn an_operator_command_is_queued_in_order_with_the_messages(store: &dyn Store) {
    assert_eq!(
        store
            .enqueue_control(999, RESUME_EVENT, 1_000)
            .await
            .unwrap(),
        None
    );
    store
        .enqueue_inbound(delivery("t1", vec![message("p", "w1", "halo")]))
        .await
        .unwrap();
    let c = claim(store, 1_000).await;
    store
        .commit_turn(commit_of(&c, &["hi"], 1_000))
        .await
        .unwrap();
    store
        .enqueue_inbound(delivery("t2", vec![message("p", "w2", "halo?")]))
        .await
        .unwrap();
    let queued = store
        .enqueue_control(c.conversation_id, RESUME_EVENT, 2_000)
        .await
        .unwrap();
    assert_eq!(queued, Some(key()));
    let c2 = claim(store, 3_000).await;
    let kinds: Vec<_> = c2
        .inbound
        .iter()
        .map(|r| (r.kind, r.event_type.clone()))
        .collect();
    assert_eq!(
        kinds,
        [
            (EventKind::Message, "whatsapp.message.received".to_string()),
            (EventKind::Control, RESUME_EVENT.to_string())
        ]
    );
}

/// Issue 18: a follow-up due time written by a commit is queued once, when it has come, as a
/// control row carrying it; the row is read by the next turn, in order.
async fn a_due_follow_up_is_queued_once_as_a_control_row(store: &dyn Store) {
    store
        .enqueue_inbound(delivery("f1", vec![message("p", "w1", "halo")]))
        .await
        .unwrap();
    let c = claim(store, 1_000).await;
    let mut commit = commit_of(&c, &["Namanya siapa kak?"], 1_000);
    commit.summary.followup_due_ms = Some(7_201_000);
    store.commit_turn(commit).await.unwrap();
    let record = store.conversation_record(&key()).await.unwrap().unwrap();
    assert_eq!(record.summary.followup_due_ms, Some(7_201_000));
    assert_eq!(
        store.conversation_key(c.conversation_id).await.unwrap(),
        Some(key())
    );
    assert_eq!(
        store
            .conversation_key(c.conversation_id + 99)
            .await
            .unwrap(),
        None
    );
    assert!(
        store
            .queue_due_followups(7_200_999, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.queue_due_followups(7_260_000, 10).await.unwrap(),
        vec![key()]
    );
    // Queued once: the due time is cleared, a second pass finds nothing.
    assert!(
        store
            .queue_due_followups(7_320_000, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let record = store.conversation_record(&key()).await.unwrap().unwrap();
    assert_eq!(record.summary.followup_due_ms, None);
    let c2 = claim(store, 7_330_000).await;
    let rows: Vec<_> = c2
        .inbound
        .iter()
        .map(|r| (r.kind, r.event_type.clone(), r.raw["due_at_ms"].as_i64()))
        .collect();
    assert_eq!(
        rows,
        [(
            EventKind::Control,
            FOLLOWUP_DUE_EVENT.to_string(),
            Some(7_201_000)
        )]
    );
    // The turn that read it commits without a follow-up: nothing more is due.
    store
        .commit_turn(commit_of(&c2, &["Halo lagi kak"], 7_330_000))
        .await
        .unwrap();
    assert!(
        store
            .queue_due_followups(i64::MAX / 2, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Issue 16 item 9: a turn set aside keeps its rows (no longer pending), clears an unreadable
/// snapshot into the queued stuck row, releases the lease, and queues one stuck row, not a
/// second when the stuck turn fails too.
async fn a_failing_turn_is_set_aside_once(store: &dyn Store) {
    store
        .enqueue_inbound(delivery("s1", vec![message("p", "w1", "halo")]))
        .await
        .unwrap();
    let c = claim(store, 1_000).await;
    store
        .commit_turn(commit_of(&c, &["Namanya siapa kak?"], 1_000))
        .await
        .unwrap();
    store
        .enqueue_inbound(delivery("s2", vec![message("p", "w2", "budi")]))
        .await
        .unwrap();
    let held = claim(store, 2_000).await;
    let failure = TurnFailure {
        error: "snapshot unreadable".into(),
        attempts: 5,
        reset_snapshot: true,
        now_ms: 3_000,
    };
    let done = store.set_aside_turn(&key(), &failure).await.unwrap();
    assert_eq!(done.conversation_id, Some(held.conversation_id));
    assert_eq!((done.rows, done.queued), (1, true));
    let rows = store.list_inbox(0, 10).await.unwrap();
    let states: Vec<_> = rows
        .iter()
        .map(|r| (r.event_type.as_str(), r.state))
        .collect();
    assert_eq!(
        states,
        [
            ("whatsapp.message.received", InboxState::Done),
            ("whatsapp.message.received", InboxState::SetAside),
            (TURN_STUCK_EVENT, InboxState::Pending),
        ]
    );
    // The lease is released at once: the stuck row's turn claims without waiting, on a new
    // conversation start (the snapshot cleared, its text kept in the row).
    let stuck = claim(store, 3_001).await;
    assert!(stuck.snapshot.is_none());
    assert!(stuck.version > held.version, "the version moved");
    assert_eq!(stuck.inbound.len(), 1);
    let raw = &stuck.inbound[0].raw;
    assert_eq!(raw["attempts"], 5);
    assert_eq!(raw["error"], "snapshot unreadable");
    assert!(
        raw["snapshot"].as_str().unwrap().contains("qualifying"),
        "{raw}"
    );
    assert_eq!(raw["set_aside"].as_array().unwrap().len(), 1);
    // Its turn failing too sets the stuck row aside without queuing another.
    let again = store.set_aside_turn(&key(), &failure).await.unwrap();
    assert_eq!((again.rows, again.queued), (1, false));
    assert_eq!(store.inbox_depth().await.unwrap(), 0);
    assert!(matches!(
        store.begin_turn(&key(), 3_002, 30_000).await.unwrap(),
        BeginTurn::Idle
    ));
}

/// Issue 16 item 6: a changed number moves the conversation with its pending replies and
/// appointments in the commit that read it; onto a number that has a conversation already, the
/// moved one is closed and its appointments and replies go to that one.
async fn a_changed_number_moves_the_conversation_in_its_commit(store: &dyn Store) {
    let at = |phone: &str| ConversationKey {
        workspace_id: "default".into(),
        contact_phone: phone.into(),
    };
    let (new, other) = ("+6289999000001", "+6289999000002");
    store
        .enqueue_inbound(delivery("m1", vec![message("p", "w1", "halo")]))
        .await
        .unwrap();
    let c = claim(store, 1_000).await;
    store
        .commit_turn(commit_of(&c, &["Namanya siapa kak?"], 1_000))
        .await
        .unwrap();
    let booked = store
        .book_slot(appointment(c.conversation_id, "s1", 2))
        .await
        .unwrap();
    assert!(matches!(booked, BookingOutcome::Booked { .. }));
    store
        .enqueue_inbound(delivery("m2", vec![message("p", "w2", "ganti nomor")]))
        .await
        .unwrap();
    let c2 = claim(store, 2_000).await;
    let mut moving = commit_of(&c2, &[], 2_000);
    moving.move_to = Some(new.into());
    store.commit_turn(moving).await.unwrap();
    assert!(store.conversation_record(&key()).await.unwrap().is_none());
    let moved = store.conversation_record(&at(new)).await.unwrap().unwrap();
    assert_eq!(moved.conversation_id, c.conversation_id);
    assert_eq!(moved.previous_phone.as_deref(), Some("+6281234567890"));
    let outbox = store.conversation_outbox(&at(new)).await.unwrap();
    assert_eq!(outbox.len(), 1);
    assert_eq!(
        outbox[0].to, new,
        "the reply not yet sent goes to the new number"
    );
    assert_eq!(
        store
            .conversation_appointments(&at(new))
            .await
            .unwrap()
            .len(),
        1
    );

    // The new number changes again, onto a number with a conversation of its own.
    let target = conversation_for(store, other).await;
    let mut m = message("p", "w3", "nomor baru lagi");
    m.event.contact_phone = Some(new.into());
    store
        .enqueue_inbound(delivery("m3", vec![m]))
        .await
        .unwrap();
    let BeginTurn::Claimed(c3) = store.begin_turn(&at(new), 3_000, 30_000).await.unwrap() else {
        panic!("no claim")
    };
    let mut merging = commit_of(&c3, &[], 3_000);
    merging.move_to = Some(other.into());
    store.commit_turn(merging).await.unwrap();
    let closed = store.conversation_record(&at(new)).await.unwrap().unwrap();
    assert_eq!(closed.conversation_id, c.conversation_id, "kept, linked");
    let appointments = store.conversation_appointments(&at(other)).await.unwrap();
    assert_eq!(appointments.len(), 1);
    assert!(
        store
            .conversation_appointments(&at(new))
            .await
            .unwrap()
            .is_empty()
    );
    let outbox = store.conversation_outbox(&at(other)).await.unwrap();
    assert!(
        outbox
            .iter()
            .all(|r| r.conversation_id == target && r.to == other),
        "{outbox:?}"
    );
    assert_eq!(outbox.len(), 1);
}

/// Issue 18 (UU PDP): erasing a contact blanks its messages, snapshot, appointments, outbox
/// texts and raw payloads, keeps the rows as counters, frees the number for a new
/// conversation, and waits for a running turn.
async fn erasing_a_contact_keeps_only_counters(store: &dyn Store) {
    store
        .enqueue_inbound(delivery("e1", vec![message("p", "w1", "nama saya Budi")]))
        .await
        .unwrap();
    let c = claim(store, 1_000).await;
    assert_eq!(
        store.erase_contact(&key(), 1_500).await.unwrap(),
        EraseOutcome::Busy
    );
    store
        .commit_turn(commit_of(&c, &["Halo Budi!"], 2_000))
        .await
        .unwrap();
    store
        .book_slot(appointment(c.conversation_id, "slot-1", 1))
        .await
        .unwrap();
    let EraseOutcome::Erased(receipt) = store.erase_contact(&key(), 3_000).await.unwrap() else {
        panic!("not erased")
    };
    assert_eq!(
        (
            receipt.conversation_id,
            receipt.messages,
            receipt.appointments,
            receipt.outbox_rows,
            receipt.inbox_rows
        ),
        (c.conversation_id, 2, 1, 1, 1)
    );
    assert_eq!(store.conversation_record(&key()).await.unwrap(), None);
    let erased = store
        .conversation_key(c.conversation_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        erased.contact_phone,
        format!("erased:{}", c.conversation_id)
    );
    let messages = store.conversation_messages(&erased).await.unwrap();
    assert_eq!(messages.len(), 2);
    assert!(messages.iter().all(|m| m.text.is_none()), "{messages:?}");
    let outbox = store.conversation_outbox(&erased).await.unwrap();
    assert!(
        outbox
            .iter()
            .all(|o| o.body.is_empty() && o.to != "+6281234567890"),
        "{outbox:?}"
    );
    let booked = store.conversation_appointments(&erased).await.unwrap();
    assert!(
        booked
            .iter()
            .all(|a| a.status == "erased" && a.notes.is_empty()),
        "{booked:?}"
    );
    assert!(
        store
            .booked_slots("default", 0, i64::MAX / 2)
            .await
            .unwrap()
            .is_empty()
    );
    let rows = store.list_inbox(0, 10).await.unwrap();
    assert!(
        rows.iter().all(|r| r.raw == serde_json::json!({})),
        "{rows:?}"
    );
    assert_eq!(
        store.erase_contact(&key(), 3_100).await.unwrap(),
        EraseOutcome::NotFound
    );
    // The number writes again: a new conversation, nothing of the old one.
    store
        .enqueue_inbound(delivery("e2", vec![message("p", "w2", "halo lagi")]))
        .await
        .unwrap();
    let fresh = claim(store, 4_000).await;
    assert_ne!(fresh.conversation_id, c.conversation_id);
    assert!(fresh.snapshot.is_none());
}

async fn workflow_events_find_their_conversation_by_kapso_id(store: &dyn Store) {
    let mut first = message("p", "w1", "halo");
    first.event.kapso_conversation_id = Some("conv_1".into());
    store
        .enqueue_inbound(delivery("t1", vec![first]))
        .await
        .unwrap();
    let c = claim(store, 1_000).await;
    store
        .commit_turn(commit_of(&c, &["hi"], 1_000))
        .await
        .unwrap();
    let workflow = |conv: &str| {
        let mut event = InboundEvent::unknown("workflow.execution.handoff");
        event.kind = EventKind::Workflow;
        event.kapso_conversation_id = Some(conv.into());
        NewInboxItem {
            raw: serde_json::json!({"whatsapp_conversation_id": conv}),
            event,
            workspace_id: Some("default".into()),
            state: InboxState::Pending,
        }
    };
    store
        .enqueue_inbound(delivery("wf1", vec![workflow("conv_1")]))
        .await
        .unwrap();
    store
        .enqueue_inbound(delivery("wf2", vec![workflow("conv_unknown")]))
        .await
        .unwrap();
    // The known one joins its conversation; the unknown one waits (within its TTL).
    let keys = store
        .pending_conversations(10, 2_000, 3_600_000)
        .await
        .unwrap();
    assert_eq!(keys, vec![key()]);
    let c2 = claim(store, 2_000).await;
    assert_eq!(c2.inbound.len(), 1);
    assert_eq!(c2.inbound[0].kind, EventKind::Workflow);
    // Past the TTL the unmatched one is set aside, not left pending forever.
    store.commit_turn(commit_of(&c2, &[], 2_000)).await.unwrap();
    assert_eq!(store.inbox_depth().await.unwrap(), 1);
    store
        .pending_conversations(10, 1_763_604_907_000 + 3_600_001, 3_600_000)
        .await
        .unwrap();
    assert_eq!(store.inbox_depth().await.unwrap(), 0);
    let states: Vec<_> = store
        .list_inbox(0, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.state)
        .collect();
    assert!(states.contains(&InboxState::Unroutable), "{states:?}");
}

fn appointment(conversation_id: i64, slot: &str, capacity: u32) -> NewAppointment {
    NewAppointment {
        conversation_id,
        workspace_id: "default".into(),
        slot_id: slot.into(),
        starts_at_ms: 1_764_122_400_000,
        duration_minutes: 60,
        consultant_name: "Kak Dimas".into(),
        consultant_whatsapp: "+6281111000002".into(),
        capacity,
        notes: "Booked via ARI. Lead score: 98".into(),
        now_ms: 1_000,
    }
}

/// Creates the conversation of `phone` (a first message and a claim) and returns its id.
async fn conversation_for(store: &dyn Store, phone: &str) -> i64 {
    let mut m = message("p", &format!("w-{phone}"), "halo");
    m.event.contact_phone = Some(phone.into());
    store
        .enqueue_inbound(delivery(&format!("d-{phone}"), vec![m]))
        .await
        .unwrap();
    let key = ConversationKey {
        workspace_id: "default".into(),
        contact_phone: phone.into(),
    };
    match store.begin_turn(&key, 1_000, 30_000).await.unwrap() {
        BeginTurn::Claimed(c) => c.conversation_id,
        other => panic!("{other:?}"),
    }
}

async fn booking_respects_capacity_and_is_idempotent(store: &dyn Store) {
    store
        .enqueue_inbound(delivery("t1", vec![message("p", "w1", "halo")]))
        .await
        .unwrap();
    let c = claim(store, 1_000).await;
    let second = conversation_for(store, "+6281111111102").await;
    let third = conversation_for(store, "+6281111111103").await;
    let first = store
        .book_slot(appointment(c.conversation_id, "s1", 2))
        .await
        .unwrap();
    let BookingOutcome::Booked { appointment_id } = first else {
        panic!("{first:?}")
    };
    // The same conversation booking the same slot again (a redone turn) gets the same booking.
    assert_eq!(
        store
            .book_slot(appointment(c.conversation_id, "s1", 2))
            .await
            .unwrap(),
        first
    );
    // Another lead takes the second place; a third finds it full.
    assert!(matches!(
        store.book_slot(appointment(second, "s1", 2)).await.unwrap(),
        BookingOutcome::Booked { .. }
    ));
    assert_eq!(
        store.book_slot(appointment(third, "s1", 2)).await.unwrap(),
        BookingOutcome::Full
    );
    let counts = store.booked_slots("default", 0, i64::MAX).await.unwrap();
    assert_eq!(counts.get("s1"), Some(&2));
    assert!(
        store
            .booked_slots("other", 0, i64::MAX)
            .await
            .unwrap()
            .is_empty()
    );
    // The lead cancels: the place is free again, a second cancel changes nothing, and another
    // conversation cannot cancel it.
    assert!(
        !store
            .cancel_appointment(second, appointment_id, 2_000)
            .await
            .unwrap()
    );
    assert!(
        store
            .cancel_appointment(c.conversation_id, appointment_id, 2_000)
            .await
            .unwrap()
    );
    assert!(
        !store
            .cancel_appointment(c.conversation_id, appointment_id, 2_000)
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .booked_slots("default", 0, i64::MAX)
            .await
            .unwrap()
            .get("s1"),
        Some(&1)
    );
    assert!(matches!(
        store.book_slot(appointment(third, "s1", 2)).await.unwrap(),
        BookingOutcome::Booked { .. }
    ));
    let mine = store.conversation_appointments(&key()).await.unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].id, appointment_id);
    assert_eq!(mine[0].starts_at_ms, 1_764_122_400_000);
    assert_eq!(mine[0].status, "cancelled");
}

async fn twenty_concurrent_bookings_of_one_place_book_once(store: Arc<dyn Store>) {
    let mut conversations = Vec::new();
    for i in 0..20 {
        conversations.push(conversation_for(&*store, &format!("+62811111112{i:02}")).await);
    }
    let tasks: Vec<_> = conversations
        .into_iter()
        .map(|id| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                store
                    .book_slot(appointment(id, "last-place", 1))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut booked = 0;
    for t in tasks {
        if matches!(t.await.unwrap(), BookingOutcome::Booked { .. }) {
            booked += 1;
        }
    }
    assert_eq!(booked, 1);
}

/// The appointments of the conversation of `phone`: `(slot id, status)`, oldest first.
async fn slots_of(store: &dyn Store, phone: &str) -> Vec<(String, String)> {
    let key = ConversationKey {
        workspace_id: "default".into(),
        contact_phone: phone.into(),
    };
    store
        .conversation_appointments(&key)
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.slot_id, a.status))
        .collect()
}

fn booked_id(outcome: BookingOutcome) -> i64 {
    match outcome {
        BookingOutcome::Booked { appointment_id } => appointment_id,
        BookingOutcome::Full => panic!("expected a booking, got Full"),
    }
}

async fn moving_a_booking_books_the_new_slot_and_frees_the_old_at_once(store: &dyn Store) {
    let (lead, other) = ("+6281111111201", "+6281111111202");
    let a = conversation_for(store, lead).await;
    let b = conversation_for(store, other).await;
    let old = booked_id(store.book_slot(appointment(a, "mon-09", 1)).await.unwrap());
    booked_id(store.book_slot(appointment(b, "tue-09", 1)).await.unwrap());
    // The new slot is full: nothing changes, the old booking stays.
    assert_eq!(
        store
            .move_appointment(old, appointment(a, "tue-09", 1))
            .await
            .unwrap(),
        BookingOutcome::Full
    );
    assert_eq!(
        slots_of(store, lead).await,
        [("mon-09".into(), "booked".into())]
    );
    // A free slot: booked and the old one cancelled, in one step.
    let moved = booked_id(
        store
            .move_appointment(old, appointment(a, "wed-09", 1))
            .await
            .unwrap(),
    );
    assert_ne!(moved, old);
    let after = vec![
        ("mon-09".to_string(), "cancelled".to_string()),
        ("wed-09".to_string(), "booked".to_string()),
    ];
    assert_eq!(slots_of(store, lead).await, after);
    let counts = store.booked_slots("default", 0, i64::MAX).await.unwrap();
    assert_eq!(counts.get("mon-09"), None);
    assert_eq!(counts.get("wed-09"), Some(&1));
    // A redone turn moves nothing twice: the same appointment back, nothing else booked.
    assert_eq!(
        store
            .move_appointment(old, appointment(a, "wed-09", 1))
            .await
            .unwrap(),
        BookingOutcome::Booked {
            appointment_id: moved
        }
    );
    assert_eq!(slots_of(store, lead).await, after);
    // Moving within the slot the lead holds (capacity 1, full with their own booking): their
    // own booking does not count against the capacity, and it stays booked.
    assert_eq!(
        store
            .move_appointment(moved, appointment(a, "wed-09", 1))
            .await
            .unwrap(),
        BookingOutcome::Booked {
            appointment_id: moved
        }
    );
    assert_eq!(slots_of(store, lead).await, after);
    // Another conversation cannot release this lead's booking by moving it.
    booked_id(
        store
            .move_appointment(moved, appointment(b, "thu-09", 1))
            .await
            .unwrap(),
    );
    assert_eq!(slots_of(store, lead).await, after);
    // The place freed by the move can be booked by someone else.
    booked_id(store.book_slot(appointment(b, "mon-09", 1)).await.unwrap());
}

/// Ten leads, each holding their own slot, move into one free place at once: one wins (its old
/// slot freed), the nine others get `Full` and keep the booking they had.
async fn leads_racing_to_move_into_one_place_move_once(store: Arc<dyn Store>) {
    let mut leads = Vec::new();
    for i in 0..10 {
        let phone = format!("+62811111113{i:02}");
        let id = conversation_for(&*store, &phone).await;
        let slot = format!("own-{i}");
        let old = booked_id(store.book_slot(appointment(id, &slot, 1)).await.unwrap());
        leads.push((phone, id, old, slot));
    }
    let tasks: Vec<_> = leads
        .iter()
        .map(|(_, id, old, _)| {
            let (store, id, old) = (Arc::clone(&store), *id, *old);
            tokio::spawn(async move {
                store
                    .move_appointment(old, appointment(id, "contested", 1))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut winners = Vec::new();
    for (t, lead) in tasks.into_iter().zip(&leads) {
        if matches!(t.await.unwrap(), BookingOutcome::Booked { .. }) {
            winners.push(lead.clone());
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    let counts = store.booked_slots("default", 0, i64::MAX).await.unwrap();
    assert_eq!(counts.get("contested"), Some(&1));
    for (phone, _, _, slot) in &leads {
        let held = slots_of(&*store, phone).await;
        if winners.iter().any(|w| &w.0 == phone) {
            let want = vec![
                (slot.clone(), "cancelled".to_string()),
                ("contested".to_string(), "booked".to_string()),
            ];
            assert_eq!(held, want);
        } else {
            assert_eq!(held, [(slot.clone(), "booked".to_string())], "{phone}");
        }
    }
}

async fn reminders_are_recorded_once_and_only_while_booked(store: &dyn Store) {
    store
        .enqueue_inbound(delivery("t1", vec![message("p", "w1", "halo")]))
        .await
        .unwrap();
    let c = claim(store, 1_000).await;
    let CommitOutcome::Committed { outbox, .. } = store
        .commit_turn(commit_of(&c, &["hi"], 1_000))
        .await
        .unwrap()
    else {
        panic!("stale")
    };
    // The reply was delivered, so the reminder's rows need not wait behind it.
    store
        .record_send(
            outbox[0].id,
            SendOutcome::Sent {
                kapso_message_id: "wamid.hi".into(),
            },
            1_500,
        )
        .await
        .unwrap();
    let BookingOutcome::Booked { appointment_id } = store
        .book_slot(appointment(c.conversation_id, "s1", 1))
        .await
        .unwrap()
    else {
        panic!("not booked")
    };
    let start = 1_764_122_400_000;
    let listed = store
        .upcoming_appointments(start - 1_000, start + 1, 10)
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].appointment.id, appointment_id);
    assert_eq!(listed[0].key, key());
    assert_eq!(listed[0].phone_number_id.as_deref(), Some("p"));
    assert!(listed[0].reminders_sent.is_empty());
    assert!(listed[0].last_inbound_ms.is_some());
    assert!(
        store
            .upcoming_appointments(start + 1, start + 10, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let reminder = NewReminder {
        appointment_id,
        conversation_id: c.conversation_id,
        kind: "reminder_24h".into(),
        messages: vec![
            ReminderMessage {
                to: "+6281234567890".into(),
                body: "Reminder: besok".into(),
                channel: Channel::Whatsapp,
                fallback: None,
                interactive: Some(r#"{"type":"button"}"#.into()),
            },
            ReminderMessage {
                to: "+6281111000002".into(),
                body: "Pengingat".into(),
                channel: Channel::Whatsapp,
                fallback: None,
                interactive: None,
            },
        ],
        phone_number_id: "p".into(),
        contact_phone: "+6281234567890".into(),
        now_ms: 2_000,
        outbox_lease_ms: 60_000,
        language: Some("en".into()),
    };
    let rows = store
        .record_reminder(reminder.clone())
        .await
        .unwrap()
        .expect("recorded");
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].interactive.as_deref(), Some(r#"{"type":"button"}"#));
    assert_eq!(rows[1].interactive, None);
    // The lead's text is logged with its kind and language, like a reply.
    let logged = store.conversation_messages(&key()).await.unwrap();
    let last = logged.last().expect("the reminder is logged");
    assert_eq!(last.text.as_deref(), Some("Reminder: besok"));
    assert_eq!(last.meta["reminder"], "reminder_24h");
    assert_eq!(last.meta["language"], "en");
    assert_ne!(rows[0].idempotency_key, rows[1].idempotency_key);
    assert_eq!(
        store.record_reminder(reminder.clone()).await.unwrap(),
        None,
        "recorded twice"
    );
    let listed = store
        .upcoming_appointments(start - 1_000, start + 1, 10)
        .await
        .unwrap();
    assert_eq!(listed[0].reminders_sent, ["reminder_24h"]);
    // The lead's reminder is logged in the conversation; the consultant's is not.
    let logged = store.conversation_messages(&key()).await.unwrap();
    assert_eq!(
        logged.last().unwrap().text.as_deref(),
        Some("Reminder: besok")
    );
    // Cancelled: no longer listed, and no reminder can be recorded.
    assert!(
        store
            .cancel_appointment(c.conversation_id, appointment_id, 3_000)
            .await
            .unwrap()
    );
    assert!(
        store
            .upcoming_appointments(start - 1_000, start + 1, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let two_hours = NewReminder {
        kind: "reminder_2h".into(),
        ..reminder
    };
    assert_eq!(store.record_reminder(two_hours).await.unwrap(), None);
}

/// The conversation's language is in the summary every commit writes, and reminders (which
/// read no snapshot) get it with the appointment (issue 13).
async fn the_conversation_language_is_kept_for_reminders(store: &dyn Store) {
    store
        .enqueue_inbound(delivery("lang1", vec![message("p", "wl1", "hello")]))
        .await
        .unwrap();
    let c = claim(store, 1_000).await;
    let mut commit = commit_of(&c, &[], 1_000);
    commit.summary.language = Some("en".into());
    assert!(matches!(
        store.commit_turn(commit).await.unwrap(),
        CommitOutcome::Committed { .. }
    ));
    let rec = store.conversation_record(&key()).await.unwrap().unwrap();
    assert_eq!(rec.summary.language.as_deref(), Some("en"));
    let BookingOutcome::Booked { .. } = store
        .book_slot(appointment(c.conversation_id, "s1", 1))
        .await
        .unwrap()
    else {
        panic!("not booked")
    };
    let start = 1_764_122_400_000;
    let listed = store
        .upcoming_appointments(start - 1_000, start + 1, 10)
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].language.as_deref(), Some("en"));
    // A later commit that switches the language (the lead asked) replaces it.
    store
        .enqueue_inbound(delivery(
            "lang2",
            vec![message("p", "wl2", "bahasa indonesia aja")],
        ))
        .await
        .unwrap();
    let c = claim(store, 2_000).await;
    let mut commit = commit_of(&c, &[], 2_000);
    commit.summary.language = Some("id".into());
    assert!(matches!(
        store.commit_turn(commit).await.unwrap(),
        CommitOutcome::Committed { .. }
    ));
    let listed = store
        .upcoming_appointments(start - 1_000, start + 1, 10)
        .await
        .unwrap();
    assert_eq!(listed[0].language.as_deref(), Some("id"));
}

async fn lead_status_is_set_only_when_a_turn_sets_it_and_tags_accumulate(store: &dyn Store) {
    assert_eq!(store.conversation_record(&key()).await.unwrap(), None);
    store
        .enqueue_inbound(delivery("t1", vec![message("p", "w1", "halo")]))
        .await
        .unwrap();
    let c = claim(store, 1_000).await;
    let mut first = commit_of(&c, &[], 1_000);
    first.lead = LeadChange {
        status: Some("prospect".into()),
        add_tags: vec!["Follow-up".into()],
    };
    store.commit_turn(first).await.unwrap();
    store
        .enqueue_inbound(delivery("t2", vec![message("p", "w2", "lagi")]))
        .await
        .unwrap();
    let c2 = claim(store, 2_000).await;
    let mut second = commit_of(&c2, &[], 2_000);
    second.lead = LeadChange {
        status: None,
        add_tags: vec!["1on1".into(), "Follow-up".into()],
    };
    store.commit_turn(second).await.unwrap();
    let rec = store
        .conversation_record(&key())
        .await
        .unwrap()
        .expect("record");
    assert_eq!(
        rec.lead_status.as_deref(),
        Some("prospect"),
        "a turn without a status overwrote it"
    );
    assert_eq!(rec.tags, ["Follow-up", "1on1"]);
    assert_eq!(rec.version, 2);
    assert_eq!(rec.summary.flow_state.as_deref(), Some("qualifying"));
    assert_eq!(rec.summary.lead_score, Some(5));
}

async fn a_released_turn_frees_the_conversation_at_once(store: &dyn Store) {
    store
        .enqueue_inbound(delivery("t1", vec![message("p", "w1", "halo")]))
        .await
        .unwrap();
    let interrupted = claim(store, 1_000).await;
    // Another token releases nothing.
    store
        .release_turn(interrupted.conversation_id, "not-the-lease")
        .await
        .unwrap();
    assert!(matches!(
        store.begin_turn(&key(), 1_100, 30_000).await.unwrap(),
        BeginTurn::Busy { .. }
    ));
    store
        .release_turn(interrupted.conversation_id, &interrupted.lease_token)
        .await
        .unwrap();
    let again = claim(store, 1_200).await;
    assert_eq!(again.version, interrupted.version);
    assert_eq!(
        again.inbound.len(),
        1,
        "the released turn's messages are still pending"
    );
    // The released claim can no longer commit.
    assert_eq!(
        store
            .commit_turn(commit_of(&interrupted, &["late"], 1_300))
            .await
            .unwrap(),
        CommitOutcome::Stale
    );
}

async fn webhook_calls_go_out_in_their_own_order(store: &dyn Store) {
    store
        .enqueue_inbound(delivery("t1", vec![message("p", "w1", "halo")]))
        .await
        .unwrap();
    let c = claim(store, 1_000).await;
    let mut commit = commit_of(&c, &["reply 1"], 1_000);
    commit.webhooks = vec![NewWebhook {
        url: "http://crm.test/hook".into(),
        body: r#"{"event":"ari.lead.handoff"}"#.into(),
    }];
    let CommitOutcome::Committed { outbox, .. } = store.commit_turn(commit).await.unwrap() else {
        panic!("stale")
    };
    let channels: Vec<_> = outbox.iter().map(|o| o.channel).collect();
    assert_eq!(channels, [Channel::Whatsapp, Channel::Webhook]);
    let hook = outbox
        .iter()
        .find(|o| o.channel == Channel::Webhook)
        .unwrap();
    assert_eq!(hook.to, "http://crm.test/hook");
    assert_ne!(hook.idempotency_key, outbox[0].idempotency_key);
    // The reply fails for now; the CRM call is delivered: neither waits for the other.
    store
        .record_send(
            outbox[0].id,
            SendOutcome::Retry {
                error: "500".into(),
                next_attempt_at_ms: 9_000,
            },
            1_100,
        )
        .await
        .unwrap();
    store
        .record_send(hook.id, SendOutcome::Delivered, 1_100)
        .await
        .unwrap();
    store
        .enqueue_inbound(delivery("t2", vec![message("p", "w2", "halo?")]))
        .await
        .unwrap();
    let c2 = claim(store, 2_000).await;
    let mut commit = commit_of(&c2, &["reply 2"], 2_000);
    commit.webhooks = vec![NewWebhook {
        url: "http://crm.test/hook".into(),
        body: "{}".into(),
    }];
    let CommitOutcome::Committed { outbox, .. } = store.commit_turn(commit).await.unwrap() else {
        panic!("stale")
    };
    // The reply waits behind the undelivered one; the webhook has nothing ahead of it.
    assert_eq!(
        outbox.iter().map(|o| o.channel).collect::<Vec<_>>(),
        [Channel::Webhook]
    );
    let rows = store.conversation_outbox(&key()).await.unwrap();
    let first_hook = rows.iter().find(|o| o.channel == Channel::Webhook).unwrap();
    assert_eq!(first_hook.state, OutboxState::Sent);
    assert_eq!(first_hook.kapso_message_id, None);
    // At the retry time, the head of each channel is due: reply 1 (not reply 2).
    let due = store.claim_outbox(9_000, 1_000, 10).await.unwrap();
    let bodies: Vec<_> = due
        .iter()
        .filter(|o| o.channel == Channel::Whatsapp)
        .map(|o| o.body.as_str())
        .collect();
    assert_eq!(bodies, ["reply 1"]);
}

async fn knowledge_entries_are_stored_per_workspace_and_replaced(store: &dyn Store) {
    assert!(store.knowledge_entries("default").await.unwrap().is_empty());
    store
        .put_knowledge_entry("default", "faq-b", "[[faq]]\nid = \"b\"", 1_000)
        .await
        .unwrap();
    store
        .put_knowledge_entry("default", "faq-a", "[[faq]]\nid = \"a\"", 1_000)
        .await
        .unwrap();
    store
        .put_knowledge_entry("other", "faq-a", "x", 1_000)
        .await
        .unwrap();
    store
        .put_knowledge_entry("default", "faq-b", "[[faq]]\nid = \"b2\"", 2_000)
        .await
        .unwrap();
    let entries = store.knowledge_entries("default").await.unwrap();
    assert_eq!(
        entries,
        [
            ("faq-a".to_string(), "[[faq]]\nid = \"a\"".to_string()),
            ("faq-b".to_string(), "[[faq]]\nid = \"b2\"".to_string()),
        ]
    );
}

async fn pending_conversations_come_oldest_first(store: &dyn Store) {
    let mut other = message("p", "w2", "halo");
    other.event.contact_phone = Some("+6287712345678".into());
    store
        .enqueue_inbound(delivery("a", vec![message("p", "w1", "halo")]))
        .await
        .unwrap();
    store
        .enqueue_inbound(delivery("b", vec![other]))
        .await
        .unwrap();
    let keys = store.pending_conversations(10, 0, 3_600_000).await.unwrap();
    assert_eq!(
        keys.iter()
            .map(|k| k.contact_phone.as_str())
            .collect::<Vec<_>>(),
        ["+6281234567890", "+6287712345678"]
    );
}

/// Issue 17 item 2: the recovery poll stops at `limit` distinct conversations, in the order of
/// their first pending row, however many rows each has.
async fn pending_conversations_stop_at_the_limit_of_distinct_conversations(store: &dyn Store) {
    let from = |phone: &str, wamid: &str| {
        let mut m = message("p", wamid, "halo");
        m.event.contact_phone = Some(phone.into());
        m
    };
    let (a, b, c) = ("+6281100000001", "+6281100000002", "+6281100000003");
    for (i, phone) in [a, a, b, a, c, b].into_iter().enumerate() {
        let wamid = format!("w{i}");
        store
            .enqueue_inbound(delivery(&format!("k{i}"), vec![from(phone, &wamid)]))
            .await
            .unwrap();
    }
    let phones = |keys: Vec<ConversationKey>| {
        keys.into_iter()
            .map(|k| k.contact_phone)
            .collect::<Vec<_>>()
    };
    let two = store.pending_conversations(2, 0, 3_600_000).await.unwrap();
    assert_eq!(phones(two), [a, b]);
    let all = store.pending_conversations(10, 0, 3_600_000).await.unwrap();
    assert_eq!(phones(all), [a, b, c]);
}

/// The round trips of one inbound text message through the store, on either store: enqueue
/// (ingress), begin and commit (worker), record the send (sender) = 4, one per operation; a
/// booking turn adds the booked-slots read and the booking.
async fn each_operation_is_one_round_trip(store: &dyn Store) {
    let before = store.round_trips();
    store
        .enqueue_inbound(delivery("rt", vec![message("p", "w1", "halo")]))
        .await
        .unwrap();
    assert_eq!(store.round_trips() - before, 1, "enqueue_inbound");
    let c = claim(store, 1_000).await;
    assert_eq!(store.round_trips() - before, 2, "begin_turn");
    let CommitOutcome::Committed { outbox, .. } = store
        .commit_turn(commit_of(&c, &["Halo!"], 1_100))
        .await
        .unwrap()
    else {
        panic!("stale")
    };
    assert_eq!(store.round_trips() - before, 3, "commit_turn");
    store
        .record_send(
            outbox[0].id,
            SendOutcome::Sent {
                kapso_message_id: "wamid.OUT".into(),
            },
            1_200,
        )
        .await
        .unwrap();
    assert_eq!(store.round_trips() - before, 4, "record_send");
    store
        .booked_slots("default", 0, i64::MAX / 2)
        .await
        .unwrap();
    assert_eq!(store.round_trips() - before, 5, "booked_slots");
    store
        .book_slot(appointment(c.conversation_id, "slot-1", 1))
        .await
        .unwrap();
    assert_eq!(store.round_trips() - before, 6, "book_slot");
    store
        .pending_conversations(10, 2_000, 60_000)
        .await
        .unwrap();
    assert_eq!(store.round_trips() - before, 7, "pending_conversations");
}

/// A fresh SQLite store in a temporary file (the guard keeps the file).
async fn sqlite() -> (tempfile::TempDir, Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("contract.db"))
        .await
        .unwrap();
    (dir, Arc::new(store))
}

/// A fresh Convex store on a new, empty deployment of the shared local server.
async fn convex() -> ((), Arc<dyn Store>) {
    ((), Arc::new(convex_server::fresh_store().await))
}

/// One test per contract check in `mod $module`, each on a fresh store from `$open`.
macro_rules! contract_checks {
    ($module:ident, $open:ident; $($name:ident),* $(,)?) => {
        mod $module {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let (_guard, store) = $open().await;
                    super::$name(&*store).await;
                }
            )*
        }
    };
}

/// Every contract check, on the store `$open` gives.
fn due_query(now_ms: i64) -> ari::store::DueQuery {
    ari::store::DueQuery {
        now_ms,
        with_pending: true,
        limit: 10,
        orphan_ttl_ms: 3_600_000,
        reminders_after_ms: 0,
    }
}

/// Issue 17 item 3: `due` reports the work of each pass, and nothing on an empty store: the
/// pending conversations, due outbox heads and the next retry, the next reminder time (a booked
/// start minus 24 h or 2 h, after the last pass), the next follow-up, a knowledge version that a
/// stored entry moves.
async fn due_reports_the_work_of_each_pass(store: &dyn Store) {
    let empty = store.due(due_query(1_000)).await.unwrap();
    assert_eq!(
        empty,
        ari::store::DueReport {
            knowledge_version: empty.knowledge_version,
            ..Default::default()
        }
    );
    store
        .enqueue_inbound(delivery("t1", vec![message("p", "w1", "halo")]))
        .await
        .unwrap();
    let found = store.due(due_query(1_000)).await.unwrap();
    assert_eq!(
        (found.pending.clone(), found.pending_rows),
        (vec![key()], 1)
    );
    let without = store
        .due(ari::store::DueQuery {
            with_pending: false,
            ..due_query(1_000)
        })
        .await
        .unwrap();
    assert!(without.pending.is_empty());
    assert_eq!(without.pending_rows, 1);
    // A commit's two replies (unclaimed: no outbox lease): one head of line, due.
    let c = claim(store, 1_000).await;
    let CommitOutcome::Committed { outbox, .. } = store
        .commit_turn(commit_of(&c, &["first", "second"], 1_000))
        .await
        .unwrap()
    else {
        panic!("stale")
    };
    let heads = store.due(due_query(2_000)).await.unwrap();
    assert_eq!(
        (heads.pending_rows, heads.outbox_due, heads.next_outbox_ms),
        (0, 1, None)
    );
    store
        .record_send(
            outbox[0].id,
            SendOutcome::Retry {
                error: "500".into(),
                next_attempt_at_ms: 5_000,
            },
            2_000,
        )
        .await
        .unwrap();
    let retry = store.due(due_query(3_000)).await.unwrap();
    assert_eq!((retry.outbox_due, retry.next_outbox_ms), (0, Some(5_000)));
    assert_eq!(store.due(due_query(5_000)).await.unwrap().outbox_due, 1);
    // A booking: its reminder times after the last pass.
    let start = 1_764_122_400_000;
    store
        .book_slot(appointment(c.conversation_id, "s1", 2))
        .await
        .unwrap();
    let day = store.due(due_query(5_000)).await.unwrap();
    assert_eq!(day.next_reminder_ms, Some(start - 24 * 3_600_000));
    let after_day = ari::store::DueQuery {
        reminders_after_ms: start - 24 * 3_600_000,
        ..due_query(5_000)
    };
    assert_eq!(
        store.due(after_day).await.unwrap().next_reminder_ms,
        Some(start - 2 * 3_600_000)
    );
    let knowledge = day.knowledge_version;
    store
        .put_knowledge_entry("default", "kampus", "[[faq]]\nid = \"kampus\"\n", 6_000)
        .await
        .unwrap();
    let stored = store.due(due_query(6_000)).await.unwrap();
    assert_ne!(stored.knowledge_version, knowledge);
}

macro_rules! contract_on {
    ($module:ident, $open:ident) => {
        contract_checks!(
            $module,
            $open;
            redelivery_is_a_duplicate,
            a_later_copy_completes_a_pending_message,
            a_repaired_body_is_kept_beside_its_rows,
            a_later_copy_of_an_answered_message_queues_one_enrichment_row,
            a_copy_during_a_turn_or_adding_metadata_only,
            a_message_under_another_key_is_stored_once,
            the_same_body_under_another_key_is_a_duplicate,
            statuses_are_claimed_per_status_value,
            rows_come_back_in_arrival_order_with_paging,
            depth_counts_pending_rows_only,
            closed_store_is_unavailable,
            a_turn_claims_reads_and_commits_once,
            an_interactive_reply_keeps_its_message_on_its_row,
            an_expired_lease_is_taken_over_and_the_old_holder_is_fenced,
            the_outbox_delivers_one_row_per_contact_at_a_time,
            pending_conversations_come_oldest_first,
            pending_conversations_stop_at_the_limit_of_distinct_conversations,
            replies_behind_an_undelivered_one_wait_their_turn,
            a_failed_row_holds_nothing_back_and_can_be_requeued,
            a_final_failure_queues_its_fallback_in_the_same_write,
            an_operator_command_is_queued_in_order_with_the_messages,
            a_due_follow_up_is_queued_once_as_a_control_row,
            erasing_a_contact_keeps_only_counters,
            a_failing_turn_is_set_aside_once,
            a_changed_number_moves_the_conversation_in_its_commit,
            workflow_events_find_their_conversation_by_kapso_id,
            booking_respects_capacity_and_is_idempotent,
            moving_a_booking_books_the_new_slot_and_frees_the_old_at_once,
            reminders_are_recorded_once_and_only_while_booked,
            the_conversation_language_is_kept_for_reminders,
            lead_status_is_set_only_when_a_turn_sets_it_and_tags_accumulate,
            a_released_turn_frees_the_conversation_at_once,
            webhook_calls_go_out_in_their_own_order,
            knowledge_entries_are_stored_per_workspace_and_replaced,
            each_operation_is_one_round_trip,
            due_reports_the_work_of_each_pass,
        );
    };
}

contract_on!(sqlite_contract, sqlite);
contract_on!(convex_contract, convex);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn convex_concurrent_claims_of_one_key_store_once() {
    let (_, store) = convex().await;
    concurrent_claims_of_one_key_store_once(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn convex_twenty_concurrent_bookings_of_one_place_book_once() {
    let (_, store) = convex().await;
    twenty_concurrent_bookings_of_one_place_book_once(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn convex_leads_racing_to_move_into_one_place_move_once() {
    let (_, store) = convex().await;
    leads_racing_to_move_into_one_place_move_once(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_leads_racing_to_move_into_one_place_move_once() {
    let (_dir, store) = sqlite().await;
    leads_racing_to_move_into_one_place_move_once(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_twenty_concurrent_bookings_of_one_place_book_once() {
    let (_dir, store) = sqlite().await;
    twenty_concurrent_bookings_of_one_place_book_once(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_concurrent_claims_of_one_key_store_once() {
    let (_dir, store) = sqlite().await;
    concurrent_claims_of_one_key_store_once(store).await;
}

#[tokio::test]
async fn sqlite_rows_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("reopen.db");
    let store = SqliteStore::open(&path).await.unwrap();
    store
        .enqueue_inbound(delivery("k", vec![message("p", "w1", "halo")]))
        .await
        .unwrap();
    store.close().await.unwrap();
    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(store.list_inbox(0, 10).await.unwrap().len(), 1);
    assert_eq!(
        store.enqueue_inbound(delivery("k", vec![])).await.unwrap(),
        EnqueueOutcome::DuplicateDelivery
    );
}

#[tokio::test]
async fn sqlite_refuses_a_file_that_is_not_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("garbage.db");
    std::fs::write(
        &path,
        b"this is not sqlite at all, just text that is long enough",
    )
    .unwrap();
    let err = SqliteStore::open(&path)
        .await
        .err()
        .expect("opened garbage");
    assert!(err.to_string().contains("garbage.db"), "{err}");
}

// ---- Convex only: round trips, the key check, outages, retries, the wire format. ----

#[tokio::test]
async fn convex_a_bad_deploy_key_is_a_clear_start_up_error() {
    let url = convex_server::fresh_deployment_url();
    let err = ConvexStore::connect_with(&url, "not-the-key", convex_server::test_options())
        .await
        .expect_err("a wrong key was accepted");
    let text = err.to_string();
    assert!(text.contains("refused the deploy key"), "{text}");
    assert!(text.contains("ARI_CONVEX_DEPLOY_KEY"), "{text}");
    assert!(text.contains("BadDeployKey"), "{text}");
}

#[tokio::test]
async fn convex_internal_functions_are_invisible_without_the_key() {
    let url = convex_server::fresh_deployment_url();
    let http = reqwest::Client::new();
    let body = serde_json::json!({"path": "inbox:depth", "args": {}, "format": "json"});
    let anonymous: serde_json::Value = http
        .post(format!("{url}/api/query"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(anonymous["status"], "error");
    assert_eq!(
        anonymous["errorMessage"],
        "Could not find public function for 'inbox:depth'."
    );
    let admin: serde_json::Value = http
        .post(format!("{url}/api/query"))
        .header(
            "Authorization",
            format!("Convex {}", convex_server::TEST_DEPLOY_KEY),
        )
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(admin, serde_json::json!({"status": "success", "value": 0}));
}

#[tokio::test]
async fn convex_an_unreachable_deployment_is_unavailable() {
    // A port nobody listens on: bind one, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let err = ConvexStore::connect_with(&url, "k", convex_server::test_options())
        .await
        .expect_err("connected to nothing");
    assert!(matches!(err, StoreError::Unavailable(_)), "{err}");
    let store = ConvexStore::new(&url, "k", convex_server::test_options()).unwrap();
    let err = store
        .enqueue_inbound(delivery("k", vec![message("p", "w1", "halo")]))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err}");
    // Idempotent: tried 3 times (1 + 2 retries).
    assert_eq!(store.round_trips(), 3);
}

/// 5xx and 429 are retried for idempotent operations only; a 4xx never.
#[tokio::test]
async fn convex_retries_only_transient_failures_of_idempotent_calls() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let mock = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/query"))
        .respond_with(
            ResponseTemplate::new(503)
                .set_body_json(serde_json::json!({"code": "Overloaded", "message": "busy"})),
        )
        .up_to_n_times(2)
        .mount(&mock)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/query"))
        .respond_with(
            ResponseTemplate::new(560)
                .set_body_json(serde_json::json!({"status": "success", "value": 7.0})),
        )
        .mount(&mock)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/mutation"))
        .respond_with(
            ResponseTemplate::new(429)
                .set_body_json(serde_json::json!({"code": "RateLimited", "message": "slow down"})),
        )
        .mount(&mock)
        .await;
    let store = ConvexStore::new(&mock.uri(), "k", convex_server::test_options()).unwrap();
    // A query: two 503s, then a 560 envelope (treated like 200), float accepted as integer.
    assert_eq!(store.inbox_depth().await.unwrap(), 7);
    assert_eq!(store.round_trips(), 3);
    // claim_outbox is not idempotent: one attempt only.
    let err = store.claim_outbox(0, 1_000, 10).await.unwrap_err();
    assert!(err.to_string().contains("429"), "{err}");
    assert_eq!(store.round_trips(), 4);
    // record_send with a final outcome is: three attempts.
    assert!(store.record_send(1, SendOutcome::DryRun, 0).await.is_err());
    assert_eq!(store.round_trips(), 7);
}

#[tokio::test]
async fn convex_a_client_error_is_not_retried() {
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let mock = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_json(serde_json::json!({"code": "BadJsonBody", "message": "nope"})),
        )
        .mount(&mock)
        .await;
    let store = ConvexStore::new(&mock.uri(), "k", convex_server::test_options()).unwrap();
    let err = store.inbox_depth().await.unwrap_err();
    assert!(err.to_string().contains("BadJsonBody"), "{err}");
    assert_eq!(store.round_trips(), 1);
}

/// What a turn wrote can be read back from the deployment with its HTTP API.
#[tokio::test]
async fn convex_state_can_be_read_back_over_the_http_api() {
    let store = convex_server::fresh_store().await;
    store
        .enqueue_inbound(delivery("t1", vec![message("p", "w1", "halo")]))
        .await
        .unwrap();
    let c = claim(&store, 1_000).await;
    store
        .commit_turn(commit_of(&c, &["Halo!"], 1_100))
        .await
        .unwrap();
    let conv = store
        .query(
            "conversations:get",
            serde_json::json!({"workspaceId": "default", "contactPhone": "+6281234567890"}),
        )
        .await
        .unwrap();
    assert_eq!(conv["version"], 1);
    assert_eq!(conv["flowState"], "qualifying");
    assert_eq!(conv["leadScore"], 5);
    let snapshot: serde_json::Value =
        serde_json::from_str(conv["snapshotJson"].as_str().unwrap()).unwrap();
    assert_eq!(snapshot["state"], "qualifying");
}

/// Why `begin_turn` and `commit_turn` may be retried: the same request sent twice (its first
/// answer lost) gets the same answer, while another request is still fenced.
#[tokio::test]
async fn convex_repeated_begin_and_commit_requests_get_the_same_answer() {
    let url = convex_server::fresh_deployment_url();
    let store = ConvexStore::connect_with(
        &url,
        convex_server::TEST_DEPLOY_KEY,
        convex_server::test_options(),
    )
    .await
    .unwrap();
    store
        .enqueue_inbound(delivery("t1", vec![message("p", "w1", "halo")]))
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let call = |kind: &'static str, path: &'static str, args: serde_json::Value| {
        let http = http.clone();
        let url = url.clone();
        async move {
            let v: serde_json::Value = http
                .post(format!("{url}/api/{kind}"))
                .header(
                    "Authorization",
                    format!("Convex {}", convex_server::TEST_DEPLOY_KEY),
                )
                .json(&serde_json::json!({"path": path, "args": args, "format": "json"}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(v["status"], "success", "{v}");
            v["value"].clone()
        }
    };
    let begin = |token: &str| {
        serde_json::json!({"workspaceId": "default", "contactPhone": "+6281234567890",
            "nowMs": 1_000, "leaseMs": 30_000, "leaseToken": token})
    };
    let first = call("mutation", "turns:begin", begin("tok-1")).await;
    assert_eq!(first["status"], "claimed");
    assert_eq!(
        call("mutation", "turns:begin", begin("tok-1")).await["status"],
        "claimed"
    );
    assert_eq!(
        call("mutation", "turns:begin", begin("tok-2")).await["status"],
        "busy"
    );
    let commit = |id: &str| {
        serde_json::json!({"commitId": id, "conversationId": first["conversationId"],
            "version": 0, "leaseToken": "tok-1", "consumedInboxIds": [1],
            "snapshotJson": "{}", "nowMs": 2_000, "outboxLeaseMs": 0,
            "messages": [{"direction": "outbound", "text": "Halo!", "metaJson": "{}",
                "send": {"phoneNumberId": "p", "to": "+6281234567890"}}]})
    };
    let applied = call("mutation", "turns:commit", commit("c-1")).await;
    assert_eq!(applied["status"], "committed");
    let replayed = call("mutation", "turns:commit", commit("c-1")).await;
    assert_eq!(replayed, applied);
    assert_eq!(
        call("mutation", "turns:commit", commit("c-2")).await["status"],
        "stale"
    );
    assert_eq!(store.conversation_outbox(&key()).await.unwrap().len(), 1);
}

/// Issue 17 item 4: under the lock file a dead run's leases are taken back at start, a turn
/// lease and a send lease of 10 minutes each, so the next turn and the send need not wait.
#[tokio::test]
async fn sqlite_a_dead_runs_turn_and_send_leases_are_taken_back() {
    const TEN_MINUTES: i64 = 600_000;
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("t.db")).await.unwrap();
    let enqueue = |k: &'static str, wamid: &'static str, text: &'static str| {
        store.enqueue_inbound(delivery(k, vec![message("p", wamid, text)]))
    };
    enqueue("k1", "w1", "halo kak").await.unwrap();
    let BeginTurn::Claimed(first) = store.begin_turn(&key(), 1_000, TEN_MINUTES).await.unwrap()
    else {
        panic!("expected a claim");
    };
    let mut commit = commit_of(&first, &["halo, dengan siapa?"], 1_100);
    commit.outbox_lease_ms = TEN_MINUTES;
    let done = store.commit_turn(commit).await.unwrap();
    assert!(matches!(done, CommitOutcome::Committed { .. }), "{done:?}");
    assert!(
        store
            .claim_outbox(2_000, 60_000, 10)
            .await
            .unwrap()
            .is_empty()
    );
    enqueue("k2", "w2", "aku rina, mau S2 di belanda")
        .await
        .unwrap();
    assert!(matches!(
        store.begin_turn(&key(), 2_000, TEN_MINUTES).await.unwrap(),
        BeginTurn::Claimed(_)
    ));
    assert!(matches!(
        store.begin_turn(&key(), 3_000, TEN_MINUTES).await.unwrap(),
        BeginTurn::Busy { .. }
    ));

    let taken = store.take_back_leases(3_000).await.unwrap();
    assert_eq!(taken, ari::store::sqlite::TakenBack { turns: 1, sends: 1 });
    assert!(matches!(
        store.begin_turn(&key(), 3_100, TEN_MINUTES).await.unwrap(),
        BeginTurn::Claimed(_)
    ));
    let due = store.claim_outbox(3_100, 60_000, 10).await.unwrap();
    assert_eq!(due.len(), 1, "the reply's send lease was not taken back");
}

/// Issue 17 item 1 (group commit): 64 concurrent webhooks, one of them a marker whose row
/// breaks a deferred foreign key, so the COMMIT of whatever batch it lands in fails. The
/// marker's caller gets an error, every caller answered Ok finds its row after a reopen, and
/// every caller answered with an error finds none (its whole batch was rolled back).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_failed_batch_commit_loses_no_acknowledged_webhook() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("contract.db");
    let store = Arc::new(SqliteStore::open(&path).await.unwrap());
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(
            "CREATE TABLE poison_parent (id INTEGER PRIMARY KEY);
             CREATE TABLE poison_child (parent INTEGER
                 REFERENCES poison_parent (id) DEFERRABLE INITIALLY DEFERRED);
             CREATE TRIGGER poison AFTER INSERT ON deliveries
                 WHEN NEW.idempotency_key = 'k-poison'
             BEGIN INSERT INTO poison_child (parent) VALUES (42); END;",
        )
        .unwrap();
    let keys: Vec<String> = (0..64)
        .map(|i| match i {
            40 => "k-poison".to_string(),
            i => format!("k{i}"),
        })
        .collect();
    let tasks: Vec<_> = keys
        .iter()
        .enumerate()
        .map(|(i, key)| {
            let (store, key) = (Arc::clone(&store), key.clone());
            tokio::spawn(async move {
                let d = delivery(&key, vec![message("p", &format!("w{i}"), "halo kak")]);
                store.enqueue_inbound(d).await
            })
        })
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    assert!(answers[40].is_err(), "the marker's batch committed");
    store.close().await.unwrap();
    drop(store);
    let reopened = SqliteStore::open(&path).await.unwrap();
    let rows = reopened.list_inbox(0, 1000).await.unwrap();
    let stored: std::collections::HashSet<_> =
        rows.iter().filter_map(|r| r.event.wamid()).collect();
    for (i, answer) in answers.iter().enumerate() {
        let wamid = format!("w{i}");
        match answer {
            Ok(out) => {
                assert_eq!(*out, accepted(1, 0, 0));
                assert!(stored.contains(wamid.as_str()), "acknowledged {wamid} lost");
            }
            Err(e) => {
                assert!(matches!(e, StoreError::Unavailable(_)), "{e}");
                assert!(
                    !stored.contains(wamid.as_str()),
                    "{wamid} failed but stored"
                );
            }
        }
    }
}
