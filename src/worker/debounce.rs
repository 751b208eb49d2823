//! When a conversation's turn starts: after a quiet window, and never later than a ceiling.
//!
//! A lead who types three quick messages gets one reply, so a turn waits until the lead has
//! been quiet for the debounce window (default 1.5 s). A lead who never pauses that long would
//! then never get a turn, so the wait has a ceiling (default 6 s, `--max-debounce-ms`),
//! counted from the lead's first unanswered message: the turn starts by then whatever arrives.
//! After the ceiling a newer message no longer supersedes the turn's LLM call either (see
//! [`super::turn::Interrupts`]); it is answered by the next turn.
//!
//! A turn may also be held past both (issue 14, `--meta-webhook`): when its newest lead message
//! is a voice note without transcript, it waits for Kapso's copy of it until the voice-note
//! grace ends ([`Debounce::hold_until`]); news from ingress (that copy, or another message)
//! lifts the hold and the turn runs after the quiet window; a poll's wake-up does not.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// One conversation's debounce: the latest arrival and the first unanswered one.
#[derive(Debug)]
pub(super) struct Debounce {
    window: Duration,
    ceiling: Duration,
    waiting: Mutex<Waiting>,
    /// Wakes [`Debounce::wait`] when a lifted hold moves the deadline earlier.
    lifted: Notify,
}

#[derive(Debug, Clone, Copy)]
struct Waiting {
    /// The latest message's arrival: the quiet window runs from here.
    last: Instant,
    /// The first message no turn has answered yet: the ceiling runs from here.
    first: Option<Instant>,
    /// A voice note waits for its transcript until then (overrides the window and ceiling).
    hold: Option<Instant>,
}

impl Debounce {
    /// `window`: quiet time before a turn; `ceiling`: the longest wait from the first unanswered
    /// message (a ceiling below the window is raised to it). `arrival`: the first message.
    pub(super) fn new(window: Duration, ceiling: Duration, arrival: Instant) -> Self {
        Debounce {
            window,
            ceiling: ceiling.max(window),
            waiting: Mutex::new(Waiting {
                last: arrival,
                first: Some(arrival),
                hold: None,
            }),
            lifted: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Waiting> {
        // The data is two instants, always consistent: a panic elsewhere cannot corrupt it.
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A message arrived at `at` (a poll's wake-up passes a time in the past). A voice note's
    /// hold stays: only [`Debounce::lift_hold`] (news from ingress) ends it early.
    pub(super) fn arrive(&self, at: Instant) {
        let mut w = self.lock();
        if at > w.last {
            w.last = at;
        }
        let first = w.first.get_or_insert(at);
        if at < *first {
            *first = at;
        }
    }

    /// A turn answered every waiting message: the next message starts a new ceiling.
    pub(super) fn answered(&self) {
        self.lock().first = None;
    }

    /// A new message came from ingress (Kapso's copy of the voice note, or another message): a
    /// hold ends, and the turn runs one quiet window after the arrival.
    pub(super) fn lift_hold(&self) {
        if self.lock().hold.take().is_some() {
            self.lifted.notify_one();
        }
    }

    /// The turn found its newest lead message to be a voice note without transcript: it waits
    /// until `until` (the end of the voice-note grace) unless a newer message arrives first.
    pub(super) fn hold_until(&self, until: Instant) {
        self.lock().hold = Some(until);
    }

    /// When the turn starts: the end of the quiet window, or the ceiling if that comes first;
    /// a voice note's hold, if later.
    pub(super) fn deadline(&self) -> Instant {
        let w = *self.lock();
        let quiet = w.last + self.window;
        let due = match w.first {
            Some(first) => quiet.min(first + self.ceiling),
            None => quiet,
        };
        w.hold.map_or(due, |hold| due.max(hold))
    }

    /// Until when a newer message may still supersede the turn: the ceiling (or, with nothing
    /// waiting, one ceiling from now).
    pub(super) fn interruptible_until(&self) -> Instant {
        let first = self.lock().first.unwrap_or_else(Instant::now);
        first + self.ceiling
    }

    /// Waits until [`Debounce::deadline`], following arrivals that move it while waiting
    /// (later, or earlier when they lift a hold).
    pub(super) async fn wait(&self) {
        loop {
            let deadline = self.deadline();
            if Instant::now() >= deadline {
                return;
            }
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => {}
                () = self.lifted.notified() => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    const WINDOW: Duration = Duration::from_millis(1_500);
    const CEILING: Duration = Duration::from_millis(6_000);

    /// The case: a lead who writes every 500 ms (never quiet for 1.5 s) still gets a
    /// turn that starts 6 s after their first message, not when they stop.
    #[tokio::test(start_paused = true)]
    async fn a_lead_writing_every_500_ms_gets_a_turn_at_the_ceiling() {
        let start = Instant::now();
        let d = Arc::new(Debounce::new(WINDOW, CEILING, start));
        let lead = {
            let d = Arc::clone(&d);
            tokio::spawn(async move {
                for _ in 0..40 {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    d.arrive(Instant::now());
                }
            })
        };
        d.wait().await;
        assert_eq!(Instant::now() - start, CEILING);
        // After the ceiling, the turn's LLM call is no longer superseded by newer messages.
        assert_eq!(d.interruptible_until(), start + CEILING);
        lead.abort();
    }

    /// Quick messages followed by a pause: the turn starts one window after the last.
    #[tokio::test(start_paused = true)]
    async fn a_pause_starts_the_turn_one_window_after_the_last_message() {
        let start = Instant::now();
        let d = Arc::new(Debounce::new(WINDOW, CEILING, start));
        let lead = {
            let d = Arc::clone(&d);
            tokio::spawn(async move {
                for _ in 0..3 {
                    tokio::time::sleep(Duration::from_millis(400)).await;
                    d.arrive(Instant::now());
                }
            })
        };
        d.wait().await;
        assert_eq!(
            Instant::now() - start,
            Duration::from_millis(1_200) + WINDOW
        );
        lead.await.unwrap();
    }

    /// A turn that answered everything resets the ceiling; one that did not (superseded,
    /// failed) keeps it, so the retry still starts by the first message's ceiling.
    #[tokio::test(start_paused = true)]
    async fn the_ceiling_runs_from_the_first_unanswered_message() {
        let start = Instant::now();
        let d = Debounce::new(WINDOW, CEILING, start);
        tokio::time::sleep(Duration::from_secs(5)).await;
        d.arrive(Instant::now());
        assert_eq!(
            d.deadline(),
            start + CEILING,
            "not answered: the old ceiling holds"
        );
        d.answered();
        let now = Instant::now();
        d.arrive(now);
        assert_eq!(d.deadline(), now + WINDOW);
        assert_eq!(d.interruptible_until(), now + CEILING);
    }

    /// Issue 14: a voice note's hold keeps the turn waiting past the window and the ceiling;
    /// news from ingress (Kapso's copy) lifts it, a poll's wake-up does not.
    #[tokio::test(start_paused = true)]
    async fn a_voice_note_hold_waits_until_a_newer_arrival_or_its_end() {
        let start = Instant::now();
        let d = Arc::new(Debounce::new(WINDOW, CEILING, start));
        d.hold_until(start + Duration::from_secs(8));
        assert_eq!(
            d.deadline(),
            start + Duration::from_secs(8),
            "past the ceiling"
        );
        // A poll's wake-up, even one dated after the note, keeps the hold.
        d.arrive(start + Duration::from_secs(1));
        assert_eq!(
            d.deadline(),
            start + Duration::from_secs(8),
            "a poll keeps it"
        );
        let copy = {
            let d = Arc::clone(&d);
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(3)).await;
                d.arrive(Instant::now());
                d.lift_hold();
            })
        };
        d.wait().await;
        assert_eq!(Instant::now() - start, Duration::from_secs(3) + WINDOW);
        copy.await.unwrap();
        // Without a newer arrival the hold runs to its end.
        let start = Instant::now();
        let d = Debounce::new(WINDOW, CEILING, start);
        d.hold_until(start + Duration::from_secs(5));
        d.wait().await;
        assert_eq!(Instant::now() - start, Duration::from_secs(5));
    }

    #[test]
    fn a_ceiling_below_the_window_is_the_window() {
        let start = Instant::now();
        let d = Debounce::new(WINDOW, Duration::from_millis(10), start);
        assert_eq!(d.deadline(), start + WINDOW);
    }
}
