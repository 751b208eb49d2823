//! A booked consultation moved or cancelled (issue 14, "reschedule and cancel that keep the
//! truth"): the booking stays booked while the lead chooses a new slot
//! ([`SchedulingData::moving`]), the confirmed slot moves it in one store step
//! ([`Effect::MoveAppointment`]), and a cancel, from `handoff` or while choosing, releases it.

use chrono::{DateTime, Utc};

use super::{Ctx, Event, State, summary};
use crate::flow::graph::HandoffReason;
use crate::flow::rebook;
use crate::flow::schedule::{self, SlotOption};
use crate::flow::turn::{
    Assignee, BookedAppointment, BookingResult, Effect, HandoffData, LeadState, SchedulingData,
    SchedulingStep,
};
use crate::scheduling;

impl LeadState {
    /// The lead cancels the booked consultation (from `handoff`, or while choosing a new
    /// slot): it is released (`CancelAppointment`; the shell sets the CRM status `cancelled`
    /// and tells the consultant), the lead is told, and the cycle ends.
    pub(super) fn cancel_booking(&mut self, context: &mut Ctx<'_>) -> State {
        let tz = schedule::time_zone(context.cfg);
        if let Some(a) = self.appointment.take() {
            let (date, time, _) =
                scheduling::confirmation_parts_in(&a.slot, tz, &context.cfg.locale);
            context.effects.push(Effect::CancelAppointment {
                appointment_id: a.id,
                slot: a.slot,
                reschedule: false,
            });
            let r = self.reply(
                context,
                "handoff",
                "cancelled",
                &[("date", date), ("time", time)],
            );
            context.effects.push(Effect::Reply(r));
        }
        self.cycles += 1;
        State::completed()
    }

    /// A reschedule request outside `scheduling` (from the handoff, or from a new cycle after
    /// the conversation was closed with the booking still ahead): the booking stays until the
    /// new slot is confirmed, then it is moved in one step. `handoff` is where "keep the
    /// original" goes back to (`None`: a new handoff for the booking).
    pub(super) fn start_reschedule(
        &mut self,
        handoff: Option<HandoffData>,
        context: &mut Ctx<'_>,
    ) -> State {
        let mut choice = SchedulingData {
            moving: self.appointment.clone().map(Box::new),
            handoff,
            ..SchedulingData::default()
        };
        self.reschedule(&mut choice, context);
        State::scheduling(choice)
    }

    /// The choice of a new slot (re)starts. A day or time given with the request ("ganti
    /// jadwal ke kamis jam 10", "can we move it to Thursday 2pm") is used at once, as the
    /// scheduling step reads it; otherwise the free days are listed, saying the booking stays.
    pub(super) fn reschedule(&mut self, data: &mut SchedulingData, context: &mut Ctx<'_>) {
        data.step = SchedulingStep::AskingDay;
        data.shown.clear();
        data.selected = None;
        data.asked_time = None;
        let tz = schedule::time_zone(context.cfg);
        if let Some(wanted) = wanted_words(data, context, tz) {
            let whole = context.text;
            context.text = wanted;
            self.scheduling_step(data, context);
            context.text = whole;
            return;
        }
        let (date, time) = data
            .moving
            .as_ref()
            .map(|a| {
                let (d, t, _) = scheduling::confirmation_parts_in(&a.slot, tz, &context.cfg.locale);
                (d, t)
            })
            .unwrap_or_default();
        let r = self.reply(
            context,
            "scheduling",
            "reschedule",
            &[
                (
                    "available_days",
                    scheduling::available_days_in(context.free_slots, tz, &context.cfg.locale),
                ),
                ("date", date),
                ("time", time),
            ],
        );
        context.effects.push(Effect::Reply(r));
    }

    /// The lead keeps the booked consultation after all: told so, and back to the handoff the
    /// request came from.
    pub(super) fn keep_booking(&mut self, data: &SchedulingData, context: &mut Ctx<'_>) -> State {
        let tz = schedule::time_zone(context.cfg);
        if let Some(a) = data.moving.as_deref().or(self.appointment.as_ref()) {
            let (date, time, _) =
                scheduling::confirmation_parts_in(&a.slot, tz, &context.cfg.locale);
            let r = self.reply(
                context,
                "scheduling",
                "kept",
                &[("date", date), ("time", time)],
            );
            context.effects.push(Effect::Reply(r));
        }
        back_to_handoff(data, context.now, None)
    }

    /// The confirmed slot while moving: one `MoveAppointment` (book it, cancel the old one).
    pub(super) fn move_to(&self, from: BookedAppointment, to: SlotOption, context: &mut Ctx<'_>) {
        let notes = format!(
            "Moved via ARI from {}. Lead score: {}",
            from.slot.id,
            self.score.as_ref().map(|s| s.total).unwrap_or_default()
        );
        context.effects.push(Effect::MoveAppointment {
            from,
            to,
            notes,
            summary: summary(self, context.base),
        });
    }

    /// The store moved the booking: the lead is told the new slot (and that the old one is
    /// released), and the conversation goes back to its handoff.
    pub(super) fn moved(
        &mut self,
        data: &SchedulingData,
        context: &mut Ctx<'_>,
        event: &Event,
    ) -> State {
        let tz = schedule::time_zone(context.cfg);
        let Event::Booking(BookingResult::Booked {
            slot_id,
            appointment_id,
        }) = event
        else {
            return back_to_handoff(data, context.now, None);
        };
        let slot = super::booked_slot(data, context, slot_id);
        if let Some(slot) = slot {
            let locale = &context.cfg.locale;
            let (date, time, duration) = scheduling::confirmation_parts_in(&slot, tz, locale);
            let (old_date, old_time) = data
                .moving
                .as_ref()
                .map(|a| {
                    let (d, t, _) = scheduling::confirmation_parts_in(&a.slot, tz, locale);
                    (d, t)
                })
                .unwrap_or_default();
            let r = self.reply(
                context,
                "scheduling",
                "moved",
                &[
                    ("date", date),
                    ("time", time),
                    ("duration", duration),
                    ("consultant_name", slot.consultant_name.clone()),
                    ("old_date", old_date),
                    ("old_time", old_time),
                    ("meeting", scheduling::meeting_line(&slot, context.cfg)),
                ],
            );
            context.effects.push(Effect::Reply(r));
            self.appointment = Some(BookedAppointment {
                id: appointment_id.clone(),
                slot,
            });
        }
        self.pending = None;
        self.idle_turns = 0;
        let assignee = self.assignee(context);
        back_to_handoff(data, context.now, assignee)
    }
}

/// The handoff a reschedule came from (a new `appointment_booked` one when unknown), with its
/// acknowledgement clock restarted: the reply just sent counts. `assignee`, when given (the
/// moved consultation's consultant), replaces the one it had.
fn back_to_handoff(data: &SchedulingData, now: DateTime<Utc>, assignee: Option<Assignee>) -> State {
    let mut handoff = data.handoff.clone().unwrap_or(HandoffData {
        reason: HandoffReason::AppointmentBooked,
        at: now,
        last_ack_at: None,
        assignee: None,
    });
    if assignee.is_some() {
        handoff.assignee = assignee;
    }
    handoff.last_ack_at = Some(now);
    State::handoff(handoff)
}

/// The words of a reschedule request that say when to move to: the part after the move words
/// ("reschedule| to Friday"), else the whole message. A day that is the booked day itself,
/// without a time, is the reason, not the wish ("jumat ada acara, bisa ganti hari?").
fn wanted_words<'a>(
    data: &SchedulingData,
    context: &Ctx<'a>,
    tz: chrono_tz::Tz,
) -> Option<&'a str> {
    let text: &'a str = context.text;
    let booked = data
        .moving
        .as_ref()
        .map(|a| a.slot.start.with_timezone(&tz).date_naive());
    let wanted = |t: &str| {
        if crate::flow::extract::mentions_any(t, &context.cfg.scheduling.any_time_phrases) {
            return true;
        }
        scheduling::parse_day_time(t, context.now, tz).is_some_and(|q| {
            let reason = q.time.is_none()
                && q.day
                    .zip(booked)
                    .is_some_and(|(day, date)| day.matches(date));
            !reason
        })
    };
    rebook::after_move_words(text)
        .filter(|tail| wanted(tail))
        .or_else(|| wanted(text).then_some(text))
}
