//! The whole service in this process, over any [`Store`]: the real router on a loopback port,
//! the real worker and the real outbox sender, wired as `ari serve` wires them
//! (`src/server.rs`), with test-sized knobs (Kapso retry policy, turn lease, poll intervals).
//!
//! Fault tests use it to put a failing store behind the service (as root, a read-only
//! directory does not stop SQLite, so the failure is injected with a wrapper) and to shorten
//! the Kapso client's timeouts; the benches use it to count store round trips.

#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use ari::config::flow::FlowConfigHandle;
use ari::config::settings::SignaturePolicy;
use ari::config::workspaces::Workspaces;
use ari::ingress::IngressState;
use ari::ingress::signature::{WebhookSecrets, sign};
use ari::kapso::outbox::OutboxSender;
use ari::kapso::{RetryPolicy, Sender};
use ari::knowledge::Library;
use ari::server::{AppState, router};
use ari::store::Store;
use ari::worker::{TurnDeps, Worker, WorkerSettings, no_form_answers, system_clock};

/// The secret the in-process service verifies.
pub const PIPELINE_SECRET: &str = "pipeline-secret";

/// Knobs of [`Pipeline::start`].
pub struct PipelineOptions {
    /// Mock Kapso base URL; `None` → dry run (nothing sent).
    pub kapso_url: Option<String>,
    /// The Kapso client's timeouts and retries.
    pub retry: RetryPolicy,
    /// Worker debounce.
    pub debounce: Duration,
    /// Worker recovery poll.
    pub worker_poll: Duration,
    /// Outbox poll.
    pub outbox_poll: Duration,
    /// Turn lease (ms): how long a turn that failed before its commit keeps the conversation.
    pub lease_ms: i64,
    /// Mark read + typing indicator.
    pub mark_read: bool,
}

impl Default for PipelineOptions {
    fn default() -> Self {
        PipelineOptions {
            kapso_url: None,
            retry: RetryPolicy::default(),
            debounce: Duration::from_millis(100),
            worker_poll: Duration::from_millis(200),
            outbox_poll: Duration::from_millis(200),
            lease_ms: ari::server::TURN_LEASE_MS,
            mark_read: true,
        }
    }
}

/// A running in-process service.
pub struct Pipeline {
    pub base_url: String,
    pub store: Arc<dyn Store>,
    pub outbox: Arc<OutboxSender>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Pipeline {
    /// Starts router, worker and outbox sender over `store`, with the shipped flow files.
    pub async fn start(store: Arc<dyn Store>, opts: PipelineOptions) -> Pipeline {
        let flow_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("state-machines");
        let flow = Arc::new(FlowConfigHandle::load(&flow_dir).expect("shipped flow config"));
        let knowledge = Library::open(flow_dir.join("knowledge")).expect("shipped knowledge");
        let sender = match &opts.kapso_url {
            Some(url) => Sender::from_config(
                url.parse().expect("mock url"),
                Some("pipeline-kapso-key".into()),
                opts.retry.clone(),
            )
            .expect("kapso client"),
            None => Sender::DryRun,
        };
        let (shutdown, shutdown_rx) = watch::channel(false);
        let outbox = OutboxSender::new(Arc::clone(&store), sender);
        let outbox_poller = outbox.spawn_poller(opts.outbox_poll, shutdown_rx.clone());
        let worker = Worker::new(
            Arc::new(TurnDeps {
                store: Arc::clone(&store),
                flow,
                outbox: Arc::clone(&outbox),
                clock: system_clock(),
                lease_ms: opts.lease_ms,
                mark_read: opts.mark_read,
                form_answers: no_form_answers(),
                knowledge: Arc::new(knowledge),
                llm: None,
                crm_webhook_url: None,
            }),
            WorkerSettings {
                debounce: opts.debounce,
                poll_interval: Some(opts.worker_poll),
                ..WorkerSettings::default()
            },
        );
        let (arrivals_tx, arrivals_rx) = mpsc::unbounded_channel();
        let dispatcher = worker.spawn(arrivals_rx, shutdown_rx.clone(), Duration::from_secs(5));
        let app = router(AppState {
            ingress: IngressState {
                store: Arc::clone(&store),
                signature: SignaturePolicy::Verify(
                    WebhookSecrets::parse(PIPELINE_SECRET).expect("secret"),
                ),
                workspaces: Arc::new(Workspaces::default()),
                arrivals: Some(arrivals_tx),
                max_batch_items: ari::ingress::DEFAULT_MAX_BATCH_ITEMS,
            },
            metrics: ari::telemetry::metrics_handle(),
            admin_token: None,
            knowledge: None,
            llm: None,
            probes: ari::server::Probes::default(),
            outbox_wake: None,
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("addr");
        let mut stop = shutdown_rx;
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stop.changed().await;
                })
                .await;
        });
        Pipeline {
            base_url: format!("http://{addr}"),
            store,
            outbox,
            shutdown,
            tasks: vec![server, dispatcher, outbox_poller],
        }
    }

    /// POSTs a signed `whatsapp.message.received` delivery; returns the status, or the error
    /// when the connection failed.
    pub async fn post(
        &self,
        client: &reqwest::Client,
        body: &[u8],
        idempotency_key: &str,
    ) -> Result<reqwest::StatusCode, reqwest::Error> {
        client
            .post(format!("{}/webhooks/kapso", self.base_url))
            .header("content-type", "application/json")
            .header(
                "x-webhook-signature",
                sign(PIPELINE_SECRET.as_bytes(), body),
            )
            .header("x-webhook-event", "whatsapp.message.received")
            .header("x-idempotency-key", idempotency_key)
            .body(body.to_vec())
            .send()
            .await
            .map(|r| r.status())
    }

    /// Stops accepting, lets turns and sends finish (bounded), and waits for the tasks.
    pub async fn stop(mut self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !self.outbox.is_idle() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
