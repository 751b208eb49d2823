//! Workspaces: which business numbers (Meta `phone_number_id`s) each workspace serves.
//!
//! Read from `state-machines/workspaces.toml`. Without that file, or with no `[[workspace]]` in
//! it, one workspace named `default` serves every number, so a single-tenant deployment needs no
//! configuration. With workspaces configured, an event for a number none of them serves is
//! stored as unroutable (never processed, never dropped).

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

/// The id of the workspace that serves every number when none is configured.
pub const DEFAULT_WORKSPACE: &str = "default";

/// File name of the workspace list inside the flow folder.
pub const WORKSPACES_FILE: &str = "workspaces.toml";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkspacesFile {
    #[serde(default)]
    workspace: Vec<WorkspaceEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkspaceEntry {
    id: String,
    phone_number_ids: Vec<String>,
}

/// Routes a business number to its workspace.
#[derive(Debug, Clone, Default)]
pub struct Workspaces {
    /// `phone_number_id` → workspace id. Empty means "the default workspace serves every number".
    by_number: HashMap<String, String>,
}

/// Why `workspaces.toml` was refused.
#[derive(Debug, thiserror::Error)]
pub enum WorkspacesError {
    #[error("{path}: {cause}")]
    Read { path: String, cause: std::io::Error },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

/// Where an event's business number leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// The workspace serving the number.
    Workspace(String),
    /// Workspaces are configured and none serves this number.
    Unroutable,
    /// The event names no number (e.g. a workflow event); resolved later by its conversation.
    Unknown,
}

impl Workspaces {
    /// Loads `<flow_dir>/workspaces.toml`; a missing file means "default workspace only".
    pub fn load(flow_dir: &Path) -> Result<Self, WorkspacesError> {
        let path = flow_dir.join(WORKSPACES_FILE);
        let shown = path.display().to_string();
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::parse(&text).map_err(|message| WorkspacesError::Invalid {
                path: shown,
                message,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(cause) => Err(WorkspacesError::Read { path: shown, cause }),
        }
    }

    /// Parses the file's text. Ids are `[a-z0-9_-]+`, unique; a number belongs to one workspace.
    pub fn parse(text: &str) -> Result<Self, String> {
        let file: WorkspacesFile = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut by_number = HashMap::new();
        let mut seen = std::collections::HashSet::new();
        for ws in file.workspace {
            let valid_id = !ws.id.is_empty()
                && ws
                    .id
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
            if !valid_id {
                return Err(format!(
                    "workspace id {:?} must be lowercase letters, digits, '_' or '-'",
                    ws.id
                ));
            }
            if !seen.insert(ws.id.clone()) {
                return Err(format!("workspace id {:?} is listed twice", ws.id));
            }
            if ws.phone_number_ids.is_empty() {
                return Err(format!("workspace {:?} serves no phone_number_ids", ws.id));
            }
            for number in ws.phone_number_ids {
                if let Some(other) = by_number.insert(number.clone(), ws.id.clone()) {
                    return Err(format!(
                        "phone_number_id {number:?} is served by both {other:?} and {:?}",
                        ws.id
                    ));
                }
            }
        }
        Ok(Workspaces { by_number })
    }

    /// Whether only the default workspace exists.
    pub fn is_default_only(&self) -> bool {
        self.by_number.is_empty()
    }

    /// Whether `id` names a workspace: `default`, or one `workspaces.toml` lists.
    pub fn knows(&self, id: &str) -> bool {
        id == DEFAULT_WORKSPACE || self.by_number.values().any(|w| w == id)
    }

    /// The workspace for an event's business number.
    pub fn route(&self, phone_number_id: Option<&str>) -> Route {
        if self.by_number.is_empty() {
            return Route::Workspace(DEFAULT_WORKSPACE.to_string());
        }
        match phone_number_id {
            None => Route::Unknown,
            Some(n) => match self.by_number.get(n) {
                Some(ws) => Route::Workspace(ws.clone()),
                None => Route::Unroutable,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_serves_everything() {
        let ws = Workspaces::parse("").unwrap();
        assert_eq!(ws.route(Some("1")), Route::Workspace("default".into()));
        assert_eq!(ws.route(None), Route::Workspace("default".into()));
    }

    #[test]
    fn configured_numbers_route_and_others_are_unroutable() {
        let ws = Workspaces::parse(
            r#"
            [[workspace]]
            id = "jakarta"
            phone_number_ids = ["111", "222"]
            [[workspace]]
            id = "bali"
            phone_number_ids = ["333"]
            "#,
        )
        .unwrap();
        assert_eq!(ws.route(Some("222")), Route::Workspace("jakarta".into()));
        assert_eq!(ws.route(Some("333")), Route::Workspace("bali".into()));
        assert_eq!(ws.route(Some("999")), Route::Unroutable);
        assert_eq!(ws.route(None), Route::Unknown);
    }

    #[test]
    fn errors_are_clear() {
        let dup = "[[workspace]]\nid='a'\nphone_number_ids=['1']\n[[workspace]]\nid='b'\nphone_number_ids=['1']";
        assert!(
            Workspaces::parse(dup)
                .unwrap_err()
                .contains("served by both")
        );
        let bad_id = "[[workspace]]\nid='A B'\nphone_number_ids=['1']";
        assert!(Workspaces::parse(bad_id).unwrap_err().contains("lowercase"));
        let unknown = "[[workspace]]\nid='a'\nphone_number_ids=['1']\ncolour='red'";
        assert!(Workspaces::parse(unknown).unwrap_err().contains("colour"));
    }
}
