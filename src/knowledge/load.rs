//! Loading and validating knowledge files: every `*.toml` in a directory, each holding
//! `[[destination]]` and/or `[[faq]]` tables. Errors name the file and the entry.
//!
//! Layout: `state-machines/knowledge/*.toml` is the default knowledge base; a workspace may add
//! or override entries (by id) in `state-machines/knowledge/workspaces/<workspace_id>/*.toml`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use thiserror::Error;

use super::countries::canonical_country;
use super::model::{Destination, FaqEntry, KnowledgeBase};

/// Why a knowledge directory could not be loaded.
#[derive(Debug, Error)]
pub enum KnowledgeError {
    /// The directory or a file could not be read.
    #[error("{path}: {cause}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        cause: std::io::Error,
    },
    /// A file is not valid TOML or does not have the expected shape.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message (with line and column).
        message: String,
    },
    /// An entry breaks a rule.
    #[error("{path}: entry `{entry}`: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The entry id (or `#n` when the id is empty).
        entry: String,
        /// What is wrong.
        message: String,
    },
    /// Two entries share an id.
    #[error("{path}: entry `{entry}`: duplicate id (first defined in {first})")]
    Duplicate {
        /// The file of the second definition.
        path: PathBuf,
        /// The id.
        entry: String,
        /// The file of the first definition.
        first: PathBuf,
    },
}

/// Sub-directory of the knowledge root holding per-workspace directories.
pub const WORKSPACES_DIR: &str = "workspaces";

/// Parses and validates one file's text; `path` is only used in errors. Countries are
/// canonicalized.
pub fn parse_file(path: &Path, text: &str) -> Result<KnowledgeBase, KnowledgeError> {
    let mut kb: KnowledgeBase = toml::from_str(text).map_err(|e| KnowledgeError::Parse {
        path: path.to_path_buf(),
        message: e.to_string().trim_end().to_string(),
    })?;
    for (i, d) in kb.destinations.iter_mut().enumerate() {
        validate_destination(d).map_err(|message| invalid(path, &d.id, i, message))?;
    }
    for (i, f) in kb.faq.iter_mut().enumerate() {
        validate_faq(f).map_err(|message| invalid(path, &f.id, i, message))?;
    }
    Ok(kb)
}

fn invalid(path: &Path, id: &str, index: usize, message: String) -> KnowledgeError {
    KnowledgeError::Invalid {
        path: path.to_path_buf(),
        entry: if id.trim().is_empty() {
            format!("#{}", index + 1)
        } else {
            id.to_string()
        },
        message,
    }
}

fn check_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("id must not be empty".into());
    }
    if !id
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
    {
        return Err("id may only use a-z, 0-9, `-` and `_`".into());
    }
    Ok(())
}

fn check_country(value: &str) -> Result<String, String> {
    canonical_country(value).map(str::to_string).ok_or_else(|| {
        format!("unknown country `{value}` (use e.g. \"United Kingdom\", \"Inggris\", \"Japan\")")
    })
}

fn non_empty(field: &str, value: &str) -> Result<(), String> {
    if value.trim().is_empty() {
        Err(format!("{field} must not be empty"))
    } else {
        Ok(())
    }
}

fn validate_destination(d: &mut Destination) -> Result<(), String> {
    check_id(&d.id)?;
    non_empty("university", &d.university)?;
    d.country = check_country(&d.country)?;
    if let Some(v) = d.ielts_min
        && !(0.0..=9.0).contains(&v)
    {
        return Err(format!("ielts_min {v} is outside 0-9"));
    }
    if let Some(v) = d.gpa_min
        && !(0.0..=4.0).contains(&v)
    {
        return Err(format!("gpa_min {v} is outside 0-4"));
    }
    if let (Some(a), Some(b)) = (d.budget_min_idr, d.budget_max_idr)
        && a > b
    {
        return Err(format!("budget_min_idr {a} is above budget_max_idr {b}"));
    }
    if d.programs.iter().any(|p| p.trim().is_empty()) {
        return Err("programs must not contain empty names".into());
    }
    Ok(())
}

fn validate_faq(f: &mut FaqEntry) -> Result<(), String> {
    check_id(&f.id)?;
    non_empty("category", &f.category)?;
    non_empty("title", &f.title)?;
    non_empty("content", &f.content)?;
    for (lang, t) in &f.translations {
        if lang.len() != 2 || !lang.chars().all(|c| c.is_ascii_lowercase()) {
            return Err(format!(
                "translations.{lang}: a language is a two-letter lowercase code such as \"en\""
            ));
        }
        non_empty(&format!("translations.{lang}.title"), &t.title)?;
        non_empty(&format!("translations.{lang}.content"), &t.content)?;
    }
    if let Some(c) = &f.country {
        f.country = Some(check_country(c)?);
    }
    Ok(())
}

/// `*.toml` files directly in `dir`, sorted by name.
fn toml_files(dir: &Path) -> Result<Vec<PathBuf>, KnowledgeError> {
    let io = |cause| KnowledgeError::Io {
        path: dir.to_path_buf(),
        cause,
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    Ok(files)
}

/// Loads every `*.toml` directly in `dir` (sub-directories are not read). Ids must be unique
/// across the files.
pub fn load_dir(dir: &Path) -> Result<KnowledgeBase, KnowledgeError> {
    let mut kb = KnowledgeBase::default();
    let mut seen: BTreeMap<String, PathBuf> = BTreeMap::new();
    for path in toml_files(dir)? {
        let text = std::fs::read_to_string(&path).map_err(|cause| KnowledgeError::Io {
            path: path.clone(),
            cause,
        })?;
        let part = parse_file(&path, &text)?;
        let ids = part
            .destinations
            .iter()
            .map(|d| d.id.clone())
            .chain(part.faq.iter().map(|f| f.id.clone()));
        for id in ids {
            if let Some(first) = seen.get(&id) {
                return Err(KnowledgeError::Duplicate {
                    path: path.clone(),
                    entry: id,
                    first: first.clone(),
                });
            }
            seen.insert(id, path.clone());
        }
        kb.destinations.extend(part.destinations);
        kb.faq.extend(part.faq);
    }
    Ok(kb)
}

/// The knowledge base of one workspace: the default one in `root`, overlaid with
/// `root/workspaces/<workspace_id>/` when that directory exists (same id → the workspace's
/// entry wins).
pub fn load_for_workspace(
    root: &Path,
    workspace_id: &str,
) -> Result<KnowledgeBase, KnowledgeError> {
    let mut kb = load_dir(root)?;
    let own = root.join(WORKSPACES_DIR).join(workspace_id);
    let safe = !workspace_id.is_empty()
        && workspace_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if safe && own.is_dir() {
        kb.overlay(load_dir(&own)?);
    }
    Ok(kb)
}
