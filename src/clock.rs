//! The service's clock: UTC now, moved ahead by an offset set once at start
//! (`--clock-offset-minutes`, default 0). Every time `ari serve` stores or compares (receipt
//! times, turns, leases, retries, follow-ups, reminders) is read here, so one offset moves all
//! of them together and the restarted process stays consistent with what the previous one
//! stored. The offset exists for trials and restart tests that need hours to pass (a
//! follow-up due 2 h after the lead's message); production runs with 0. Signed timestamps sent
//! to others (the CRM webhook's) use the real time.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Duration, Utc};

static OFFSET_MS: AtomicI64 = AtomicI64::new(0);

/// Sets the offset (minutes, may be negative). Called once, at start.
pub fn set_offset_minutes(minutes: i64) {
    OFFSET_MS.store(minutes.saturating_mul(60_000), Ordering::Relaxed);
}

/// Now, UTC, plus the offset.
pub fn now() -> DateTime<Utc> {
    Utc::now() + Duration::milliseconds(OFFSET_MS.load(Ordering::Relaxed))
}

/// [`now`] in milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    now().timestamp_millis()
}
