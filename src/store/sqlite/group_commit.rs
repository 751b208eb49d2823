//! Group commit of webhook writes on the SQLite connection thread (issue 17 item 1).
//!
//! Each webhook used to be one transaction, so one `fsync` (`synchronous = FULL`) per webhook,
//! made one at a time on the single connection thread: ingest was bound by the disk's
//! single-row commit rate. Here a webhook write is a [`Job`] pushed on a shared FIFO queue; the
//! caller then posts one closure to the connection thread, which runs [`GroupCommit::run_until`]:
//! it takes every job queued so far (at most [`MAX_BATCH`]) and applies them in one
//! `BEGIN IMMEDIATE` transaction, one `SAVEPOINT` per job, then one `COMMIT` (one `fsync`).
//!
//! - **No added wait.** A batch is whatever queued while the thread was busy (mostly with the
//!   previous commit), so no job waits longer than the previous commit took, and a lone webhook
//!   commits at once. A closure that finds its job already taken by an earlier batch is a no-op.
//! - **Acknowledged after the commit.** Every job's answer is sent only after its batch's
//!   `COMMIT` succeeded; a failed `BEGIN` or `COMMIT` fails every job of the batch (503 at the
//!   HTTP edge), so no caller holds an Ok for a row that is not durable.
//! - **Exact dedup.** Jobs run one after the other in the same transaction, so a later copy of
//!   an idempotency key or wamid sees the earlier one's row and is a duplicate (or an
//!   enrichment, issue 16 item 3), exactly as across batches.
//! - **Isolated item failures.** A job whose own statements fail is rolled back to its
//!   savepoint and answered with that error; the other jobs keep their rows.
//! - **Deadlines** (issue 16 item 8): a job whose deadline passed before its write started is
//!   dropped (answered `None`) without touching the database. Its queue permit is held until
//!   it is answered.
//!
//! `ARI_GROUP_COMMIT=0` (read at open, [`enabled_from_env`]) selects the old
//! one-transaction-per-webhook path: a bench knob for `benches/ingest.rs`, not a setting.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use rusqlite::{Connection, Transaction, TransactionBehavior};
use tokio::sync::{OwnedSemaphorePermit, oneshot};

use crate::inbox::{EnqueueOutcome, NewDelivery};

/// Most jobs in one transaction.
pub const MAX_BATCH: usize = 256;

/// Counter of group commit batches committed (one `COMMIT`, one `fsync`, each).
pub const BATCHES_METRIC: &str = "ari_store_group_commits_total";

/// Counter of webhook writes in committed batches: ÷ [`BATCHES_METRIC`] is the mean batch size.
pub const BATCH_WRITES_METRIC: &str = "ari_store_group_commit_writes_total";

/// The environment variable of the bench knob: `0` (or `false`, `off`) selects one transaction
/// per webhook.
pub const SWITCH_ENV: &str = "ARI_GROUP_COMMIT";

/// Whether group commit is on: unless [`SWITCH_ENV`] is `0`, `false` or `off`.
pub fn enabled_from_env() -> bool {
    let value = std::env::var(SWITCH_ENV).unwrap_or_default();
    !matches!(value.trim(), "0" | "false" | "off")
}

/// A job's answer: the outcome, `None` when its deadline passed before its write started, or
/// why it failed (its own statements, or its batch's `BEGIN` / `COMMIT`).
pub type Answer = Result<Option<EnqueueOutcome>, String>;

/// One queued webhook write.
struct Job {
    /// Place in the queue, increasing.
    seq: u64,
    delivery: NewDelivery,
    deadline: Instant,
    answer: oneshot::Sender<Answer>,
    /// The queue slot of issue 16 item 8, released when the job is answered (dropped).
    _permit: Option<OwnedSemaphorePermit>,
}

impl Job {
    fn answer(self, answer: Answer) {
        // The caller may have given up (its deadline); the write stands either way.
        let _ = self.answer.send(answer);
    }
}

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    next_seq: u64,
}

/// The queue of webhook writes waiting for the connection thread. Share it behind an `Arc`.
#[derive(Default)]
pub struct GroupCommit {
    queue: Mutex<Queue>,
}

impl GroupCommit {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // A panic while holding the lock leaves the queue consistent (push/pop only).
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues one write (`deadline`: when its write must have started). Returns its place, to
    /// pass to [`GroupCommit::run_until`], and where its [`Answer`] arrives.
    pub fn push(
        &self,
        delivery: NewDelivery,
        deadline: Instant,
        permit: Option<OwnedSemaphorePermit>,
    ) -> (u64, oneshot::Receiver<Answer>) {
        let (tx, rx) = oneshot::channel();
        let mut queue = self.lock();
        let seq = queue.next_seq;
        queue.next_seq += 1;
        queue.jobs.push_back(Job {
            seq,
            delivery,
            deadline,
            answer: tx,
            _permit: permit,
        });
        (seq, rx)
    }

    /// Jobs waiting, not yet taken by a batch.
    #[cfg(test)]
    pub fn queued(&self) -> usize {
        self.lock().jobs.len()
    }

    /// On the connection thread: commits batches, oldest jobs first, until the job at `seq`
    /// has been taken (by this call or an earlier one) and answered.
    pub fn run_until(&self, c: &mut Connection, seq: u64) {
        loop {
            let batch = {
                let mut queue = self.lock();
                match queue.jobs.front() {
                    Some(job) if job.seq <= seq => {
                        let n = queue.jobs.len().min(MAX_BATCH);
                        queue.jobs.drain(..n).collect::<Vec<_>>()
                    }
                    _ => return,
                }
            };
            commit_batch(c, batch);
        }
    }
}

/// Applies `jobs` in one transaction and answers each, after the commit.
fn commit_batch(c: &mut Connection, jobs: Vec<Job>) {
    let tx = match c.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => return fail_all(jobs, &format!("batch begin: {e}")),
    };
    let mut done = Vec::with_capacity(jobs.len());
    for job in jobs {
        if Instant::now() >= job.deadline {
            job.answer(Ok(None)); // expired before its write started: dropped, nothing written
            continue;
        }
        match in_savepoint(&tx, &job.delivery) {
            Ok(result) => done.push((job, result)),
            Err(e) => {
                // The savepoint could not be rolled back: the transaction is in doubt.
                let mut all: Vec<Job> = done.into_iter().map(|(j, _)| j).collect();
                all.push(job);
                return fail_all(all, &format!("batch savepoint: {e}"));
            }
        }
    }
    if done.is_empty() {
        return; // every job expired: nothing to commit (the transaction rolls back)
    }
    match tx.commit() {
        Ok(()) => {
            metrics::counter!(BATCHES_METRIC).increment(1);
            metrics::counter!(BATCH_WRITES_METRIC).increment(done.len() as u64);
            done.into_iter().for_each(|(job, r)| job.answer(r));
        }
        Err(e) => {
            let jobs = done.into_iter().map(|(j, _)| j).collect();
            fail_all(jobs, &format!("batch commit: {e}"));
        }
    }
}

/// One job's statements inside its own savepoint. The outer `Ok` is the job's result (an item
/// error rolled back to the savepoint, the other jobs untouched); `Err` is a savepoint
/// statement that failed, which dooms the batch.
fn in_savepoint(tx: &Transaction<'_>, delivery: &NewDelivery) -> Result<Answer, rusqlite::Error> {
    tx.execute_batch("SAVEPOINT ari_item")?;
    match super::enqueue_in(tx, delivery) {
        Ok(outcome) => {
            tx.execute_batch("RELEASE ari_item")?;
            Ok(Ok(Some(outcome)))
        }
        Err(e) => {
            tx.execute_batch("ROLLBACK TO ari_item; RELEASE ari_item")?;
            tracing::warn!(error = %e, key = %delivery.idempotency_key, "webhook write failed");
            Ok(Err(format!("webhook write: {e}")))
        }
    }
}

fn fail_all(jobs: Vec<Job>, why: &str) {
    tracing::warn!(
        jobs = jobs.len(),
        error = why,
        "group commit failed; every caller gets 503"
    );
    for job in jobs {
        job.answer(Err(why.to_string()));
    }
}

#[cfg(test)]
mod tests {
    //! Batches made deterministic: the connection thread is held by a closure that waits for a
    //! signal while the jobs queue up, so all of them land in one batch. The jobs are posted
    //! only once that closure runs (it says so), or the first one could commit alone.

    use std::sync::Arc;

    use crate::inbox::{
        EnqueueOutcome, EventKind, InboundEvent, InboundMessage, InboxState, Media, MessageType,
        NewDelivery, NewInboxItem,
    };
    use crate::store::sqlite::SqliteStore;
    use crate::store::{Store, StoreError};

    fn message(wamid: &str, text: &str) -> NewInboxItem {
        let mut event = InboundEvent::unknown("whatsapp.message.received");
        event.kind = EventKind::Message;
        event.phone_number_id = Some("p".into());
        event.contact_phone = Some("+6281234567890".into());
        event.message = Some(InboundMessage {
            wamid: wamid.into(),
            timestamp: Some(1_763_604_907),
            message_type: MessageType::Text,
            text: Some(text.into()),
            reply_id: None,
            media: None,
            location: None,
            reacts_to: None,
            context_id: None,
            origin: Some("cloud_api".into()),
            referral: None,
        });
        NewInboxItem {
            raw: serde_json::json!({"id": wamid, "text": {"body": text}}),
            event,
            workspace_id: Some("default".into()),
            state: InboxState::Pending,
        }
    }

    /// A voice note: Meta's copy (no transcript, no URL) or Kapso's (both).
    fn voice(wamid: &str, transcript: Option<&str>) -> NewInboxItem {
        let mut item = message(wamid, "");
        if let Some(m) = item.event.message.as_mut() {
            m.message_type = MessageType::Audio;
            m.text = transcript.map(str::to_string);
            m.media = Some(Media {
                id: Some("media-1".into()),
                url: transcript.map(|_| "https://m/1".to_string()),
                ..Media::default()
            });
        }
        item
    }

    fn delivery(key: &str, items: Vec<NewInboxItem>) -> NewDelivery {
        NewDelivery {
            body_hash: None,
            idempotency_key: key.into(),
            event_header: Some("whatsapp.message.received".into()),
            request_id: "req".into(),
            received_at_ms: 1_763_604_907_000,
            items,
            original_body: None,
        }
    }

    async fn open() -> (tempfile::TempDir, Arc<SqliteStore>) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("group.db"))
            .await
            .unwrap();
        assert!(store.group.is_some(), "group commit is on by default");
        (dir, Arc::new(store))
    }

    async fn sql(store: &SqliteStore, batch: &'static str) {
        store
            .conn
            .call(move |c| c.execute_batch(batch))
            .await
            .unwrap();
    }

    /// Enqueues every delivery at once, all in one batch; the answers in the same order.
    async fn in_one_batch(
        store: &Arc<SqliteStore>,
        deliveries: Vec<NewDelivery>,
    ) -> Vec<Result<EnqueueOutcome, StoreError>> {
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let (held, holding) = tokio::sync::oneshot::channel::<()>();
        let conn = store.conn.clone();
        let hold = tokio::spawn(async move {
            conn.call(move |_| {
                let _ = held.send(());
                let _ = wait.recv();
                Ok::<(), rusqlite::Error>(())
            })
            .await
        });
        // The connection thread must be held before the first job is posted: otherwise that
        // job commits at once, the queue is empty again, and the wait below never ends.
        holding.await.unwrap();
        let group = Arc::clone(store.group.as_ref().unwrap());
        let mut tasks = Vec::new();
        for (i, d) in deliveries.into_iter().enumerate() {
            let store = Arc::clone(store);
            tasks.push(tokio::spawn(async move { store.enqueue_inbound(d).await }));
            // In order: each job queued before the next is spawned.
            while group.queued() <= i {
                tokio::task::yield_now().await;
            }
        }
        release.send(()).unwrap();
        hold.await.unwrap().unwrap();
        let mut answers = Vec::new();
        for t in tasks {
            answers.push(t.await.unwrap());
        }
        answers
    }

    fn accepted(stored: usize, duplicates: usize, enriched: usize) -> EnqueueOutcome {
        EnqueueOutcome::Accepted {
            stored,
            duplicates,
            enriched,
        }
    }

    async fn rows(store: &SqliteStore) -> usize {
        store.list_inbox(0, 1000).await.unwrap().len()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_whose_commit_fails_fails_every_caller_and_keeps_the_acknowledged() {
        let (_dir, store) = open().await;
        // A row under the marker key breaks a deferred foreign key: the statements succeed,
        // the batch's COMMIT fails.
        sql(
            &store,
            "CREATE TABLE poison_parent (id INTEGER PRIMARY KEY);
             CREATE TABLE poison_child (parent INTEGER
                 REFERENCES poison_parent (id) DEFERRABLE INITIALLY DEFERRED);
             CREATE TRIGGER poison AFTER INSERT ON deliveries
                 WHEN NEW.idempotency_key = 'poison'
             BEGIN INSERT INTO poison_child (parent) VALUES (42); END;",
        )
        .await;
        let before = store
            .enqueue_inbound(delivery("before", vec![message("w0", "halo")]))
            .await
            .unwrap();
        assert_eq!(before, accepted(1, 0, 0));
        let mut batch: Vec<_> = (1..=6)
            .map(|i| delivery(&format!("k{i}"), vec![message(&format!("w{i}"), "halo")]))
            .collect();
        batch.insert(3, delivery("poison", vec![message("wp", "halo")]));
        let answers = in_one_batch(&store, batch.clone()).await;
        for (d, a) in batch.iter().zip(&answers) {
            let err = a.as_ref().expect_err(&d.idempotency_key);
            assert!(matches!(err, StoreError::Unavailable(_)), "{err}");
            assert!(err.to_string().contains("batch commit"), "{err}");
        }
        assert_eq!(rows(&store).await, 1, "only the row acknowledged before");
        // The redeliveries (without the poison) are stored: nothing was half-written.
        batch.remove(3);
        let again = in_one_batch(&store, batch).await;
        assert!(
            again
                .iter()
                .all(|a| a.as_ref().unwrap() == &accepted(1, 0, 0))
        );
        assert_eq!(rows(&store).await, 7);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_item_that_fails_alone_fails_only_its_caller() {
        let (_dir, store) = open().await;
        sql(
            &store,
            "CREATE TRIGGER bad BEFORE INSERT ON inbox WHEN NEW.wamid = 'w-bad'
             BEGIN SELECT RAISE(ABORT, 'injected item failure'); END;",
        )
        .await;
        let batch = vec![
            delivery("k1", vec![message("w1", "halo")]),
            delivery("bad", vec![message("w2", "halo"), message("w-bad", "x")]),
            delivery("k3", vec![message("w3", "halo")]),
        ];
        let answers = in_one_batch(&store, batch).await;
        assert_eq!(answers[0].as_ref().unwrap(), &accepted(1, 0, 0));
        let err = answers[1].as_ref().unwrap_err();
        assert!(err.to_string().contains("injected item failure"), "{err}");
        assert_eq!(answers[2].as_ref().unwrap(), &accepted(1, 0, 0));
        let stored = store.list_inbox(0, 100).await.unwrap();
        let wamids: Vec<_> = stored.iter().filter_map(|r| r.event.wamid()).collect();
        assert_eq!(
            wamids,
            ["w1", "w3"],
            "the failed item's first row rolled back too"
        );
        // Its redelivery claims the key afresh: the failed claim left nothing behind.
        sql(&store, "DROP TRIGGER bad").await;
        let redelivered = store
            .enqueue_inbound(delivery("bad", vec![message("w2", "halo")]))
            .await
            .unwrap();
        assert_eq!(redelivered, accepted(1, 0, 0));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn copies_of_one_key_or_wamid_in_one_batch_store_once() {
        let (_dir, store) = open().await;
        let mut batch: Vec<_> = (0..8)
            .map(|_| delivery("same", vec![message("w1", "halo")]))
            .collect();
        batch.extend((0..4).map(|i| delivery(&format!("other{i}"), vec![message("w1", "halo")])));
        let answers = in_one_batch(&store, batch).await;
        let answers: Vec<_> = answers.into_iter().map(Result::unwrap).collect();
        assert_eq!(answers[0], accepted(1, 0, 0));
        assert!(
            answers[1..8]
                .iter()
                .all(|a| *a == EnqueueOutcome::DuplicateDelivery)
        );
        assert!(answers[8..].iter().all(|a| *a == accepted(0, 1, 0)));
        assert_eq!(rows(&store).await, 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_later_copy_in_the_same_batch_completes_the_message() {
        let (_dir, store) = open().await;
        let batch = vec![
            delivery("meta", vec![voice("wv", None)]),
            delivery("kapso", vec![voice("wv", Some("mau kuliah di jerman kak"))]),
        ];
        let answers = in_one_batch(&store, batch).await;
        assert_eq!(answers[0].as_ref().unwrap(), &accepted(1, 0, 0));
        assert_eq!(answers[1].as_ref().unwrap(), &accepted(0, 1, 1));
        let stored = store.list_inbox(0, 100).await.unwrap();
        assert_eq!(stored.len(), 1);
        let text = stored[0]
            .event
            .message
            .as_ref()
            .and_then(|m| m.text.clone());
        assert_eq!(text.as_deref(), Some("mau kuliah di jerman kak"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_job_past_its_deadline_is_dropped_untouched() {
        let (_dir, store) = open().await;
        let group = Arc::clone(store.group.as_ref().unwrap());
        let past = std::time::Instant::now();
        let (seq, answer) = group.push(delivery("late", vec![message("w1", "x")]), past, None);
        let run = Arc::clone(&group);
        store
            .conn
            .call(move |c| {
                run.run_until(c, seq);
                Ok::<(), rusqlite::Error>(())
            })
            .await
            .unwrap();
        assert_eq!(answer.await.unwrap(), Ok(None));
        assert_eq!(rows(&store).await, 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_is_taken_in_batches_of_at_most_max() {
        let (_dir, store) = open().await;
        let group = Arc::clone(store.group.as_ref().unwrap());
        let far = std::time::Instant::now() + std::time::Duration::from_secs(3600);
        let answers: Vec<_> = (0..super::MAX_BATCH + 10)
            .map(|i| {
                let d = delivery(&format!("k{i}"), vec![message(&format!("w{i}"), "x")]);
                group.push(d, far, None)
            })
            .collect();
        let first = answers[0].0;
        let run = Arc::clone(&group);
        store
            .conn
            .call(move |c| {
                run.run_until(c, first);
                Ok::<(), rusqlite::Error>(())
            })
            .await
            .unwrap();
        assert_eq!(group.queued(), 10, "one batch of MAX_BATCH taken");
        let last = answers.last().map(|a| a.0).unwrap();
        let run = Arc::clone(&group);
        store
            .conn
            .call(move |c| {
                run.run_until(c, last);
                Ok::<(), rusqlite::Error>(())
            })
            .await
            .unwrap();
        assert_eq!(group.queued(), 0);
        for (_, answer) in answers {
            assert_eq!(answer.await.unwrap(), Ok(Some(accepted(1, 0, 0))));
        }
    }
}
