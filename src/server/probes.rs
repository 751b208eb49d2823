//! The unauthenticated probes' store reads (issue 21 item 3): `/readyz` checks that the store
//! accepts writes (a billed mutation on Convex) and `/metrics` reads the inbox depth; each is
//! done at most once per [`PROBE_CACHE`], so a flood of probes costs the store nothing more.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::store::Store;

/// How long `/readyz` and `/metrics` reuse a store read: a flood of probes costs the store
/// one call per this interval (issue 21 item 3).
pub const PROBE_CACHE: Duration = Duration::from_secs(2);

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
}

impl Probes {
    /// Probes with nothing cached yet; `metrics_elsewhere`: `/metrics` is on `--metrics-bind`.
    pub fn new(metrics_elsewhere: bool) -> Self {
        Probes {
            metrics_elsewhere,
            ..Probes::default()
        }
    }

    /// Whether the store accepts writes, as of at most [`PROBE_CACHE`] ago; a check that takes
    /// longer than [`READY_DEADLINE`] is a failure.
    pub async fn writable(&self, store: &dyn Store) -> Result<(), String> {
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
