//! The store round-trip budget of an inbound text message (DESIGN.md, `src/worker/turn.rs`):
//! `enqueue_inbound`, `begin_turn`, `commit_turn`, `record_send`, one each. Counted with a
//! wrapper around the SQLite store under the in-process service; `benches/round_trips.rs`
//! prints the same counts for a whole dialogue.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use ari::store::sqlite::SqliteStore;
use ari::store::{ConversationKey, OutboxState, Store};
use common::kapso_mock::MockKapso;
use common::pipeline::{Pipeline, PipelineOptions};
use common::store_wrap::WrappedStore;
use common::text_payload;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_message_costs_four_store_round_trips() {
    const LEADS: u64 = 10;
    let mock = MockKapso::start().await;
    let dir = tempfile::tempdir().unwrap();
    let inner: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.path().join("ari.db")).await.unwrap());
    let wrapped = WrappedStore::new(Arc::clone(&inner));
    let p = Pipeline::start(
        wrapped.clone(),
        PipelineOptions {
            kapso_url: Some(mock.uri()),
            // The polls as in `ari serve`; they are not counted below.
            worker_poll: Duration::from_secs(2),
            outbox_poll: Duration::from_secs(1),
            ..PipelineOptions::default()
        },
    )
    .await;
    let c = reqwest::Client::new();
    let phones: Vec<String> = (0..LEADS).map(|i| format!("+6281444444{i:03}")).collect();
    for (i, phone) in phones.iter().enumerate() {
        let body = text_payload(phone, &format!("wamid.B{i}"), "halo kak");
        let status = p.post(&c, &body, &format!("b-{i}")).await.unwrap();
        assert!(status.is_success());
    }
    // Wait through the unwrapped store, so that waiting costs no counted call.
    let deadline = Instant::now() + Duration::from_secs(60);
    'wait: loop {
        assert!(Instant::now() < deadline, "replies not sent in 60 s");
        for phone in &phones {
            let key = ConversationKey {
                workspace_id: "default".into(),
                contact_phone: phone.clone(),
            };
            let rows = inner.conversation_outbox(&key).await.unwrap();
            if rows.is_empty() || rows.iter().any(|r| r.state == OutboxState::Pending) {
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue 'wait;
            }
        }
        break;
    }
    let calls = wrapped.calls();
    let n = |op: &str| calls.get(op).copied().unwrap_or(0);
    assert_eq!(n("enqueue_inbound"), LEADS, "{calls:?}");
    assert_eq!(n("commit_turn"), LEADS, "{calls:?}");
    assert_eq!(n("record_send"), LEADS, "{calls:?}");
    // A poll that finds a conversation's row while its turn is running asks for one more look,
    // which costs a `begin_turn` that finds nothing: allowed, at most one per message here.
    assert!((LEADS..=2 * LEADS).contains(&n("begin_turn")), "{calls:?}");
    let per_message = calls
        .iter()
        .filter(|(op, _)| !["pending_conversations", "claim_outbox"].contains(op))
        .map(|(_, n)| *n)
        .sum::<u64>() as f64
        / LEADS as f64;
    assert!(
        per_message <= 5.0,
        "{per_message} round trips per message: {calls:?}"
    );
    assert_eq!(mock.accepted().len(), LEADS as usize);
    p.stop().await;
}
