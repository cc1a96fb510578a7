"""The telemetry dashboard in headless Chromium, driven by Selenium (chromium-driver).

Run by scripts/dashboard-browser-test.sh, which installs the browser, the driver and
selenium. Exits non-zero with a message saying what the page did not show.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zlib

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

T0 = 1_772_360_100_000  # 2026-03-01T10:15:00Z
SESSION = "019a7c3e-5b1f-7d20-a3c4-0e5f6a7b8c9d"
EARLIER = "0b1c2d3e-0000-7000-8000-000000000001"
SESSION_FILE = f"20260301T101500-{SESSION}.jsonl"
EARLIER_FILE = f"20260228T101500-{EARLIER}.jsonl"
LIVE = "11111111-2222-7333-8444-555555555555"
LIVE_FILE = f"20260301T110000-{LIVE}.jsonl"


def stamp(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + ".000Z"


def ok_attempt(n, total, first_byte=240):
    return {"attempt": n, "status": 200, "headers": {"x-request-id": f"req-{n}"},
            "headers_ms": 180, "first_byte_ms": first_byte, "total_ms": total,
            "bytes": 5121, "chunks": 40, "done_marker": True}


def limited_attempt(n, wait):
    a = {"attempt": n, "status": 429, "total_ms": 44, "bytes": 87, "chunks": 0,
         "done_marker": False,
         "fault": {"kind": "http_status", "status": 429, "message": "Too Many Requests",
                   "description": "the backend answered HTTP 429 Too Many Requests: Too Many Requests"}}
    if wait:
        a["retry_wait_ms"] = wait
        a["retry_wait_reason"] = f"retry-after {wait}ms"
    return a


def record(session, at, turn, model, **rest):
    r = {"v": 1, "time": stamp(at), "started_at_ms": at, "session_id": session,
         "turn_id": turn, "provider": "LiteLLM",
         "url": "http://localhost:4000/v1/chat/completions", "mode": "buffered",
         "model": model,
         "request": {"input_items": 7, "messages": 7, "tools": 9, "stream": True, "bytes": 48211}}
    r.update(rest)
    return r


def completed(session, at, turn, model, tin, tout, total, finish="stop", retries=0, first_byte=240):
    attempts = [limited_attempt(1, 1000)] * retries + [ok_attempt(retries + 1, total - 100, first_byte)]
    diagnosis = f"completed ({finish}) in {total / 1000:.1f}s" + (
        f" after {retries} retr{'y' if retries == 1 else 'ies'} (rate limited 429: waited 1.0s as Retry-After said)"
        if retries else ", 1 attempt")
    return record(session, at, turn, model, attempts=attempts, retries=retries, continuations=0,
                  finish_reason=finish,
                  usage={"input_tokens": tin, "cached_input_tokens": tin // 2, "output_tokens": tout,
                         "reasoning_output_tokens": 0, "total_tokens": tin + tout},
                  outcome={"status": "completed"}, total_ms=total, diagnosis=diagnosis,
                  diagnosis_kind="completed_after_retries" if retries else "completed")


def rate_limited(session, at, turn, model):
    fault = {"kind": "http_status", "status": 429, "message": "Too Many Requests",
             "description": "the backend answered HTTP 429 Too Many Requests: Too Many Requests"}
    return record(session, at, turn, model,
                  attempts=[limited_attempt(1, 30000), limited_attempt(2, 30000),
                            limited_attempt(3, 30000), limited_attempt(4, None)],
                  retries=3, continuations=0,
                  outcome={"status": "failed", "code": "rate_limit_exceeded",
                           "message": "codex-litellm (litellm): rate limited", "fault": fault},
                  total_ms=90480,
                  diagnosis="rate limited (HTTP 429) — gave up after 4 attempts; last Retry-After 30s",
                  diagnosis_kind="rate_limited")


def session_records():
    records = [
        completed(SESSION, T0, "4f2a91c0-aaaa", "qwen3-coder", 12100, 311, 2104, "tool_calls"),
        completed(SESSION, T0 + 4_000, "4f2a91c0-aaaa", "qwen3-coder", 12600, 95, 4230, retries=1),
        completed(SESSION, T0 + 20_000, "4f2a91c0-aaaa", "qwen3-coder", 12900, 640, 6100, "tool_calls", first_byte=900),
        completed(SESSION, T0 + 30_000, "4f2a91c0-aaaa", "qwen3-coder", 13500, 210, 3900, "stop"),
    ]
    truncated = record(SESSION, T0 + 61_000, "9c1d22e7-bbbb", "qwen3-coder",
                       attempts=[ok_attempt(1, 30000)], retries=0, continuations=0,
                       finish_reason="length", max_output_tokens=4096,
                       usage={"input_tokens": 13000, "cached_input_tokens": 12000,
                              "output_tokens": 4096, "reasoning_output_tokens": 0, "total_tokens": 17096},
                       outcome={"status": "truncated"}, total_ms=30020,
                       diagnosis="cut off by the output limit (max_tokens 4096)",
                       diagnosis_kind="truncated")
    records.append(truncated)
    records.append(rate_limited(SESSION, T0 + 95_000, "c3e8f0a1-cccc", "glm-4.6"))
    records.append(completed(SESSION, T0 + 190_000, "d4f9a1b2-dddd", "glm-4.6", 9400, 210, 1812, "stop"))
    records.append(completed(SESSION, T0 + 200_000, "d4f9a1b2-dddd", "glm-4.6", 9900, 420, 2600, "tool_calls", first_byte=400))
    return records


def write(path, records, mode="a"):
    with open(path, mode, encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")


def png_is_blank(png):
    """True when the decoded image has (almost) one colour."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(png):
        length = int.from_bytes(png[pos:pos + 4], "big")
        kind = png[pos + 4:pos + 8]
        data = png[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height = int.from_bytes(data[:4], "big"), int.from_bytes(data[4:8], "big")
        elif kind == b"IDAT":
            idat += data
        pos += 12 + length
    raw = zlib.decompress(idat)
    assert width > 200 and height > 200, f"screenshot is {width}x{height}"
    # Distinct byte values over the (filtered) scanlines: a blank page has a handful.
    return len(set(raw[:: max(1, len(raw) // 200_000)])) < 12


def fail(message, driver=None):
    print(f"FAIL: {message}", file=sys.stderr)
    if driver is not None:
        try:
            print(driver.find_element(By.TAG_NAME, "body").text[:3000], file=sys.stderr)
        except Exception:  # noqa: BLE001 - best effort context
            pass
    sys.exit(1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    parser.add_argument("--screenshot")
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="dashboard-test-")
    folder = os.path.join(work, "telemetry")
    os.makedirs(folder)
    write(os.path.join(folder, EARLIER_FILE), [
        record(EARLIER, T0 - 86_340_000, "77aa0000-turn", "qwen3-coder",
               attempts=[{"attempt": n, "total_ms": 120, "bytes": 0, "chunks": 0, "done_marker": False,
                          "fault": {"kind": "connect", "description": "connection refused"}} for n in range(1, 5)],
               retries=3, continuations=0,
               outcome={"status": "failed", "code": "backend_error", "message": "could not connect",
                        "fault": {"kind": "connect", "description": "connection refused"}},
               total_ms=1650,
               diagnosis="connection refused (is the gateway running?) — gave up after 4 attempts",
               diagnosis_kind="connect")])
    hour_ago = time.time() - 3600
    os.utime(os.path.join(folder, EARLIER_FILE), (hour_ago, hour_ago))
    write(os.path.join(folder, SESSION_FILE), session_records())

    server = subprocess.Popen([args.binary, "serve", "--dir", folder, "--port", "0"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = server.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:\d+/", line)
    if not match:
        server.kill()
        fail(f"the server did not print its address: {line!r} {server.stderr.read()}")
    url = match.group(0)
    threading.Thread(target=lambda: server.stdout.read(), daemon=True).start()

    options = webdriver.ChromeOptions()
    for flag in ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1400,1000",
                 f"--user-data-dir={os.path.join(work, 'profile')}"]:
        options.add_argument(flag)
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(args.chromedriver), options=options)
    wait = WebDriverWait(driver, 15, poll_frequency=0.1)
    try:
        driver.get(url)
        # 1. The fixture sessions are listed, newest first, with their state.
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#sessions tr[data-session]")) >= 2)
        names = [r.get_attribute("data-session") for r in driver.find_elements(By.CSS_SELECTOR, "#sessions tr[data-session]")]
        if names != [SESSION_FILE, EARLIER_FILE]:
            fail(f"sessions listed as {names}", driver)
        wait.until(lambda d: "8" in d.find_element(By.CSS_SELECTOR, f'tr[data-session="{SESSION_FILE}"] td:nth-child(6)').text)
        earlier = driver.find_element(By.CSS_SELECTOR, f'tr[data-session="{EARLIER_FILE}"]').text
        if "stopped" not in earlier or "connection refused" not in earlier:
            fail(f"the earlier session's row says {earlier!r}", driver)
        print("ok: fixture sessions listed")

        # 2. A session written while the page is open appears without a reload.
        driver.execute_script("window.__noReload = 1")
        live_path = os.path.join(folder, LIVE_FILE)
        write(live_path, [completed(LIVE, T0 + 3_600_000, "aa11-turn", "qwen3-coder", 5000, 120, 1500, "tool_calls")])
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, f'tr[data-session="{LIVE_FILE}"]'))
        first = driver.find_elements(By.CSS_SELECTOR, "#sessions tr[data-session]")[0].get_attribute("data-session")
        if first != LIVE_FILE or driver.execute_script("return window.__noReload") != 1:
            fail(f"new session not shown first without a reload (first row {first})", driver)
        print("ok: a new session appears live")

        # 3. Its requests update live; an error request shows its reason.
        driver.find_element(By.CSS_SELECTOR, f'tr[data-session="{LIVE_FILE}"]').click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, 'tr.req[data-n="1"]'))
        write(live_path, [rate_limited(LIVE, T0 + 3_610_000, "aa22-turn", "qwen3-coder")])
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, 'tr.req.error[data-n="2"]'))
        row = driver.find_element(By.CSS_SELECTOR, 'tr.req.error[data-n="2"]').text
        for expected in ["429", "http_status", "rate limited (HTTP 429) — gave up after 4 attempts"]:
            if expected not in row:
                fail(f"the error request's row lacks {expected!r}: {row!r}", driver)
        turn = driver.find_elements(By.CSS_SELECTOR, ".turn.failed h2")
        if not turn or "stopped: rate limited (HTTP 429)" not in turn[-1].text:
            fail("the failed turn does not say why it stopped", driver)
        if driver.execute_script("return window.__noReload") != 1:
            fail("the page reloaded", driver)
        driver.find_element(By.CSS_SELECTOR, 'tr.req.error[data-n="2"]').click()
        wait.until(lambda d: '"status": 429' in d.find_element(By.CSS_SELECTOR, 'tr.detail[data-detail="2"] pre').text)
        print("ok: requests update live; the error shows its reason and opens to the stored record")

        # 4. Filters: errors only hides completed requests.
        driver.find_element(By.ID, "errors-only").click()
        shown = [r.get_attribute("data-n") for r in driver.find_elements(By.CSS_SELECTOR, "tr.req")]
        if shown != ["2"]:
            fail(f"errors only shows requests {shown}", driver)
        driver.find_element(By.ID, "errors-only").click()
        print("ok: errors-only filter")

        # 5. Screenshot of the fixture session's view.
        driver.get(url + "#/s/" + SESSION_FILE)
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "tr.req")) == 8)
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#chart-latency svg rect"))
        driver.set_window_size(1400, 1100)
        time.sleep(0.3)  # let the layout settle before the picture
        png = driver.get_screenshot_as_png()
        if png_is_blank(png):
            fail("the session view screenshot is blank", driver)
        if args.screenshot:
            with open(args.screenshot, "wb") as f:
                f.write(png)
        print(f"ok: session view screenshot ({len(png)} bytes) is not blank")

        errors = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
        if errors:
            fail(f"the browser logged errors: {errors}", driver)
        print("PASS")
    finally:
        driver.quit()
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
