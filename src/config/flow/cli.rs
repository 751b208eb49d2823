//! `ari check-config [PATH]`: validate a flow file (or a config directory) and print every
//! problem as `file:line: key: message`; the LLM config (`llm.toml` beside it, if any) is
//! validated as `ari serve` validates it (see [`crate::llm::config`]), and so are the prompt
//! overrides in `prompts/` beside it ([`crate::llm::prompt`]).

use std::path::Path;
use std::process::ExitCode;

use super::load::{Diagnostics, load_dir, load_file};

/// Default path checked when none is given.
pub const DEFAULT_PATH: &str = "state-machines/ari.toml";

/// Checks `path`: a file is validated alone; a directory is validated with its workspace
/// overrides. Returns the diagnostics, or a one-line summary when valid.
pub fn check_config(path: &Path) -> Result<String, Diagnostics> {
    if path.is_dir() {
        let set = load_dir(path)?;
        Ok(format!(
            "{}: valid (default + {} workspace override(s))",
            path.display(),
            set.workspaces.len()
        ))
    } else {
        load_file(path)?;
        Ok(format!("{}: valid", path.display()))
    }
}

/// The CLI entry: prints to stdout/stderr, exit 0 when valid and 1 when invalid.
pub fn check_config_cli(path: Option<&Path>) -> ExitCode {
    let path = path.unwrap_or(Path::new(DEFAULT_PATH));
    let flow = match check_config(path) {
        Ok(summary) => {
            println!("{summary}");
            true
        }
        Err(diags) => {
            eprintln!("{diags}");
            false
        }
    };
    let dir = if path.is_dir() {
        path
    } else {
        path.parent().unwrap_or(Path::new("."))
    };
    let llm = match crate::llm::config::check_dir(dir) {
        Ok(Some(summary)) => {
            println!("{summary}");
            true
        }
        Ok(None) => true,
        Err(e) => {
            eprintln!("{}: {e}", dir.join(crate::llm::CONFIG_FILE).display());
            false
        }
    };
    let prompts = match crate::llm::prompt::check_dir(dir) {
        Ok(Some(summary)) => {
            println!("{summary}");
            true
        }
        Ok(None) => true,
        Err(e) => {
            eprintln!("{e}");
            false
        }
    };
    if flow && llm && prompts {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
