//! The lead sees their message read and "typing…" while a reply is on its way: a read mark
//! with a typing indicator on the lead's newest message (one outbox call, fire and forget),
//! only when `TurnDeps::mark_read` is on. A missing indicator never fails a turn.

use super::turn::{Turn, TurnWork};

/// Marks the lead's newest message read with a typing indicator; nothing when the business
/// number or the message is unknown.
fn show(turn: &Turn<'_>) {
    if let (Some(pnid), Some(wamid)) = (&turn.claim.phone_number_id, &turn.last_inbound_wamid) {
        turn.deps.outbox.mark_read(pnid.clone(), wamid.clone());
    }
}

/// Before an LLM reply call: shown at once, the first time in the turn (the call may take
/// seconds).
pub(super) fn before_llm_call(turn: &Turn<'_>, work: &mut TurnWork) {
    if turn.deps.mark_read && !work.typing_shown {
        work.typing_shown = true;
        show(turn);
    }
}

/// During an LLM call, every `TYPING_REFRESH` (WhatsApp drops the indicator after a while).
pub(super) fn refresh(turn: &Turn<'_>) {
    if turn.deps.mark_read {
        show(turn);
    }
}

/// Before the commit: replies are coming and no LLM call showed the indicator yet.
pub(super) fn before_commit(turn: &Turn<'_>, work: &TurnWork) {
    if work.replies > 0 && turn.deps.mark_read && !work.typing_shown {
        show(turn);
    }
}
