//! The `ari` binary. This branch wires only the flow subcommands; the code lives in the
//! library (`ari::config::flow::check_config_cli`, `ari::flow::cli::flow_graph_cli`) so the
//! merge with `ari serve` is a two-arm change.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "ari",
    version,
    about = "ARI: answers a study-abroad consultancy's WhatsApp leads"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate a flow file (default state-machines/ari.toml) or a config directory.
    CheckConfig {
        /// Flow file or directory.
        path: Option<PathBuf>,
    },
    /// Flow tools.
    Flow {
        #[command(subcommand)]
        command: FlowCommand,
    },
}

#[derive(Subcommand)]
enum FlowCommand {
    /// Print the state machine (stages and guarded edges).
    Graph {
        /// mermaid or dot.
        #[arg(long, default_value = "mermaid", value_parser = ari::flow::cli::parse_format)]
        format: ari::flow::graph::GraphFormat,
        /// Flow file whose stage names to use.
        #[arg(long, default_value = ari::config::flow::cli::DEFAULT_PATH)]
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::CheckConfig { path } => ari::config::flow::check_config_cli(path.as_deref()),
        Command::Flow {
            command: FlowCommand::Graph { format, config },
        } => ari::flow::cli::flow_graph_cli(format, &config),
    }
}
