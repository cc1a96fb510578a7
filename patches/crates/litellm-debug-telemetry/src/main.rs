//! `codex-litellm-telemetry`: reads codex-litellm's debug telemetry files.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = codex_litellm_debug_telemetry::run_reader_named(
        "codex-litellm-telemetry",
        args,
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    );
    std::process::exit(code);
}
