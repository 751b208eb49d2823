//! The interpreter of the core's effects: [`apply`] is the one `match` over
//! [`Effect`]; each arm hands the effect to the small function of the module named for it.

use super::turn::{Arrivals, Raced, Turn, TurnError, TurnWork};
use super::{booking, interactive, knowledge, notices, wording};
use crate::flow::{Effect, InputEvent, Snapshot, TurnInput};

/// What the turn does after an effect.
pub(super) enum Next {
    /// Go on with the next effect.
    Continue,
    /// Run this event through the core next, before any other (a booking's result).
    Feed(InputEvent),
    /// A newer message of the lead arrived during an LLM call: end the turn, writing nothing.
    Superseded,
}

/// Carries out one effect of the core's output for `input`, `snapshot` being the core's new
/// snapshot. Store failures end the turn (its inbox rows stay pending and are retried).
pub(super) async fn apply(
    turn: &Turn<'_>,
    work: &mut TurnWork,
    arrivals: &mut Arrivals,
    snapshot: &Snapshot,
    input: &TurnInput,
    effect: Effect,
) -> Result<Next, TurnError> {
    match wording::route(effect, turn.deps.llm.is_some(), work.short_answer) {
        Effect::Template {
            name,
            language,
            parameters,
        } => wording::template(turn, work, &name, &language, &parameters),
        Effect::Reply(r) => {
            let template = r.template.clone();
            wording::reply(turn, work, r);
            let free = input.free_slots.as_deref();
            interactive::on_reply(turn, work, snapshot, &template, free);
        }
        Effect::AskLlm {
            instruction,
            fallback,
        } => {
            let free_slots = input.free_slots.as_deref();
            let asked = wording::ask_llm(
                turn,
                work,
                arrivals,
                snapshot,
                free_slots,
                &instruction,
                fallback,
            );
            if let Raced::Interrupted = asked.await {
                return Ok(Next::Superseded);
            }
        }
        Effect::SearchKnowledge {
            query,
            country,
            recommend,
        } => {
            let language = work.speaking.language.clone();
            work.knowledge = knowledge::search(
                turn,
                snapshot,
                &language,
                &query,
                country.as_deref(),
                recommend,
            );
        }
        Effect::Handoff {
            reason,
            summary,
            to,
        } => {
            notices::handoff(turn, work, snapshot, reason, &summary, to.as_ref());
        }
        Effect::BookSlot { slot, notes } => {
            return Ok(Next::Feed(booking::book(turn, work, slot, notes).await?));
        }
        Effect::MoveAppointment {
            from,
            to,
            notes,
            summary,
        } => {
            let moved = booking::move_booking(turn, work, from, to, notes, &summary);
            return Ok(Next::Feed(moved.await?));
        }
        Effect::CancelAppointment {
            appointment_id,
            slot,
            reschedule,
        } => booking::cancel(turn, work, &appointment_id, &slot, reschedule).await?,
        Effect::UpdateLead(update) => {
            // The CRM status; the fields and the score are in the snapshot already.
            if let Some(status) = update.status {
                work.lead.status = Some(status);
            }
        }
        Effect::Relay { text, to } => notices::relay(turn, work, snapshot, &text, to.as_ref()),
        // The slots are in the reply's text already: the reply records which it offered, and
        // goes as a list message where the stage sends them (issue 19).
        Effect::OfferSlots { slots } => {
            work.record_offered(&slots);
            interactive::on_offer(turn, work, &slots, input.free_slots.as_deref());
        }
    }
    Ok(Next::Continue)
}
