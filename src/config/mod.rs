//! Configuration: process settings (CLI flags and environment variables) and the admin-edited
//! files in `state-machines/` (the flow, per-workspace overrides, the workspace list).

pub mod flow;
pub mod settings;
pub mod workspaces;
