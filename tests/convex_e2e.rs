//! Black-box tests of `ari serve` on the Convex store: the real binary with ARI_CONVEX_URL and
//! ARI_CONVEX_DEPLOY_KEY pointing at the local Convex server (`tests/convex-server/`, Node
//! required: without it these tests fail and say so), signed fixtures in, replies at a mock
//! Kapso API, and what the service stored read back from the deployment over its HTTP API.
//!
//! Each test gets a deployment of its own on the shared local server (`{url}/i/<name>`).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ari::inbox::InboxState;
use ari::store::convex::ConvexStore;
use ari::store::{ConversationKey, Direction, OutboxRow, OutboxState, Store};
use common::convex as server;
use common::kapso_mock::MockKapso;
use common::{Options, Service, fixture, text_payload};
use reqwest::StatusCode;

const BUDI: &str = "+6281234567890";

fn key(phone: &str) -> ConversationKey {
    ConversationKey {
        workspace_id: "default".into(),
        contact_phone: phone.into(),
    }
}

/// `ari serve` on the Convex deployment at `url`, replying through `mock`.
fn serve_on(url: &str, mock: &MockKapso) -> Service {
    Service::spawn_with(Options {
        kapso: Some((mock.uri(), "test-kapso-key".into())),
        env: server::serve_env(url),
        ..Options::default()
    })
}

/// Waits (up to 60 s) until no inbox row of the deployment is pending; returns the rows.
async fn wait_processed(store: &ConvexStore) -> Vec<ari::inbox::InboxRow> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let rows = store.list_inbox(0, 10_000).await.expect("list inbox");
        if rows.iter().all(|r| r.state != InboxState::Pending) {
            return rows;
        }
        assert!(Instant::now() < deadline, "inbox still pending after 60 s");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Waits until the deployment's outbox rows of `phone` are all delivered (no `pending` row),
/// so their `record_send` round trips have happened.
async fn wait_delivered(store: &ConvexStore, phone: &str) -> Vec<OutboxRow> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let rows = store
            .conversation_outbox(&key(phone))
            .await
            .expect("outbox");
        if !rows.is_empty() && rows.iter().all(|r| r.state != OutboxState::Pending) {
            return rows;
        }
        assert!(
            Instant::now() < deadline,
            "outbox of {phone} not delivered after 60 s"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn convex_a_text_gets_one_reply_and_the_state_reads_back() {
    let url = server::fresh_deployment_url();
    let mock = MockKapso::start().await;
    let svc = serve_on(&url, &mock);
    let c = reqwest::Client::new();
    let r = svc
        .post_signed(
            &c,
            &fixture("v2-text-received.json"),
            Some("whatsapp.message.received"),
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let replies = mock.wait_for(1).await;
    let store = server::store_at(&url).await;
    wait_processed(&store).await;
    let outbox = wait_delivered(&store, BUDI).await;
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].state, OutboxState::Sent);
    assert_eq!(mock.accepted().len(), 1, "{replies:#?}");
    assert_eq!(replies[0].to, "6281234567890");
    assert_eq!(
        outbox[0].kapso_message_id.as_deref(),
        Some(replies[0].message_id.as_str())
    );
    // The messages: the lead's text, then the reply (with Kapso's id once sent).
    let messages = store.conversation_messages(&key(BUDI)).await.unwrap();
    let directions: Vec<_> = messages.iter().map(|m| m.direction).collect();
    assert_eq!(directions, [Direction::Inbound, Direction::Outbound]);
    assert_eq!(messages[1].text.as_deref(), Some(replies[0].body.as_str()));
    assert_eq!(
        messages[1].wamid.as_deref(),
        Some(replies[0].message_id.as_str())
    );
    // The state, read with a raw internal query over the HTTP API.
    let conv = store
        .query(
            "conversations:get",
            serde_json::json!({"workspaceId": "default", "contactPhone": BUDI}),
        )
        .await
        .unwrap();
    assert_eq!(conv["version"], 1, "{conv}");
    assert!(conv["flowState"].is_string(), "{conv}");
    let snapshot: serde_json::Value =
        serde_json::from_str(conv["snapshotJson"].as_str().unwrap()).unwrap();
    assert_eq!(snapshot["stage"]["name"], conv["flowState"], "{snapshot}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn convex_a_batch_gets_one_reply_per_contact() {
    let url = server::fresh_deployment_url();
    let mock = MockKapso::start().await;
    let svc = serve_on(&url, &mock);
    let c = reqwest::Client::new();
    let r = svc
        .post_signed(
            &c,
            &fixture("v2-batch-received.json"),
            Some("whatsapp.message.received"),
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let replies = mock.wait_for(2).await;
    let store = server::store_at(&url).await;
    wait_processed(&store).await;
    let mut to: Vec<_> = mock.accepted().into_iter().map(|a| a.to).collect();
    to.sort();
    assert_eq!(to, ["6281987654321", "6285678901234"], "{replies:#?}");
    for phone in ["+6281987654321", "+6285678901234"] {
        assert_eq!(wait_delivered(&store, phone).await.len(), 1, "{phone}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn convex_after_a_consultant_answers_from_the_phone_the_bot_stays_silent() {
    let url = server::fresh_deployment_url();
    let mock = MockKapso::start().await;
    let svc = serve_on(&url, &mock);
    let store = server::store_at(&url).await;
    let c = reqwest::Client::new();
    svc.post_signed(
        &c,
        &text_payload(BUDI, "wamid.A1", "halo kak"),
        Some("whatsapp.message.received"),
        None,
    )
    .await;
    mock.wait_for(1).await;
    wait_processed(&store).await;
    svc.post_signed(
        &c,
        &fixture("v2-business-app-sent.json"),
        Some("whatsapp.message.sent"),
        None,
    )
    .await;
    wait_processed(&store).await;
    for (i, text) in ["nama saya Budi", "halo?", "kak?"].iter().enumerate() {
        svc.post_signed(
            &c,
            &text_payload(BUDI, &format!("wamid.A{}", i + 2), text),
            Some("whatsapp.message.received"),
            None,
        )
        .await;
        wait_processed(&store).await;
    }
    assert_eq!(
        store.conversation_outbox(&key(BUDI)).await.unwrap().len(),
        1,
        "the bot answered after the takeover"
    );
    assert_eq!(mock.accepted().len(), 1);
    // Every lead message is stored, and the takeover is in the state.
    let inbound = store
        .conversation_messages(&key(BUDI))
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.direction == Direction::Inbound)
        .count();
    assert_eq!(inbound, 4);
    let conv = store
        .query(
            "conversations:get",
            serde_json::json!({"workspaceId": "default", "contactPhone": BUDI}),
        )
        .await
        .unwrap();
    assert!(conv["handoffReason"].is_string(), "{conv}");
}

/// Two replicas on one deployment, every delivery posted to both at once: each message is
/// turned once and answered once; the version fence makes a losing commit write nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn convex_two_replicas_on_one_deployment_reply_once_per_message() {
    let url = server::fresh_deployment_url();
    let mock = MockKapso::start().await;
    let a = serve_on(&url, &mock);
    let b = serve_on(&url, &mock);
    let phones: Vec<String> = (0..6).map(|i| format!("+62812000000{i:02}")).collect();
    let c = reqwest::Client::new();
    for (i, phone) in phones.iter().enumerate() {
        let body = text_payload(phone, &format!("wamid.R{i}"), "halo kak, mau tanya kuliah");
        // The same delivery to both replicas at once: Kapso retrying on another replica.
        let idem = format!("idem-{i}");
        let (ra, rb) = tokio::join!(
            a.post_signed(&c, &body, Some("whatsapp.message.received"), Some(&idem)),
            b.post_signed(&c, &body, Some("whatsapp.message.received"), Some(&idem)),
        );
        assert_eq!(ra.status(), StatusCode::OK);
        assert_eq!(rb.status(), StatusCode::OK);
    }
    // The same message again under another key, to both: the per-message claim holds too.
    let body = text_payload(&phones[0], "wamid.R0", "halo kak, mau tanya kuliah");
    let (ra, rb) = tokio::join!(
        a.post_signed(
            &c,
            &body,
            Some("whatsapp.message.received"),
            Some("other-a")
        ),
        b.post_signed(
            &c,
            &body,
            Some("whatsapp.message.received"),
            Some("other-b")
        ),
    );
    assert_eq!((ra.status(), rb.status()), (StatusCode::OK, StatusCode::OK));

    mock.wait_for(phones.len()).await;
    let store = server::store_at(&url).await;
    let rows = wait_processed(&store).await;
    assert_eq!(rows.len(), phones.len(), "one inbox row per message");
    for phone in &phones {
        let outbox = wait_delivered(&store, phone).await;
        assert_eq!(outbox.len(), 1, "{phone}: one reply");
        let messages = store.conversation_messages(&key(phone)).await.unwrap();
        assert_eq!(
            messages.len(),
            2,
            "{phone}: one inbound, one reply: {messages:#?}"
        );
        let conv = store
            .query(
                "conversations:get",
                serde_json::json!({"workspaceId": "default", "contactPhone": phone}),
            )
            .await
            .unwrap();
        assert_eq!(conv["version"], 1, "{phone}: one commit: {conv}");
    }
    // Give a late duplicate turn a chance to show up, then count Kapso's sends.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let to: BTreeSet<_> = mock.accepted().into_iter().map(|a| a.to).collect();
    assert_eq!(mock.accepted().len(), phones.len(), "one reply per message");
    assert_eq!(to.len(), phones.len());
    // Both replicas worked against the deployment (each stored or turned something).
    let calls = server::calls(&url).await;
    assert_eq!(
        calls.get("turns:commit=>committed"),
        Some(&(phones.len() as u64)),
        "{calls:#?}"
    );

    // Contention: a contact's next two messages reach the two replicas at once, so both
    // replicas signal a turn for the same conversation. The lease lets one in at a time, the
    // fence refuses a commit on a moved version: every turn commits once and is answered once.
    for (i, phone) in phones.iter().enumerate().take(3) {
        let one = text_payload(phone, &format!("wamid.S{i}a"), "saya mau S2");
        let two = text_payload(phone, &format!("wamid.S{i}b"), "ke Australia");
        let (ra, rb) = tokio::join!(
            a.post_signed(&c, &one, Some("whatsapp.message.received"), None),
            b.post_signed(&c, &two, Some("whatsapp.message.received"), None),
        );
        assert_eq!((ra.status(), rb.status()), (StatusCode::OK, StatusCode::OK));
    }
    wait_processed(&store).await;
    let mut replies = 0;
    for phone in phones.iter().take(3) {
        let outbox = wait_delivered(&store, phone).await;
        let messages = store.conversation_messages(&key(phone)).await.unwrap();
        let inbound: Vec<_> = messages
            .iter()
            .filter(|m| m.direction == Direction::Inbound)
            .filter_map(|m| m.wamid.clone())
            .collect();
        assert_eq!(
            inbound.len(),
            3,
            "{phone}: each message stored once: {inbound:?}"
        );
        let conv = store
            .query(
                "conversations:get",
                serde_json::json!({"workspaceId": "default", "contactPhone": phone}),
            )
            .await
            .unwrap();
        let version = conv["version"].as_u64().unwrap();
        // One reply per committed turn: no commit was applied twice.
        assert_eq!(outbox.len() as u64, version, "{phone}: {outbox:#?}");
        assert!((2..=3).contains(&version), "{phone}: {conv}");
        replies += outbox.len();
    }
    let expected = phones.len() + replies - 3;
    let deadline = Instant::now() + Duration::from_secs(30);
    while mock.accepted().len() < expected {
        assert!(Instant::now() < deadline, "replies missing");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(mock.accepted().len(), expected, "each reply sent once");
}

/// The round trips of an inbound text message, end to end through `ari serve`, counted at the
/// local Convex server per function path (its `_stats` hook): per message one `inbox:enqueue`
/// (ingress), one claiming `turns:begin` and one `turns:commit` (worker), one
/// `outbox:recordSend` (sender) = 4. Calls that are not per message are left out and named:
/// `health:ping` (the start-up key check), `leases:takeBack` (the start's take-back of this
/// replica's leases, issue 17 item 4), `worker:due` (the due loop's poll, issue 17 item 3),
/// `knowledge:list` (the knowledge read at start), and a `turns:begin` that found nothing to
/// do (`idle`), which only a due poll overlapping a turn causes (at most one per poll). The
/// passes the due loop calls only when it reports work (`outbox:claim`,
/// `inbox:pendingConversations`, `appointments:upcoming`, `inbox:queueDueFollowups`) must not
/// be called at all here: a text's reply goes straight from its commit to the sender.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn convex_an_inbound_text_costs_at_most_four_round_trips_end_to_end() {
    let url = server::fresh_deployment_url();
    let mock = MockKapso::start().await;
    let svc = serve_on(&url, &mock);
    let store = server::store_at(&url).await;
    let c = reqwest::Client::new();
    let texts = 3u64;
    for i in 0..texts {
        let phone = format!("+62813000000{i:02}");
        svc.post_signed(
            &c,
            &text_payload(&phone, &format!("wamid.T{i}"), "halo"),
            Some("whatsapp.message.received"),
            None,
        )
        .await;
        mock.wait_for(i as usize + 1).await;
        wait_delivered(&store, &phone).await;
    }
    let calls = server::calls(&url).await;
    let n = |path: &str| calls.get(path).copied().unwrap_or(0);
    let background = [
        "health:ping",
        // The start's take-back of this replica's leases (issue 17 item 4).
        "leases:takeBack",
        // The due loop's poll (issue 17 item 3).
        "worker:due",
        // The knowledge read at start.
        "knowledge:list",
        // Reads of this test, not of the service.
        "inbox:list",
        "conversations:outbox",
    ];
    for pass in [
        "outbox:claim",
        "inbox:pendingConversations",
        "appointments:upcoming",
        "inbox:queueDueFollowups",
    ] {
        assert_eq!(n(pass), 0, "{pass} called with nothing due: {calls:#?}");
    }
    let per_message: u64 = calls
        .iter()
        .filter(|(path, _)| !path.contains("=>") && !background.contains(&path.as_str()))
        .map(|(_, count)| count)
        .sum::<u64>()
        - n("turns:begin=>idle");
    assert_eq!(n("inbox:enqueue"), texts, "{calls:#?}");
    assert_eq!(n("turns:begin=>claimed"), texts, "{calls:#?}");
    assert_eq!(n("turns:commit=>committed"), texts, "{calls:#?}");
    assert_eq!(n("outbox:recordSend"), texts, "{calls:#?}");
    assert!(
        n("turns:begin=>idle") <= n("worker:due"),
        "idle begins only come from polls: {calls:#?}"
    );
    println!(
        "convex calls per inbound text: {:.2} ({per_message} for {texts} texts)",
        per_message as f64 / texts as f64
    );
    assert!(
        per_message <= 4 * texts,
        "{per_message} round trips for {texts} texts: {calls:#?}"
    );
    // The service exports its own count.
    let metrics = c
        .get(svc.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("ari_store_round_trips_total{store=\"convex\"}")),
        "{metrics}"
    );
}

/// The same measure in one process, with no background poll at all: `ari simulate`'s pipeline
/// (signed webhook through the real router, the real turn, the dry-run sender) on a Convex
/// store, the count taken from [`Store::round_trips`] (`store_round_trips` per turn in
/// `ari simulate --json`). A text turn costs exactly 4; the SQLite store counts the same.
/// The dialogue books a slot: the appointment reads back from the deployment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn convex_a_simulated_dialogue_books_and_counts_round_trips_like_sqlite() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script =
        ari::simulate::Script::load(&root.join("tests/fixtures/dialogues/hot-lead-books.json"))
            .unwrap();
    let flow_dir = root.join("state-machines");
    let run = |store: Arc<dyn Store>| {
        let script = script.clone();
        let flow_dir = flow_dir.clone();
        async move {
            let form: BTreeMap<String, String> = script
                .contact
                .form_answers
                .iter()
                .map(|(k, v)| {
                    let s = match v {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (k.clone(), s)
                })
                .collect();
            let start = script.now.with_timezone(&chrono::Utc);
            let mut sim = ari::simulate::Simulator::with_store(
                store,
                &flow_dir,
                &script.contact.phone,
                script.contact.name.clone(),
                form,
                start,
            )
            .await
            .unwrap();
            let mut turns = Vec::new();
            for (i, text) in script.lead_texts().iter().enumerate() {
                let at = start + chrono::Duration::minutes(i as i64);
                turns.push(sim.say(text, at).await.unwrap());
            }
            let outcome = sim.outcome().await.unwrap();
            (turns, outcome)
        }
    };
    let url = server::fresh_deployment_url();
    let convex = Arc::new(server::store_at(&url).await);
    let (turns, outcome) = run(convex.clone()).await;
    let failures = ari::simulate::check(&script.expect, &outcome);
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(outcome.appointments, 1);

    // The first turn is a plain text: enqueue, begin, commit, record the send.
    assert_eq!(turns[0].replies.len(), 1);
    assert_eq!(turns[0].store_round_trips, 4, "{:#?}", turns[0]);
    for t in turns.iter().filter(|t| t.replies.len() == 1) {
        assert!(t.store_round_trips >= 4, "{t:#?}");
    }

    // Both stores count the same operations.
    let dir = tempfile::tempdir().unwrap();
    let sqlite: Arc<dyn Store> = Arc::new(
        ari::store::sqlite::SqliteStore::open(&dir.path().join("s.db"))
            .await
            .unwrap(),
    );
    let (sqlite_turns, _) = run(sqlite).await;
    let counts = |t: &[ari::simulate::TurnRecord]| -> Vec<u64> {
        t.iter().map(|t| t.store_round_trips).collect()
    };
    assert_eq!(counts(&turns), counts(&sqlite_turns));

    // The appointment, read back with a raw internal query over the HTTP API.
    let phone = ari::ingress::events::normalize_e164(&script.contact.phone).unwrap();
    let appointments = convex
        .query(
            "appointments:forConversation",
            serde_json::json!({"workspaceId": "default", "contactPhone": phone}),
        )
        .await
        .unwrap();
    let appointments = appointments.as_array().unwrap();
    assert_eq!(appointments.len(), 1, "{appointments:#?}");
    assert_eq!(appointments[0]["status"], "booked");
    assert_eq!(
        appointments[0]["slotId"].as_str(),
        Some(outcome.booked[0].slot_id.as_str())
    );
}

/// A wrong deploy key stops `ari serve` at start with a message naming the deployment and the
/// variable to fix; so does a deployment nobody answers at.
#[tokio::test]
async fn convex_a_bad_key_or_no_deployment_stops_the_start() {
    let url = server::fresh_deployment_url();
    let closed = {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        format!("http://127.0.0.1:{port}")
    };
    for (url, key, expected) in [
        (url.as_str(), "wrong-key", "ARI_CONVEX_DEPLOY_KEY"),
        (closed.as_str(), server::TEST_DEPLOY_KEY, "cannot connect"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let flow_dir = dir.path().join("state-machines");
        common::copy_dir(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("state-machines"),
            &flow_dir,
        );
        let out = Command::new(env!("CARGO_BIN_EXE_ari"))
            .args(["serve", "--bind", "127.0.0.1:0"])
            .arg("--flow-dir")
            .arg(&flow_dir)
            .arg("--database")
            .arg(dir.path().join("unused.db"))
            .env("ARI_WEBHOOK_SECRET", common::SECRET)
            .env("ARI_CONVEX_URL", url)
            .env("ARI_CONVEX_DEPLOY_KEY", key)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{url}: started anyway: {stderr}");
        assert!(
            stderr.contains(url),
            "{url}: the URL is not named: {stderr}"
        );
        assert!(stderr.contains(expected), "{url}: {stderr}");
        assert!(!stderr.contains("listening"), "{stderr}");
    }
    // Half a configuration is refused before any call.
    let out = Command::new(env!("CARGO_BIN_EXE_ari"))
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("ARI_WEBHOOK_SECRET", common::SECRET)
        .env("ARI_CONVEX_URL", &url)
        .env_remove("ARI_CONVEX_DEPLOY_KEY")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("ARI_CONVEX_DEPLOY_KEY is not"), "{stderr}");
}

/// During a Convex outage the webhook answers 503 (Kapso retries later) and nothing is lost: a
/// message accepted just before the outage and the one refused during it are both answered
/// once the deployment is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn convex_an_outage_gives_503_and_turns_resume_when_it_ends() {
    let url = server::fresh_deployment_url();
    let mock = MockKapso::start().await;
    // A long debounce: the first message's turn is due only after the outage began.
    let svc = Service::spawn_with(Options {
        kapso: Some((mock.uri(), "test-kapso-key".into())),
        env: server::serve_env(&url),
        debounce_ms: Some(1_000),
        ..Options::default()
    });
    let c = reqwest::Client::new();
    let first = text_payload(BUDI, "wamid.O1", "halo kak");
    let r = svc
        .post_signed(&c, &first, Some("whatsapp.message.received"), Some("o1"))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    server::set_outage(&url, true).await;
    let second = text_payload("+6281234500000", "wamid.O2", "halo juga");
    let r = svc
        .post_signed(&c, &second, Some("whatsapp.message.received"), Some("o2"))
        .await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let ready = c.get(svc.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    // Let the first message's turn come due and fail against the outage.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !svc.logs_text().contains("turn failed") {
        assert!(
            Instant::now() < deadline,
            "no failed turn: {}",
            svc.logs_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(mock.accepted().is_empty());
    server::set_outage(&url, false).await;
    // Kapso redelivers the refused message; the poll picks the pending one up again.
    let r = svc
        .post_signed(&c, &second, Some("whatsapp.message.received"), Some("o2"))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    mock.wait_for(2).await;
    let store = server::store_at(&url).await;
    wait_processed(&store).await;
    for phone in [BUDI, "+6281234500000"] {
        assert_eq!(wait_delivered(&store, phone).await.len(), 1, "{phone}");
    }
    assert_eq!(mock.accepted().len(), 2);
}

/// `worker:due` polls of an idle replica with the back-off ceiling `ceiling_s`: at 0 s, then
/// after 1, 2, 4, ... s (at most `ceiling_s` each), within `elapsed_s`.
fn scheduled_polls(elapsed_s: f64, ceiling_s: f64) -> u64 {
    let (mut at, mut wait, mut polls) = (0.0, 1.0_f64, 0);
    while at <= elapsed_s {
        polls += 1;
        at += wait;
        wait = (wait * 2.0).min(ceiling_s);
    }
    polls
}

/// Issue 17 item 3: an idle replica calls only `worker:due` (after the start's key check, lease
/// take-back and knowledge read), on the back-off schedule of its ceiling (set to 2 s here: polls at 0, 1,
/// 3, 5, ... s); `/readyz` and `/metrics` answer from the last calls without one of their own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn convex_an_idle_replica_polls_only_due_on_the_backoff_schedule() {
    let url = server::fresh_deployment_url();
    let mock = MockKapso::start().await;
    let svc = Service::spawn_with(Options {
        kapso: Some((mock.uri(), "test-kapso-key".into())),
        env: server::serve_env(&url),
        extra_args: vec!["--idle-poll-ceiling-ms".into(), "2000".into()],
        ..Options::default()
    });
    // The service is listening: its first poll has been made or is about to be.
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(9)).await;
    let calls = server::calls(&url).await;
    let elapsed = started.elapsed().as_secs_f64();
    let n = |path: &str| calls.get(path).copied().unwrap_or(0);
    let others: Vec<_> = calls
        .keys()
        .filter(|p| {
            ![
                "health:ping",
                "leases:takeBack",
                "knowledge:list",
                "worker:due",
            ]
            .contains(&p.as_str())
        })
        .collect();
    assert!(others.is_empty(), "idle calls besides the poll: {calls:#?}");
    assert_eq!(n("knowledge:list"), 1, "{calls:#?}");
    // Polls that drift late (a slow machine) make fewer, never more.
    let most = scheduled_polls(elapsed + 0.5, 2.0);
    let least = scheduled_polls((elapsed - 3.0).max(0.0), 2.0);
    let due = n("worker:due");
    println!(
        "idle {elapsed:.1} s at a 2 s ceiling: {due} worker:due calls (schedule {least}..={most})"
    );
    assert!(
        (least..=most).contains(&due),
        "{due} polls in {elapsed:.1} s, schedule {least}..={most}: {calls:#?}"
    );
    // Probes cost no call: the due loop's calls keep `/readyz` ready and the depth fresh.
    let c = reqwest::Client::new();
    for _ in 0..20 {
        let ready = c.get(svc.url("/readyz")).send().await.unwrap();
        assert_eq!(ready.status(), StatusCode::OK);
        let metrics = c.get(svc.url("/metrics")).send().await.unwrap();
        assert!(metrics.text().await.unwrap().contains("ari_inbox_depth 0"));
    }
    let after = server::calls(&url).await;
    let probe_calls = ["health:checkWritable", "inbox:depth"]
        .iter()
        .map(|p| after.get(*p).copied().unwrap_or(0))
        .sum::<u64>();
    assert_eq!(probe_calls, 0, "{after:#?}");
}

/// Issue 17 item 3, the figures of docs/BENCHMARKS.md: at the default ceiling (60 s), the calls
/// an idle replica makes in its first minute and in its second (the steady state), then the
/// calls of five texts spread over half a minute. Prints them and the monthly totals they
/// give (30 days; 1,000 messages a day). Takes about 2.5 minutes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn convex_calls_per_idle_minute_at_the_default_ceiling() {
    let url = server::fresh_deployment_url();
    let mock = MockKapso::start().await;
    let svc = serve_on(&url, &mock);
    let total = |calls: &BTreeMap<String, u64>| {
        calls
            .iter()
            .filter(|(p, _)| !p.contains("=>"))
            .map(|(_, n)| n)
            .sum::<u64>()
    };
    tokio::time::sleep(Duration::from_secs(60)).await;
    let first = total(&server::calls(&url).await);
    tokio::time::sleep(Duration::from_secs(60)).await;
    let second_calls = server::calls(&url).await;
    let idle_minute = total(&second_calls) - first;
    println!(
        "idle replica, default ceiling: {first} calls in minute 1 (start-up and back-off), {idle_minute} in minute 2: {second_calls:?}"
    );
    assert!(idle_minute <= 2, "{idle_minute} calls in an idle minute");
    let store = server::store_at(&url).await;
    let before = server::calls(&url).await;
    let c = reqwest::Client::new();
    let texts = 5u64;
    for i in 0..texts {
        let phone = format!("+62814000000{i:02}");
        svc.post_signed(
            &c,
            &text_payload(&phone, &format!("wamid.M{i}"), "halo kak"),
            Some("whatsapp.message.received"),
            None,
        )
        .await;
        tokio::time::sleep(Duration::from_secs(6)).await;
    }
    mock.wait_for(texts as usize).await;
    let after = server::calls(&url).await;
    let reads = ["conversations:outbox", "inbox:list"];
    let delta =
        |path: &str| after.get(path).copied().unwrap_or(0) - before.get(path).copied().unwrap_or(0);
    let service_calls: u64 = after
        .keys()
        .filter(|p| !p.contains("=>") && !reads.contains(&p.as_str()))
        .map(|p| delta(p))
        .sum();
    let polls = delta("worker:due");
    let per_message = (service_calls - polls) as f64 / texts as f64;
    println!(
        "{texts} texts in 30 s: {service_calls} calls, {polls} of them worker:due: {per_message:.2} calls per message"
    );
    let month_idle = idle_minute * 60 * 24 * 30;
    let month_busy = month_idle as f64 + per_message * 1_000.0 * 30.0;
    println!(
        "per month (30 days): idle {month_idle} calls; at 1,000 messages a day {month_busy:.0} calls"
    );
    assert!(per_message <= 4.0, "{per_message} calls per message");
    drop(store);
}
