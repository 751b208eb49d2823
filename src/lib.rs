//! ARI: answers a study-abroad consultancy's WhatsApp leads.
//!
//! Kapso delivers each WhatsApp event as an HMAC-signed webhook; [`ingress`] verifies it and
//! records it durably in the inbox through the [`store`]. See `DESIGN.md`-style overview in the
//! README for how the parts fit together.

pub mod config;
pub mod flow;
pub mod telemetry;
