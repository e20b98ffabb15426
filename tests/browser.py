"""A headless Chromium driven through the DevTools protocol, for tests that read a page as a
person does (tests/test_browser.py).

The protocol runs over a pipe (``--remote-debugging-pipe``: the browser reads commands from its
file descriptor 3 and writes replies and events to 4, each a JSON message ended by a NUL byte),
not over a websocket: no port to find or to collide with another run, no line of stderr to
parse, and no package beyond the standard library. The browser is the system's (Debian's
``chromium``); nothing is downloaded.

Example
-------
>>> with Browser.start() as browser:  # doctest: +SKIP
...     page = browser.open(Path("out/brief.html").resolve().as_uri())
...     page.evaluate("document.title")
'...'
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import signal
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome")
TIMEOUT_SECONDS = 60.0


class BrowserError(RuntimeError):
    """The browser failed, replied with an error, or did not answer in time."""


def find_browser() -> str | None:
    """The first Chromium or Chrome binary on PATH (``BROWSER_NAMES``), or None."""
    for name in BROWSER_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class Page:
    """One tab, attached in flat mode (its commands carry ``session_id``).

    ``events`` holds every event the tab sent since it was opened, in order, as
    ``(method, params)``.
    """

    browser: Browser
    target_id: str
    session_id: str
    events: list[tuple[str, dict]] = field(default_factory=list)

    def send(self, method: str, params: dict | None = None, *, timeout: float = TIMEOUT_SECONDS) -> dict:
        """Send a command to this tab and return its result."""
        return self.browser.send(method, params, session_id=self.session_id, timeout=timeout)

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (awaited when it is a promise)."""
        reply = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                               "awaitPromise": True})
        if "exceptionDetails" in reply:
            raise BrowserError(f"{expression!r} threw: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    def named(self, method: str) -> list[dict]:
        """The parameters of every event of this kind received so far."""
        return [params for name, params in self.events if name == method]

    def print_pdf(self, **options: Any) -> bytes:
        """The page printed to PDF with its own CSS page size (``@page``), no header or footer."""
        params = {"preferCSSPageSize": True, "printBackground": True,
                  "displayHeaderFooter": False, **options}
        return base64.b64decode(self.send("Page.printToPDF", params)["data"])

    def close(self) -> None:
        self.browser.send("Target.closeTarget", {"targetId": self.target_id})


class Browser:
    """A headless Chromium with a throwaway profile, spoken to over a pipe.

    Use :meth:`start` (a context manager): it stops the browser's whole process group and
    removes the profile folder on exit, whatever happens.
    """

    def __init__(self, pid: int, commands: int, replies: int) -> None:
        self._pid = pid
        self._commands, self._replies = commands, replies
        self._buffer = b""
        self._next_id = 0
        self._pages: dict[str, Page] = {}
        self.version = ""

    @classmethod
    @contextlib.contextmanager
    def start(cls, binary: str | None = None):
        """Start the browser; yield a :class:`Browser`; stop it on exit.

        Parameters
        ----------
        binary
            The browser to run; default :func:`find_browser`.

        Raises
        ------
        BrowserError
            No browser found, or it did not answer.
        """
        binary = binary or find_browser()
        if binary is None:
            raise BrowserError(f"no Chromium found (looked for {', '.join(BROWSER_NAMES)})")
        with tempfile.TemporaryDirectory(prefix="fairness-audit-cdp-") as profile:
            args = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                    "--no-default-browser-check", "--disable-extensions", "--hide-scrollbars",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--mute-audio", "--remote-debugging-pipe",
                    f"--user-data-dir={profile}", "about:blank"]
            pid, commands, replies = _spawn(args)
            browser = cls(pid, commands, replies)
            try:
                browser.version = browser.send("Browser.getVersion")["product"]
                yield browser
            finally:
                browser._stop()

    # ------------------------------------------------------------------ the protocol
    def send(self, method: str, params: dict | None = None, *, session_id: str | None = None,
             timeout: float = TIMEOUT_SECONDS) -> dict:
        """Send one command and wait for its reply; events that arrive meanwhile are kept."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session_id is not None:
            message["sessionId"] = session_id
        data = json.dumps(message).encode() + b"\0"
        while data:
            written = os.write(self._commands, data)
            data = data[written:]
        wanted = self._next_id
        deadline = time.monotonic() + timeout
        while True:
            reply = self._receive(deadline, f"the reply to {method}")
            if reply.get("id") == wanted:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def wait_for(self, page: Page, method: str, *, timeout: float = TIMEOUT_SECONDS) -> dict:
        """Wait until ``page`` has sent an event of this kind (one already received counts)."""
        deadline = time.monotonic() + timeout
        while True:
            found = page.named(method)
            if found:
                return found[-1]
            self._receive(deadline, f"the event {method}")

    def _receive(self, deadline: float, what: str) -> dict:
        """The next message; an event is filed with its page on the way."""
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError(f"the browser sent no {what} within the time allowed")
            ready, _, _ = select.select([self._replies], [], [], left)
            if not ready:
                continue
            chunk = os.read(self._replies, 1 << 20)
            if not chunk:
                raise BrowserError(f"the browser closed the pipe while waiting for {what}")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        message = json.loads(raw)
        if "method" in message and message.get("sessionId") in self._pages:
            self._pages[message["sessionId"]].events.append((message["method"], message.get("params", {})))
        return message

    # ------------------------------------------------------------------ pages
    def open(self, url: str, *, width: int = 1280, height: int = 900,
             timeout: float = TIMEOUT_SECONDS) -> Page:
        """Open ``url`` in a new tab of ``width`` x ``height`` CSS pixels, recording its console,
        log, exceptions and network requests from the start; return once it has loaded."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, target, session)
        self._pages[session] = page
        for domain in ("Page", "Runtime", "Log", "Network"):
            page.send(f"{domain}.enable")
        page.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        page.events.clear()  # about:blank's own events are not the page's
        page.send("Page.navigate", {"url": url})
        self.wait_for(page, "Page.loadEventFired", timeout=timeout)
        # fonts and image decoding can finish after the load event
        page.evaluate("document.fonts.ready.then(() => Promise.all(Array.from(document.images, "
                      "i => i.decode().catch(() => null)))).then(() => true)")
        return page

    def _stop(self) -> None:
        """Close the pipe, stop the browser's process group, reap it."""
        for fd in (self._commands, self._replies):
            with contextlib.suppress(OSError):
                os.close(fd)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._pid, sig)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if os.waitpid(self._pid, os.WNOHANG)[0] == self._pid:
                    return
                time.sleep(0.05)


def _spawn(args: list[str]) -> tuple[int, int, int]:
    """Start ``args`` with a pipe on its fds 3 (commands in) and 4 (replies out), stdin, stdout
    and stderr on /dev/null, in a new session; return its pid and this side's two ends.

    posix_spawn places the fds in the child without a shell or a hook run between fork and
    exec. Its ends move above 9 first: were one of them 3 or 4, placing the other there would
    overwrite it.
    """
    to_browser_r, to_browser_w = os.pipe()
    from_browser_r, from_browser_w = os.pipe()
    high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (to_browser_r, from_browser_w)]
    os.close(to_browser_r)
    os.close(from_browser_w)
    null = os.devnull
    actions = [(os.POSIX_SPAWN_DUP2, high[0], 3), (os.POSIX_SPAWN_DUP2, high[1], 4),
               (os.POSIX_SPAWN_OPEN, 0, null, os.O_RDONLY, 0),
               (os.POSIX_SPAWN_OPEN, 1, null, os.O_WRONLY, 0),
               (os.POSIX_SPAWN_OPEN, 2, null, os.O_WRONLY, 0)]
    try:
        pid = os.posix_spawn(args[0], args, dict(os.environ), file_actions=actions, setsid=True)
    except BaseException:
        os.close(to_browser_w)
        os.close(from_browser_r)
        raise
    finally:
        for fd in high:
            os.close(fd)
    return pid, to_browser_w, from_browser_r
