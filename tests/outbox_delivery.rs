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
use ari::store::{ConversationKey, FailReason, OutboxRow, OutboxState, Store};
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
