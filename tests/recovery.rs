//! Recovery in seconds (issue 17 item 4). SQLite: `ari serve` holds `<database>.lock`, a
//! second `ari serve` on the same file is refused, and the leases a killed run left (10
//! minutes long here) are taken back at start, logged and counted, so the reply does not wait
//! for them. Convex: a replica restarted under the same `--replica-id` releases the leases
//! stamped with it at start (another replica's stay).

mod common;

use std::process::{Command, Stdio};

use ari::inbox::{EventKind, InboundEvent, InboundMessage, InboxState, MessageType};
use ari::inbox::{NewDelivery, NewInboxItem};
use ari::store::sqlite::SqliteStore;
use ari::store::{BeginTurn, ConversationKey, OutboxState, Store};
use common::kapso_mock::MockKapso;
use common::{Options, SECRET, Service, text_payload};

const RINA: &str = "+6281234567801";
const TEN_MINUTES_MS: i64 = 600_000;

fn with_kapso(mock: &MockKapso) -> Options {
    Options {
        kapso: Some((mock.uri(), "test-kapso-key".into())),
        ..Options::default()
    }
}

/// An inbound text from RINA, as the ingress stores it.
fn inbound(wamid: &str, text: &str) -> NewDelivery {
    inbound_from(RINA, wamid, text)
}

/// An inbound text from `phone`, as the ingress stores it.
fn inbound_from(phone: &str, wamid: &str, text: &str) -> NewDelivery {
    let mut event = InboundEvent::unknown("whatsapp.message.received");
    event.kind = EventKind::Message;
    event.phone_number_id = Some("pnid-1".into());
    event.contact_phone = Some(phone.into());
    event.message = Some(InboundMessage {
        wamid: wamid.into(),
        timestamp: None,
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
    NewDelivery {
        body_hash: None,
        idempotency_key: format!("key-{wamid}"),
        event_header: Some("whatsapp.message.received".into()),
        request_id: "req".into(),
        received_at_ms: ari::clock::now_ms(),
        items: vec![NewInboxItem {
            raw: serde_json::json!({"id": wamid, "text": {"body": text}}),
            event,
            workspace_id: Some("default".into()),
            state: InboxState::Pending,
        }],
        original_body: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_sigkill_mid_turn_the_restart_takes_the_ten_minute_lease_back_and_replies() {
    let mock = MockKapso::start().await;
    let mut first = Service::spawn_with(with_kapso(&mock));
    let dir = std::sync::Arc::clone(&first.dir);
    let db = first.db_path.clone();
    first.kill();
    // What the killed run left: a stored message whose turn it had begun, under a 10-minute
    // lease (a turn in flight at the SIGKILL).
    let store = SqliteStore::open(&db).await.unwrap();
    store
        .enqueue_inbound(inbound(
            "wamid.L1",
            "halo kak, aku rina mau kuliah S2 di belanda",
        ))
        .await
        .unwrap();
    let key = ConversationKey {
        workspace_id: "default".into(),
        contact_phone: RINA.into(),
    };
    let begun = store
        .begin_turn(&key, ari::clock::now_ms(), TEN_MINUTES_MS)
        .await
        .unwrap();
    assert!(matches!(begun, BeginTurn::Claimed(_)), "{begun:?}");
    store.close().await.unwrap();

    let svc = Service::spawn_with(Options {
        dir: Some(dir),
        ..with_kapso(&mock)
    });
    assert!(svc.wait_for_log("leases taken back"), "{}", svc.logs_text());
    let line = svc
        .logs_text()
        .lines()
        .find(|l| l.contains("leases taken back"))
        .map(str::to_string)
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["turns"], 1, "{line}");
    let metrics = reqwest::get(svc.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("ari_leases_taken_back_total{kind=\"turn\"} 1"),
        "{metrics}"
    );
    // The reply arrives without waiting out the 10-minute lease (the wait is bounded at 60 s).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let outbox = loop {
        let rows = svc.outbox_settled(RINA).await;
        if !rows.is_empty() || std::time::Instant::now() > deadline {
            break rows;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(
        outbox.iter().any(|r| r.state == OutboxState::Sent),
        "no reply was sent: {outbox:#?}"
    );
    assert!(!mock.accepted().is_empty());
}

#[tokio::test]
async fn a_second_serve_on_the_same_database_is_refused_and_a_killed_one_frees_the_file() {
    let mut first = Service::spawn();
    let output = Command::new(env!("CARGO_BIN_EXE_ari"))
        .arg("serve")
        .args(["--bind", "127.0.0.1:0"])
        .arg("--database")
        .arg(&first.db_path)
        .arg("--flow-dir")
        .arg(&first.flow_dir)
        .env_remove("ARI_CONVEX_URL")
        .env_remove("ARI_CONVEX_DEPLOY_KEY")
        .env("ARI_WEBHOOK_SECRET", SECRET)
        .stdin(Stdio::null())
        .output()
        .expect("running a second ari serve");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "the second serve started: {stderr}"
    );
    assert!(
        stderr.contains("another `ari serve` is running on"),
        "{stderr}"
    );
    // The first one is untouched and still answers; `sqlite3`-style readers still open the file.
    let c = reqwest::Client::new();
    first
        .post_signed(
            &c,
            &text_payload(RINA, "wamid.S1", "halo"),
            Some("whatsapp.message.received"),
            Some("key-s1"),
        )
        .await;
    assert!(!first.wait_processed().await.is_empty());
    // After a SIGKILL the kernel drops the lock: a restart on the same file starts.
    let dir = std::sync::Arc::clone(&first.dir);
    first.kill();
    let again = Service::spawn_with(Options {
        dir: Some(dir),
        ..Options::default()
    });
    assert!(
        again.wait_for_log("leases taken back"),
        "{}",
        again.logs_text()
    );
}

fn key_of(phone: &str) -> ConversationKey {
    ConversationKey {
        workspace_id: "default".into(),
        contact_phone: phone.into(),
    }
}

/// Issue 17 item 4, Convex: replica `r1` was killed mid-turn, leaving its 10-minute turn lease
/// on Rina's conversation (stamped `r1`); replica `r2`, alive, holds another contact's. `r1`
/// restarted with `--replica-id r1` takes its own lease back at start (log line, metric) and
/// Rina's reply arrives without waiting the 10 minutes; `r2`'s lease stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn convex_a_restart_under_the_same_replica_id_takes_its_lease_back_and_replies() {
    const BUDI: &str = "+6281234567802";
    let url = common::convex::fresh_deployment_url();
    let mock = MockKapso::start().await;
    let now = ari::clock::now_ms();
    for (replica, phone, wamid) in [("r1", RINA, "wamid.C1"), ("r2", BUDI, "wamid.C2")] {
        let store = common::convex::store_at(&url)
            .await
            .with_replica_id(replica);
        store
            .enqueue_inbound(inbound_from(
                phone,
                wamid,
                "halo kak, mau kuliah S2 di belanda",
            ))
            .await
            .unwrap();
        let begun = store
            .begin_turn(&key_of(phone), now, TEN_MINUTES_MS)
            .await
            .unwrap();
        assert!(matches!(begun, BeginTurn::Claimed(_)), "{begun:?}");
    }
    let svc = Service::spawn_with(Options {
        env: common::convex::serve_env(&url),
        extra_args: vec!["--replica-id".into(), "r1".into()],
        ..with_kapso(&mock)
    });
    assert!(svc.wait_for_log("leases taken back"), "{}", svc.logs_text());
    let line = svc
        .logs_text()
        .lines()
        .find(|l| l.contains("leases taken back"))
        .map(str::to_string)
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(
        (v["turns"].as_u64(), v["sends"].as_u64()),
        (Some(1), Some(0)),
        "{line}"
    );
    let metrics = reqwest::get(svc.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("ari_leases_taken_back_total{kind=\"turn\"} 1"),
        "{metrics}"
    );
    // Rina's reply comes well within the 10-minute lease (wait_for gives up after 60 s).
    let replies = mock.wait_for(1).await;
    let rina = RINA.trim_start_matches('+');
    assert!(replies.iter().all(|r| r.to == rina), "{replies:#?}");
    // r2 is alive: its lease on Budi's conversation was not taken.
    let reader = common::convex::store_at(&url).await;
    let busy = reader
        .begin_turn(&key_of(BUDI), ari::clock::now_ms(), 1_000)
        .await
        .unwrap();
    assert!(matches!(busy, BeginTurn::Busy { .. }), "{busy:?}");
}
