//! The LLM client against a mock OpenAI-compatible server (wiremock on loopback): what the
//! requests carry, the errors that map to the template fallback (asserted by request counts,
//! not wall-clock), the one retry on 429, the sticky A/B split, the typing keepalive.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ari::config::flow::{FlowConfig, load_file};
use ari::flow::extract::{ExtractContext, extract as rule_extract};
use ari::flow::turn::StageSnapshot;
use ari::flow::{FieldValue, Reply, SlotOption, Snapshot};
use ari::llm::guard::Rejection;
use ari::llm::{
    ChatMessage, ExtractRequest, Llm, LlmConfig, LlmError, ReplyRequest, keep_typing, merge,
};
use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY_ENV: &str = "TEST_LLM_KEY";
const KEY: &str = "sk-test-not-a-real-key";

fn env(name: &str) -> Option<String> {
    (name == KEY_ENV).then(|| KEY.to_string())
}

/// One arm against `server`, with a short timeout so a hanging mock ends quickly.
fn llm(server: &MockServer, timeout_ms: u64) -> Llm {
    let toml = format!(
        r#"
        budget_ms = 10000
        [[arm]]
        name = "mock"
        base_url = "{}/v1"
        model = "test-model-1"
        api_key_env = "{KEY_ENV}"
        temperature = 0.5
        max_tokens = 123
        weight = 1
        timeout_ms = {timeout_ms}
        "#,
        server.uri()
    );
    Llm::new(LlmConfig::parse(&toml, env).unwrap()).unwrap()
}

fn completion(content: &str) -> Value {
    json!({
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1_764_000_000,
        "model": "test-model-1-2026",
        "choices": [{
            "index": 0,
            "message": { "role": "assistant", "content": content },
            "finish_reason": "stop"
        }],
        "usage": { "prompt_tokens": 321, "completion_tokens": 12, "total_tokens": 333 }
    })
}

fn cfg() -> FlowConfig {
    load_file(&Path::new(env!("CARGO_MANIFEST_DIR")).join("state-machines/ari.toml")).unwrap()
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 2, 30, 0).unwrap()
}

fn slots() -> Vec<SlotOption> {
    (0..2)
        .map(|i| SlotOption {
            id: format!("2026-11-27T{:02}:00@+6281111000002", 9 + i),
            start: Utc.with_ymd_and_hms(2026, 11, 27, 2 + i, 0, 0).unwrap(),
            duration_minutes: 60,
            consultant_name: "Kak Rina".into(),
            consultant_whatsapp: "+6281111000002".into(),
        })
        .collect()
}

/// A booking-stage request for a lead with data, like the turn builds for `AskLlm`.
fn booking_request() -> ReplyRequest {
    let mut snapshot = Snapshot::new();
    snapshot.stage = StageSnapshot::Booking;
    snapshot
        .lead
        .fields
        .insert("name".into(), FieldValue::Known("Budi Santoso".into()));
    snapshot
        .lead
        .fields
        .insert("country".into(), FieldValue::Known("Australia".into()));
    let fallback = Reply {
        template: "booking.offer".into(),
        values: BTreeMap::from([(
            "question".to_string(),
            "Mau dijadwalkan konsultasi kak?".to_string(),
        )]),
        text: "Mau dijadwalkan konsultasi dengan konsultan kami kak?".into(),
    };
    ReplyRequest::for_ask_llm(
        "+6281234567890",
        &snapshot,
        &cfg(),
        "Tawarkan konsultasi.",
        &fallback,
        None,
        Some(&slots()),
        vec![
            ChatMessage::assistant("Data kamu sudah lengkap kak."),
            ChatMessage::lead("oke, terus gimana kak?"),
        ],
        now(),
    )
}

async fn requests(server: &MockServer) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

#[tokio::test]
async fn reply_request_carries_model_lead_data_and_slot_ids() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(completion("Mau konsultasi Jumat jam 9 atau jam 10 kak?")),
        )
        .expect(1)
        .mount(&server)
        .await;
    let llm = llm(&server, 2_000);
    let reply = llm.reply(&booking_request()).await.unwrap();
    assert_eq!(reply.text, "Mau konsultasi Jumat jam 9 atau jam 10 kak?");
    assert_eq!(reply.arm, "mock");
    assert_eq!(reply.model, "test-model-1-2026");
    assert_eq!(reply.prompt_tokens, Some(321));
    assert_eq!(reply.completion_tokens, Some(12));

    let bodies = requests(&server).await;
    assert_eq!(bodies.len(), 1);
    let body = &bodies[0];
    assert_eq!(body["model"], "test-model-1");
    assert_eq!(body["max_tokens"], 123);
    assert!((body["temperature"].as_f64().unwrap() - 0.5).abs() < 1e-6);
    assert!(body.get("response_format").is_none());
    let messages = body["messages"].as_array().unwrap();
    assert_eq!(messages[0]["role"], "system");
    let system = messages[0]["content"].as_str().unwrap();
    assert!(system.contains("Budi Santoso") && system.contains("Australia"));
    for s in slots() {
        assert!(system.contains(&s.id), "slot id {} not in the prompt", s.id);
    }
    assert!(system.contains("Mau dijadwalkan konsultasi kak?"));
    // History in order, the lead's message last.
    assert_eq!(messages[1]["role"], "assistant");
    assert_eq!(messages[2]["role"], "user");
    assert_eq!(messages[2]["content"], "oke, terus gimana kak?");
    assert_eq!(messages.len(), 3);
    // The contact's number never goes to the model.
    assert!(!body.to_string().contains("6281234567890"));
}

#[tokio::test]
async fn extraction_sends_the_json_schema_and_validates_the_answer() {
    let server = MockServer::start().await;
    let answer = json!({
        "name": null,
        "email": {"value": "Budi.S@Mail.com", "span": "email saya Budi.S@Mail.com"},
        "english_level": {"value": "IELTS 11", "span": "IELTS 11"},
        "budget": {"value": "sekitar 300 juta", "span": "budget sekitar 300an juta"},
        "timeline": null,
        "country": {"value": "Kanada", "span": "Kanada"},
        "program": null,
        "activity": null
    })
    .to_string();
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(body_partial_json(json!({
            "model": "test-model-1",
            "temperature": 0.0,
            "response_format": {
                "type": "json_schema",
                "json_schema": {
                    "name": "lead_fields",
                    "strict": true,
                    "schema": { "type": "object", "additionalProperties": false }
                }
            }
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion(&answer)))
        .expect(1)
        .mount(&server)
        .await;
    let llm = llm(&server, 2_000);

    let mut snapshot = Snapshot::new();
    snapshot.stage = StageSnapshot::Qualifying;
    snapshot
        .lead
        .fields
        .insert("country".into(), FieldValue::Known("Australia".into()));
    let latest = "email saya Budi.S@Mail.com, budget sekitar 300an juta lah";
    let req = ExtractRequest::for_turn(
        "+6281234567890",
        &snapshot,
        &cfg(),
        vec![ChatMessage::assistant("Email yang aktif apa kak?")],
        vec![latest.into()],
        now(),
    );
    let got = llm.extract(&req).await.unwrap();
    assert_eq!(
        got.fields.get("email").map(String::as_str),
        Some("budi.s@mail.com")
    );
    // The lead never wrote "Kanada": an invented value is dropped (issue 21 item 5).
    assert!(!got.fields.contains_key("country"), "{:?}", got.fields);
    assert!(got.rejected.contains_key("country"), "{:?}", got.rejected);
    assert!(
        got.rejected.contains_key("english_level"),
        "IELTS 11 is out of range"
    );

    let body = &requests(&server).await[0];
    let schema = &body["response_format"]["json_schema"]["schema"];
    assert_eq!(schema["required"].as_array().unwrap().len(), 8);
    let user = body["messages"][1]["content"].as_str().unwrap();
    assert!(user.contains("PESAN TERBARU") && user.contains(latest));

    // Merged with the rules: the rules' email wins, the known country stays, the model's
    // budget phrase fills nothing the rules already found.
    let rules = rule_extract(
        latest,
        ExtractContext {
            pending: None,
            current_year: 2026,
            opening: false,
        },
    );
    let merged = merge(&rules, &got.fields, &snapshot.lead.fields);
    assert_eq!(
        merged.fields.get("email"),
        rules.fields.get("email"),
        "rules win"
    );
    assert!(
        !merged.fields.contains_key("country"),
        "known country not overridden"
    );
}

#[tokio::test]
async fn a_timeout_is_a_fallback_error_after_one_request() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(completion("too late"))
                .set_delay(Duration::from_secs(5)),
        )
        .mount(&server)
        .await;
    let llm = llm(&server, 200);
    let err = llm.reply(&booking_request()).await.unwrap_err();
    assert!(matches!(err, LlmError::Timeout { ms: 200 }), "{err:?}");
    // A timeout is not retried (async-openai retries only 429, 5xx and connect errors).
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test]
async fn a_500_is_retried_once_then_falls_back() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500).set_body_string("upstream exploded"))
        .mount(&server)
        .await;
    let llm = llm(&server, 2_000);
    let err = llm.reply(&booking_request()).await.unwrap_err();
    assert!(
        matches!(err, LlmError::Status { status: 500, .. }),
        "{err:?}"
    );
    assert_eq!(
        requests(&server).await.len(),
        2,
        "one try plus exactly one retry"
    );
}

#[tokio::test]
async fn an_empty_answer_falls_back_without_retry() {
    for body in [
        completion(""),
        completion("   \n "),
        json!({"id": "x", "object": "chat.completion", "created": 1, "model": "m", "choices": []}),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(&server)
            .await;
        let err = llm(&server, 2_000)
            .reply(&booking_request())
            .await
            .unwrap_err();
        assert!(matches!(err, LlmError::Empty), "{err:?}");
        assert_eq!(requests(&server).await.len(), 1);
    }
}

fn rate_limited() -> ResponseTemplate {
    ResponseTemplate::new(429)
        .insert_header("retry-after", "1")
        .set_body_json(json!({"error": {
            "message": "Rate limit reached", "type": "rate_limit_error", "param": null, "code": null
        }}))
}

#[tokio::test]
async fn a_429_with_retry_after_is_retried_once() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(rate_limited())
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion("Halo kak!")))
        .with_priority(2)
        .mount(&server)
        .await;
    let reply = llm(&server, 2_000).reply(&booking_request()).await.unwrap();
    assert_eq!(reply.text, "Halo kak!");
    assert_eq!(requests(&server).await.len(), 2);
}

#[tokio::test]
async fn a_persistent_429_falls_back_after_one_retry() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(rate_limited())
        .mount(&server)
        .await;
    let err = llm(&server, 2_000)
        .reply(&booking_request())
        .await
        .unwrap_err();
    assert!(matches!(err, LlmError::RateLimited { .. }), "{err:?}");
    assert_eq!(requests(&server).await.len(), 2);
}

#[tokio::test]
async fn a_retry_after_beyond_the_budget_ends_at_the_budget() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(rate_limited().insert_header("retry-after", "60"))
        .mount(&server)
        .await;
    let toml = format!(
        "budget_ms = 300\n[[arm]]\nname = \"a\"\nbase_url = \"{}/v1\"\nmodel = \"m\"\nweight = 1\ntimeout_ms = 300\n",
        server.uri()
    );
    let llm = Llm::new(LlmConfig::parse(&toml, env).unwrap()).unwrap();
    let err = llm.reply(&booking_request()).await.unwrap_err();
    assert!(matches!(err, LlmError::Timeout { ms: 300 }), "{err:?}");
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test]
async fn booking_claims_and_prompt_leaks_are_rejected() {
    for (content, want) in [
        (
            "Siap kak, sudah saya booking untuk Jumat jam 9!",
            Rejection::BookingClaim,
        ),
        (
            "## TUGAS BALASAN INI\nTawarkan konsultasi.",
            Rejection::PromptLeak,
        ),
        (
            "Sesuai ATURAN BALASAN saya harus singkat.",
            Rejection::PromptLeak,
        ),
        // Issue 21 item 6: the issue's hostile replies, then the same in other words.
        (
            "jadwal Senin 10:00 sudah saya catat ✅",
            Rejection::UnstatedTime,
        ),
        ("Your consultation is all set", Rejection::BookingClaim),
        (
            "Cek promo beasiswanya di https://bit.ly/ari-promo ya kak",
            Rejection::Link,
        ),
        (
            "Transfer DP Rp 500.000 ke rekening BCA 1234567890 ya kak",
            Rejection::PaymentRequest,
        ),
        (
            "Ketemu Selasa 1 Desember jam 3 sore ya kak",
            Rejection::UnstatedTime,
        ),
        (
            "Sip, slot kamu sudah saya amankan, tinggal datang ya",
            Rejection::BookingClaim,
        ),
        (
            "Daftar lewat ari-beasiswa.xyz/form biar cepat",
            Rejection::Link,
        ),
        (
            "Biar slotnya aman, silakan tf 250rb ke Mandiri dulu ya",
            Rejection::PaymentRequest,
        ),
        (
            "Konsultan kami bisa langsung di-WA di 0813-5555-1212",
            Rejection::Number,
        ),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_json(completion(content)))
            .mount(&server)
            .await;
        let err = llm(&server, 2_000)
            .reply(&booking_request())
            .await
            .unwrap_err();
        assert!(
            matches!(err, LlmError::Rejected(r) if r == want),
            "{content}: {err:?}"
        );
    }
}

/// Allowed by the reply check: a free consultation, the shown slots' day and time, the
/// configured consultant's number.
#[tokio::test]
async fn a_reply_naming_only_allowed_things_goes_out() {
    for content in [
        "Konsultasinya gratis kok kak, mau dijadwalkan Jumat jam 9?",
        "The consultation is free. Friday 27 Nov at 10:00 works?",
        "Atau hubungi Kak Rina langsung di +62 811-1100-0001 ya",
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_json(completion(content)))
            .mount(&server)
            .await;
        let reply = llm(&server, 2_000).reply(&booking_request()).await;
        assert_eq!(reply.map(|r| r.text).ok().as_deref(), Some(content));
    }
}

#[tokio::test]
async fn an_overlong_reply_is_cut_to_whatsapps_limit() {
    let server = MockServer::start().await;
    let long = "Kalimat panjang tentang kuliah di Australia. ".repeat(150);
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion(&long)))
        .mount(&server)
        .await;
    let reply = llm(&server, 2_000).reply(&booking_request()).await.unwrap();
    assert!(reply.text.chars().count() <= 4096);
    assert!(reply.text.ends_with('.'));
}

/// The breaker against the mock: one failed call (`breaker_failures = 1`) opens it, the next
/// call sends no request, and after the cool-down one trial call that succeeds closes it.
/// The cool-down is 2 s of real time (reqwest's own timers cannot run on paused time); the
/// test only waits past it and asserts request counts and states, never durations.
#[tokio::test]
async fn the_breaker_skips_a_failing_arm_then_one_trial_closes_it() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(503).set_body_string("down"))
        .mount(&server)
        .await;
    let toml = format!(
        "breaker_failures = 1\nbreaker_cooldown_ms = 2000\n[[arm]]\nname = \"mock\"\nbase_url = \"{}/v1\"\nmodel = \"m\"\nweight = 1\ntimeout_ms = 2000\n",
        server.uri()
    );
    let llm = Llm::new(LlmConfig::parse(&toml, env).unwrap()).unwrap();
    let state = |llm: &Llm| llm.breakers()[0].1;
    assert!(matches!(
        llm.reply(&booking_request()).await,
        Err(LlmError::Status { status: 503, .. })
    ));
    let failed_requests = requests(&server).await.len();
    assert_eq!(state(&llm), ari::llm::BreakerState::Open);
    let skipped = llm.reply(&booking_request()).await.unwrap_err();
    assert!(matches!(skipped, LlmError::BreakerOpen { .. }), "{skipped}");
    assert_eq!(skipped.kind(), "breaker_open");
    assert_eq!(
        requests(&server).await.len(),
        failed_requests,
        "no request while open"
    );

    tokio::time::sleep(Duration::from_millis(2_100)).await;
    assert_eq!(state(&llm), ari::llm::BreakerState::HalfOpen);
    server.reset().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion("Halo kak!")))
        .mount(&server)
        .await;
    assert_eq!(
        llm.reply(&booking_request()).await.unwrap().text,
        "Halo kak!"
    );
    assert_eq!(requests(&server).await.len(), 1, "one trial call");
    assert_eq!(state(&llm), ari::llm::BreakerState::Closed);
}

#[tokio::test]
async fn a_refused_connection_is_a_fallback_error() {
    // Bind then drop a listener: nothing listens on that loopback port any more.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let toml = format!(
        "[[arm]]\nname = \"a\"\nbase_url = \"http://127.0.0.1:{port}/v1\"\nmodel = \"m\"\nweight = 1\ntimeout_ms = 1000\n"
    );
    let llm = Llm::new(LlmConfig::parse(&toml, env).unwrap()).unwrap();
    let err = llm.reply(&booking_request()).await.unwrap_err();
    assert!(matches!(err, LlmError::Transport(_)), "{err:?}");
}

#[test]
fn arm_assignment_is_sticky_and_near_the_configured_split() {
    let two = |w1: u32, w2: u32| {
        let toml = format!(
            "[[arm]]\nname = \"grok\"\nbase_url = \"https://api.x.ai/v1\"\nmodel = \"grok-3\"\nweight = {w1}\n\
             [[arm]]\nname = \"local\"\nbase_url = \"http://localhost:11434/v1\"\nmodel = \"llama3.1\"\nweight = {w2}\n"
        );
        Llm::new(LlmConfig::parse(&toml, env).unwrap()).unwrap()
    };
    for (w1, w2) in [(50, 50), (70, 30), (1, 3)] {
        let llm = two(w1, w2);
        let again = two(w1, w2);
        let mut grok = 0usize;
        for n in 0..10_000 {
            let contact = format!("+62812{n:08}");
            let arm = llm.arm_for(&contact);
            assert_eq!(arm, llm.arm_for(&contact), "same contact, same arm");
            assert_eq!(arm, again.arm_for(&contact), "same config, same arm");
            if arm == "grok" {
                grok += 1;
            }
        }
        let share = grok as f64 / 10_000.0;
        let want = f64::from(w1) / f64::from(w1 + w2);
        assert!(
            (share - want).abs() <= 0.03,
            "weights {w1}/{w2}: grok got {share:.3}, want {want:.3} ± 0.03"
        );
    }
    // Formatting does not move a contact.
    let llm = two(50, 50);
    assert_eq!(
        llm.arm_for("+62 812-3456-7890"),
        llm.arm_for("6281234567890")
    );
}

#[tokio::test(start_paused = true)]
async fn typing_indicator_is_refreshed_every_20_s_while_the_call_runs() {
    let refreshed = Arc::new(AtomicUsize::new(0));
    let r = refreshed.clone();
    let out = keep_typing(
        async {
            tokio::time::sleep(Duration::from_secs(65)).await;
            42
        },
        ari::llm::TYPING_REFRESH,
        move || {
            let r = r.clone();
            async move {
                r.fetch_add(1, Ordering::SeqCst);
            }
        },
    )
    .await;
    assert_eq!(out, 42);
    // At 20, 40 and 60 s.
    assert_eq!(refreshed.load(Ordering::SeqCst), 3);

    // A fast call never refreshes.
    let n = Arc::new(AtomicUsize::new(0));
    let n2 = n.clone();
    keep_typing(async {}, ari::llm::TYPING_REFRESH, move || {
        let n = n2.clone();
        async move {
            n.fetch_add(1, Ordering::SeqCst);
        }
    })
    .await;
    assert_eq!(n.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn per_arm_metrics_reach_the_prometheus_text() {
    let handle = ari::telemetry::metrics_handle();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion("")))
        .mount(&server)
        .await;
    let llm = llm(&server, 2_000);
    let _ = llm.reply(&booking_request()).await;
    llm.record_new_lead("+6281234567890");
    llm.record_booking("+6281234567890");
    let text = handle.render();
    for needle in [
        r#"ari_llm_calls_total{arm="mock",call="reply"}"#,
        r#"ari_llm_errors_total{arm="mock",call="reply",kind="empty"}"#,
        r#"ari_llm_fallbacks_total{arm="mock",reason="empty"}"#,
        r#"ari_llm_leads_total{arm="mock"}"#,
        r#"ari_llm_bookings_total{arm="mock"}"#,
        "ari_llm_latency_seconds",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
}

#[test]
fn no_file_means_no_llm_and_keys_never_print() {
    let dir = tempfile::tempdir().unwrap();
    assert!(Llm::load(&dir.path().join("llm.toml")).unwrap().is_none());
    let toml = format!(
        "[[arm]]\nname = \"a\"\nbase_url = \"https://api.openai.com/v1\"\nmodel = \"gpt-4o-mini\"\napi_key_env = \"{KEY_ENV}\"\nweight = 1\n"
    );
    let llm = Llm::new(LlmConfig::parse(&toml, env).unwrap()).unwrap();
    assert!(!format!("{llm:?}").contains(KEY));
}

#[test]
fn the_example_config_parses() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("state-machines/llm.example.toml"),
    )
    .unwrap();
    let c = LlmConfig::parse(&text, |_| Some("x".into())).unwrap();
    assert!(!c.arms.is_empty());
}

/// `ari check-config DIR` validates `DIR/llm.toml` too: a turn budget closer than 10 s to the
/// 60 s turn lease is refused, naming the key.
#[test]
fn check_config_refuses_a_turn_budget_near_the_turn_lease() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        root.join("state-machines/ari.toml"),
        dir.path().join("ari.toml"),
    )
    .unwrap();
    let check = |turn_budget_ms: u64| {
        let toml = format!(
            "turn_budget_ms = {turn_budget_ms}\n[[arm]]\nname = \"a\"\nbase_url = \"http://127.0.0.1:9/v1\"\nmodel = \"m\"\nweight = 1\n"
        );
        std::fs::write(dir.path().join("llm.toml"), toml).unwrap();
        std::process::Command::new(env!("CARGO_BIN_EXE_ari"))
            .arg("check-config")
            .arg(dir.path())
            .output()
            .unwrap()
    };
    let ok = check(50_000);
    assert_eq!(ok.status.code(), Some(0), "{ok:?}");
    assert!(String::from_utf8_lossy(&ok.stdout).contains("turn budget 50000 ms"));
    let near = check(50_001);
    assert_eq!(near.status.code(), Some(1));
    let err = String::from_utf8_lossy(&near.stderr);
    assert!(
        err.contains("llm.toml") && err.contains("turn_budget_ms 50001"),
        "{err}"
    );
}

#[test]
fn the_library_can_be_shared_across_tasks() {
    fn shared<T: Send + Sync + 'static>() {}
    fn send<T: Send>(_: &T) {}
    shared::<Llm>();
    let server_less = Llm::new(
        LlmConfig::parse(
            "[[arm]]\nname = \"a\"\nbase_url = \"http://127.0.0.1:9/v1\"\nmodel = \"m\"\nweight = 1\n",
            env,
        )
        .unwrap(),
    )
    .unwrap();
    let req = booking_request();
    // The worker awaits these inside `tokio::spawn`: the futures must be Send.
    let reply = server_less.reply(&req);
    send(&reply);
    drop(reply);
    let ex = ExtractRequest::for_turn("+62811", &Snapshot::new(), &cfg(), vec![], vec![], now());
    let extract = server_less.extract(&ex);
    send(&extract);
}

#[tokio::test]
async fn an_ask_llm_effect_from_a_real_turn_becomes_a_reply() {
    use ari::flow::{Effect, TurnInput, run_turn};
    let cfg = cfg();
    let text = "halo kak, biaya kuliah di Australia berapa ya?";
    let out = run_turn(&Snapshot::new(), &TurnInput::text(now(), text), &cfg);
    let (instruction, fallback) = out
        .effects
        .iter()
        .find_map(|e| match e {
            Effect::AskLlm {
                instruction,
                fallback,
            } => Some((instruction.clone(), fallback.clone())),
            _ => None,
        })
        .expect("a knowledge question asks the LLM");
    let req = ReplyRequest::for_ask_llm(
        "+6281234567890",
        &out.snapshot,
        &cfg,
        &instruction,
        &fallback,
        None,
        None,
        vec![ChatMessage::lead(text)],
        now(),
    );
    assert_eq!(req.stage.as_str(), "greeting");
    assert!(!req.question.is_empty());

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion(
            "Selamat pagi kak! Biaya kuliah di Australia bervariasi. Boleh tau nama lengkapnya?",
        )))
        .mount(&server)
        .await;
    let reply = llm(&server, 2_000).reply(&req).await.unwrap();
    assert!(reply.text.starts_with("Selamat pagi"));
    let body = &requests(&server).await[0];
    let system = body["messages"][0]["content"].as_str().unwrap();
    assert!(system.contains(&req.question) && system.contains(&instruction));
}
