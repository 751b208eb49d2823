//! The booking's replies as WhatsApp buttons and lists (issue 19): after the core's reply of
//! a booking step is queued, the step's interactive message is attached to it (the outbox
//! row's `interactive`, the reply's text being its fallback; the message meta's
//! `interactive` holds the choices for `ari simulate`). Only for a stage with
//! `interactive = true`, and only when the message fits WhatsApp's limits
//! ([`crate::scheduling::choices`]).
//!
//! | reply (template) | sent with |
//! |---|---|
//! | `booking.offer`, `booking.unclear`, `booking.question` | offer buttons |
//! | `scheduling.ask_day`, `slot_taken`, `no_slots_that_day`, `reschedule` | the day list |
//! | `scheduling.show_slots` (with the core's `OfferSlots`), `pick_unclear` | the time list |
//! | `scheduling.confirm` | confirmation buttons |

use super::turn::{Turn, TurnWork};
use crate::flow::turn::StageSnapshot;
use crate::flow::{SlotOption, Snapshot};
use crate::kapso::interactive::Interactive;
use crate::scheduling::choices::{self, Words};

/// What a reply's template is sent with.
enum Step {
    Offer,
    Days,
    Times,
    Confirm,
}

fn step_of(template: &str) -> Option<Step> {
    Some(match template {
        "booking.offer" | "booking.unclear" | "booking.question" => Step::Offer,
        "scheduling.ask_day"
        | "scheduling.slot_taken"
        | "scheduling.no_slots_that_day"
        | "scheduling.reschedule" => Step::Days,
        "scheduling.show_slots" | "scheduling.no_slots_at_time" | "scheduling.pick_unclear" => {
            Step::Times
        }
        "scheduling.confirm" => Step::Confirm,
        _ => return None,
    })
}

/// After the core's reply `template` was queued: attaches its step's message, if it has one
/// and its stage sends them. `free`: the turn's free slots; `snapshot`: the core's new one
/// (the slots shown, for `pick_unclear`). `show_slots` waits for [`on_offer`].
pub(super) fn on_reply(
    turn: &Turn<'_>,
    work: &mut TurnWork,
    snapshot: &Snapshot,
    template: &str,
    free: Option<&[SlotOption]>,
) {
    let Some(step) = step_of(template) else {
        return;
    };
    let stages = &turn.config.stages;
    let on = match step {
        Step::Offer => stages.booking.interactive,
        _ => stages.scheduling.interactive,
    };
    // The times of these go with the core's `OfferSlots` (see `on_offer`).
    if !on || template == "scheduling.show_slots" || template == "scheduling.no_slots_at_time" {
        return;
    }
    let shown = match &snapshot.stage {
        StageSnapshot::Scheduling(d) => d.shown.as_slice(),
        _ => &[],
    };
    build_and_attach(turn, work, step, shown, free.unwrap_or(&[]));
}

/// The core's `OfferSlots`: the `show_slots` reply just queued gets the time list of `slots`.
pub(super) fn on_offer(
    turn: &Turn<'_>,
    work: &mut TurnWork,
    slots: &[SlotOption],
    free: Option<&[SlotOption]>,
) {
    let last_template = work
        .last_reply()
        .and_then(|m| m.meta.get("template"))
        .and_then(|t| t.as_str());
    let offers_times = matches!(
        last_template,
        Some("scheduling.show_slots" | "scheduling.no_slots_at_time")
    );
    if turn.config.stages.scheduling.interactive && offers_times {
        build_and_attach(turn, work, Step::Times, slots, free.unwrap_or(&[]));
    }
}

fn build_and_attach(
    turn: &Turn<'_>,
    work: &mut TurnWork,
    step: Step,
    shown: &[SlotOption],
    free: &[SlotOption],
) {
    let config = turn.config.in_language(&work.speaking.language);
    let words = Words {
        tz: crate::flow::schedule::time_zone(turn.config),
        locale: &config.locale,
        labels: &config.interactive,
    };
    let Some(message) = work.last_reply() else {
        return;
    };
    let body = message.text.clone().unwrap_or_default();
    let built: Option<Interactive> = match step {
        Step::Offer => choices::offer(&body, words.labels),
        Step::Confirm => choices::confirm(&body, words.labels),
        Step::Days => choices::day_list(&body, free, words),
        Step::Times => choices::time_list(&body, shown, free, words),
    };
    let (Some(i), Some(send)) = (built, message.send.as_mut()) else {
        return;
    };
    send.interactive = Some(i.to_meta().to_string());
    if let Some(meta) = message.meta.as_object_mut() {
        meta.insert("interactive".into(), i.to_meta_summary());
    }
}
