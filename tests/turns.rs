//! Black-box tests of turns end to end: the real binary, signed webhooks in, replies at a mock
//! Kapso API on loopback.

mod common;

use std::collections::{BTreeMap, HashMap};

use ari::store::OutboxState;
use common::kapso_mock::MockKapso;
use common::{Options, Service, assert_in_commit_order_once, fixture, text_payload};
use reqwest::StatusCode;

fn with_kapso(mock: &MockKapso) -> Options {
    Options {
        kapso: Some((mock.uri(), "test-kapso-key".into())),
        ..Options::default()
    }
}

const BUDI: &str = "+6281234567890";

#[tokio::test]
async fn a_text_gets_one_reply_to_the_right_number() {
    let mock = MockKapso::start().await;
    let svc = Service::spawn_with(with_kapso(&mock));
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
    svc.wait_processed().await;
    // Kapso answered; the sender records the outcome right after.
    let outbox = svc.outbox_settled(BUDI).await;
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].state, OutboxState::Sent);
    assert_eq!(mock.accepted().len(), 1, "{replies:#?}");
    let reply = &replies[0];
    assert_eq!(reply.to, "6281234567890");
    assert_eq!(reply.phone_number_id, "106540352242922");
    assert!(!reply.body.trim().is_empty());
    assert_eq!(
        outbox[0].kapso_message_id.as_deref(),
        Some(reply.message_id.as_str())
    );
    // The lead's message was marked read with a typing indicator.
    assert!(mock.mark_reads() >= 1);
}

#[tokio::test]
async fn a_batch_gets_one_reply_per_contact() {
    let mock = MockKapso::start().await;
    let svc = Service::spawn_with(with_kapso(&mock));
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
    svc.wait_processed().await;
    let mut to: Vec<_> = mock.accepted().into_iter().map(|a| a.to).collect();
    to.sort();
    assert_eq!(to, ["6281987654321", "6285678901234"], "{replies:#?}");
}

#[tokio::test]
async fn a_reaction_gets_no_reply() {
    let mock = MockKapso::start().await;
    let svc = Service::spawn_with(with_kapso(&mock));
    let c = reqwest::Client::new();
    svc.post_signed(
        &c,
        &fixture("v2-reaction-received.json"),
        Some("whatsapp.message.received"),
        None,
    )
    .await;
    let rows = svc.wait_processed().await;
    assert_eq!(rows.len(), 1);
    assert!(svc.outbox(BUDI).await.is_empty());
    assert!(mock.accepted().is_empty());
}

#[tokio::test]
async fn after_a_consultant_answers_from_the_phone_the_bot_stays_silent() {
    let mock = MockKapso::start().await;
    let svc = Service::spawn_with(with_kapso(&mock));
    let c = reqwest::Client::new();
    svc.post_signed(
        &c,
        &text_payload(BUDI, "wamid.A1", "halo kak"),
        Some("whatsapp.message.received"),
        None,
    )
    .await;
    mock.wait_for(1).await;
    svc.wait_processed().await;
    svc.post_signed(
        &c,
        &fixture("v2-business-app-sent.json"),
        Some("whatsapp.message.sent"),
        None,
    )
    .await;
    svc.wait_processed().await;
    for (i, text) in ["nama saya Budi", "halo?", "kak?"].iter().enumerate() {
        svc.post_signed(
            &c,
            &text_payload(BUDI, &format!("wamid.A{}", i + 2), text),
            Some("whatsapp.message.received"),
            None,
        )
        .await;
        svc.wait_processed().await;
    }
    assert_eq!(
        svc.outbox(BUDI).await.len(),
        1,
        "the bot answered after the takeover"
    );
    assert_eq!(mock.accepted().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_redeliveries_get_exactly_one_reply() {
    let mock = MockKapso::start().await;
    let svc = Service::spawn_with(with_kapso(&mock));
    let body = fixture("v2-text-received.json");
    let url = svc.url("/webhooks/kapso");
    let sig = ari::ingress::signature::sign(common::SECRET.as_bytes(), &body);
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let (url, body, sig) = (url.clone(), body.clone(), sig.clone());
            tokio::spawn(async move {
                reqwest::Client::new()
                    .post(url)
                    .header("content-type", "application/json")
                    .header("x-webhook-signature", sig)
                    // Half under one key, half under fresh keys: both dedup layers are used.
                    .header(
                        "x-idempotency-key",
                        if i % 2 == 0 {
                            "same".to_string()
                        } else {
                            format!("k{i}")
                        },
                    )
                    .body(body)
                    .send()
                    .await
                    .unwrap()
                    .status()
            })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::OK);
    }
    mock.wait_for(1).await;
    svc.wait_processed().await;
    assert_eq!(svc.inbox().await.len(), 1);
    assert_eq!(svc.outbox(BUDI).await.len(), 1);
    assert_eq!(mock.accepted().len(), 1);
}

#[tokio::test]
async fn ten_quick_messages_are_all_answered_in_order() {
    let mock = MockKapso::start().await;
    let svc = Service::spawn_with(with_kapso(&mock));
    let c = reqwest::Client::new();
    let texts = [
        "halo kak",
        "nama saya Budi Santoso",
        "email saya budi.santoso@gmail.com",
        "saya mau ke Australia",
        "IELTS saya 7.0",
        "budget sekitar 500 juta",
        "rencana berangkat tahun depan",
        "paspor ada",
        "cv sudah ada",
        "transkrip ada",
    ];
    for (i, t) in texts.iter().enumerate() {
        let r = svc
            .post_signed(
                &c,
                &text_payload(BUDI, &format!("wamid.Q{i}"), t),
                Some("whatsapp.message.received"),
                None,
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        tokio::time::sleep(std::time::Duration::from_millis(60)).await;
    }
    let rows = svc.wait_processed().await;
    assert_eq!(rows.len(), 10);
    // Every message was consumed by a turn (none left pending, none dropped).
    assert!(rows.iter().all(|r| r.state == ari::inbox::InboxState::Done));
    let outbox = svc.outbox(BUDI).await;
    assert!(!outbox.is_empty());
    mock.wait_for(outbox.len()).await;
    // Wait until every row is recorded as sent.
    let outbox = loop {
        let o = svc.outbox(BUDI).await;
        if o.iter().all(|r| r.state != OutboxState::Pending) {
            break o;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    };
    assert_in_commit_order_once(&mock, &outbox);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_thirty_percent_of_sends_failing_every_reply_arrives_once_in_order() {
    let mock = MockKapso::failing(vec![1, 4, 7]).await;
    let svc = Service::spawn_with(with_kapso(&mock));
    let c = reqwest::Client::new();
    let contacts = ["+6281111111101", "+6281111111102", "+6281111111103"];
    let texts = [
        "halo",
        "nama saya Sari",
        "email saya sari@example.com",
        "mau ke Jepang",
    ];
    for (i, t) in texts.iter().enumerate() {
        for (j, phone) in contacts.iter().enumerate() {
            svc.post_signed(
                &c,
                &text_payload(phone, &format!("wamid.F{i}{j}"), t),
                Some("whatsapp.message.received"),
                None,
            )
            .await;
        }
        // Let each round become its own turn.
        svc.wait_processed().await;
    }
    let mut total = 0;
    let mut per_contact: BTreeMap<&str, Vec<ari::store::OutboxRow>> = BTreeMap::new();
    for phone in contacts {
        let outbox = loop {
            let o = svc.outbox(phone).await;
            if !o.is_empty() && o.iter().all(|r| r.state != OutboxState::Pending) {
                break o;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        };
        total += outbox.len();
        per_contact.insert(phone, outbox);
    }
    assert_eq!(mock.accepted().len(), total);
    for outbox in per_contact.values() {
        assert_in_commit_order_once(&mock, outbox);
    }
    // Failures really happened and were retried.
    let retried = mock.attempts_by_key().values().filter(|n| **n > 1).count();
    assert!(
        retried > 0,
        "no send was retried: the failure injection did not bite"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_stream_loses_no_message_and_sends_no_reply_twice() {
    let mock = MockKapso::start().await;
    let mut svc = Service::spawn_with(with_kapso(&mock));
    let dir = std::sync::Arc::clone(&svc.dir);
    let c = reqwest::Client::new();
    let contacts = ["+6281222222201", "+6281222222202", "+6281222222203"];
    let texts = [
        "halo",
        "nama saya Rina",
        "email saya rina@example.com",
        "mau ke Belanda",
        "IELTS 6.5",
        "budget 400 juta",
    ];
    // What Kapso would do: redeliver until it gets a 200.
    let mut pending: Vec<(String, Vec<u8>)> = Vec::new();
    for (i, t) in texts.iter().enumerate() {
        for (j, phone) in contacts.iter().enumerate() {
            pending.push((
                format!("key-{i}-{j}"),
                text_payload(phone, &format!("wamid.K{i}{j}"), t),
            ));
        }
    }
    let mut delivered = 0;
    let mut killed = false;
    let mut queue = pending.clone();
    while let Some((key, body)) = queue.first().cloned() {
        if !killed && delivered == 9 {
            svc.kill();
            killed = true;
            svc = Service::spawn_with(Options {
                dir: Some(std::sync::Arc::clone(&dir)),
                ..with_kapso(&mock)
            });
        }
        let ok = svc
            .post_signed_result(&c, &body, Some("whatsapp.message.received"), Some(&key))
            .await
            .is_ok_and(|s| s == StatusCode::OK);
        if ok {
            queue.remove(0);
            delivered += 1;
        }
    }
    let rows = svc.wait_processed().await;
    assert_eq!(
        rows.len(),
        pending.len(),
        "an inbound message was lost or stored twice"
    );
    let mut total = 0;
    for phone in contacts {
        let outbox = loop {
            let o = svc.outbox(phone).await;
            if !o.is_empty() && o.iter().all(|r| r.state != OutboxState::Pending) {
                break o;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        };
        total += outbox.len();
        assert_in_commit_order_once(&mock, &outbox);
    }
    assert_eq!(mock.accepted().len(), total);
    let repeated: HashMap<_, _> = mock
        .attempts_by_key()
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .collect();
    assert!(
        repeated.is_empty(),
        "a reply was sent again after the restart: {repeated:?}"
    );
}

#[tokio::test]
async fn an_admin_hands_a_taken_over_conversation_back_to_the_bot() {
    let mock = MockKapso::start().await;
    let svc = Service::spawn_with(Options {
        extra_args: vec!["--admin-token".into(), "admin-secret".into()],
        ..with_kapso(&mock)
    });
    let c = reqwest::Client::new();
    svc.post_signed(
        &c,
        &text_payload(BUDI, "wamid.R1", "halo kak"),
        Some("whatsapp.message.received"),
        None,
    )
    .await;
    mock.wait_for(1).await;
    svc.wait_processed().await;
    svc.post_signed(
        &c,
        &fixture("v2-business-app-sent.json"),
        Some("whatsapp.message.sent"),
        None,
    )
    .await;
    svc.post_signed(
        &c,
        &text_payload(BUDI, "wamid.R2", "halo?"),
        Some("whatsapp.message.received"),
        None,
    )
    .await;
    svc.wait_processed().await;
    assert_eq!(
        svc.outbox(BUDI).await.len(),
        1,
        "answered during the takeover"
    );
    let conversation = svc.outbox(BUDI).await[0].conversation_id;
    let resume = |token: &str, id: i64| {
        c.post(svc.url(&format!("/admin/conversations/{id}/resume")))
            .bearer_auth(token)
            .send()
    };
    assert_eq!(
        resume("wrong", conversation).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        resume("admin-secret", 987_654).await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        resume("admin-secret", conversation).await.unwrap().status(),
        StatusCode::ACCEPTED
    );
    let replies = mock.wait_for(2).await;
    svc.wait_processed().await;
    assert_eq!(replies.len(), 2);
    // Back to the bot: the lead's next message is answered.
    svc.post_signed(
        &c,
        &text_payload(BUDI, "wamid.R3", "nama saya Budi"),
        Some("whatsapp.message.received"),
        None,
    )
    .await;
    mock.wait_for(3).await;
}

#[tokio::test]
async fn the_admin_api_is_off_without_a_token() {
    let svc = Service::spawn();
    let r = reqwest::Client::new()
        .post(svc.url("/admin/conversations/1/resume"))
        .bearer_auth("anything")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_kapso_workflow_handoff_silences_the_bot() {
    let mock = MockKapso::start().await;
    let svc = Service::spawn_with(with_kapso(&mock));
    let c = reqwest::Client::new();
    // The fixture's conversation is conv_7f3a9c, the same as the text fixture's.
    svc.post_signed(
        &c,
        &fixture("v2-text-received.json"),
        Some("whatsapp.message.received"),
        None,
    )
    .await;
    mock.wait_for(1).await;
    svc.wait_processed().await;
    svc.post_signed(
        &c,
        &fixture("workflow-execution-handoff.json"),
        Some("workflow.execution.handoff"),
        None,
    )
    .await;
    let rows = svc.wait_processed().await;
    assert_eq!(
        rows.last().unwrap().state,
        ari::inbox::InboxState::Done,
        "{rows:#?}"
    );
    svc.post_signed(
        &c,
        &text_payload(BUDI, "wamid.W2", "halo?"),
        Some("whatsapp.message.received"),
        None,
    )
    .await;
    svc.wait_processed().await;
    assert_eq!(
        svc.outbox(BUDI).await.len(),
        1,
        "the bot answered after the workflow handoff"
    );
}

/// The hot-lead dialogue through the real service: the consultant of the booked slot gets the
/// summary exactly once, the lead gets every reply.
#[tokio::test]
async fn the_booked_consultant_receives_the_summary_once() {
    let mock = MockKapso::start().await;
    let svc = Service::spawn_with(with_kapso(&mock));
    let c = reqwest::Client::new();
    let script: serde_json::Value = serde_json::from_slice(
        &std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/dialogues/hot-lead-books.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let lead = script["contact"]["phone"].as_str().unwrap();
    let mut sent = 0;
    for (i, turn) in script["turns"].as_array().unwrap().iter().enumerate() {
        let r = svc
            .post_signed(
                &c,
                &text_payload(lead, &format!("wamid.H{i}"), turn.as_str().unwrap()),
                Some("whatsapp.message.received"),
                None,
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        svc.wait_processed().await;
        let outbox = svc.outbox(lead).await;
        mock.wait_for(outbox.len()).await;
        assert!(outbox.len() > sent, "turn {i} ({turn}) got no reply");
        sent = outbox.len();
    }
    let accepted = mock.accepted();
    let to_consultant: Vec<_> = accepted
        .iter()
        .filter(|a| a.to == "6281111000002")
        .collect();
    assert_eq!(to_consultant.len(), 1, "{accepted:#?}");
    let notice = &to_consultant[0].body;
    assert!(notice.contains("konsultasi sudah dibooking"), "{notice}");
    assert!(notice.contains("Lead Score:"), "{notice}");
    assert!(notice.contains("Jadwal konsultasi:"), "{notice}");
    assert!(notice.contains(lead), "{notice}");
    let to_lead = accepted
        .iter()
        .filter(|a| a.to == lead.trim_start_matches('+'))
        .count();
    assert_eq!(to_lead + 1, accepted.len());
}

/// A handoff is posted to the CRM webhook, signed like Kapso signs ARI's webhooks, once: a 500
/// is retried with the same idempotency key until the CRM accepts it.
#[tokio::test]
async fn a_handoff_is_posted_to_the_crm_signed_and_retried_until_accepted() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let crm = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hooks/ari"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&crm)
        .await;
    Mock::given(method("POST"))
        .and(path("/hooks/ari"))
        .respond_with(ResponseTemplate::new(200))
        .with_priority(2)
        .mount(&crm)
        .await;
    let mock = MockKapso::start().await;
    let svc = Service::spawn_with(Options {
        extra_args: vec![
            "--crm-webhook-url".into(),
            format!("{}/hooks/ari", crm.uri()),
            "--crm-webhook-secret".into(),
            "crm-secret".into(),
        ],
        ..with_kapso(&mock)
    });
    let c = reqwest::Client::new();
    let lead = "+6287712345678";
    svc.post_signed(
        &c,
        &text_payload(lead, "wamid.C1", "halo"),
        Some("whatsapp.message.received"),
        None,
    )
    .await;
    svc.wait_processed().await;
    svc.post_signed(
        &c,
        &text_payload(
            lead,
            "wamid.C2",
            "saya mau bicara langsung dengan konsultan saja kak, bukan bot",
        ),
        Some("whatsapp.message.received"),
        None,
    )
    .await;
    svc.wait_processed().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let calls = loop {
        let calls = crm.received_requests().await.unwrap();
        if calls.len() >= 2 {
            break calls;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the CRM got {} calls",
            calls.len()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let webhook_rows = || async {
        svc.outbox(lead)
            .await
            .into_iter()
            .filter(|o| o.channel == ari::store::Channel::Webhook)
            .collect::<Vec<_>>()
    };
    // Recorded as delivered after the retry, and never called again.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while webhook_rows()
        .await
        .iter()
        .any(|o| o.state != OutboxState::Sent)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the CRM row was not recorded as sent"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(webhook_rows().await.len(), 1);
    assert_eq!(crm.received_requests().await.unwrap().len(), 2);
    let key = |r: &wiremock::Request| {
        r.headers
            .get("x-idempotency-key")
            .unwrap()
            .to_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        key(&calls[0]),
        key(&calls[1]),
        "the retry changed the idempotency key"
    );
    let last = &calls[1];
    let signature = last
        .headers
        .get("x-webhook-signature")
        .unwrap()
        .to_str()
        .unwrap();
    let secrets = ari::ingress::signature::WebhookSecrets::parse("crm-secret").unwrap();
    assert!(
        secrets.verify(&last.body, signature),
        "the CRM cannot verify the signature"
    );
    let body: serde_json::Value = serde_json::from_slice(&last.body).unwrap();
    assert_eq!(body["event"], "ari.lead.handoff");
    assert_eq!(body["reason"], "human_requested");
    assert_eq!(body["contact"]["phone"], lead);
}

/// An admin stores a knowledge entry through the admin API (on Convex, editing the table does
/// the same): the next question about it is answered from it, without a restart.
#[tokio::test]
async fn a_knowledge_entry_stored_by_an_admin_answers_the_next_question() {
    let mock = MockKapso::start().await;
    let svc = Service::spawn_with(Options {
        extra_args: vec!["--admin-token".into(), "admin-secret".into()],
        ..with_kapso(&mock)
    });
    let c = reqwest::Client::new();
    let put = |body: &'static str| {
        c.put(svc.url("/admin/knowledge/default/faq-asrama"))
            .bearer_auth("admin-secret")
            .body(body)
            .send()
    };
    let invalid = put("[[faq]]\nid = \"faq-asrama\"\ncategory = \"layanan\"\n")
        .await
        .unwrap();
    assert_eq!(invalid.status(), StatusCode::BAD_REQUEST);
    let error: serde_json::Value = invalid.json().await.unwrap();
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("store:default/faq-asrama"),
        "{error}"
    );
    let ok = put(
        "[[faq]]\nid = \"faq-asrama\"\ncategory = \"layanan\"\ntitle = \"Asrama mahasiswa kampus mitra\"\n\
         content = \"Asrama kampus mitra mulai Rp 3 juta per bulan, sudah termasuk listrik dan wifi.\"\n\
         keywords = [\"asrama\", \"dorm\", \"tempat tinggal\"]\n",
    )
    .await
    .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    svc.post_signed(
        &c,
        &text_payload(BUDI, "wamid.K1", "halo"),
        Some("whatsapp.message.received"),
        None,
    )
    .await;
    mock.wait_for(1).await;
    svc.wait_processed().await;
    svc.post_signed(
        &c,
        &text_payload(
            BUDI,
            "wamid.K2",
            "kak, berapa biaya asrama di kampus mitra?",
        ),
        Some("whatsapp.message.received"),
        None,
    )
    .await;
    let replies = mock.wait_for(2).await;
    assert!(
        replies[1].body.contains("Rp 3 juta per bulan"),
        "{}",
        replies[1].body
    );
}

/// The flow state of a contact's conversation, read through the store contract.
async fn flow_state(svc: &Service, phone: &str) -> Option<String> {
    use ari::store::Store;
    let store = ari::store::sqlite::SqliteStore::open(&svc.db_path)
        .await
        .expect("open store");
    let key = ari::store::ConversationKey {
        workspace_id: "default".into(),
        contact_phone: phone.into(),
    };
    let record = store.conversation_record(&key).await.expect("record");
    store.close().await.expect("close");
    record.and_then(|r| r.summary.flow_state)
}

/// Posts a text from `phone` and waits until it is processed.
async fn say(svc: &Service, c: &reqwest::Client, phone: &str, wamid: &str, text: &str) {
    svc.say(c, phone, wamid, text).await;
    svc.wait_processed().await;
}

#[tokio::test]
async fn an_admin_closes_a_handoff_and_the_next_message_starts_a_new_cycle() {
    let svc = Service::spawn_with(Options {
        extra_args: vec!["--admin-token".into(), "admin-secret".into()],
        ..Options::default()
    });
    let c = reqwest::Client::new();
    let lead = "+6281299887766";
    say(&svc, &c, lead, "wamid.X1", "halo kak").await;
    say(
        &svc,
        &c,
        lead,
        "wamid.X2",
        "saya mau bicara langsung dengan konsultan saja kak",
    )
    .await;
    assert_eq!(flow_state(&svc, lead).await.as_deref(), Some("handoff"));
    let conversation = svc.outbox(lead).await[0].conversation_id;
    let close = |token: &str, id: i64| {
        c.post(svc.url(&format!("/admin/conversations/{id}/close")))
            .bearer_auth(token)
            .send()
    };
    let r = close("wrong", conversation).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = close("admin-secret", 987_654).await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "no_conversation");
    let r = close("admin-secret", conversation).await.unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    svc.wait_processed().await;
    assert_eq!(flow_state(&svc, lead).await.as_deref(), Some("completed"));
    // The lead's next message starts a new cycle: greeted again, and the bot leads once more.
    let before = svc.outbox(lead).await.len();
    say(
        &svc,
        &c,
        lead,
        "wamid.X3",
        "halo kak, mau tanya lagi soal kuliah di Jepang",
    )
    .await;
    assert_eq!(flow_state(&svc, lead).await.as_deref(), Some("qualifying"));
    assert!(
        svc.outbox(lead).await.len() > before,
        "the new cycle's greeting"
    );
}

#[tokio::test]
async fn kapso_ending_a_conversation_closes_a_handoff_only_when_a_person_ended_it() {
    let svc = Service::spawn();
    let c = reqwest::Client::new();
    let lead = "+6281299887700";
    say(&svc, &c, lead, "wamid.E1", "halo kak").await;
    say(
        &svc,
        &c,
        lead,
        "wamid.E2",
        "bisa sambungkan ke konsultan? mau ngobrol langsung",
    )
    .await;
    assert_eq!(flow_state(&svc, lead).await.as_deref(), Some("handoff"));
    let ended = |last: &str| {
        serde_json::to_vec(&serde_json::json!({
            "conversation": {"id": format!("conv_{lead}"), "phone_number": lead, "status": "ended",
                "phone_number_id": "106540352242922",
                "last_active_at": last, "updated_at": "2026-11-25T10:00:00Z",
                "kapso": {"contact_name": "Lead", "last_message_timestamp": last}},
            "phone_number_id": "106540352242922"
        }))
        .unwrap()
    };
    // Ended by Kapso after a day of silence: the handoff stays.
    let r = svc
        .post_signed(
            &c,
            &ended("2026-11-24T09:00:00Z"),
            Some("whatsapp.conversation.ended"),
            Some("end-1"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    svc.wait_processed().await;
    assert_eq!(flow_state(&svc, lead).await.as_deref(), Some("handoff"));
    // Ended by an agent minutes after the last message: closed.
    svc.post_signed(
        &c,
        &ended("2026-11-25T09:55:00Z"),
        Some("whatsapp.conversation.ended"),
        Some("end-2"),
    )
    .await;
    svc.wait_processed().await;
    assert_eq!(flow_state(&svc, lead).await.as_deref(), Some("completed"));
}

#[tokio::test]
async fn a_consultants_own_number_is_recorded_and_never_answered() {
    let svc = Service::spawn();
    let c = reqwest::Client::new();
    // +6281111000001 is a consultant of the shipped flow's slots.
    let consultant = "+6281111000001";
    say(
        &svc,
        &c,
        consultant,
        "wamid.K1",
        "halo, ini Rina, tolong cek jadwal saya",
    )
    .await;
    say(
        &svc,
        &c,
        consultant,
        "wamid.K2",
        "nama saya Rina Wijaya, email rina@konsultan.id",
    )
    .await;
    let rows = svc.inbox().await;
    assert!(
        rows.iter().all(|r| r.state == ari::inbox::InboxState::Done),
        "{rows:#?}"
    );
    assert!(
        svc.outbox(consultant).await.is_empty(),
        "a consultant was answered"
    );
    assert_eq!(flow_state(&svc, consultant).await, None, "run as a lead");
    // A lead is still answered.
    say(&svc, &c, BUDI, "wamid.K3", "halo kak").await;
    assert_eq!(svc.outbox(BUDI).await.len(), 1);
}

/// A handed-off lead's message is relayed to the assigned consultant and posted to the CRM as
/// `ari.lead.message_relayed`, naming that consultant.
#[tokio::test]
async fn a_relay_goes_to_the_assigned_consultant_and_to_the_crm() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let crm = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hooks/ari"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&crm)
        .await;
    let svc = Service::spawn_with(Options {
        extra_args: vec![
            "--crm-webhook-url".into(),
            format!("{}/hooks/ari", crm.uri()),
            "--crm-webhook-secret".into(),
            "crm-secret".into(),
        ],
        ..Options::default()
    });
    let c = reqwest::Client::new();
    let lead = "+6287712340000";
    say(&svc, &c, lead, "wamid.Y1", "halo").await;
    say(
        &svc,
        &c,
        lead,
        "wamid.Y2",
        "saya mau bicara langsung dengan konsultan saja kak",
    )
    .await;
    say(
        &svc,
        &c,
        lead,
        "wamid.Y3",
        "kak saya tunggu ya, mau tanya soal visa",
    )
    .await;
    let notices: Vec<_> = svc
        .outbox(lead)
        .await
        .into_iter()
        .filter(|o| o.channel != ari::store::Channel::Webhook && o.to != lead)
        .collect();
    assert_eq!(
        notices.len(),
        2,
        "the handoff notice and the relay: {notices:#?}"
    );
    assert_eq!(
        notices[0].to, notices[1].to,
        "the relay goes to the assigned consultant"
    );
    assert!(
        notices[1].body.contains("mau tanya soal visa"),
        "{}",
        notices[1].body
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let relay = loop {
        let calls = crm.received_requests().await.unwrap();
        if let Some(r) = calls.iter().find(|r| {
            r.headers
                .get("x-webhook-event")
                .and_then(|v| v.to_str().ok())
                == Some("ari.lead.message_relayed")
        }) {
            break r.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no relay event: {} calls",
            calls.len()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let body: serde_json::Value = serde_json::from_slice(&relay.body).unwrap();
    assert_eq!(body["event"], "ari.lead.message_relayed");
    assert_eq!(body["contact"]["phone"], lead);
    assert_eq!(body["text"], "kak saya tunggu ya, mau tanya soal visa");
    assert_eq!(body["handoff_reason"], "human_requested");
    assert_eq!(body["consultant"]["whatsapp"], notices[1].to.as_str());
}

/// Chat history Kapso imports from the phone (origin `history_sync`) is stored and processed,
/// and never answered; the lead's live message after it is.
#[tokio::test]
async fn history_synced_messages_are_recorded_and_never_answered() {
    let svc = Service::spawn();
    let c = reqwest::Client::new();
    let lead = "+6287712349999";
    let mut old: serde_json::Value = serde_json::from_slice(&text_payload(
        lead,
        "wamid.H1",
        "kak, kemarin aku tanya beasiswa",
    ))
    .expect("json");
    old["message"]["kapso"]["origin"] = "history_sync".into();
    let r = svc
        .post_signed(
            &c,
            &serde_json::to_vec(&old).expect("json"),
            Some("whatsapp.message.received"),
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    svc.wait_processed().await;
    let rows = svc.inbox().await;
    assert!(
        rows.iter().all(|r| r.state == ari::inbox::InboxState::Done),
        "{rows:#?}"
    );
    assert!(svc.outbox(lead).await.is_empty(), "history was answered");
    say(&svc, &c, lead, "wamid.H2", "halo kak, mau tanya S2").await;
    assert_eq!(
        svc.outbox(lead).await.len(),
        1,
        "the live message is answered"
    );
}

/// Issue 18: a follow-up goes out exactly once across SIGKILLs. The lead is greeted, then the
/// service restarts 125 minutes later (`--clock-offset-minutes`: its whole clock moves, so the
/// rows the killed process left stay consistent): the follow-up pass queues the nudge at start.
/// Two processes are killed while it is queued, turned and sent; the third finishes: one nudge
/// row, sent once, and nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_around_a_follow_up_sends_it_exactly_once() {
    // The service's clock starts at the next 10:00 WIB, whatever the real time: quiet hours
    // (21:00-08:00 WIB) would otherwise move the nudge.
    let real = chrono::Utc::now();
    let wib = chrono::FixedOffset::east_opt(7 * 3600).unwrap();
    let ten = real
        .with_timezone(&wib)
        .date_naive()
        .succ_opt()
        .unwrap()
        .and_hms_opt(10, 0, 0)
        .unwrap();
    let start = ten
        .and_local_timezone(wib)
        .unwrap()
        .with_timezone(&chrono::Utc);
    let offset = (start - real).num_minutes();
    let mock = MockKapso::start().await;
    let at = |minutes: i64| Options {
        extra_args: vec![
            "--clock-offset-minutes".into(),
            (offset + minutes).to_string(),
        ],
        ..with_kapso(&mock)
    };
    let mut svc = Service::spawn_with(at(0));
    let dir = std::sync::Arc::clone(&svc.dir);
    let later = |minutes: i64| Options {
        dir: Some(std::sync::Arc::clone(&dir)),
        ..at(minutes)
    };
    let c = reqwest::Client::new();
    let phone = "+6281233300001";
    say(
        &svc,
        &c,
        phone,
        "wamid.FU1",
        "halo kak, mau kuliah S2 di UK",
    )
    .await;
    assert_eq!(svc.outbox_settled(phone).await.len(), 1, "the greeting");
    for wait_ms in [150, 700] {
        svc.kill();
        svc = Service::spawn_with(later(125));
        tokio::time::sleep(std::time::Duration::from_millis(wait_ms)).await;
    }
    svc.kill();
    svc = Service::spawn_with(later(126));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let rows = loop {
        let rows = svc.outbox_settled(phone).await;
        if rows.len() >= 2 {
            break rows;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no follow-up after 60 s: {rows:#?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    // Another second for anything queued twice to show up.
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let rows_after = svc.outbox_settled(phone).await;
    assert_eq!(rows_after.len(), 2, "{rows_after:#?}");
    assert_eq!(rows[1].state, OutboxState::Sent, "{:#?}", rows[1]);
    assert!(rows[1].body.contains("Masih ada waktu"), "{}", rows[1].body);
    let nudges: Vec<_> = mock
        .accepted()
        .into_iter()
        .filter(|a| a.body.contains("Masih ada waktu"))
        .collect();
    assert_eq!(nudges.len(), 1, "{nudges:#?}");
    assert_eq!(nudges[0].idempotency_key, rows[1].idempotency_key);
}

/// Issue 18: `GET /admin/conversations/{id}` shows the lead's state, the next follow-up and the
/// consent record; an opt-out clears the follow-up and shows its time. Then the contact is
/// erased (`DELETE /admin/contacts/{workspace}/{phone}`).
#[tokio::test]
async fn an_admin_sees_the_next_follow_up_and_the_consent_record() {
    let svc = Service::spawn_with(Options {
        extra_args: vec!["--admin-token".into(), "admin-secret".into()],
        ..Options::default()
    });
    let c = reqwest::Client::new();
    let phone = "+6281233300002";
    say(
        &svc,
        &c,
        phone,
        "wamid.A1",
        "halo kak, mau tanya kuliah di Jepang",
    )
    .await;
    let get = |id: i64, token: Option<&str>| {
        let mut r = c.get(svc.url(&format!("/admin/conversations/{id}")));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send()
    };
    assert_eq!(
        get(1, None).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get(99, Some("admin-secret")).await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    let shown: serde_json::Value = get(1, Some("admin-secret"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(shown["contact"], phone);
    assert_eq!(shown["state"], "qualifying");
    assert_eq!(shown["fields"]["country"]["value"], "Japan", "{shown}");
    assert_eq!(shown["consent"]["opted_out"], false);
    let last =
        chrono::DateTime::parse_from_rfc3339(shown["last_lead_message_at"].as_str().unwrap())
            .unwrap();
    let next = chrono::DateTime::parse_from_rfc3339(shown["next_followup"]["at"].as_str().unwrap())
        .unwrap();
    // 2 h after the message, or later when that falls in the quiet hours (21:00-08:00 WIB).
    assert!(next - last >= chrono::Duration::hours(2), "{shown}");
    assert!(next - last <= chrono::Duration::hours(13), "{shown}");
    assert_eq!(shown["next_followup"]["kind"], "nudge");
    say(&svc, &c, phone, "wamid.A2", "stop").await;
    let shown: serde_json::Value = get(1, Some("admin-secret"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(shown["consent"]["opted_out"], true, "{shown}");
    assert!(shown["consent"]["opted_out_at"].is_string(), "{shown}");
    assert!(shown["next_followup"].is_null(), "{shown}");
    // The lead asks to be forgotten (UU PDP): the contact is erased, the receipt counts rows.
    let erase = |phone: &str| {
        c.delete(svc.url(&format!("/admin/contacts/default/{phone}")))
            .bearer_auth("admin-secret")
            .send()
    };
    assert_eq!(
        erase("0812-bad").await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );
    let r = erase(phone).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let receipt: serde_json::Value = r.json().await.unwrap();
    assert_eq!(receipt["status"], "erased", "{receipt}");
    assert_eq!(receipt["conversation_id"], 1, "{receipt}");
    assert!(receipt["messages"].as_u64() >= Some(4), "{receipt}");
    assert_eq!(erase(phone).await.unwrap().status(), StatusCode::NOT_FOUND);
    let shown: serde_json::Value = get(1, Some("admin-secret"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(shown["contact"], "erased:1", "{shown}");
    assert!(shown["fields"].is_null(), "{shown}");
}

/// A Meta-format `user_preferences` delivery: the lead `wa_id` (digits) stopped or resumed
/// marketing messages (Meta's webhook field, as its reference shows it).
fn user_preferences(wa_id: &str, value: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "user_preferences", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "6281100099988", "phone_number_id": "106540352242922"},
            "contacts": [{"wa_id": wa_id, "profile": {"name": "Lead"}}],
            "user_preferences": [{"wa_id": wa_id, "detail": "User requested to stop marketing messages",
                "category": "marketing_messages", "value": value, "timestamp": 1764576000}]
        }}]}]
    }))
    .expect("json")
}

/// Issue 18: a send WhatsApp refuses with 131050 (the lead stopped marketing messages) is
/// recorded on the consent record like an opt-out; Meta's `user_preferences` webhook resumes
/// and stops it again. The admin view shows each change.
#[tokio::test]
async fn marketing_stops_and_resumes_update_the_consent_record() {
    let mock = MockKapso::start().await;
    let svc = Service::spawn_with(Options {
        extra_args: vec!["--admin-token".into(), "admin-secret".into()],
        ..with_kapso(&mock)
    });
    let c = reqwest::Client::new();
    let phone = "+6281233300003";
    mock.answer(phone, common::kapso_mock::Answer::Refuse(131_050), Some(1));
    say(&svc, &c, phone, "wamid.M1", "halo kak").await;
    let opted_out = || async {
        let view: serde_json::Value = c
            .get(svc.url("/admin/conversations/1"))
            .bearer_auth("admin-secret")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        view["consent"]["opted_out"].as_bool().unwrap_or(false)
    };
    let wait_for = |wanted: bool| async move {
        for _ in 0..300 {
            if opted_out().await == wanted {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the consent record never became opted_out = {wanted}");
    };
    wait_for(true).await;
    for (value, wanted) in [("resume", false), ("stop", true)] {
        let r = svc
            .post_signed(&c, &user_preferences("6281233300003", value), None, None)
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        wait_for(wanted).await;
    }
    // Nothing of this was answered: the only message to the lead is the refused greeting.
    assert!(mock.accepted().iter().all(|a| a.to != phone));
}
