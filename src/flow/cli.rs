//! `ari flow graph [--format mermaid|dot] [--config PATH]`: print the transition table.

use std::path::Path;
use std::process::ExitCode;

use super::graph::{GraphFormat, render};
use crate::config::flow::load_file;

/// Prints the graph with the stage names of `config` (or the stable names when it is absent
/// or invalid: the diagnostics then go to stderr). Exit 0, or 1 on an invalid config.
pub fn flow_graph_cli(format: GraphFormat, config: &Path) -> ExitCode {
    match load_file(config) {
        Ok(cfg) => {
            print!("{}", render(format, Some(&cfg)));
            ExitCode::SUCCESS
        }
        Err(diags) => {
            eprintln!("{diags}");
            print!("{}", render(format, None));
            ExitCode::FAILURE
        }
    }
}

/// Parses `mermaid` / `dot`.
pub fn parse_format(s: &str) -> Result<GraphFormat, String> {
    match s {
        "mermaid" => Ok(GraphFormat::Mermaid),
        "dot" => Ok(GraphFormat::Dot),
        other => Err(format!("unknown format `{other}` (mermaid or dot)")),
    }
}
