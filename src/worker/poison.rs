//! Poison conversations (issue 16 item 9). A turn that fails because of what is stored (an
//! unreadable snapshot, an inbox row that cannot be decoded) fails the same way on every retry,
//! and before this the lead never heard back. The worker counts such failures per
//! conversation; after `--max-turn-attempts` in a row with the same error it sets the turn
//! aside ([`crate::store::Store::set_aside_turn`]): the pending rows are kept for an operator,
//! and a queued [`crate::inbox::TURN_STUCK_EVENT`] runs the next turn, which hands the
//! conversation off as `stuck` (the lead gets `stages.handoff.texts.stuck`, a consultant the
//! handoff notice).
//!
//! Only failures of stored data count: an unreachable store fails differently and recovers by
//! itself. The counts live in the worker's memory, so a restart starts them again (at most
//! `max_turn_attempts` more attempts per restart).

use std::collections::HashMap;
use std::sync::Mutex;

use super::TurnError;
use crate::store::{ConversationKey, StoreError};

/// Failed attempts in a row per conversation, with the error they ended with.
#[derive(Default)]
pub(super) struct Attempts {
    failing: Mutex<HashMap<ConversationKey, (String, u32)>>,
}

impl Attempts {
    /// Counts a failed turn of `key` that ended with `error`; returns the attempts in a row
    /// that ended with this same error (1 when it differs from the last one).
    pub(super) fn failed(&self, key: &ConversationKey, error: &str) -> u32 {
        let Ok(mut failing) = self.failing.lock() else {
            return 1;
        };
        let entry = failing
            .entry(key.clone())
            .or_insert_with(|| (error.to_string(), 0));
        if entry.0 != error {
            *entry = (error.to_string(), 0);
        }
        entry.1 += 1;
        entry.1
    }

    /// Forgets `key`'s failures (its turn succeeded, or it was set aside).
    pub(super) fn clear(&self, key: &ConversationKey) {
        if let Ok(mut failing) = self.failing.lock() {
            failing.remove(key);
        }
    }
}

/// Whether `e` fails every retry the same way: `Some(reset_snapshot)` for a failure of stored
/// data (`true` when the stored snapshot is what cannot be read, so setting aside clears it),
/// `None` for one that may pass on a retry (the store unreachable or busy).
pub(super) fn poison(e: &TurnError) -> Option<bool> {
    match e {
        TurnError::Snapshot { .. } | TurnError::Store(StoreError::InvalidSnapshot(_)) => Some(true),
        TurnError::Store(StoreError::InvalidData(_)) => Some(false),
        TurnError::Store(StoreError::Unavailable(_)) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> ConversationKey {
        ConversationKey {
            workspace_id: "ws".into(),
            contact_phone: "+628111".into(),
        }
    }

    #[test]
    fn only_the_same_error_in_a_row_counts() {
        let a = Attempts::default();
        assert_eq!(a.failed(&key(), "x"), 1);
        assert_eq!(a.failed(&key(), "x"), 2);
        assert_eq!(a.failed(&key(), "y"), 1, "another error starts again");
        assert_eq!(a.failed(&key(), "y"), 2);
        a.clear(&key());
        assert_eq!(a.failed(&key(), "y"), 1, "a success forgets");
    }

    #[test]
    fn an_unreachable_store_is_not_poison() {
        let unavailable = TurnError::Store(StoreError::Unavailable("locked".into()));
        assert_eq!(poison(&unavailable), None);
        let row = TurnError::Store(StoreError::InvalidData("inbox 3".into()));
        assert_eq!(poison(&row), Some(false));
        let snapshot = TurnError::Snapshot {
            conversation_id: 1,
            message: "missing field".into(),
        };
        assert_eq!(poison(&snapshot), Some(true));
    }
}
