//! Hot reload of the flow config: an [`ArcSwap`] of the validated [`FlowConfigSet`], swapped
//! only when the whole directory validates, so an admin's broken edit never reaches a turn.
//!
//! A turn takes one [`FlowConfigHandle::current`] snapshot and uses it throughout, so a reload
//! applies atomically from the next turn.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use notify::RecursiveMode;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::load::{Diagnostics, FlowConfigSet, load_dir};

/// The live flow configuration of a running service, reloadable without a restart.
#[derive(Debug)]
pub struct FlowConfigHandle {
    dir: PathBuf,
    current: ArcSwap<FlowConfigSet>,
    /// Counts reload attempts, so what else lives in the flow folder (the LLM prompts) reloads
    /// with it ([`FlowConfigHandle::reloads`]).
    attempts: watch::Sender<u64>,
}

impl FlowConfigHandle {
    /// Loads `dir` (`ari.toml` + `workspaces/*.toml`); fails with every diagnostic when invalid
    /// (used by `ari serve` at start: an invalid config refuses to start).
    pub fn load(dir: &Path) -> Result<Self, Diagnostics> {
        let set = load_dir(dir)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            current: ArcSwap::from_pointee(set),
            attempts: watch::Sender::new(0),
        })
    }

    /// The directory this handle reloads from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The config snapshot to use for one whole turn.
    pub fn current(&self) -> Arc<FlowConfigSet> {
        self.current.load_full()
    }

    /// Re-reads the directory. Valid: the new set applies from the next `current()`. Invalid:
    /// the old set stays and the diagnostics are returned.
    pub fn reload(&self) -> Result<Arc<FlowConfigSet>, Diagnostics> {
        self.attempts.send_modify(|n| *n += 1);
        let set = Arc::new(load_dir(&self.dir)?);
        self.current.store(Arc::clone(&set));
        Ok(set)
    }

    /// Changes on every reload attempt (SIGHUP or a file change), valid or not: the LLM
    /// prompts of the same folder reload on it.
    pub fn reloads(&self) -> watch::Receiver<u64> {
        self.attempts.subscribe()
    }
}

/// Whether a file-system event changes the config: a create, a write, a rename or a removal
/// (not an open, a read or a close without writing).
fn is_change(kind: &notify::EventKind) -> bool {
    use notify::EventKind;
    use notify::event::{AccessKind, AccessMode};
    match kind {
        EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_) => true,
        // An editor that writes in place closes the file after writing.
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) | EventKind::Any | EventKind::Other => false,
    }
}

/// Reloads `handle` on SIGHUP and whenever a file under its directory changes (debounced
/// 300 ms; the directory is watched because editors replace files by rename). Stops when
/// `shutdown` becomes `true` or its sender is dropped. Errors are logged, never fatal.
pub fn spawn_reloader(
    handle: Arc<FlowConfigHandle>,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let (tx, mut changes) = mpsc::unbounded_channel::<()>();
        let debouncer = notify_debouncer_full::new_debouncer(
            Duration::from_millis(300),
            None,
            move |res: notify_debouncer_full::DebounceEventResult| {
                // Only changes count: reading the files (a reload does) emits access events,
                // which would otherwise trigger the next reload, forever.
                if res.is_ok_and(|events| events.iter().any(|e| is_change(&e.event.kind))) {
                    let _ = tx.send(());
                }
            },
        );
        let _debouncer = match debouncer {
            Ok(mut d) => match d.watch(handle.dir(), RecursiveMode::Recursive) {
                Ok(()) => Some(d),
                Err(e) => {
                    tracing::warn!(error = %e, dir = %handle.dir().display(), "cannot watch flow config directory; SIGHUP only");
                    None
                }
            },
            Err(e) => {
                tracing::warn!(error = %e, "cannot start file watcher; SIGHUP only");
                None
            }
        };
        let mut hangup = hangup_stream();
        loop {
            tokio::select! {
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() { break; }
                }
                Some(()) = changes.recv() => apply(&handle, "file change"),
                true = next_hangup(&mut hangup) => apply(&handle, "SIGHUP"),
            }
        }
    })
}

fn apply(handle: &FlowConfigHandle, trigger: &str) {
    match handle.reload() {
        Ok(set) => tracing::info!(
            trigger,
            workspaces = set.workspaces.len(),
            "flow config reloaded"
        ),
        Err(diags) => {
            for d in &diags.0 {
                tracing::error!(trigger, diagnostic = %d, "flow config rejected; previous config stays");
            }
        }
    }
}

#[cfg(unix)]
type Hangup = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangup = ();

#[cfg(unix)]
fn hangup_stream() -> Hangup {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::hangup()) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGHUP");
            None
        }
    }
}

#[cfg(not(unix))]
fn hangup_stream() -> Hangup {}

/// Resolves `true` on each SIGHUP; never resolves when signals are unavailable.
#[cfg(unix)]
async fn next_hangup(h: &mut Hangup) -> bool {
    match h {
        Some(s) => s.recv().await.is_some(),
        None => std::future::pending().await,
    }
}

#[cfg(not(unix))]
async fn next_hangup(_h: &mut Hangup) -> bool {
    std::future::pending().await
}
