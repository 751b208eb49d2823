//! Configuration: process settings (CLI flags and environment) and the admin-edited files in
//! `state-machines/`.
pub mod flow;
