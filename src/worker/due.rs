//! The due loop (issue 17 item 3): the one periodic store call of an idle replica.
//!
//! Each poll is one [`Store::due`] read. Only when it says there is work does the loop call the
//! specific function: [`Store::claim_outbox`] for due outbox heads, the reminder pass
//! ([`super::reminders::run_once`]) at a reminder time, the follow-up pass
//! ([`super::followups::run_once`]) at a follow-up time, [`Store::pending_conversations`] for
//! orphan rows that can be attached or set aside, a knowledge reread when the knowledge version
//! moved; and it wakes the worker for the conversations with pending rows (Convex: rows another
//! replica ingested).
//!
//! While it finds nothing, the wait between polls doubles from [`DueSettings::floor`] (1 s) to
//! [`DueSettings::ceiling`] (`--idle-poll-ceiling-ms`, default 60 s), and is cut to the next due
//! time (a retry, a reminder, a follow-up) when that is sooner. The trade-off: a message another
//! replica ingested is picked up within the ceiling. A replica's own arrivals never wait for
//! it: ingress signals the worker directly, a commit's replies go straight to the sender, and
//! the sender wakes this loop ([`OutboxSender::due_wake`]) when it scheduled a retry or a
//! commit held rows behind an older one.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{ORPHAN_TTL_MS, TurnDeps, Worker};
use crate::kapso::outbox::{OUTBOX_LEASE_MS, OutboxSender};
use crate::store::{DueQuery, DueReport};
use crate::telemetry::names;

/// Conversations listed (and outbox rows claimed) per poll at most.
const BATCH: u32 = 200;

/// The loop's timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DueSettings {
    /// The wait after a poll that found work, and the first idle wait: 1 s (the old outbox
    /// poll's interval).
    pub floor: Duration,
    /// The longest idle wait (`--idle-poll-ceiling-ms`, default 60 s).
    pub ceiling: Duration,
    /// Whether [`Store::due`] lists the conversations with pending rows: on Convex (other
    /// replicas ingest into the same deployment); not on SQLite, whose one process finds them
    /// with the worker's own recovery poll.
    ///
    /// [`Store::due`]: crate::store::Store::due
    pub with_pending: bool,
}

impl Default for DueSettings {
    fn default() -> Self {
        DueSettings {
            floor: Duration::from_secs(1),
            ceiling: Duration::from_secs(60),
            with_pending: false,
        }
    }
}

/// The idle back-off: `floor`, then doubling up to `ceiling`; back to `floor` after work.
#[derive(Debug, Clone)]
pub struct Backoff {
    floor: Duration,
    ceiling: Duration,
    next: Duration,
}

impl Backoff {
    /// A back-off whose first wait is `floor` (a `ceiling` below it counts as `floor`).
    pub fn new(floor: Duration, ceiling: Duration) -> Self {
        Backoff {
            floor,
            ceiling: ceiling.max(floor),
            next: floor,
        }
    }

    /// The wait after a poll: `floor` when it found work, else the current idle wait (then
    /// doubled for the next one, at most `ceiling`).
    pub fn after(&mut self, work: bool) -> Duration {
        if work {
            self.next = self.floor;
        }
        let wait = self.next;
        self.next = (self.next * 2).min(self.ceiling);
        wait
    }
}

/// What the loop remembers between polls.
struct State {
    backoff: Backoff,
    /// When the reminder pass last ran (ms); 0: never (it runs at the first poll).
    reminders_after_ms: i64,
    /// The knowledge version of the last report; `None` before the first.
    knowledge_version: Option<i64>,
}

/// Starts the due loop until `shutdown`.
pub fn spawn(
    deps: Arc<TurnDeps>,
    worker: Arc<Worker>,
    settings: DueSettings,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let wake = deps.outbox.due_wake();
        let mut state = State {
            backoff: Backoff::new(settings.floor, settings.ceiling),
            reminders_after_ms: 0,
            knowledge_version: None,
        };
        loop {
            let wait = poll(&deps, &worker, &settings, &mut state).await;
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = wake.notified() => {}
                _ = shutdown.changed() => {}
            }
            if *shutdown.borrow() {
                return;
            }
        }
    })
}

/// One poll and the work it found; returns the wait before the next one.
async fn poll(
    deps: &TurnDeps,
    worker: &Arc<Worker>,
    settings: &DueSettings,
    state: &mut State,
) -> Duration {
    let now_ms = (deps.clock)().timestamp_millis();
    let query = DueQuery {
        now_ms,
        with_pending: settings.with_pending,
        limit: BATCH,
        orphan_ttl_ms: ORPHAN_TTL_MS,
        reminders_after_ms: state.reminders_after_ms,
    };
    let report = match deps.store.due(query).await {
        Ok(report) => report,
        Err(e) => {
            tracing::warn!(error = %e, "the due poll failed; retried after the back-off");
            return state.backoff.after(false);
        }
    };
    metrics::gauge!(names::INBOX_DEPTH).set(report.pending_rows as f64);
    let work = act(deps, worker, &report, now_ms, state).await;
    let idle = state.backoff.after(work);
    match next_due(&report, now_ms) {
        // A little past the due time, so the pass run then finds it due.
        Some(at) => idle.min(Duration::from_millis(
            u64::try_from(at - now_ms).unwrap_or(0) + 5,
        )),
        None => idle,
    }
}

/// Calls the passes the report says have work; true when any of them did something.
async fn act(
    deps: &TurnDeps,
    worker: &Arc<Worker>,
    report: &DueReport,
    now_ms: i64,
    state: &mut State,
) -> bool {
    let mut work = false;
    for key in &report.pending {
        work |= worker.recover(key.clone());
    }
    if report.orphans_due {
        match deps
            .store
            .pending_conversations(BATCH, now_ms, ORPHAN_TTL_MS)
            .await
        {
            Ok(keys) => {
                for key in keys {
                    work |= worker.recover(key);
                }
            }
            Err(e) => tracing::warn!(error = %e, "attaching workflow events failed"),
        }
    }
    if report.outbox_due > 0 {
        work |= claim_outbox(&deps.outbox, deps, now_ms).await;
    }
    if report.next_followup_ms.is_some_and(|at| at <= now_ms) {
        match super::followups::run_once(deps, (deps.clock)()).await {
            Ok(keys) => {
                work |= !keys.is_empty();
                for key in keys {
                    worker.signal(key);
                }
            }
            Err(e) => tracing::warn!(error = %e, "follow-up pass failed; retried at the next poll"),
        }
    }
    if report.next_reminder_ms.is_some_and(|at| at <= now_ms) {
        match super::reminders::run_once(deps, (deps.clock)()).await {
            Ok(recorded) => {
                state.reminders_after_ms = now_ms;
                work |= recorded > 0;
            }
            Err(e) => tracing::warn!(error = %e, "reminder pass failed; retried at the next poll"),
        }
    }
    knowledge(deps, report.knowledge_version, state).await;
    work
}

/// Claims the due outbox rows and hands them to the sender; true when it got any.
async fn claim_outbox(outbox: &Arc<OutboxSender>, deps: &TurnDeps, now_ms: i64) -> bool {
    match deps
        .store
        .claim_outbox(now_ms, OUTBOX_LEASE_MS, BATCH)
        .await
    {
        Ok(rows) if !rows.is_empty() => {
            tracing::debug!(rows = rows.len(), "outbox rows due again");
            outbox.deliver(rows);
            true
        }
        Ok(_) => false,
        Err(e) => {
            tracing::warn!(error = %e, "claiming due outbox rows failed");
            false
        }
    }
}

/// Rereads the stored knowledge entries when the version moved since the last report (or, at
/// the first report, when any entry was ever stored).
async fn knowledge(deps: &TurnDeps, version: i64, state: &mut State) {
    let moved = match state.knowledge_version {
        Some(seen) => seen != version,
        None => version != 0,
    };
    state.knowledge_version = Some(version);
    if moved {
        tracing::info!(version, "knowledge entries changed: rereading them");
        deps.knowledge.refresh_all(deps.store.as_ref()).await;
    }
}

/// The earliest future due time of the report (a retry or lease end, a reminder, a follow-up).
fn next_due(report: &DueReport, now_ms: i64) -> Option<i64> {
    [
        report.next_outbox_ms,
        report.next_reminder_ms,
        report.next_followup_ms,
    ]
    .into_iter()
    .flatten()
    .filter(|at| *at > now_ms)
    .min()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn idle_waits_double_up_to_the_ceiling_and_work_resets_them() {
        let mut b = Backoff::new(secs(1), secs(60));
        let idle: Vec<u64> = (0..9).map(|_| b.after(false).as_secs()).collect();
        assert_eq!(idle, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(b.after(true), secs(1));
        assert_eq!(b.after(false), secs(2));
        let mut small = Backoff::new(secs(1), secs(2));
        let waits: Vec<u64> = (0..4).map(|_| small.after(false).as_secs()).collect();
        assert_eq!(waits, [1, 2, 2, 2]);
        // A ceiling below the floor is the floor.
        let mut flat = Backoff::new(secs(2), secs(1));
        assert_eq!((flat.after(false), flat.after(false)), (secs(2), secs(2)));
    }

    #[test]
    fn the_next_due_time_is_the_earliest_future_one() {
        let report = DueReport {
            next_outbox_ms: Some(5_000),
            next_reminder_ms: Some(500),
            next_followup_ms: Some(3_000),
            ..DueReport::default()
        };
        assert_eq!(next_due(&report, 1_000), Some(3_000));
        assert_eq!(next_due(&DueReport::default(), 1_000), None);
    }
}
