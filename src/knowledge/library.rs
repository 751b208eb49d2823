//! The knowledge bases of a running service: one search index per workspace, built from
//! `state-machines/knowledge/` on first use and kept (a turn never waits for a rebuild).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::{KnowledgeError, KnowledgeIndex, load_for_workspace};

/// Per-workspace indexes over one knowledge folder.
pub struct Library {
    root: PathBuf,
    indexes: Mutex<HashMap<String, Arc<KnowledgeIndex>>>,
}

impl Library {
    /// A library over `root` (usually `state-machines/knowledge`). Validates the default
    /// knowledge base now, so a broken file stops the service at start with the file and entry.
    /// Without the folder there is no knowledge base: questions get the flow's fallback text.
    pub fn open(root: PathBuf) -> Result<Library, KnowledgeError> {
        let kb = if root.is_dir() {
            super::load_dir(&root)?
        } else {
            tracing::info!(dir = %root.display(), "no knowledge folder: questions get the template answer");
            super::KnowledgeBase::default()
        };
        let default = KnowledgeIndex::new(kb);
        let mut indexes = HashMap::new();
        indexes.insert(String::new(), Arc::new(default));
        Ok(Library {
            root,
            indexes: Mutex::new(indexes),
        })
    }

    /// The index for `workspace_id` (its own entries over the default ones). A workspace whose
    /// files do not load gets the default index, and the error is logged.
    pub fn index(&self, workspace_id: &str) -> Option<Arc<KnowledgeIndex>> {
        let mut indexes = self.indexes.lock().ok()?;
        if let Some(i) = indexes.get(workspace_id) {
            return Some(Arc::clone(i));
        }
        let loaded = if self.root.is_dir() {
            load_for_workspace(&self.root, workspace_id)
        } else {
            Ok(super::KnowledgeBase::default())
        };
        let index = match loaded {
            Ok(kb) => Arc::new(KnowledgeIndex::new(kb)),
            Err(e) => {
                tracing::error!(workspace = workspace_id, error = %e, "workspace knowledge base invalid; using the default one");
                Arc::clone(indexes.get("")?)
            }
        };
        indexes.insert(workspace_id.to_string(), Arc::clone(&index));
        Some(index)
    }
}
