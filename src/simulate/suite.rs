//! `ari test`: a folder of scripted dialogues as a conversation test suite.
//!
//! Every dialogue runs through the same in-process pipeline as `ari simulate --script`,
//! several at once. Each gets one verdict:
//!
//! - **pass**: every expectation held;
//! - **fail**: an expectation did not hold (the first unmet one is shown, with its turn), the
//!   script is unreadable, or a `pending` dialogue passed (its marker must go);
//! - **skip**: a `pending` dialogue that still fails, for the open issue it names.
//!
//! The run ends with `N passed, N failed, N skipped`; it succeeds only when nothing failed.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::script::Script;
use super::{Report, run_script};

/// Where `ari test` looks for dialogues by default.
pub const DEFAULT_DIR: &str = "tests/fixtures/dialogues";

/// A dialogue's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
    Skip,
}

/// One dialogue's result.
#[derive(Debug, Clone, Serialize)]
pub struct DialogueResult {
    /// The script file.
    pub file: PathBuf,
    /// The script's `name` (the file name when unreadable).
    pub name: String,
    pub verdict: Verdict,
    /// The open issue a `pending` dialogue waits for.
    pub pending: Option<String>,
    /// Every unmet expectation (or the reason the script could not run), first first.
    pub failures: Vec<String>,
    /// Wall time of the run, ms (reported, never asserted).
    pub duration_ms: u64,
    /// The run itself (for coverage); not printed.
    #[serde(skip)]
    pub report: Option<Report>,
}

impl DialogueResult {
    /// The one line `ari test` prints for it.
    pub fn line(&self) -> String {
        let file = self
            .file
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        // One line per dialogue, even when the reason spans several (config diagnostics).
        let first = self
            .failures
            .first()
            .map(|f| f.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_default();
        match self.verdict {
            Verdict::Pass => format!("pass  {file}  {}", self.name),
            Verdict::Fail => format!("FAIL  {file}  {first}"),
            Verdict::Skip => format!(
                "skip  {file}  pending \"{}\": {first}",
                self.pending.as_deref().unwrap_or("")
            ),
        }
    }
}

/// A whole run.
#[derive(Debug, Clone, Serialize)]
pub struct SuiteResult {
    pub results: Vec<DialogueResult>,
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
}

impl SuiteResult {
    fn new(mut results: Vec<DialogueResult>) -> Self {
        results.sort_by(|a, b| a.file.cmp(&b.file));
        let count = |v: Verdict| results.iter().filter(|r| r.verdict == v).count();
        SuiteResult {
            passed: count(Verdict::Pass),
            failed: count(Verdict::Fail),
            skipped: count(Verdict::Skip),
            results,
        }
    }

    /// `N passed, N failed, N skipped`.
    pub fn summary(&self) -> String {
        format!(
            "{} passed, {} failed, {} skipped",
            self.passed, self.failed, self.skipped
        )
    }

    /// The results as JUnit XML (one test suite, one test case per dialogue).
    pub fn junit(&self) -> anyhow::Result<String> {
        use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
        let mut suite = TestSuite::new("ari dialogues");
        for r in &self.results {
            let mut status = match r.verdict {
                Verdict::Pass => TestCaseStatus::success(),
                Verdict::Fail => TestCaseStatus::non_success(NonSuccessKind::Failure),
                Verdict::Skip => TestCaseStatus::skipped(),
            };
            if let Some(first) = r.failures.first() {
                status.set_message(first.as_str());
                status.set_description(r.failures.join("\n"));
            }
            let mut case = TestCase::new(r.name.as_str(), status);
            case.set_classname(r.file.display().to_string());
            case.set_time(Duration::from_millis(r.duration_ms));
            suite.add_test_case(case);
        }
        let mut report = Report::new("ari test");
        report.add_test_suite(suite);
        Ok(report.to_string()?)
    }
}

/// The dialogue files under `paths`: each file as given, each folder's `*.json` (sorted).
pub fn collect(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "json"))
                .collect();
            found.sort();
            files.extend(found);
        } else if p.is_file() {
            files.push(p.clone());
        } else {
            anyhow::bail!("{}: no such file or folder", p.display());
        }
    }
    Ok(files)
}

/// Runs every file, `jobs` at once, with the flow in `flow_dir`.
pub async fn run(files: Vec<PathBuf>, flow_dir: &Path, jobs: usize) -> SuiteResult {
    let permits = Arc::new(Semaphore::new(jobs.max(1)));
    let mut set = JoinSet::new();
    for file in files {
        let permits = Arc::clone(&permits);
        let flow_dir = flow_dir.to_path_buf();
        set.spawn(async move {
            let _permit = permits.acquire_owned().await;
            run_one(file, &flow_dir).await
        });
    }
    let mut results = Vec::new();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(r) => results.push(r),
            Err(e) => results.push(DialogueResult {
                file: PathBuf::from("?"),
                name: "?".into(),
                verdict: Verdict::Fail,
                pending: None,
                failures: vec![format!("the dialogue's task failed: {e}")],
                duration_ms: 0,
                report: None,
            }),
        }
    }
    SuiteResult::new(results)
}

/// Runs one file and gives its verdict.
pub async fn run_one(file: PathBuf, flow_dir: &Path) -> DialogueResult {
    let started = Instant::now();
    let fallback_name = file.display().to_string();
    let script = match Script::load(&file) {
        Ok(s) => s,
        Err(e) => return errored(file, fallback_name, None, e.to_string(), started),
    };
    let report = match run_script(&script, flow_dir).await {
        Ok(r) => r,
        Err(e) => {
            let message = format!("the dialogue could not run: {e:#}");
            return errored(file, script.name, script.pending, message, started);
        }
    };
    let (verdict, failures) = match (&script.pending, report.failures.is_empty()) {
        (None, true) => (Verdict::Pass, vec![]),
        (None, false) => (Verdict::Fail, report.failures.clone()),
        (Some(_), false) => (Verdict::Skip, report.failures.clone()),
        (Some(title), true) => (
            Verdict::Fail,
            vec![format!(
                "marked pending on \"{title}\" but every expectation holds: remove the marker"
            )],
        ),
    };
    DialogueResult {
        file,
        name: script.name,
        verdict,
        pending: script.pending,
        failures,
        duration_ms: elapsed_ms(started),
        report: Some(report),
    }
}

fn errored(
    file: PathBuf,
    name: String,
    pending: Option<String>,
    message: String,
    started: Instant,
) -> DialogueResult {
    DialogueResult {
        file,
        name,
        verdict: Verdict::Fail,
        pending,
        failures: vec![message],
        duration_ms: elapsed_ms(started),
        report: None,
    }
}

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// What `ari test` was asked.
#[derive(Debug, Clone)]
pub struct CliOptions {
    pub paths: Vec<PathBuf>,
    pub json: bool,
    pub junit: Option<PathBuf>,
    pub coverage: bool,
    pub jobs: usize,
    pub flow_dir: PathBuf,
}

/// `ari test`: runs, prints, writes JUnit; `Ok(true)` when nothing failed (and, with
/// coverage, nothing is missing). An error means the suite could not run at all.
pub async fn cli(options: &CliOptions) -> anyhow::Result<bool> {
    let files = collect(&options.paths)?;
    anyhow::ensure!(!files.is_empty(), "no dialogue files (*.json) found");
    let result = run(files, &options.flow_dir, options.jobs).await;
    if options.json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        for r in &result.results {
            println!("{}", r.line());
        }
        println!("{}", result.summary());
    }
    if let Some(path) = &options.junit {
        std::fs::write(path, result.junit()?)
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
    }
    let mut ok = result.failed == 0;
    if options.coverage {
        let coverage = coverage_of(&result, options)?;
        print!("{}", coverage.render());
        let missing = coverage.missing();
        for m in &missing {
            println!(
                "missing: {m} (no dialogue exercises it and unreachable.toml does not list it)"
            );
        }
        for s in coverage.stale_unreachable() {
            println!("note: {s} is listed in unreachable.toml but a dialogue exercised it");
        }
        ok &= missing.is_empty();
    }
    Ok(ok)
}

/// Coverage of a run against the default workspace's flow and the `unreachable.toml` beside
/// the first folder given.
pub fn coverage_of(
    result: &SuiteResult,
    options: &CliOptions,
) -> anyhow::Result<super::coverage::Coverage> {
    use super::coverage::{UNREACHABLE_FILE, Unreachable, measure};
    let set = crate::config::flow::load_dir(&options.flow_dir).map_err(|d| {
        anyhow::anyhow!(
            "the flow config in {} is invalid:\n{d}",
            options.flow_dir.display()
        )
    })?;
    let cfg = set.for_workspace(crate::config::workspaces::DEFAULT_WORKSPACE);
    let dir = options
        .paths
        .iter()
        .find(|p| p.is_dir())
        .cloned()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DIR));
    let unreachable = Unreachable::load(&dir.join(UNREACHABLE_FILE))?;
    let languages = cfg.languages();
    Ok(measure(result, &cfg, &languages, &unreachable))
}
