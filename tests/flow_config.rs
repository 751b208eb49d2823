//! Flow config loading: the default file is valid, broken copies give `file:line: key:`
//! diagnostics, workspace overrides merge, and reload keeps the old config on errors.

use std::path::{Path, PathBuf};

use ari::config::flow::{
    Diagnostics, FlowConfigHandle, LeadAction, check_config_cli, load_dir, load_file,
};

fn default_text() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("state-machines/ari.toml"))
        .unwrap()
}

/// Line (1-based) of the first line containing `needle` in `text`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .expect("needle present")
        + 1
}

fn broken(dir: &Path, edit: impl Fn(String) -> String) -> (PathBuf, String, Diagnostics) {
    let text = edit(default_text());
    let path = dir.join("ari.toml");
    std::fs::write(&path, &text).unwrap();
    let diags = load_file(&path).expect_err("must be invalid");
    (path, text, diags)
}

#[test]
fn default_flow_is_valid() {
    let cfg = load_file(&Path::new(env!("CARGO_MANIFEST_DIR")).join("state-machines/ari.toml"))
        .expect("valid");
    assert_eq!(cfg.scoring.hot_threshold, 70);
    assert_eq!(cfg.routing.stuck_limit, 4);
    assert_eq!(cfg.routing.hot_lead_action, LeadAction::Book);
    assert_eq!(cfg.qualification.required_fields.len(), 6);
    assert_eq!(
        check_config_cli(Some(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("state-machines/ari.toml")
        )),
        std::process::ExitCode::SUCCESS
    );
}

/// (what breaks, edit, expected key, line needle (in the edited text), message fragment)
#[allow(clippy::type_complexity)]
const BROKEN: &[(&str, fn(String) -> String, &str, &str, &str)] = &[
    (
        "unknown key",
        |t| t.replace("bot_name = \"ARI\"", "bot_name = \"ARI\"\nbot_nmae = \"x\""),
        "persona.bot_nmae",
        "bot_nmae =",
        "unknown field",
    ),
    (
        "unknown placeholder",
        |t| {
            t.replace(
                "ask_field = \"{question}\"",
                "ask_field = \"{question} {umur}\"",
            )
        },
        "stages.qualifying.texts.ask_field",
        "ask_field = ",
        "{umur}",
    ),
    (
        "missing text",
        |t| t.replace("offer = \"Profil", "offer_x = \"Profil"),
        "stages.booking.texts.offer",
        "[stages.booking.texts]",
        "missing text",
    ),
    (
        "thresholds out of order",
        |t| t.replace("warm_threshold = 40", "warm_threshold = 80"),
        "scoring.warm_threshold",
        "warm_threshold = 80",
        "out of order",
    ),
    (
        "weights not 100",
        |t| t.replace("basic = 25 ", "basic = 30 "),
        "scoring.weights",
        "[scoring.weights]",
        "sum to 100",
    ),
    (
        "slot end before start",
        |t| t.replacen("end = \"12:00\"", "end = \"08:00\"", 1),
        "scheduling.slots[0].end",
        "end = \"08:00\"",
        "after start",
    ),
    (
        "slot time invalid",
        |t| t.replacen("start = \"09:00\"", "start = \"9 pagi\"", 1),
        "scheduling.slots[0].start",
        "start = \"9 pagi\"",
        "HH:MM",
    ),
    (
        "bad E.164",
        |t| {
            t.replacen(
                "consultant_whatsapp = \"+6281111000001\"",
                "consultant_whatsapp = \"08111\"",
                1,
            )
        },
        "scheduling.slots[0].consultant_whatsapp",
        "consultant_whatsapp = \"08111\"",
        "E.164",
    ),
    (
        "unknown required field",
        |t| t.replace("\"timeline\", \"country\"]", "\"timeline\", \"umur\"]"),
        "qualification.required_fields",
        "required_fields = ",
        "unknown field `umur`",
    ),
    (
        "wrong type",
        |t| t.replace("stuck_limit = 4", "stuck_limit = \"ten\""),
        "routing.stuck_limit",
        "stuck_limit = ",
        "invalid type",
    ),
    (
        "core stage disabled",
        |t| {
            t.replacen(
                "enabled = true\nname = \"Kualifikasi\"",
                "enabled = false\nname = \"Kualifikasi\"",
                1,
            )
        },
        "stages.qualifying.enabled",
        "enabled = false",
        "cannot be disabled",
    ),
];

#[test]
fn handoff_needs_a_consultant_and_relays_before_the_bot_resumes() {
    let problems = |cfg: &ari::config::flow::FlowConfig| {
        ari::config::flow::validate::validate(cfg)
            .into_iter()
            .map(|p| format!("{}: {}", p.key, p.message))
            .collect::<Vec<_>>()
    };
    let base = load_file(&Path::new(env!("CARGO_MANIFEST_DIR")).join("state-machines/ari.toml"))
        .expect("valid");
    let mut late = base.clone();
    late.handoff.relay_after_minutes = late.handoff.takeover_resume_minutes;
    let p = problems(&late);
    assert!(
        p.iter()
            .any(|p| p.starts_with("handoff.relay_after_minutes: must be below")),
        "{p:?}"
    );
    // With the automatic resume off (0), any relay delay is fine.
    late.handoff.takeover_resume_minutes = 0;
    assert!(problems(&late).is_empty(), "{:?}", problems(&late));
    // Handoff enabled and nobody to notify: refused (scheduling off, so no slots are needed).
    let mut nobody = base.clone();
    nobody.stages.scheduling.enabled = false;
    nobody.scheduling.slots.clear();
    let p = problems(&nobody);
    assert!(
        p.iter()
            .any(|p| p.contains("no consultant is configured to notify")),
        "{p:?}"
    );
    nobody.stages.handoff.enabled = false;
    assert!(
        !problems(&nobody).iter().any(|p| p.contains("to notify")),
        "{:?}",
        problems(&nobody)
    );
}

/// Issue 20: the team number is E.164 and a template names both its name and its language.
#[test]
fn the_team_number_and_the_templates_are_checked() {
    use ari::config::flow::TemplateRef;
    let problems = |cfg: &ari::config::flow::FlowConfig| {
        ari::config::flow::validate::validate(cfg)
            .into_iter()
            .map(|p| format!("{}: {}", p.key, p.message))
            .collect::<Vec<_>>()
    };
    let mut cfg = load_file(&Path::new(env!("CARGO_MANIFEST_DIR")).join("state-machines/ari.toml"))
        .expect("valid");
    cfg.handoff.fallback_whatsapp = Some("+6281299990000".into());
    cfg.handoff.consultant_template = Some(TemplateRef {
        name: "ari_consultant_notice".into(),
        language: "id".into(),
        quick_replies: Vec::new(),
    });
    assert!(problems(&cfg).is_empty(), "{:?}", problems(&cfg));
    cfg.handoff.fallback_whatsapp = Some("081299990000".into());
    cfg.handoff.relay_template = Some(TemplateRef {
        name: " ".into(),
        language: "id".into(),
        quick_replies: Vec::new(),
    });
    let p = problems(&cfg);
    assert!(
        p.iter()
            .any(|p| p.starts_with("handoff.fallback_whatsapp: `081299990000` is not an E.164")),
        "{p:?}"
    );
    assert!(
        p.iter()
            .any(|p| p.starts_with("handoff.relay_template: needs the approved template's name")),
        "{p:?}"
    );
}

/// Issue 18: `[followups]` is checked: stages, hours inside the window, quiet hours, texts.
#[test]
fn the_follow_up_settings_are_checked() {
    let mut cfg = load_file(&Path::new(env!("CARGO_MANIFEST_DIR")).join("state-machines/ari.toml"))
        .expect("valid");
    let problems = |cfg: &ari::config::flow::FlowConfig| {
        ari::config::flow::validate::validate(cfg)
            .into_iter()
            .map(|p| format!("{}: {}", p.key, p.message))
            .collect::<Vec<_>>()
    };
    assert!(problems(&cfg).is_empty(), "{:?}", problems(&cfg));
    cfg.followups.stages.push("handoff".into());
    cfg.followups.after_hours = vec![20, 2];
    cfg.followups.quiet_until = "8 pagi".into();
    cfg.followups.texts.first = "Halo {nama}".into();
    let p = problems(&cfg);
    for expected in [
        "followups.stages: `handoff` is not",
        "followups.after_hours: needs ascending hours",
        "followups.quiet_until: `8 pagi` is not HH:MM",
        "followups.texts.first: placeholder {nama}",
    ] {
        assert!(
            p.iter().any(|p| p.starts_with(expected)),
            "{expected}: {p:?}"
        );
    }
    cfg = load_file(&Path::new(env!("CARGO_MANIFEST_DIR")).join("state-machines/ari.toml"))
        .expect("valid");
    cfg.followups.after_hours = vec![2, 24];
    assert!(
        problems(&cfg)
            .iter()
            .any(|p| p.starts_with("followups.after_hours"))
    );
}

#[test]
fn broken_copies_name_file_line_and_key() {
    for (what, edit, key, needle, msg) in BROKEN {
        let dir = tempfile::tempdir().unwrap();
        let (path, text, diags) = broken(dir.path(), *edit);
        let d = diags
            .0
            .iter()
            .find(|d| d.key.starts_with(key))
            .unwrap_or_else(|| panic!("{what}: no diagnostic for {key}: {diags}"));
        assert_eq!(d.file, path, "{what}");
        assert_eq!(d.line, line_of(&text, needle), "{what}: {d}");
        assert!(d.message.contains(msg), "{what}: {d}");
        let printed = d.to_string();
        assert!(
            printed.starts_with(&format!("{}:{}: {}", path.display(), d.line, d.key)),
            "{printed}"
        );
    }
}

#[test]
fn syntax_error_names_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let (_, text, diags) = broken(dir.path(), |t| {
        t.replace("hot_threshold = 70", "hot_threshold = = 70")
    });
    assert_eq!(diags.0[0].line, line_of(&text, "hot_threshold = = 70"));
}

fn config_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ari.toml"), default_text()).unwrap();
    std::fs::create_dir(dir.path().join("workspaces")).unwrap();
    dir
}

#[test]
fn workspace_override_merges_over_default() {
    let dir = config_dir();
    std::fs::write(
        dir.path().join("workspaces/ws_1.toml"),
        "[persona]\nbot_name = \"Sari\"\n\n[routing]\nhot_lead_action = \"handoff\"\n",
    )
    .unwrap();
    let set = load_dir(dir.path()).expect("valid");
    let ws = set.for_workspace("ws_1");
    assert_eq!(ws.persona.bot_name, "Sari");
    assert_eq!(ws.routing.hot_lead_action, LeadAction::Handoff);
    assert_eq!(
        ws.persona.tone, set.default.persona.tone,
        "untouched keys come from the default"
    );
    assert_eq!(set.for_workspace("other").persona.bot_name, "ARI");
}

#[test]
fn workspace_override_errors_point_into_the_override() {
    let dir = config_dir();
    let path = dir.path().join("workspaces/ws_2.toml");
    std::fs::write(
        &path,
        "# comment\n[scoring]\nhot_threshold = 30\n[persona]\ncolour = \"red\"\n",
    )
    .unwrap();
    let diags = load_dir(dir.path()).expect_err("invalid");
    let d = diags
        .0
        .iter()
        .find(|d| d.key == "persona.colour")
        .unwrap_or_else(|| panic!("{diags}"));
    assert_eq!((d.file.as_path(), d.line), (path.as_path(), 5));
    // Merged-value problems are located too once the unknown key is fixed.
    std::fs::write(&path, "# comment\n[scoring]\nhot_threshold = 30\n").unwrap();
    let diags = load_dir(dir.path()).expect_err("invalid");
    let d = diags
        .0
        .iter()
        .find(|d| d.key == "scoring.warm_threshold")
        .unwrap_or_else(|| panic!("{diags}"));
    // warm_threshold itself is set in the default file.
    assert_eq!(d.file, dir.path().join("ari.toml"));
}

#[test]
fn reload_applies_valid_and_keeps_old_on_invalid() {
    let dir = config_dir();
    let handle = FlowConfigHandle::load(dir.path()).expect("valid");
    let before = handle.current();
    assert_eq!(before.default.persona.bot_name, "ARI");

    std::fs::write(
        dir.path().join("ari.toml"),
        default_text().replace("bot_name = \"ARI\"", "bot_name = \"ARIA\""),
    )
    .unwrap();
    let after = handle.reload().expect("valid reload");
    assert_eq!(after.default.persona.bot_name, "ARIA");
    assert_eq!(handle.current().default.persona.bot_name, "ARIA");
    // A snapshot taken before the reload is unchanged (a turn keeps its config).
    assert_eq!(before.default.persona.bot_name, "ARI");

    std::fs::write(
        dir.path().join("ari.toml"),
        default_text().replace("warm_threshold = 40", "warm_threshold = 90"),
    )
    .unwrap();
    let err = handle.reload().expect_err("invalid reload");
    assert!(
        err.0.iter().any(|d| d.key == "scoring.warm_threshold"),
        "{err}"
    );
    assert_eq!(
        handle.current().default.persona.bot_name,
        "ARIA",
        "old config stays"
    );
}
