//! Booking: the free slots a booking or scheduling turn offers, and the store side of the
//! core's booking effects (book a slot atomically, move a booking atomically, cancel one).

use super::notices;
use super::turn::{Turn, TurnError, TurnWork};
use crate::flow::turn::BookedAppointment;
use crate::flow::{BookingResult, InputEvent, SlotOption};
use crate::scheduling;
use crate::store::{BookingOutcome, NewAppointment, StoreError};

/// The slots to offer now: the configured weekly slots in the booking window, minus those whose
/// capacity is used up (one store read, only in booking and scheduling turns).
pub(super) async fn free_slots(turn: &Turn<'_>) -> Result<Vec<SlotOption>, StoreError> {
    let (config, now) = (turn.config, turn.now);
    let window_ms = i64::from(config.scheduling.booking_window_days.saturating_add(1)) * 86_400_000;
    let booked = turn
        .deps
        .store
        .booked_slots(
            &turn.key.workspace_id,
            now.timestamp_millis(),
            now.timestamp_millis() + window_ms,
        )
        .await?;
    let booked: scheduling::Bookings = booked.into_iter().collect();
    Ok(scheduling::free_slots(&config.scheduling, now, &booked))
}

/// [`crate::flow::Effect::BookSlot`]: books `slot` in the store (atomic against its capacity)
/// and returns the result the core reads next. Booked: the lead's CRM status becomes `booked`,
/// the slot's consultant gets the lead, the LLM arm counts a booking.
pub(super) async fn book(
    turn: &Turn<'_>,
    work: &mut TurnWork,
    slot: SlotOption,
    notes: String,
) -> Result<InputEvent, TurnError> {
    let outcome = turn
        .deps
        .store
        .book_slot(new_appointment(turn, &slot, notes))
        .await?;
    let result = match outcome {
        BookingOutcome::Booked { appointment_id } => {
            tracing::info!(appointment = appointment_id, slot = %slot.id, "consultation booked");
            work.booked_slot = Some(slot.clone());
            work.lead.status = Some("booked".to_string());
            if let Some(llm) = &turn.deps.llm {
                llm.record_booking(&turn.key.contact_phone);
            }
            BookingResult::Booked {
                slot_id: slot.id,
                appointment_id: appointment_id.to_string(),
            }
        }
        BookingOutcome::Full => {
            tracing::info!(slot = %slot.id, "slot taken meanwhile; offering fresh options");
            BookingResult::SlotTaken { slot_id: slot.id }
        }
    };
    Ok(InputEvent::BookingResult { result })
}

/// The store's booking of `slot` for this conversation.
fn new_appointment(turn: &Turn<'_>, slot: &SlotOption, notes: String) -> NewAppointment {
    NewAppointment {
        conversation_id: turn.claim.conversation_id,
        workspace_id: turn.key.workspace_id.clone(),
        slot_id: slot.id.clone(),
        starts_at_ms: slot.start.timestamp_millis(),
        duration_minutes: slot.duration_minutes,
        consultant_name: slot.consultant_name.clone(),
        consultant_whatsapp: slot.consultant_whatsapp.clone(),
        capacity: scheduling::capacity_for(&turn.config.scheduling, slot),
        notes,
        now_ms: turn.now.timestamp_millis(),
    }
}

/// [`crate::flow::Effect::MoveAppointment`]: moves the booking to `to` in one store
/// transaction (book `to`, cancel `from`) and returns the result the core reads next. Moved:
/// the CRM status stays `booked` and the consultants of both slots are told. Full: nothing
/// changed, the old booking stands.
pub(super) async fn move_booking(
    turn: &Turn<'_>,
    work: &mut TurnWork,
    from: BookedAppointment,
    to: SlotOption,
    notes: String,
    summary: &str,
) -> Result<InputEvent, TurnError> {
    let Ok(from_id) = from.id.parse::<i64>() else {
        tracing::warn!(appointment = %from.id, "a booking to move has no store id; booking the new slot");
        return book(turn, work, to, notes).await;
    };
    let outcome = turn
        .deps
        .store
        .move_appointment(from_id, new_appointment(turn, &to, notes))
        .await?;
    let result = match outcome {
        BookingOutcome::Booked { appointment_id } => {
            tracing::info!(from = from_id, appointment = appointment_id, slot = %to.id, "consultation moved");
            work.booked_slot = Some(to.clone());
            work.lead.status = Some("booked".to_string());
            notices::appointment_moved(turn, work, &from.slot, &to, summary);
            BookingResult::Booked {
                slot_id: to.id,
                appointment_id: appointment_id.to_string(),
            }
        }
        BookingOutcome::Full => {
            tracing::info!(slot = %to.id, "new slot taken meanwhile; the old booking stays");
            BookingResult::SlotTaken { slot_id: to.id }
        }
    };
    Ok(InputEvent::BookingResult { result })
}

/// [`crate::flow::Effect::CancelAppointment`]: cancels the booked consultation in the store,
/// sets the lead's CRM status to `cancelled` and tells its consultant (a notice after the
/// lead's replies). A cancel the store finds done already (a redone turn whose first commit
/// was lost) is told all the same: that commit's notice never went out.
pub(super) async fn cancel(
    turn: &Turn<'_>,
    work: &mut TurnWork,
    appointment_id: &str,
    slot: &SlotOption,
    reschedule: bool,
) -> Result<(), TurnError> {
    let cancelled = match appointment_id.parse::<i64>() {
        Ok(id) => {
            turn.deps
                .store
                .cancel_appointment(turn.claim.conversation_id, id, turn.now.timestamp_millis())
                .await?
        }
        Err(_) => false,
    };
    tracing::info!(appointment = %appointment_id, reschedule, cancelled, "lead released a booked consultation");
    if !reschedule {
        work.lead.status = Some("cancelled".to_string());
    }
    work.notices.push(notices::appointment_released(
        turn,
        appointment_id,
        slot,
        reschedule,
    ));
    Ok(())
}
