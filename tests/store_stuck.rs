//! Issue 16 item 8, fault test: another connection holds the SQLite write lock
//! (`BEGIN IMMEDIATE`) for 15 s, many times `--store-deadline-ms`. Every webhook posted in that
//! window gets 200 or 503, `/readyz` is 503, the overload metric moves, nothing acknowledged is
//! lost, and after the release the service recovers by itself (new webhooks 200, replies sent).
//! Statuses only: the answer times are measured in `benches/store_stuck.rs` (docs/BENCHMARKS.md).

mod common;

use std::time::Duration;

use common::kapso_mock::MockKapso;
use common::{Options, Service, text_payload};
use reqwest::StatusCode;

const HOLD: Duration = Duration::from_secs(15);

/// Holds the write lock of `db` from another connection for `hold`; returns once it is held.
fn hold_write_lock(db: &std::path::Path, hold: Duration) -> std::thread::JoinHandle<()> {
    let conn = rusqlite::Connection::open(db).expect("open second connection");
    conn.execute_batch("BEGIN IMMEDIATE")
        .expect("take the write lock");
    std::thread::spawn(move || {
        std::thread::sleep(hold);
        conn.execute_batch("COMMIT")
            .expect("release the write lock");
    })
}

/// Posts `body` as Kapso retries it: again after a 503, up to 50 times; the last status.
async fn redeliver(svc: &Service, client: &reqwest::Client, body: &[u8]) -> StatusCode {
    let mut status = StatusCode::SERVICE_UNAVAILABLE;
    for _ in 0..50 {
        status = svc.post_signed(client, body, None, None).await.status();
        if status != StatusCode::SERVICE_UNAVAILABLE {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_store_answers_503_loses_nothing_and_recovers() {
    let mock = MockKapso::start().await;
    let svc = Service::spawn_with(Options {
        kapso: Some((mock.uri(), "test-kapso-key".into())),
        extra_args: vec!["--store-deadline-ms".into(), "300".into()],
        ..Options::default()
    });
    let client = reqwest::Client::new();
    let holder = hold_write_lock(&svc.db_path, HOLD);

    let mut acked = Vec::new();
    let mut refused = Vec::new();
    for i in 0..20 {
        let phone = format!("+62812555000{i:02}");
        let wamid = format!("wamid.stuck.{i}");
        let body = text_payload(&phone, &wamid, "halo kak, mau tanya kuliah di jerman");
        let status = svc.post_signed(&client, &body, None, None).await.status();
        match status {
            StatusCode::OK => acked.push((phone, wamid)),
            StatusCode::SERVICE_UNAVAILABLE => refused.push((phone, wamid, body)),
            other => panic!("webhook {i} during the hold got {other}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ready = client.get(svc.url("/readyz")).send().await.expect("readyz");
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let metrics = client
        .get(svc.url("/metrics"))
        .send()
        .await
        .expect("metrics");
    let metrics = metrics.text().await.expect("metrics body");
    assert!(
        metrics.contains("ari_store_overload_total{reason=\"deadline\"}"),
        "no overload counted:\n{metrics}"
    );
    assert!(!refused.is_empty(), "the lock refused nothing");
    assert!(svc.wait_for_log("answering 503"), "no WARN logged");
    holder.join().expect("holder thread");

    // Kapso redelivers what got 503; a new lead writes too.
    for (phone, wamid, body) in &refused {
        assert_eq!(redeliver(&svc, &client, body).await, StatusCode::OK);
        acked.push((phone.clone(), wamid.clone()));
    }
    let fresh = text_payload("+6281255500099", "wamid.stuck.after", "halo");
    assert_eq!(redeliver(&svc, &client, &fresh).await, StatusCode::OK);
    acked.push(("+6281255500099".into(), "wamid.stuck.after".into()));

    let rows = svc.wait_processed().await;
    for (_, wamid) in &acked {
        assert!(
            rows.iter()
                .any(|r| r.raw.to_string().contains(wamid.as_str())),
            "acknowledged {wamid} is missing"
        );
    }
    let replies = mock.wait_for(acked.len()).await;
    for (phone, _) in &acked {
        assert!(
            replies
                .iter()
                .any(|r| phone.ends_with(r.to.trim_start_matches('+'))),
            "no reply to {phone}"
        );
    }
}

/// Issue 16 item 8, the queue bound: with `--store-queue 2` and the write lock held, two
/// webhooks wait in the queue and every further one gets 503 at once (`queue_full`); after the
/// release, the redeliveries are stored and answered and nothing acknowledged is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_store_queue_answers_503_at_once_and_loses_nothing() {
    let mock = MockKapso::start().await;
    let svc = Service::spawn_with(Options {
        kapso: Some((mock.uri(), "test-kapso-key".into())),
        extra_args: vec![
            "--store-queue".into(),
            "2".into(),
            "--store-deadline-ms".into(),
            "4000".into(),
        ],
        ..Options::default()
    });
    let client = reqwest::Client::new();
    let holder = hold_write_lock(&svc.db_path, Duration::from_secs(6));

    let bodies: Vec<(String, Vec<u8>)> = (0..12)
        .map(|i| {
            let phone = format!("+62812666000{i:02}");
            let body = text_payload(&phone, &format!("wamid.queue.{i}"), "halo kak mau tanya");
            (phone, body)
        })
        .collect();
    let svc = std::sync::Arc::new(svc);
    let mut posts = tokio::task::JoinSet::new();
    for (i, (_, body)) in bodies.iter().enumerate() {
        let (svc, client, body) = (std::sync::Arc::clone(&svc), client.clone(), body.clone());
        posts.spawn(async move {
            (
                i,
                svc.post_signed(&client, &body, None, None).await.status(),
            )
        });
    }
    let mut statuses = vec![StatusCode::OK; bodies.len()];
    while let Some(done) = posts.join_next().await {
        let (i, status) = done.expect("post task");
        statuses[i] = status;
    }
    for status in &statuses {
        assert!(
            matches!(*status, StatusCode::OK | StatusCode::SERVICE_UNAVAILABLE),
            "a webhook behind a full queue got {status}"
        );
    }
    let metrics = client
        .get(svc.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics body");
    assert!(
        metrics.contains("ari_store_overload_total{reason=\"queue_full\"}"),
        "no queue_full counted:\n{metrics}"
    );
    assert!(svc.wait_for_log("store queue full"), "no WARN logged");
    holder.join().expect("holder thread");

    for ((_, body), status) in bodies.iter().zip(&statuses) {
        if *status != StatusCode::OK {
            assert_eq!(redeliver(&svc, &client, body).await, StatusCode::OK);
        }
    }
    let replies = mock.wait_for(bodies.len()).await;
    for (phone, _) in &bodies {
        assert!(
            replies
                .iter()
                .any(|r| phone.ends_with(r.to.trim_start_matches('+'))),
            "no reply to {phone}"
        );
    }
}

/// Issue 16 item 8 on the Convex store: an `inbox:enqueue` that does not answer is cut off at
/// the deadline (retries included), and with the one in-flight slot taken a second write is
/// refused at once. A mock deployment that answers after 30 s stands in for a stuck Convex.
#[tokio::test]
async fn a_slow_convex_enqueue_is_cut_off_at_the_deadline() {
    use ari::store::Store;
    use ari::store::convex::{ConvexOptions, ConvexStore};
    use ari::store::limits::StoreLimits;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let convex = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/mutation"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"status": "success", "value": null}))
                .set_delay(Duration::from_secs(30)),
        )
        .mount(&convex)
        .await;
    let limits = StoreLimits {
        deadline: Duration::from_millis(300),
        queue: 1,
    };
    let store = std::sync::Arc::new(
        ConvexStore::new(&convex.uri(), "test-key", ConvexOptions::default())
            .expect("client")
            .with_limits(limits),
    );
    let delivery = ari::inbox::NewDelivery {
        body_hash: None,
        idempotency_key: "key-slow".into(),
        event_header: Some("whatsapp.message.received".into()),
        request_id: "req".into(),
        received_at_ms: 1_763_604_907_000,
        items: vec![],
        original_body: None,
    };
    let first = tokio::spawn({
        let (store, delivery) = (std::sync::Arc::clone(&store), delivery.clone());
        async move { store.enqueue_inbound(delivery).await }
    });
    // Wait until the first write is at the mock, holding the one slot.
    for _ in 0..100 {
        if !convex
            .received_requests()
            .await
            .unwrap_or_default()
            .is_empty()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let second = store.enqueue_inbound(delivery).await;
    let second = format!("{:?}", second.expect_err("a second write past the bound"));
    assert!(second.contains("queue_full"), "second write: {second}");
    let first = first.await.expect("join");
    let first = format!("{:?}", first.expect_err("a write past its deadline"));
    assert!(first.contains("deadline"), "first write: {first}");
}
