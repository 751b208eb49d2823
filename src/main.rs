//! The `ari` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use ari::config::settings::ServeArgs;

/// ARI answers a study-abroad consultancy's WhatsApp leads, delivered by Kapso webhooks.
#[derive(Debug, Parser)]
#[command(name = "ari", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the service: receive Kapso webhooks, process turns, reply.
    Serve(Box<ServeArgs>),
    /// Sign a payload file as Kapso does and POST it to a running service (for trying it by hand).
    SendWebhook(SendWebhookArgs),
    /// Run a scripted dialogue (or, without --script, chat as a lead) through the real
    /// pipeline in one process: exit 0 when the script's `expect` holds, 1 when not, 2 for a
    /// bad script.
    Simulate(SimulateArgs),
    /// Run scripted dialogues (default: every file in tests/fixtures/dialogues/) as a
    /// conversation test suite: one line per dialogue, then `N passed, N failed, N skipped`.
    /// Exit 0 when nothing failed, 1 when something did, 2 when the suite cannot run.
    Test(TestArgs),
    /// Validate a flow file (default state-machines/ari.toml) or a config directory; errors
    /// name file, line and key. Exit 0 when valid, 1 when not.
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

#[derive(Debug, Subcommand)]
enum FlowCommand {
    /// Print the state machine (stages and guarded edges) from the definitions the core runs.
    Graph {
        /// mermaid or dot.
        #[arg(long, default_value = "mermaid", value_parser = ari::flow::cli::parse_format)]
        format: ari::flow::graph::GraphFormat,
        /// Flow file whose stage names to use.
        #[arg(long, default_value = ari::config::flow::cli::DEFAULT_PATH)]
        config: PathBuf,
    },
}

#[derive(Debug, clap::Args)]
struct SimulateArgs {
    /// Dialogue script (format: tests/fixtures/dialogues/README.md). Without it: interactive.
    #[arg(long)]
    script: Option<PathBuf>,
    /// Print the report as JSON instead of a transcript.
    #[arg(long)]
    json: bool,
    /// Folder of the flow files.
    #[arg(long, env = "ARI_FLOW_DIR", default_value = "state-machines")]
    flow_dir: PathBuf,
    /// The lead's phone in interactive mode.
    #[arg(long, default_value = "+6281200000000")]
    phone: String,
}

#[derive(Debug, clap::Args)]
struct TestArgs {
    /// Dialogue files or folders (format: tests/fixtures/dialogues/README.md).
    #[arg(default_value = ari::simulate::suite::DEFAULT_DIR)]
    paths: Vec<PathBuf>,
    /// Print the results as JSON instead of lines.
    #[arg(long)]
    json: bool,
    /// Also write the results as JUnit XML to this file.
    #[arg(long)]
    junit: Option<PathBuf>,
    /// List the flow edges, reply text keys and extraction rules the dialogues never
    /// exercised; fail when an edge or text key is missing and not in unreachable.toml.
    #[arg(long)]
    coverage: bool,
    /// Dialogues run at once.
    #[arg(long, default_value_t = 4)]
    jobs: usize,
    /// Folder of the flow files.
    #[arg(long, env = "ARI_FLOW_DIR", default_value = "state-machines")]
    flow_dir: PathBuf,
}

#[derive(Debug, clap::Args)]
struct SendWebhookArgs {
    /// JSON payload file, e.g. tests/fixtures/kapso/v2-text-received.json.
    file: PathBuf,
    /// Webhook URL of the running service.
    #[arg(long, default_value = "http://127.0.0.1:8080/webhooks/kapso")]
    url: String,
    /// Secret to sign with (the service's ARI_WEBHOOK_SECRET; the first value if it holds two).
    #[arg(long, env = "ARI_WEBHOOK_SECRET", hide_env_values = true)]
    secret: String,
    /// X-Webhook-Event header; by default guessed from the payload
    /// (`whatsapp.message.received` for v2 messages).
    #[arg(long)]
    event: Option<String>,
    /// X-Idempotency-Key header; by default a new random key, so each run is a new delivery.
    #[arg(long)]
    idempotency_key: Option<String>,
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Serve(args) => run_async(async move {
            ari::telemetry::init_logging(args.log_format, "info");
            let settings = args.validate()?;
            ari::server::serve(settings).await
        }),
        Command::SendWebhook(args) => run_async(send_webhook(args)),
        Command::Simulate(args) => simulate(args),
        Command::Test(args) => test(args),
        Command::CheckConfig { path } => ari::config::flow::check_config_cli(path.as_deref()),
        Command::Flow {
            command: FlowCommand::Graph { format, config },
        } => ari::flow::cli::flow_graph_cli(format, &config),
    }
}

fn simulate(args: SimulateArgs) -> ExitCode {
    use ari::simulate::{Script, interactive, print_transcript, run_script};
    // Only warnings by default: the transcript is the output.
    ari::telemetry::init_logging(ari::config::settings::LogFormat::Text, "warn");
    let Some(path) = args.script else {
        return run_async(async move { interactive(&args.flow_dir, &args.phone).await });
    };
    let script = match Script::load(&path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let mut passed = false;
    let code = run_async(async {
        let report = run_script(&script, &args.flow_dir).await?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&report)?);
        } else {
            print_transcript(&report);
        }
        passed = report.failures.is_empty();
        Ok(())
    });
    match (code == ExitCode::SUCCESS, passed) {
        (true, true) => ExitCode::SUCCESS,
        (true, false) => ExitCode::from(1),
        (false, _) => ExitCode::from(2),
    }
}

fn test(args: TestArgs) -> ExitCode {
    use ari::simulate::suite::{CliOptions, cli};
    // Only errors by default: the result lines are the output.
    ari::telemetry::init_logging(ari::config::settings::LogFormat::Text, "error");
    let options = CliOptions {
        paths: args.paths,
        json: args.json,
        junit: args.junit,
        coverage: args.coverage,
        jobs: args.jobs,
        flow_dir: args.flow_dir,
    };
    let mut passed = false;
    let code = run_async(async {
        passed = cli(&options).await?;
        Ok(())
    });
    match (code == ExitCode::SUCCESS, passed) {
        (true, true) => ExitCode::SUCCESS,
        (true, false) => ExitCode::from(1),
        (false, _) => ExitCode::from(2),
    }
}

/// Runs an async command on a multi-threaded runtime; an error is logged and printed.
fn run_async(command: impl std::future::Future<Output = anyhow::Result<()>>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn send_webhook(args: SendWebhookArgs) -> anyhow::Result<()> {
    let body =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let secret = args.secret.split(',').next().unwrap_or_default().trim();
    let signature = ari::ingress::signature::sign(secret.as_bytes(), &body);
    let json: serde_json::Value = serde_json::from_slice(&body)
        .with_context(|| format!("{} is not JSON", args.file.display()))?;
    let event = args.event.unwrap_or_else(|| guess_event(&json));
    let key = args
        .idempotency_key
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let batch = json.get("batch").and_then(serde_json::Value::as_bool) == Some(true);
    let mut request = reqwest::Client::new()
        .post(&args.url)
        .header("content-type", "application/json")
        .header(ari::ingress::SIGNATURE_HEADER, signature)
        .header(ari::ingress::EVENT_HEADER, &event)
        .header(ari::ingress::IDEMPOTENCY_HEADER, &key)
        .header("x-webhook-payload-version", "v2");
    if batch {
        request = request.header(ari::ingress::BATCH_HEADER, "true");
    }
    let response = request
        .body(body)
        .send()
        .await
        .with_context(|| format!("POST {}", args.url))?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    println!("{status} {}", text.trim());
    anyhow::ensure!(status.is_success(), "the service answered {status}");
    Ok(())
}

/// The event name Kapso would put in `X-Webhook-Event` for this payload.
fn guess_event(json: &serde_json::Value) -> String {
    let s =
        |v: Option<&serde_json::Value>| v.and_then(serde_json::Value::as_str).map(str::to_string);
    if let Some(t) = s(json.get("type")).or_else(|| s(json.get("event"))) {
        return t;
    }
    if json.get("inactivity").is_some() {
        return "whatsapp.conversation.inactive".into();
    }
    let kapso = json.get("message").and_then(|m| m.get("kapso"));
    match (
        s(kapso.and_then(|k| k.get("direction"))).as_deref(),
        s(kapso.and_then(|k| k.get("status"))),
    ) {
        (Some("outbound"), Some(status)) => format!("whatsapp.message.{status}"),
        _ => "whatsapp.message.received".into(),
    }
}
