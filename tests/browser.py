"""A real browser for the HTML report's tests: Debian's headless Chromium driven over the DevTools
protocol (CDP) through a websocket (the ``websockets`` package; no Playwright, whose browser
download needs network).

``Browser.open(path)`` loads a local page and returns what a reviewer's browser would have seen:
console errors (console.error, uncaught exceptions, and the browser's own log errors, which is
where a Content-Security-Policy violation or a failed load is reported), every request the page
made, and the page's sections with their on-screen boxes. ``screenshot()`` takes a PNG.
Host names resolve to nothing (``--host-resolver-rules``), so a page that tried the network
would log a failed request rather than reach anything.
"""

from __future__ import annotations

import base64
import contextlib
import json
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

INSTALL = "apt-get update && apt-get install -y chromium  (Debian's package; scripts/test.sh does it as root)"

SECTIONS_JS = """
Array.from(document.querySelectorAll('[data-section]')).map(e => {
  const box = e.getBoundingClientRect(), style = getComputedStyle(e);
  return {name: e.dataset.section, student: e.closest('.student') ? e.closest('.student').id : null,
          width: box.width, height: box.height,
          visible: style.display !== 'none' && style.visibility !== 'hidden' && box.width > 0 && box.height > 0};
})
"""
CHARTS_JS = """
Array.from(document.querySelectorAll('svg.chart')).map(e => {
  const box = e.getBoundingClientRect();
  return {title: e.querySelector('title') ? e.querySelector('title').textContent : null,
          width: box.width, height: box.height};
})
"""


def chromium() -> str | None:
    return next(
        (shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome") if shutil.which(name)), None
    )


class Browser:
    def __init__(self, profile: Path, width: int = 1200, height: int = 900):
        from websockets.sync.client import connect

        self.process = subprocess.Popen(
            [
                chromium(),
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--remote-debugging-port=0",
                f"--user-data-dir={profile}",
                "--host-resolver-rules=MAP * ~NOTFOUND",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text().count("\n") >= 1):
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.close()
                raise RuntimeError("chromium did not start its DevTools endpoint within 60 s")
            time.sleep(0.1)
        port = port_file.read_text().splitlines()[0]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=30) as response:
            page = next(t for t in json.load(response) if t["type"] == "page")
        self.exit_stack = contextlib.ExitStack()
        self.socket = self.exit_stack.enter_context(
            connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=30)
        )
        self.next_id, self.events = 0, []
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv(timeout=120))
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]
            self.events.append(message)

    def _wait_for(self, method: str, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            for index, event in enumerate(self.events):
                if event.get("method") == method:
                    return self.events.pop(index)
            self.events.append(json.loads(self.socket.recv(timeout=max(0.1, deadline - time.monotonic()))))

    def open(self, path: Path, scheme: str = "light") -> dict:
        """Load ``path`` with ``prefers-color-scheme: scheme``; return errors, requests and sections."""
        self.events.clear()
        self.call("Emulation.setEmulatedMedia", features=[{"name": "prefers-color-scheme", "value": scheme}])
        url = path.resolve().as_uri()
        self.call("Page.navigate", url=url)
        self._wait_for("Page.loadEventFired")
        self.call("Runtime.evaluate", expression="1")  # drains the events the load raised
        time.sleep(0.3)  # a late log entry (a blocked request is reported after load) still arrives
        self.call("Runtime.evaluate", expression="1")
        errors = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                errors.append(params["exceptionDetails"].get("text", "exception"))
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                errors.append(" ".join(str(a.get("value", a.get("description"))) for a in params.get("args", [])))
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                errors.append(params["entry"]["text"] + " " + params["entry"].get("url", ""))
        requests = [
            e["params"]["request"]["url"] for e in self.events if e.get("method") == "Network.requestWillBeSent"
        ]
        return {
            "url": url,
            "errors": errors,
            "requests": requests,
            "sections": self.evaluate(SECTIONS_JS),
            "charts": self.evaluate(CHARTS_JS),
            "background": self.evaluate("getComputedStyle(document.body).backgroundColor"),
        }

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"evaluate failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, path: Path, max_height: int | None = None) -> Path:
        """A PNG of the page from the top, the full page or its first ``max_height`` CSS pixels."""
        size = self.call("Page.getLayoutMetrics")["cssContentSize"]
        height = size["height"] if max_height is None else min(size["height"], max_height)
        shot = self.call(
            "Page.captureScreenshot",
            format="png",
            captureBeyondViewport=True,
            clip={"x": 0, "y": 0, "width": size["width"], "height": height, "scale": 1},
        )
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    def close(self) -> None:
        try:
            if getattr(self, "exit_stack", None) is not None:
                self.exit_stack.close()
        finally:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def main(argv: list[str] | None = None) -> None:
    """``python tests/browser.py PAGE.html OUT.png [--dark] [--height N]``: a screenshot of a page (how
    docs/html_report.png is made)."""
    import argparse
    import tempfile

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("page", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--dark", action="store_true", help="prefers-color-scheme: dark")
    parser.add_argument("--height", type=int, default=None, help="only the page's first N CSS pixels")
    parser.add_argument("--width", type=int, default=1200)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as profile:
        browser = Browser(Path(profile), width=args.width)
        try:
            seen = browser.open(args.page, "dark" if args.dark else "light")
            browser.screenshot(args.out, args.height)
        finally:
            browser.close()
    print(
        json.dumps(
            {
                "errors": seen["errors"],
                "requests": seen["requests"],
                "sections": [s["name"] for s in seen["sections"] if s["visible"]],
            }
        )
    )


if __name__ == "__main__":
    main()
