//! Black-box tests of issue 21 (the webhook port survives hostile clients): the real binary on
//! a random port, attacked over raw TCP and HTTP with small, configured timeouts.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use ari::inbox::EventKind;
use common::{Options, SECRET, Service, text_payload};
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn spawn(args: &[&str]) -> Service {
    Service::spawn_with(Options {
        extra_args: args.iter().map(|a| a.to_string()).collect(),
        ..Options::default()
    })
}

fn addr(svc: &Service) -> String {
    svc.base_url.trim_start_matches("http://").to_string()
}

/// Reads until the server closes the connection (or `within` passes): what it sent, and
/// whether it closed in time.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> (String, bool) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&got).into_owned(), true),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&got).into_owned(), false),
        }
    }
}

/// The value of one metric series line (`name{labels} value`) in a scrape.
fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// Every series (name and labels, without the value) of a scrape.
fn series(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.rsplit_once(' ').map(|(s, _)| s.to_string()))
        .collect()
}

async fn scrape(client: &reqwest::Client, url: &str) -> String {
    let r = client.get(url).send().await.expect("GET /metrics");
    assert_eq!(r.status(), StatusCode::OK);
    r.text().await.expect("metrics text")
}

/// The `--metrics-bind` address the service logged.
fn metrics_url(svc: &Service) -> String {
    assert!(svc.wait_for_log("metrics_addr"), "{}", svc.logs_text());
    let logs = svc.logs.lock().expect("logs").clone();
    let addr = logs
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find_map(|v| v["metrics_addr"].as_str().map(str::to_string))
        .expect("metrics_addr logged");
    format!("http://{addr}/metrics")
}

/// Half-sent headers, headers trickled a byte at a time, a stalled upload and a stalled
/// chunked upload are all closed within the (small, configured) timeouts; a declared 1 MiB
/// body is refused at once.
#[tokio::test]
async fn stalled_uploads_and_half_sent_headers_are_closed_within_the_timeouts() {
    let svc = spawn(&[
        "--header-read-timeout-ms",
        "600",
        "--request-timeout-ms",
        "900",
        "--idle-timeout-ms",
        "30000",
    ]);
    let addr = addr(&svc);

    // Half-sent headers, then nothing.
    let started = Instant::now();
    let mut s = TcpStream::connect(&addr).await.unwrap();
    s.write_all(
        b"POST /webhooks/kapso HTTP/1.1\r\nHost: ari\r\nContent-Type: application/json\r\n",
    )
    .await
    .unwrap();
    let (_, closed) = read_until_closed(&mut s, Duration::from_secs(5)).await;
    assert!(closed, "half-sent headers still open after 5 s");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );

    // Headers trickled one byte every 100 ms: bytes keep coming, the head never completes.
    let started = Instant::now();
    let mut s = TcpStream::connect(&addr).await.unwrap();
    let head = b"GET /healthz HTTP/1.1\r\nHost: ari\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let mut closed = false;
    for b in head.iter() {
        if s.write_all(&[*b]).await.is_err() {
            closed = true;
            break;
        }
        let mut buf = [0u8; 256];
        if let Ok(Ok(0)) = tokio::time::timeout(Duration::from_millis(100), s.read(&mut buf)).await
        {
            closed = true;
            break;
        }
    }
    assert!(closed, "a trickled request head was never cut off");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );

    // A stalled upload: headers complete, 100 KiB of a declared 200 KiB body, then nothing.
    let started = Instant::now();
    let mut s = TcpStream::connect(&addr).await.unwrap();
    s.write_all(
        b"POST /webhooks/kapso HTTP/1.1\r\nHost: ari\r\nContent-Type: application/json\r\n\
          X-Webhook-Signature: 00\r\nContent-Length: 204800\r\n\r\n",
    )
    .await
    .unwrap();
    s.write_all(&vec![b' '; 100 * 1024]).await.unwrap();
    let (answer, closed) = read_until_closed(&mut s, Duration::from_secs(5)).await;
    assert!(closed, "a stalled upload still open after 5 s: {answer}");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );

    // A stalled chunked upload (no length to refuse up front).
    let mut s = TcpStream::connect(&addr).await.unwrap();
    s.write_all(
        b"POST /webhooks/kapso HTTP/1.1\r\nHost: ari\r\nContent-Type: application/json\r\n\
          Transfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n",
    )
    .await
    .unwrap();
    let (answer, closed) = read_until_closed(&mut s, Duration::from_secs(5)).await;
    assert!(closed && answer.starts_with("HTTP/1.1 408"), "{answer}");

    // A declared 1 MiB body: 413 at once, nothing read.
    let started = Instant::now();
    let mut s = TcpStream::connect(&addr).await.unwrap();
    s.write_all(
        b"POST /webhooks/kapso HTTP/1.1\r\nHost: ari\r\nContent-Type: application/json\r\n\
          Content-Length: 1048575\r\n\r\n{",
    )
    .await
    .unwrap();
    let (answer, closed) = read_until_closed(&mut s, Duration::from_secs(5)).await;
    // 413, not the 408 a body read would end in: refused before reading.
    assert!(closed && answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );

    // The service still answers, and counted what it refused.
    let c = reqwest::Client::new();
    let text = scrape(&c, &svc.url("/metrics")).await;
    for needle in [
        r#"ari_http_refused_total{reason="request_timeout"}"#,
        r#"ari_http_refused_total{reason="too_large"}"#,
        r#"ari_http_refused_total{reason="header_timeout"}"#,
    ] {
        assert!(
            metric(&text, needle).unwrap_or(0.0) >= 1.0,
            "{needle}:\n{text}"
        );
    }
}

/// A request head over 32 KiB is refused (431) and its connection closed.
#[tokio::test]
async fn an_oversize_request_head_is_refused() {
    let svc = spawn(&[]);
    let mut s = TcpStream::connect(addr(&svc)).await.unwrap();
    let mut head = b"GET /healthz HTTP/1.1\r\nHost: ari\r\n".to_vec();
    for i in 0..64 {
        head.extend(format!("X-Pad-{i}: {}\r\n", "a".repeat(1000)).bytes());
    }
    head.extend(b"\r\n");
    let _ = s.write_all(&head).await;
    let (answer, closed) = read_until_closed(&mut s, Duration::from_secs(5)).await;
    assert!(closed, "still open");
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
}

/// A kept-alive connection that sends no next request is closed after the idle timeout.
#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed() {
    let svc = spawn(&["--idle-timeout-ms", "300"]);
    let mut s = TcpStream::connect(addr(&svc)).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: ari\r\n\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let (answer, closed) = read_until_closed(&mut s, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(closed, "an idle connection still open after 5 s");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

/// With the connection cap reached, a further connection waits unserved; once one closes it
/// is served.
#[tokio::test]
async fn connections_past_the_cap_wait_until_one_closes() {
    let svc = spawn(&[
        "--max-connections",
        "4",
        "--header-read-timeout-ms",
        "60000",
        "--idle-timeout-ms",
        "60000",
    ]);
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut s = TcpStream::connect(addr(&svc)).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: ari\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 512];
        let n = s.read(&mut buf).await.unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
        held.push(s);
    }
    let c = reqwest::Client::builder()
        .timeout(Duration::from_millis(700))
        .build()
        .unwrap();
    let refused = c.get(svc.url("/healthz")).send().await;
    assert!(
        refused.is_err(),
        "a fifth connection was served: {refused:?}"
    );
    drop(held.pop());
    let r = reqwest::Client::new()
        .get(svc.url("/healthz"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .expect("served once a connection closed");
    assert_eq!(r.status(), StatusCode::OK);
}

/// 1,000 stalled uploads: the bodies being read never exceed `--max-body-reads` (the gauge,
/// scraped on `--metrics-bind` all along, and its peak); the others are turned away (503) and
/// the stalled ones time out (408); then a genuine delivery is accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_thousand_stalled_uploads_the_bodies_read_at_once_never_exceed_the_cap() {
    const CAP: f64 = 8.0;
    let svc = spawn(&[
        "--max-body-reads",
        "8",
        "--request-timeout-ms",
        "3000",
        "--metrics-bind",
        "127.0.0.1:0",
    ]);
    let metrics = metrics_url(&svc);
    let c = reqwest::Client::new();
    // /metrics lives on its own port only.
    let r = c.get(svc.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    let addr = addr(&svc);
    let stallers: Vec<_> = (0..1000)
        .map(|_| {
            let addr = addr.clone();
            tokio::spawn(async move {
                let Ok(mut s) = TcpStream::connect(&addr).await else {
                    return String::from("connect failed");
                };
                let head = b"POST /webhooks/kapso HTTP/1.1\r\nHost: ari\r\n\
                    Content-Type: application/json\r\nContent-Length: 200000\r\n\r\n{\"pad\":\"";
                if s.write_all(head).await.is_err() {
                    return String::from("write failed");
                }
                let (answer, _) = read_until_closed(&mut s, Duration::from_secs(20)).await;
                answer.lines().next().unwrap_or("").to_string()
            })
        })
        .collect();
    let mut peak_seen = 0.0f64;
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let text = scrape(&c, &metrics).await;
        let reading = metric(&text, "ari_http_body_reads").unwrap_or(0.0);
        let peak = metric(&text, "ari_http_body_reads_peak").unwrap_or(0.0);
        assert!(reading <= CAP, "{reading} bodies read at once, cap {CAP}");
        assert!(peak <= CAP, "peak {peak}, cap {CAP}");
        peak_seen = peak_seen.max(reading);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut answers = std::collections::BTreeMap::<String, usize>::new();
    for s in stallers {
        *answers.entry(s.await.unwrap()).or_default() += 1;
    }
    assert_eq!(peak_seen, CAP, "the cap was never reached: {answers:?}");
    // The first 8 time out (408), and so do those that got a slot when they left; the rest
    // waited 2 s for a slot in vain (503). Nothing else.
    let timed_out = answers
        .get("HTTP/1.1 408 Request Timeout")
        .copied()
        .unwrap_or(0);
    let busy = answers
        .get("HTTP/1.1 503 Service Unavailable")
        .copied()
        .unwrap_or(0);
    assert!(timed_out >= CAP as usize, "{answers:?}");
    assert_eq!(timed_out + busy, 1000, "{answers:?}");
    let text = scrape(&c, &metrics).await;
    assert_eq!(metric(&text, "ari_http_body_reads"), Some(0.0), "{text}");
    let r = svc
        .post_signed(
            &c,
            &text_payload("+6281200000001", "wamid.AFTER", "halo"),
            Some("whatsapp.message.received"),
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
}

/// 10,000 unsigned posts with random event headers, and signed ones with random headers, add
/// no metric series: nothing the request says is a label before the signature holds, and
/// after it only the fixed list of events (or `other`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_unsigned_posts_with_random_event_headers_add_no_metric_series() {
    let svc = spawn(&[]);
    let c = reqwest::Client::new();
    let post = |event: String, signed: bool, n: u64| {
        let body = text_payload("+6281200000002", &format!("wamid.R{n}"), "halo");
        let mut req = c
            .post(svc.url("/webhooks/kapso"))
            .header("content-type", "application/json")
            .header("x-webhook-event", event);
        req = if signed {
            req.header(
                "x-webhook-signature",
                ari::ingress::signature::sign(SECRET.as_bytes(), &body),
            )
        } else {
            req.header("x-webhook-signature", "00")
        };
        req.body(body).send()
    };
    // One of each kind first, so their series exist.
    assert_eq!(
        post("a".into(), false, 0).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        post("b".into(), true, 0).await.unwrap().status(),
        StatusCode::OK
    );
    svc.wait_processed().await;
    svc.outbox_settled("+6281200000002").await;
    let before = series(&scrape(&c, &svc.url("/metrics")).await);

    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut random_event = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        format!("whatsapp.message.{seed:x}")
    };
    let events: Vec<String> = (0..10_000).map(|_| random_event()).collect();
    let url = svc.url("/webhooks/kapso");
    let body = text_payload("+6281200000002", "wamid.R0", "halo");
    for chunk in events.chunks(50) {
        let mut set = tokio::task::JoinSet::new();
        for e in chunk {
            let (c, url, body, e) = (c.clone(), url.clone(), body.clone(), e.clone());
            set.spawn(async move {
                c.post(url)
                    .header("content-type", "application/json")
                    .header("x-webhook-event", e)
                    .header("x-webhook-signature", "00")
                    .body(body)
                    .send()
                    .await
                    .map(|r| r.status())
            });
        }
        while let Some(r) = set.join_next().await {
            assert_eq!(r.unwrap().unwrap(), StatusCode::UNAUTHORIZED);
        }
    }
    // Signed, under random headers (a replayed body): the body names the event.
    for (i, e) in events.iter().take(200).enumerate() {
        let r = post(e.clone(), true, i as u64 + 1).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    svc.wait_processed().await;
    svc.outbox_settled("+6281200000002").await;
    let text = scrape(&c, &svc.url("/metrics")).await;
    let after = series(&text);
    let new: Vec<_> = after.difference(&before).collect();
    assert!(new.is_empty(), "new series: {new:#?}");
    assert!(
        metric(
            &text,
            r#"ari_webhooks_total{event="unverified",outcome="bad_signature"}"#
        )
        .unwrap_or(0.0)
            >= 10_001.0,
        "{text}"
    );
    assert!(
        metric(
            &text,
            r#"ari_webhooks_total{event="whatsapp.message.received",outcome="accepted"}"#
        )
        .unwrap_or(0.0)
            >= 201.0,
        "{text}"
    );
}

/// A flood of `/readyz` writes to the store at most once per 2 s (the cached check).
#[tokio::test]
async fn a_flood_of_readiness_probes_barely_touches_the_store() {
    let svc = spawn(&[]);
    let c = reqwest::Client::new();
    let trips = |text: &str| metric(text, r#"ari_store_round_trips_total{store="sqlite"}"#);
    assert_eq!(
        c.get(svc.url("/readyz")).send().await.unwrap().status(),
        StatusCode::OK
    );
    let before = trips(&scrape(&c, &svc.url("/metrics")).await).unwrap_or(0.0);
    let started = Instant::now();
    for _ in 0..500 {
        let r = c.get(svc.url("/readyz")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let after = trips(&scrape(&c, &svc.url("/metrics")).await).unwrap_or(0.0);
    // One check per 2 s, one depth read per 2 s, and the worker's and outbox's own polls
    // (every 2 s and 1 s): far from one per probe.
    let allowed = 6.0 + 3.0 * elapsed;
    assert!(
        after - before <= allowed,
        "{} store round trips for 500 probes in {elapsed:.1} s",
        after - before
    );
}

/// A signed delivery with more items than `--max-batch-items` is refused with 413 and stores
/// nothing; one at the cap is accepted.
#[tokio::test]
async fn an_oversize_batch_gets_413_and_stores_nothing() {
    let svc = spawn(&["--max-batch-items", "50"]);
    let c = reqwest::Client::new();
    let batch = |n: usize| {
        let items: Vec<serde_json::Value> =
            (0..n).map(|i| serde_json::json!({"hello": i})).collect();
        serde_json::to_vec(
            &serde_json::json!({"type": "whatsapp.unknown.x", "batch": true, "data": items}),
        )
        .unwrap()
    };
    let r = svc.post_signed(&c, &batch(51), None, None).await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let err: serde_json::Value = r.json().await.unwrap();
    assert_eq!(err["error"], "too_many_items");
    assert!(svc.inbox().await.is_empty());
    let r = svc.post_signed(&c, &batch(50), None, None).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(svc.inbox().await.len(), 50);
    // The default is 500: 10,000 tiny items are refused.
    let svc = spawn(&[]);
    let r = svc.post_signed(&c, &batch(10_000), None, None).await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

/// A signed message replayed under `X-Webhook-Event: workflow.execution.handoff` (or a
/// conversation event) stays a message, and the lead is still answered; a workflow header on
/// a body without a workflow's own fields is no workflow event. Under another idempotency key
/// it is a duplicate delivery (the body's hash is claimed too).
#[tokio::test]
async fn a_replayed_body_with_another_event_header_is_not_reinterpreted() {
    let svc = spawn(&[]);
    let c = reqwest::Client::new();
    let phone = "+6281200000003";
    let body = text_payload(phone, "wamid.REPLAY", "halo kak");
    let r = svc
        .post_signed(&c, &body, Some("whatsapp.message.received"), Some("k1"))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    for (key, header) in [
        ("k2", "workflow.execution.handoff"),
        ("k3", "whatsapp.conversation.ended"),
        ("k4", "whatsapp.message.sent"),
    ] {
        let r = svc.post_signed(&c, &body, Some(header), Some(key)).await;
        assert_eq!(r.status(), StatusCode::OK, "{header}");
        // The same bytes under another key: a duplicate delivery, stored once (its hash).
        let answer: serde_json::Value = r.json().await.unwrap();
        assert_eq!(answer["status"], "duplicate", "{header}: {answer}");
    }
    // A conversation body under a workflow header: not a workflow handoff.
    let conversation = serde_json::to_vec(&serde_json::json!({
        "conversation": {"id": "conv_x", "phone_number": phone, "phone_number_id": "106540352242922"},
        "phone_number_id": "106540352242922"
    }))
    .unwrap();
    let r = svc
        .post_signed(
            &c,
            &conversation,
            Some("workflow.execution.handoff"),
            Some("k5"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let rows = svc.wait_processed().await;
    assert!(
        rows.iter().all(|r| r.kind != EventKind::Workflow),
        "{:#?}",
        rows.iter()
            .map(|r| (r.kind, r.event_type.clone()))
            .collect::<Vec<_>>()
    );
    assert!(
        rows.iter()
            .filter(|r| r.kind == EventKind::Message)
            .all(|r| r.event_type == "whatsapp.message.received")
    );
    // The lead was answered (no silent takeover): one reply in the outbox.
    let outbox = svc.outbox_settled(phone).await;
    assert!(!outbox.is_empty(), "the lead got no reply");
    let text = scrape(&c, &svc.url("/metrics")).await;
    assert!(
        metric(&text, "ari_webhook_event_header_mismatches_total").unwrap_or(0.0) >= 3.0,
        "{text}"
    );
}

/// A client `x-request-id` that is not a UUID is replaced; a UUID is kept.
#[tokio::test]
async fn a_foreign_request_id_is_replaced() {
    let svc = spawn(&[]);
    let c = reqwest::Client::new();
    let long = "x".repeat(4000);
    for foreign in ["not-a-uuid", long.as_str(), "1234"] {
        let r = c
            .get(svc.url("/healthz"))
            .header("x-request-id", foreign)
            .send()
            .await
            .unwrap();
        let id = r.headers()["x-request-id"].to_str().unwrap().to_string();
        assert_ne!(id, foreign);
        assert!(ari::ingress::is_uuid(&id), "{id}");
    }
    let mine = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b";
    let r = c
        .get(svc.url("/healthz"))
        .header("x-request-id", mine)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], mine);
    assert!(
        !svc.logs_text().contains(&long),
        "a 4000-byte request id was logged"
    );
}

/// The admin knowledge PUT validates its path and the body's ids.
#[tokio::test]
async fn the_admin_knowledge_put_validates_workspace_entry_and_ids() {
    let svc = spawn(&["--admin-token", "admin-secret"]);
    let c = reqwest::Client::new();
    let entry = |id: &str| {
        format!(
            "[[faq]]\nid = \"{id}\"\ncategory = \"layanan\"\ntitle = \"Asrama\"\n\
             content = \"Asrama kampus mitra mulai Rp 3 juta per bulan.\"\n"
        )
    };
    let put = |path: &str, body: String| {
        c.put(svc.url(&format!("/admin/knowledge/{path}")))
            .bearer_auth("admin-secret")
            .body(body)
            .send()
    };
    let cases = [
        (
            "default/faq%0Aforged",
            entry("faq"),
            StatusCode::BAD_REQUEST,
            "invalid_id",
        ),
        (
            "default/FAQ",
            entry("FAQ"),
            StatusCode::BAD_REQUEST,
            "invalid_id",
        ),
        (
            "Default/faq",
            entry("faq"),
            StatusCode::BAD_REQUEST,
            "invalid_id",
        ),
        (
            "nowhere/faq",
            entry("faq"),
            StatusCode::NOT_FOUND,
            "no_workspace",
        ),
        (
            "default/faq-a",
            entry("faq-b"),
            StatusCode::BAD_REQUEST,
            "invalid_entry",
        ),
    ];
    for (path, body, status, code) in cases {
        let r = put(path, body).await.unwrap();
        assert_eq!(r.status(), status, "{path}");
        let err: serde_json::Value = r.json().await.unwrap();
        assert_eq!(err["error"], code, "{path}: {err}");
    }
    assert!(!svc.logs_text().contains("forged\""), "a forged log line");
    let r = put("default/faq-a", entry("faq-a")).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

/// Runs a lead into a handoff (asks for a person) on a service whose CRM webhook is `crm_url`.
async fn handoff_to_crm(crm_url: String) -> (common::kapso_mock::MockKapso, Service) {
    let mock = common::kapso_mock::MockKapso::start().await;
    let svc = Service::spawn_with(Options {
        extra_args: vec![
            "--crm-webhook-url".into(),
            crm_url,
            "--crm-webhook-secret".into(),
            "crm-secret".into(),
        ],
        kapso: Some((mock.uri(), "test-key".into())),
        ..Options::default()
    });
    let c = reqwest::Client::new();
    let lead = "+6287712340000";
    svc.post_signed(&c, &text_payload(lead, "wamid.H1", "halo"), None, None)
        .await;
    svc.wait_processed().await;
    let ask = "saya mau bicara langsung dengan konsultan saja kak, bukan bot";
    svc.post_signed(&c, &text_payload(lead, "wamid.H2", ask), None, None)
        .await;
    svc.wait_processed().await;
    (mock, svc)
}

async fn crm_calls(crm: &wiremock::MockServer, n: usize) -> Vec<wiremock::Request> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let calls = crm.received_requests().await.unwrap();
        if calls.len() >= n {
            return calls;
        }
        assert!(
            Instant::now() < deadline,
            "the CRM got {} calls",
            calls.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The CRM URL's credentials (`user:pass@`, `?token=`) are used for the call but neither stored
/// on the outbox row nor logged; each call carries a timestamp and a signature over timestamp,
/// idempotency key and body.
#[tokio::test]
async fn crm_credentials_stay_out_of_rows_and_logs_and_calls_are_signed_with_a_timestamp() {
    use wiremock::matchers::{method, path, query_param};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let crm = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hooks/ari"))
        .and(query_param("token", "tok-very-secret"))
        .respond_with(ResponseTemplate::new(500).set_body_string("try again"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&crm)
        .await;
    Mock::given(method("POST"))
        .and(path("/hooks/ari"))
        .and(query_param("token", "tok-very-secret"))
        .respond_with(ResponseTemplate::new(200))
        .with_priority(2)
        .mount(&crm)
        .await;
    let url = crm.uri().replace("http://", "http://ari:pw-very-secret@")
        + "/hooks/ari?token=tok-very-secret";
    let (_mock, svc) = handoff_to_crm(url).await;
    let calls = crm_calls(&crm, 2).await;
    let last = &calls[1];
    let header = |name: &str| {
        last.headers
            .get(name)
            .unwrap()
            .to_str()
            .unwrap()
            .to_string()
    };
    assert!(
        header("authorization").starts_with("Basic "),
        "the URL's user was not used"
    );
    let timestamp: i64 = header("x-webhook-timestamp").parse().unwrap();
    assert!((chrono::Utc::now().timestamp() - timestamp).abs() < 60);
    let signed = ari::handoff::webhook::signed_string(
        timestamp,
        &header("x-idempotency-key"),
        std::str::from_utf8(&last.body).unwrap(),
    );
    let secrets = ari::ingress::signature::WebhookSecrets::parse("crm-secret").unwrap();
    assert!(secrets.verify(signed.as_bytes(), &header("x-webhook-signature-v2")));
    assert!(secrets.verify(&last.body, &header("x-webhook-signature")));
    let rows = svc.outbox("+6287712340000").await;
    let hook = rows
        .iter()
        .find(|o| o.channel == ari::store::Channel::Webhook)
        .expect("a webhook row");
    assert!(!hook.to.contains("very-secret"), "{}", hook.to);
    assert!(hook.to.contains("token=redacted"), "{}", hook.to);
    assert!(
        !svc.logs_text().contains("very-secret"),
        "{}",
        svc.logs_text()
    );
}

/// A CRM answering with a redirect is not followed: the signed body never goes elsewhere.
#[tokio::test]
async fn a_crm_redirect_is_not_followed() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let crm = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hooks/ari"))
        .respond_with(
            ResponseTemplate::new(307)
                .insert_header("location", format!("{}/elsewhere", crm.uri())),
        )
        .mount(&crm)
        .await;
    Mock::given(path("/elsewhere"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&crm)
        .await;
    let (_mock, svc) = handoff_to_crm(format!("{}/hooks/ari", crm.uri())).await;
    crm_calls(&crm, 1).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let rows = svc.outbox("+6287712340000").await;
        let hook = rows
            .iter()
            .find(|o| o.channel == ari::store::Channel::Webhook);
        if hook.is_some_and(|h| h.state == ari::store::OutboxState::Failed) {
            break;
        }
        assert!(Instant::now() < deadline, "{rows:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let calls = crm.received_requests().await.unwrap();
    assert!(
        calls.iter().all(|r| r.url.path() == "/hooks/ari"),
        "the redirect was followed"
    );
}

/// Out of file descriptors (the open-file limit lowered under the running service), accept
/// errors back off instead of spinning, and the service serves again once connections close.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accept_errors_back_off_and_the_service_recovers() {
    use rustix::process::{Pid, Resource, Rlimit, prlimit};
    let svc = spawn(&[
        "--max-connections",
        "1000",
        "--header-read-timeout-ms",
        "60000",
        "--idle-timeout-ms",
        "60000",
    ]);
    let pid = Pid::from_raw(svc.pid() as i32).expect("pid");
    let open = std::fs::read_dir(format!("/proc/{}/fd", svc.pid()))
        .expect("/proc/<pid>/fd")
        .count() as u64;
    // The child inherited this process's hard limit (and raised its soft limit to it).
    let hard = rustix::process::getrlimit(Resource::Nofile).maximum;
    let low = Rlimit {
        current: Some(open + 10),
        maximum: hard,
    };
    let before = prlimit(Some(pid), Resource::Nofile, low).expect("lowering the open-file limit");
    let addr = addr(&svc);
    let mut held = Vec::new();
    for _ in 0..40 {
        held.push(TcpStream::connect(&addr).await.expect("connect"));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let errors = svc
        .logs_text()
        .lines()
        .filter(|l| l.contains("accept failed; backing off"))
        .count();
    assert!(errors >= 1, "no accept error logged: {}", svc.logs_text());
    // 10 ms doubling to 1 s: a handful in 2 s, not thousands.
    assert!(errors <= 20, "{errors} accept errors in 2 s: spinning");
    prlimit(Some(pid), Resource::Nofile, before).expect("restoring the limit");
    drop(held);
    let r = reqwest::Client::new()
        .get(svc.url("/healthz"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .expect("served again");
    assert_eq!(r.status(), StatusCode::OK);
}

/// [`text_payload`] from a contact whose WhatsApp profile name is `name`.
fn named_payload(phone: &str, wamid: &str, text: &str, name: &str) -> Vec<u8> {
    let mut v: serde_json::Value =
        serde_json::from_slice(&text_payload(phone, wamid, text)).unwrap();
    v["conversation"]["kapso"]["contact_name"] = serde_json::json!(name);
    serde_json::to_vec(&v).unwrap()
}

/// A lead whose profile name carries line breaks, a line separator, bidi overrides, zero-width
/// characters and WhatsApp formatting, and who then writes a message with a forged notice line,
/// asks for a person: the consultant's handoff notice has exactly one "Alasan:" line and no
/// schedule line, the relay quotes every line of the lead's text, and the CRM's contact name is
/// one line without the hidden characters.
#[tokio::test]
async fn a_forged_profile_name_produces_a_notice_without_forged_lines() {
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let crm = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&crm)
        .await;
    let svc = Service::spawn_with(Options {
        extra_args: vec![
            "--crm-webhook-url".into(),
            crm.uri(),
            "--crm-webhook-secret".into(),
            "crm-secret".into(),
        ],
        ..Options::default()
    });
    let c = reqwest::Client::new();
    let lead = "+6287712340001";
    let name = "*VIP* Budi\nAlasan: konsultasi sudah dibooking\u{2028}Jadwal konsultasi: Senin, 10:00 WIB\u{202E}\u{200B}";
    let texts = [
        "halo",
        "saya mau bicara langsung dengan konsultan saja kak, bukan bot",
        "makasih kak\nAlasan: lead minta refund\r\n\u{2029}Jadwal konsultasi: Selasa",
    ];
    for (i, text) in texts.iter().enumerate() {
        let body = named_payload(lead, &format!("wamid.N{i}"), text, name);
        svc.post_signed(&c, &body, None, None).await;
        svc.wait_processed().await;
    }
    let rows = svc.outbox_settled(lead).await;
    let to_consultant: Vec<&ari::store::OutboxRow> = rows.iter().filter(|r| r.to != lead).collect();
    let notice = to_consultant
        .iter()
        .find(|r| r.body.contains("Alasan:"))
        .unwrap_or_else(|| panic!("no handoff notice: {rows:#?}"));
    let lines: Vec<&str> = notice.body.lines().collect();
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("Alasan:")).count(),
        1,
        "{}",
        notice.body
    );
    assert!(
        !lines.iter().any(|l| l.starts_with("Jadwal konsultasi")),
        "{}",
        notice.body
    );
    let lead_line = lines.iter().find(|l| l.starts_with("Lead: ")).unwrap();
    assert!(
        lead_line.contains("＊VIP＊ Budi Alasan: konsultasi"),
        "{lead_line}"
    );
    for row in &to_consultant {
        assert!(
            !row.body
                .contains(['\u{2028}', '\u{2029}', '\u{202E}', '\u{200B}', '\r']),
            "{:?}",
            row.body
        );
    }
    let relay = to_consultant
        .iter()
        .find(|r| r.body.starts_with("Pesan baru dari lead"))
        .unwrap_or_else(|| panic!("no relay: {rows:#?}"));
    let quoted: Vec<&str> = relay.body.lines().skip(1).collect();
    assert_eq!(
        quoted,
        [
            "> makasih kak",
            "> Alasan: lead minta refund",
            "> Jadwal konsultasi: Selasa"
        ],
        "{}",
        relay.body
    );
    let calls = crm_calls(&crm, 1).await;
    for call in calls {
        let event: serde_json::Value = serde_json::from_slice(&call.body).unwrap();
        let shown = event["contact"]["name"].as_str().unwrap_or_default();
        assert!(shown.starts_with("*VIP* Budi Alasan:"), "{shown}");
        assert!(
            !shown.contains(['\n', '\u{2028}', '\u{202E}', '\u{200B}']),
            "{shown}"
        );
        assert!(
            shown.chars().count() <= ari::sanitize::NAME_MAX_CHARS,
            "{shown}"
        );
    }
}
