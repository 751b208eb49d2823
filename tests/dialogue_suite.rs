//! `ari test` (the binary) over the dialogue corpus, and over broken copies of the flow and of
//! dialogues, to show that it fails with a clear line when it should.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `ari test ARGS` from the repository root: (exit code, stdout, stderr).
fn ari_test(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ari"))
        .current_dir(root())
        .arg("test")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A copy of the shipped flow with `edit` applied to its ari.toml.
fn flow_copy(edit: impl Fn(String) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&root().join("state-machines"), dir.path());
    let file = dir.path().join("ari.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    let edited = edit(text.clone());
    assert_ne!(edited, text, "the edit changed nothing");
    std::fs::write(file, edited).unwrap();
    dir
}

fn summary_of(stdout: &str) -> (usize, usize, usize) {
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.ends_with(" skipped"))
        .unwrap_or_else(|| panic!("no summary line in:\n{stdout}"));
    let n: Vec<usize> = line
        .split(", ")
        .map(|part| part.split(' ').next().unwrap().parse().unwrap())
        .collect();
    (n[0], n[1], n[2])
}

#[test]
fn the_corpus_passes_with_every_edge_and_text_key_exercised() {
    let junit = tempfile::NamedTempFile::new().unwrap();
    let junit_path = junit.path().to_str().unwrap();
    let (code, stdout, stderr) = ari_test(&["--coverage", "--junit", junit_path]);
    let files = std::fs::read_dir(root().join("tests/fixtures/dialogues"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "json")
        })
        .count();
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let (passed, failed, skipped) = summary_of(&stdout);
    assert_eq!((passed + skipped, failed), (files, 0), "{stdout}");
    assert!(!stdout.contains("missing:"), "{stdout}");
    // Every dialogue is a JUnit test case.
    let xml = std::fs::read_to_string(junit.path()).unwrap();
    assert_eq!(xml.matches("<testcase ").count(), files, "{xml}");
}

#[test]
fn a_flow_missing_a_text_key_fails_every_dialogue_naming_the_key() {
    let flow = flow_copy(|t| t.replace("offer = \"Profil kakak cocok", "# offer = \""));
    let (code, stdout, _) = ari_test(&[
        "--flow-dir",
        flow.path().to_str().unwrap(),
        "tests/fixtures/dialogues/hot-lead-books.json",
    ]);
    assert_eq!(code, 1, "{stdout}");
    let line = stdout.lines().find(|l| l.starts_with("FAIL")).unwrap();
    assert!(
        line.contains("hot-lead-books.json") && line.contains("offer"),
        "{line}"
    );
    assert_eq!(summary_of(&stdout), (0, 1, 0));
}

#[test]
fn a_changed_routing_rule_fails_the_dialogue_at_its_first_unmet_expectation() {
    // Hot leads are handed off instead of offered a consultation: the booking dialogue breaks.
    let flow = flow_copy(|t| {
        t.replace(
            "hot_lead_action = \"book\"",
            "hot_lead_action = \"handoff\"",
        )
    });
    let (code, stdout, _) = ari_test(&[
        "--flow-dir",
        flow.path().to_str().unwrap(),
        "tests/fixtures/dialogues/hot-lead-books.json",
    ]);
    assert_eq!(code, 1, "{stdout}");
    let line = stdout.lines().find(|l| l.starts_with("FAIL")).unwrap();
    assert!(
        line.contains("turn ") || line.contains("handoff_reason") || line.contains("appointments"),
        "{line}"
    );
}

#[test]
fn pending_dialogues_are_skipped_while_failing_and_fail_the_run_once_they_pass() {
    let dir = tempfile::tempdir().unwrap();
    let mut script: serde_json::Value = serde_json::from_slice(
        &std::fs::read(root().join("tests/fixtures/dialogues/asks-for-human.json")).unwrap(),
    )
    .unwrap();
    script["pending"] = "A conversation never stalls, and no lead is left unanswered".into();
    std::fs::write(dir.path().join("a-passes.json"), script.to_string()).unwrap();
    script["expect"]["final_state"] = "completed".into();
    std::fs::write(dir.path().join("b-still-fails.json"), script.to_string()).unwrap();
    let (code, stdout, _) = ari_test(&[dir.path().to_str().unwrap()]);
    assert_eq!(code, 1, "{stdout}");
    assert_eq!(summary_of(&stdout), (0, 1, 1), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("FAIL  a-passes.json") && l.contains("remove the marker")),
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("skip  b-still-fails.json") && l.contains("final_state")),
        "{stdout}"
    );
}

#[test]
fn an_unknown_pending_title_and_a_malformed_turn_fail_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let mut script: serde_json::Value = serde_json::from_slice(
        &std::fs::read(root().join("tests/fixtures/dialogues/asks-for-human.json")).unwrap(),
    )
    .unwrap();
    script["pending"] = "Some other issue".into();
    std::fs::write(dir.path().join("a-title.json"), script.to_string()).unwrap();
    script.as_object_mut().unwrap().remove("pending");
    script["turns"][1] = serde_json::json!({"media": "hologram"});
    std::fs::write(dir.path().join("b-turn.json"), script.to_string()).unwrap();
    let (code, stdout, _) = ari_test(&[dir.path().to_str().unwrap(), "--json"]);
    assert_eq!(code, 1, "{stdout}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["failed"], 2);
    let first = |i: usize| {
        json["results"][i]["failures"][0]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(first(0).contains("Some other issue"), "{}", first(0));
    assert!(
        first(1).contains("turn 2") && first(1).contains("hologram"),
        "{}",
        first(1)
    );
}

#[test]
fn no_dialogue_files_is_an_error_not_a_pass() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = ari_test(&[dir.path().to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("no dialogue files"), "{stderr}");
}
