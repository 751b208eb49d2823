//! Reading flow files: parse, deep-merge per-workspace overrides over the default, deserialize,
//! validate, and turn every problem into a [`Diagnostic`] naming the file, line and key.
//!
//! Why a key index: serde reports a problem as a key path on the merged value, which no longer
//! knows where its keys came from. Each file is therefore also parsed with spans
//! ([`toml::de::DeTable`]) into a path → line index, and a problem is located in the override
//! file when it sets that key, otherwise in the default file.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use toml::de::{DeTable, DeValue};

use super::model::{FlowConfig, FollowupTexts, InteractiveLabels, Lexicon, Locale, ReminderTexts};
use super::validate::validate;

/// File name of the default flow inside the config directory.
pub const DEFAULT_FILE: &str = "ari.toml";
/// Sub-directory holding `<workspace_id>.toml` overrides.
pub const WORKSPACES_DIR: &str = "workspaces";
/// Sub-directory holding `<lang>.toml` language overlays (in the config directory, and in a
/// workspace's own `workspaces/<id>/` directory).
pub const LANGUAGES_DIR: &str = "languages";
/// The colloquial → standard word map applied before extraction.
pub const LEXICON_FILE: &str = "lexicon.toml";
/// Languages ARI can detect in a lead's words (`flow::language`), so the only overlays allowed.
pub const SUPPORTED_LANGUAGES: &[&str] = &["id", "en"];

/// One problem in a flow file, printed as `file:line: key: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file the key was found in (the override when it sets the key).
    pub file: PathBuf,
    /// 1-based line of the key (or of its nearest enclosing table when the key is missing).
    pub line: usize,
    /// Dotted key path, e.g. `stages.greeting.texts.greeting`; `-` for file-level problems.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}: {}",
            self.file.display(),
            self.line,
            self.key,
            self.message
        )
    }
}

/// All problems found in one load; never empty when returned as an error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

/// The default flow plus each workspace's merged flow, all validated. Cheap to clone.
#[derive(Debug, Clone)]
pub struct FlowConfigSet {
    /// `ari.toml`.
    pub default: Arc<FlowConfig>,
    /// `workspaces/<id>.toml` merged over `ari.toml`, by workspace id.
    pub workspaces: BTreeMap<String, Arc<FlowConfig>>,
}

impl FlowConfigSet {
    /// The flow a workspace runs: its merged override, or the default.
    pub fn for_workspace(&self, workspace_id: &str) -> Arc<FlowConfig> {
        self.workspaces
            .get(workspace_id)
            .cloned()
            .unwrap_or_else(|| Arc::clone(&self.default))
    }
}

/// A parsed file: its text, its plain table and its key → line index.
struct Source {
    path: PathBuf,
    table: toml::Table,
    index: KeyIndex,
}

/// Dotted key path (`a.b[0].c`) → 1-based line, built from the spanned parse.
#[derive(Debug, Default)]
struct KeyIndex {
    lines: BTreeMap<String, usize>,
}

impl KeyIndex {
    fn build(text: &str, table: &DeTable<'_>) -> Self {
        let mut index = KeyIndex::default();
        index.walk(text, table, "");
        index
    }

    fn walk(&mut self, text: &str, table: &DeTable<'_>, prefix: &str) {
        for (key, value) in table {
            let path = join(prefix, key.get_ref());
            self.lines
                .insert(path.clone(), line_of(text, key.span().start));
            self.walk_value(text, value.get_ref(), &path);
        }
    }

    fn walk_value(&mut self, text: &str, value: &DeValue<'_>, path: &str) {
        match value {
            DeValue::Table(t) => self.walk(text, t, path),
            DeValue::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let p = format!("{path}[{i}]");
                    self.lines
                        .insert(p.clone(), line_of(text, item.span().start));
                    self.walk_value(text, item.get_ref(), &p);
                }
            }
            _ => {}
        }
    }

    /// Line of `path` itself, else of its nearest ancestor present in this file.
    fn exact(&self, path: &str) -> Option<usize> {
        if let Some(line) = self.lines.get(path) {
            return Some(*line);
        }
        // serde paths have no array indices: match `a.b.c` against `a.b[3].c`.
        self.lines
            .iter()
            .find(|(k, _)| strip_indices(k) == path)
            .map(|(_, l)| *l)
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

fn strip_indices(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut depth = 0;
    for c in path.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// 1-based line number of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

fn parent_of(path: &str) -> Option<&str> {
    let cut = path.rfind(['.', '['])?;
    Some(&path[..cut])
}

fn read_source(path: &Path) -> Result<Source, Diagnostics> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Diagnostics(vec![Diagnostic {
            file: path.to_path_buf(),
            line: 1,
            key: "-".into(),
            message: format!("cannot read file: {e}"),
        }])
    })?;
    parse_source(path, &text)
}

fn parse_source(path: &Path, text: &str) -> Result<Source, Diagnostics> {
    let syntax = |e: toml::de::Error| {
        Diagnostics(vec![Diagnostic {
            file: path.to_path_buf(),
            line: e.span().map(|s| line_of(text, s.start)).unwrap_or(1),
            key: "-".into(),
            message: format!("TOML syntax: {}", e.message()),
        }])
    };
    let spanned = DeTable::parse(text).map_err(syntax)?;
    let index = KeyIndex::build(text, spanned.get_ref());
    let table: toml::Table = toml::from_str(text).map_err(syntax)?;
    Ok(Source {
        path: path.to_path_buf(),
        table,
        index,
    })
}

/// Deep merge: tables merge key by key, any other value (arrays included) replaces.
pub fn merge_tables(base: &mut toml::Table, over: &toml::Table) {
    for (key, value) in over {
        match (base.get_mut(key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge_tables(b, o),
            _ => {
                base.insert(key.clone(), value.clone());
            }
        }
    }
}

/// Locates `key` in the override (if any) then the default, falling back to ancestors.
fn locate(sources: &[&Source], key: &str) -> (PathBuf, usize) {
    let mut probe = Some(key);
    while let Some(k) = probe {
        for s in sources {
            if let Some(line) = s.index.exact(k) {
                return (s.path.clone(), line);
            }
        }
        probe = parent_of(k);
    }
    let last = sources.last().map(|s| s.path.clone()).unwrap_or_default();
    (last, 1)
}

/// Turns a serde error on the merged value into a key path and message.
fn serde_problem(err: &toml::de::Error) -> (String, String) {
    let rendered = err.to_string();
    let parent = rendered
        .lines()
        .find_map(|l| l.strip_prefix("in `").and_then(|r| r.strip_suffix('`')))
        .unwrap_or("")
        .to_string();
    let message = err.message().to_string();
    // "unknown field `x`, expected ..." / "missing field `x`": the named key is the culprit.
    let named = ["unknown field `", "missing field `"]
        .iter()
        .find_map(|p| message.strip_prefix(p))
        .and_then(|r| r.split('`').next())
        .map(str::to_string);
    let key = match named {
        Some(field) => join(&parent, &field),
        None if parent.is_empty() => "-".to_string(),
        None => parent,
    };
    (key, message)
}

/// Deserializes and validates one merged table; `sources` are searched in order for lines.
fn build(table: toml::Table, sources: &[&Source]) -> Result<FlowConfig, Diagnostics> {
    let to_diag = |key: String, message: String| {
        let (file, line) = locate(sources, &key);
        Diagnostic {
            file,
            line,
            key,
            message,
        }
    };
    let cfg: FlowConfig = toml::Value::Table(table).try_into().map_err(|e| {
        let (key, message) = serde_problem(&e);
        Diagnostics(vec![to_diag(key, message)])
    })?;
    let problems = validate(&cfg);
    if problems.is_empty() {
        Ok(cfg)
    } else {
        let mut diags: Vec<Diagnostic> = problems
            .into_iter()
            .map(|p| to_diag(p.key, p.message))
            .collect();
        diags.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
        Err(Diagnostics(diags))
    }
}

/// Loads and validates one complete flow file (e.g. `state-machines/ari.toml`).
pub fn load_file(path: &Path) -> Result<FlowConfig, Diagnostics> {
    let source = read_source(path)?;
    build(source.table.clone(), &[&source])
}

/// Loads a complete flow from text (tests, `check-config` on stdin-like input).
pub fn load_str(path: &Path, text: &str) -> Result<FlowConfig, Diagnostics> {
    let source = parse_source(path, text)?;
    build(source.table.clone(), &[&source])
}

/// Loads `dir/ari.toml`, every `dir/workspaces/<id>.toml` merged over it, the language
/// overlays and the lexicon. Merge order of a language's flow: `ari.toml` <
/// `languages/<lang>.toml` < `workspaces/<ws>.toml` < `workspaces/<ws>/languages/<lang>.toml`.
/// All files are checked; the diagnostics of every invalid file are returned together.
pub fn load_dir(dir: &Path) -> Result<FlowConfigSet, Diagnostics> {
    let default_src = read_source(&dir.join(DEFAULT_FILE))?;
    let mut diags = Vec::new();
    let lexicon =
        Arc::new(collect(load_lexicon(&dir.join(LEXICON_FILE)), &mut diags).unwrap_or_default());
    let allowed = translatable_paths(&default_src.table);
    let languages = load_overlays(&dir.join(LANGUAGES_DIR), &allowed, true, &mut diags);
    let base = Layers {
        base: &default_src,
        over: None,
        lexicon: &lexicon,
    };
    let default = collect(base.build_all(&languages, &[]), &mut diags);
    let mut workspaces = BTreeMap::new();
    for (id, path) in workspace_files(&dir.join(WORKSPACES_DIR)) {
        let Some(over) = collect(read_source(&path), &mut diags) else {
            continue;
        };
        let own = dir.join(WORKSPACES_DIR).join(&id).join(LANGUAGES_DIR);
        let own_langs = load_overlays(&own, &allowed, false, &mut diags);
        for (lang, src) in &own_langs {
            if !languages.iter().any(|(l, _)| l == lang) {
                diags.push(file_problem(
                    &src.path,
                    format!("no {LANGUAGES_DIR}/{lang}.toml for this workspace overlay to refine"),
                ));
            }
        }
        let layers = Layers {
            base: &default_src,
            over: Some(&over),
            lexicon: &lexicon,
        };
        if let Some(cfg) = collect(layers.build_all(&languages, &own_langs), &mut diags) {
            workspaces.insert(id, cfg);
        }
    }
    match default {
        Some(default) if diags.is_empty() => Ok(FlowConfigSet {
            default,
            workspaces,
        }),
        _ => Err(Diagnostics(diags)),
    }
}

/// Keeps the value, or moves its diagnostics into `diags`.
fn collect<T>(r: Result<T, Diagnostics>, diags: &mut Vec<Diagnostic>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(Diagnostics(d)) => {
            diags.extend(d);
            None
        }
    }
}

fn file_problem(path: &Path, message: String) -> Diagnostic {
    Diagnostic {
        file: path.to_path_buf(),
        line: 1,
        key: "-".into(),
        message,
    }
}

/// The files one flow is merged from: the default, a workspace override, the lexicon.
struct Layers<'a> {
    base: &'a Source,
    over: Option<&'a Source>,
    lexicon: &'a Arc<Lexicon>,
}

impl Layers<'_> {
    /// The flow in its own language with one translation per overlay (`own`: the workspace's
    /// refinements of some of them).
    fn build_all(
        &self,
        languages: &[(String, Source)],
        own: &[(String, Source)],
    ) -> Result<Arc<FlowConfig>, Diagnostics> {
        let mut diags = Vec::new();
        let mut cfg = collect(self.build(None, None), &mut diags);
        for (lang, src) in languages {
            let refine = own.iter().find(|(l, _)| l == lang).map(|(_, s)| s);
            if let (Some(c), Some(t)) = (
                cfg.as_mut(),
                collect(self.build(Some((lang, src)), refine), &mut diags),
            ) {
                c.translations.insert(lang.clone(), Arc::new(t));
            }
        }
        match cfg {
            Some(c) if diags.is_empty() => Ok(Arc::new(c)),
            _ => Err(Diagnostics(diags)),
        }
    }

    fn build(
        &self,
        lang: Option<(&str, &Source)>,
        refine: Option<&Source>,
    ) -> Result<FlowConfig, Diagnostics> {
        let mut merged = self.base.table.clone();
        let mut sources: Vec<&Source> = Vec::new();
        if let Some((_, l)) = lang {
            merge_tables(&mut merged, &l.table);
        }
        if let Some(o) = self.over {
            merge_tables(&mut merged, &o.table);
        }
        if let Some(r) = refine {
            merge_tables(&mut merged, &r.table);
            sources.push(r);
        }
        if let Some(o) = self.over {
            sources.push(o);
        }
        if let Some((code, l)) = lang {
            sources.push(l);
            // The overlay's texts are in its own language, whatever the base file says.
            if let Some(toml::Value::Table(p)) = merged.get_mut("persona") {
                p.insert("language".into(), toml::Value::String(code.to_string()));
            }
        }
        sources.push(self.base);
        let mut cfg = build(merged, &sources)?;
        cfg.lexicon = Arc::clone(self.lexicon);
        Ok(cfg)
    }
}

/// The keys a language overlay holds: every text of the default file
/// (`stages.<s>.texts.<k>`), the field and document labels, questions and re-asks, the
/// `locale` words, the `reminders` texts, the `consent` and `followups` texts and `persona.tone`.
pub fn translatable_paths(base: &toml::Table) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let table = |v: Option<&toml::Value>| {
        v.and_then(toml::Value::as_table)
            .cloned()
            .unwrap_or_default()
    };
    for (stage, v) in table(base.get("stages")) {
        for key in table(v.get("texts")).keys() {
            out.insert(format!("stages.{stage}.texts.{key}"));
        }
    }
    for section in ["fields", "documents"] {
        for (key, v) in table(base.get(section)) {
            for part in ["label", "question", "reask"] {
                if v.get(part).is_some() {
                    out.insert(format!("{section}.{key}.{part}"));
                }
            }
        }
    }
    if let Ok(toml::Value::Table(locale)) = toml::Value::try_from(Locale::default()) {
        for key in locale.keys() {
            out.insert(format!("locale.{key}"));
        }
    }
    if let Ok(toml::Value::Table(reminders)) = toml::Value::try_from(ReminderTexts::default()) {
        for key in reminders.keys() {
            out.insert(format!("reminders.{key}"));
        }
    }
    if let Ok(toml::Value::Table(texts)) = toml::Value::try_from(FollowupTexts::default()) {
        for key in texts.keys() {
            out.insert(format!("followups.texts.{key}"));
        }
    }
    if let Ok(toml::Value::Table(labels)) = toml::Value::try_from(InteractiveLabels::default()) {
        for key in labels.keys() {
            out.insert(format!("interactive.{key}"));
        }
    }
    out.insert("consent.opted_out".into());
    out.insert("consent.resumed".into());
    out.insert("persona.tone".into());
    out
}

/// Leaf key paths of a table (arrays are leaves).
fn leaf_paths(table: &toml::Table, prefix: &str, out: &mut BTreeSet<String>) {
    for (k, v) in table {
        let path = join(prefix, k);
        match v {
            toml::Value::Table(t) => leaf_paths(t, &path, out),
            _ => {
                out.insert(path);
            }
        }
    }
}

/// `(lang, source)` of each `<lang>.toml` in `dir`, each checked to hold translatable keys
/// only, and (`complete`) all of them.
fn load_overlays(
    dir: &Path,
    allowed: &BTreeSet<String>,
    complete: bool,
    diags: &mut Vec<Diagnostic>,
) -> Vec<(String, Source)> {
    let mut out = Vec::new();
    for (lang, path) in workspace_files(dir) {
        let Some(src) = collect(read_source(&path), diags) else {
            continue;
        };
        if !SUPPORTED_LANGUAGES.contains(&lang.as_str()) {
            diags.push(file_problem(
                &path,
                format!(
                    "ARI cannot detect language {lang:?}; supported: {}",
                    SUPPORTED_LANGUAGES.join(", ")
                ),
            ));
            continue;
        }
        let mut present = BTreeSet::new();
        leaf_paths(&src.table, "", &mut present);
        for key in present.difference(allowed) {
            let line = src.index.exact(key).unwrap_or(1);
            diags.push(Diagnostic { file: path.clone(), line, key: key.clone(), message: "not a translatable key (a language overlay holds texts, labels, questions and locale words only)".into() });
        }
        if complete {
            for key in allowed.difference(&present) {
                diags.push(Diagnostic {
                    file: path.clone(),
                    line: 1,
                    key: key.clone(),
                    message: format!("missing translation into {lang}"),
                });
            }
        }
        out.push((lang, src));
    }
    out
}

/// `lexicon.toml`: `[words]` colloquial = "standard". A missing file is an empty lexicon.
pub fn load_lexicon(path: &Path) -> Result<Lexicon, Diagnostics> {
    if !path.exists() {
        return Ok(Lexicon::default());
    }
    let src = read_source(path)?;
    let mut diags = Vec::new();
    let mut words = BTreeMap::new();
    for (key, value) in src.table.iter() {
        if key != "words" {
            diags.push(Diagnostic {
                file: path.to_path_buf(),
                line: src.index.exact(key).unwrap_or(1),
                key: key.clone(),
                message: "unknown table; the lexicon has only [words]".into(),
            });
        }
        let Some(t) = value.as_table() else { continue };
        for (from, to) in t {
            let at = |message: String| Diagnostic {
                file: path.to_path_buf(),
                line: src.index.exact(&format!("words.{from}")).unwrap_or(1),
                key: format!("words.{from}"),
                message,
            };
            let Some(to) = to.as_str().map(str::trim) else {
                diags.push(at("the standard form must be a string".into()));
                continue;
            };
            if from.is_empty()
                || !from
                    .chars()
                    .all(|c| c.is_alphabetic() || c == '\'' || c == '-')
            {
                diags.push(at("a colloquial form is one word of letters".into()));
            } else if to.is_empty() || to.eq_ignore_ascii_case(from) {
                diags.push(at(
                    "the standard form must be a different, non-empty word".into()
                ));
            } else {
                words.insert(from.to_lowercase(), to.to_string());
            }
        }
    }
    for (from, to) in &words {
        if let Some(next) = to
            .split_whitespace()
            .find(|w| words.contains_key(&w.to_lowercase()))
        {
            diags.push(Diagnostic { file: path.to_path_buf(), line: src.index.exact(&format!("words.{from}")).unwrap_or(1), key: format!("words.{from}"), message: format!("{to:?} contains {next:?}, itself a colloquial form: map {from:?} to the final standard word") });
        }
    }
    if diags.is_empty() {
        Ok(Lexicon { words })
    } else {
        Err(Diagnostics(diags))
    }
}

/// `(workspace_id, path)` of every `*.toml` in `dir`, sorted; a missing dir means none.
fn workspace_files(dir: &Path) -> Vec<(String, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<(String, PathBuf)> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .filter_map(|p| Some((p.file_stem()?.to_str()?.to_string(), p.clone())))
        .collect();
    files.sort();
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_is_deep_and_arrays_replace() {
        let mut base: toml::Table = toml::from_str("a = 1\n[t]\nx = 1\ny = [1, 2]\n").unwrap();
        let over: toml::Table = toml::from_str("[t]\ny = [3]\n").unwrap();
        merge_tables(&mut base, &over);
        assert_eq!(base["a"].as_integer(), Some(1));
        assert_eq!(base["t"]["x"].as_integer(), Some(1));
        assert_eq!(base["t"]["y"].as_array().map(Vec::len), Some(1));
    }

    #[test]
    fn key_index_finds_lines_including_array_elements() {
        let text = "a = 1\n[t]\nx = 2\n[[s]]\nk = 1\n[[s]]\nk = 2\n";
        let spanned = DeTable::parse(text).unwrap();
        let idx = KeyIndex::build(text, spanned.get_ref());
        assert_eq!(idx.exact("a"), Some(1));
        assert_eq!(idx.exact("t.x"), Some(3));
        assert_eq!(idx.exact("s[1].k"), Some(7));
        assert_eq!(idx.exact("s.k"), Some(5));
    }
}
