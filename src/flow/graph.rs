//! The flow's transition table: every edge with its guard. The statig handlers in
//! [`super::machine`] pick their next state by walking this table in order ([`select`]), and
//! `ari flow graph` prints the same table, so the picture cannot drift from the code.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::scoring::Temperature;
use super::yesno::YesNo;
use crate::config::flow::FlowConfig;

/// A stage of the flow, persisted by its stable snake_case name (never by Rust's enum layout).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum StageId {
    /// First inbound message.
    #[serde(rename = "greeting")]
    Greeting,
    /// Learning fields and documents.
    #[serde(rename = "qualifying")]
    Qualifying,
    /// Scoring and routing; stays here while a warm lead is nurtured.
    #[serde(rename = "scoring")]
    Scoring,
    /// Consultation offered.
    #[serde(rename = "booking")]
    Booking,
    /// Picking a day and a slot.
    #[serde(rename = "scheduling")]
    Scheduling,
    /// A person has the conversation.
    #[serde(rename = "handoff")]
    Handoff,
    /// This cycle is over.
    #[serde(rename = "completed")]
    Completed,
}

impl StageId {
    /// All stages in flow order.
    pub const ALL: [StageId; 7] = [
        StageId::Greeting,
        StageId::Qualifying,
        StageId::Scoring,
        StageId::Booking,
        StageId::Scheduling,
        StageId::Handoff,
        StageId::Completed,
    ];

    /// Stable name, as stored and as used in `ari.toml` (`stages.<name>`).
    pub fn as_str(self) -> &'static str {
        match self {
            StageId::Greeting => "greeting",
            StageId::Qualifying => "qualifying",
            StageId::Scoring => "scoring",
            StageId::Booking => "booking",
            StageId::Scheduling => "scheduling",
            StageId::Handoff => "handoff",
            StageId::Completed => "completed",
        }
    }

    /// Stages inside the `active` superstate (they share the handoff escape).
    pub fn is_active(self) -> bool {
        !matches!(self, StageId::Handoff | StageId::Completed)
    }
}

/// Why a conversation was handed to a person (DESIGN.md "handoff").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HandoffReason {
    /// A consultation was booked.
    AppointmentBooked,
    /// Hot lead (configured `handoff`, booking declined or impossible).
    HotLead,
    /// Warm lead after the nurture limit when configured `handoff`.
    WarmLead,
    /// Cold lead, after the community link.
    ColdLead,
    /// The lead asked for a person.
    HumanRequested,
    /// `stuck_limit` turns without progress.
    Stuck,
    /// A person replied from the phone or a Kapso workflow handed off.
    HumanTakeover,
}

impl HandoffReason {
    /// Stable name; also the `stages.handoff.texts` key of its message.
    pub fn as_str(self) -> &'static str {
        match self {
            HandoffReason::AppointmentBooked => "appointment_booked",
            HandoffReason::HotLead => "hot_lead",
            HandoffReason::WarmLead => "warm_lead",
            HandoffReason::ColdLead => "cold_lead",
            HandoffReason::HumanRequested => "human_requested",
            HandoffReason::Stuck => "stuck",
            HandoffReason::HumanTakeover => "human_takeover",
        }
    }
}

/// What kind of event a dispatch carries (the guard inputs below come with it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// The lead's turn (texts, captions, transcripts, button replies).
    Message,
    /// The lead's turn contains a "I want a person" phrase.
    HumanRequested,
    /// A person took over.
    HumanTakeover,
    /// Internal: route after scoring, same turn.
    Route,
    /// Internal: the stuck limit was reached.
    Stuck,
    /// An admin handed the conversation back to the bot.
    Resume,
    /// A consultant closed the conversation.
    Close,
    /// The shell booked the slot.
    BookingBooked,
    /// The slot was taken (or booking failed).
    BookingTaken,
    /// The lead asks to cancel an upcoming booked consultation.
    CancelRequested,
    /// The lead asks to move an upcoming booked consultation.
    RescheduleRequested,
    /// While choosing a new slot, the lead keeps the booked one after all.
    KeepBooking,
}

/// Everything a guard may look at, computed once per dispatch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Facts {
    /// The event.
    pub event: EventKind,
    /// Every required field known or unknown and every document asked.
    pub qualification_done: bool,
    /// Temperature of the current score, if scored.
    pub temperature: Option<Temperature>,
    /// `routing.hot_lead_action = "book"` and booking + scheduling enabled.
    pub hot_books: bool,
    /// The warm nurture limit is reached.
    pub warm_limit_reached: bool,
    /// `routing.warm_after_limit = "book"` and booking + scheduling enabled.
    pub warm_books: bool,
    /// The lead's yes/no, if any.
    pub answer: Option<YesNo>,
    /// At least one free slot was pre-loaded by the shell.
    pub free_slots: bool,
    /// A person took the conversation over and has been silent for
    /// `handoff.takeover_resume_minutes` (never when that is 0).
    pub takeover_expired: bool,
    /// Handed off with a booked consultation that ended `handoff.close_after_hours` ago or
    /// more (never when that is 0).
    pub consultation_over: bool,
    /// The lead's words ask to book a consultation ([`super::rebook::asks_to_book`]).
    pub asks_to_book: bool,
    /// A booked consultation is still ahead (its start is after the turn's clock).
    pub booking_ahead: bool,
}

/// A named condition on [`Facts`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guard {
    /// First message of a new cycle of a lead whose data are all known, asking to book again.
    BooksAgain,
    /// First message of a cycle.
    FirstMessage,
    /// Message, qualification not done.
    StillQualifying,
    /// Message, every required field known/unknown and every document asked.
    QualificationDone,
    /// Hot and hot leads book.
    HotBooks,
    /// Hot and hot leads are handed off.
    HotHandsOff,
    /// Warm, nurture limit not reached.
    WarmNurture,
    /// Warm, limit reached, warm leads then book.
    WarmLimitBooks,
    /// Warm, limit reached, warm leads then are handed off.
    WarmLimitHandsOff,
    /// Cold.
    Cold,
    /// Yes to the offer, free slots exist.
    Accepted,
    /// Yes to the offer, no free slot.
    AcceptedNoSlot,
    /// No to the offer.
    Declined,
    /// Neither yes nor no.
    Unclear,
    /// Any message while scheduling.
    SchedulingStep,
    /// The shell booked the slot.
    SlotBooked,
    /// The slot was taken.
    SlotTaken,
    /// The lead asked for a person.
    HumanRequested,
    /// A person took over.
    HumanTakeover,
    /// No progress for `stuck_limit` turns.
    Stuck,
    /// Message after a person took over and then stayed silent for `takeover_resume_minutes`.
    TakeoverExpired,
    /// Message `close_after_hours` or more after the booked consultation's end: the handoff
    /// closes and the message starts a new cycle.
    ConsultationOver,
    /// The lead asks to move the upcoming booked consultation.
    RescheduleRequested,
    /// The lead asks to cancel the upcoming booked consultation.
    CancelRequested,
    /// While choosing a new slot, the lead keeps the booked one ("tetap yang lama").
    KeepsBooking,
    /// Message while handed off (one acknowledgement per quiet period).
    QuietPeriod,
    /// Closed by a consultant.
    Closed,
    /// Handed back to the bot.
    Resumed,
    /// A new message after completion starts a new cycle.
    NewCycle,
}

impl Guard {
    /// Whether the guard holds.
    pub fn holds(self, f: &Facts) -> bool {
        use EventKind as E;
        let routing = matches!(f.event, E::Route | E::Message);
        let t = f.temperature;
        match self {
            Guard::BooksAgain => f.event == E::Message && f.qualification_done && f.asks_to_book,
            Guard::FirstMessage => f.event == E::Message,
            Guard::StillQualifying => f.event == E::Message && !f.qualification_done,
            Guard::QualificationDone => f.event == E::Message && f.qualification_done,
            Guard::HotBooks => routing && t == Some(Temperature::Hot) && f.hot_books,
            Guard::HotHandsOff => routing && t == Some(Temperature::Hot) && !f.hot_books,
            Guard::WarmNurture => routing && t == Some(Temperature::Warm) && !f.warm_limit_reached,
            Guard::WarmLimitBooks => {
                routing && t == Some(Temperature::Warm) && f.warm_limit_reached && f.warm_books
            }
            Guard::WarmLimitHandsOff => {
                routing && t == Some(Temperature::Warm) && f.warm_limit_reached && !f.warm_books
            }
            Guard::Cold => routing && t == Some(Temperature::Cold),
            Guard::Accepted => {
                f.event == E::Message && f.answer == Some(YesNo::Yes) && f.free_slots
            }
            Guard::AcceptedNoSlot => {
                f.event == E::Message && f.answer == Some(YesNo::Yes) && !f.free_slots
            }
            Guard::Declined => f.event == E::Message && f.answer == Some(YesNo::No),
            Guard::Unclear => {
                f.event == E::Message && !matches!(f.answer, Some(YesNo::Yes | YesNo::No))
            }
            Guard::SchedulingStep => f.event == E::Message,
            Guard::SlotBooked => f.event == E::BookingBooked,
            Guard::SlotTaken => f.event == E::BookingTaken,
            Guard::HumanRequested => f.event == E::HumanRequested,
            Guard::HumanTakeover => f.event == E::HumanTakeover,
            Guard::Stuck => f.event == E::Stuck,
            Guard::TakeoverExpired => f.event == E::Message && f.takeover_expired,
            Guard::ConsultationOver => {
                matches!(f.event, E::Message | E::HumanRequested) && f.consultation_over
            }
            Guard::RescheduleRequested => f.event == E::RescheduleRequested,
            Guard::CancelRequested => f.event == E::CancelRequested,
            Guard::KeepsBooking => f.event == E::KeepBooking,
            Guard::QuietPeriod => matches!(f.event, E::Message | E::HumanRequested),
            Guard::Closed => f.event == E::Close,
            Guard::Resumed => f.event == E::Resume,
            // "batal" / "ganti jadwal" to a closed conversation act on the booking still ahead.
            Guard::NewCycle => {
                matches!(f.event, E::Message | E::HumanRequested)
                    || (f.booking_ahead
                        && matches!(f.event, E::CancelRequested | E::RescheduleRequested))
            }
        }
    }

    /// The guard as printed on the graph's edges.
    pub fn label(self) -> &'static str {
        match self {
            Guard::BooksAgain => "asks to book, all data known",
            Guard::FirstMessage => "first message",
            Guard::StillQualifying => "field or document missing",
            Guard::QualificationDone => "all fields known/unknown, all documents asked",
            Guard::HotBooks => "hot, hot_lead_action=book",
            Guard::HotHandsOff => "hot, hot_lead_action=handoff / booking disabled",
            Guard::WarmNurture => "warm, under warm_nurture_limit",
            Guard::WarmLimitBooks => "warm, limit reached, warm_after_limit=book",
            Guard::WarmLimitHandsOff => "warm, limit reached, warm_after_limit=handoff",
            Guard::Cold => "cold (community link sent)",
            Guard::Accepted => "yes, free slots",
            Guard::AcceptedNoSlot => "yes, no free slot",
            Guard::Declined => "no",
            Guard::Unclear => "neither yes nor no",
            Guard::SchedulingStep => "day / slot / confirm",
            Guard::SlotBooked => "booking succeeded",
            Guard::SlotTaken => "slot taken",
            Guard::HumanRequested => "asks for a person",
            Guard::HumanTakeover => "human takeover",
            Guard::Stuck => "stuck_limit turns without progress",
            Guard::TakeoverExpired => "message, person silent for takeover_resume_minutes",
            Guard::ConsultationOver => "message, close_after_hours after the consultation",
            Guard::RescheduleRequested => "asks to reschedule the booking (ganti jadwal)",
            Guard::CancelRequested => "cancels the booking (batal)",
            Guard::KeepsBooking => "keeps the booked slot (tetap yang lama)",
            Guard::QuietPeriod => "message (ack once per quiet period)",
            Guard::Closed => "closed by consultant",
            Guard::Resumed => "resumed by admin",
            Guard::NewCycle => "new message (new cycle)",
        }
    }
}

/// One edge: `from --guard--> to`, with the handoff reason when `to` is handoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edge {
    /// Source stage.
    pub from: StageId,
    /// Target stage (may equal `from`: a self-loop).
    pub to: StageId,
    /// Condition; edges of a stage are tried in table order.
    pub guard: Guard,
    /// Reason recorded when the edge hands off.
    pub reason: Option<HandoffReason>,
}

const fn e(from: StageId, to: StageId, guard: Guard) -> Edge {
    Edge {
        from,
        to,
        guard,
        reason: None,
    }
}

const fn h(from: StageId, guard: Guard, reason: HandoffReason) -> Edge {
    Edge {
        from,
        to: StageId::Handoff,
        guard,
        reason: Some(reason),
    }
}

use HandoffReason as R;
use StageId as S;

/// The escape edges every active stage has (handled by the `active` superstate).
macro_rules! escapes {
    ($from:expr) => {
        [
            h($from, Guard::HumanRequested, R::HumanRequested),
            h($from, Guard::HumanTakeover, R::HumanTakeover),
            h($from, Guard::Stuck, R::Stuck),
        ]
    };
}

const ESC_GREETING: [Edge; 3] = escapes!(S::Greeting);
const ESC_QUALIFYING: [Edge; 3] = escapes!(S::Qualifying);
const ESC_SCORING: [Edge; 3] = escapes!(S::Scoring);
const ESC_BOOKING: [Edge; 3] = escapes!(S::Booking);
const ESC_SCHEDULING: [Edge; 3] = escapes!(S::Scheduling);

/// The whole transition table, in the order guards are tried per stage.
pub static EDGES: &[Edge] = &[
    ESC_GREETING[0],
    ESC_GREETING[1],
    ESC_GREETING[2],
    // A closed conversation whose booking is still ahead: "batal" / "ganti jadwal" act on it.
    e(S::Greeting, S::Completed, Guard::CancelRequested),
    e(S::Greeting, S::Scheduling, Guard::RescheduleRequested),
    e(S::Greeting, S::Scoring, Guard::BooksAgain),
    e(S::Greeting, S::Qualifying, Guard::FirstMessage),
    ESC_QUALIFYING[0],
    ESC_QUALIFYING[1],
    ESC_QUALIFYING[2],
    e(S::Qualifying, S::Scoring, Guard::QualificationDone),
    e(S::Qualifying, S::Qualifying, Guard::StillQualifying),
    ESC_SCORING[0],
    ESC_SCORING[1],
    ESC_SCORING[2],
    e(S::Scoring, S::Booking, Guard::HotBooks),
    h(S::Scoring, Guard::HotHandsOff, R::HotLead),
    e(S::Scoring, S::Scoring, Guard::WarmNurture),
    e(S::Scoring, S::Booking, Guard::WarmLimitBooks),
    h(S::Scoring, Guard::WarmLimitHandsOff, R::WarmLead),
    h(S::Scoring, Guard::Cold, R::ColdLead),
    ESC_BOOKING[0],
    ESC_BOOKING[1],
    ESC_BOOKING[2],
    e(S::Booking, S::Scheduling, Guard::Accepted),
    h(S::Booking, Guard::AcceptedNoSlot, R::HotLead),
    h(S::Booking, Guard::Declined, R::HotLead),
    e(S::Booking, S::Booking, Guard::Unclear),
    ESC_SCHEDULING[0],
    ESC_SCHEDULING[1],
    ESC_SCHEDULING[2],
    e(S::Scheduling, S::Completed, Guard::CancelRequested),
    e(S::Scheduling, S::Scheduling, Guard::RescheduleRequested),
    h(S::Scheduling, Guard::KeepsBooking, R::AppointmentBooked),
    h(S::Scheduling, Guard::SlotBooked, R::AppointmentBooked),
    e(S::Scheduling, S::Scheduling, Guard::SlotTaken),
    e(S::Scheduling, S::Scheduling, Guard::SchedulingStep),
    e(S::Handoff, S::Handoff, Guard::HumanTakeover),
    e(S::Handoff, S::Completed, Guard::ConsultationOver),
    e(S::Handoff, S::Scheduling, Guard::RescheduleRequested),
    e(S::Handoff, S::Completed, Guard::CancelRequested),
    e(S::Handoff, S::Qualifying, Guard::TakeoverExpired),
    e(S::Handoff, S::Handoff, Guard::QuietPeriod),
    e(S::Handoff, S::Completed, Guard::Closed),
    e(S::Handoff, S::Qualifying, Guard::Resumed),
    e(S::Completed, S::Greeting, Guard::NewCycle),
];

/// The first edge from `from` whose guard holds.
pub fn select(from: StageId, facts: &Facts) -> Option<&'static Edge> {
    EDGES
        .iter()
        .find(|e| e.from == from && e.guard.holds(facts))
}

/// Output format of `ari flow graph`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphFormat {
    /// Mermaid `stateDiagram-v2`.
    Mermaid,
    /// Graphviz dot.
    Dot,
}

fn stage_label(cfg: Option<&FlowConfig>, s: StageId) -> String {
    let name = cfg
        .and_then(|c| c.stages.get(s.as_str()))
        .map(|st| {
            if st.enabled {
                st.name.clone()
            } else {
                format!("{} (disabled)", st.name)
            }
        })
        .unwrap_or_else(|| s.as_str().to_string());
    name.replace('"', "'")
}

/// An edge's stable name in traces, coverage and `unreachable.toml`:
/// `scoring -> handoff: cold (community link sent) [cold_lead]`.
pub fn edge_name(e: &Edge) -> String {
    format!(
        "{} -> {}: {}",
        e.from.as_str(),
        e.to.as_str(),
        edge_label(e)
    )
}

fn edge_label(e: &Edge) -> String {
    match e.reason {
        Some(r) => format!("{} [{}]", e.guard.label(), r.as_str()),
        None => e.guard.label().to_string(),
    }
}

/// Renders [`EDGES`] with the configured stage names. Mermaid edges read
/// `greeting --> qualifying: first message`.
pub fn render(format: GraphFormat, cfg: Option<&FlowConfig>) -> String {
    let mut out = String::new();
    match format {
        GraphFormat::Mermaid => {
            out.push_str("stateDiagram-v2\n");
            let _ = writeln!(out, "    [*] --> greeting");
            for s in StageId::ALL {
                let _ = writeln!(out, "    {}: {}", s.as_str(), stage_label(cfg, s));
            }
            for e in EDGES {
                let _ = writeln!(
                    out,
                    "    {} --> {}: {}",
                    e.from.as_str(),
                    e.to.as_str(),
                    edge_label(e).replace(':', " ")
                );
            }
        }
        GraphFormat::Dot => {
            out.push_str("digraph ari_flow {\n    rankdir=LR;\n");
            for s in StageId::ALL {
                let _ = writeln!(
                    out,
                    "    {} [label=\"{}\"];",
                    s.as_str(),
                    stage_label(cfg, s)
                );
            }
            for e in EDGES {
                let _ = writeln!(
                    out,
                    "    {} -> {} [label=\"{}\"];",
                    e.from.as_str(),
                    e.to.as_str(),
                    edge_label(e).replace('"', "'")
                );
            }
            out.push_str("}\n");
        }
    }
    out
}
