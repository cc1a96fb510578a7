//! Moves codex-litellm's settings out of config.toml into litellm.toml.
//!
//! Older releases kept them in config.toml: a `[litellm]` table, `litellm_bridge` sub-tables
//! under `[model_providers.<id>]`, and (from the community patch set) `wire_api = "chat"`.
//! Stock `codex` 0.171 warns about the first two on every run and every stock release since
//! the chat removal refuses the third. On a codex-litellm run they move to litellm.toml.
//! The rest of config.toml stays byte for byte (toml_edit, plus its BOM, line endings and
//! last newline, which toml_edit does not keep); each moved setting takes its comments
//! along (see `comments`). Running it again finds nothing to move.
//!
//! Writing it, with a second codex-litellm start or stock `codex` running at the same time:
//! 1. config.toml is read and the move computed; nothing to move ends it (most starts).
//! 2. The lock: `$CODEX_HOME/.litellm-migrate.lock` (created owner-only, never deleted),
//!    an OS lock (`File::try_lock`: flock, LockFileEx) held until the move ends and
//!    released by the system when the process ends, so a crash leaves no stale lock. If
//!    another start holds it, this one changes nothing and reads the settings as they are
//!    (`load_view` does the same move in memory; litellm.toml is always replaced before
//!    config.toml, so it reads a consistent pair).
//! 3. Under the lock: read and compute again. A read-only config.toml (a Nix store file
//!    behind a home-manager symlink) or one whose folder takes no new file is
//!    [`Outcome::NotMoved`]: a warning saying what to do, nothing written, the start goes on.
//! 4. The new config.toml is written beside its target (through symlinks) in a temporary
//!    file (`create_new`, owner-only, then the target's permissions) and synced.
//! 5. The backup `config.toml.before-litellm-toml` (`.1`, `.2`, ... if taken) is created
//!    with `create_new`, so no two starts ever write the same one; owner-only, synced.
//! 6. litellm.toml is replaced the same way (owner-only when new), the folder synced.
//! 7. config.toml is read once more: stock `codex` takes no lock and may have written it
//!    (a trusted folder). Changed: back to 3 from what it wrote (at most `ATTEMPTS`
//!    times), the backup rewritten. Unchanged: renamed over it, the folder synced.
//!
//! Any failure after 5 removes the backup (config.toml is unchanged): a start that cannot
//! move the settings leaves nothing behind, however often it runs.

use crate::settings::CONFIG_TOML;
use crate::settings::LITELLM_PROVIDER_ID;
use crate::settings::LITELLM_TOML;
use crate::settings::LitellmSettings;
use crate::settings::is_builtin_chat_provider;
use comments::TextForm;
use std::path::Path;
use std::path::PathBuf;
use toml_edit::DocumentMut;
use toml_edit::Item;
use toml_edit::Key;
use toml_edit::Table;
use toml_edit::TableLike;
use write::Backup;
use write::Lock;
use write::Locked;
use write::Staged;

mod comments;
mod write;

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
    let config_form = TextForm::of(config_text);
    let Ok(mut config) = TextForm::body(config_text).parse::<DocumentMut>() else {
        return Ok(None);
    };
    if legacy_settings_in(config_text).is_empty() {
        return Ok(None);
    }
    let litellm_form = if litellm_text.contains('\n') {
        TextForm::of(litellm_text)
    } else {
        TextForm::new_like(config_form)
    };
    let mut litellm = TextForm::body(litellm_text)
        .parse::<DocumentMut>()
        .map_err(|err| {
            format!("{LITELLM_TOML} is not valid TOML, so nothing was moved into it: {err}")
        })?;
    let mut moved = Vec::new();

    if let Some(index) = index_of(config.as_table(), "litellm") {
        let Some((key, mut legacy)) = config.remove_entry("litellm") else {
            return Ok(None);
        };
        let position = match &legacy {
            Item::Table(table) if !table.is_dotted() => table.position(),
            _ => None,
        };
        let (stays, mut above) = comments::entry_comments(Some(&key), &mut legacy, false);
        let Some(legacy) = legacy.as_table_like() else {
            return Err(format!(
                "{CONFIG_TOML}: `litellm` is not a table; remove it (codex-litellm's settings now live in {LITELLM_TOML})"
            ));
        };
        let mut keys = Vec::new();
        let mut previous: Option<&[&str]> = None;
        for (name, item) in legacy.iter() {
            let Some((_, destination)) = LEGACY_LITELLM_KEYS.iter().find(|(k, _)| *k == name)
            else {
                return Err(format!(
                    "{CONFIG_TOML}: [litellm] has `{name}`, which codex-litellm does not know, so nothing was moved. Fix or remove it, then run codex-litellm again (the keys are {})",
                    LEGACY_LITELLM_KEYS
                        .iter()
                        .map(|(k, _)| *k)
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            };
            // Comments above a setting after a blank line end the previous one (often
            // commented-out options): they go to the end of where that one went.
            let mut key = legacy.key(name).cloned();
            let mut item = item.clone();
            let decor = match (&mut item, &mut key) {
                (Item::Table(table), _) if !table.is_dotted() => Some(table.decor_mut()),
                (Item::Value(_), Some(key)) => Some(key.leaf_decor_mut()),
                _ => None,
            };
            if let Some(decor) = decor {
                let (ending, attached) = comments::split_prefix(comments::raw(decor.prefix()));
                decor.set_prefix(attached.concat());
                let lines = comments::comment_lines(&ending);
                let known = litellm.to_string().replace("\r\n", "\n");
                if !lines.is_empty() && !known.contains(&lines.concat()) {
                    match previous.and_then(|path| comments::table_at(&mut litellm, path)) {
                        Some(end) => comments::append_to_end(end, &lines),
                        None => above.extend(lines),
                    }
                }
            }
            put(
                &mut litellm,
                destination,
                key.as_ref(),
                &item,
                &mut above,
                &format!("[litellm] {name}"),
            )?;
            keys.push(destination.join("."));
            previous = Some(match item {
                Item::Table(_) => *destination,
                _ => &destination[..destination.len() - 1],
            });
        }
        // Comments of an empty `[litellm]` have nothing to go with: they stay.
        let stays = stays + &above.concat();
        match position {
            Some(_) => comments::keep_before_next_table(&mut config, position, &stays),
            None => comments::keep_in_config(&mut config, &[], index, None, &stays),
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

    let ids: Vec<String> = config
        .get("model_providers")
        .and_then(Item::as_table_like)
        .map(|providers| providers.iter().map(|(id, _)| id.to_string()).collect())
        .unwrap_or_default();
    for id in ids {
        let table_path = ["model_providers", id.as_str()];
        let provider_position = config
            .get("model_providers")
            .and_then(|providers| providers.get(&id))
            .and_then(Item::as_table)
            .and_then(Table::position);
        let Some(provider) = config
            .get_mut("model_providers")
            .and_then(Item::as_table_like_mut)
            .and_then(|providers| providers.get_mut(&id))
            .and_then(Item::as_table_like_mut)
        else {
            continue;
        };
        let mut keep = Vec::new();
        if let Some(index) = index_of_like(provider, "litellm_bridge") {
            let key = provider.key("litellm_bridge").cloned();
            if let Some(mut bridge) = provider.remove("litellm_bridge") {
                let position = match &bridge {
                    Item::Table(table) if !table.is_dotted() => table.position(),
                    _ => None,
                };
                let (stays, mut above) = comments::entry_comments(key.as_ref(), &mut bridge, true);
                put(
                    &mut litellm,
                    &["providers", &id, "bridge"],
                    None,
                    &bridge,
                    &mut above,
                    &format!("[model_providers.{id}.litellm_bridge]"),
                )?;
                keep.push((index, position, stays + &above.concat()));
                moved.push(format!(
                    "[model_providers.{id}.litellm_bridge] -> [providers.{id}.bridge]"
                ));
            }
        }
        if is_chat_wire_api(provider.get("wire_api"))
            && let Some(index) = index_of_like(provider, "wire_api")
        {
            let key = provider.key("wire_api").cloned();
            if let Some(mut wire_api) = provider.remove("wire_api") {
                let (mut stays, above) =
                    comments::entry_comments(key.as_ref(), &mut wire_api, false);
                if is_builtin_chat_provider(&id) {
                    // Nothing of it is written to litellm.toml: its comments stay.
                    stays.push_str(&above.concat());
                } else {
                    let table = ensure_table(&mut litellm, &["providers", &id], true)?;
                    comments::prepend_comments(table.decor_mut(), &above);
                }
                // Indexes count what is left: an earlier removal after this one moved up.
                for (earlier, _, _) in &mut keep {
                    if *earlier > index {
                        *earlier -= 1;
                    }
                }
                keep.push((index, None, stays));
                moved.push(format!(
                    "wire_api = \"chat\" in [model_providers.{id}] -> [providers.{id}] (removed from {CONFIG_TOML})"
                ));
            }
        }
        for (index, position, text) in keep {
            match position {
                Some(_) => comments::keep_before_next_table(&mut config, position, &text),
                None => comments::keep_in_config(
                    &mut config,
                    &table_path,
                    index,
                    provider_position,
                    &text,
                ),
            }
        }
    }

    let mut litellm_toml = litellm.to_string();
    if litellm_text.trim().is_empty() {
        // A new file does not start with the blank line before a header.
        litellm_toml = litellm_toml.trim_start_matches('\n').to_string();
    }
    let litellm_toml = litellm_form.apply(&litellm_toml);
    LitellmSettings::from_toml(&litellm_toml, LITELLM_TOML).map_err(|err| {
        format!(
            "nothing was moved: after the move {err}. Fix it in {CONFIG_TOML} (or remove it), then run codex-litellm again"
        )
    })?;
    Ok(Some(MigrationPlan {
        config_toml: config_form.apply(&config.to_string()),
        litellm_toml,
        moved,
    }))
}

fn index_of(table: &Table, key: &str) -> Option<usize> {
    table.iter().position(|(k, _)| k == key)
}

fn index_of_like(table: &dyn TableLike, key: &str) -> Option<usize> {
    table.iter().position(|(k, _)| k == key)
}

/// Sets `path` in `document` to `item`, unless the same value is already there (an earlier,
/// interrupted migration, which took the comments along too). A different value already
/// there is a conflict. `above`: comment lines for the lines above it, taken when used.
fn put(
    document: &mut DocumentMut,
    path: &[&str],
    source_key: Option<&Key>,
    item: &Item,
    above: &mut Vec<String>,
    what: &str,
) -> Result<(), String> {
    let (last, parents) = path
        .split_last()
        .ok_or_else(|| "empty destination".to_string())?;
    let parent = ensure_table(document, parents, !item.is_table())?;
    if let Some(existing) = parent.get(last) {
        if item_value(existing) == item_value(item) {
            above.clear();
            return Ok(());
        }
        return Err(format!(
            "{CONFIG_TOML} {what} and {LITELLM_TOML} `{}` both exist with different values, so nothing was moved. Keep one: delete {what} from {CONFIG_TOML} (codex-litellm reads {LITELLM_TOML}) or make them equal",
            path.join(".")
        ));
    }
    let above = std::mem::take(above);
    match item {
        Item::Table(table) => {
            parent.insert(last, Item::Table(comments::moved_table(table, above)));
        }
        Item::Value(value) => {
            let (key, value) = comments::moved_value(last, source_key, value, above);
            parent.insert_formatted(&key, Item::Value(value));
        }
        other => {
            parent.insert(last, other.clone());
        }
    }
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

/// The plain TOML value of an item, to compare values whatever their formatting.
fn item_value(item: &Item) -> Option<toml::Value> {
    let mut document = DocumentMut::new();
    let value = match item {
        Item::Table(table) => Item::Table(comments::moved_table(table, Vec::new())),
        other => other.clone(),
    };
    document.insert("v", value);
    let table: toml::Table = toml::from_str(&document.to_string()).ok()?;
    table.get("v").cloned()
}

/// What a start's migration did, for its one message on stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Moved(MigrationReport),
    /// Nothing was changed: the run reads the settings where they are (`load_view` does
    /// the same move in memory). The message says why and what to do.
    NotMoved(String),
}

impl Outcome {
    pub fn message(&self) -> String {
        match self {
            Self::Moved(report) => report.message(),
            Self::NotMoved(message) => message.clone(),
        }
    }
}

/// Migrates `$CODEX_HOME` in place. `Ok(None)`: nothing to move, or another start is
/// moving it right now. `Err` only for what the user must decide (see [`plan`]); a file
/// that cannot be written is an [`Outcome::NotMoved`], never a failed start.
pub fn migrate_codex_home(codex_home: &Path) -> Result<Option<Outcome>, String> {
    migrate_with(codex_home, &mut |_| {})
}

/// Points of a migration where tests run another start or stock codex in between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// config.toml read and the move computed.
    Planned,
    /// The backup's name taken.
    BackupNamed,
    /// Just before config.toml is checked once more and replaced.
    ConfigReplace,
}

/// How often config.toml may change under a migration (stock codex writing it) before it
/// gives up until the next start.
const ATTEMPTS: usize = 3;

fn migrate_with(codex_home: &Path, hook: &mut dyn FnMut(Step)) -> Result<Option<Outcome>, String> {
    let config_path = codex_home.join(CONFIG_TOML);
    let litellm_path = codex_home.join(LITELLM_TOML);
    // Checked before locking: most starts have nothing to move and create no lock file.
    if read_and_plan(codex_home)?.is_none() {
        return Ok(None);
    }
    let _lock = match Lock::take(codex_home) {
        Ok(Locked::Yes(lock)) => lock,
        // The other start moves them and says so; this one reads them as they are.
        Ok(Locked::Busy) => return Ok(None),
        Err(err) => {
            let lock = codex_home.join(write::LOCK_FILE);
            return Ok(Some(not_moved(&format!(
                "{} cannot be created: {err}",
                lock.display()
            ))));
        }
    };
    let config_target = write::resolve(&config_path);
    let litellm_target = write::resolve(&litellm_path);
    let mut backup: Option<Backup> = None;
    for _ in 0..ATTEMPTS {
        let (config_text, plan) = match read_and_plan(codex_home) {
            Ok(Some(planned)) => planned,
            // Another program removed the settings meanwhile, or wrote a conflict.
            Ok(None) => return Ok(give_up(backup, None)),
            Err(err) => {
                give_up(backup, None);
                return Err(err);
            }
        };
        hook(Step::Planned);
        let staged = match write::check_writable(&config_target)
            .and_then(|()| Staged::write(&config_target, &plan.config_toml))
        {
            Ok(staged) => staged,
            Err(err) => {
                let outcome = unwritable_config(&config_target, &err, &config_text, &litellm_path);
                return Ok(give_up(backup, Some(outcome)));
            }
        };
        let backed_up = match backup.take() {
            Some(mut backup) => backup.rewrite(&config_text).map(|()| backup),
            None => Backup::create(&config_path, &config_text),
        };
        let current = match backed_up {
            Ok(current) => current,
            Err(err) => {
                staged.discard();
                let why = format!("could not back up {}: {err}", config_path.display());
                return Ok(give_up(None, Some(not_moved(&why))));
            }
        };
        hook(Step::BackupNamed);
        // litellm.toml first: if config.toml is not replaced after it, the next start finds
        // the same values in both and finishes the move.
        let litellm_written = write::check_writable(&litellm_target)
            .and_then(|()| Staged::write(&litellm_target, &plan.litellm_toml))
            .and_then(Staged::commit);
        if let Err(err) = litellm_written {
            staged.discard();
            let why = format!("{} cannot be written: {err}", litellm_target.display());
            return Ok(give_up(Some(current), Some(not_moved(&why))));
        }
        hook(Step::ConfigReplace);
        // Stock codex takes no lock: if it wrote config.toml meanwhile (a trusted folder),
        // move again from what it wrote instead of replacing it.
        match std::fs::read_to_string(&config_path) {
            Ok(now) if now == config_text => {}
            _ => {
                staged.discard();
                backup = Some(current);
                continue;
            }
        }
        if let Err(err) = staged.commit() {
            let outcome = unwritable_config(&config_target, &err, &config_text, &litellm_path);
            return Ok(give_up(Some(current), Some(outcome)));
        }
        return Ok(Some(Outcome::Moved(MigrationReport {
            moved: plan.moved,
            backup: current.path,
            litellm_toml: litellm_path,
        })));
    }
    let why = format!(
        "{} changed {ATTEMPTS} times while they were moved (another program writing it)",
        config_path.display()
    );
    Ok(give_up(backup, Some(not_moved(&why))))
}

/// config.toml stays as it was: its backup would only be a second copy.
fn give_up(backup: Option<Backup>, outcome: Option<Outcome>) -> Option<Outcome> {
    if let Some(backup) = backup {
        backup.remove();
    }
    outcome
}

/// config.toml's text and the move out of it, when there is one.
fn read_and_plan(codex_home: &Path) -> Result<Option<(String, MigrationPlan)>, String> {
    let Ok(config_text) = std::fs::read_to_string(codex_home.join(CONFIG_TOML)) else {
        return Ok(None);
    };
    let litellm_path = codex_home.join(LITELLM_TOML);
    let litellm_text = match std::fs::read_to_string(&litellm_path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(err) => return Err(format!("{}: cannot be read: {err}", litellm_path.display())),
    };
    let plan = plan(&config_text, &litellm_text)
        .map_err(|err| format!("{}: {err}", codex_home.display()))?;
    Ok(plan.map(|plan| (config_text, plan)))
}

fn not_moved(why: &str) -> Outcome {
    Outcome::NotMoved(format!(
        "codex-litellm: its settings were not moved from {CONFIG_TOML} to {LITELLM_TOML}: {why}. This run reads them where they are; the next start tries again."
    ))
}

/// config.toml is read-only (a Nix store file behind a home-manager symlink, say): the
/// settings stay, and only the user can move them, at the source of the file.
fn unwritable_config(
    target: &Path,
    err: &std::io::Error,
    config_text: &str,
    litellm_path: &Path,
) -> Outcome {
    let settings = legacy_settings_in(config_text);
    // Codex's own config loader refuses it, whatever codex-litellm makes of it.
    let refused = if settings.iter().any(|s| s.starts_with("wire_api")) {
        " except `wire_api = \"chat\"`, which Codex refuses to load: that line must go first"
    } else {
        ""
    };
    Outcome::NotMoved(format!(
        "codex-litellm: {} cannot be written ({err}), so its codex-litellm settings stay there: {}. codex-litellm reads them from there{refused}. To move them yourself, write them in {} as docs/CONFIGURATION.md (\"Moving from an older release\") shows and delete them from {CONFIG_TOML}, or from what generates it (home-manager, a dotfiles repository).",
        target.display(),
        settings.join(", "),
        litellm_path.display()
    ))
}

#[cfg(test)]
#[path = "migrate_tests.rs"]
mod tests;
