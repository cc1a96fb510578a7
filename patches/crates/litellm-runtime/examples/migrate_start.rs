//! The migration step of a codex-litellm start, alone: `migrate_start <CODEX_HOME>` moves
//! the settings, prints what a start prints and exits as a start would (1 on an error).
//! For trying the migration on a copy of a real `$CODEX_HOME`.

fn main() {
    let Some(home) = std::env::args_os().nth(1) else {
        eprintln!("usage: migrate_start <CODEX_HOME>");
        std::process::exit(2);
    };
    match codex_litellm_runtime::migrate::migrate_codex_home(std::path::Path::new(&home)) {
        Ok(Some(outcome)) => eprintln!("{}", outcome.message()),
        Ok(None) => {}
        Err(err) => {
            eprintln!("codex-litellm: {err}");
            std::process::exit(1);
        }
    }
}
