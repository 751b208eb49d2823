//! Black-box tests of issue 20 ("every outbound message arrives or is reported"): the real
//! binary, signed webhooks in, a mock Kapso API that refuses what WhatsApp refuses, and the
//! outbox read back from the store. Each test runs on both stores: the SQLite file, and Convex
//! on the local Convex server (`tests/convex-server/`, Node required).
//!
//! Timing comes from small settings (`--outbox-max-attempts 2`), never from wall-clock
//! assertions: the tests wait for states, with generous deadlines.

mod common;

use std::time::{Duration, Instant};

use ari::store::convex::ConvexStore;
use ari::store::{Channel, ConversationKey, FailReason, OutboxRow, OutboxState, Store};
use common::convex as convex_server;
use common::kapso_mock::{Answer, MockKapso};
use common::{Options, Service, text_payload};
use reqwest::StatusCode;

const ADMIN: &str = "admin-secret";

/// Which store the service runs on.
#[derive(Clone, Copy)]
enum Backend {
    Sqlite,
    Convex,
}

/// The service on one store, replying through a mock Kapso API.
struct Harness {
    svc: Service,
    mock: MockKapso,
    /// The deployment the service writes, read back over its HTTP API (Convex only).
    convex: Option<ConvexStore>,
    http: reqwest::Client,
}

impl Harness {
    /// Starts `ari serve` on `backend` with the admin API on and `extra_args`; `flow_toml`
    /// replaces the shipped `ari.toml` when given.
    async fn start(backend: Backend, extra_args: &[&str], flow_toml: Option<String>) -> Harness {
        let mock = MockKapso::start().await;
        let dir = std::sync::Arc::new(tempfile::tempdir().expect("tempdir"));
        if let Some(toml) = flow_toml {
            let flow_dir = dir.path().join("state-machines");
            std::fs::create_dir_all(&flow_dir).expect("flow dir");
            std::fs::write(flow_dir.join("ari.toml"), toml).expect("ari.toml");
        }
        let (env, convex) = match backend {
            Backend::Sqlite => (vec![], None),
            Backend::Convex => {
                let url = convex_server::fresh_deployment_url();
                let store = convex_server::store_at(&url).await;
                (convex_server::serve_env(&url), Some(store))
            }
        };
        let mut args: Vec<String> = vec!["--admin-token".into(), ADMIN.into()];
        args.extend(extra_args.iter().map(|a| a.to_string()));
        let svc = Service::spawn_with(Options {
            kapso: Some((mock.uri(), "test-kapso-key".into())),
            extra_args: args,
            env,
            dir: Some(dir),
            ..Options::default()
        });
        Harness {
            svc,
            mock,
            convex,
            http: reqwest::Client::new(),
        }
    }

    /// A conversation's outbox rows, oldest first.
    async fn outbox(&self, phone: &str) -> Vec<OutboxRow> {
        match &self.convex {
            None => self.svc.outbox(phone).await,
            Some(store) => store
                .conversation_outbox(&ConversationKey {
                    workspace_id: "default".into(),
                    contact_phone: phone.into(),
                })
                .await
                .expect("outbox"),
        }
    }

    /// Waits (up to 60 s) until `done` holds for the conversation's outbox rows.
    async fn outbox_until(
        &self,
        phone: &str,
        what: &str,
        done: impl Fn(&[OutboxRow]) -> bool,
    ) -> Vec<OutboxRow> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let rows = self.outbox(phone).await;
            if done(&rows) {
                return rows;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: not after 60 s; outbox of {phone}: {rows:#?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Whether every inbox row has been processed.
    async fn processed(&self) -> bool {
        let rows = match &self.convex {
            None => self.svc.inbox().await,
            Some(store) => store.list_inbox(0, 10_000).await.expect("inbox"),
        };
        rows.iter()
            .all(|r| r.state != ari::inbox::InboxState::Pending)
    }

    /// The lead writes `text`; returns once the turn ran.
    async fn say(&self, phone: &str, wamid: &str, text: &str) {
        let r = self
            .svc
            .post_signed(
                &self.http,
                &text_payload(phone, wamid, text),
                Some("whatsapp.message.received"),
                None,
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.processed().await {
            assert!(Instant::now() < deadline, "inbox still pending after 60 s");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// `GET /metrics`.
    async fn metrics(&self) -> String {
        self.http
            .get(self.svc.url("/metrics"))
            .send()
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("metrics text")
    }

    /// `GET /admin/outbox?<query>` with the admin token: status and JSON body.
    async fn admin_list(&self, query: &str) -> (StatusCode, serde_json::Value) {
        let r = self
            .http
            .get(self.svc.url(&format!("/admin/outbox?{query}")))
            .bearer_auth(ADMIN)
            .send()
            .await
            .expect("GET /admin/outbox");
        (r.status(), r.json().await.expect("json"))
    }

    /// `POST /admin/outbox/{id}/retry` with the admin token.
    async fn admin_retry(&self, id: i64) -> (StatusCode, serde_json::Value) {
        let r = self
            .http
            .post(self.svc.url(&format!("/admin/outbox/{id}/retry")))
            .bearer_auth(ADMIN)
            .send()
            .await
            .expect("POST retry");
        (r.status(), r.json().await.expect("json"))
    }
}

/// The value of the metric line naming `name` and every one of `labels`, if any.
fn metric(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with(name) && labels.iter().all(|lab| l.contains(lab)))
        .find_map(|l| l.rsplit(' ').next()?.parse().ok())
}

/// Runs `$check(backend)` as one test per store, in `mod $check`.
macro_rules! on_both_stores {
    ($($check:ident),* $(,)?) => {
        $(
            mod $check {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$check(super::Backend::Sqlite).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn convex() {
                    super::$check(super::Backend::Convex).await;
                }
            }
        )*
    };
}

on_both_stores!(
    a_permanent_refusal_fails_the_row_at_once_and_the_next_reply_goes_out,
    after_the_attempt_cap_the_row_is_a_dead_letter_listed_and_retried,
    a_consultant_outside_the_window_gets_the_template,
    without_a_template_the_notice_needs_one_and_goes_to_the_crm,
    an_undeliverable_notice_goes_to_the_team_number_and_the_crm,
    a_reply_the_lead_never_got_tells_the_consultant_once,
);

const BUDI: &str = "+6281234567890";

/// Item 3: Kapso refuses a reply for good (a 400 that is not a rate limit): the row fails at
/// once (one request, no retries) with the error and reason `rejected`, and the contact's next
/// reply still goes out.
async fn a_permanent_refusal_fails_the_row_at_once_and_the_next_reply_goes_out(backend: Backend) {
    let h = Harness::start(backend, &[], None).await;
    h.mock.answer(BUDI, Answer::Refuse(131_026), Some(1));
    h.say(BUDI, "wamid.R1", "halo").await;
    let rows = h
        .outbox_until(BUDI, "the refused reply recorded", |rows| {
            rows.len() == 1 && rows[0].state != OutboxState::Pending
        })
        .await;
    assert_eq!(rows[0].state, OutboxState::Failed, "{rows:#?}");
    assert_eq!(rows[0].reason, Some(FailReason::Rejected));
    assert_eq!(rows[0].attempts, 1);
    assert!(
        rows[0].error.as_deref().unwrap_or("").contains("131026"),
        "{rows:#?}"
    );
    assert_eq!(
        h.mock.attempts_by_key()[&rows[0].idempotency_key],
        1,
        "a refusal was retried"
    );
    h.say(BUDI, "wamid.R2", "kak, saya mau tanya kuliah S2 di UK")
        .await;
    let rows = h
        .outbox_until(BUDI, "the next reply sent", |rows| {
            rows.len() == 2 && rows[1].state == OutboxState::Sent
        })
        .await;
    let accepted = h.mock.accepted();
    assert_eq!(accepted.len(), 1, "{accepted:#?}");
    assert_eq!(accepted[0].idempotency_key, rows[1].idempotency_key);
    assert_eq!(accepted[0].to, "6281234567890");
    let metrics = h.metrics().await;
    assert_eq!(
        metric(
            &metrics,
            "ari_outbox_failed_total",
            &["channel=\"whatsapp\"", "reason=\"rejected\""]
        ),
        Some(1.0),
        "{metrics}"
    );
}

/// Item 3: a reply that keeps failing with 500s is tried `--outbox-max-attempts` times (2
/// here), then becomes `failed` with its last error and reason `max_attempts`; the metric
/// counts it, the admin list shows it, and an admin's retry requeues it (sent once Kapso
/// accepts again).
async fn after_the_attempt_cap_the_row_is_a_dead_letter_listed_and_retried(backend: Backend) {
    let h = Harness::start(backend, &["--outbox-max-attempts", "2"], None).await;
    h.mock.answer(BUDI, Answer::ServerError, None);
    h.say(BUDI, "wamid.D1", "halo").await;
    let rows = h
        .outbox_until(BUDI, "the reply given up", |rows| {
            rows.len() == 1 && rows[0].state == OutboxState::Failed
        })
        .await;
    let row = &rows[0];
    assert_eq!(row.reason, Some(FailReason::MaxAttempts), "{row:#?}");
    assert_eq!(row.attempts, 2);
    assert!(
        row.error.as_deref().unwrap_or("").contains("500"),
        "{row:#?}"
    );
    assert!(h.mock.accepted().is_empty());

    let metrics = h.metrics().await;
    assert_eq!(
        metric(
            &metrics,
            "ari_outbox_failed_total",
            &["channel=\"whatsapp\"", "reason=\"max_attempts\""]
        ),
        Some(1.0),
        "{metrics}"
    );

    // The admin list: the token is required; the row is listed with its reason and error.
    let unauthorised = h
        .http
        .get(h.svc.url("/admin/outbox?state=failed"))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorised.status(), StatusCode::UNAUTHORIZED);
    let (status, list) = h.admin_list("state=failed").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let listed = list["rows"].as_array().expect("rows");
    assert_eq!(listed.len(), 1, "{list}");
    assert_eq!(listed[0]["id"], row.id);
    assert_eq!(listed[0]["reason"], "max_attempts");
    assert_eq!(listed[0]["state"], "failed");
    assert_eq!(listed[0]["to"], BUDI);
    assert_eq!(listed[0]["attempts"], 2);
    assert!(
        listed[0]["error"].as_str().unwrap_or("").contains("500"),
        "{list}"
    );
    let (status, bad) = h.admin_list("state=lost").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");

    // Kapso works again; the admin requeues the row and it goes out.
    h.mock.accept(BUDI);
    let (status, requeued) = h.admin_retry(row.id).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{requeued}");
    assert_eq!(requeued["row"]["state"], "pending");
    assert_eq!(requeued["row"]["attempts"], 0);
    let rows = h
        .outbox_until(BUDI, "the requeued reply sent", |rows| {
            rows[0].state == OutboxState::Sent
        })
        .await;
    assert_eq!(rows.len(), 1);
    let accepted = h.mock.accepted();
    assert_eq!(accepted.len(), 1, "{accepted:#?}");
    assert_eq!(accepted[0].idempotency_key, row.idempotency_key);
    let (status, list) = h.admin_list("state=failed").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["rows"].as_array().map(Vec::len), Some(0), "{list}");
    // A sent row cannot be retried; an unknown one is not found.
    assert_eq!(h.admin_retry(row.id).await.0, StatusCode::CONFLICT);
    assert_eq!(h.admin_retry(987_654).await.0, StatusCode::NOT_FOUND);
}

/// The shipped consultants (`scheduling.slots`); the round robin picks one per conversation.
const CONSULTANTS: [&str; 2] = ["+6281111000001", "+6281111000002"];

/// The team number of `handoff.fallback_whatsapp` in these tests.
const TEAM: &str = "+6281299990000";

/// The shipped `ari.toml` with `lines` added to `[handoff]` (and `replace` pairs applied).
fn flow_with(lines: &str, replace: &[(&str, &str)]) -> String {
    let mut toml = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/state-machines/ari.toml"
    ))
    .expect("shipped ari.toml");
    for (from, to) in replace {
        assert!(toml.contains(from), "{from:?} not in the shipped ari.toml");
        toml = toml.replacen(from, to, 1);
    }
    toml.replacen("[handoff]\n", &format!("[handoff]\n{lines}\n"), 1)
}

/// A CRM webhook on loopback accepting every call.
async fn crm() -> wiremock::MockServer {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let crm = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hooks/ari"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&crm)
        .await;
    crm
}

/// `--crm-webhook-url` and its secret for `crm`.
fn crm_args(crm: &wiremock::MockServer) -> Vec<String> {
    vec![
        "--crm-webhook-url".into(),
        format!("{}/hooks/ari", crm.uri()),
        "--crm-webhook-secret".into(),
        "crm-secret".into(),
    ]
}

/// Waits (up to 30 s) for a CRM call whose JSON body has `event`; returns the body.
async fn crm_event(crm: &wiremock::MockServer, event: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let calls = crm.received_requests().await.unwrap_or_default();
        if let Some(body) = calls
            .iter()
            .filter_map(|r| serde_json::from_slice::<serde_json::Value>(&r.body).ok())
            .find(|b| b["event"] == event)
        {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "no {event} CRM event in {} calls",
            calls.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The lead greets, then asks for a person: a `human_requested` handoff, whose notice goes to
/// one of [`CONSULTANTS`].
async fn hand_off(h: &Harness, lead: &str) {
    h.say(lead, "wamid.H1", "halo").await;
    h.say(
        lead,
        "wamid.H2",
        "saya mau bicara langsung dengan konsultan saja kak, bukan bot",
    )
    .await;
}

/// The conversation's consultant notice (the first text row to a consultant), once final.
async fn handoff_notice(h: &Harness, lead: &str) -> OutboxRow {
    let rows = h
        .outbox_until(lead, "the handoff notice recorded", |rows| {
            rows.iter().any(|r| {
                r.channel == Channel::Whatsapp
                    && CONSULTANTS.contains(&r.to.as_str())
                    && r.state != OutboxState::Pending
            })
        })
        .await;
    rows.into_iter()
        .find(|r| r.channel == Channel::Whatsapp && CONSULTANTS.contains(&r.to.as_str()))
        .expect("a notice")
}

/// Item 1: WhatsApp refuses the consultant's free-text notice with 131047 (the consultant has
/// not written in 24 h): its template version is queued in the same write and is what the
/// consultant gets, with single-line variables (lead, reason, slot, summary).
async fn a_consultant_outside_the_window_gets_the_template(backend: Backend) {
    let toml = flow_with(
        "consultant_template = { name = \"ari_consultant_notice\", language = \"id\" }",
        &[],
    );
    let h = Harness::start(backend, &[], Some(toml)).await;
    for c in CONSULTANTS {
        h.mock.answer(c, Answer::WindowClosed, None);
    }
    let lead = "+6287712345678";
    hand_off(&h, lead).await;
    let notice = handoff_notice(&h, lead).await;
    assert_eq!(notice.state, OutboxState::Failed, "{notice:#?}");
    assert_eq!(notice.reason, Some(FailReason::WindowClosed));
    let rows = h
        .outbox_until(lead, "the template sent", |rows| {
            rows.iter()
                .any(|r| r.channel == Channel::WhatsappTemplate && r.state == OutboxState::Sent)
        })
        .await;
    let template = rows
        .iter()
        .find(|r| r.channel == Channel::WhatsappTemplate)
        .unwrap();
    assert_eq!(template.to, notice.to);
    assert_eq!(
        template.idempotency_key,
        format!("{}-w0", notice.idempotency_key)
    );
    let sent: Vec<_> = h
        .mock
        .accepted()
        .into_iter()
        .filter(|a| a.kind == "template")
        .collect();
    assert_eq!(sent.len(), 1, "{sent:#?}");
    // The summary variable: the notice's summary and digest lines, on one line.
    let lines: Vec<&str> = notice.body.lines().collect();
    let summary = ari::flow::text::one_line(&lines[3..].join("\n"), 300);
    let text = |t: &str| serde_json::json!({"type": "text", "text": t});
    assert_eq!(
        sent[0].payload,
        serde_json::json!({
            "messaging_product": "whatsapp",
            "to": notice.to.trim_start_matches('+'),
            "type": "template",
            "template": {
                "name": "ari_consultant_notice",
                "language": {"code": "id"},
                "components": [{"type": "body", "parameters": [
                    text(&format!("Lead ({lead})")),
                    text("lead minta bicara dengan konsultan"),
                    text("-"),
                    text(&summary),
                ]}],
            },
        })
    );
    assert!(
        !summary.contains('\n') && summary.contains("Percakapan:"),
        "{summary}"
    );
    assert_eq!(
        h.mock.refused().iter().filter(|r| r.kind == "text").count(),
        1,
        "the text notice was refused once, never retried"
    );
    let metrics = h.metrics().await;
    assert_eq!(
        metric(
            &metrics,
            "ari_outbox_failed_total",
            &["channel=\"whatsapp\"", "reason=\"window_closed\""]
        ),
        Some(1.0),
        "{metrics}"
    );
}

/// Item 1 without a template: the notice is recorded `needs_template`, and the CRM event
/// `ari.notice.undelivered` carries it.
async fn without_a_template_the_notice_needs_one_and_goes_to_the_crm(backend: Backend) {
    let crm = crm().await;
    let args = crm_args(&crm);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let h = Harness::start(backend, &args, None).await;
    for c in CONSULTANTS {
        h.mock.answer(c, Answer::WindowClosed, None);
    }
    let lead = "+6287712345679";
    hand_off(&h, lead).await;
    let notice = handoff_notice(&h, lead).await;
    assert_eq!(notice.state, OutboxState::NeedsTemplate, "{notice:#?}");
    assert_eq!(notice.reason, Some(FailReason::WindowClosed));
    let event = crm_event(&crm, "ari.notice.undelivered").await;
    assert_eq!(event["status"], "needs_template", "{event}");
    assert_eq!(event["notice"], "handoff");
    assert_eq!(event["to"], notice.to.as_str());
    assert_eq!(event["text"], notice.body.as_str());
    assert_eq!(event["contact"]["phone"], lead);
    assert!(
        h.mock.accepted().iter().all(|a| a.kind != "template"),
        "a template went out without one configured"
    );
    let (status, list) = h.admin_list("state=needs_template").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["rows"][0]["id"], notice.id, "{list}");
}

/// Item 2: a notice the consultant's number refuses for good goes to the team number
/// (`handoff.fallback_whatsapp`) and to the CRM webhook.
async fn an_undeliverable_notice_goes_to_the_team_number_and_the_crm(backend: Backend) {
    let crm = crm().await;
    let args = crm_args(&crm);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let toml = flow_with(
        &format!(
            "consultant_template = {{ name = \"ari_consultant_notice\", language = \"id\" }}\nfallback_whatsapp = \"{TEAM}\""
        ),
        &[],
    );
    let h = Harness::start(backend, &args, Some(toml)).await;
    for c in CONSULTANTS {
        h.mock.answer(c, Answer::Refuse(131_026), None);
    }
    let lead = "+6287712345680";
    hand_off(&h, lead).await;
    let notice = handoff_notice(&h, lead).await;
    assert_eq!(notice.state, OutboxState::Failed, "{notice:#?}");
    assert_eq!(notice.reason, Some(FailReason::Rejected));
    let rows = h
        .outbox_until(lead, "the team's copy sent", |rows| {
            rows.iter()
                .any(|r| r.to == TEAM && r.state == OutboxState::Sent)
        })
        .await;
    let copy = rows.iter().find(|r| r.to == TEAM).unwrap();
    assert_eq!(copy.channel, Channel::Whatsapp);
    assert!(copy.body.contains(&notice.body), "{}", copy.body);
    assert!(copy.body.contains(&notice.to), "{}", copy.body);
    let accepted = h.mock.accepted();
    let to_team: Vec<_> = accepted
        .iter()
        .filter(|a| a.to == TEAM.trim_start_matches('+'))
        .collect();
    assert_eq!(to_team.len(), 1, "{accepted:#?}");
    assert_eq!(to_team[0].body, copy.body);
    let event = crm_event(&crm, "ari.notice.undelivered").await;
    assert_eq!(event["status"], "failed", "{event}");
    assert_eq!(event["text"], notice.body.as_str());
    // No template for a refused number: 131026 is not the window.
    assert!(accepted.iter().all(|a| a.kind != "template"));
}

/// Item 4: while the lead is handed off, a reply the lead never gets tells the consultant in
/// one notice; a later miss is not a notice of its own but is listed in the next relay.
async fn a_reply_the_lead_never_got_tells_the_consultant_once(backend: Backend) {
    // An acknowledgement after every lead message while handed off, so each turn has a reply.
    let toml = flow_with(
        "",
        &[("quiet_period_minutes = 240", "quiet_period_minutes = 0")],
    );
    let h = Harness::start(backend, &[], Some(toml)).await;
    let lead = "+6287712345681";
    h.say(lead, "wamid.L1", "halo").await;
    h.outbox_until(lead, "the greeting sent", |rows| {
        rows.len() == 1 && rows[0].state == OutboxState::Sent
    })
    .await;
    h.mock.answer(lead, Answer::Refuse(131_026), None);
    h.say(
        lead,
        "wamid.L2",
        "saya mau bicara langsung dengan konsultan saja kak, bukan bot",
    )
    .await;
    let missed = |r: &OutboxRow| r.body.contains("tidak terkirim; mohon hubungi lead");
    let rows = h
        .outbox_until(lead, "the consultant told of the missed reply", |rows| {
            rows.iter()
                .any(|r| missed(r) && r.state == OutboxState::Sent)
        })
        .await;
    let handoff_reply = rows
        .iter()
        .find(|r| r.to == lead && r.state == OutboxState::Failed)
        .expect("the failed handoff reply")
        .clone();
    let told = rows.iter().find(|r| missed(r)).unwrap().clone();
    assert!(CONSULTANTS.contains(&told.to.as_str()), "{told:#?}");
    assert!(
        told.body.ends_with(&format!(
            "\n- {}",
            ari::flow::text::one_line(&handoff_reply.body, 300)
        )),
        "{}\n---\n{}",
        told.body,
        handoff_reply.body
    );

    // The lead writes again: the acknowledgement fails too, and tells nobody by itself.
    h.say(lead, "wamid.L3", "oke kak").await;
    let rows = h
        .outbox_until(lead, "the second reply recorded", |rows| {
            rows.iter()
                .filter(|r| r.to == lead && r.state == OutboxState::Failed)
                .count()
                >= 2
                && rows.iter().all(|r| r.state != OutboxState::Pending)
        })
        .await;
    let ack = rows
        .iter()
        .rfind(|r| r.to == lead && r.state == OutboxState::Failed)
        .unwrap()
        .clone();
    assert_eq!(rows.iter().filter(|r| missed(r)).count(), 1, "{rows:#?}");

    // The next relay lists it.
    h.say(lead, "wamid.L4", "siap kak ditunggu").await;
    let rows = h
        .outbox_until(lead, "the next relay sent", |rows| {
            rows.iter().any(|r| {
                r.body.contains("siap kak ditunggu")
                    && CONSULTANTS.contains(&r.to.as_str())
                    && r.state == OutboxState::Sent
            })
        })
        .await;
    let relay = rows
        .iter()
        .find(|r| r.body.contains("siap kak ditunggu") && CONSULTANTS.contains(&r.to.as_str()))
        .unwrap();
    assert!(
        relay.body.contains("Belum terkirim sebelumnya:")
            && relay.body.contains(&format!(
                "- ke lead: {}",
                ari::flow::text::one_line(&ack.body, 300)
            )),
        "{}\n---\n{}",
        relay.body,
        ack.body
    );
    assert_eq!(rows.iter().filter(|r| missed(r)).count(), 1, "{rows:#?}");
}
