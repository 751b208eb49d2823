//! The admin-edited flow configuration (`state-machines/ari.toml` plus per-workspace overrides).
//!
//! Everything the flow core tunes at runtime lives here: the bot persona, per-stage texts, the
//! fields and documents asked during qualification, the scoring weights and thresholds, routing
//! limits, handoff phrases and the consultants' weekly slots. Nothing in `crate::flow` hard-codes
//! a text or a threshold; it reads them from a [`FlowConfig`] snapshot taken once per turn.
//!
//! - [`model`]: the typed structs (`serde(deny_unknown_fields)`), one per TOML table.
//! - [`load`]: reading, deep-merging per-workspace overrides, and locating keys on lines.
//! - [`validate`]: the checks serde cannot express (texts, placeholders, thresholds, slots).
//! - [`reload`]: the hot-reload handle ([`FlowConfigHandle`]) and the SIGHUP/file watcher.
//! - [`cli`]: `ari check-config`.

pub mod cli;
pub mod load;
pub mod model;
pub mod reload;
pub mod validate;

pub use cli::check_config_cli;
pub use load::{Diagnostic, Diagnostics, FlowConfigSet, load_dir, load_file};
pub use model::*;
pub use reload::{FlowConfigHandle, spawn_reloader};
