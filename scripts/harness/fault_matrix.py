"""The fault matrix (scripts/fault-matrix.sh): for each fault kind, N bounded turns of
`codex exec`, each with one tool call, against the mock server misbehaving on purpose;
a table of what happened. See docs/RELIABILITY.md."""

import argparse
import base64
import json
import pathlib
import random
import shutil
import sys
import tempfile
import time

import codex_harness as h

FAULT_KINDS = (
    "429-retry-after", "429-no-retry-after", "500", "502", "503", "refused",
    "reset-random", "cut-close", "stall", "error-in-stream", "malformed-chunk",
    "invalid-utf8", "oversized", "slow-trickle",
)
# The bridge's answer cap in the matrix; the oversized answer is twice that.
CAP_BYTES = 1 << 20
IDLE_TIMEOUT_SECS = 10


def error_body(message):
    return {"error": {"message": message, "type": "fault_matrix", "code": None}}


def turn_entries(kind, k, rng):
    """The mock's entries for turn k: the fault (once), the tool call, the answer."""
    marker, call = f"FM-TURN-{k}.", f"call_fm_{k}"
    token = f"fm-{k}-{rng.getrandbits(64):016x}"
    first = {"body_contains": [marker], "body_not_contains": [call]}
    tool = {"match": first, "delta_chars": 4, "tool_calls": [
        {"id": call, "name": "exec_command", "arguments": {"cmd": f"echo {token} >> calls.log"}}]}
    answer = {"match": {"body_contains": [call]}, "text": f"Turn {k} done."}
    chunk = {"id": "x", "object": "chat.completion.chunk", "created": 1, "model": h.MODEL,
             "choices": [{"index": 0, "delta": {"role": "assistant", "content": "par"}}]}
    fault = None
    if kind.startswith("429"):
        fault = {"status": 429, "json": error_body("rate limited (fault matrix)")}
        if kind == "429-retry-after":
            fault["headers"] = {"retry-after": "1"}
    elif kind in ("500", "502", "503"):
        fault = {"status": int(kind), "json": error_body(f"server error {kind} (fault matrix)")}
    elif kind == "reset-random":
        fault = dict(tool, cut_after_bytes=rng.randint(20, 900))
    elif kind == "cut-close":
        fault = dict(tool, cut_after_bytes=rng.randint(20, 900), framing="close")
    elif kind == "stall":
        fault = dict(tool, stall_after_events=rng.randint(1, 8), hold_open_max_ms=60_000)
    elif kind == "error-in-stream":
        fault = {"sse": [chunk, {"error": {"message": "upstream overloaded (fault matrix)", "code": "503"}}]}
    elif kind == "malformed-chunk":
        fault = {"sse": [chunk, "{not json"]}
    elif kind == "invalid-utf8":
        raw = b'data: {"choices":[{"index":0,"delta":{"content":"\xc3\x28"}}]}\n\n'
        fault = {"raw_bytes_b64": base64.b64encode(raw).decode(),
                 "headers": {"content-type": "text/event-stream"}}
    elif kind == "oversized":
        fault = {"text": "x" * (2 * CAP_BYTES), "delta_chars": 65536}
    elif kind == "slow-trickle":
        tool = dict(tool, delta_chars=2, chunk_delay_ms=250)
    if fault is not None:
        fault = dict(fault, match=first)
        return token, [fault, tool, answer]
    return token, [tool, answer]


def scenario(kind, turns, seed):
    rng = random.Random(f"{seed}:{kind}")
    tokens, entries = {}, []
    for k in range(1, turns + 1):
        tokens[k], more = turn_entries(kind, k, rng)
        entries += more
    return tokens, {"comment": f"fault matrix: {kind}", "responses": entries, "responses_api": True,
                    "fallback": {"status": 400, "json": error_body("fault matrix: no scripted response matches")}}


def error_line(err):
    """The last `ERROR: ...` line (Codex's own report of a failed turn), else any error line."""
    lines = [l.strip() for l in err.splitlines() if l.strip()]
    errors = [l for l in lines if l.startswith("ERROR:")] or [l for l in lines if "error" in l.lower()]
    return errors[-1][:240] if errors else ""


def judge(run, k, token, ws, key):
    """One turn's outcome (completed / failed / wrong / hung / panicked) and its tool runs.
    A call that reached Codex with half its arguments either ran (a line that is not the
    whole token) or was refused by Codex's argument parser; both count as half arguments."""
    lines = (ws / "calls.log").read_text().splitlines() if (ws / "calls.log").exists() else []
    runs = sum(1 for l in lines if l == token)
    half_ran = sum(1 for l in lines if l.startswith(f"fm-{k}-") and l != token)
    half_refused = run["err"].count("failed to parse function arguments")
    text = run["out"] + run["err"]
    answered = run["out"].strip()
    if run["timed_out"]:
        outcome = "hung"
    elif "panicked at" in run["err"]:
        outcome = "panicked"
    elif run["rc"] == 0 and answered.endswith(f"Turn {k} done.") and runs == 1:
        outcome = "completed"
    elif run["rc"] != 0 or (not answered and "ERROR:" in run["err"]):
        outcome = "failed" if error_line(run["err"]) else "failed-silently"
    else:
        outcome = "wrong"  # ended "well" with a lost tool call, or an empty or cut answer
    return {"turn": k, "outcome": outcome, "rc": run["rc"], "secs": round(run["secs"], 2),
            "tool_runs": runs, "half_args": half_ran + half_refused, "key_leaked": key in text,
            "error": error_line(run["err"]), "answer": answered[-160:]}


def run_cell(args, client, kind, proxy, port, workdir):
    binary = args.stock if client.startswith("stock") else args.codex_litellm
    cell = workdir / f"{client}.{kind}"
    home, ws = cell / "home", cell / "ws"
    if client.endswith("via-proxy"):
        base_url, key = proxy.url, proxy.key
    else:
        base_url, key = f"http://127.0.0.1:{port}/v1", h.API_KEY
    h.write_home(home, client, base_url,
                 bridge={"idle_timeout_secs": IDLE_TIMEOUT_SECS, "max_response_bytes": CAP_BYTES},
                 stock_provider={"stream_idle_timeout_ms": IDLE_TIMEOUT_SECS * 1000})
    env = h.client_env(client, base_url, key)
    tokens, scn = scenario(kind, args.turns, args.seed)
    turns = []
    mock = h.Mock(args.mock, port, scn, cell / "mock") if kind != "refused" else None
    if mock:
        mock.__enter__()
    try:
        for k in range(1, args.turns + 1):
            run = h.run_exec(binary, home, ws, env, f"FM-TURN-{k}. Run the command, then say you are done.",
                             args.turn_timeout)
            (cell / f"turn{k}.out").write_text(run["out"])
            (cell / f"turn{k}.err").write_text(run["err"])
            turns.append(judge(run, k, tokens[k], ws, key))
    finally:
        if mock:
            mock.__exit__(None, None, None)
    files, problems = h.rollout_problems(home)
    result = {"client": client, "kind": kind, "turns": turns, "rollout_files": files,
              "rollout_problems": problems[:5]}
    summary = " ".join(t["outcome"] for t in turns)
    h.log(f"  {client:18} {kind:19} {summary}  (rollout files {files}, invalid lines {len(problems)})")
    return result


def table(results, turns):
    head = ("| fault | client | completed | failed (clear error) | wrong answer | hung | panicked "
            "| tool twice | half arguments | rollout JSONL |")
    rows = [head, "|" + " --- |" * 10]
    for r in results:
        count = lambda o: sum(1 for t in r["turns"] if t["outcome"] == o)  # noqa: E731
        failed = count("failed")
        silent = count("failed-silently")
        twice = sum(1 for t in r["turns"] if t["tool_runs"] > 1)
        half = sum(t["half_args"] for t in r["turns"])
        rollout = "valid" if not r["rollout_problems"] else f"INVALID ({len(r['rollout_problems'])})"
        if r["rollout_files"] == 0:
            rollout = "none written"
        failed_cell = f"{failed}" + (f" (+{silent} without a message)" if silent else "")
        rows.append(f"| {r['kind']} | {r['client']} | {count('completed')}/{turns} | {failed_cell} "
                    f"| {count('wrong')} | {count('hung')} | {count('panicked')} | {twice} | {half} | {rollout} |")
    return "\n".join(rows)


def bad(results):
    """Cells that break a must-be-zero rule."""
    out = []
    for r in results:
        for t in r["turns"]:
            why = [w for w, cond in (("hung", t["outcome"] == "hung"), ("panicked", t["outcome"] == "panicked"),
                                     ("tool ran twice", t["tool_runs"] > 1), ("half arguments", t["half_args"]),
                                     ("key leaked", t["key_leaked"])) if cond]
            if why:
                out.append(f"{r['client']} {r['kind']} turn {t['turn']}: {', '.join(why)}")
        if r["rollout_problems"]:
            out.append(f"{r['client']} {r['kind']}: invalid rollout lines {r['rollout_problems']}")
    return out


def main():
    p = argparse.ArgumentParser(prog="scripts/fault-matrix.sh", description=__doc__)
    p.add_argument("--codex-litellm", help="a codex-litellm binary")
    p.add_argument("--stock", help="a stock codex binary of the same upstream tag")
    p.add_argument("--clients", default=None,
                   help="comma-separated, from: litellm-direct, litellm-via-proxy, stock-via-proxy "
                        "(default: litellm-direct and litellm-via-proxy with --codex-litellm, "
                        "stock-via-proxy with --stock)")
    p.add_argument("--kinds", default=",".join(FAULT_KINDS), help="comma-separated fault kinds (default: all)")
    p.add_argument("--turns", type=int, default=3, help="turns per fault kind and client (default 3)")
    p.add_argument("--turn-timeout", type=float, default=120, help="seconds before a turn counts as hung")
    p.add_argument("--seed", type=int, default=11, help="seed of the random cut offsets (default 11)")
    p.add_argument("--keep", action="store_true", help="keep the work directory and say where")
    p.add_argument("--json", help="also write every turn's outcome to this JSON file")
    args = p.parse_args()
    h.exit_on_signals()
    if not (args.codex_litellm or args.stock):
        p.error("give --codex-litellm BIN, --stock BIN or both")
    if args.clients:
        clients = [c for c in args.clients.split(",") if c]
    else:
        clients = (["litellm-direct", "litellm-via-proxy"] if args.codex_litellm else []) + \
                  (["stock-via-proxy"] if args.stock else [])
    for c in clients:
        if c not in h.CLIENTS or c == "stock-direct":
            p.error(f"unknown client {c!r} (clients: litellm-direct, litellm-via-proxy, stock-via-proxy)")
        binary = args.stock if c.startswith("stock") else args.codex_litellm
        if not binary:
            p.error(f"client {c} needs {'--stock' if c.startswith('stock') else '--codex-litellm'}")
    kinds = [k for k in args.kinds.split(",") if k]
    for k in kinds:
        if k not in FAULT_KINDS:
            p.error(f"unknown fault kind {k!r} (kinds: {', '.join(FAULT_KINDS)})")
    if args.turns < 1 or args.turns > 50:
        p.error("--turns must be 1..50")
    for name in ("stock", "codex_litellm"):
        path = getattr(args, name)
        if path:
            path = shutil.which(path) or path
            if not pathlib.Path(path).is_file():
                p.error(f"not an executable file: {path}")
            setattr(args, name, str(pathlib.Path(path).resolve()))
    args.mock = h.mock_binary()

    workdir = pathlib.Path(tempfile.mkdtemp(prefix="codex-litellm-faults."))
    port = h.free_port()
    started = time.monotonic()
    results = []
    proxy = h.Proxy(port, workdir / "proxy") if any(c.endswith("via-proxy") for c in clients) else None
    try:
        if proxy:
            proxy.__enter__()
        h.log(f"fault matrix: {len(kinds)} kinds x {len(clients)} clients x {args.turns} turns, seed {args.seed}")
        for kind in kinds:
            for client in clients:
                results.append(run_cell(args, client, kind, proxy, port, workdir))
    finally:
        if proxy:
            proxy.__exit__(None, None, None)
        if args.keep:
            h.log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(table(results, args.turns))
    print(f"\n{len(kinds)} fault kinds x {len(clients)} clients x {args.turns} turns in "
          f"{time.monotonic() - started:.0f}s (seed {args.seed}, turn timeout {args.turn_timeout:.0f}s, "
          f"idle timeout {IDLE_TIMEOUT_SECS}s, answer cap {CAP_BYTES} bytes)")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(results, indent=1))
    problems = bad(results)
    for line in problems:
        print(f"MUST-BE-ZERO: {line}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
