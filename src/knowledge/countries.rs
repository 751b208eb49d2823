//! Country synonyms for search and filtering: Indonesian and English names, short forms and
//! major cities, all mapped to the canonical English names the flow uses
//! (`flow::extract::COUNTRIES`, e.g. "United Kingdom").
//!
//! Matching is on whole words (by token), which fixes the seed's substring bugs (§8): "us" in
//! "Australia", "kampus" and "bagus", and "au" in "mau". Lower-case "us" and "as" are ordinary
//! words, so "US", "AS" and "SG" count only in upper case; "au" is never a country.

/// Country-level aliases (lowercase words) → canonical name. Longer phrases come first where
/// they share a prefix ("korea selatan" before "korea").
pub const COUNTRY_ALIASES: &[(&str, &str)] = &[
    ("united kingdom", "United Kingdom"),
    ("inggris raya", "United Kingdom"),
    ("great britain", "United Kingdom"),
    ("uk", "United Kingdom"),
    ("inggris", "United Kingdom"),
    ("england", "United Kingdom"),
    ("britain", "United Kingdom"),
    ("british", "United Kingdom"),
    ("skotlandia", "United Kingdom"),
    ("scotland", "United Kingdom"),
    ("amerika serikat", "United States"),
    ("united states", "United States"),
    ("usa", "United States"),
    ("america", "United States"),
    ("amerika", "United States"),
    ("australia", "Australia"),
    ("aussie", "Australia"),
    ("selandia baru", "New Zealand"),
    ("new zealand", "New Zealand"),
    ("nz", "New Zealand"),
    ("kanada", "Canada"),
    ("canada", "Canada"),
    ("singapura", "Singapore"),
    ("singapore", "Singapore"),
    ("malaysia", "Malaysia"),
    ("jepang", "Japan"),
    ("japan", "Japan"),
    ("korea selatan", "South Korea"),
    ("south korea", "South Korea"),
    ("korsel", "South Korea"),
    ("korea", "South Korea"),
    ("jerman", "Germany"),
    ("germany", "Germany"),
    ("belanda", "Netherlands"),
    ("netherlands", "Netherlands"),
    ("holland", "Netherlands"),
    ("prancis", "France"),
    ("perancis", "France"),
    ("france", "France"),
    ("irlandia", "Ireland"),
    ("ireland", "Ireland"),
    ("tiongkok", "China"),
    ("china", "China"),
    ("taiwan", "Taiwan"),
    ("hong kong", "Hong Kong"),
    ("turki", "Turkey"),
    ("turkey", "Turkey"),
    ("swedia", "Sweden"),
    ("sweden", "Sweden"),
    ("swiss", "Switzerland"),
    ("switzerland", "Switzerland"),
];

/// City aliases → canonical country. In search a city keeps its own token too, so "syarat
/// IELTS Melbourne" prefers the Melbourne entry among Australian ones.
pub const CITY_ALIASES: &[(&str, &str)] = &[
    ("london", "United Kingdom"),
    ("manchester", "United Kingdom"),
    ("edinburgh", "United Kingdom"),
    ("birmingham", "United Kingdom"),
    ("leeds", "United Kingdom"),
    ("new york", "United States"),
    ("boston", "United States"),
    ("california", "United States"),
    ("melbourne", "Australia"),
    ("sydney", "Australia"),
    ("brisbane", "Australia"),
    ("perth", "Australia"),
    ("adelaide", "Australia"),
    ("canberra", "Australia"),
    ("auckland", "New Zealand"),
    ("wellington", "New Zealand"),
    ("toronto", "Canada"),
    ("vancouver", "Canada"),
    ("montreal", "Canada"),
    ("tokyo", "Japan"),
    ("osaka", "Japan"),
    ("kyoto", "Japan"),
    ("seoul", "South Korea"),
    ("berlin", "Germany"),
    ("munich", "Germany"),
    ("muenchen", "Germany"),
    ("munchen", "Germany"),
    ("aachen", "Germany"),
    ("amsterdam", "Netherlands"),
    ("rotterdam", "Netherlands"),
    ("delft", "Netherlands"),
    ("leiden", "Netherlands"),
    ("groningen", "Netherlands"),
    ("eindhoven", "Netherlands"),
    ("utrecht", "Netherlands"),
    ("kuala lumpur", "Malaysia"),
    ("paris", "France"),
    ("dublin", "Ireland"),
];

/// Upper-case-only aliases: "US" (but not "us"), "AS" (Amerika Serikat), "SG".
pub const CASE_SENSITIVE_ALIASES: &[(&str, &str)] = &[
    ("US", "United States"),
    ("AS", "United States"),
    ("SG", "Singapore"),
    ("UK", "United Kingdom"),
    ("NZ", "New Zealand"),
];

/// Languages share names with countries: after "bahasa" these words mean the language
/// ("bahasa Inggris" is English, not the UK).
pub const LANGUAGE_WORDS: &[&str] = &[
    "inggris", "jepang", "jerman", "korea", "belanda", "prancis", "perancis",
];

/// Indonesian display name of a canonical country ("United Kingdom" → "Inggris").
pub fn indonesian_name(canonical: &str) -> &str {
    match canonical {
        "United Kingdom" => "Inggris",
        "United States" => "Amerika Serikat",
        "New Zealand" => "Selandia Baru",
        "Canada" => "Kanada",
        "Singapore" => "Singapura",
        "Japan" => "Jepang",
        "South Korea" => "Korea Selatan",
        "Germany" => "Jerman",
        "Netherlands" => "Belanda",
        "France" => "Prancis",
        "Ireland" => "Irlandia",
        "China" => "Tiongkok",
        "Turkey" => "Turki",
        "Sweden" => "Swedia",
        "Switzerland" => "Swiss",
        other => other,
    }
}

/// Canonical name for a whole value ("Inggris", "korea selatan", "UK", "Melbourne"), or
/// `None` when it names no known country. Compares whole words.
pub fn canonical_country(value: &str) -> Option<&'static str> {
    let original: Vec<&str> = value
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    if let [one] = original.as_slice()
        && let Some((_, c)) = CASE_SENSITIVE_ALIASES.iter().find(|(a, _)| a == one)
    {
        return Some(c);
    }
    let joined = original
        .iter()
        .map(|w| w.to_lowercase())
        .collect::<Vec<_>>()
        .join(" ");
    COUNTRY_ALIASES
        .iter()
        .chain(CITY_ALIASES)
        .find(|(a, _)| *a == joined)
        .map(|(_, c)| *c)
        .or_else(|| {
            // Canonical names themselves ("United Kingdom", "South Korea").
            COUNTRY_ALIASES
                .iter()
                .find(|(_, c)| c.to_lowercase() == joined)
                .map(|(_, c)| *c)
        })
}

/// Search token of a canonical country (`country:united_kingdom`); no ordinary word has a `:`.
pub fn country_token(canonical: &str) -> String {
    format!("country:{}", canonical.to_lowercase().replace(' ', "_"))
}
