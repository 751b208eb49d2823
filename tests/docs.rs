//! The README says what the code does: its state-machine picture is the one the core runs, and
//! its configuration table lists every flag of `ari serve`.

use std::process::Command;

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap()
}

fn ari(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_ari"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ari {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_readme_graph_is_the_machine() {
    let graph = ari(&["flow", "graph", "--format", "mermaid"]);
    let block = format!("```mermaid\n{}```", graph);
    assert!(
        readme().contains(&block),
        "README.md's mermaid block differs from `ari flow graph --format mermaid`:\n{graph}"
    );
}

#[test]
fn the_readme_lists_every_serve_flag() {
    let help = ari(&["serve", "--help"]);
    let readme = readme();
    let flags: Vec<&str> = help
        .split_whitespace()
        .filter(|w| w.starts_with("--") && w.len() > 2)
        .map(|w| w.trim_end_matches(|c: char| !c.is_ascii_alphanumeric()))
        .filter(|w| *w != "--help")
        .collect();
    assert!(flags.len() >= 10, "{help}");
    for flag in flags {
        assert!(
            readme.contains(&format!("`{flag}`")),
            "README.md does not document {flag}"
        );
    }
}
