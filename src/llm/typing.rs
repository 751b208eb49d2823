//! Keeping WhatsApp's typing indicator alive while a slow model call runs.
//!
//! WhatsApp hides the indicator 25 s after it was shown (seed §13: Kapso's mark-read with
//! `typing_indicator`), and a model call may take up to the budget (25 s by default), so the
//! indicator is refreshed every [`TYPING_REFRESH`] until the work finishes.

use std::future::Future;
use std::time::Duration;

/// Refresh period: under WhatsApp's 25 s expiry with 5 s to spare for the refresh's own
/// round trip.
pub const TYPING_REFRESH: Duration = Duration::from_secs(20);

/// Runs `work` to completion and calls `refresh` every `every` while it runs (first call
/// `every` after the start: the caller shows the indicator itself when it begins). A refresh
/// runs concurrently with the work, so a slow refresh never delays the result; a refresh still
/// running when the work finishes is dropped. Refresh errors are the closure's business (log
/// and carry on: a missing indicator must never fail a turn).
pub async fn keep_typing<T, W, R, RF>(work: W, every: Duration, mut refresh: R) -> T
where
    W: Future<Output = T>,
    R: FnMut() -> RF,
    RF: Future<Output = ()>,
{
    let mut work = std::pin::pin!(work);
    let every = every.max(Duration::from_millis(1));
    let mut next = tokio::time::Instant::now() + every;
    loop {
        tokio::select! {
            out = &mut work => return out,
            _ = tokio::time::sleep_until(next) => {}
        }
        next += every;
        let refreshing = refresh();
        tokio::select! {
            out = &mut work => return out,
            _ = refreshing => {}
        }
    }
}
