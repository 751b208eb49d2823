//! The knowledge bases of a running service: one search index per workspace, built from
//! `state-machines/knowledge/` (the files) with the entries admins stored in the store laid
//! over them (same format, same validation; an entry with a file entry's id replaces it).
//!
//! A turn never waits for a rebuild: [`Library::index`] returns what is built. The store's
//! entries are read by [`Library::refresh`] (at start, every minute, and right after an admin
//! stores an entry), one round trip per workspace.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::{KnowledgeBase, KnowledgeError, KnowledgeIndex, load_for_workspace, parse_file};
use crate::store::{Store, StoreError};

/// One workspace's built index and the stored entries it was built with.
struct Cached {
    index: Arc<KnowledgeIndex>,
    stored: Vec<(String, String)>,
}

/// Per-workspace indexes over one knowledge folder and the store.
pub struct Library {
    root: PathBuf,
    indexes: Mutex<HashMap<String, Cached>>,
}

/// How a stored entry is named in errors: `store:<workspace>/<entry id>`.
fn stored_name(workspace_id: &str, entry_id: &str) -> PathBuf {
    PathBuf::from(format!("store:{workspace_id}/{entry_id}"))
}

/// Checks a stored entry's TOML text the way the files are checked, and that every entry in
/// it has the id it is stored under (`entry_id`), so storing one entry cannot replace another
/// (issue 21 item 8); returns its entry count.
pub fn validate_stored(
    workspace_id: &str,
    entry_id: &str,
    toml: &str,
) -> Result<usize, KnowledgeError> {
    let path = stored_name(workspace_id, entry_id);
    let kb = parse_file(&path, toml)?;
    let ids = kb
        .destinations
        .iter()
        .map(|d| d.id.as_str())
        .chain(kb.faq.iter().map(|f| f.id.as_str()));
    for id in ids {
        if id != entry_id {
            return Err(KnowledgeError::Invalid {
                path,
                entry: id.to_string(),
                message: format!("stored under `{entry_id}`, so its id must be `{entry_id}`"),
            });
        }
    }
    Ok(kb.destinations.len() + kb.faq.len())
}

impl Library {
    /// A library over `root` (usually `state-machines/knowledge`). Validates the default
    /// knowledge base now, so a broken file stops the service at start with the file and entry.
    /// Without the folder there is no file knowledge base (stored entries still apply).
    pub fn open(root: PathBuf) -> Result<Library, KnowledgeError> {
        if root.is_dir() {
            super::load_dir(&root)?;
        } else {
            tracing::info!(dir = %root.display(), "no knowledge folder: only entries stored by admins are used");
        }
        Ok(Library {
            root,
            indexes: Mutex::new(HashMap::new()),
        })
    }

    fn files(&self, workspace_id: &str) -> KnowledgeBase {
        if !self.root.is_dir() {
            return KnowledgeBase::default();
        }
        match load_for_workspace(&self.root, workspace_id) {
            Ok(kb) => kb,
            Err(e) => {
                tracing::error!(workspace = workspace_id, error = %e, "workspace knowledge files invalid; using the default files");
                super::load_dir(&self.root).unwrap_or_default()
            }
        }
    }

    fn build(&self, workspace_id: &str, stored: &[(String, String)]) -> Arc<KnowledgeIndex> {
        let mut kb = self.files(workspace_id);
        for (id, toml) in stored {
            match parse_file(&stored_name(workspace_id, id), toml) {
                Ok(entry) => kb.overlay(entry),
                Err(e) => tracing::error!(error = %e, "stored knowledge entry invalid; skipped"),
            }
        }
        Arc::new(KnowledgeIndex::new(kb))
    }

    /// The index for `workspace_id` (its files over the default files, stored entries over
    /// both, as of the last [`Library::refresh`]).
    pub fn index(&self, workspace_id: &str) -> Option<Arc<KnowledgeIndex>> {
        let mut indexes = self.indexes.lock().ok()?;
        if let Some(c) = indexes.get(workspace_id) {
            return Some(Arc::clone(&c.index));
        }
        let index = self.build(workspace_id, &[]);
        indexes.insert(
            workspace_id.to_string(),
            Cached {
                index: Arc::clone(&index),
                stored: Vec::new(),
            },
        );
        Some(index)
    }

    /// Reads a workspace's stored entries and rebuilds its index when they changed.
    pub async fn refresh(&self, store: &dyn Store, workspace_id: &str) -> Result<(), StoreError> {
        let stored = store.knowledge_entries(workspace_id).await?;
        let unchanged = self
            .indexes
            .lock()
            .ok()
            .and_then(|i| i.get(workspace_id).map(|c| c.stored == stored))
            .unwrap_or(false);
        if unchanged {
            return Ok(());
        }
        let index = self.build(workspace_id, &stored);
        if let Ok(mut indexes) = self.indexes.lock() {
            tracing::info!(
                workspace = workspace_id,
                stored = stored.len(),
                "knowledge index rebuilt"
            );
            indexes.insert(workspace_id.to_string(), Cached { index, stored });
        }
        Ok(())
    }

    /// [`Library::refresh`] for every workspace with an index (errors are logged).
    pub async fn refresh_all(&self, store: &dyn Store) {
        let workspaces: Vec<String> = self
            .indexes
            .lock()
            .map(|i| i.keys().cloned().collect())
            .unwrap_or_default();
        for ws in workspaces {
            if let Err(e) = self.refresh(store, &ws).await {
                tracing::warn!(workspace = %ws, error = %e, "cannot read stored knowledge entries");
            }
        }
    }

    /// The folder the files are read from.
    pub fn root(&self) -> &Path {
        &self.root
    }
}
