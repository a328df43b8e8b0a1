"""Open a local HTML file in headless Chromium over the DevTools protocol (``--remote-debugging-
pipe``: JSON messages separated by NUL on file descriptors 3 and 4; no websocket, no network)
and report console errors, what the page shows and a full-page screenshot."""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "chromium")

PAGE_STATE = """JSON.stringify({
  images: [...document.images].map(i => ({alt: i.alt, complete: i.complete,
           width: i.naturalWidth, shown: i.getBoundingClientRect().height})),
  comparisonRows: document.querySelectorAll('#comparison-table tbody tr').length,
  sections: [...document.querySelectorAll('section')].map(s => s.id),
  warnings: [...document.querySelectorAll('#warnings li')].map(li => li.textContent),
  height: document.documentElement.scrollHeight,
})"""


#: Waits for the page's web fonts (an embedded font is decoded after the load event) and
#: lists each with its status (``loaded``, or ``error`` for a font the browser rejects).
FONTS = ("document.fonts.ready.then(() => [...document.fonts].map("
         "f => f.family.replace(/[\"']/g, '') + ':' + f.status))")


def find_chromium() -> str | None:
    for c in CANDIDATES:
        path = shutil.which(c)
        if path:
            return path
    return None


@dataclass
class PageCheck:
    state: dict
    errors: list[str] = field(default_factory=list)
    screenshot: bytes = b""


class _Pipe:
    def __init__(self, write_fd: int, read_fd: int):
        self.w, self.r, self.buf, self.next_id = write_fd, read_fd, b"", 0
        self.events: list[dict] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float = 30) -> dict:
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.w, json.dumps(msg).encode() + b"\0")
        reply = self._until(lambda m: m.get("id") == self.next_id, timeout)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def wait_event(self, method: str, timeout: float = 30) -> dict:
        for i, ev in enumerate(self.events):
            if ev.get("method") == method:
                return self.events.pop(i)
        return self._until(lambda m: m.get("method") == method, timeout, keep=False)

    def _until(self, want, timeout: float, keep: bool = True) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            while b"\0" in self.buf:
                raw, self.buf = self.buf.split(b"\0", 1)
                msg = json.loads(raw)
                if want(msg):
                    return msg
                self.events.append(msg)
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no reply from chromium")
            ready, _, _ = select.select([self.r], [], [], left)
            if ready:
                chunk = os.read(self.r, 1 << 20)
                if not chunk:
                    raise RuntimeError("chromium closed the DevTools pipe")
                self.buf += chunk


def _errors(events: list[dict]) -> list[str]:
    out = []
    for ev in events:
        p = ev.get("params", {})
        if ev.get("method") == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            out.append("console: " + " ".join(str(a.get("value", a.get("description")))
                                              for a in p.get("args", [])))
        elif ev.get("method") == "Runtime.exceptionThrown":
            out.append("exception: " + json.dumps(p.get("exceptionDetails", {}))[:500])
        elif ev.get("method") == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            out.append("log: " + p["entry"].get("text", ""))
    return out


def check_page(html: Path, chromium: str, width: int = 1280) -> PageCheck:
    """Load ``html``; return the page state, console/log errors and a PNG screenshot."""
    to_child_r, to_child_w = os.pipe()
    from_child_r, from_child_w = os.pipe()
    profile = tempfile.mkdtemp(prefix="bc-chromium-")
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
            "--no-first-run", "--no-default-browser-check", "--disable-extensions",
            f"--user-data-dir={profile}", "about:blank"]
    shell = f'exec "$0" "$@" 3<&{to_child_r} 4>&{from_child_w}'
    proc = subprocess.Popen(["bash", "-c", shell, chromium, *args],
                            pass_fds=(to_child_r, from_child_w), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(to_child_r)
    os.close(from_child_w)
    pipe = _Pipe(to_child_w, from_child_r)
    try:
        return _drive(pipe, html, width)
    finally:
        try:
            pipe.send("Browser.close", timeout=5)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        os.close(to_child_w)
        os.close(from_child_r)
        shutil.rmtree(profile, ignore_errors=True)


def _drive(pipe: _Pipe, html: Path, width: int) -> PageCheck:
    target = pipe.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = pipe.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    for method in ("Runtime.enable", "Log.enable", "Page.enable"):
        pipe.send(method, session=session)
    pipe.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": 900,
                                                     "deviceScaleFactor": 1, "mobile": False},
              session=session)
    pipe.send("Page.navigate", {"url": html.resolve().as_uri()}, session=session)
    pipe.wait_event("Page.loadEventFired", timeout=60)
    fonts = pipe.send("Runtime.evaluate", {"expression": FONTS, "returnByValue": True,
                                           "awaitPromise": True}, session=session)
    value = pipe.send("Runtime.evaluate", {"expression": PAGE_STATE, "returnByValue": True},
                      session=session)["result"]["value"]
    state = {**json.loads(value), "fonts": fonts["result"].get("value") or []}
    pipe.send("Emulation.setDeviceMetricsOverride",
              {"width": width, "height": min(int(state["height"]), 16000),
               "deviceScaleFactor": 1, "mobile": False}, session=session)
    shot = pipe.send("Page.captureScreenshot", {"format": "png"}, session=session, timeout=60)
    time.sleep(0.2)
    _drain(pipe)
    return PageCheck(state, _errors(pipe.events), base64.b64decode(shot["data"]))


def _drain(pipe: _Pipe) -> None:
    while select.select([pipe.r], [], [], 0)[0]:
        chunk = os.read(pipe.r, 1 << 20)
        if not chunk:
            break
        pipe.buf += chunk
    while b"\0" in pipe.buf:
        raw, pipe.buf = pipe.buf.split(b"\0", 1)
        pipe.events.append(json.loads(raw))
