//! The flow core: a pure, deterministic lead-qualification state machine (statig, blocking).
//!
//! The shell calls [`run_turn`] with the conversation's [`Snapshot`], the turn's
//! [`TurnInput`] (texts, clock, pre-loaded free slots) and one config snapshot, then stores the
//! returned snapshot and runs the [`Effect`]s. Nothing here does I/O or reads the clock.
//!
//! - [`machine`]: the statig machine and [`run_turn`].
//! - [`graph`]: the transition table the machine consults and `ari flow graph` prints.
//! - [`language`]: the conversation's language; [`normalize`]: the lexicon before the rules.
//! - [`extract`]: learning fields from chat; [`yesno`]: yes/no answers; [`intents`]: questions
//!   and requests for a person; [`rebook`]: moving, keeping or booking a consultation again;
//!   [`media`]: documents named by file names.
//! - [`consent`]: opt-out and resume, whole messages only (issue 18); [`followup`]: when a
//!   quiet lead is followed up, and with what (issue 18).
//! - [`scoring`]: the lead score (seed §6); [`schedule`]: day/slot parsing and formatting.
//! - [`taps`]: the ids of ARI's own buttons and list rows (issue 19).
//! - [`turn`]: input, output, effects and the persisted snapshot.

pub mod cli;
pub mod consent;
pub mod extract;
pub mod followup;
pub mod graph;
pub mod intents;
pub mod language;
pub mod machine;
pub mod media;
pub mod normalize;
pub mod rebook;
pub mod schedule;
pub mod scoring;
pub mod taps;
pub mod text;
pub mod turn;
pub mod yesno;

pub use graph::{EDGES, Edge, Guard, HandoffReason, StageId};
pub use machine::{needs_free_slots, run_turn};
pub use schedule::SlotOption;
pub use scoring::{LeadScore, Temperature};
pub use turn::{
    Assignee, BookingResult, Effect, FieldValue, InboundMessage, InputEvent, LeadSource,
    LeadUpdate, Reply, Snapshot, TurnInput, TurnOutput, TurnTrace,
};
