"""Per-turn overhead and peak memory (scripts/overhead-bench.sh), side by side in one run
on the same mock content. See docs/PERFORMANCE.md."""

import argparse
import json
import pathlib
import shutil
import sys
import tempfile
import time

import codex_harness as h

ANSWER = "The command ran. " * 64  # about 1 KB of text, in 16-character deltas
MB = 1 << 20


def turn_entries(tag):
    marker, call = f"BENCH-{tag}.", f"call_bench_{tag}"
    return [
        {"match": {"body_contains": [marker], "body_not_contains": [call]}, "delta_chars": 16,
         "tool_calls": [{"id": call, "name": "exec_command", "arguments": {"cmd": "true"}}]},
        {"match": {"body_contains": [call]}, "delta_chars": 16, "text": ANSWER},
    ]


def setup_client(client, args, port, proxy, workdir, bridge=None):
    binary = args.stock if client.startswith("stock") else args.codex_litellm
    if client.endswith("via-proxy"):
        base_url, key = proxy.url, proxy.key
    else:
        base_url, key = f"http://127.0.0.1:{port}/v1", h.API_KEY
    home = h.write_home(workdir / client / "home", client, base_url, bridge=bridge)
    return binary, home, workdir / client / "ws", h.client_env(client, base_url, key)


def overhead(args, clients, port, proxy, workdir):
    rounds = args.warmup + args.turns
    entries = [e for r in range(rounds) for c in clients for e in turn_entries(f"{c}-{r}")]
    scn = {"comment": "overhead benchmark", "responses": entries, "responses_api": True,
           "fallback": {"status": 400, "json": {"error": {"message": "bench: no scripted response matches"}}}}
    setups = {c: setup_client(c, args, port, proxy, workdir) for c in clients}
    times = {c: [] for c in clients}
    with h.Mock(args.mock, port, scn, workdir / "mock"):
        # Round-robin, so drift in machine load spreads evenly over the clients.
        for r in range(rounds):
            for c in clients:
                binary, home, ws, env = setups[c]
                run = h.run_exec(binary, home, ws, env, f"BENCH-{c}-{r}. Run the command.", args.turn_timeout)
                ok = run["rc"] == 0 and run["out"].strip() == ANSWER.strip()
                if not ok:
                    h.log(f"{c} round {r}: rc {run['rc']}: {run['err'][-400:]}")
                    raise SystemExit(f"error: {c} did not complete a benchmark turn (see above)")
                if r >= args.warmup:
                    times[c].append(run["secs"])
            h.log(f"round {r + 1}/{rounds}: " + ", ".join(f"{c} {times[c][-1]:.3f}s" if times[c] else c for c in clients))
    floor = h.median(times["stock-direct"]) if "stock-direct" in times else None
    print(f"Per-turn overhead: one `codex exec` turn = one tool call + a 1 KB answer (2 requests), "
          f"{args.turns} turns each (+{args.warmup} warm-up), clients interleaved\n")
    print("| client | median s/turn | min | max | ratio to floor |")
    print("| --- | --- | --- | --- | --- |")
    for c in clients:
        m = h.median(times[c])
        ratio = f"{m / floor:.2f}x" if floor else "n/a (no floor)"
        print(f"| {c} | {m:.3f} | {min(times[c]):.3f} | {max(times[c]):.3f} | {ratio} |")


def pad_rollout(home, total_bytes):
    """Grows the last session's history to about total_bytes: copies of its first user
    message, each holding 1 MB of text (Codex refuses a single input over 1 MiB), inserted
    after it in the rollout file, as if earlier turns had sent them."""
    files = sorted((pathlib.Path(home) / "sessions").rglob("*.jsonl"))
    if not files:
        raise SystemExit(f"error: no session rollout under {home}/sessions to grow")
    path = files[-1]
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines):
        record = json.loads(line)
        payload = record.get("payload", {})
        if record.get("type") == "response_item" and payload.get("role") == "user":
            break
    else:
        raise SystemExit(f"error: no user message in {path}")
    copies = []
    for n in range(max(1, total_bytes // MB)):
        filler = dict(record, payload=dict(payload, content=[{"type": "input_text", "text": f"{n}:" + "h" * (MB - 16)}]))
        copies.append(json.dumps(filler))
    path.write_text("\n".join(lines[: i + 1] + copies + lines[i + 1:]) + "\n")


def memory(args, clients, port, proxy, workdir):
    """Peak RSS of one turn with a big answer, and of one resumed over a big history."""
    size = args.memory_mb * MB
    rows = []
    cases = []
    for c in clients:
        cases.append((c, "answer", None))
        if not c.startswith("stock"):
            cases.append((c, "answer", size // 2))  # the cap below the answer: a clear error
        cases.append((c, "history", None))
    for c, what, cap in cases:
        tag = f"{c}-{what}-{cap}"
        if what == "answer":
            entries = [{"delta_chars": MB, "text": "y" * size}]
        else:
            entries = [{"match": {"body_not_contains": ["RESUMED."]}, "text": "First turn."},
                       {"match": {"body_contains": ["RESUMED."]}, "text": "Read it all."}]
        scn = {"responses": entries, "responses_api": True,
               "fallback": {"status": 400, "json": {"error": {"message": "bench: no scripted response matches"}}}}
        bridge = {"max_response_bytes": cap} if cap else None
        binary, home, ws, env = setup_client(c, args, port, proxy, workdir / tag, bridge=bridge)
        with h.Mock(args.mock, port, scn, workdir / tag / "mock") as mock:
            if what == "history":
                first = h.run_exec(binary, home, ws, env, "Say it.", args.turn_timeout)
                if first["rc"] != 0:
                    raise SystemExit(f"error: {c}: the first turn failed: {first['err'][-400:]}")
                pad_rollout(home, size)
                run = h.run_exec(binary, home, ws, env, "RESUMED. Read it all.", args.turn_timeout,
                                 extra_args=["resume", "--last"])
                sent = max((r.get("body_len", 0) for r in mock.requests()), default=0)
            else:
                run = h.run_exec(binary, home, ws, env, "Say it.", args.turn_timeout)
        if run["timed_out"]:
            result = "HUNG"
        elif "panicked at" in run["err"]:
            result = "PANICKED"
        elif run["rc"] == 0:
            result = f"completed ({len(run['out'].strip()) // MB} MB answer)" if what == "answer" else \
                f"completed (largest request {sent / MB:.0f} MB)"
        else:
            lines = [l.strip() for l in run["err"].splitlines() if "error" in l.lower()]
            result = "failed: " + (lines[-1][:200] if lines else f"exit {run['rc']}, no message")
        rss = run["max_rss_kb"] / 1024 if run["max_rss_kb"] else float("nan")
        label = f"{args.memory_mb} MB {what}" + (f", cap {cap // MB} MB" if cap else "")
        rows.append((c, label, rss, run["secs"], result))
        h.log(f"{c:18} {label:28} peak RSS {rss:7.0f} MB  {run['secs']:.1f}s  {result}")
    print("\nPeak memory of one turn (peak RSS of the codex process, wait4 ru_maxrss)\n")
    print("| client | case | peak RSS MB | seconds | result |")
    print("| --- | --- | --- | --- | --- |")
    for c, label, rss, secs, result in rows:
        print(f"| {c} | {label} | {rss:.0f} | {secs:.1f} | {result} |")


def main():
    p = argparse.ArgumentParser(prog="scripts/overhead-bench.sh", description=__doc__)
    p.add_argument("--stock", help="a stock codex binary (the floor: stock-direct)")
    p.add_argument("--codex-litellm", help="a codex-litellm binary")
    p.add_argument("--clients", help="comma-separated (default: every client the binaries allow: "
                                     "stock-direct, litellm-direct, stock-via-proxy, litellm-via-proxy)")
    p.add_argument("--turns", type=int, default=10, help="measured turns per client (default 10)")
    p.add_argument("--warmup", type=int, default=1, help="unmeasured turns first (default 1)")
    p.add_argument("--turn-timeout", type=float, default=300)
    p.add_argument("--memory", action="store_true", help="measure peak memory instead of per-turn time")
    p.add_argument("--memory-mb", type=int, default=50, help="size of the big answer / history (default 50)")
    args = p.parse_args()
    h.exit_on_signals()
    if not (args.stock or args.codex_litellm):
        p.error("give --stock BIN, --codex-litellm BIN or both")
    for name in ("stock", "codex_litellm"):
        path = getattr(args, name)
        if path:
            if not pathlib.Path(path).is_file():
                p.error(f"not an executable file: {path}")
            setattr(args, name, str(pathlib.Path(path).resolve()))
    if args.clients:
        clients = [c for c in args.clients.split(",") if c]
    else:
        clients = [c for c in h.CLIENTS if (args.stock if c.startswith("stock") else args.codex_litellm)]
    for c in clients:
        if c not in h.CLIENTS:
            p.error(f"unknown client {c!r} (clients: {', '.join(h.CLIENTS)})")
        if not (args.stock if c.startswith("stock") else args.codex_litellm):
            p.error(f"client {c} needs {'--stock' if c.startswith('stock') else '--codex-litellm'}")
    if not 1 <= args.turns <= 200 or not 1 <= args.memory_mb <= 512:
        p.error("--turns must be 1..200 and --memory-mb 1..512")
    args.mock = h.mock_binary()
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="codex-litellm-bench."))
    port = h.free_port()
    proxy = h.Proxy(port, workdir / "proxy") if any(c.endswith("via-proxy") for c in clients) else None
    started = time.monotonic()
    try:
        if proxy:
            proxy.__enter__()
        (memory if args.memory else overhead)(args, clients, port, proxy, workdir)
    finally:
        if proxy:
            proxy.__exit__(None, None, None)
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"\n({time.monotonic() - started:.0f}s in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
