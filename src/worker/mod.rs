//! The worker: turns inbox rows into turns, one conversation at a time, conversations in
//! parallel.
//!
//! - **Order.** Each active conversation has exactly one task in this process, and the store's
//!   lease keeps other processes out, so a conversation's messages are processed strictly in
//!   arrival order, one turn at a time.
//! - **Debounce.** A lead who types three quick messages gets one reply: a conversation's turn
//!   starts only once no new message arrived for the debounce window (default 1.5 s), and it
//!   takes every pending row at once. A lead who never pauses still gets a turn by the
//!   debounce ceiling (default 6 s after their first unanswered message; [`debounce`]).
//! - **Parallelism.** At most `max_parallel` turns run at once (a semaphore), so a burst of
//!   conversations cannot exhaust the store or the LLM.
//! - **Recovery.** Ingress signals arrivals directly. A recovery poll finds pending rows nobody
//!   signalled (rows left by a crash, a turn that failed or whose lease expired): at start,
//!   [`RECHECK_DELAY`] after a failed or stale turn, and every `poll_interval` (60 s) on SQLite;
//!   on Convex the [`due`] loop lists them (rows another replica ingested too, within its
//!   idle ceiling), so nothing waits forever.
//!
//! A turn ([`turn`]) interprets the flow core's effects; each kind is carried out in the module
//! named for it, so adding an effect touches its module and the one `match` over them:
//!
//! - `turn.rs`: the steps of a turn (plan, core, effects, commit, after commit).
//! - `plan.rs`: what the claimed inbox rows mean for the core.
//! - `effects.rs`: the one `match` over [`crate::flow::Effect`].
//! - `booking.rs`: free slots, booking a slot, cancelling a consultation.
//! - `knowledge.rs`: knowledge answers and destination recommendations.
//! - `extraction.rs`: the LLM's reading of the lead's messages, before the core.
//! - `wording.rs`: template replies, LLM wording (`AskLlm`), the template fallback, and the
//!   one function that builds a lead-facing reply's meta.
//! - `notices.rs`: consultant notices, the CRM event and tag of a handoff.
//! - `typing.rs`: the read mark and typing indicator.
//! - [`reminders`]: appointment reminders (their own task, not a turn).
//!
//! Two rules for every issue that lands (the turn reads the snapshot and writes through the
//! store, so both meet here):
//!
//! - **Snapshot fields default.** Every new field of the flow snapshot
//!   ([`crate::flow::Snapshot`] and the types it holds) is `#[serde(default)]`, so snapshots
//!   stored before it still load, and replicas can roll (old and new builds run side by side
//!   during a deploy and read each other's snapshots).
//! - **Migrations in one list.** Store migrations are appended in order to the one list
//!   (`MIGRATIONS` in `store/sqlite.rs`; a migration's number is its place in it). Two issues
//!   must not both add "migration N": the second to land rebases and renumbers before landing.

mod booking;
mod debounce;
pub mod due;
mod effects;
mod extraction;
pub mod followups;
mod interactive;
mod knowledge;
mod notices;
mod plan;
mod poison;
pub mod reminders;
pub mod turn;
mod typing;
mod voice;
mod wording;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::store::ConversationKey;
use crate::telemetry::names;
use debounce::Debounce;
pub use turn::{
    Clock, FormAnswers, Interrupts, TurnDeps, TurnError, TurnRun, no_form_answers, system_clock,
    take_turn,
};

/// How long an event that names only a Kapso conversation id (a workflow event) may wait for
/// its conversation to be known before it is set aside as unroutable: 1 hour.
pub const ORPHAN_TTL_MS: i64 = 3_600_000;

/// After a failed or stale turn, the recovery poll runs this much later (the old poll's
/// interval: a failing turn is retried about this often, not in a tight loop).
pub const RECHECK_DELAY: Duration = Duration::from_secs(2);

/// Worker tuning (defaults from DESIGN.md and the turns issue).
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// Quiet time after a lead's latest message before the turn starts.
    pub debounce: Duration,
    /// The longest a turn waits after the lead's first unanswered message, however often they
    /// keep writing (the debounce ceiling); a turn started by then is not superseded.
    pub max_debounce: Duration,
    /// Turns running at once.
    pub max_parallel: usize,
    /// How often the recovery poll ([`crate::store::Store::pending_conversations`]) looks for
    /// pending rows nobody signalled, the first at start (issue 17 item 2: 60 s; one process
    /// owns a SQLite file, so only a crash or a failed turn leaves such rows). `None`: no
    /// periodic recovery poll (Convex, whose due loop lists pending conversations:
    /// [`due`]). Either way a failed or stale turn brings one [`RECHECK_DELAY`] later.
    pub poll_interval: Option<Duration>,
    /// Stale commits retried in a row before the conversation is left to the next poll.
    pub max_stale_retries: u32,
    /// Turns of one conversation failing the same way in a row before it is set aside and
    /// handed off as `stuck` (`--max-turn-attempts`, issue 16 item 9; [`poison`]).
    pub max_turn_attempts: u32,
    /// With a Meta-format webhook configured (`--meta-webhook`): how long a voice note without
    /// transcript waits for Kapso's copy (`--voice-grace-ms`, default 5 s); `None`: no wait.
    pub voice_grace: Option<Duration>,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings {
            debounce: Duration::from_millis(1_500),
            max_debounce: Duration::from_millis(6_000),
            max_parallel: 32,
            poll_interval: Some(Duration::from_secs(60)),
            max_stale_retries: 3,
            max_turn_attempts: 5,
            voice_grace: None,
        }
    }
}

/// One active conversation's wake-up state.
struct Active {
    /// When the turn may start (the quiet window and the ceiling).
    debounce: Debounce,
    /// A new arrival came while a turn ran: run another turn before leaving.
    dirty: AtomicBool,
    /// Counts arrivals; a turn watches it to drop an LLM call a newer message makes stale.
    arrivals: watch::Sender<u64>,
}

/// The dispatcher. Create with [`Worker::new`], start with [`Worker::spawn`].
pub struct Worker {
    deps: Arc<TurnDeps>,
    settings: WorkerSettings,
    active: Mutex<HashMap<ConversationKey, Arc<Active>>>,
    permits: Arc<Semaphore>,
    accepting: AtomicBool,
    /// Failed turns in a row per conversation ([`poison`]).
    attempts: poison::Attempts,
    /// A turn failed or stayed stale: the dispatcher polls for pending rows
    /// [`RECHECK_DELAY`] later.
    recheck: tokio::sync::Notify,
}

impl Worker {
    pub fn new(deps: Arc<TurnDeps>, settings: WorkerSettings) -> Arc<Self> {
        let permits = Arc::new(Semaphore::new(settings.max_parallel.max(1)));
        Arc::new(Worker {
            deps,
            settings,
            active: Mutex::new(HashMap::new()),
            permits,
            accepting: AtomicBool::new(true),
            attempts: poison::Attempts::default(),
            recheck: tokio::sync::Notify::new(),
        })
    }

    /// Signals that `key` has new inbox rows (from ingress): its turn runs after the debounce.
    pub fn signal(self: &Arc<Self>, key: ConversationKey) {
        self.wake(key, Instant::now(), true);
    }

    /// Wakes `key` with rows that have already waited (found by a poll): no debounce. Returns
    /// whether it started a task (false: the conversation already had one, which runs one
    /// more turn, or the worker is stopping).
    pub(crate) fn recover(self: &Arc<Self>, key: ConversationKey) -> bool {
        let past = Instant::now()
            .checked_sub(self.settings.debounce)
            .unwrap_or_else(Instant::now);
        self.wake(key, past, false)
    }

    /// `new_message`: a message just arrived (from ingress), so an LLM call in flight for this
    /// conversation is stale; a poll's wake-up is not news and interrupts nothing. Returns
    /// whether a new conversation task started.
    fn wake(self: &Arc<Self>, key: ConversationKey, arrival: Instant, new_message: bool) -> bool {
        if !self.accepting.load(Ordering::Acquire) {
            return false;
        }
        let Ok(mut active) = self.active.lock() else {
            return false;
        };
        if let Some(a) = active.get(&key) {
            a.debounce.arrive(arrival);
            a.dirty.store(true, Ordering::Release);
            if new_message {
                a.debounce.lift_hold();
                a.arrivals.send_modify(|n| *n += 1);
            }
            return false;
        }
        let a = Arc::new(Active {
            debounce: self.new_debounce(arrival),
            dirty: AtomicBool::new(false),
            arrivals: watch::channel(0).0,
        });
        active.insert(key.clone(), Arc::clone(&a));
        let this = Arc::clone(self);
        tokio::spawn(async move { this.run_conversation(key, a).await });
        true
    }

    fn new_debounce(&self, arrival: Instant) -> Debounce {
        Debounce::new(self.settings.debounce, self.settings.max_debounce, arrival)
    }

    /// Number of conversations with a task (running or waiting).
    pub fn active_conversations(&self) -> usize {
        self.active.lock().map(|a| a.len()).unwrap_or(0)
    }

    async fn run_conversation(self: Arc<Self>, key: ConversationKey, a: Arc<Active>) {
        loop {
            a.debounce.wait().await;
            a.dirty.store(false, Ordering::Release);
            let Ok(_permit) = self.permits.acquire().await else {
                return;
            };
            if self.turns_until_settled(&key, &a).await {
                a.debounce.answered();
            }
            drop(_permit);
            let Ok(mut active) = self.active.lock() else {
                return;
            };
            if !a.dirty.load(Ordering::Acquire) {
                active.remove(&key);
                return;
            }
        }
    }

    /// Runs turns until one is not stale; true when the waiting messages were answered (a
    /// committed or idle turn), false when they still wait (superseded, busy, failed).
    async fn turns_until_settled(&self, key: &ConversationKey, a: &Active) -> bool {
        let mut stale = 0;
        loop {
            let interrupts = Interrupts {
                arrivals: a.arrivals.subscribe(),
                until: a.debounce.interruptible_until(),
                voice_grace: self.settings.voice_grace,
            };
            // Boxed: a turn's future (store calls, LLM and HTTP clients) is tens of KiB, and
            // inline it would be allocated with every conversation's task, waiting or not
            // (the memory bench: 32.7 KiB per waiting conversation before this).
            let outcome = Box::pin(take_turn(&self.deps, key, Some(interrupts))).await;
            let label = match &outcome {
                Ok(TurnRun::Committed { .. }) => "committed",
                Ok(TurnRun::Idle) => "idle",
                Ok(TurnRun::Busy) => "busy",
                Ok(TurnRun::Stale) => "stale",
                Ok(TurnRun::Superseded) => "superseded",
                Ok(TurnRun::AwaitingTranscript { .. }) => "awaiting_transcript",
                Err(_) => "error",
            };
            metrics::counter!(names::TURNS, "outcome" => label).increment(1);
            match outcome {
                Ok(TurnRun::Stale) if stale < self.settings.max_stale_retries => {
                    stale += 1;
                    tracing::info!(
                        attempt = stale,
                        "turn was stale (the conversation moved on); redoing it"
                    );
                }
                Ok(TurnRun::Committed {
                    version, replies, ..
                }) => {
                    tracing::info!(version, replies, "turn committed");
                    self.attempts.clear(key);
                    return true;
                }
                Ok(TurnRun::Idle) => {
                    self.attempts.clear(key);
                    return true;
                }
                Ok(TurnRun::AwaitingTranscript { until_ms }) => {
                    self.hold_for_transcript(a, until_ms);
                    return false;
                }
                Ok(TurnRun::Stale) => {
                    self.recheck.notify_one();
                    return false;
                }
                Ok(_) => return false,
                Err(e) => {
                    tracing::error!(error = %e, "turn failed; its messages stay pending and are retried");
                    self.after_failure(key, a, &e).await;
                    self.recheck.notify_one();
                    return false;
                }
            }
        }
    }

    /// Counts a failed turn of stored data ([`poison::poison`]); at `max_turn_attempts` in a
    /// row with the same error, sets the turn aside and runs the conversation once more, for
    /// the queued stuck event.
    async fn after_failure(&self, key: &ConversationKey, a: &Active, e: &TurnError) {
        let Some(reset_snapshot) = poison::poison(e) else {
            return;
        };
        let error = e.to_string();
        let attempts = self.attempts.failed(key, &error);
        if attempts < self.settings.max_turn_attempts {
            return;
        }
        self.attempts.clear(key);
        let failure = crate::store::TurnFailure {
            error,
            attempts,
            reset_snapshot,
            now_ms: (self.deps.clock)().timestamp_millis(),
        };
        match self.deps.store.set_aside_turn(key, &failure).await {
            Ok(done) => {
                tracing::error!(
                    conversation = ?done.conversation_id,
                    rows = done.rows,
                    attempts,
                    error = %failure.error,
                    "a turn failed the same way {attempts} times: its messages are set aside \
                     and the conversation is handed off as stuck"
                );
                metrics::counter!(names::TURNS_SET_ASIDE).increment(1);
                if done.queued {
                    a.dirty.store(true, Ordering::Release);
                }
            }
            Err(err) => tracing::warn!(error = %err, "setting a failing turn aside failed"),
        }
    }

    /// Holds the conversation's next turn until `until_ms` (the turn's clock, ms since the
    /// epoch) or a newer arrival, and keeps its task alive for it.
    fn hold_for_transcript(&self, a: &Active, until_ms: i64) {
        let now_ms = (self.deps.clock)().timestamp_millis();
        let wait = Duration::from_millis(u64::try_from(until_ms - now_ms).unwrap_or(0));
        a.debounce.hold_until(Instant::now() + wait);
        a.dirty.store(true, Ordering::Release);
    }

    /// Starts the dispatcher: reads arrival signals, polls for pending rows, and stops on
    /// `shutdown` after the turns in progress finish (at most `drain_timeout`).
    pub fn spawn(
        self: &Arc<Self>,
        mut arrivals: mpsc::UnboundedReceiver<ConversationKey>,
        mut shutdown: watch::Receiver<bool>,
        drain_timeout: Duration,
    ) -> JoinHandle<()> {
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let mut poll = this.settings.poll_interval.map(|every| {
                let mut poll = tokio::time::interval(every);
                poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                poll
            });
            let mut recheck_at: Option<Instant> = None;
            loop {
                tokio::select! {
                    Some(key) = arrivals.recv() => this.signal(key),
                    _ = tick(&mut poll) => this.recovery_poll().await,
                    _ = sleep_until(recheck_at) => {
                        recheck_at = None;
                        this.recovery_poll().await;
                    }
                    _ = this.recheck.notified() => {
                        recheck_at.get_or_insert(Instant::now() + RECHECK_DELAY);
                    }
                    _ = shutdown.changed() => {}
                }
                if *shutdown.borrow() {
                    break;
                }
            }
            this.accepting.store(false, Ordering::Release);
            let deadline = Instant::now() + drain_timeout;
            while this.active_conversations() > 0 && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let left = this.active_conversations();
            if left > 0 {
                tracing::warn!(
                    conversations = left,
                    "stopping with turns unfinished; their messages stay pending"
                );
            }
        })
    }
}

impl Worker {
    /// The recovery poll: wakes every conversation with pending rows.
    async fn recovery_poll(self: &Arc<Self>) {
        let now_ms = (self.deps.clock)().timestamp_millis();
        match self
            .deps
            .store
            .pending_conversations(200, now_ms, ORPHAN_TTL_MS)
            .await
        {
            Ok(keys) => {
                for key in keys {
                    self.recover(key);
                }
            }
            Err(e) => tracing::warn!(error = %e, "polling the inbox failed"),
        }
    }
}

/// The next tick of `poll`; never, without one.
async fn tick(poll: &mut Option<tokio::time::Interval>) {
    match poll {
        Some(poll) => {
            poll.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// Sleeps until `at`; never, without one.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::flow::FlowConfigHandle;
    use crate::kapso::Sender;
    use crate::kapso::outbox::OutboxSender;
    use crate::knowledge::Library;
    use crate::store::Store;
    use crate::store::sqlite::SqliteStore;
    use std::path::Path;

    /// A conversation's task lives for its whole debounce wait, so its future must stay small:
    /// the turn's own future (store, LLM and HTTP calls: tens of KiB) is boxed and allocated
    /// only while a turn runs. The memory bench (docs/BENCHMARKS.md) measured 32.7 KiB per
    /// waiting conversation when it was inline (this test then saw 31,904 bytes); this fails if
    /// it is inlined again.
    #[tokio::test]
    async fn a_waiting_conversation_task_is_small() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> =
            Arc::new(SqliteStore::open(&dir.path().join("w.db")).await.unwrap());
        let flow_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("state-machines");
        let deps = TurnDeps {
            store: Arc::clone(&store),
            flow: Arc::new(FlowConfigHandle::load(&flow_dir).unwrap()),
            outbox: OutboxSender::new(Arc::clone(&store), Sender::DryRun),
            clock: system_clock(),
            lease_ms: 60_000,
            mark_read: false,
            form_answers: no_form_answers(),
            knowledge: Arc::new(Library::open(flow_dir.join("knowledge")).unwrap()),
            llm: None,
            crm_webhook_url: None,
        };
        let worker = Worker::new(Arc::new(deps), WorkerSettings::default());
        let key = ConversationKey {
            workspace_id: "default".into(),
            contact_phone: "+6281234567890".into(),
        };
        let active = Arc::new(Active {
            debounce: worker.new_debounce(Instant::now()),
            dirty: AtomicBool::new(false),
            arrivals: watch::channel(0).0,
        });
        let task = Arc::clone(&worker).run_conversation(key, active);
        let size = std::mem::size_of_val(&task);
        assert!(size < 4096, "a waiting conversation's task is {size} bytes");
    }

    /// Issue 14's voice-note grace, on paused time: a worker whose turns read a SQLite store,
    /// with a clock that follows tokio's.
    struct VoiceCase {
        _dir: tempfile::TempDir,
        store: Arc<dyn Store>,
        worker: Arc<Worker>,
        clock: Clock,
        start: Instant,
    }

    const TRANSCRIPT: &str = "IELTS saya 6.5 kak";

    impl VoiceCase {
        async fn new(voice_grace: Option<Duration>) -> Self {
            let dir = tempfile::tempdir().unwrap();
            let store: Arc<dyn Store> =
                Arc::new(SqliteStore::open(&dir.path().join("v.db")).await.unwrap());
            let flow_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("state-machines");
            let (base, start) = (chrono::Utc::now(), Instant::now());
            let clock: Clock =
                Arc::new(move || base + chrono::Duration::from_std(start.elapsed()).unwrap());
            let deps = TurnDeps {
                store: Arc::clone(&store),
                flow: Arc::new(FlowConfigHandle::load(&flow_dir).unwrap()),
                outbox: OutboxSender::new(Arc::clone(&store), Sender::DryRun),
                clock: Arc::clone(&clock),
                lease_ms: 60_000,
                mark_read: false,
                form_answers: no_form_answers(),
                knowledge: Arc::new(Library::open(flow_dir.join("knowledge")).unwrap()),
                llm: None,
                crm_webhook_url: None,
            };
            let settings = WorkerSettings {
                voice_grace,
                ..WorkerSettings::default()
            };
            let worker = Worker::new(Arc::new(deps), settings);
            VoiceCase {
                _dir: dir,
                store,
                worker,
                clock,
                start,
            }
        }

        fn key() -> ConversationKey {
            ConversationKey {
                workspace_id: "default".into(),
                contact_phone: "+6281234567890".into(),
            }
        }

        /// A copy of the lead's voice note arrives (delivery `copy`), with or without transcript.
        async fn voice_note(&self, copy: &str, transcript: Option<&str>) {
            use crate::inbox::*;
            let mut event = InboundEvent::unknown("whatsapp.message.received");
            event.kind = EventKind::Message;
            event.phone_number_id = Some("p".into());
            event.contact_phone = Some(Self::key().contact_phone);
            event.message = Some(InboundMessage {
                wamid: "wamid.V".into(),
                timestamp: None,
                message_type: MessageType::Audio,
                text: transcript.map(str::to_string),
                reply_id: None,
                media: None,
                location: None,
                reacts_to: None,
                context_id: None,
                origin: None,
                referral: None,
            });
            let delivery = NewDelivery {
                idempotency_key: copy.into(),
                event_header: None,
                request_id: String::new(),
                received_at_ms: (self.clock)().timestamp_millis(),
                original_body: None,
                body_hash: None,
                items: vec![NewInboxItem {
                    event,
                    raw: serde_json::json!({}),
                    workspace_id: Some("default".into()),
                    state: InboxState::Pending,
                }],
            };
            self.store.enqueue_inbound(delivery).await.unwrap();
            self.worker.signal(Self::key());
        }

        /// The texts of the lead's messages the turns have committed so far.
        async fn read(&self) -> Vec<Option<String>> {
            let messages = self.store.conversation_messages(&Self::key()).await;
            messages
                .unwrap()
                .into_iter()
                .filter(|m| m.direction == crate::store::Direction::Inbound)
                .map(|m| m.text)
                .collect()
        }

        /// Waits (paused time, up to 20 s from the start) until a turn committed; returns what
        /// it read and when, from the start.
        async fn first_turn(&self) -> (Vec<Option<String>>, Duration) {
            loop {
                let read = self.read().await;
                if !read.is_empty() {
                    return (read, self.start.elapsed());
                }
                assert!(self.start.elapsed() < Duration::from_secs(20), "no turn");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }

    const GRACE: Option<Duration> = Some(Duration::from_secs(5));

    /// Kapso's copy comes 3 s after the Meta copy, past the 1.5 s debounce but within the
    /// grace: the one turn reads the transcript.
    #[tokio::test(start_paused = true)]
    async fn a_voice_note_waits_for_kapsos_copy_and_reads_its_transcript() {
        let case = VoiceCase::new(GRACE).await;
        case.voice_note("meta", None).await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert!(case.read().await.is_empty(), "the turn waited");
        case.voice_note("kapso", Some(TRANSCRIPT)).await;
        let (read, at) = case.first_turn().await;
        assert_eq!(read, [Some(TRANSCRIPT.to_string())]);
        assert!(
            at >= Duration::from_millis(4_500),
            "one window after the copy: {at:?}"
        );
    }

    /// No copy comes: the turn runs when the grace ends (and the flow asks the lead to type).
    #[tokio::test(start_paused = true)]
    async fn without_kapsos_copy_the_voice_note_turn_runs_when_the_grace_ends() {
        let case = VoiceCase::new(GRACE).await;
        case.voice_note("meta", None).await;
        let (read, at) = case.first_turn().await;
        assert_eq!(read, [None]);
        assert!(at >= Duration::from_secs(5), "ran at {at:?}");
        assert!(at < Duration::from_secs(6), "ran at {at:?}");
    }

    /// Without a Meta-format webhook there is no copy to wait for: the debounce alone.
    #[tokio::test(start_paused = true)]
    async fn without_a_meta_webhook_a_voice_note_does_not_wait() {
        let case = VoiceCase::new(None).await;
        case.voice_note("meta", None).await;
        let (read, at) = case.first_turn().await;
        assert_eq!(read, [None]);
        assert!(at < Duration::from_secs(3), "ran at {at:?}");
    }
}
