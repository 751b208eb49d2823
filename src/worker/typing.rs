//! The lead sees their message read and "typing…" while a reply is on its way: a read mark
//! with a typing indicator on the lead's newest message (one outbox call, fire and forget),
//! only when `TurnDeps::mark_read` is on. A missing indicator never fails a turn.
//!
//! Before the turn's first model call (extraction or wording, issue 15), when the claimed rows
//! hold a lead message that is not a reaction and no person has taken over: a model call may
//! take the whole turn budget, and the lead should see at once that the message was read.

use super::turn::{Turn, TurnWork};
use crate::flow::{HandoffReason, Snapshot};

/// Marks the lead's newest message read with a typing indicator; nothing when the business
/// number or the message is unknown.
fn show(turn: &Turn<'_>) {
    if let (Some(pnid), Some(wamid)) = (&turn.claim.phone_number_id, &turn.last_inbound_wamid) {
        turn.deps.outbox.mark_read(pnid.clone(), wamid.clone());
    }
}

/// Before a model call (extraction or reply): shown at once, the first time in the turn, when
/// the lead wrote something that is not a reaction and `snapshot` is not a person's takeover.
pub(super) fn before_llm_call(turn: &Turn<'_>, work: &mut TurnWork, snapshot: &Snapshot) {
    let taken_over = snapshot.handoff_reason() == Some(HandoffReason::HumanTakeover);
    if turn.deps.mark_read && !work.typing_shown && turn.lead_wrote && !taken_over {
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
