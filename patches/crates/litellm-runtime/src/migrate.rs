//! Moves codex-litellm's settings out of config.toml into litellm.toml.
//!
//! Older releases kept them in config.toml: a `[litellm]` table, `litellm_bridge` sub-tables
//! under `[model_providers.<id>]`, and (from the community patch set) `wire_api = "chat"`.
//! Stock `codex` 0.171 warns about the first two on every run and every stock release since
//! the chat removal refuses the third. On a codex-litellm run they move to litellm.toml, the
//! rest of config.toml kept byte for byte (toml_edit), after a backup, each file replaced
//! atomically. Running it again finds nothing to move.

use crate::settings::CONFIG_TOML;
use crate::settings::LITELLM_PROVIDER_ID;
use crate::settings::LITELLM_TOML;
use crate::settings::LitellmSettings;
use crate::settings::is_builtin_chat_provider;
use std::path::Path;
use std::path::PathBuf;
use toml_edit::DocumentMut;
use toml_edit::Item;
use toml_edit::Table;

/// What a migration would write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationPlan {
    pub config_toml: String,
    pub litellm_toml: String,
    /// One line per moved setting: `[litellm] -> litellm.toml`.
    pub moved: Vec<String>,
}

/// What a migration did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    pub moved: Vec<String>,
    pub backup: PathBuf,
    pub litellm_toml: PathBuf,
}

impl MigrationReport {
    /// The one message a user sees about it.
    pub fn message(&self) -> String {
        let mut text = format!(
            "codex-litellm: moved its settings from config.toml (shared with stock `codex`, which warns about them or refuses to start) to {}:",
            self.litellm_toml.display()
        );
        for line in &self.moved {
            text.push_str("\n  ");
            text.push_str(line);
        }
        text.push_str(&format!(
            "\n  the previous config.toml is kept as {}",
            self.backup.display()
        ));
        text
    }
}

/// Legacy `[litellm]` keys and where they go in litellm.toml.
const LEGACY_LITELLM_KEYS: &[(&str, &[&str])] = &[
    ("model", &["model"]),
    ("provider", &["provider"]),
    ("background_model", &["background_model"]),
    ("telemetry", &["telemetry"]),
    ("base_url", &["providers", LITELLM_PROVIDER_ID, "base_url"]),
    ("bridge", &["providers", LITELLM_PROVIDER_ID, "bridge"]),
];

/// Whether config.toml holds anything that belongs in litellm.toml (cheap check for
/// callers that only report, such as the doctor).
pub fn legacy_settings_in(config_text: &str) -> Vec<String> {
    let Ok(config) = config_text.parse::<DocumentMut>() else {
        return Vec::new();
    };
    let mut found = Vec::new();
    if config.contains_key("litellm") {
        found.push("[litellm]".to_string());
    }
    if let Some(providers) = config.get("model_providers").and_then(Item::as_table_like) {
        for (id, item) in providers.iter() {
            let Some(provider) = item.as_table_like() else {
                continue;
            };
            if provider.contains_key("litellm_bridge") {
                found.push(format!("[model_providers.{id}.litellm_bridge]"));
            }
            if is_chat_wire_api(provider.get("wire_api")) {
                found.push(format!("wire_api = \"chat\" in [model_providers.{id}]"));
            }
        }
    }
    found
}

fn is_chat_wire_api(item: Option<&Item>) -> bool {
    item.and_then(Item::as_str) == Some("chat")
}

/// Computes the migration of `config_text` into `litellm_text` (may be empty). `Ok(None)`:
/// nothing to move, or config.toml does not parse (Codex reports that itself). `Err`: what
/// cannot be moved safely, and what to write instead.
pub fn plan(config_text: &str, litellm_text: &str) -> Result<Option<MigrationPlan>, String> {
    let Ok(mut config) = config_text.parse::<DocumentMut>() else {
        return Ok(None);
    };
    if legacy_settings_in(config_text).is_empty() {
        return Ok(None);
    }
    let mut litellm = litellm_text.parse::<DocumentMut>().map_err(|err| {
        format!("{LITELLM_TOML} is not valid TOML, so nothing was moved into it: {err}")
    })?;
    let mut moved = Vec::new();

    if let Some(legacy) = config.remove("litellm") {
        keep_comments(&mut config, &legacy);
        let Some(legacy) = legacy.as_table_like() else {
            return Err(format!(
                "{CONFIG_TOML}: `litellm` is not a table; remove it (codex-litellm's settings now live in {LITELLM_TOML})"
            ));
        };
        let mut keys = Vec::new();
        for (key, item) in legacy.iter() {
            let Some((_, destination)) = LEGACY_LITELLM_KEYS.iter().find(|(k, _)| *k == key) else {
                return Err(format!(
                    "{CONFIG_TOML}: [litellm] has `{key}`, which codex-litellm does not know, so nothing was moved. Fix or remove it, then run codex-litellm again (the keys are {})",
                    LEGACY_LITELLM_KEYS
                        .iter()
                        .map(|(k, _)| *k)
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            };
            put(&mut litellm, destination, item, &format!("[litellm] {key}"))?;
            keys.push(destination.join("."));
        }
        moved.push(format!(
            "[litellm] -> {LITELLM_TOML} ({})",
            if keys.is_empty() {
                "empty".to_string()
            } else {
                keys.join(", ")
            }
        ));
    }

    let mut removed_tables: Vec<Item> = Vec::new();
    if let Some(providers) = config
        .get_mut("model_providers")
        .and_then(Item::as_table_like_mut)
    {
        let ids: Vec<String> = providers.iter().map(|(id, _)| id.to_string()).collect();
        for id in ids {
            let Some(provider) = providers.get_mut(&id).and_then(Item::as_table_like_mut) else {
                continue;
            };
            if let Some(bridge) = provider.remove("litellm_bridge") {
                removed_tables.push(bridge.clone());
                put(
                    &mut litellm,
                    &["providers", &id, "bridge"],
                    &bridge,
                    &format!("[model_providers.{id}.litellm_bridge]"),
                )?;
                moved.push(format!(
                    "[model_providers.{id}.litellm_bridge] -> [providers.{id}.bridge]"
                ));
            }
            if is_chat_wire_api(provider.get("wire_api")) {
                provider.remove("wire_api");
                if !is_builtin_chat_provider(&id) {
                    ensure_table(&mut litellm, &["providers", &id], true)?;
                }
                moved.push(format!(
                    "wire_api = \"chat\" in [model_providers.{id}] -> [providers.{id}] (removed from {CONFIG_TOML})"
                ));
            }
        }
    }

    for removed in &removed_tables {
        keep_comments(&mut config, removed);
    }
    let litellm_toml = litellm.to_string();
    LitellmSettings::from_toml(&litellm_toml, LITELLM_TOML).map_err(|err| {
        format!(
            "nothing was moved: after the move {err}. Fix it in {CONFIG_TOML} (or remove it), then run codex-litellm again"
        )
    })?;
    Ok(Some(MigrationPlan {
        config_toml: config.to_string(),
        litellm_toml,
        moved,
    }))
}

/// Sets `path` in `document` to `item`, unless the same value is already there (an earlier,
/// interrupted migration). A different value already there is a conflict.
fn put(document: &mut DocumentMut, path: &[&str], item: &Item, what: &str) -> Result<(), String> {
    let (last, parents) = path
        .split_last()
        .ok_or_else(|| "empty destination".to_string())?;
    let parent = ensure_table(document, parents, !item.is_table())?;
    if let Some(existing) = parent.get(last) {
        if item_value(existing) == item_value(item) {
            return Ok(());
        }
        return Err(format!(
            "{CONFIG_TOML} {what} and {LITELLM_TOML} `{}` both exist with different values, so nothing was moved. Keep one: delete {what} from {CONFIG_TOML} (codex-litellm reads {LITELLM_TOML}) or make them equal",
            path.join(".")
        ));
    }
    parent.insert(last, fresh(item));
    Ok(())
}

/// The table at `path`, created (as `[a.b]` headers) where missing.
fn ensure_table<'a>(
    document: &'a mut DocumentMut,
    path: &[&str],
    explicit_leaf: bool,
) -> Result<&'a mut Table, String> {
    let mut table = document.as_table_mut();
    for (depth, key) in path.iter().enumerate() {
        let is_last = depth + 1 == path.len();
        let entry = table.entry(key).or_insert_with(|| {
            let mut new = Table::new();
            // `[providers]` alone would be an empty header: only a leaf that holds
            // values gets one.
            new.set_implicit(!(is_last && explicit_leaf));
            Item::Table(new)
        });
        if let Some(inline) = entry.as_inline_table().cloned() {
            *entry = Item::Table(inline.into_table());
        }
        let next = entry.as_table_mut().ok_or_else(|| {
            format!(
                "{LITELLM_TOML}: `{}` is not a table, so nothing was moved into it",
                path[..=depth].join(".")
            )
        })?;
        if is_last && explicit_leaf {
            next.set_implicit(false);
        }
        table = next;
    }
    Ok(table)
}

/// Comments above a removed table header (often the file's own header) move to the next
/// table, or to the end of the file: the migration never loses a comment of the user's.
fn keep_comments(document: &mut DocumentMut, removed: &Item) {
    // Only the removed table's own header comments: those of its sub-tables move with
    // them into litellm.toml.
    let Item::Table(removed) = removed else {
        return;
    };
    let (Some(position), Some(prefix)) = (
        removed.position(),
        removed
            .decor()
            .prefix()
            .and_then(|p| p.as_str())
            .map(str::to_string),
    ) else {
        return;
    };
    if !prefix.contains('#') {
        return;
    }
    {
        let mut moved = false;
        let mut best = isize::MAX;
        visit_tables(document.as_table_mut(), &mut |table: &mut Table| {
            if let Some(p) = table.position()
                && p > position
                && p < best
                && !table.is_implicit()
            {
                best = p;
            }
        });
        visit_tables(document.as_table_mut(), &mut |table: &mut Table| {
            if table.position() == Some(best) && !moved {
                let existing = table
                    .decor()
                    .prefix()
                    .and_then(|p| p.as_str())
                    .unwrap_or("")
                    .to_string();
                table.decor_mut().set_prefix(format!("{prefix}{existing}"));
                moved = true;
            }
        });
        if best == isize::MAX {
            let trailing = document.trailing().as_str().unwrap_or("").to_string();
            document.set_trailing(format!("{trailing}{prefix}"));
        }
    }
}

fn visit_tables(table: &mut Table, visit: &mut dyn FnMut(&mut Table)) {
    visit(table);
    for (_, child) in table.iter_mut() {
        if let Item::Table(child) = child {
            visit_tables(child, visit);
        }
    }
}

/// A copy of `item` with tables rebuilt, so a table moved from config.toml is written in
/// litellm.toml's order instead of at its old position.
fn fresh(item: &Item) -> Item {
    match item {
        Item::Table(table) => {
            let mut new = Table::new();
            new.set_implicit(table.is_implicit() && table.iter().all(|(_, i)| i.is_table()));
            if let Some(prefix) = table.decor().prefix().and_then(|p| p.as_str())
                && prefix.contains('#')
            {
                new.decor_mut().set_prefix(prefix.to_string());
            }
            for (key, child) in table.iter() {
                match table.key(key) {
                    Some(formatted) => {
                        new.insert_formatted(formatted, fresh(child));
                    }
                    None => {
                        new.insert(key, fresh(child));
                    }
                }
            }
            Item::Table(new)
        }
        other => other.clone(),
    }
}

/// The plain TOML value of an item, to compare values whatever their formatting.
fn item_value(item: &Item) -> Option<toml::Value> {
    let mut document = DocumentMut::new();
    document.insert("v", fresh(item));
    let table: toml::Table = toml::from_str(&document.to_string()).ok()?;
    table.get("v").cloned()
}

/// Migrates `$CODEX_HOME` in place. `Ok(None)` when there was nothing to move.
pub fn migrate_codex_home(codex_home: &Path) -> Result<Option<MigrationReport>, String> {
    migrate_with(codex_home, &mut |_| {})
}

/// Points of a migration where tests run another start or stock codex in between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// config.toml read and the move computed.
    Planned,
    /// The backup's name chosen.
    BackupNamed,
    /// Just before config.toml is replaced.
    ConfigReplace,
}

fn migrate_with(
    codex_home: &Path,
    hook: &mut dyn FnMut(Step),
) -> Result<Option<MigrationReport>, String> {
    let config_path = codex_home.join(CONFIG_TOML);
    let Ok(config_text) = std::fs::read_to_string(&config_path) else {
        return Ok(None);
    };
    let litellm_path = codex_home.join(LITELLM_TOML);
    let litellm_text = match std::fs::read_to_string(&litellm_path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(err) => return Err(format!("{}: cannot be read: {err}", litellm_path.display())),
    };
    let Some(plan) = plan(&config_text, &litellm_text)
        .map_err(|err| format!("{}: {err}", codex_home.display()))?
    else {
        return Ok(None);
    };
    hook(Step::Planned);
    let backup = free_backup_path(&config_path);
    hook(Step::BackupNamed);
    std::fs::copy(&config_path, &backup).map_err(|err| {
        format!(
            "nothing was moved: could not back up {} to {}: {err}",
            config_path.display(),
            backup.display()
        )
    })?;
    // litellm.toml first: if the second write fails, the next run finds the same values in
    // both files and finishes the move.
    write_atomically(&litellm_path, &plan.litellm_toml)?;
    hook(Step::ConfigReplace);
    write_atomically(&config_path, &plan.config_toml)?;
    Ok(Some(MigrationReport {
        moved: plan.moved,
        backup,
        litellm_toml: litellm_path,
    }))
}

fn free_backup_path(config_path: &Path) -> PathBuf {
    let base = format!("{}.before-litellm-toml", config_path.display());
    let mut candidate = PathBuf::from(&base);
    let mut n = 1;
    while candidate.exists() {
        candidate = PathBuf::from(format!("{base}.{n}"));
        n += 1;
    }
    candidate
}

/// Writes through a symlink to its target (dotfile managers link config.toml), via a
/// temporary file in the same folder and a rename, keeping the file's permissions.
fn write_atomically(path: &Path, text: &str) -> Result<(), String> {
    let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let folder = target.parent().unwrap_or_else(|| Path::new("."));
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "config".to_string());
    let temporary = folder.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        std::fs::write(&temporary, text)?;
        if let Ok(metadata) = std::fs::metadata(&target) {
            std::fs::set_permissions(&temporary, metadata.permissions())?;
        }
        std::fs::rename(&temporary, &target)
    })();
    result.map_err(|err| {
        let _ = std::fs::remove_file(&temporary);
        format!("could not write {}: {err}", target.display())
    })
}

#[cfg(test)]
#[path = "migrate_tests.rs"]
mod tests;
