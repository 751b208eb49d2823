//! Taps on ARI's own list rows and buttons while scheduling (issue 19; ids in
//! [`crate::flow::taps`]): a day row shows that day's slots, a "more times" row the day's
//! slots after the last one shown; a button from an older message that no longer applies gets
//! the current step's question again. Confirmation buttons are read as yes/no before this
//! (their ids end in `yes` / `no`).

use super::Ctx;
use crate::flow::schedule::SlotOption;
use crate::flow::taps::Tap;
use crate::flow::turn::{Effect, LeadState, SchedulingData};
use crate::scheduling::{DayQuery, DayTimeQuery};

impl LeadState {
    /// One tap while scheduling (see the module docs).
    pub(super) fn tapped(
        &self,
        data: &mut SchedulingData,
        context: &mut Ctx<'_>,
        tap: Tap,
        tz: chrono_tz::Tz,
    ) {
        match tap {
            Tap::Day(date) => {
                data.asked_time = None;
                let query = DayTimeQuery {
                    day: Some(DayQuery::Date(date)),
                    time: None,
                };
                self.slots_for_day(data, context, &query, tz);
            }
            Tap::MoreTimes(date, after) => {
                let max = context.cfg.scheduling.max_slots_shown as usize;
                let later: Vec<SlotOption> = context
                    .free_slots
                    .iter()
                    .filter(|s| {
                        let l = s.start.with_timezone(&tz);
                        l.date_naive() == date && l.time() > after
                    })
                    .take(max)
                    .cloned()
                    .collect();
                if later.is_empty() {
                    return self.tapped(data, context, Tap::Day(date), tz);
                }
                self.show_these(data, context, later, tz);
            }
            Tap::YesNo | Tap::Reminder(_) => {
                let r = self.scheduling_reprompt(data, context, tz);
                context.effects.push(Effect::Reply(r));
            }
        }
    }

    /// Shows `slots` to pick from (`show_slots`, offered with `OfferSlots`), as a day's slots
    /// are shown.
    fn show_these(
        &self,
        data: &mut SchedulingData,
        context: &mut Ctx<'_>,
        slots: Vec<SlotOption>,
        tz: chrono_tz::Tz,
    ) {
        self.offer_times(data, context, "show_slots", Vec::new(), slots, tz);
    }
}
