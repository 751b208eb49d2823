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

/// The text of the README section under `heading` (up to the next heading of any level).
fn section(readme: &str, heading: &str) -> String {
    let start = readme
        .find(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("README.md has no `{heading}` section"));
    let body = &readme[start + heading.len() + 2..];
    let end = body.find("\n#").unwrap_or(body.len());
    body[..end].to_string()
}

/// Every key of the flow config naming a WhatsApp template (`*_template`), dotted
/// (`handoff.consultant_template`), from the config model itself.
fn template_keys() -> std::collections::BTreeSet<String> {
    fn walk(prefix: &str, v: &serde_json::Value, out: &mut std::collections::BTreeSet<String>) {
        if let serde_json::Value::Object(map) = v {
            for (k, child) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                if k.ends_with("_template") {
                    out.insert(path);
                } else {
                    walk(&path, child, out);
                }
            }
        }
    }
    let cfg = ari::config::flow::load_file(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/state-machines/ari.toml"
    )))
    .expect("the shipped flow is valid");
    let mut keys = std::collections::BTreeSet::new();
    walk(
        "",
        &serde_json::to_value(&cfg).expect("config as JSON"),
        &mut keys,
    );
    keys
}

/// Issue 20: the README's "WhatsApp templates" section lists exactly the template keys of the
/// config, each with the body variables the code fills, in order; the sample flow names each.
#[test]
fn the_readme_template_section_matches_the_config_keys() {
    use ari::handoff::fallback::{
        CONSULTANT_TEMPLATE_PARAMETERS, RELAY_TEMPLATE_PARAMETERS, REMINDER_TEMPLATE_PARAMETERS,
    };
    let readme = readme();
    let section = section(&readme, "### WhatsApp templates");
    let keys = template_keys();
    assert_eq!(
        keys.iter().map(String::as_str).collect::<Vec<_>>(),
        [
            "followups.after_window_template",
            "handoff.consultant_template",
            "handoff.relay_template",
            "scheduling.reminder_template"
        ],
        "a template key was added or renamed: update this test's variables and the README"
    );
    // The keys the section's table names.
    let listed: std::collections::BTreeSet<String> = section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .filter_map(|l| l.split('`').nth(1).map(str::to_string))
        .collect();
    assert_eq!(
        listed, keys,
        "README.md's template table differs from the config's template keys"
    );
    let variables: [(&str, &[&str]); 4] = [
        (
            "followups.after_window_template",
            &ari::flow::followup::FOLLOWUP_TEMPLATE_PARAMETERS,
        ),
        (
            "handoff.consultant_template",
            &CONSULTANT_TEMPLATE_PARAMETERS,
        ),
        ("handoff.relay_template", &RELAY_TEMPLATE_PARAMETERS),
        (
            "scheduling.reminder_template",
            &REMINDER_TEMPLATE_PARAMETERS,
        ),
    ];
    let sample = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/state-machines/ari.toml"
    ))
    .unwrap();
    for (key, params) in variables {
        let row = section
            .lines()
            .find(|l| l.starts_with(&format!("| `{key}`")))
            .unwrap_or_else(|| panic!("no row for {key}"));
        let expected = params
            .iter()
            .enumerate()
            .map(|(i, p)| format!("`{{{{{}}}}}` {p}", i + 1))
            .collect::<Vec<_>>()
            .join(", ");
        assert!(
            row.trim_end_matches(" |").ends_with(&expected),
            "README.md's row for {key} should end with its variables `{expected}`:\n{row}"
        );
        let leaf = key.rsplit('.').next().unwrap_or(key);
        assert!(
            sample.contains(&format!("# {leaf} = {{ name = ")),
            "state-machines/ari.toml does not show {key}"
        );
    }
    // The claim this section replaced.
    assert!(
        !readme.contains("Template\nmessages are not supported")
            && !readme.contains("Template messages are not supported"),
        "README.md still says templates are not supported"
    );
}

/// Issue 19: the README's buttons-and-lists section names every id ARI's buttons and rows
/// send, and every `[interactive]` label key is the shipped flow's.
#[test]
fn the_readme_shows_the_interactive_ids() {
    let readme = readme();
    let section = section(
        &readme,
        "### Buttons and lists (WhatsApp interactive messages)",
    );
    for id in [
        ari::flow::taps::OFFER_YES,
        ari::flow::taps::OFFER_NO,
        ari::flow::taps::CONFIRM_YES,
        ari::flow::taps::CONFIRM_NO,
        ari::flow::taps::REMINDER_ATTEND,
        ari::flow::taps::REMINDER_RESCHEDULE,
        ari::flow::taps::REMINDER_CANCEL,
        "ari:day:",
        "ari:more:",
    ] {
        assert!(section.contains(id), "README.md does not show {id}");
    }
    let labels = ari::config::flow::InteractiveLabels::default();
    for title in [
        &labels.offer_yes,
        &labels.confirm_change,
        &labels.more_times,
    ] {
        assert!(
            section.contains(title.as_str()),
            "README.md does not show {title}"
        );
    }
}
