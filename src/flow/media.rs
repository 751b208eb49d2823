//! What a lead's file tells without being opened: the documents its name names
//! (`IELTS_TRF.pdf` is the English test, `transkrip.jpg` the transcript), so a lead who sends
//! a document instead of answering "do you have it?" is recorded as having it.

/// Words in a file name (split on anything that is not a letter, case-insensitive) naming each
/// document key of `config::flow::KNOWN_DOCUMENTS`.
const DOCUMENT_WORDS: &[(&str, &[&str])] = &[
    (
        "english_test",
        &["ielts", "toefl", "toeic", "pte", "duolingo", "trf", "ibt"],
    ),
    (
        "transcript",
        &[
            "transkrip",
            "transcript",
            "transkripnilai",
            "ijazah",
            "diploma",
        ],
    ),
    ("passport", &["paspor", "passport", "pasport"]),
    ("cv", &["cv", "resume", "curriculum", "vitae", "riwayat"]),
];

/// The document keys a file name names, in [`DOCUMENT_WORDS`] order, without repeats.
pub fn documents_named(filename: &str) -> Vec<String> {
    let lower = filename.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphabetic())
        .filter(|w| !w.is_empty())
        .collect();
    DOCUMENT_WORDS
        .iter()
        .filter(|(_, names)| words.iter().any(|w| names.contains(w)))
        .map(|(key, _)| (*key).to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_name_documents() {
        for (name, want) in [
            ("IELTS_TRF_Hana_Safitri.pdf", vec!["english_test"]),
            ("toefl-score.jpg", vec!["english_test"]),
            ("Transkrip Nilai S1.pdf", vec!["transcript"]),
            ("scan_passport_2026.jpeg", vec!["passport"]),
            ("CV_Budi_Santoso.docx", vec!["cv"]),
            ("Resume - Kevin.pdf", vec!["cv"]),
            ("paspor+ielts.pdf", vec!["english_test", "passport"]),
        ] {
            assert_eq!(documents_named(name), want, "{name}");
        }
    }

    #[test]
    fn other_file_names_name_nothing() {
        for name in [
            "IMG_20261123_0915.jpg",
            "scan.pdf",
            "document.pdf",
            "cvs-receipt.pdf",
            "foto.png",
        ] {
            assert!(documents_named(name).is_empty(), "{name}");
        }
    }
}
