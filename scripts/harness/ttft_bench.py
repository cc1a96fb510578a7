"""Time to first visible delta and total time of one answer (scripts/ttft-bench.sh), side
by side in one run on the same mock content streamed at the same rate. See
docs/PERFORMANCE.md ("Time to first delta")."""

import argparse
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

import codex_harness as h

# What a local model writes: reasoning, then the answer, a few characters per chunk.
REASONING = "I should explain it step by step. " * 4
ANSWER = "Streaming matters when a model writes slowly. " * 12

# (name, client, [litellm.bridge] keys)
VARIANTS = {
    "stock": ("stock-direct", None),
    "buffered": ("litellm-direct", {"mode": "buffered"}),
    "live": ("litellm-direct", {"mode": "live"}),
}


def first_visible_and_total(binary, home, ws, env, prompt, timeout):
    """Runs `codex exec --json`; returns (seconds to the first reasoning or agent-message
    event on stdout, seconds to exit, the final agent message)."""
    ws.mkdir(parents=True, exist_ok=True)
    args = [binary, "exec", "--json", "--skip-git-repo-check",
            "--dangerously-bypass-approvals-and-sandbox", prompt]
    started = time.monotonic()
    proc = subprocess.Popen(args, cwd=ws, env=dict(env, CODEX_HOME=str(home)),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    first, message = None, None
    try:
        for raw in proc.stdout:
            if time.monotonic() - started > timeout:
                break
            try:
                event = json.loads(raw)
            except ValueError:
                continue
            item = event.get("item") or {}
            if item.get("type") in ("reasoning", "agent_message"):
                if first is None:
                    first = time.monotonic() - started
                if item.get("type") == "agent_message" and event.get("type") == "item.completed":
                    message = item.get("text")
        proc.wait(timeout=max(1.0, timeout - (time.monotonic() - started)))
    finally:
        h.kill_group(proc)
    total = time.monotonic() - started
    if proc.returncode != 0 or first is None:
        raise SystemExit(f"error: {binary} exited {proc.returncode} without a visible answer")
    return first, total, message


def main():
    p = argparse.ArgumentParser(prog="scripts/ttft-bench.sh", description=__doc__)
    p.add_argument("--stock", required=True, help="a stock codex binary (the floor)")
    p.add_argument("--codex-litellm", help="a codex-litellm binary (buffered and live rows)")
    p.add_argument("--runs", type=int, default=5, help="measured runs per variant (default 5)")
    p.add_argument("--warmup", type=int, default=1, help="unmeasured runs first (default 1)")
    p.add_argument("--delta-chars", type=int, default=4, help="characters per chunk (default 4)")
    p.add_argument("--chunk-delay-ms", type=int, default=25,
                   help="pause between chunks (default 25: 4 chars / 25 ms, about 40 tokens/s)")
    p.add_argument("--turn-timeout", type=float, default=300)
    args = p.parse_args()
    h.exit_on_signals()
    if not 1 <= args.runs <= 100 or not 1 <= args.delta_chars <= 4096 or not 0 <= args.chunk_delay_ms <= 10_000:
        p.error("--runs must be 1..100, --delta-chars 1..4096, --chunk-delay-ms 0..10000")
    for name in ("stock", "codex_litellm"):
        path = getattr(args, name)
        if path:
            if not (pathlib.Path(path).is_file() and os.access(path, os.X_OK)):
                p.error(f"not an executable file: {path}")
            setattr(args, name, str(pathlib.Path(path).resolve()))
    variants = ["stock"] + (["buffered", "live"] if args.codex_litellm else [])
    rounds = args.warmup + args.runs
    entry = {"reasoning_content": REASONING, "text": ANSWER, "delta_chars": args.delta_chars,
             "chunk_delay_ms": args.chunk_delay_ms}
    scenario = {"comment": "ttft benchmark", "responses_api": True,
                "responses": [dict(entry, match={"body_contains": [f"TTFT-{v}-{r}."]})
                              for r in range(rounds) for v in variants],
                "fallback": {"status": 400, "json": {"error": {"message": "bench: no scripted response matches"}}}}
    mock = h.mock_binary()
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="codex-litellm-ttft."))
    port = h.free_port()
    base_url = f"http://127.0.0.1:{port}/v1"
    setups = {}
    for v in variants:
        client, bridge = VARIANTS[v]
        binary = args.stock if v == "stock" else args.codex_litellm
        home = h.write_home(workdir / v / "home", client, base_url, bridge=bridge)
        setups[v] = (binary, home, workdir / v / "ws", h.client_env(client, base_url, h.API_KEY))
    firsts = {v: [] for v in variants}
    totals = {v: [] for v in variants}
    started = time.monotonic()
    try:
        with h.Mock(mock, port, scenario, workdir / "mock"):
            # Round-robin, so drift in machine load spreads over the variants.
            for r in range(rounds):
                for v in variants:
                    binary, home, ws, env = setups[v]
                    first, total, message = first_visible_and_total(
                        binary, home, ws, env, f"TTFT-{v}-{r}. Explain.", args.turn_timeout)
                    if (message or "").strip() != ANSWER.strip():
                        raise SystemExit(f"error: {v} answered {message!r:.200}, not the scripted answer")
                    if r >= args.warmup:
                        firsts[v].append(first)
                        totals[v].append(total)
                h.log(f"round {r + 1}/{rounds}: " + ", ".join(
                    f"{v} {firsts[v][-1]:.2f}/{totals[v][-1]:.2f}s" if firsts[v] else v for v in variants))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    chars = len(REASONING) + len(ANSWER)
    stream_secs = chars / args.delta_chars * args.chunk_delay_ms / 1000
    print(f"Time to first visible delta and total, one `codex exec --json` answer: {len(REASONING)} "
          f"characters of reasoning + {len(ANSWER)} of text in {args.delta_chars}-character chunks "
          f"every {args.chunk_delay_ms} ms (about {stream_secs:.1f} s of streaming); medians of "
          f"{args.runs} runs (+{args.warmup} warm-up), variants interleaved\n")
    print("| variant | first visible (s) | ratio to floor | total (s) | ratio to floor |")
    print("| --- | --- | --- | --- | --- |")
    floor_first, floor_total = h.median(firsts["stock"]), h.median(totals["stock"])
    for v in variants:
        f, t = h.median(firsts[v]), h.median(totals[v])
        label = {"stock": "stock Codex, Responses API (floor)", "buffered": "codex-litellm, buffered",
                 "live": "codex-litellm, live"}[v]
        print(f"| {label} | {f:.3f} | {f / floor_first:.2f}x | {t:.3f} | {t / floor_total:.2f}x |")
    print(f"\n({time.monotonic() - started:.0f}s in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
