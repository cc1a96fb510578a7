//! `codex-litellm-telemetry`: reads codex-litellm's debug telemetry files, serves the live
//! dashboard, watches for new exchanges.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = codex_litellm_telemetry_serve::run(
        "codex-litellm-telemetry",
        args,
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    );
    std::process::exit(code);
}
