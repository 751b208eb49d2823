//! A circuit breaker per arm (issue 15): a server that is clearly down is not called.
//!
//! After `breaker_failures` consecutive failed calls (`llm.toml`, default 3) the arm's breaker
//! opens: for `breaker_cooldown_ms` (default 30 s) no call is made and the lead gets the
//! template at once. Then the breaker is half-open: the next call is the one trial (other
//! calls meanwhile are skipped); its success closes the breaker, its failure opens it for
//! another cool-down. A failure is the server not answering usefully: a timeout (the turn
//! budget cutting a call included), a refused or broken connection, an error status, a 429
//! after the retry. An answer the reply check rejects, or invalid extraction JSON, is the model's
//! wording, not the server being down: it counts as a success.
//!
//! Plain data and functions of an injected instant ([`Breaker::admit`], [`Breaker::record`]),
//! so the cool-down is tested without waiting; [`super::Llm`] passes tokio's clock.

use std::time::Duration;

use tokio::time::Instant;

use super::error::LlmError;

/// Consecutive failures that open an arm's breaker when the file sets none.
pub const DEFAULT_FAILURES: u32 = 3;

/// How long an open breaker skips calls when the file sets none (ms).
pub const DEFAULT_COOLDOWN_MS: u64 = 30_000;

/// What a breaker is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls are made.
    Closed,
    /// No calls until the cool-down ends.
    Open,
    /// The cool-down ended: one trial call decides.
    HalfOpen,
}

impl BreakerState {
    /// Label for `/readyz` and logs: `closed`, `open`, `half_open`.
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }

    /// The `ari_llm_breaker_state` gauge value: 0 closed, 1 open, 2 half-open.
    pub fn gauge(self) -> f64 {
        match self {
            BreakerState::Closed => 0.0,
            BreakerState::Open => 1.0,
            BreakerState::HalfOpen => 2.0,
        }
    }
}

/// Whether a call may go to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Closed: call.
    Call,
    /// Half-open: this call is the trial.
    Trial,
    /// Open, or a trial is out: no call.
    Skip,
}

/// How a call ended, for the breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The server answered.
    Success,
    /// The server did not answer usefully (see the module docs).
    Failure,
    /// No verdict: the call was dropped (a newer message) or never reached the server.
    Abandoned,
}

impl Outcome {
    /// The outcome of a finished call's result.
    pub fn of<T>(result: &Result<T, LlmError>) -> Outcome {
        match result {
            Ok(_) => Outcome::Success,
            Err(
                LlmError::Timeout { .. }
                | LlmError::TurnBudget { .. }
                | LlmError::RateLimited { .. }
                | LlmError::Status { .. }
                | LlmError::Transport(_),
            ) => Outcome::Failure,
            Err(LlmError::Empty | LlmError::Rejected(_) | LlmError::Invalid(_)) => Outcome::Success,
            Err(
                LlmError::Prompt(_)
                | LlmError::Request(_)
                | LlmError::Disabled
                | LlmError::BreakerOpen { .. },
            ) => Outcome::Abandoned,
        }
    }
}

/// One arm's breaker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Breaker {
    /// Consecutive failures that open it (≥ 1).
    failures_to_open: u32,
    /// How long it stays open.
    cooldown: Duration,
    /// Failures in a row so far.
    consecutive: u32,
    /// Open until then (half-open after it); `None` while closed.
    open_until: Option<Instant>,
    /// The half-open trial call is out.
    trial_out: bool,
}

impl Breaker {
    /// A closed breaker that opens after `failures_to_open` (at least 1) failures in a row.
    pub fn new(failures_to_open: u32, cooldown: Duration) -> Self {
        Breaker {
            failures_to_open: failures_to_open.max(1),
            cooldown,
            consecutive: 0,
            open_until: None,
            trial_out: false,
        }
    }

    /// Its state at `now`.
    pub fn state(&self, now: Instant) -> BreakerState {
        match self.open_until {
            None => BreakerState::Closed,
            Some(until) if now < until => BreakerState::Open,
            Some(_) => BreakerState::HalfOpen,
        }
    }

    /// Whether a call may be made at `now`; a `Trial` admission is the only one until its
    /// outcome is recorded.
    pub fn admit(&mut self, now: Instant) -> Admission {
        match self.state(now) {
            BreakerState::Closed => Admission::Call,
            BreakerState::Open => Admission::Skip,
            BreakerState::HalfOpen if self.trial_out => Admission::Skip,
            BreakerState::HalfOpen => {
                self.trial_out = true;
                Admission::Trial
            }
        }
    }

    /// Records how an admitted call ended, at `now`.
    pub fn record(&mut self, admitted: Admission, outcome: Outcome, now: Instant) {
        let trial = admitted == Admission::Trial;
        if trial {
            self.trial_out = false;
        }
        match outcome {
            Outcome::Success => {
                self.consecutive = 0;
                self.open_until = None;
            }
            Outcome::Failure => {
                self.consecutive = self.consecutive.saturating_add(1);
                if trial || self.consecutive >= self.failures_to_open {
                    self.open_until = Some(now + self.cooldown);
                }
            }
            Outcome::Abandoned => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(b: &mut Breaker, now: Instant) {
        let a = b.admit(now);
        b.record(a, Outcome::Failure, now);
    }

    #[test]
    fn opens_after_n_failures_in_a_row_and_a_success_resets_the_count() {
        let t0 = Instant::now();
        let mut b = Breaker::new(3, Duration::from_secs(30));
        failed(&mut b, t0);
        failed(&mut b, t0);
        let a = b.admit(t0);
        b.record(a, Outcome::Success, t0);
        failed(&mut b, t0);
        failed(&mut b, t0);
        assert_eq!(
            b.state(t0),
            BreakerState::Closed,
            "2 in a row after a success"
        );
        failed(&mut b, t0);
        assert_eq!(b.state(t0), BreakerState::Open);
        assert_eq!(b.admit(t0 + Duration::from_secs(29)), Admission::Skip);
    }

    #[test]
    fn after_the_cool_down_one_trial_decides() {
        let t0 = Instant::now();
        let cool = Duration::from_secs(30);
        let mut b = Breaker::new(1, cool);
        failed(&mut b, t0);
        let t1 = t0 + cool;
        assert_eq!(b.state(t1), BreakerState::HalfOpen);
        let trial = b.admit(t1);
        assert_eq!(trial, Admission::Trial);
        assert_eq!(b.admit(t1), Admission::Skip, "one trial at a time");
        // The trial fails: open for another cool-down from then.
        b.record(trial, Outcome::Failure, t1);
        assert_eq!(
            b.state(t1 + cool - Duration::from_millis(1)),
            BreakerState::Open
        );
        let t2 = t1 + cool;
        let trial = b.admit(t2);
        assert_eq!(trial, Admission::Trial);
        b.record(trial, Outcome::Success, t2);
        assert_eq!(b.state(t2), BreakerState::Closed);
        assert_eq!(b.admit(t2), Admission::Call);
    }

    #[test]
    fn a_dropped_trial_lets_the_next_call_be_the_trial() {
        let t0 = Instant::now();
        let mut b = Breaker::new(1, Duration::from_secs(1));
        failed(&mut b, t0);
        let t1 = t0 + Duration::from_secs(1);
        let trial = b.admit(t1);
        b.record(trial, Outcome::Abandoned, t1);
        assert_eq!(b.state(t1), BreakerState::HalfOpen);
        assert_eq!(b.admit(t1), Admission::Trial);
    }

    #[test]
    fn server_failures_count_and_the_models_wording_does_not() {
        let fail: Result<(), LlmError> = Err(LlmError::Status {
            status: 503,
            message: String::new(),
        });
        assert_eq!(Outcome::of(&fail), Outcome::Failure);
        assert_eq!(
            Outcome::of::<()>(&Err(LlmError::TurnBudget { ms: 300 })),
            Outcome::Failure
        );
        assert_eq!(
            Outcome::of::<()>(&Err(LlmError::Invalid("x".into()))),
            Outcome::Success
        );
        assert_eq!(Outcome::of(&Ok(())), Outcome::Success);
        assert_eq!(
            Outcome::of::<()>(&Err(LlmError::Disabled)),
            Outcome::Abandoned
        );
    }
}
