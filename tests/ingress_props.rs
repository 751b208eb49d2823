//! In-process tests of the webhook router: a property test over arbitrary signed JSON, and the
//! 503 path when the store cannot commit.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use proptest::prelude::*;
use serde_json::Value;
use tower::ServiceExt;

use ari::config::settings::SignaturePolicy;
use ari::config::workspaces::Workspaces;
use ari::ingress::IngressState;
use ari::ingress::signature::{WebhookSecrets, sign};
use ari::server::{AppState, router};
use ari::store::Store;
use ari::store::sqlite::SqliteStore;

const SECRET: &str = "prop-secret";

fn app(store: Arc<dyn Store>) -> axum::Router {
    router(AppState {
        ingress: IngressState {
            store,
            signature: SignaturePolicy::Verify(WebhookSecrets::parse(SECRET).unwrap()),
            workspaces: Arc::new(Workspaces::default()),
            arrivals: None,
            max_batch_items: ari::ingress::DEFAULT_MAX_BATCH_ITEMS,
        },
        metrics: ari::telemetry::metrics_handle(),
        admin_token: None,
        knowledge: None,
        llm: None,
        probes: ari::server::Probes::default(),
        outbox_wake: None,
    })
}

fn signed(body: Vec<u8>, event: Option<&str>, batch: bool) -> Request<Body> {
    let mut req = Request::post("/webhooks/kapso")
        .header("content-type", "application/json")
        .header("x-webhook-signature", sign(SECRET.as_bytes(), &body));
    if let Some(e) = event {
        req = req.header("x-webhook-event", e);
    }
    if batch {
        req = req.header("x-webhook-batch", "true");
    }
    req.body(Body::from(body)).unwrap()
}

/// Keys the parser looks at, so generated objects reach deep into its branches.
const KEYS: &[&str] = &[
    "message",
    "conversation",
    "phone_number_id",
    "phone_number",
    "type",
    "batch",
    "data",
    "entry",
    "object",
    "changes",
    "field",
    "value",
    "messages",
    "statuses",
    "metadata",
    "id",
    "from",
    "text",
    "body",
    "kapso",
    "direction",
    "status",
    "interactive",
    "button_reply",
    "list_reply",
    "title",
    "image",
    "caption",
    "audio",
    "transcript",
    "location",
    "latitude",
    "reaction",
    "emoji",
    "contacts",
    "wa_id",
    "profile",
    "name",
    "errors",
    "code",
    "event",
    "handoff",
    "reason",
    "inactivity",
    "timestamp",
    "media_data",
    "byte_size",
    "context",
];

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::String),
        prop::sample::select(vec![
            "text",
            "inbound",
            "outbound",
            "messages",
            "whatsapp.message.received",
            "+6281234567890",
            "6281234567890",
            "wamid.X",
            "read",
            "failed"
        ])
        .prop_map(|s| Value::String(s.to_string())),
    ];
    leaf.prop_recursive(5, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner.clone()), 0..8).prop_map(
                |kv| { Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect()) }
            ),
            prop::collection::vec(("\\PC{0,6}", inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, .. ProptestConfig::default() })]

    /// Arbitrary JSON bodies, correctly signed, never panic the handler and never get a 5xx
    /// while the store is healthy: an object is stored (200), anything else is a 400.
    #[test]
    fn arbitrary_signed_json_never_panics_or_5xx(
        body in arb_json(),
        event in prop::option::of(prop::sample::select(vec![
            "whatsapp.message.received", "whatsapp.message.sent", "whatsapp.message.failed",
            "whatsapp.conversation.inactive", "workflow.execution.handoff", "something.new", "",
        ])),
        batch in any::<bool>(),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let status = rt.block_on(async {
            let store = SqliteStore::open(&dir.path().join("p.db")).await.unwrap();
            let app = app(Arc::new(store));
            let bytes = serde_json::to_vec(&body).unwrap();
            app.oneshot(signed(bytes, event, batch)).await.unwrap().status()
        });
        prop_assert!(!status.is_server_error(), "{status} for {body}");
        if body.is_object() {
            prop_assert_eq!(status, StatusCode::OK, "object refused: {}", body);
        } else {
            prop_assert_eq!(status, StatusCode::BAD_REQUEST);
        }
    }
}

#[tokio::test]
async fn store_down_means_503_so_kapso_retries_and_not_ready() {
    // A closed store fails every call, as a full disk or an unreachable Convex does.
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("down.db"))
        .await
        .unwrap();
    store.close().await.unwrap();
    let app = app(Arc::new(store));
    let body = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/kapso/v2-text-received.json"
    ))
    .unwrap();
    let resp = app
        .clone()
        .oneshot(signed(body, Some("whatsapp.message.received"), false))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    let ready = app
        .clone()
        .oneshot(Request::get("/readyz").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    // Liveness does not depend on the store.
    let health = app
        .oneshot(Request::get("/healthz").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
}
