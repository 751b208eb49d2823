//! The turn budget (issue 15): one deadline for every model call of a turn.
//!
//! A hung server used to cost a turn two full timeouts (the extraction call, then the reply
//! call: ~25 s with the defaults, near the 60 s turn lease). Now a turn starts one
//! [`TurnBudget`] of `turn_budget_ms` (`llm.toml`, default 15 s) at its first model call;
//! each call ends at the earlier of its own limits (`timeout_ms` per attempt,
//! `budget_ms` per call) and the turn's deadline, and a call the deadline left no time for is
//! not made: the lead gets the template at once. Time is tokio's, so tests run it paused.

use std::time::Duration;

use tokio::time::Instant;

/// The deadline of a turn's model calls. Plain data, `Copy`: the turn makes one and hands it
/// to each call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TurnBudget {
    /// The instant every model call of the turn has ended by.
    pub deadline: Instant,
    /// The configured length (ms), for logs and errors.
    pub ms: u64,
}

impl TurnBudget {
    /// A budget of `ms` starting now.
    pub fn starting_now(ms: u64) -> Self {
        TurnBudget {
            deadline: Instant::now() + Duration::from_millis(ms),
            ms,
        }
    }

    /// What is left of it (zero once spent).
    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// True when nothing is left.
    pub fn is_spent(&self) -> bool {
        self.remaining().is_zero()
    }

    /// Where a call that may run `call_limit` from now has to end: `(instant, true)` when the
    /// turn's deadline comes first (a cut then is the turn budget's), else the call's own end.
    pub fn call_end(&self, call_limit: Duration) -> (Instant, bool) {
        let own = Instant::now() + call_limit;
        if self.deadline <= own {
            (self.deadline, true)
        } else {
            (own, false)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_budget_runs_out_and_cuts_calls_that_would_outlast_it() {
        let b = TurnBudget::starting_now(300);
        assert_eq!(b.remaining(), Duration::from_millis(300));
        assert_eq!(b.call_end(Duration::from_secs(12)), (b.deadline, true));
        let (end, by_turn) = b.call_end(Duration::from_millis(100));
        assert!(!by_turn && end < b.deadline);
        tokio::time::advance(Duration::from_millis(299)).await;
        assert!(!b.is_spent());
        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(b.is_spent());
        assert_eq!(b.remaining(), Duration::ZERO);
    }
}
