//! The knowledge base: destinations (universities with requirements and costs) and FAQ entries,
//! loaded per workspace from `state-machines/knowledge/`, searched with BM25 and turned into a
//! short Indonesian answer whose entry ids the turn logs; plus recommendations filtered by the
//! lead's country, IELTS and budget.
//!
//! Pure apart from [`load::load_dir`] / [`load::load_for_workspace`], which read the files.
//! Fixes the seed (§8): countries match whole words (no "us" in "Australia", no "au" in "mau"),
//! "Korea Selatan" and other Indonesian names normalize, FAQ entries are used, and budgets
//! print once as "Rp400–600 juta/tahun".

pub mod countries;
pub mod library;
pub mod load;
pub mod model;
pub mod recommend;
pub mod search;
pub mod tokenize;

pub use countries::canonical_country;
pub use library::{Library, validate_stored};
pub use load::{KnowledgeError, load_dir, load_for_workspace, parse_file};
pub use model::{Destination, Entry, FaqEntry, KnowledgeBase};
pub use recommend::{LeadProfile, parse_budget_idr, parse_ielts, recommend, recommendation_text};
pub use search::{Hit, KnowledgeAnswer, KnowledgeIndex};
pub use tokenize::tokenize;
