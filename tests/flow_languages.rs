//! Language overlays (`state-machines/languages/<lang>.toml`) and the lexicon, as loaded and
//! checked by `ari check-config`.

use std::path::{Path, PathBuf};
use std::process::Command;

use ari::config::flow::load_dir;

fn shipped() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("state-machines")
}

/// A copy of the shipped flow directory with `edit` applied to one of its files.
fn copy_with(file: &str, edit: impl Fn(String) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for f in ["ari.toml", "lexicon.toml", "languages/en.toml"] {
        let to = dir.path().join(f);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        let text = std::fs::read_to_string(shipped().join(f)).unwrap();
        let text = if f == file { edit(text.clone()) } else { text };
        std::fs::write(to, text).unwrap();
    }
    dir
}

fn check_config(dir: &Path) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ari"))
        .arg("check-config")
        .arg(dir)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn the_shipped_flow_has_complete_english_texts() {
    let set = load_dir(&shipped()).unwrap();
    let cfg = set.for_workspace("default");
    assert_eq!(cfg.languages(), vec!["id".to_string(), "en".to_string()]);
    let en = cfg.in_language("en");
    assert_eq!(en.persona.language, "en");
    assert!(en.stages.booking.texts["offer"].contains("free 1-on-1 consultation"));
    assert_eq!(en.locale.weekdays[3], "Thursday");
    assert_eq!(en.fields["budget"].label, "budget");
    assert!(!en.fields["budget"].reask.is_empty());
    // Phrase lists are the base file's (both languages), never narrowed.
    assert_eq!(
        en.handoff.human_request_phrases,
        cfg.handoff.human_request_phrases
    );
    // The own language, or one without texts, is the base flow.
    assert_eq!(cfg.in_language("id").persona.language, "id");
    assert_eq!(cfg.in_language("fr").persona.language, "id");
    assert!(
        set.default.lexicon.words.len() >= 150,
        "{}",
        set.default.lexicon.words.len()
    );
}

#[test]
fn check_config_refuses_an_english_overlay_missing_a_key() {
    let dir = copy_with("languages/en.toml", |t| {
        t.lines()
            .filter(|l| !l.starts_with("offer = ") && !l.starts_with("weekdays = "))
            .collect::<Vec<_>>()
            .join("\n")
    });
    let (code, out) = check_config(dir.path());
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("stages.booking.texts.offer: missing translation into en"),
        "{out}"
    );
    assert!(
        out.contains("locale.weekdays: missing translation into en"),
        "{out}"
    );
}

#[test]
fn check_config_refuses_an_overlay_key_that_is_not_a_text() {
    let dir = copy_with("languages/en.toml", |t| {
        t.replace("[persona]\n", "[persona]\nbot_name = \"Ari EN\"\n")
            .replace(
                "[stages.booking.texts]\n",
                "[routing]\nstuck_limit = 3\n\n[stages.booking.texts]\n",
            )
    });
    let (code, out) = check_config(dir.path());
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("persona.bot_name: not a translatable key"),
        "{out}"
    );
    assert!(
        out.contains("routing.stuck_limit: not a translatable key"),
        "{out}"
    );
}

#[test]
fn an_overlay_for_a_language_ari_cannot_detect_is_refused() {
    let dir = copy_with("ari.toml", |t| t);
    std::fs::copy(
        shipped().join("languages/en.toml"),
        dir.path().join("languages/fr.toml"),
    )
    .unwrap();
    let (code, out) = check_config(dir.path());
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("fr.toml") && out.contains("cannot detect"),
        "{out}"
    );
}

#[test]
fn a_workspace_refines_its_english_texts_after_its_own_overrides() {
    let dir = copy_with("ari.toml", |t| t);
    let ws = dir.path().join("workspaces");
    std::fs::create_dir_all(ws.join("acme/languages")).unwrap();
    std::fs::write(
        ws.join("acme.toml"),
        "[stages.booking.texts]\noffer = \"Mau konsultasi gratis, kak {name}?\"\n",
    )
    .unwrap();
    std::fs::write(
        ws.join("acme/languages/en.toml"),
        "[stages.booking.texts]\noffer = \"Fancy a free chat, {name}?\"\n",
    )
    .unwrap();
    let set = load_dir(dir.path()).unwrap();
    let acme = set.for_workspace("acme");
    assert_eq!(
        acme.stages.booking.texts["offer"],
        "Mau konsultasi gratis, kak {name}?"
    );
    assert_eq!(
        acme.in_language("en").stages.booking.texts["offer"],
        "Fancy a free chat, {name}?"
    );
    // Other English texts still come from languages/en.toml.
    assert!(acme.in_language("en").stages.booking.texts["unclear"].contains("yes or no"));
}

#[test]
fn a_lexicon_entry_that_maps_to_another_entry_is_refused() {
    let dir = copy_with("lexicon.toml", |t| t + "\nbljr = \"tdk\"\n");
    let (code, out) = check_config(dir.path());
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("words.bljr") && out.contains("itself a colloquial form"),
        "{out}"
    );
}

/// Issue 19: `check-config` holds every language's button and list labels to WhatsApp's
/// limits (button 20 characters, row title 24, description 72 once filled).
#[test]
fn check_config_refuses_interactive_labels_over_whatsapp_limits() {
    let dir = copy_with("languages/en.toml", |t| {
        t.replace(
            "offer_yes = \"Yes, book it\"",
            "offer_yes = \"Yes please, book it for me\"",
        )
        .replace(
            "time_description = \"{duration} minutes with {consultant_name}\"",
            "time_description = \"{duration} minutes with {consultant_name}, our senior study-abroad consultant for the UK and Australia\"",
        )
    });
    let (code, out) = check_config(dir.path());
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("interactive.offer_yes: 26 characters"),
        "{out}"
    );
    assert!(out.contains("interactive.time_description"), "{out}");
    assert!(out.contains("en.toml"), "{out}");
    // Two buttons of one message with one title.
    let dir = copy_with("ari.toml", |t| {
        t.replace("offer_no = \"Nanti dulu\"", "offer_no = \"Ya, jadwalkan\"")
    });
    let (code, out) = check_config(dir.path());
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("interactive.offer_no"), "{out}");
    let (code, out) = check_config(&shipped());
    assert_eq!(code, 0, "{out}");
}
