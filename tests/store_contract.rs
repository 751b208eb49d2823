//! The store contract, written against the `Store` trait so every implementation (SQLite now,
//! Convex later) runs the same checks.

use std::sync::Arc;

use ari::inbox::{
    EnqueueOutcome, EventKind, InboundEvent, InboundMessage, InboxState, MessageType, NewDelivery,
    NewInboxItem, StatusUpdate,
};
use ari::store::sqlite::SqliteStore;
use ari::store::{Store, StoreError};

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
        idempotency_key: key.into(),
        event_header: Some("whatsapp.message.received".into()),
        request_id: "req".into(),
        received_at_ms: 1_763_604_907_000,
        items,
    }
}

async fn redelivery_is_a_duplicate(store: &dyn Store) {
    let d = delivery("k1", vec![message("p", "w1", "halo")]);
    assert_eq!(
        store.enqueue_inbound(d.clone()).await.unwrap(),
        EnqueueOutcome::Accepted {
            stored: 1,
            duplicates: 0
        }
    );
    assert_eq!(
        store.enqueue_inbound(d).await.unwrap(),
        EnqueueOutcome::DuplicateDelivery
    );
    assert_eq!(store.list_inbox(0, 100).await.unwrap().len(), 1);
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
            duplicates: 1
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
            duplicates: 0
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
            duplicates: 1
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

/// Runs one contract check on a fresh SQLite store in a temporary file.
async fn sqlite() -> (tempfile::TempDir, Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("contract.db"))
        .await
        .unwrap();
    (dir, Arc::new(store))
}

macro_rules! contract_on_sqlite {
    ($($name:ident),* $(,)?) => {
        mod sqlite_contract {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let (_dir, store) = sqlite().await;
                    super::$name(&*store).await;
                }
            )*
        }
    };
}

contract_on_sqlite!(
    redelivery_is_a_duplicate,
    a_message_under_another_key_is_stored_once,
    statuses_are_claimed_per_status_value,
    rows_come_back_in_arrival_order_with_paging,
    depth_counts_pending_rows_only,
    closed_store_is_unavailable,
);

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
