//! Black-box tests of the webhook ingress: the real binary on a random port, signed fixtures in,
//! inbox rows out.

mod common;

use std::collections::BTreeSet;

use ari::inbox::{EventKind, InboxState, MessageType};
use common::{Options, SECRET, Service, fixture};
use reqwest::StatusCode;
use serde_json::json;

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

fn kinds(rows: &[ari::inbox::InboxRow]) -> Vec<EventKind> {
    rows.iter().map(|r| r.kind).collect()
}

#[tokio::test]
async fn every_fixture_is_accepted_with_the_expected_inbox_rows() {
    use EventKind::*;
    // (fixture, event header Kapso sends, batch header, expected kinds in order)
    let cases: &[(&str, Option<&str>, bool, &[EventKind])] = &[
        (
            "v2-text-received.json",
            Some("whatsapp.message.received"),
            false,
            &[Message],
        ),
        (
            "v2-image-received.json",
            Some("whatsapp.message.received"),
            false,
            &[Message],
        ),
        (
            "v2-audio-received.json",
            Some("whatsapp.message.received"),
            false,
            &[Message],
        ),
        (
            "v2-interactive-received.json",
            Some("whatsapp.message.received"),
            false,
            &[Message],
        ),
        (
            "v2-location-received.json",
            Some("whatsapp.message.received"),
            false,
            &[Message],
        ),
        (
            "v2-reaction-received.json",
            Some("whatsapp.message.received"),
            false,
            &[Message],
        ),
        (
            "v2-batch-received.json",
            Some("whatsapp.message.received"),
            true,
            &[Message, Message, Message],
        ),
        (
            "v2-business-app-sent.json",
            Some("whatsapp.message.sent"),
            false,
            &[Status],
        ),
        (
            "v2-message-failed.json",
            Some("whatsapp.message.failed"),
            false,
            &[Status],
        ),
        (
            "v2-conversation-inactive.json",
            Some("whatsapp.conversation.inactive"),
            false,
            &[Conversation],
        ),
        (
            "v2-conversation-ended.json",
            Some("whatsapp.conversation.ended"),
            false,
            &[Conversation],
        ),
        (
            "workflow-execution-handoff.json",
            Some("workflow.execution.handoff"),
            false,
            &[Workflow],
        ),
        (
            "meta-messages.json",
            None,
            false,
            &[Message, Message, Status],
        ),
    ];
    for (name, event, batch, expected) in cases {
        let svc = Service::spawn();
        let body = fixture(name);
        let mut req = client()
            .post(svc.url("/webhooks/kapso"))
            .header("content-type", "application/json")
            .header(
                "x-webhook-signature",
                ari::ingress::signature::sign(SECRET.as_bytes(), &body),
            )
            .header("x-idempotency-key", format!("key-{name}"));
        if let Some(e) = event {
            req = req.header("x-webhook-event", *e);
        }
        if *batch {
            req = req
                .header("x-webhook-batch", "true")
                .header("x-batch-size", "3");
        }
        let resp = req.body(body).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{name}");
        let rows = svc.inbox().await;
        assert_eq!(kinds(&rows), expected.to_vec(), "{name}");
        for row in &rows {
            // Only what the worker acts on is pending; a read receipt or an inactivity signal
            // is recorded as done.
            let informational = matches!(
                row.event_type.as_str(),
                "meta.status" | "whatsapp.conversation.inactive"
            );
            let expected = if informational {
                InboxState::Done
            } else {
                InboxState::Pending
            };
            assert_eq!(row.state, expected, "{name}: {}", row.event_type);
            assert_eq!(row.workspace_id.as_deref(), Some("default"), "{name}");
            assert_eq!(row.delivery_key, format!("key-{name}"), "{name}");
        }
    }
}

#[tokio::test]
async fn batch_yields_three_messages_for_two_contacts_in_order() {
    let svc = Service::spawn();
    let r = svc
        .post_signed(
            &client(),
            &fixture("v2-batch-received.json"),
            Some("whatsapp.message.received"),
            Some("b1"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let rows = svc.inbox().await;
    assert_eq!(rows.len(), 3);
    let contacts: BTreeSet<_> = rows
        .iter()
        .filter_map(|r| r.event.contact_phone.clone())
        .collect();
    assert_eq!(contacts.len(), 2, "{contacts:?}");
    let texts: Vec<_> = rows
        .iter()
        .map(|r| r.event.message.as_ref().unwrap().text.clone().unwrap())
        .collect();
    assert_eq!(
        texts,
        vec![
            "permisi",
            "mau tanya beasiswa ke Belanda, IELTS saya 7",
            "Selamat siang, info kuliah di Jepang dong"
        ]
    );
    assert!(rows.windows(2).all(|w| w[0].id < w[1].id));
}

#[tokio::test]
async fn meta_format_yields_every_message_and_status() {
    let svc = Service::spawn();
    let r = svc
        .post_signed(&client(), &fixture("meta-messages.json"), None, None)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let rows = svc.inbox().await;
    assert_eq!(
        kinds(&rows),
        vec![EventKind::Message, EventKind::Message, EventKind::Status]
    );
    assert_eq!(
        rows[0].event.contact_phone.as_deref(),
        Some("+6281234567890")
    );
    assert_eq!(rows[0].event.contact_name.as_deref(), Some("Budi Santoso"));
    assert_eq!(
        rows[1].event.contact_phone.as_deref(),
        Some("+6287712345678")
    );
    assert_eq!(rows[1].event.contact_name.as_deref(), Some("Dewi"));
    assert_eq!(rows[2].event.status.as_ref().unwrap().status, "read");
    for row in &rows {
        assert_eq!(
            row.event.phone_number_id.as_deref(),
            Some("106540352242922")
        );
    }
}

#[tokio::test]
async fn message_types_are_normalised_into_the_text_the_flow_reads() {
    let svc = Service::spawn();
    let c = client();
    for name in [
        "v2-image-received.json",
        "v2-audio-received.json",
        "v2-interactive-received.json",
        "v2-location-received.json",
        "v2-reaction-received.json",
        "v2-business-app-sent.json",
        "v2-message-failed.json",
    ] {
        let event = match name {
            "v2-business-app-sent.json" => "whatsapp.message.sent",
            "v2-message-failed.json" => "whatsapp.message.failed",
            _ => "whatsapp.message.received",
        };
        let r = svc
            .post_signed(&c, &fixture(name), Some(event), Some(name))
            .await;
        assert_eq!(r.status(), StatusCode::OK, "{name}");
    }
    let rows = svc.inbox().await;
    let msg = |i: usize| rows[i].event.message.clone().unwrap();

    let image = msg(0);
    assert_eq!(image.message_type, MessageType::Image);
    assert_eq!(image.text.as_deref(), Some("ini transkrip nilai saya kak"));
    let media = image.media.unwrap();
    assert_eq!(media.filename.as_deref(), Some("transkrip.jpg"));
    assert_eq!(media.content_type.as_deref(), Some("image/jpeg"));
    assert_eq!(media.byte_size, Some(248311));

    let audio = msg(1);
    assert_eq!(audio.message_type, MessageType::Audio);
    assert_eq!(
        audio.text.as_deref(),
        Some("IELTS saya 6.5 kak, paspor juga sudah ada")
    );

    let button = msg(2);
    assert_eq!(button.message_type, MessageType::Interactive);
    assert_eq!(button.text.as_deref(), Some("Kamis 10:00"));
    assert_eq!(button.reply_id.as_deref(), Some("slot_2"));
    assert!(button.context_id.is_some());

    let location = msg(3);
    assert_eq!(location.message_type, MessageType::Location);
    let loc = location.location.unwrap();
    assert_eq!(loc.latitude, Some(-6.2297465));
    assert_eq!(loc.name.as_deref(), Some("Kuningan City"));

    let reaction = msg(4);
    assert_eq!(reaction.message_type, MessageType::Reaction);
    assert_eq!(reaction.text.as_deref(), Some("👍"));
    assert!(reaction.reacts_to.is_some());

    let sent = rows[5].event.status.clone().unwrap();
    assert_eq!(sent.status, "sent");
    assert_eq!(sent.origin.as_deref(), Some("business_app"));
    assert_eq!(sent.direction.as_deref(), Some("outbound"));

    let failed = rows[6].event.status.clone().unwrap();
    assert_eq!(failed.status, "failed");
    assert_eq!(failed.errors.len(), 1);
    assert_eq!(failed.errors[0].code, Some(131047));
}

/// Every bad input: the status code, and not a single row stored.
#[tokio::test]
async fn bad_inputs_get_a_clear_status_and_store_nothing() {
    let svc = Service::spawn();
    let c = client();
    let body = fixture("v2-text-received.json");
    let good_sig = ari::ingress::signature::sign(SECRET.as_bytes(), &body);
    let url = svc.url("/webhooks/kapso");

    let post = |body: Vec<u8>, sig: Option<String>, ct: Option<&'static str>| {
        let mut req = c
            .post(&url)
            .header("x-webhook-event", "whatsapp.message.received");
        if let Some(ct) = ct {
            req = req.header("content-type", ct);
        }
        if let Some(sig) = sig {
            req = req.header("x-webhook-signature", sig);
        }
        req.body(body).send()
    };

    // No signature.
    let r = post(body.clone(), None, Some("application/json"))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let err: serde_json::Value = r.json().await.unwrap();
    assert_eq!(err["error"], "bad_signature");

    // Signed with the wrong secret.
    let wrong = ari::ingress::signature::sign(b"not-the-secret", &body);
    let r = post(body.clone(), Some(wrong), Some("application/json"))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // Tampered body, original signature.
    let tampered = String::from_utf8(body.clone())
        .unwrap()
        .replace("400 juta", "900 juta");
    let r = post(
        tampered.into_bytes(),
        Some(good_sig.clone()),
        Some("application/json"),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // Re-serialised JSON (same data, different bytes), original signature.
    let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let reserialised = serde_json::to_vec(&value).unwrap();
    assert_ne!(reserialised, body);
    let r = post(
        reserialised,
        Some(good_sig.clone()),
        Some("application/json"),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // Oversize (just over 1 MiB), correctly signed.
    let mut big = br#"{"pad":""#.to_vec();
    big.extend(std::iter::repeat_n(b'a', 1024 * 1024));
    big.extend(br#""}"#);
    let sig = ari::ingress::signature::sign(SECRET.as_bytes(), &big);
    let r = post(big, Some(sig), Some("application/json"))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // Wrong or missing content type, correctly signed.
    let r = post(body.clone(), Some(good_sig.clone()), Some("text/plain"))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let r = post(body.clone(), Some(good_sig.clone()), None)
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // Malformed JSON, correctly signed.
    let broken = br#"{"message": {"id": "wamid.x""#.to_vec();
    let sig = ari::ingress::signature::sign(SECRET.as_bytes(), &broken);
    let r = post(broken, Some(sig), Some("application/json"))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let err: serde_json::Value = r.json().await.unwrap();
    assert_eq!(err["error"], "malformed");

    // JSON that is not an object, correctly signed.
    let array = b"[1,2,3]".to_vec();
    let sig = ari::ingress::signature::sign(SECRET.as_bytes(), &array);
    let r = post(array, Some(sig), Some("application/json"))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    assert!(
        svc.inbox().await.is_empty(),
        "a refused delivery stored rows"
    );

    // The same service still accepts the genuine delivery afterwards.
    let r = post(
        body,
        Some(good_sig),
        Some("application/json; charset=utf-8"),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(svc.inbox().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_redeliveries_store_one_row() {
    let svc = Service::spawn();
    let body = fixture("v2-text-received.json");
    let sig = ari::ingress::signature::sign(SECRET.as_bytes(), &body);
    let url = svc.url("/webhooks/kapso");
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (c, url, body, sig) = (client(), url.clone(), body.clone(), sig.clone());
            tokio::spawn(async move {
                let r = c
                    .post(url)
                    .header("content-type", "application/json")
                    .header("x-webhook-event", "whatsapp.message.received")
                    .header("x-idempotency-key", "same-key")
                    .header("x-webhook-signature", sig)
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), StatusCode::OK);
                r.json::<serde_json::Value>().await.unwrap()
            })
        })
        .collect();
    let mut accepted = 0;
    for t in tasks {
        let v = t.await.unwrap();
        if v["status"] == "accepted" {
            accepted += 1;
        } else {
            assert_eq!(v["status"], "duplicate", "{v}");
        }
    }
    assert_eq!(accepted, 1);
    assert_eq!(svc.inbox().await.len(), 1);
}

#[tokio::test]
async fn the_same_message_under_two_keys_or_two_formats_is_stored_once() {
    let svc = Service::spawn();
    let c = client();
    let body = fixture("v2-text-received.json");
    for key in ["kapso-key-1", "kapso-key-2"] {
        let r = svc
            .post_signed(&c, &body, Some("whatsapp.message.received"), Some(key))
            .await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    // The same wamid through a Meta-kind webhook (Kapso and Meta webhooks both on).
    let v2: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let meta = json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "6281100099988", "phone_number_id": "106540352242922"},
            "contacts": [{"wa_id": "6281234567890", "profile": {"name": "Budi Santoso"}}],
            "messages": [{"from": "6281234567890", "id": v2["message"]["id"], "timestamp": "1763604907",
                          "type": "text", "text": {"body": v2["message"]["text"]["body"]}}]
        }}]}]
    });
    let meta_body = serde_json::to_vec(&meta).unwrap();
    let r = svc.post_signed(&c, &meta_body, None, None).await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["stored"], 0);
    assert_eq!(v["duplicates"], 1);
    let rows = svc.inbox().await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].delivery_key, "kapso-key-1");
}

#[tokio::test]
async fn unknown_events_and_sender_less_messages_are_stored_and_acknowledged() {
    let svc = Service::spawn();
    let c = client();
    let unknown = br#"{"phone_number": {"id": "106540352242922"}, "something": "new"}"#;
    let r = svc
        .post_signed(&c, unknown, Some("whatsapp.phone_number.created"), None)
        .await;
    assert_eq!(r.status(), StatusCode::OK);

    // A business-scoped user id instead of a phone number.
    let bsuid = json!({
        "message": {"id": "wamid.BSUID1", "timestamp": "1763604907", "type": "text",
                    "text": {"body": "halo"}, "kapso": {"direction": "inbound", "origin": "cloud_api"}},
        "conversation": {"id": "conv_x", "business_scoped_user_id": "US.13491208655302741918",
                         "phone_number_id": "106540352242922"},
        "is_new_conversation": true,
        "phone_number_id": "106540352242922"
    });
    let r = svc
        .post_signed(
            &c,
            &serde_json::to_vec(&bsuid).unwrap(),
            Some("whatsapp.message.received"),
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);

    let rows = svc.inbox().await;
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].kind, EventKind::Unknown);
    assert_eq!(rows[0].event_type, "whatsapp.phone_number.created");
    assert_eq!(rows[0].raw["something"], "new");
    assert_eq!(rows[1].kind, EventKind::Message);
    assert_eq!(rows[1].state, InboxState::NoSender);
    assert_eq!(rows[1].event.contact_phone, None);
    assert!(svc.wait_for_log("without a sender phone"));
}

#[tokio::test]
async fn numbers_no_workspace_serves_are_stored_as_unroutable() {
    let svc = Service::spawn_with(Options {
        workspaces_toml: Some(
            "[[workspace]]\nid = \"jakarta\"\nphone_number_ids = [\"106540352242922\"]\n".into(),
        ),
        ..Options::default()
    });
    let c = client();
    let body = fixture("v2-text-received.json");
    let other = String::from_utf8(body.clone())
        .unwrap()
        .replace("106540352242922", "999999999999999");
    assert_eq!(
        svc.post_signed(&c, &body, Some("whatsapp.message.received"), None)
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        svc.post_signed(
            &c,
            other.as_bytes(),
            Some("whatsapp.message.received"),
            None
        )
        .await
        .status(),
        StatusCode::OK
    );
    let rows = svc.inbox().await;
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].workspace_id.as_deref(), Some("jakarta"));
    assert_eq!(rows[0].state, InboxState::Pending);
    assert_eq!(rows[1].workspace_id, None);
    assert_eq!(rows[1].state, InboxState::Unroutable);
    let metrics = c
        .get(svc.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("ari_inbox_unroutable_total 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_rotated_secret_pair_accepts_both() {
    let svc = Service::spawn_with(Options {
        secret: Some(format!("new-secret,{SECRET}")),
        ..Options::default()
    });
    let c = client();
    let body = fixture("v2-text-received.json");
    // Signed with the old secret (SECRET) ...
    assert_eq!(
        svc.post_signed(&c, &body, Some("whatsapp.message.received"), Some("k1"))
            .await
            .status(),
        StatusCode::OK
    );
    // ... and with the new one.
    let r = c
        .post(svc.url("/webhooks/kapso"))
        .header("content-type", "application/json")
        .header("x-idempotency-key", "k2")
        .header(
            "x-webhook-signature",
            ari::ingress::signature::sign(b"new-secret", &body),
        )
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    let svc = Service::spawn();
    let c = client();
    assert_eq!(
        c.get(svc.url("/healthz")).send().await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        c.get(svc.url("/readyz")).send().await.unwrap().status(),
        StatusCode::OK
    );
    svc.post_signed(
        &c,
        &fixture("v2-batch-received.json"),
        Some("whatsapp.message.received"),
        Some("m1"),
    )
    .await;
    svc.post_signed(
        &c,
        &fixture("v2-batch-received.json"),
        Some("whatsapp.message.received"),
        Some("m1"),
    )
    .await;
    c.post(svc.url("/webhooks/kapso"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    let r = c.get(svc.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let text = r.text().await.unwrap();
    for needle in [
        r#"ari_webhooks_total{event="whatsapp.message.received",outcome="accepted"} 1"#,
        r#"ari_webhooks_total{event="whatsapp.message.received",outcome="duplicate"} 1"#,
        "ari_webhook_signature_failures_total 1",
        r#"ari_webhook_duplicates_total{level="delivery"} 1"#,
        "ari_inbox_depth 3",
        "ari_webhook_handler_seconds_bucket",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    // Every response carries a request id.
    let r = c.get(svc.url("/healthz")).send().await.unwrap();
    assert!(r.headers().contains_key("x-request-id"));
}

#[tokio::test]
async fn logs_mask_phones_and_never_show_secrets() {
    let mut svc = Service::spawn();
    let c = client();
    svc.post_signed(
        &c,
        &fixture("v2-text-received.json"),
        Some("whatsapp.message.received"),
        None,
    )
    .await;
    svc.terminate();
    assert!(svc.wait_for_log("shut down cleanly"), "{}", svc.logs_text());
    let logs = svc.logs_text();
    assert!(logs.contains("webhook accepted"), "{logs}");
    assert!(
        !logs.contains(SECRET),
        "the webhook secret leaked into the logs"
    );
    assert!(
        !logs.contains("6281234567890"),
        "an unmasked phone leaked into the logs"
    );
}

#[tokio::test]
async fn sigterm_shuts_down_cleanly_and_keeps_what_was_accepted() {
    let mut svc = Service::spawn();
    let c = client();
    let r = svc
        .post_signed(
            &c,
            &fixture("v2-batch-received.json"),
            Some("whatsapp.message.received"),
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let status = svc.terminate();
    assert!(status.success(), "exit status {status}");
    assert!(svc.wait_for_log("shut down cleanly"));
    // The WAL was checkpointed and removed on close.
    let wal = svc.db_path.with_extension("db-wal");
    assert!(!wal.exists(), "{} left behind", wal.display());
    assert_eq!(svc.inbox().await.len(), 3);
}

#[test]
fn refuses_to_start_without_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ari"))
        .args(["serve", "--bind", "127.0.0.1:0"])
        .arg("--database")
        .arg(dir.path().join("x.db"))
        .env_remove("ARI_WEBHOOK_SECRET")
        .env_remove("ARI_INSECURE_NO_SIGNATURE")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("ARI_WEBHOOK_SECRET"), "{stderr}");
    assert!(
        !dir.path().join("x.db").exists(),
        "created a database before refusing"
    );
}

#[tokio::test]
async fn insecure_mode_accepts_unsigned_and_says_so() {
    let svc = Service::spawn_with(Options {
        extra_args: vec!["--insecure-no-signature".into()],
        secret: Some(String::new()),
        ..Options::default()
    });
    let r = client()
        .post(svc.url("/webhooks/kapso"))
        .header("content-type", "application/json")
        .body(fixture("v2-text-received.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(svc.wait_for_log("UNSIGNED webhook"));
}

/// The wamid of `v2-audio-received.json` (Kapso's copy of a voice note, with its transcript).
const VOICE_WAMID: &str = "wamid.HBgNNjI4MTIzNDU2Nzg5MBUCABIYFjNFQjBBMUQ0QjZGMkE3QzlEMEE4AA==";
/// The lead of that fixture.
const VOICE_LEAD: &str = "+6281234567890";

/// The Meta-format copy of that voice note: no transcript, no media URL (what a Meta-kind
/// webhook delivers).
fn meta_voice_note() -> Vec<u8> {
    common::meta_voice_note(VOICE_WAMID)
}

/// The lead says hello first, so that the voice note is answered mid-conversation (a first
/// message only gets the greeting, whatever it says).
async fn start_conversation(svc: &Service, c: &reqwest::Client) {
    let hello = common::text_payload(VOICE_LEAD, "wamid.hello", "halo kak");
    let r = svc
        .post_signed(c, &hello, Some("whatsapp.message.received"), None)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    svc.wait_processed().await;
}

/// What the lead's turns read and what ARI answered: `(inbound texts, outbox bodies)`.
async fn read_and_replied(svc: &Service) -> (Vec<Option<String>>, Vec<String>) {
    use ari::store::Store;
    let outbox = svc.outbox_settled(VOICE_LEAD).await;
    let store = ari::store::sqlite::SqliteStore::open(&svc.db_path)
        .await
        .unwrap();
    let key = ari::store::ConversationKey {
        workspace_id: "default".into(),
        contact_phone: VOICE_LEAD.into(),
    };
    let messages = store.conversation_messages(&key).await.unwrap();
    store.close().await.unwrap();
    let inbound = messages
        .iter()
        .filter(|m| m.direction == ari::store::Direction::Inbound)
        .map(|m| m.text.clone())
        .collect();
    (inbound, outbox.into_iter().map(|r| r.body).collect())
}

/// Issue 16 item 3 (and issue 14's voice-note rule): a Meta-format copy of a voice note (no
/// transcript) arrives first, Kapso's v2 copy (with the transcript) second, before the turn:
/// the stored message is completed, and the turn reads the transcript instead of asking the
/// lead to type.
#[tokio::test]
async fn a_later_kapso_copy_gives_a_stored_voice_note_its_transcript() {
    let svc = Service::spawn_with(Options {
        debounce_ms: Some(1_500),
        ..Options::default()
    });
    let c = client();
    start_conversation(&svc, &c).await;
    let (_, greeted) = read_and_replied(&svc).await;
    let r = svc.post_signed(&c, &meta_voice_note(), None, None).await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = svc
        .post_signed(
            &c,
            &fixture("v2-audio-received.json"),
            Some("whatsapp.message.received"),
            Some("kapso-voice-1"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["stored"], 0, "stored once: {body}");
    assert_eq!(body["duplicates"], 1, "{body}");
    let rows = svc.wait_processed().await;
    assert_eq!(rows.len(), 2, "no enrichment row for a pending message");
    let (inbound, replies) = read_and_replied(&svc).await;
    assert_eq!(
        inbound,
        [
            Some("halo kak".to_string()),
            Some("IELTS saya 6.5 kak, paspor juga sudah ada".to_string())
        ]
    );
    assert!(replies.len() > greeted.len(), "the voice note was answered");
    assert!(
        replies.iter().all(|b| !b.contains("pesan suara")),
        "asked to type although the transcript came: {replies:?}"
    );
}

/// The Kapso copy arrives after the turn answered the Meta copy ("please type"): one enrichment
/// row is queued and a second turn answers the transcript; a further copy queues nothing.
#[tokio::test]
async fn a_kapso_copy_after_the_turn_queues_one_turn_for_the_transcript() {
    let svc = Service::spawn();
    let c = client();
    start_conversation(&svc, &c).await;
    svc.post_signed(&c, &meta_voice_note(), None, None).await;
    svc.wait_processed().await;
    let (_, first) = read_and_replied(&svc).await;
    assert!(
        first.iter().any(|b| b.contains("pesan suara")),
        "no transcript yet, so the lead is asked to type: {first:?}"
    );
    for key in ["kapso-voice-1", "kapso-voice-2"] {
        let r = svc
            .post_signed(
                &c,
                &fixture("v2-audio-received.json"),
                Some("whatsapp.message.received"),
                Some(key),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        svc.wait_processed().await;
    }
    let rows = svc.inbox().await;
    assert_eq!(rows.len(), 3, "hello, the voice note, one enrichment row");
    let (inbound, replies) = read_and_replied(&svc).await;
    assert_eq!(
        inbound,
        [
            Some("halo kak".to_string()),
            None,
            Some("IELTS saya 6.5 kak, paspor juga sudah ada".to_string())
        ]
    );
    assert!(replies.len() > first.len(), "the transcript was answered");
    assert!(
        replies[first.len()..]
            .iter()
            .all(|b| !b.contains("pesan suara")),
        "{replies:?}"
    );
}

/// Issue 16 item 1: a lone UTF-16 surrogate escape is valid JSON: the delivery is accepted, the
/// text reads U+FFFD, and the body is kept verbatim beside its rows. Not JSON is still a 400.
#[tokio::test]
async fn a_lone_surrogate_escape_is_read_as_a_replacement_character() {
    use ari::store::Store;
    let svc = Service::spawn();
    let c = client();
    let body = String::from_utf8(common::text_payload(VOICE_LEAD, "wamid.S", "halo kak MARK"))
        .unwrap()
        .replace("MARK", r"\ud83d");
    let r = svc
        .post_signed(
            &c,
            body.as_bytes(),
            Some("whatsapp.message.received"),
            Some("surrogate-1"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let rows = svc.inbox().await;
    let text = rows[0].event.message.as_ref().and_then(|m| m.text.clone());
    assert_eq!(text.as_deref(), Some("halo kak \u{FFFD}"));
    let store = ari::store::sqlite::SqliteStore::open(&svc.db_path)
        .await
        .unwrap();
    let kept = store.delivery_original_body("surrogate-1").await.unwrap();
    store.close().await.unwrap();
    assert_eq!(kept.as_deref(), Some(body.as_str()), "kept verbatim");
    let cut = &body.as_bytes()[..body.len() - 3];
    let r = svc.post_signed(&c, cut, None, Some("surrogate-2")).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "not JSON at all");
}

/// Issue 16 item 2: `X-Webhook-Batch: true` on a single event: the event is stored as itself,
/// and the mismatch is logged and counted.
#[tokio::test]
async fn a_batch_header_on_a_single_event_is_logged_counted_and_not_obeyed() {
    let svc = Service::spawn();
    let c = client();
    let body = fixture("v2-text-received.json");
    let r = c
        .post(svc.url("/webhooks/kapso"))
        .header("content-type", "application/json")
        .header(
            "x-webhook-signature",
            ari::ingress::signature::sign(SECRET.as_bytes(), &body),
        )
        .header("x-webhook-event", "whatsapp.message.received")
        .header("x-webhook-batch", "true")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let rows = svc.inbox().await;
    assert_eq!(kinds(&rows), [EventKind::Message]);
    assert!(svc.wait_for_log("X-Webhook-Batch does not match the body"));
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
            .any(|l| l.starts_with("ari_webhook_batch_header_mismatches_total{header=\"batch\"} 1")),
        "{metrics}"
    );
}

/// Issue 16 item 4: a legacy v1 payload (selected by `X-Webhook-Payload-Version: v1`) is read
/// as the message it is, and the start-up log recommends v2.
#[tokio::test]
async fn a_v1_payload_is_read_and_v2_is_recommended_at_start() {
    let svc = Service::spawn();
    assert!(svc.wait_for_log("payload version v2 is recommended"));
    let body = serde_json::to_vec(&json!({
        "message": {"id": "0f6a7c1e-kapso-record", "whatsapp_message_id": "wamid.V1",
                    "message_type": "text", "content": "halo kak", "direction": "inbound",
                    "origin": "cloud_api"},
        "conversation": {"id": "conv_1", "phone_number": "+6281234567890",
                         "whatsapp_config_id": "cfg-1"},
        "whatsapp_config": {"id": "cfg-1", "phone_number_id": "106540352242922"}
    }))
    .unwrap();
    let r = client()
        .post(svc.url("/webhooks/kapso"))
        .header("content-type", "application/json")
        .header(
            "x-webhook-signature",
            ari::ingress::signature::sign(SECRET.as_bytes(), &body),
        )
        .header("x-webhook-event", "whatsapp.message.received")
        .header("x-webhook-payload-version", "v1")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let rows = svc.inbox().await;
    assert_eq!(kinds(&rows), [EventKind::Message]);
    let m = rows[0].event.message.as_ref().unwrap();
    assert_eq!(
        (m.wamid.as_str(), m.text.as_deref()),
        ("wamid.V1", Some("halo kak"))
    );
    assert_eq!(
        rows[0].event.phone_number_id.as_deref(),
        Some("106540352242922")
    );
}

/// A Meta-format text message from +62 812-3456-7891, with `referral` when given.
fn meta_text(wamid: &str, text: &str, referral: Option<serde_json::Value>) -> Vec<u8> {
    let mut message = json!({"from": "6281234567891", "id": wamid, "timestamp": "1763605022",
                             "type": "text", "text": {"body": text}});
    if let Some(r) = referral {
        message["referral"] = r;
    }
    serde_json::to_vec(&json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "6281100099988",
                         "phone_number_id": "106540352242922"},
            "contacts": [{"wa_id": "6281234567891", "profile": {"name": "Rani"}}],
            "messages": [message]
        }}]}]
    }))
    .unwrap()
}

/// Issue 16 item 5: the click-to-WhatsApp ad of the lead's first message is the lead's source
/// (first touch: a later ad does not replace it). It is stored with the lead, shown in the
/// consultant's handoff summary and sent to the CRM webhook.
#[tokio::test]
async fn the_ad_a_lead_came_from_reaches_the_consultant_and_the_crm() {
    let svc = Service::spawn_with(Options {
        env: vec![
            (
                "ARI_CRM_WEBHOOK_URL".into(),
                "http://127.0.0.1:9/crm".into(),
            ),
            ("ARI_CRM_WEBHOOK_SECRET".into(), "crm-secret".into()),
        ],
        ..Options::default()
    });
    let c = client();
    let ad = json!({"source_url": "https://fb.me/3cr4Wqqkv", "source_id": "120212345678900",
                    "source_type": "ad", "headline": "Beasiswa S2 Australia 2027",
                    "body": "Konsultasi gratis!", "ctwa_clid": "ARAkLkA8rmlFeiCktEJQ-QTwRiyY"});
    let later = json!({"source_url": "https://fb.me/other", "source_id": "999",
                       "source_type": "ad", "headline": "Kursus IELTS Kilat"});
    let first = meta_text("wamid.ad-1", "halo kak, saya lihat iklannya", Some(ad));
    assert_eq!(
        svc.post_signed(&c, &first, None, None).await.status(),
        StatusCode::OK
    );
    svc.wait_processed().await;
    let second = meta_text("wamid.ad-2", "mau bicara dengan konsultan", Some(later));
    assert_eq!(
        svc.post_signed(&c, &second, None, None).await.status(),
        StatusCode::OK
    );
    svc.wait_processed().await;

    let rows = svc.outbox("+6281234567891").await;
    let notice = rows
        .iter()
        .find(|r| r.body.contains("Sumber lead"))
        .unwrap_or_else(|| panic!("no handoff notice with the lead source: {rows:#?}"));
    assert!(
        notice
            .body
            .contains("Sumber lead: Beasiswa S2 Australia 2027"),
        "{}",
        notice.body
    );
    assert!(
        !notice.body.contains("Kursus IELTS"),
        "first touch kept: {}",
        notice.body
    );
    let crm = rows
        .iter()
        .find(|r| r.body.contains("\"lead_source\""))
        .unwrap_or_else(|| panic!("no CRM event: {rows:#?}"));
    let event: serde_json::Value = serde_json::from_str(&crm.body).unwrap();
    assert_eq!(
        event["lead_source"]["ctwa_clid"],
        "ARAkLkA8rmlFeiCktEJQ-QTwRiyY"
    );
    assert_eq!(event["lead_source"]["source_id"], "120212345678900");
    assert!(event["lead_source"]["first_seen"].is_string(), "{event}");
}
