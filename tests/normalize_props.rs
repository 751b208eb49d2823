//! Property: normalising a lead's message with the shipped lexicon never alters an email
//! address, a number or a URL, wherever they stand among colloquial words.

use std::path::Path;

use ari::config::flow::load::load_lexicon;
use ari::flow::normalize::normalize;
use proptest::prelude::*;

fn lexicon() -> ari::config::flow::Lexicon {
    load_lexicon(&Path::new(env!("CARGO_MANIFEST_DIR")).join("state-machines/lexicon.toml"))
        .unwrap()
}

/// Something that must come out as it went in.
fn protected() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z]{1,8}(\\.[a-z]{1,5})?@(gmail|yahoo|blm|ga)\\.(com|co\\.id|id)",
        "[0-9]{1,4}([.,][0-9]{1,3})?(jt|rb|k|an)?",
        "https?://(www\\.)?[a-z]{2,8}\\.(com|id)(/[a-z]{1,6}){0,2}",
        "www\\.[a-z]{2,8}\\.(com|co\\.id)",
    ]
}

/// Colloquial and ordinary words.
fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("blm".to_string()),
        Just("gw".to_string()),
        Just("taun".to_string()),
        Just("gatau".to_string()),
        Just("ga".to_string()),
        Just("kak".to_string()),
        Just("iyaaa".to_string()),
        "[a-zA-Z]{1,10}",
    ]
}

proptest! {
    #[test]
    fn emails_numbers_and_urls_survive(
        before in proptest::collection::vec(word(), 0..5),
        keep in protected(),
        after in proptest::collection::vec(word(), 0..5),
        sep in prop_oneof![Just(" "), Just("  "), Just("\n")],
    ) {
        let lexicon = lexicon();
        let text = [before.join(" "), keep.clone(), after.join(" ")].join(sep);
        let out = normalize(&text, &lexicon);
        prop_assert!(
            out.split_whitespace().any(|w| w == keep),
            "{keep:?} altered: {text:?} -> {out:?}"
        );
    }

    #[test]
    fn normalising_twice_changes_nothing_more(words in proptest::collection::vec(word(), 0..8)) {
        let lexicon = lexicon();
        let once = normalize(&words.join(" "), &lexicon);
        prop_assert_eq!(normalize(&once, &lexicon), once.clone());
    }
}
