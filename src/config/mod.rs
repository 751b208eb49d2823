//! Configuration: process settings (CLI flags and environment variables) and the admin-edited
//! files in `state-machines/`.

pub mod settings;
pub mod workspaces;
