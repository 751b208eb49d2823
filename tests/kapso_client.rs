//! The Kapso outbound client against a mock Kapso API (wiremock on loopback).
//!
//! Timing assertions count the requests the mock received, never wall-clock bounds.

use std::time::Duration;

use ari::kapso::{KapsoClient, RetryPolicy, SendError, Sender, TransientError, Url};
use serde_json::json;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const PNID: &str = "647015955153740";
const SEND_PATH: &str = "/meta/whatsapp/v24.0/647015955153740/messages";
const KEY: &str = "test-api-key";

/// Short timeouts and backoffs so the suite runs fast.
fn fast_policy() -> RetryPolicy {
    RetryPolicy {
        connect_timeout: Duration::from_millis(500),
        attempt_timeout: Duration::from_millis(1000),
        max_attempts: 3,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(40),
        max_total: Duration::from_secs(10),
        retry_after_cap: Duration::from_secs(2),
    }
}

fn client(server: &MockServer, policy: RetryPolicy) -> KapsoClient {
    KapsoClient::new(Url::parse(&server.uri()).unwrap(), KEY.into(), policy).unwrap()
}

fn accepted(wamid: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "messaging_product": "whatsapp",
        "contacts": [{ "input": "6281234567890", "wa_id": "6281234567890" }],
        "messages": [{ "id": wamid }],
    }))
}

async fn requests(server: &MockServer) -> usize {
    server.received_requests().await.unwrap_or_default().len()
}

#[tokio::test]
async fn send_text_posts_the_exact_request_and_parses_the_id() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(SEND_PATH))
        .and(header("X-API-Key", KEY))
        .and(header("content-type", "application/json"))
        .and(header("Idempotency-Key", "outbox-42"))
        .and(body_json(json!({
            "messaging_product": "whatsapp",
            "to": "6281234567890",
            "type": "text",
            "text": { "body": "Halo! Ada yang bisa kami bantu?" },
        })))
        .respond_with(accepted("wamid.HBgNNjI4MTIzNDU2Nzg5MBUCABEYEjA="))
        .expect(1)
        .mount(&server)
        .await;

    let sent = client(&server, fast_policy())
        .send_text(
            PNID,
            "+62 812-3456-7890",
            "Halo! Ada yang bisa kami bantu?",
            "outbox-42",
        )
        .await
        .unwrap();

    assert_eq!(sent.message_id, "wamid.HBgNNjI4MTIzNDU2Nzg5MBUCABEYEjA=");
    assert_eq!(sent.attempts, 1);
    assert!(!sent.dry_run);
    // The body is exactly the four documented fields: nothing else is sent.
    let reqs = server.received_requests().await.unwrap();
    let body: serde_json::Value = serde_json::from_slice(&reqs[0].body).unwrap();
    assert_eq!(body.as_object().map(|o| o.len()), Some(4));
}

#[tokio::test]
async fn server_error_then_success_is_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(SEND_PATH))
        .respond_with(ResponseTemplate::new(500).set_body_string("upstream hiccup"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(SEND_PATH))
        .respond_with(accepted("wamid.second"))
        .mount(&server)
        .await;

    let sent = client(&server, fast_policy())
        .send_text(PNID, "6281234567890", "hi", "k1")
        .await
        .unwrap();
    assert_eq!(sent.message_id, "wamid.second");
    assert_eq!(sent.attempts, 2);
    assert_eq!(requests(&server).await, 2);
    // Every attempt carries the same idempotency key.
    for r in server.received_requests().await.unwrap() {
        assert_eq!(r.headers.get("Idempotency-Key").unwrap(), "k1");
    }
}

#[tokio::test]
async fn too_many_requests_honours_retry_after() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(SEND_PATH))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(SEND_PATH))
        .respond_with(accepted("wamid.after429"))
        .mount(&server)
        .await;

    let c = client(&server, fast_policy());
    let send = tokio::spawn(async move { c.send_text(PNID, "62811", "hi", "k").await });
    // Well inside the 1 s Retry-After (the backoff alone would retry after at most 10 ms) the
    // client must still be waiting: one request only.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(requests(&server).await, 1);
    let sent = send.await.unwrap().unwrap();
    assert_eq!(sent.message_id, "wamid.after429");
    assert_eq!(sent.attempts, 2);
    assert_eq!(requests(&server).await, 2);
}

#[tokio::test]
async fn long_retry_after_is_capped() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "3600"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(accepted("wamid.capped"))
        .mount(&server)
        .await;
    let policy = RetryPolicy {
        retry_after_cap: Duration::from_millis(20),
        ..fast_policy()
    };
    let sent = client(&server, policy)
        .send_text(PNID, "62811", "hi", "k")
        .await
        .unwrap();
    assert_eq!(sent.attempts, 2);
}

#[tokio::test]
async fn retry_after_beyond_the_total_budget_gives_up_at_once() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "5"))
        .mount(&server)
        .await;
    let policy = RetryPolicy {
        retry_after_cap: Duration::from_secs(5),
        max_total: Duration::from_secs(1),
        ..fast_policy()
    };
    let err = client(&server, policy)
        .send_text(PNID, "62811", "hi", "k")
        .await
        .unwrap_err();
    assert!(err.is_retryable());
    match err {
        SendError::Exhausted {
            last:
                TransientError::Status {
                    status,
                    retry_after,
                    ..
                },
            attempts,
        } => {
            assert_eq!(status, 429);
            assert_eq!(retry_after, Some(Duration::from_secs(5)));
            assert_eq!(attempts, 1);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(requests(&server).await, 1);
}

#[tokio::test]
async fn meta_4xx_is_rejected_without_retry() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(SEND_PATH))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": {
                "message": "(#131047) Re-engagement message",
                "type": "OAuthException",
                "code": 131047,
                "error_data": {
                    "messaging_product": "whatsapp",
                    "details": "Message failed to send because more than 24 hours have passed since the customer last replied to this number."
                },
                "fbtrace_id": "Az8or2yhqkZfEZ-_4Qn_Bam"
            }
        })))
        .mount(&server)
        .await;

    let err = client(&server, fast_policy())
        .send_text(PNID, "62811", "hi", "k")
        .await
        .unwrap_err();
    assert!(!err.is_retryable());
    assert_eq!(err.code(), Some(ari::kapso::CODE_WINDOW_CLOSED));
    match err {
        SendError::Rejected {
            status,
            code,
            title,
            message,
            details,
        } => {
            assert_eq!(status, 400);
            assert_eq!(code, Some(131_047));
            assert_eq!(title.as_deref(), Some("OAuthException"));
            assert_eq!(message, "(#131047) Re-engagement message");
            assert!(details.unwrap().contains("24 hours"));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(requests(&server).await, 1);
}

#[tokio::test]
async fn kapso_auth_error_is_rejected_with_its_text() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error": "Invalid API key"})))
        .mount(&server)
        .await;
    let err = client(&server, fast_policy())
        .send_text(PNID, "62811", "hi", "k")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SendError::Rejected { status: 401, code: None, message, .. } if message == "Invalid API key"),
        "{err:?}"
    );
    assert_eq!(requests(&server).await, 1);
}

#[tokio::test]
async fn meta_rate_limit_code_in_a_400_is_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": { "message": "(#131056) (Business Account, Consumer Account) pair rate limit hit", "type": "OAuthException", "code": 131056 }
        })))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(accepted("wamid.paired"))
        .mount(&server)
        .await;
    let sent = client(&server, fast_policy())
        .send_text(PNID, "62811", "hi", "k")
        .await
        .unwrap();
    assert_eq!(sent.attempts, 2);
}

#[tokio::test]
async fn persistent_server_errors_exhaust_the_attempts() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let err = client(&server, fast_policy())
        .send_text(PNID, "62811", "hi", "k")
        .await
        .unwrap_err();
    assert!(err.is_retryable());
    assert!(
        matches!(
            err,
            SendError::Exhausted {
                last: TransientError::Status { status: 503, .. },
                attempts: 3
            }
        ),
        "{err:?}"
    );
    assert_eq!(requests(&server).await, 3);
}

#[tokio::test]
async fn timeouts_are_retried_then_exhausted() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(accepted("wamid.too-late").set_delay(Duration::from_millis(600)))
        .mount(&server)
        .await;
    let policy = RetryPolicy {
        attempt_timeout: Duration::from_millis(150),
        ..fast_policy()
    };
    let err = client(&server, policy)
        .send_text(PNID, "62811", "hi", "k")
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            SendError::Exhausted {
                last: TransientError::Timeout,
                attempts: 3
            }
        ),
        "{err:?}"
    );
    assert_eq!(requests(&server).await, 3);
}

#[tokio::test]
async fn connection_refused_is_retried_then_exhausted() {
    // A port that was just free: nothing listens on it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let c = KapsoClient::new(
        Url::parse(&format!("http://127.0.0.1:{port}")).unwrap(),
        KEY.into(),
        fast_policy(),
    )
    .unwrap();
    let err = c.send_text(PNID, "62811", "hi", "k").await.unwrap_err();
    assert!(
        matches!(
            err,
            SendError::Exhausted {
                last: TransientError::Connect(_),
                attempts: 3
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn success_without_message_id_is_an_invalid_response() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"messaging_product": "whatsapp", "messages": []})),
        )
        .mount(&server)
        .await;
    let err = client(&server, fast_policy())
        .send_text(PNID, "62811", "hi", "k")
        .await
        .unwrap_err();
    assert!(
        matches!(err, SendError::InvalidResponse { status: 200, .. }),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    assert_eq!(requests(&server).await, 1, "a 2xx must never be resent");
}

#[tokio::test]
async fn invalid_requests_make_no_http_call() {
    let server = MockServer::start().await;
    let c = client(&server, fast_policy());
    for (pnid, to, body) in [
        ("", "62811", "hi"),
        (PNID, "+ -", "hi"),
        (PNID, "62811", "  "),
    ] {
        let err = c.send_text(pnid, to, body, "k").await.unwrap_err();
        assert!(matches!(err, SendError::InvalidRequest(_)), "{err:?}");
    }
    assert_eq!(requests(&server).await, 0);
}

#[tokio::test]
async fn mark_read_with_typing_posts_the_documented_body() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(SEND_PATH))
        .and(header("X-API-Key", KEY))
        .and(header("content-type", "application/json"))
        .and(body_json(json!({
            "messaging_product": "whatsapp",
            "status": "read",
            "message_id": "wamid.inbound1",
            "typing_indicator": { "type": "text" },
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"success": true})))
        .expect(1)
        .mount(&server)
        .await;
    client(&server, fast_policy())
        .mark_read_with_typing(PNID, "wamid.inbound1")
        .await
        .unwrap();
}

#[tokio::test]
async fn mark_read_is_best_effort_single_attempt() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    let err = client(&server, fast_policy())
        .mark_read_with_typing(PNID, "wamid.inbound1")
        .await
        .unwrap_err();
    assert!(
        matches!(err, SendError::Exhausted { attempts: 1, .. }),
        "{err:?}"
    );
    assert_eq!(requests(&server).await, 1);
}

#[tokio::test]
async fn dry_run_without_key_sends_nothing() {
    let server = MockServer::start().await;
    let base = Url::parse(&server.uri()).unwrap();
    for key in [None, Some(String::new()), Some("   ".to_owned())] {
        let sender = Sender::from_config(base.clone(), key, fast_policy()).unwrap();
        assert!(sender.is_dry_run());
        let sent = sender
            .send_text(PNID, "+62 812-3456-7890", "Halo!", "outbox-7")
            .await
            .unwrap();
        assert_eq!(sent.message_id, "dry-run:outbox-7");
        assert!(sent.dry_run);
        assert_eq!(sent.attempts, 0);
        sender
            .mark_read_with_typing(PNID, "wamid.inbound1")
            .await
            .unwrap();
    }
    assert_eq!(requests(&server).await, 0);
}

#[tokio::test]
async fn live_sender_with_key_goes_to_kapso() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(header("X-API-Key", KEY))
        .respond_with(accepted("wamid.live"))
        .expect(1)
        .mount(&server)
        .await;
    let sender = Sender::from_config(
        Url::parse(&server.uri()).unwrap(),
        Some(KEY.into()),
        fast_policy(),
    )
    .unwrap();
    assert!(!sender.is_dry_run());
    let sent = sender.send_text(PNID, "62811", "hi", "k").await.unwrap();
    assert_eq!(sent.message_id, "wamid.live");
}

#[tokio::test]
async fn send_template_posts_the_meta_template_shape() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(SEND_PATH))
        .and(header("X-API-Key", KEY))
        .and(header("Idempotency-Key", "ari-reminder-7-reminder_24h-0"))
        .and(body_json(json!({
            "messaging_product": "whatsapp",
            "to": "6281234567890",
            "type": "template",
            "template": {
                "name": "consultation_reminder",
                "language": { "code": "id" },
                "components": [{ "type": "body", "parameters": [
                    { "type": "text", "text": "Kamis, 26 November 2026" },
                    { "type": "text", "text": "09:00 WIB" },
                ]}],
            },
        })))
        .respond_with(accepted("wamid.TEMPLATE1"))
        .expect(1)
        .mount(&server)
        .await;
    let sent = client(&server, fast_policy())
        .send_template(
            PNID,
            "+6281234567890",
            &ari::kapso::Template {
                name: "consultation_reminder",
                language: "id",
                parameters: &["Kamis, 26 November 2026".into(), "09:00 WIB".into()],
                buttons: &[],
            },
            "ari-reminder-7-reminder_24h-0",
        )
        .await
        .unwrap();
    assert_eq!(sent.message_id, "wamid.TEMPLATE1");
}

/// Issue 19: a reminder's buttons go as Meta's interactive message, exactly.
#[tokio::test]
async fn send_interactive_posts_the_meta_interactive_shape() {
    let server = MockServer::start().await;
    let buttons = ari::scheduling::choices::reminder(
        "Reminder: konsultasi kakak besok",
        &ari::config::flow::InteractiveLabels::default(),
    )
    .unwrap()
    .to_meta();
    Mock::given(method("POST"))
        .and(path(SEND_PATH))
        .and(header("Idempotency-Key", "ari-reminder-7-reminder_24h-0"))
        .and(body_json(json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "6281234567890",
            "type": "interactive",
            "interactive": {
                "type": "button",
                "body": {"text": "Reminder: konsultasi kakak besok"},
                "action": {"buttons": [
                    {"type": "reply", "reply": {"id": "ari:reminder:attend", "title": "Hadir"}},
                    {"type": "reply", "reply": {"id": "ari:reminder:reschedule", "title": "Ganti jadwal"}},
                    {"type": "reply", "reply": {"id": "ari:reminder:cancel", "title": "Batal"}},
                ]},
            },
        })))
        .respond_with(accepted("wamid.BUTTONS1"))
        .expect(1)
        .mount(&server)
        .await;
    let sent = client(&server, fast_policy())
        .send_interactive(
            PNID,
            "+6281234567890",
            &buttons,
            "ari-reminder-7-reminder_24h-0",
        )
        .await
        .unwrap();
    assert_eq!(sent.message_id, "wamid.BUTTONS1");
}

/// Issue 19: a template's quick-reply buttons get their configured payload ids by index.
#[tokio::test]
async fn send_template_carries_quick_reply_payloads_by_index() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(SEND_PATH))
        .and(body_json(json!({
            "messaging_product": "whatsapp",
            "to": "6281234567890",
            "type": "template",
            "template": {
                "name": "consultation_reminder",
                "language": { "code": "id" },
                "components": [
                    { "type": "body", "parameters": [{ "type": "text", "text": "Kamis" }]},
                    { "type": "button", "sub_type": "quick_reply", "index": "0",
                      "parameters": [{"type": "payload", "payload": "ari:reminder:attend"}]},
                    { "type": "button", "sub_type": "quick_reply", "index": "1",
                      "parameters": [{"type": "payload", "payload": "ari:reminder:reschedule"}]},
                ],
            },
        })))
        .respond_with(accepted("wamid.TEMPLATE2"))
        .expect(1)
        .mount(&server)
        .await;
    let sent = client(&server, fast_policy())
        .send_template(
            PNID,
            "+6281234567890",
            &ari::kapso::Template {
                name: "consultation_reminder",
                language: "id",
                parameters: &["Kamis".into()],
                buttons: &[
                    "ari:reminder:attend".into(),
                    "ari:reminder:reschedule".into(),
                ],
            },
            "k",
        )
        .await
        .unwrap();
    assert_eq!(sent.message_id, "wamid.TEMPLATE2");
}
