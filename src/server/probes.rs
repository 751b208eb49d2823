//! The unauthenticated probes' store reads (issue 21 item 3): `/readyz` checks that the store
//! accepts writes (a billed mutation on Convex) and `/metrics` reads the inbox depth; each is
//! done at most once per [`PROBE_CACHE`], so a flood of probes costs the store nothing more.
//! On Convex neither usually calls at all (issue 17 item 3): `/readyz` answers from the latest
//! successful call while it is under [`HEALTHY_FOR`] old, and the inbox depth comes from the
//! worker's last `worker:due` report.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::store::Store;

/// How long `/readyz` and `/metrics` reuse a store read: a flood of probes costs the store
/// one call per this interval (issue 21 item 3).
pub const PROBE_CACHE: Duration = Duration::from_secs(2);

/// `/readyz` answers from the store's latest successful call while it is younger than this
/// (issue 17 item 3), so probes of a busy or polling Convex replica cost no call.
pub const HEALTHY_FOR: Duration = Duration::from_secs(30);

/// `/readyz` answers within this: a store that has not confirmed a write by then (locked,
/// stuck) is not ready, 503 (issue 16 item 8).
pub const READY_DEADLINE: Duration = Duration::from_secs(1);

/// A value and when it was read, behind a lock held while it is refreshed.
type Cached<T> = Arc<tokio::sync::Mutex<Option<(Instant, T)>>>;

/// The store reads `/readyz` and `/metrics` make, each done at most once per [`PROBE_CACHE`]
/// (concurrent probes wait for the one read), and whether `/metrics` is on this port.
#[derive(Clone, Default)]
pub struct Probes {
    writable: Cached<Result<(), String>>,
    depth: Cached<Option<u64>>,
    /// `--metrics-bind` is set: `/metrics` on the main port answers 404.
    pub metrics_elsewhere: bool,
    /// `ari_inbox_depth` is set by the worker's due loop from its last report (Convex, issue
    /// 17 item 3): `/metrics` reads nothing from the store.
    pub depth_from_due: bool,
}

impl Probes {
    /// Probes with nothing cached yet; `metrics_elsewhere`: `/metrics` is on `--metrics-bind`;
    /// `depth_from_due`: the due loop sets the inbox depth gauge.
    pub fn new(metrics_elsewhere: bool, depth_from_due: bool) -> Self {
        Probes {
            metrics_elsewhere,
            depth_from_due,
            ..Probes::default()
        }
    }

    /// Whether the store accepts writes, as of at most [`PROBE_CACHE`] ago; a check that takes
    /// longer than [`READY_DEADLINE`] is a failure.
    /// A store that tracks its calls ([`Store::healthy_since`]: Convex) is ready without a
    /// call while its latest call succeeded less than [`HEALTHY_FOR`] ago and none failed since.
    pub async fn writable(&self, store: &dyn Store) -> Result<(), String> {
        if store
            .healthy_since()
            .is_some_and(|at| at.elapsed() < HEALTHY_FOR)
        {
            return Ok(());
        }
        let mut cached = self.writable.lock().await;
        if let Some((at, result)) = cached.as_ref()
            && at.elapsed() < PROBE_CACHE
        {
            return result.clone();
        }
        let result = match tokio::time::timeout(READY_DEADLINE, store.check_writable()).await {
            Ok(checked) => checked.map_err(|e| e.to_string()),
            Err(_) => Err(format!(
                "the store did not answer within {} ms",
                READY_DEADLINE.as_millis()
            )),
        };
        if let Err(e) = &result {
            tracing::warn!(error = %e, "readiness check failed");
        }
        *cached = Some((Instant::now(), result.clone()));
        result
    }

    /// The inbox depth, as of at most [`PROBE_CACHE`] ago; `None` when the store cannot say.
    pub async fn inbox_depth(&self, store: &dyn Store) -> Option<u64> {
        let mut cached = self.depth.lock().await;
        if let Some((at, depth)) = cached.as_ref()
            && at.elapsed() < PROBE_CACHE
        {
            return *depth;
        }
        let depth = match store.inbox_depth().await {
            Ok(depth) => Some(depth),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the inbox depth for /metrics");
                None
            }
        };
        *cached = Some((Instant::now(), depth));
        depth
    }
}
