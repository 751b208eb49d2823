//! The follow-up pass (issue 18), run by the worker's due loop ([`super::due`]) when a
//! follow-up time comes: the conversations whose next follow-up fell due get a `followup_due` control row ([`Store::queue_due_followups`], one transaction), and
//! the worker is woken for them. What a follow-up says, and whether it still applies, is
//! decided by the core inside the conversation's next turn ([`crate::flow::followup`]), in
//! order with the lead's messages: a follow-up queued while the lead writes is dropped by that
//! turn, and one queued once is sent once, through the outbox.

use chrono::{DateTime, Utc};

use super::TurnDeps;
use crate::store::{ConversationKey, StoreError};
use crate::telemetry::{mask_phone, names};

/// At most this many conversations are queued per pass; the rest wait for the next minute.
const BATCH: u32 = 200;

/// Queues the follow-ups due at `now`; returns the conversations that got one.
pub async fn run_once(
    deps: &TurnDeps,
    now: DateTime<Utc>,
) -> Result<Vec<ConversationKey>, StoreError> {
    let keys = deps
        .store
        .queue_due_followups(now.timestamp_millis(), BATCH)
        .await?;
    for key in &keys {
        tracing::info!(contact = %mask_phone(&key.contact_phone), workspace = key.workspace_id, "follow-up due: queued");
    }
    metrics::counter!(names::FOLLOWUPS_QUEUED).increment(keys.len() as u64);
    Ok(keys)
}
