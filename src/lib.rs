//! ARI: answers a study-abroad consultancy's WhatsApp leads.
//!
//! Kapso delivers each WhatsApp event as an HMAC-signed webhook. [`ingress`] verifies it and
//! records it durably, once, in the [`inbox`] through the [`store`]; the [`worker`] runs each
//! conversation's turns in order through the pure [`flow`] core, and replies go out through the
//! [`kapso`] outbox sender. [`server`] wires the HTTP routes, [`config`]
//! holds the settings and admin files, [`telemetry`] the logs and metrics, [`clock`] the time.

pub mod admin;
pub mod clock;
pub mod config;
pub mod flow;
pub mod handoff;
pub mod inbox;
pub mod ingress;
pub mod kapso;
pub mod knowledge;
pub mod llm;
pub mod sanitize;
pub mod scheduling;
pub mod server;
pub mod simulate;
pub mod store;
pub mod telemetry;
pub mod worker;
