//! Booking: the free slots a booking or scheduling turn offers, and the store side of the
//! core's booking effects (book a slot atomically, cancel a booked consultation).

use super::notices;
use super::turn::{Turn, TurnError, TurnWork};
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
        .book_slot(NewAppointment {
            conversation_id: turn.claim.conversation_id,
            workspace_id: turn.key.workspace_id.clone(),
            slot_id: slot.id.clone(),
            starts_at_ms: slot.start.timestamp_millis(),
            duration_minutes: slot.duration_minutes,
            consultant_name: slot.consultant_name.clone(),
            consultant_whatsapp: slot.consultant_whatsapp.clone(),
            capacity: scheduling::capacity_for(&turn.config.scheduling, &slot),
            notes,
            now_ms: turn.now.timestamp_millis(),
        })
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

/// [`crate::flow::Effect::CancelAppointment`]: cancels the booked consultation in the store;
/// when it was still booked, its consultant is told (a notice after the lead's replies).
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
    if cancelled {
        work.notices.push(notices::appointment_released(
            turn,
            appointment_id,
            slot,
            reschedule,
        ));
    }
    Ok(())
}
