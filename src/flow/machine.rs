//! The statig (blocking) state machine and the turn runner.
//!
//! [`run_turn`] is the whole core: merge form answers, learn from the text, restore the machine
//! from the [`Snapshot`], dispatch the turn's event, run the same-turn follow-ups (scoring's
//! routing, a completed conversation's new cycle, the stuck escape), and return the new
//! snapshot with the effects. No I/O, no clock reads: the same input gives the same output.
//!
//! Every handler decides its next state by [`select`]ing the first matching edge of
//! [`super::graph::EDGES`], the table `ari flow graph` prints. The machine has no entry or exit
//! actions, so restoring a state never replays effects (crates.md §2.2).

mod reading;
mod rebooking;
mod tapped;

use reading::{
    Learned, Media, answer_of, booking_event, learn, merge_form, prepare, read_language,
    yes_with_a_time,
};

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, Timelike, Utc};
use statig::prelude::*;

use super::extract::{
    ExtractContext, Pending, extract, is_knowledge_question, mentions_any, normalize_country,
    question_part,
};
use super::graph::{Edge, EventKind, Facts, Guard, HandoffReason, StageId, edge_name, select};
use super::normalize::normalize;
use super::schedule::{self, SlotOption};
use super::scoring::{LeadScore, ScoreInput, ScoringRules, score};
use super::text::render;
use super::turn::{
    Assignee, BookedAppointment, BookingResult, Effect, FieldValue, HandoffData, InboundMessage,
    InputEvent, LeadSource, LeadState, LeadUpdate, Reply, SchedulingData, SchedulingStep, Snapshot,
    StageSnapshot, TurnInput, TurnOutput, TurnTrace,
};
use super::yesno::{YesNo, parse_yes_no};
use crate::config::flow::{FlowConfig, LeadAction, Locale};
use crate::scheduling;

/// An event dispatched to the machine. The turn's text and facts travel in [`Ctx`].
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The lead's turn.
    Message,
    /// The lead's turn asks for a person.
    HumanRequested,
    /// A person took over.
    HumanTakeover,
    /// Internal: route after scoring.
    Route,
    /// Internal: stuck limit reached.
    Stuck,
    /// Handed back to the bot.
    Resume,
    /// Closed by a consultant.
    Close,
    /// Booking result from the shell.
    Booking(BookingResult),
    /// The lead asks to cancel the upcoming booking.
    CancelRequested,
    /// The lead asks to move the upcoming booking.
    RescheduleRequested,
    /// While choosing a new slot, the lead keeps the booked one after all.
    KeepBooking,
}

impl Event {
    fn kind(&self) -> EventKind {
        match self {
            Event::Message => EventKind::Message,
            Event::HumanRequested => EventKind::HumanRequested,
            Event::HumanTakeover => EventKind::HumanTakeover,
            Event::Route => EventKind::Route,
            Event::Stuck => EventKind::Stuck,
            Event::Resume => EventKind::Resume,
            Event::Close => EventKind::Close,
            Event::Booking(BookingResult::Booked { .. }) => EventKind::BookingBooked,
            Event::Booking(BookingResult::SlotTaken { .. }) => EventKind::BookingTaken,
            Event::CancelRequested => EventKind::CancelRequested,
            Event::RescheduleRequested => EventKind::RescheduleRequested,
            Event::KeepBooking => EventKind::KeepBooking,
        }
    }
}

/// Per-dispatch context: the config snapshot, the turn, the guard facts, the effect outbox.
pub struct Ctx<'a> {
    /// The flow in the conversation's language (every lead-facing text comes from it).
    cfg: &'a FlowConfig,
    /// The flow in the workspace's own language (consultant-facing texts: the summary).
    base: &'a FlowConfig,
    now: DateTime<Utc>,
    text: &'a str,
    interactive_id: Option<&'a str>,
    free_slots: &'a [SlotOption],
    /// The free slots among those the replied-to message offered, in its order
    /// ([`TurnInput::replied_to_slots`]).
    replied_to: &'a [SlotOption],
    /// The round-robin key of the consultant assignment ([`TurnInput::conversation_id`]).
    conversation_id: i64,
    from: StageId,
    facts: Facts,
    knowledge_question: bool,
    learned: bool,
    unknown_noted: bool,
    /// The text repeated a known value ([`reading::Learned::confirmed`]).
    confirmed: bool,
    /// The turn held only media (no words).
    media: Option<Media>,
    effects: Vec<Effect>,
    /// Names of the edges taken in this dispatch.
    trace: Vec<String>,
}

impl Ctx<'_> {
    /// Records `edge` as taken (when there is one) and returns it.
    fn took(&mut self, edge: Option<&'static Edge>) -> Option<&'static Edge> {
        if let Some(e) = edge {
            self.trace.push(edge_name(e));
        }
        edge
    }
}

#[state_machine(
    initial = "State::greeting()",
    state(derive(Debug, Clone, PartialEq)),
    superstate(derive(Debug))
)]
impl LeadState {
    /// First message: greet (time of day, bot name) and ask the first question.
    #[state(superstate = "active")]
    fn greeting(&mut self, context: &mut Ctx<'_>, event: &Event) -> Outcome<State> {
        if is_escape(event) {
            return Super;
        }
        let Some(edge) = context.took(select(StageId::Greeting, &context.facts)) else {
            return Handled;
        };
        match edge.guard {
            Guard::CancelRequested => return Transition(self.cancel_booking(context)),
            Guard::RescheduleRequested => return Transition(self.start_reschedule(None, context)),
            _ => {}
        }
        if edge.guard == Guard::BooksAgain {
            // A returning lead asks to book again: scoring routes in this turn (the offer).
            self.pending = None;
            return Transition(State::scoring(0));
        }
        debug_assert_eq!(edge.guard, Guard::FirstMessage);
        let question = self.ask_next(context.cfg);
        let q = question.clone().unwrap_or_default();
        // A lead whose earlier cycle ended (closed, cancelled) is welcomed back.
        let key = if self.cycles > 0 {
            "returning"
        } else {
            "greeting"
        };
        let greeting = if context.cfg.stages.greeting.enabled {
            self.reply(
                context,
                "greeting",
                key,
                &[
                    ("time_of_day", time_of_day(context)),
                    ("question", q.clone()),
                ],
            )
        } else {
            self.question_reply(context, &q)
        };
        if context.knowledge_question {
            self.knowledge(context, &q, greeting);
        } else {
            context.effects.push(Effect::Reply(greeting));
        }
        Transition(State::qualifying())
    }

    /// Learn the required fields, then the documents, one question per reply.
    #[state(superstate = "active")]
    fn qualifying(&mut self, context: &mut Ctx<'_>, event: &Event) -> Outcome<State> {
        if is_escape(event) {
            return Super;
        }
        match context
            .took(select(StageId::Qualifying, &context.facts))
            .map(|e| e.guard)
        {
            Some(Guard::QualificationDone) => {
                self.pending = None;
                Transition(State::scoring(0))
            }
            Some(Guard::StillQualifying) => {
                let Some(ask) = self.ask_with_policy(context) else {
                    // The last question was given up: qualification is done.
                    self.pending = None;
                    return Transition(State::scoring(0));
                };
                self.qualifying_reply(context, &ask);
                Handled
            }
            _ => Handled,
        }
    }

    /// Score and route: hot → booking (or handoff), warm → nurture then book/handoff,
    /// cold → community link and handoff. Transient for hot/cold (same turn).
    #[state(superstate = "active")]
    fn scoring(
        &mut self,
        nurtured: &mut u32,
        context: &mut Ctx<'_>,
        event: &Event,
    ) -> Outcome<State> {
        if is_escape(event) {
            return Super;
        }
        if !matches!(event, Event::Route | Event::Message) {
            return Handled;
        }
        if *event == Event::Message {
            *nurtured += 1;
        }
        let s = self.compute_score(context);
        let changed =
            self.score.as_ref().is_none_or(|old| old.total != s.total) || *event == Event::Route;
        if changed {
            context.effects.push(Effect::UpdateLead(LeadUpdate {
                score: Some(s.clone()),
                temperature: Some(s.temperature),
                status: Some(s.temperature.lead_status().to_string()),
                ..LeadUpdate::default()
            }));
        }
        self.score = Some(s.clone());
        let mut facts = context.facts;
        facts.temperature = Some(s.temperature);
        facts.warm_limit_reached = *nurtured >= context.cfg.routing.warm_nurture_limit;
        let Some(edge) = context.took(select(StageId::Scoring, &facts)) else {
            return Handled;
        };
        match edge.guard {
            Guard::HotBooks | Guard::WarmLimitBooks => {
                let r = self.reply(context, "booking", "offer", &[]);
                context.effects.push(Effect::Reply(r));
                Transition(State::booking())
            }
            Guard::WarmNurture => {
                // A question the knowledge base cannot answer (and no LLM to word one) is
                // acknowledged as a question, not met with the nurture text again.
                let key = if context.knowledge_question && *event == Event::Message {
                    "knowledge_fallback"
                } else {
                    "warm_nurture"
                };
                let fallback = self.reply(context, "scoring", key, &[]);
                if *event == Event::Route {
                    context.effects.push(Effect::Reply(fallback));
                } else {
                    if context.knowledge_question {
                        context.effects.push(self.search_knowledge(context));
                    }
                    let instruction = self
                        .reply(
                            context,
                            "scoring",
                            "nurture_instruction",
                            &[("tone", context.cfg.persona.tone.clone())],
                        )
                        .text;
                    context.effects.push(Effect::AskLlm {
                        instruction,
                        fallback,
                    });
                }
                Handled
            }
            Guard::Cold => {
                if !context.cfg.persona.community_link.trim().is_empty() {
                    let r = self.reply(context, "scoring", "cold_community", &[]);
                    context.effects.push(Effect::Reply(r));
                }
                Transition(self.hand_off(
                    context,
                    edge.reason.unwrap_or(HandoffReason::ColdLead),
                    true,
                ))
            }
            _ => Transition(self.hand_off(
                context,
                edge.reason.unwrap_or(HandoffReason::HotLead),
                true,
            )),
        }
    }

    /// Consultation offered: yes → scheduling, no → handoff, else ask again.
    #[state(superstate = "active")]
    fn booking(&mut self, context: &mut Ctx<'_>, event: &Event) -> Outcome<State> {
        if is_escape(event) {
            return Super;
        }
        match context
            .took(select(StageId::Booking, &context.facts))
            .map(|e| e.guard)
        {
            Some(Guard::Accepted) => {
                let mut data = SchedulingData::default();
                self.scheduling_step(&mut data, context);
                Transition(State::scheduling(data))
            }
            Some(Guard::AcceptedNoSlot) => {
                if context.cfg.stages.scheduling.enabled {
                    let r = self.reply(context, "scheduling", "no_slots", &[]);
                    context.effects.push(Effect::Reply(r));
                    let mut state = self.hand_off(context, HandoffReason::HotLead, false);
                    if let State::Handoff { data } = &mut state {
                        data.last_ack_at = Some(context.now);
                    }
                    Transition(state)
                } else {
                    Transition(self.hand_off(context, HandoffReason::HotLead, true))
                }
            }
            Some(Guard::Declined) => {
                Transition(self.hand_off(context, HandoffReason::HotLead, true))
            }
            Some(Guard::Unclear) => {
                self.offer_again(context);
                Handled
            }
            _ => Handled,
        }
    }

    /// Pick a day, a slot, confirm; the shell books and reports back.
    #[state(superstate = "active")]
    fn scheduling(
        &mut self,
        data: &mut SchedulingData,
        context: &mut Ctx<'_>,
        event: &Event,
    ) -> Outcome<State> {
        if is_escape(event) {
            return Super;
        }
        match context
            .took(select(StageId::Scheduling, &context.facts))
            .map(|e| e.guard)
        {
            Some(Guard::CancelRequested) => Transition(self.cancel_booking(context)),
            Some(Guard::RescheduleRequested) => {
                self.reschedule(data, context);
                Handled
            }
            Some(Guard::KeepsBooking) => Transition(self.keep_booking(data, context)),
            Some(Guard::SlotBooked) if data.moving.is_some() => {
                Transition(self.moved(data, context, event))
            }
            Some(Guard::SlotBooked) => {
                let tz = schedule::time_zone(context.cfg);
                let slot = match event {
                    Event::Booking(BookingResult::Booked { slot_id, .. }) => {
                        booked_slot(data, context, slot_id).or_else(|| data.selected.clone())
                    }
                    _ => None,
                };
                if let Some(slot) = &slot {
                    let (date, time, duration) =
                        scheduling::confirmation_parts_in(slot, tz, &context.cfg.locale);
                    let r = self.reply(
                        context,
                        "scheduling",
                        "booked",
                        &[
                            ("date", date),
                            ("time", time),
                            ("duration", duration),
                            ("consultant_name", slot.consultant_name.clone()),
                            ("meeting", scheduling::meeting_line(slot, context.cfg)),
                        ],
                    );
                    context.effects.push(Effect::Reply(r));
                }
                if let (Some(slot), Event::Booking(BookingResult::Booked { appointment_id, .. })) =
                    (slot.clone(), event)
                {
                    self.appointment = Some(BookedAppointment {
                        id: appointment_id.clone(),
                        slot,
                    });
                }
                let mut state = self.hand_off(context, HandoffReason::AppointmentBooked, false);
                if let State::Handoff { data } = &mut state {
                    data.last_ack_at = Some(context.now);
                }
                Transition(state)
            }
            Some(Guard::SlotTaken) => {
                data.step = SchedulingStep::AskingDay;
                data.selected = None;
                let tz = schedule::time_zone(context.cfg);
                let taken = match event {
                    Event::Booking(BookingResult::SlotTaken { slot_id }) => Some(slot_id.as_str()),
                    _ => None,
                };
                let free: Vec<SlotOption> = context
                    .free_slots
                    .iter()
                    .filter(|s| Some(s.id.as_str()) != taken)
                    .cloned()
                    .collect();
                let r = self.reply(
                    context,
                    "scheduling",
                    "slot_taken",
                    &[(
                        "available_days",
                        scheduling::available_days_in(&free, tz, &context.cfg.locale),
                    )],
                );
                context.effects.push(Effect::Reply(r));
                Handled
            }
            Some(Guard::SchedulingStep) => {
                self.scheduling_step(data, context);
                Handled
            }
            _ => Handled,
        }
    }

    /// A person has the conversation: quiet, one acknowledgement per quiet period.
    #[state]
    fn handoff(
        &mut self,
        data: &mut HandoffData,
        context: &mut Ctx<'_>,
        event: &Event,
    ) -> Outcome<State> {
        let mut facts = context.facts;
        let resume_after = context.cfg.handoff.takeover_resume_minutes;
        facts.takeover_expired = data.reason == HandoffReason::HumanTakeover
            && resume_after > 0
            && context.now - data.at >= Duration::minutes(i64::from(resume_after));
        facts.consultation_over = self.consultation_over(context);
        if data.assignee.is_none() {
            // A snapshot stored before the assignee was recorded.
            data.assignee = self.assignee(context);
        }
        match context
            .took(select(StageId::Handoff, &facts))
            .map(|e| e.guard)
        {
            Some(Guard::HumanTakeover) => {
                // `at` now means the person's latest activity: the resume timer restarts.
                data.reason = HandoffReason::HumanTakeover;
                data.at = context.now;
                Handled
            }
            Some(Guard::ConsultationOver) => {
                // The consultation is long over: this handoff is closed, and the message
                // starts a new cycle (`Dispatcher::follow_ups`).
                self.appointment = None;
                self.cycles += 1;
                Transition(State::completed())
            }
            Some(Guard::RescheduleRequested) => {
                Transition(self.start_reschedule(Some(data.clone()), context))
            }
            Some(Guard::CancelRequested) => Transition(self.cancel_booking(context)),
            Some(Guard::TakeoverExpired) => {
                self.idle_turns = 0;
                let q = self.ask_next(context.cfg).unwrap_or_default();
                let r = self.reply(context, "handoff", "resumed", &[("question", q)]);
                context.effects.push(Effect::Reply(r));
                Transition(State::qualifying())
            }
            Some(Guard::QuietPeriod) => {
                self.while_handed_off(data, context);
                Handled
            }
            Some(Guard::Closed) => {
                self.cycles += 1;
                Transition(State::completed())
            }
            Some(Guard::Resumed) => {
                self.idle_turns = 0;
                let q = self.ask_next(context.cfg).unwrap_or_default();
                let r = self.reply(context, "handoff", "resumed", &[("question", q)]);
                context.effects.push(Effect::Reply(r));
                Transition(State::qualifying())
            }
            _ => {
                let _ = event;
                Handled
            }
        }
    }

    /// This cycle is over; a new message starts a new cycle (lead data kept).
    #[state]
    fn completed(&mut self, context: &mut Ctx<'_>, event: &Event) -> Outcome<State> {
        let _ = event;
        match context
            .took(select(StageId::Completed, &context.facts))
            .map(|e| e.guard)
        {
            Some(Guard::NewCycle) => {
                self.idle_turns = 0;
                self.pending = None;
                Transition(State::greeting())
            }
            _ => Handled,
        }
    }

    /// The escape hatch every active stage shares: a person requested, a takeover, stuck.
    #[superstate]
    fn active(&mut self, context: &mut Ctx<'_>, event: &Event) -> Outcome<State> {
        let _ = event;
        match context.took(select(context.from, &context.facts)) {
            Some(edge) if matches!(edge.guard, Guard::HumanRequested | Guard::Stuck) => {
                Transition(self.hand_off(
                    context,
                    edge.reason.unwrap_or(HandoffReason::HumanRequested),
                    true,
                ))
            }
            Some(edge) if edge.guard == Guard::HumanTakeover => {
                Transition(self.hand_off(context, HandoffReason::HumanTakeover, false))
            }
            _ => Handled,
        }
    }
}

/// A text rendered with the lead's name unknown (empty): the space or comma left before the
/// punctuation that followed the name goes ("kak !" → "kak!", "fit, !" → "fit!").
pub(super) fn tidy_unknown_name(text: &str) -> String {
    let mut out = text.to_string();
    for (gap, mark) in [
        (", !", "!"),
        (" !", "!"),
        (", .", "."),
        (" .", "."),
        (", ,", ","),
        (" ,", ","),
        (", ?", "?"),
        (" ?", "?"),
    ] {
        out = out.replace(gap, mark);
    }
    out
}

/// The slot the store booked (`slot_id`): the one the lead picked, else the free slot of that id.
fn booked_slot(data: &SchedulingData, context: &Ctx<'_>, slot_id: &str) -> Option<SlotOption> {
    data.selected
        .clone()
        .filter(|s| s.id == slot_id)
        .or_else(|| context.free_slots.iter().find(|s| s.id == slot_id).cloned())
}

/// The earliest free slot that fits what the lead said with "any time": on the day they named
/// ("kamis kapan aja"), else among the slots shown, else of all.
fn earliest_fitting(
    data: &SchedulingData,
    context: &Ctx<'_>,
    tz: chrono_tz::Tz,
) -> Option<SlotOption> {
    if let Some(query) = scheduling::parse_day_time(context.text, context.now, tz)
        && query.day.is_some()
    {
        return scheduling::filter_slots(context.free_slots, &query, tz)
            .into_iter()
            .next();
    }
    data.shown
        .first()
        .cloned()
        .or_else(|| context.free_slots.iter().min_by_key(|s| s.start).cloned())
}

/// What a relay passes on: the lead's words, or what they sent without words.
fn relay_text(context: &Ctx<'_>) -> String {
    match context.media {
        _ if !context.text.trim().is_empty() => context.text.to_string(),
        Some(Media::File) => "[file]".to_string(),
        Some(Media::Voice) => "[voice note]".to_string(),
        _ => "[message without text]".to_string(),
    }
}

fn is_escape(event: &Event) -> bool {
    matches!(
        event,
        Event::HumanRequested | Event::HumanTakeover | Event::Stuck
    )
}

/// Greeting time of day in the configured zone, in the conversation's language (seed §11.1:
/// 5-10 pagi, 11-14 siang, 15-17 sore, else malam; the words are `locale.*`).
fn time_of_day(context: &Ctx<'_>) -> String {
    let hour = context
        .now
        .with_timezone(&schedule::time_zone(context.cfg))
        .hour();
    let words = &context.cfg.locale;
    match hour {
        5..=10 => &words.morning,
        11..=14 => &words.midday,
        15..=17 => &words.afternoon,
        _ => &words.evening,
    }
    .clone()
}

/// The question a qualifying reply asks, under the re-ask policy.
struct Ask {
    /// The text to ask: the question, or its `reask` wording the second time.
    question: String,
    /// The previous question was asked `max_asks` times and recorded as not given.
    gave_up: bool,
    /// The same question is asked again: this turn did not answer it.
    again: bool,
}

impl LeadState {
    /// The next question under the re-ask policy (`qualification.max_asks`, issue 14): the
    /// second ask of the same question uses its `reask` wording; after `max_asks` asks the
    /// field (or document) is recorded as not given, which scores as an unknown, and the next
    /// question is asked. `None` when that was the last question.
    fn ask_with_policy(&mut self, context: &mut Ctx<'_>) -> Option<Ask> {
        let cfg = context.cfg;
        let asks_before = self.asks;
        let same = self.pending.clone();
        self.ask_next(cfg)?;
        // A file or a voice note is no answer refused: the question is asked again, but the
        // ask is not counted, so the lead is not given up on (issue 14's policy counts the
        // lead's answers, not their attachments; a file's document is recorded all the same).
        if context.media.is_some() && same.is_some() && self.pending == same {
            self.asks = asks_before.max(1);
        }
        let mut gave_up = false;
        if self.asks > cfg.qualification.max_asks.max(1) {
            self.give_up(context);
            gave_up = true;
            self.ask_next(cfg)?;
        }
        let again = self.asks >= 2;
        let question = self.question_text(cfg, again)?;
        Some(Ask {
            question,
            gave_up,
            again,
        })
    }

    /// Records the pending question as not given (field `Unknown`, document `Unknown`).
    fn give_up(&mut self, context: &mut Ctx<'_>) {
        match self.pending.take() {
            Some(Pending::Field(f)) => {
                self.fields.insert(f.clone(), FieldValue::Unknown);
                let mut update = LeadUpdate::default();
                update.fields.insert(f, FieldValue::Unknown);
                context.effects.push(Effect::UpdateLead(update));
            }
            Some(Pending::Document(d)) => {
                self.documents.insert(d, YesNo::Unknown);
            }
            None => {}
        }
    }

    /// The pending question's text; `reask`: its second wording (when configured).
    pub(super) fn question_text(&self, cfg: &FlowConfig, reask: bool) -> Option<String> {
        let (question, second) = match self.pending.as_ref()? {
            Pending::Field(f) => cfg.fields.get(f).map(|s| (&s.question, &s.reask))?,
            Pending::Document(d) => cfg.documents.get(d).map(|s| (&s.question, &s.reask))?,
        };
        Some(if reask && !second.trim().is_empty() {
            second.clone()
        } else {
            question.clone()
        })
    }

    /// The qualifying reply: a knowledge answer, an acknowledgement of media, "noted", "didn't
    /// catch that", or the plain question; each asks `ask.question`.
    fn qualifying_reply(&self, context: &mut Ctx<'_>, ask: &Ask) {
        let q = ask.question.clone();
        let with_question = |key: &str| {
            (
                key.to_string(),
                vec![("question", q.clone()), ("field_label", String::new())],
            )
        };
        // A question, about a topic of the knowledge base or not ("does my passport need to be
        // valid for the whole study?"), is answered (or a consultant will explain), never met
        // with "I didn't catch that".
        let languages = context.cfg.languages();
        let switched = super::language::requested(context.text, &languages).is_some();
        let rest = super::language::without_requests(context.text, &languages);
        let asked = context.media.is_none()
            && (!context.learned || ask.again)
            && super::intents::is_question(&rest);
        // "jadwal", "can I just book a session now?": the consultation comes after the
        // questions left.
        let books = context.media.is_none()
            && !context.learned
            && !context.knowledge_question
            && super::intents::asks_for_booking(context.text);
        // "lagi meeting, nanti aku kabarin": the bot waits, it does not ask again now.
        if context.media.is_none()
            && !context.learned
            && !context.knowledge_question
            && super::intents::defers(context.text)
        {
            let r = self.reply(context, "qualifying", "later", &[]);
            context.effects.push(Effect::Reply(r));
            return;
        }
        if books {
            let (key, extra) = with_question("booking_after_questions");
            let r = self.reply(context, "qualifying", &key, &extra);
            context.effects.push(Effect::Reply(r));
            return;
        }
        if context.knowledge_question || asked {
            let fallback = self.reply(
                context,
                "qualifying",
                "knowledge_fallback",
                &[("question", q.clone())],
            );
            self.knowledge(context, &q, fallback);
            return;
        }
        let (key, extra) = match context.media {
            Some(Media::File) if !context.learned => with_question("file_received"),
            Some(Media::File) => with_question("document_received"),
            Some(Media::Voice) => with_question("voice_unreadable"),
            Some(Media::Unreadable) => with_question("unreadable"),
            None if switched && !context.learned => with_question("language_switched"),
            None if context.unknown_noted || ask.gave_up => with_question("unknown_noted"),
            None if !context.learned && !context.confirmed => with_question("fallback"),
            None => {
                let r = self.question_reply(context, &q);
                context.effects.push(Effect::Reply(r));
                return;
            }
        };
        let r = self.reply(context, "qualifying", &key, &extra);
        context.effects.push(Effect::Reply(r));
    }

    /// At the consultation offer, anything but a yes or no asks again; a question is answered
    /// first: from the knowledge base when it is one for it, otherwise with `booking.question`
    /// (the consultation is free, as the offer says), then the offer follows.
    fn offer_again(&self, context: &mut Ctx<'_>) {
        if !super::intents::is_question(context.text) {
            let r = self.reply(context, "booking", "unclear", &[]);
            context.effects.push(Effect::Reply(r));
            return;
        }
        let answer = self.reply(context, "booking", "question", &[]);
        // A question about the offered consultation itself ("konsultasinya bayar ga?") is
        // answered by the offer's own text, whatever the knowledge base holds.
        if context.knowledge_question && !super::intents::about_the_consultation(context.text) {
            let offer = self.reply(context, "booking", "unclear", &[]).text;
            self.knowledge(context, &offer, answer);
        } else {
            context.effects.push(Effect::Reply(answer));
        }
    }

    fn known(&self, key: &str) -> Option<&str> {
        match self.fields.get(key) {
            Some(FieldValue::Known(v)) => Some(v),
            _ => None,
        }
    }

    /// The next question (first required field without an answer, then the first document
    /// not asked); records it as pending. `None` when qualification is done.
    fn ask_next(&mut self, cfg: &FlowConfig) -> Option<String> {
        let next = next_pending(self, cfg);
        self.asks = if next.is_some() && next == self.pending {
            self.asks + 1
        } else {
            1
        };
        self.pending = next;
        match &self.pending {
            Some(Pending::Field(f)) => cfg.fields.get(f).map(|s| s.question.clone()),
            Some(Pending::Document(d)) => cfg.documents.get(d).map(|s| s.question.clone()),
            None => None,
        }
    }

    fn values(&self, cfg: &FlowConfig) -> BTreeMap<String, String> {
        let mut v = BTreeMap::new();
        for k in ["email", "budget", "timeline", "english_level", "program"] {
            v.insert(k.to_string(), self.known(k).unwrap_or_default().to_string());
        }
        // The country is stored by its English name; an Indonesian text names it in Indonesian
        // ("beasiswa di Jepang", not "di Japan").
        let country = self.known("country").unwrap_or_default();
        let language = self.language.as_deref().unwrap_or(&cfg.persona.language);
        let country = if language == "id" {
            crate::knowledge::countries::indonesian_name(country)
        } else {
            country
        };
        v.insert("country".into(), country.to_string());
        // Unknown, the name renders empty and [`tidy_unknown_name`] drops the gap it leaves
        // ("kak {name}!" → "kak!", "a great fit, {name}!" → "a great fit!").
        v.insert(
            "name".into(),
            crate::sanitize::lead_value(
                self.known("name").unwrap_or_default(),
                crate::sanitize::NAME_MAX_CHARS,
            ),
        );
        v.insert("bot_name".into(), cfg.persona.bot_name.clone());
        v.insert(
            "lead_source".into(),
            self.source
                .as_ref()
                .and_then(LeadSource::label)
                .map(|l| crate::sanitize::lead_value(l, SUMMARY_VALUE_MAX_CHARS))
                .unwrap_or_default(),
        );
        v.insert("community_link".into(), cfg.persona.community_link.clone());
        v.insert(
            "score".into(),
            self.score
                .as_ref()
                .map(|s| s.total.to_string())
                .unwrap_or_default(),
        );
        v.insert(
            "temperature".into(),
            self.score
                .as_ref()
                .map(|s| s.temperature.as_str().to_string())
                .unwrap_or_default(),
        );
        v
    }

    /// Renders `stages.<stage>.texts.<key>` with lead values plus `extra`.
    fn reply(&self, context: &Ctx<'_>, stage: &str, key: &str, extra: &[(&str, String)]) -> Reply {
        let mut values = self.values(context.cfg);
        for (k, val) in extra {
            values.insert((*k).to_string(), val.clone());
        }
        let template = context
            .cfg
            .stages
            .get(stage)
            .and_then(|s| s.texts.get(key))
            .cloned()
            .unwrap_or_default();
        let mut text = render(&template, &values);
        if self.known("name").is_none() && template.contains("{name}") {
            text = tidy_unknown_name(&text);
        }
        Reply {
            template: format!("{stage}.{key}"),
            values,
            text,
        }
    }

    /// The pending question as `ask_field` / `ask_document`.
    fn question_reply(&self, context: &Ctx<'_>, question: &str) -> Reply {
        match &self.pending {
            Some(Pending::Document(d)) => {
                let label = context
                    .cfg
                    .documents
                    .get(d)
                    .map(|s| s.label.clone())
                    .unwrap_or_default();
                self.reply(
                    context,
                    "qualifying",
                    "ask_document",
                    &[
                        ("question", question.to_string()),
                        ("document_label", label),
                    ],
                )
            }
            Some(Pending::Field(f)) => {
                let label = context
                    .cfg
                    .fields
                    .get(f)
                    .map(|s| s.label.clone())
                    .unwrap_or_default();
                self.reply(
                    context,
                    "qualifying",
                    "ask_field",
                    &[("question", question.to_string()), ("field_label", label)],
                )
            }
            None => self.reply(
                context,
                "qualifying",
                "ask_field",
                &[
                    ("question", question.to_string()),
                    ("field_label", String::new()),
                ],
            ),
        }
    }

    /// The knowledge search for this message, narrowed to the known country; a recommendation
    /// request when the text has a `knowledge.recommendation_words` word.
    fn search_knowledge(&self, context: &Ctx<'_>) -> Effect {
        let k = &context.cfg.knowledge;
        Effect::SearchKnowledge {
            query: question_part(context.text, &k.topic_keywords, &k.question_words),
            country: self.known("country").map(str::to_string),
            recommend: mentions_any(context.text, &context.cfg.knowledge.recommendation_words),
        }
    }

    /// A knowledge question: search, then let the LLM answer and re-ask `question`.
    fn knowledge(&self, context: &mut Ctx<'_>, question: &str, fallback: Reply) {
        context.effects.push(self.search_knowledge(context));
        let instruction = self
            .reply(
                context,
                "qualifying",
                "knowledge_instruction",
                &[
                    ("question", question.to_string()),
                    ("tone", context.cfg.persona.tone.clone()),
                ],
            )
            .text;
        context.effects.push(Effect::AskLlm {
            instruction,
            fallback,
        });
    }

    fn compute_score(&self, context: &Ctx<'_>) -> LeadScore {
        score(
            &score_input(self, context.cfg, context.now),
            &ScoringRules::from_config(context.cfg),
        )
    }

    /// A lead message while handed off. After a takeover nothing goes to the lead; the message
    /// is relayed to the assigned consultant only when no person has written for
    /// `handoff.relay_after_minutes` (one who just wrote reads it in the business app).
    /// Otherwise it is relayed, a knowledge question is answered from the knowledge base, and
    /// an acknowledgement goes out at most once per `handoff.quiet_period_minutes`.
    fn while_handed_off(&self, data: &mut HandoffData, context: &mut Ctx<'_>) {
        let handoff = &context.cfg.handoff;
        if data.reason == HandoffReason::HumanTakeover {
            let quiet = Duration::minutes(i64::from(handoff.relay_after_minutes));
            if context.now - data.at >= quiet {
                context.effects.push(Effect::Relay {
                    text: relay_text(context),
                    to: data.assignee.clone(),
                });
            }
            return;
        }
        context.effects.push(Effect::Relay {
            text: relay_text(context),
            to: data.assignee.clone(),
        });
        if context.knowledge_question {
            let fallback = self.reply(context, "handoff", "knowledge_fallback", &[]);
            context.effects.push(self.search_knowledge(context));
            let instruction = self
                .reply(
                    context,
                    "handoff",
                    "knowledge_instruction",
                    &[("tone", context.cfg.persona.tone.clone())],
                )
                .text;
            context.effects.push(Effect::AskLlm {
                instruction,
                fallback,
            });
        }
        let quiet = Duration::minutes(i64::from(handoff.quiet_period_minutes));
        if data.last_ack_at.is_none_or(|t| context.now - t >= quiet) {
            let r = self.reply(context, "handoff", "acknowledgement", &[]);
            context.effects.push(Effect::Reply(r));
            data.last_ack_at = Some(context.now);
        }
    }

    /// Whether the booked consultation ended `handoff.close_after_hours` ago or more (never
    /// when that is 0, or without a booked consultation).
    fn consultation_over(&self, context: &Ctx<'_>) -> bool {
        let hours = context.cfg.handoff.close_after_hours;
        hours > 0
            && self.appointment.as_ref().is_some_and(|a| {
                let end = a.slot.start + Duration::minutes(i64::from(a.slot.duration_minutes));
                context.now >= end + Duration::hours(i64::from(hours))
            })
    }

    /// The consultant who gets this lead: the booked consultation's, else the round-robin
    /// pick by conversation (`handoff::assign`); `None` when no consultant is configured.
    fn assignee(&self, context: &Ctx<'_>) -> Option<Assignee> {
        let booked = self.appointment.as_ref().map(|a| &a.slot);
        crate::handoff::assign(&context.base.scheduling, context.conversation_id, booked).map(|c| {
            Assignee {
                name: c.name,
                whatsapp: c.whatsapp,
            }
        })
    }

    /// Hands off: optional reason text, the `Handoff` effect with a summary, the new state.
    fn hand_off(&mut self, context: &mut Ctx<'_>, reason: HandoffReason, with_text: bool) -> State {
        self.pending = None;
        self.idle_turns = 0;
        if with_text {
            let r = self.reply(context, "handoff", reason.as_str(), &[]);
            if !r.text.trim().is_empty() {
                context.effects.push(Effect::Reply(r));
            }
        }
        let assignee = self.assignee(context);
        context.effects.push(Effect::Handoff {
            reason,
            summary: summary(self, context.base),
            to: assignee.clone(),
        });
        State::handoff(HandoffData {
            reason,
            at: context.now,
            last_ack_at: with_text.then_some(context.now),
            assignee,
        })
    }

    /// One scheduling step on a message: confirm the picked slot, pick from the shown slots,
    /// choose a day; else ask again. Each step is one method below, tried in this order.
    fn scheduling_step(&mut self, data: &mut SchedulingData, context: &mut Ctx<'_>) {
        let tz = schedule::time_zone(context.cfg);
        if data.step == SchedulingStep::AwaitingBooking {
            return;
        }
        if data.step == SchedulingStep::Confirming && self.confirmation(data, context) {
            return;
        }
        if let Some(tap) = context
            .interactive_id
            .and_then(crate::flow::taps::Tap::parse)
        {
            // A day or "more times" row, or a stale button (issue 19): never read as text.
            self.tapped(data, context, tap, tz);
            return;
        }
        if let Some(slot) = picked_slot(data, context, tz) {
            self.confirm_slot(data, context, slot, tz);
            return;
        }
        // No preference ("terserah", "any time"): the earliest fitting free slot, to confirm.
        if mentions_any(context.text, &context.cfg.scheduling.any_time_phrases)
            && let Some(slot) = earliest_fitting(data, context, tz)
        {
            self.confirm_slot(data, context, slot, tz);
            return;
        }
        // A day and/or time: "kamis", "besok", "25/11", "senin depan jam 10", "sore".
        if let Some(query) = scheduling::parse_day_time(context.text, context.now, tz) {
            let free = context.free_slots;
            let query = with_booked_time(data, context.text, query, tz);
            let query = on_nearest_weekday(free, query, tz);
            let query = on_nearest_weekday(free, with_asked_time(data, free, query, tz), tz);
            self.slots_for_day(data, context, &query, tz);
            return;
        }
        let r = self.scheduling_reprompt(data, context, tz);
        context.effects.push(Effect::Reply(r));
    }

    /// While confirming, the lead's answer: yes books the selected slot (`BookSlot`, then the
    /// booking's result is awaited), no goes back to asking for a day. True when handled; a
    /// yes with no slot selected, or no answer, goes on to the other steps.
    fn confirmation(&self, data: &mut SchedulingData, context: &mut Ctx<'_>) -> bool {
        // Booking words first ("gas", "ganti", "yang lain"), then the general yes/no.
        let answer = match scheduling::parse_confirmation(context.text) {
            Some(scheduling::Confirmation::Yes) => Some(YesNo::Yes),
            Some(scheduling::Confirmation::No) => Some(YesNo::No),
            None => context.facts.answer,
        };
        match answer {
            Some(YesNo::Yes) => {
                let Some(slot) = data.selected.clone() else {
                    return false;
                };
                if let Some(from) = data.moving.clone() {
                    self.move_to(*from, slot, context);
                } else {
                    let notes = format!(
                        "Booked via ARI. Lead score: {}",
                        self.score.as_ref().map(|s| s.total).unwrap_or_default()
                    );
                    context.effects.push(Effect::BookSlot { slot, notes });
                }
                data.step = SchedulingStep::AwaitingBooking;
                true
            }
            Some(YesNo::No) => {
                data.step = SchedulingStep::AskingDay;
                data.selected = None;
                data.asked_time = None;
                let tz = schedule::time_zone(context.cfg);
                let r = self.reply(
                    context,
                    "scheduling",
                    "ask_day",
                    &[(
                        "available_days",
                        scheduling::available_days_in(context.free_slots, tz, &context.cfg.locale),
                    )],
                );
                context.effects.push(Effect::Reply(r));
                true
            }
            _ => false,
        }
    }

    /// Asks the lead to confirm the picked `slot`, and remembers it.
    fn confirm_slot(
        &self,
        data: &mut SchedulingData,
        context: &mut Ctx<'_>,
        slot: SlotOption,
        tz: chrono_tz::Tz,
    ) {
        let r = self.reply(
            context,
            "scheduling",
            "confirm",
            &[
                (
                    "slot",
                    scheduling::slot_line_in(&slot, tz, &context.cfg.locale),
                ),
                ("consultant_name", slot.consultant_name.clone()),
            ],
        );
        context.effects.push(Effect::Reply(r));
        data.selected = Some(slot);
        data.step = SchedulingStep::Confirming;
    }

    /// The lead named a day and/or time: shows the free slots that match (at most
    /// `max_slots_shown`, offered with `OfferSlots`), or says there are none and which days
    /// have some.
    fn slots_for_day(
        &self,
        data: &mut SchedulingData,
        context: &mut Ctx<'_>,
        query: &scheduling::DayTimeQuery,
        tz: chrono_tz::Tz,
    ) {
        let max = context.cfg.scheduling.max_slots_shown as usize;
        let matching: Vec<SlotOption> = scheduling::filter_slots(context.free_slots, query, tz)
            .into_iter()
            .take(max)
            .collect();
        if matching.is_empty() && self.other_times_that_day(data, context, query, tz) {
            return;
        }
        if matching.is_empty() {
            let r = self.reply(
                context,
                "scheduling",
                "no_slots_that_day",
                &[
                    ("day", query_label(query, &context.cfg.locale)),
                    (
                        "available_days",
                        scheduling::available_days_in(context.free_slots, tz, &context.cfg.locale),
                    ),
                ],
            );
            context.effects.push(Effect::Reply(r));
            return;
        }
        // A day and an exact time name one slot ("kamis jam 10": the coming Thursday's 10:00
        // slot, the earliest match): it is proposed to confirm.
        if let (
            Some(scheduling::DayQuery::Date(_) | scheduling::DayQuery::Weekday(_)),
            Some(scheduling::TimeQuery::At(at)),
        ) = (query.day, query.time)
            && let Some(slot) = matching.first()
            && slot.start.with_timezone(&tz).time() == at
        {
            data.shown = vec![slot.clone()];
            self.confirm_slot(data, context, slot.clone(), tz);
            return;
        }
        self.offer_times(data, context, "show_slots", Vec::new(), matching, tz);
    }

    /// Replies with the scheduling text `key` listing `slots` (`{day}`, `{slots}`, and
    /// `extra`), offers them (`OfferSlots`) and waits for the lead's pick.
    pub(super) fn offer_times(
        &self,
        data: &mut SchedulingData,
        context: &mut Ctx<'_>,
        key: &str,
        mut extra: Vec<(&str, String)>,
        slots: Vec<SlotOption>,
        tz: chrono_tz::Tz,
    ) {
        extra.push(("day", days_of(&slots, tz, &context.cfg.locale)));
        extra.push((
            "slots",
            scheduling::slot_lines_in(&slots, tz, &context.cfg.locale),
        ));
        let r = self.reply(context, "scheduling", key, &extra);
        context.effects.push(Effect::Reply(r));
        context.effects.push(Effect::OfferSlots {
            slots: slots.clone(),
        });
        data.shown = slots;
        data.step = SchedulingStep::ShowingSlots;
        data.selected = None;
    }

    /// "jam 7 malem bisa?" on a day with free slots, none at that time: says so and shows that
    /// day's free times (`no_slots_at_time`), keeping the day. False when the query names no
    /// day and time, or the day has no free slot at all.
    fn other_times_that_day(
        &self,
        data: &mut SchedulingData,
        context: &mut Ctx<'_>,
        query: &scheduling::DayTimeQuery,
        tz: chrono_tz::Tz,
    ) -> bool {
        let (Some(_), Some(time)) = (query.day, query.time) else {
            return false;
        };
        let max = context.cfg.scheduling.max_slots_shown as usize;
        let day_only = scheduling::DayTimeQuery {
            time: None,
            ..*query
        };
        let that_day: Vec<SlotOption> = scheduling::filter_slots(context.free_slots, &day_only, tz)
            .into_iter()
            .take(max)
            .collect();
        if that_day.is_empty() {
            return false;
        }
        let asked = match time {
            scheduling::TimeQuery::At(at) => at.format("%H:%M").to_string(),
            scheduling::TimeQuery::Part(_) => query_time_words(context.text),
        };
        data.asked_time = None;
        let extra = vec![("time", asked)];
        self.offer_times(data, context, "no_slots_at_time", extra, that_day, tz);
        true
    }

    /// Nothing usable in the message: the current sub-step's question again (pick a shown
    /// slot, confirm the selected one, or choose a day).
    fn scheduling_reprompt(
        &self,
        data: &SchedulingData,
        context: &Ctx<'_>,
        tz: chrono_tz::Tz,
    ) -> Reply {
        match data.step {
            SchedulingStep::ShowingSlots => self.reply(
                context,
                "scheduling",
                "pick_unclear",
                &[
                    (
                        "slots",
                        scheduling::slot_lines_in(&data.shown, tz, &context.cfg.locale),
                    ),
                    ("slot_count", data.shown.len().to_string()),
                ],
            ),
            SchedulingStep::Confirming => {
                let slot = data.selected.clone();
                let (line, name) = slot
                    .map(|s| {
                        (
                            scheduling::slot_line_in(&s, tz, &context.cfg.locale),
                            s.consultant_name,
                        )
                    })
                    .unwrap_or_default();
                self.reply(
                    context,
                    "scheduling",
                    "confirm",
                    &[("slot", line), ("consultant_name", name)],
                )
            }
            _ => self.reply(
                context,
                "scheduling",
                "ask_day",
                &[(
                    "available_days",
                    scheduling::available_days_in(context.free_slots, tz, &context.cfg.locale),
                )],
            ),
        }
    }
}

/// The local date every shown slot is on, when they share one (the lead was shown one day's
/// times).
fn shown_day(data: &SchedulingData, tz: chrono_tz::Tz) -> Option<chrono::NaiveDate> {
    let first = data.shown.first()?.start.with_timezone(&tz).date_naive();
    data.shown
        .iter()
        .all(|s| s.start.with_timezone(&tz).date_naive() == first)
        .then_some(first)
}

/// The query with what the lead said before: a time alone ("jam 3 sore aja") is on the day
/// whose times were just shown; a day alone keeps the time named last ("kamis jam 10", then
/// "yg tgl 26": the 26th at 10:00) when that day has a slot at that time. A time named now is
/// remembered when it found slots (after "no slot that day" the next day is a new choice).
fn with_asked_time(
    data: &mut SchedulingData,
    free: &[SlotOption],
    mut query: scheduling::DayTimeQuery,
    tz: chrono_tz::Tz,
) -> scheduling::DayTimeQuery {
    if query.day.is_none()
        && query.time.is_some()
        && data.step == SchedulingStep::ShowingSlots
        && let Some(day) = shown_day(data, tz)
    {
        query.day = Some(scheduling::DayQuery::Date(day));
    }
    if query.time.is_some() {
        let found = !scheduling::filter_slots(free, &query, tz).is_empty();
        data.asked_time = query.time.filter(|_| found);
    } else if query.day.is_some() && data.asked_time.is_some() {
        let merged = scheduling::DayTimeQuery {
            time: data.asked_time,
            ..query
        };
        if !scheduling::filter_slots(free, &merged, tz).is_empty() {
            query = merged;
        }
    }
    query
}

/// While moving a booking, "same time" with a new day ("rabu aja, jam yang sama", "push it
/// to Wednesday, same time") asks for the booked slot's local time on that day.
fn with_booked_time(
    data: &SchedulingData,
    text: &str,
    mut query: scheduling::DayTimeQuery,
    tz: chrono_tz::Tz,
) -> scheduling::DayTimeQuery {
    if query.time.is_none()
        && let Some(booked) = data.moving.as_ref()
        && crate::flow::rebook::keeps_time(text)
    {
        let at = booked.slot.start.with_timezone(&tz).time();
        query.time = Some(scheduling::TimeQuery::At(at));
    }
    query
}

/// A weekday with a time ("kamis jam 10") is the nearest such day that has any free slot, so
/// a taken time there is said, with that day's free times, instead of quietly proposing the
/// same time a week later.
fn on_nearest_weekday(
    free: &[SlotOption],
    mut query: scheduling::DayTimeQuery,
    tz: chrono_tz::Tz,
) -> scheduling::DayTimeQuery {
    use chrono::Datelike;
    if let (Some(scheduling::DayQuery::Weekday(w)), Some(_)) = (query.day, query.time)
        && let Some(date) = free
            .iter()
            .map(|s| s.start.with_timezone(&tz).date_naive())
            .filter(|d| d.weekday() == w)
            .min()
    {
        query.day = Some(scheduling::DayQuery::Date(date));
    }
    query
}

/// The free slots the replied-to message offered, in its order (issue 16 item 7).
fn replied_to(input: &TurnInput) -> Vec<SlotOption> {
    let free = input.free_slots.as_deref().unwrap_or(&[]);
    input
        .replied_to_slots
        .iter()
        .filter_map(|id| free.iter().find(|s| &s.id == id).cloned())
        .collect()
}

/// The slot the lead picked: a direct button pick of any free slot; a pick among the slots of
/// the message the lead replies to (issue 16 item 7: "yang ke-2" to an older list means that
/// list's second); or (once slots were shown) a pick among the shown ones ("2", "jam 13:00",
/// "sore").
fn picked_slot(data: &SchedulingData, context: &Ctx<'_>, tz: chrono_tz::Tz) -> Option<SlotOption> {
    let input = context.interactive_id.unwrap_or(context.text);
    context
        .free_slots
        .iter()
        .find(|s| s.id == input.trim())
        .cloned()
        .or_else(|| {
            schedule::pick_slot(input, context.replied_to, tz)
                .and_then(|i| context.replied_to.get(i).cloned())
        })
        .or_else(|| {
            (data.step != SchedulingStep::AskingDay)
                .then(|| {
                    schedule::pick_slot(input, &data.shown, tz)
                        .and_then(|i| data.shown.get(i).cloned())
                })
                .flatten()
        })
}

/// First required field without an answer, then first document not asked.
fn next_pending(lead: &LeadState, cfg: &FlowConfig) -> Option<Pending> {
    cfg.qualification
        .required_fields
        .iter()
        .find(|f| !lead.fields.contains_key(*f))
        .map(|f| Pending::Field(f.clone()))
        .or_else(|| {
            cfg.qualification
                .document_order
                .iter()
                .find(|d| !lead.documents.contains_key(*d))
                .map(|d| Pending::Document(d.clone()))
        })
}

/// Current year in the configured zone.
fn current_year(cfg: &FlowConfig, now: DateTime<Utc>) -> i32 {
    now.with_timezone(&schedule::time_zone(cfg)).year()
}

/// Scoring input from the lead state (known fields; documents answered yes/no).
pub fn score_input(lead: &LeadState, cfg: &FlowConfig, now: DateTime<Utc>) -> ScoreInput {
    ScoreInput {
        fields: lead
            .fields
            .iter()
            .filter_map(|(k, v)| match v {
                FieldValue::Known(s) => Some((k.clone(), s.clone())),
                FieldValue::Unknown => None,
            })
            .collect(),
        documents: lead
            .documents
            .iter()
            .filter_map(|(k, v)| match v {
                YesNo::Yes => Some((k.clone(), true)),
                YesNo::No => Some((k.clone(), false)),
                YesNo::Unknown => None,
            })
            .collect(),
        engagement: None,
        current_year: current_year(cfg, now),
    }
}

/// Characters of one field value kept in the consultant's summary.
const SUMMARY_VALUE_MAX_CHARS: usize = 120;

/// The consultant's summary (seed §10 `generateConversationSummary`, with the lead data that
/// the seed never had).
fn summary(lead: &LeadState, cfg: &FlowConfig) -> String {
    let words = &cfg.locale;
    let mut parts = Vec::new();
    if let Some(s) = &lead.score {
        let t = match s.temperature.as_str() {
            "hot" => "Hot",
            "warm" => "Warm",
            _ => "Cold",
        };
        parts.push(format!("Lead Score: {}/100 ({t} lead)", s.total));
    }
    let info: Vec<String> = cfg
        .qualification
        .required_fields
        .iter()
        .chain(cfg.qualification.important_fields.iter())
        .filter_map(|k| {
            let label = cfg.fields.get(k).map_or(k.as_str(), |f| f.label.as_str());
            match lead.fields.get(k)? {
                // The lead's (or a model's) words: one line each, so no value adds a line.
                FieldValue::Known(v) => Some(format!(
                    "{label}: {}",
                    crate::sanitize::notice_line(v, SUMMARY_VALUE_MAX_CHARS)
                )),
                FieldValue::Unknown => Some(format!("{label}: {}", words.summary_unknown)),
            }
        })
        .collect();
    if !info.is_empty() {
        parts.push(format!("{}: {}", words.summary_key_info, info.join(", ")));
    }
    let docs: Vec<String> = cfg
        .qualification
        .document_order
        .iter()
        .filter_map(|d| {
            let label = cfg
                .documents
                .get(d)
                .map_or(d.as_str(), |x| x.label.as_str());
            let a = match lead.documents.get(d)? {
                YesNo::Yes => &words.summary_has,
                YesNo::No => &words.summary_not_yet,
                YesNo::Unknown => &words.summary_unknown,
            };
            Some(format!("{label} {a}"))
        })
        .collect();
    if !docs.is_empty() {
        parts.push(format!("{}: {}", words.summary_documents, docs.join(", ")));
    }
    if let Some(s) = &lead.score {
        parts.push(format!(
            "{}: {}",
            words.summary_reasons,
            s.reasons.join("; ")
        ));
    }
    if let Some(label) = lead.source.as_ref().and_then(LeadSource::label) {
        let label = crate::sanitize::notice_line(label, SUMMARY_VALUE_MAX_CHARS);
        parts.push(format!("{}: {label}", words.summary_source));
    }
    // Proactive messages the lead got before answering again (issue 18).
    if lead.followup.total > 0 {
        parts.push(format!(
            "{}: {}",
            words.summary_followups, lead.followup.total
        ));
    }
    // The consultant writes to the lead in the lead's language.
    if let Some(language) = &lead.language {
        parts.push(format!("{}: {language}", words.summary_language));
    }
    if parts.is_empty() {
        words.summary_empty.clone()
    } else {
        format!("{}.", parts.join(". "))
    }
}

/// Converts the persisted stage into statig's state.
fn to_state(stage: &StageSnapshot) -> State {
    match stage {
        StageSnapshot::Greeting => State::greeting(),
        StageSnapshot::Qualifying => State::qualifying(),
        StageSnapshot::Scoring { nurtured } => State::scoring(*nurtured),
        StageSnapshot::Booking => State::booking(),
        StageSnapshot::Scheduling(d) => State::scheduling(d.clone()),
        StageSnapshot::Handoff(d) => State::handoff(d.clone()),
        StageSnapshot::Completed => State::completed(),
    }
}

/// Converts statig's state into the persisted stage.
fn to_snapshot(state: &State) -> StageSnapshot {
    match state {
        State::Greeting {} => StageSnapshot::Greeting,
        State::Qualifying {} => StageSnapshot::Qualifying,
        State::Scoring { nurtured } => StageSnapshot::Scoring {
            nurtured: *nurtured,
        },
        State::Booking {} => StageSnapshot::Booking,
        State::Scheduling { data } => StageSnapshot::Scheduling(data.clone()),
        State::Handoff { data } => StageSnapshot::Handoff(data.clone()),
        State::Completed {} => StageSnapshot::Completed,
    }
}

fn query_label(q: &scheduling::DayTimeQuery, locale: &Locale) -> String {
    match q.day {
        Some(scheduling::DayQuery::Date(d)) => {
            format!(
                "{} {}",
                scheduling::day_name_in(d.weekday(), locale),
                d.format("%d/%m")
            )
        }
        Some(scheduling::DayQuery::Weekday(w)) => scheduling::day_name_in(w, locale).to_string(),
        _ => "-".to_string(),
    }
}

/// The part-of-day word the lead wrote ("malam", "evening"), for a reply that repeats it.
fn query_time_words(text: &str) -> String {
    const PARTS: &[&str] = &[
        "pagi",
        "siang",
        "sore",
        "malam",
        "malem",
        "morning",
        "afternoon",
        "evening",
        "night",
    ];
    crate::flow::text::words(text)
        .into_iter()
        .find(|w| PARTS.contains(&w.as_str()))
        .unwrap_or_default()
}

/// The distinct local weekday names of `slots`, in order ("Kamis", or "Senin, Selasa").
fn days_of(slots: &[SlotOption], tz: chrono_tz::Tz, locale: &Locale) -> String {
    let mut names: Vec<&str> = Vec::new();
    for s in slots {
        let name = scheduling::day_name_in(s.start.with_timezone(&tz).weekday(), locale);
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names.join(", ")
}

fn base_facts(
    lead: &LeadState,
    cfg: &FlowConfig,
    event: &Event,
    answer: Option<YesNo>,
    free_slots: bool,
) -> Facts {
    let booking_possible = cfg.stages.booking.enabled && cfg.stages.scheduling.enabled;
    Facts {
        event: event.kind(),
        qualification_done: next_pending(lead, cfg).is_none(),
        temperature: lead.score.as_ref().map(|s| s.temperature),
        hot_books: cfg.routing.hot_lead_action == LeadAction::Book && booking_possible,
        warm_limit_reached: false,
        warm_books: cfg.routing.warm_after_limit == LeadAction::Book && booking_possible,
        answer,
        free_slots,
        takeover_expired: false,
        consultation_over: false,
        asks_to_book: false,
        booking_ahead: false,
    }
}

/// True when the shell should pre-load free slots into [`TurnInput::free_slots`] for this
/// conversation's next turn (booking or scheduling).
pub fn needs_free_slots(snapshot: &Snapshot) -> bool {
    match snapshot.stage_id() {
        StageId::Booking | StageId::Scheduling => true,
        // A lead with a booking may ask to move it: the reply lists the free days.
        // Also after the conversation was closed with the booking still ahead.
        StageId::Handoff | StageId::Completed | StageId::Greeting => {
            snapshot.lead.appointment.is_some()
        }
        _ => false,
    }
}

/// Runs one turn through the flow. Pure and deterministic; never panics on any input text.
///
/// The steps, each a function below: merge the form answers, read the event (`prepare`,
/// `booking_event`), learn from the text (`learn`), dispatch the event
/// (`Dispatcher::dispatch`) and run the same-turn follow-ups (`Dispatcher::follow_ups`).
pub fn run_turn(snapshot: &Snapshot, input: &TurnInput, base: &FlowConfig) -> TurnOutput {
    let mut out = match &input.event {
        InputEvent::FollowupDue { due_at } => followup_output(snapshot, input, base, *due_at),
        InputEvent::MarketingPreference { stopped } => {
            marketing_output(snapshot, *stopped, input.now)
        }
        _ => lead_turn(snapshot, input, base),
    };
    let lead_wrote = matches!(input.event, InputEvent::Messages { .. });
    super::followup::after_turn(&mut out.snapshot, base, input.now, lead_wrote);
    out
}

/// The lead's marketing preference (131050 or `user_preferences`): a stop is recorded as an
/// opt-out (`opted_out_via` `marketing`) unless one is recorded already; a resume clears only
/// such a record (the lead's own "STOP" stands until they write "MULAI"). No reply.
fn marketing_output(snapshot: &Snapshot, stopped: bool, now: DateTime<Utc>) -> TurnOutput {
    let mut lead = snapshot.lead.clone();
    let rule = if stopped {
        if lead.opted_out_at.is_none() {
            lead.opted_out_at = Some(now);
            lead.opted_out_via = Some("marketing".into());
        }
        "consent_marketing_stopped"
    } else {
        if lead.opted_out_via.as_deref() == Some("marketing") {
            lead.opted_out_at = None;
            lead.opted_out_via = None;
        }
        "consent_marketing_resumed"
    };
    TurnOutput {
        snapshot: Snapshot {
            lead,
            ..snapshot.clone()
        },
        effects: Vec::new(),
        transitions: Vec::new(),
        trace: TurnTrace {
            rules: vec![rule.into()],
            ..TurnTrace::default()
        },
    }
}

/// A due follow-up ([`super::followup`]): a nudge in the conversation's language, the
/// template, or nothing; the stage stays.
fn followup_output(
    snapshot: &Snapshot,
    input: &TurnInput,
    base: &FlowConfig,
    due_at: DateTime<Utc>,
) -> TurnOutput {
    let mut snapshot = snapshot.clone();
    let cfg = base.in_language(
        snapshot
            .lead
            .language
            .as_deref()
            .unwrap_or(&base.persona.language),
    );
    let free = input.free_slots.as_deref().unwrap_or(&[]);
    let (effects, rule) = match super::followup::followup_turn(&mut snapshot, cfg, due_at, free) {
        super::followup::Decision::Nudge(reply) => (vec![Effect::Reply(reply)], "followup_nudge"),
        super::followup::Decision::Template(parameters) => {
            let effects = base
                .followups
                .after_window_template
                .iter()
                .map(|t| Effect::Template {
                    name: t.name.clone(),
                    language: t.language.clone(),
                    parameters: parameters.clone(),
                })
                .collect();
            (effects, "followup_template")
        }
        super::followup::Decision::Nothing => (Vec::new(), "followup_void"),
    };
    TurnOutput {
        snapshot,
        effects,
        transitions: Vec::new(),
        trace: TurnTrace {
            rules: vec![rule.into()],
            ..TurnTrace::default()
        },
    }
}

/// A turn of the lead's messages or an operator's or the shell's event: the steps of
/// [`run_turn`].
fn lead_turn(snapshot: &Snapshot, input: &TurnInput, base: &FlowConfig) -> TurnOutput {
    let mut lead = snapshot.lead.clone();
    if lead.source.is_none()
        && let Some(source) = &input.lead_source
    {
        // First touch: the first ad the lead came from stays their source.
        lead.source = Some(LeadSource {
            first_seen: Some(input.now),
            ..source.clone()
        });
    }
    let mut update = LeadUpdate {
        fields: merge_form(&mut lead, &input.form_answers),
        ..LeadUpdate::default()
    };
    let prepared = prepare(input, base);
    let language_detected = read_language(&mut lead, &prepared, base);
    // Every lead-facing text of this turn comes from the conversation's language.
    let cfg = base.in_language(lead.language.as_deref().unwrap_or(&base.persona.language));
    let Some(event) = prepared.event.clone() else {
        return without_event(snapshot, lead, update);
    };
    if let Some(out) = consent_turn(snapshot, &lead, &prepared, cfg, input.now) {
        return out;
    }
    let event = booking_event(event, &snapshot.stage, &lead, input.now, &prepared.text);
    let text = prepared.text.as_str();
    let is_message = matches!(event, Event::Message | Event::HumanRequested);
    let learned = if is_message {
        let mut found = learn(&mut lead, &mut update, text, input, cfg);
        for d in &prepared.named_documents {
            if lead.documents.get(d) != Some(&YesNo::Yes) {
                lead.documents.insert(d.clone(), YesNo::Yes);
                found.learned = true;
                found.rules.push("document_file_name".into());
            }
        }
        found
    } else {
        Learned::default()
    };
    let mut effects = Vec::new();
    if !update.fields.is_empty() {
        effects.push(Effect::UpdateLead(update));
    }

    let interactive_id = prepared.interactive_id.as_deref();
    let rules = learned.rules.clone();
    let mut dispatcher = Dispatcher {
        cfg,
        base,
        now: input.now,
        text,
        interactive_id,
        free: input.free_slots.as_deref().unwrap_or(&[]),
        replied_to: replied_to(input),
        conversation_id: input.conversation_id,
        answer: answer_of(text, interactive_id)
            .or_else(|| yes_with_a_time(text, input.now, schedule::time_zone(cfg))),
        field_pending: matches!(snapshot.lead.pending, Some(Pending::Field(_))),
        learned,
        effects,
        transitions: Vec::new(),
        edges: Vec::new(),
        media: prepared.media,
    };
    let before = snapshot.stage_id();
    let state = to_state(&snapshot.stage);
    let (lead, state) = dispatcher.dispatch(lead, state, &event);
    let (lead, state) = dispatcher.follow_ups(before, is_message, lead, state, &event);

    TurnOutput {
        snapshot: Snapshot {
            schema_version: super::turn::SCHEMA_VERSION,
            stage: to_snapshot(&state),
            lead,
        },
        effects: dispatcher.effects,
        transitions: dispatcher.transitions,
        trace: TurnTrace {
            edges: dispatcher.edges,
            rules,
            language_detected,
        },
    }
}

/// Opt-out and resume ([`super::consent`]): a whole-message opt-out is recorded on the lead
/// (`opted_out_at`) and confirmed once, or only recorded while a person has taken over; a
/// resume after one clears it and says so. The stage does not change and nothing else of the
/// message is read. `None`: no consent message, the turn goes on.
fn consent_turn(
    snapshot: &Snapshot,
    lead: &LeadState,
    prepared: &reading::Prepared,
    cfg: &FlowConfig,
    now: DateTime<Utc>,
) -> Option<TurnOutput> {
    if prepared.interactive_id.is_some() {
        return None;
    }
    let intent = super::consent::intent(&prepared.raw, &cfg.consent)?;
    let mut lead = lead.clone();
    let said = match intent {
        super::consent::Intent::OptOut => {
            // Confirmed once: unless the lead's own opt-out was confirmed already (a silent
            // marketing stop before it still gets the confirmation).
            let first =
                lead.opted_out_at.is_none() || lead.opted_out_via.as_deref() == Some("marketing");
            lead.opted_out_at.get_or_insert(now);
            lead.opted_out_via = Some("message".into());
            first.then(|| ("opted_out", cfg.consent.opted_out.clone()))
        }
        super::consent::Intent::Resume => {
            lead.opted_out_at.take()?;
            lead.opted_out_via = None;
            Some(("resumed", cfg.consent.resumed.clone()))
        }
    };
    let taken_over = snapshot.handoff_reason() == Some(HandoffReason::HumanTakeover);
    let rule = format!("consent_{}", said.as_ref().map_or("repeated", |(k, _)| *k));
    let effects = said
        .filter(|_| !taken_over)
        .map(|(key, template)| Effect::Reply(consent_reply(&lead, key, &template)))
        .into_iter()
        .collect();
    Some(TurnOutput {
        snapshot: Snapshot {
            lead,
            ..snapshot.clone()
        },
        effects,
        transitions: Vec::new(),
        trace: TurnTrace {
            rules: vec![rule],
            ..TurnTrace::default()
        },
    })
}

/// `consent.<key>` rendered with the lead's first name as `{name}`.
fn consent_reply(lead: &LeadState, key: &str, template: &str) -> Reply {
    let name = match lead.fields.get("name") {
        Some(FieldValue::Known(n)) => n.split_whitespace().next().unwrap_or("").to_string(),
        _ => String::new(),
    };
    let values = BTreeMap::from([("name".to_string(), name.clone())]);
    let mut text = render(template, &values);
    if name.is_empty() {
        text = tidy_unknown_name(&text);
    }
    Reply {
        template: format!("consent.{key}"),
        values,
        text,
    }
}

/// A turn with nothing to dispatch (no text, no button, a reaction): only the form answers
/// apply; the stage and the stored layout version stay as they were.
fn without_event(snapshot: &Snapshot, lead: LeadState, update: LeadUpdate) -> TurnOutput {
    let mut effects = Vec::new();
    if !update.fields.is_empty() {
        effects.push(Effect::UpdateLead(update));
    }
    TurnOutput {
        snapshot: Snapshot {
            lead,
            ..snapshot.clone()
        },
        effects,
        transitions: Vec::new(),
        trace: TurnTrace::default(),
    }
}

/// Dispatches a turn's events to the machine: what every dispatch of the turn reads, and the
/// effects and stage changes they add up to.
struct Dispatcher<'a> {
    cfg: &'a FlowConfig,
    base: &'a FlowConfig,
    now: DateTime<Utc>,
    text: &'a str,
    interactive_id: Option<&'a str>,
    free: &'a [SlotOption],
    /// See [`Ctx::replied_to`].
    replied_to: Vec<SlotOption>,
    conversation_id: i64,
    answer: Option<YesNo>,
    /// A field question was pending at the turn's start: a bare "ok" / "sip" answers nothing.
    field_pending: bool,
    learned: Learned,
    effects: Vec<Effect>,
    transitions: Vec<(StageId, StageId)>,
    /// Names of the edges taken, in order.
    edges: Vec<String>,
    media: Option<Media>,
}

impl Dispatcher<'_> {
    /// Restores the machine in `state` with `lead`, handles `event`, and returns the lead and
    /// state after it; its effects and a stage change are recorded.
    fn dispatch(&mut self, lead: LeadState, state: State, event: &Event) -> (LeadState, State) {
        let from = to_snapshot(&state).id();
        let mut facts = base_facts(&lead, self.cfg, event, self.answer, !self.free.is_empty());
        facts.asks_to_book = super::rebook::asks_to_book(self.text);
        facts.booking_ahead = lead
            .appointment
            .as_ref()
            .is_some_and(|a| a.slot.start > self.now);
        let mut ctx = Ctx {
            cfg: self.cfg,
            base: self.base,
            now: self.now,
            text: self.text,
            interactive_id: self.interactive_id,
            free_slots: self.free,
            replied_to: &self.replied_to,
            conversation_id: self.conversation_id,
            from,
            facts,
            knowledge_question: self.learned.knowledge_question,
            learned: self.learned.learned,
            unknown_noted: self.learned.unknown_noted,
            confirmed: self.learned.confirmed,
            media: self.media,
            effects: Vec::new(),
            trace: Vec::new(),
        };
        let mut machine = lead.uninitialized_state_machine();
        *machine.state_mut() = state;
        // No entry actions exist, so init emits nothing; the scratch outbox is dropped anyway.
        let mut scratch = Ctx {
            effects: Vec::new(),
            ..ctx_clone(&ctx)
        };
        let mut machine = machine.init_with_context(&mut scratch);
        machine.handle_with_context(event, &mut ctx);
        self.effects.append(&mut ctx.effects);
        self.edges.append(&mut ctx.trace);
        let to = to_snapshot(machine.state()).id();
        if to != from {
            self.transitions.push((from, to));
        }
        (machine.inner().clone(), machine.state().clone())
    }

    /// Whether the lead's words said anything the flow understood: a field or document
    /// (learned), a knowledge question, a yes or no (not while a field question waits: "ok"
    /// gives no name), a day, time or slot number. A question given up by the re-ask policy is
    /// not something read.
    fn read_something(&self) -> bool {
        let tz = schedule::time_zone(self.cfg);
        self.learned.learned
            || self.learned.knowledge_question
            || (matches!(self.answer, Some(YesNo::Yes | YesNo::No)) && !self.field_pending)
            || self.interactive_id.is_some()
            || super::intents::asks_for_booking(self.text)
            || super::intents::defers(self.text)
            || scheduling::parse_day_time(self.text, self.now, tz).is_some()
            || self.text.trim().parse::<u32>().is_ok()
    }

    /// The same-turn follow-ups of the first dispatch (stage `before` it): a completed
    /// conversation's new cycle, scoring's routing, and the stuck escape.
    fn follow_ups(
        &mut self,
        before: StageId,
        is_message: bool,
        mut lead: LeadState,
        mut state: State,
        event: &Event,
    ) -> (LeadState, State) {
        // A handoff whose consultation is long over closed on this message: it starts a new
        // cycle like a message to a completed conversation.
        if before == StageId::Handoff
            && is_message
            && to_snapshot(&state).id() == StageId::Completed
        {
            (lead, state) = self.dispatch(lead, state, event);
        }
        // A completed conversation starts a new cycle and handles the message as a first message.
        if matches!(before, StageId::Completed | StageId::Handoff)
            && to_snapshot(&state).id() == StageId::Greeting
        {
            (lead, state) = self.dispatch(lead, state, event);
        }
        // Scoring is transient: route in the same turn.
        if to_snapshot(&state).id() == StageId::Scoring && before != StageId::Scoring {
            (lead, state) = self.dispatch(lead, state, &Event::Route);
        }
        // Stuck: N turns in a row in which nothing was read from the lead's words.
        let after = to_snapshot(&state).id();
        if is_message && before.is_active() && after.is_active() {
            if !self.read_something() && after == before {
                lead.idle_turns += 1;
            } else {
                lead.idle_turns = 0;
            }
            if lead.idle_turns >= self.cfg.routing.stuck_limit {
                self.effects.retain(|e| matches!(e, Effect::UpdateLead(_)));
                (lead, state) = self.dispatch(lead, state, &Event::Stuck);
            }
        }
        (lead, state)
    }
}

fn ctx_clone<'a>(c: &Ctx<'a>) -> Ctx<'a> {
    Ctx {
        cfg: c.cfg,
        base: c.base,
        now: c.now,
        text: c.text,
        interactive_id: c.interactive_id,
        free_slots: c.free_slots,
        replied_to: c.replied_to,
        conversation_id: c.conversation_id,
        from: c.from,
        facts: c.facts,
        knowledge_question: c.knowledge_question,
        learned: c.learned,
        unknown_noted: c.unknown_noted,
        confirmed: c.confirmed,
        media: c.media,
        effects: Vec::new(),
        trace: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 16 item 5: the first ad is kept (first touch, seen at the turn's clock), shown
    /// in the consultant summary and offered to texts as `{lead_source}`.
    #[test]
    fn the_first_ad_is_the_lead_source() {
        let cfg = crate::config::flow::load_file(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("state-machines/ari.toml"),
        )
        .unwrap();
        let now = DateTime::parse_from_rfc3339("2026-11-23T09:00:00+07:00")
            .unwrap()
            .with_timezone(&Utc);
        let ad = |headline: &str| LeadSource {
            headline: Some(headline.into()),
            ctwa_clid: Some("clid-1".into()),
            ..LeadSource::default()
        };
        let mut input = TurnInput::text(now, "halo kak");
        input.lead_source = Some(ad("Beasiswa S2 Australia"));
        let first = run_turn(&Snapshot::new(), &input, &cfg).snapshot;
        input.lead_source = Some(ad("Kursus IELTS"));
        input.now = now + Duration::hours(1);
        let second = run_turn(&first, &input, &cfg).snapshot;
        let source = second.lead.source.clone().expect("a source");
        assert_eq!(source.headline.as_deref(), Some("Beasiswa S2 Australia"));
        assert_eq!(source.first_seen, Some(now));
        assert!(summary(&second.lead, &cfg).contains("Sumber lead: Beasiswa S2 Australia"));
        assert_eq!(
            second.lead.values(&cfg)["lead_source"],
            "Beasiswa S2 Australia"
        );
    }

    #[test]
    fn an_unknown_name_leaves_no_gap() {
        for (rendered, want) in [
            (
                "Profil kakak cocok banget untuk lanjut, kak ! 🎉 Mau?",
                "Profil kakak cocok banget untuk lanjut, kak! 🎉 Mau?",
            ),
            (
                "Your profile looks like a great fit, ! 🎉",
                "Your profile looks like a great fit! 🎉",
            ),
            ("Thanks a lot, ! One of", "Thanks a lot! One of"),
            ("Halo lagi kak ! Saya ARI", "Halo lagi kak! Saya ARI"),
            ("No gap here, Budi!", "No gap here, Budi!"),
        ] {
            assert_eq!(tidy_unknown_name(rendered), want);
        }
    }
}
