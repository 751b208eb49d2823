//! Store round trips per inbound message, SQLite store: the service runs in this process
//! (`tests/common/pipeline.rs`: the real router, worker and outbox sender) over a wrapper of
//! the store that counts every call (`tests/common/store_wrap.rs`; one call is one SQLite
//! transaction on the store's connection thread, the unit a Convex mutation would replace).
//! Replies go to a mock Kapso on loopback.
//!
//! Two workloads: N first messages from N new leads (a greeting each), and the hot-lead
//! dialogue of `tests/fixtures/dialogues/hot-lead-books.json` (15 messages, qualifying,
//! booking, handoff with a notice to the consultant), one message at a time.
//! The polls (worker recovery every 2 s, outbox every 1 s, as in `ari serve`) run on a clock,
//! not per message: they are listed apart.
//!
//! `cargo bench --bench round_trips`; knob: ARI_BENCH_LEADS (default 200).

#[path = "../tests/common/mod.rs"]
mod common;
mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ari::store::sqlite::SqliteStore;
use ari::store::{ConversationKey, OutboxState, Store};
use common::kapso_mock::MockKapso;
use common::pipeline::{Pipeline, PipelineOptions};
use common::store_wrap::WrappedStore;
use support::{env_num, print_machine};

const POLLS: [&str; 2] = ["pending_conversations", "claim_outbox"];

fn key(phone: &str) -> ConversationKey {
    ConversationKey {
        workspace_id: "default".into(),
        contact_phone: phone.into(),
    }
}

/// Waits until every contact has at least `replies[i]` outbox rows, none pending.
async fn wait_sent(store: &dyn Store, contacts: &[(String, usize)]) {
    let deadline = Instant::now() + Duration::from_secs(120);
    'outer: loop {
        assert!(Instant::now() < deadline, "replies not sent in 120 s");
        for (phone, at_least) in contacts {
            let rows = store
                .conversation_outbox(&key(phone))
                .await
                .unwrap_or_default();
            if rows.len() < *at_least || rows.iter().any(|r| r.state == OutboxState::Pending) {
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue 'outer;
            }
        }
        let pending = store
            .list_inbox(0, 100_000)
            .await
            .map(|r| r.iter().any(|r| r.state == ari::inbox::InboxState::Pending))
            .unwrap_or(true);
        if !pending {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn start(
    dir: &tempfile::TempDir,
    mock: &MockKapso,
) -> (Arc<WrappedStore>, Arc<dyn Store>, Pipeline) {
    let inner: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&dir.path().join("ari.db"))
            .await
            .expect("store"),
    );
    let wrapped = WrappedStore::new(Arc::clone(&inner));
    let p = Pipeline::start(
        wrapped.clone(),
        PipelineOptions {
            kapso_url: Some(mock.uri()),
            debounce: Duration::from_millis(50),
            worker_poll: Duration::from_secs(2),
            outbox_poll: Duration::from_secs(1),
            ..PipelineOptions::default()
        },
    )
    .await;
    (wrapped, inner, p)
}

fn per_message(calls: &BTreeMap<&'static str, u64>, messages: u64) -> BTreeMap<&'static str, f64> {
    calls
        .iter()
        .filter(|(op, _)| !POLLS.contains(op))
        .map(|(op, n)| (*op, *n as f64 / messages as f64))
        .collect()
}

#[tokio::main]
async fn main() {
    print_machine("round_trips");
    let leads = env_num("ARI_BENCH_LEADS", 200);
    let client = reqwest::Client::new();

    // 1. First messages of new leads.
    let mock = MockKapso::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (wrapped, inner, p) = start(&dir, &mock).await;
    let t = Instant::now();
    let mut contacts = Vec::new();
    for i in 0..leads {
        let phone = format!("+62811{i:08}");
        let body = common::text_payload(&phone, &format!("wamid.RT{i}"), "halo kak");
        let status = p
            .post(&client, &body, &format!("rt-{i}"))
            .await
            .expect("POST");
        assert!(status.is_success());
        contacts.push((phone, 1));
    }
    wait_sent(inner.as_ref(), &contacts).await;
    let greet_secs = t.elapsed().as_secs_f64();
    let greet_calls = wrapped.calls();
    let greet_replies = mock.accepted().len();
    p.stop().await;

    // 2. The hot-lead dialogue, one message at a time.
    let script: serde_json::Value = serde_json::from_slice(
        &std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/dialogues/hot-lead-books.json"
        ))
        .expect("script"),
    )
    .expect("script json");
    let lead = script["contact"]["phone"]
        .as_str()
        .expect("phone")
        .to_string();
    let turns = script["turns"].as_array().expect("turns").clone();
    let mock2 = MockKapso::start().await;
    let dir2 = tempfile::tempdir().expect("tempdir");
    let (wrapped2, inner2, p2) = start(&dir2, &mock2).await;
    let t = Instant::now();
    let mut sent = 0;
    for (i, text) in turns.iter().enumerate() {
        let body = common::text_payload(&lead, &format!("wamid.D{i}"), text.as_str().unwrap_or(""));
        let status = p2
            .post(&client, &body, &format!("d-{i}"))
            .await
            .expect("POST");
        assert!(status.is_success());
        wait_sent(inner2.as_ref(), &[(lead.clone(), sent + 1)]).await;
        sent = inner2
            .conversation_outbox(&key(&lead))
            .await
            .map(|r| r.len())
            .unwrap_or(sent + 1);
    }
    let dialogue_secs = t.elapsed().as_secs_f64();
    let dialogue_calls = wrapped2.calls();
    let dialogue_replies = mock2.accepted().len();
    p2.stop().await;

    let a = per_message(&greet_calls, leads);
    let b = per_message(&dialogue_calls, turns.len() as u64);
    let mut ops: Vec<&str> = a.keys().chain(b.keys()).copied().collect();
    ops.sort();
    ops.dedup();
    println!();
    println!(
        "{:<30} | {:>22} | {:>22}",
        "store call (per message)",
        format!("{leads} first messages"),
        format!("dialogue, {} messages", turns.len())
    );
    for op in &ops {
        println!(
            "{op:<30} | {:>22.2} | {:>22.2}",
            a.get(op).copied().unwrap_or(0.0),
            b.get(op).copied().unwrap_or(0.0)
        );
    }
    println!(
        "{:<30} | {:>22.2} | {:>22.2}",
        "TOTAL",
        a.values().sum::<f64>(),
        b.values().sum::<f64>()
    );
    println!(
        "{:<30} | {:>22.2} | {:>22.2}",
        "replies sent per message",
        greet_replies as f64 / leads as f64,
        dialogue_replies as f64 / turns.len() as f64
    );
    for op in POLLS {
        println!(
            "{:<30} | {:>22} | {:>22}",
            format!("{op} (poll)"),
            format!(
                "{} in {greet_secs:.1} s",
                greet_calls.get(op).copied().unwrap_or(0)
            ),
            format!(
                "{} in {dialogue_secs:.1} s",
                dialogue_calls.get(op).copied().unwrap_or(0)
            )
        );
    }
}
