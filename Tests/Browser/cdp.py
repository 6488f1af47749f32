"""A Chrome DevTools Protocol client over --remote-debugging-pipe (Python stdlib only).

Chromium reads NUL-terminated JSON commands on its fd 3 and writes NUL-terminated JSON answers and events on its
fd 4, so no WebSocket library is needed: the harness passes two pipes with `pass_fds`.
"""

import base64
import fcntl
import json
import os
import subprocess
import threading
import time


class CDPError(Exception):
    """A command that Chromium answered with an error, or that was not answered in time."""


class Chromium:
    """One headless Chromium, driven through the pipe. Sessions (tabs) are attached with `new_page`."""

    def __init__(self, binary, profile, extra_flags=(), log_path=None):
        # Our ends: we write commands into `_to_browser_w` and read answers and events from `_from_browser_r`.
        to_browser_r, self._to_browser_w = os.pipe()
        self._from_browser_r, from_browser_w = os.pipe()
        # Chromium's ends are moved above fd 10 first, so that putting them on 3 and 4 in the child never overwrites
        # one with the other.
        child_read, child_write = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD_CLOEXEC, 10), fcntl.fcntl(from_browser_w, fcntl.F_DUPFD_CLOEXEC, 10)
        for fd in (to_browser_r, from_browser_w):
            os.close(fd)

        def child_fds():
            # Chromium reads commands on fd 3 and writes answers on fd 4 (dup2 clears close-on-exec). subprocess
            # closes every other descriptor after this function, keeping those named in pass_fds.
            os.dup2(child_read, 3)
            os.dup2(child_write, 4)

        flags = [
            "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe", f"--user-data-dir={profile}",
            "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--window-size=1280,900", *extra_flags, "about:blank",
        ]
        self._log = open(log_path, "wb") if log_path else subprocess.DEVNULL
        self.process = subprocess.Popen(
            [binary, *flags], stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log,
            preexec_fn=child_fds, pass_fds=(3, 4), close_fds=True)
        os.close(child_read)
        os.close(child_write)
        self._next_id = 0
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._answers = {}
        self._answered = threading.Condition(self._lock)
        self._listeners = []  # (session_id or None, callback(method, params))
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()

    def _read_loop(self):
        buffer = b""
        while True:
            try:
                chunk = os.read(self._from_browser_r, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                with self._lock:
                    self._closed = True
                    self._answered.notify_all()
                return
            buffer += chunk
            while b"\0" in buffer:
                raw, buffer = buffer.split(b"\0", 1)
                message = json.loads(raw)
                if "id" in message:
                    with self._lock:
                        self._answers[message["id"]] = message
                        self._answered.notify_all()
                else:
                    for session, callback in list(self._listeners):
                        if session is None or session == message.get("sessionId"):
                            callback(message.get("method"), message.get("params", {}))

    _closed = False

    def send(self, method, params=None, session=None, timeout=30):
        """Sends one command and waits for its answer; raises CDPError on an error answer."""
        with self._lock:
            self._next_id += 1
            ident = self._next_id
        message = {"id": ident, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        data = json.dumps(message).encode() + b"\0"
        with self._write_lock:  # pages are driven from several threads; one message must not split another
            while data:
                data = data[os.write(self._to_browser_w, data):]
        deadline = time.monotonic() + timeout
        with self._lock:
            while ident not in self._answers:
                left = deadline - time.monotonic()
                if self._closed or left <= 0:
                    raise CDPError(f"{method}: no answer ({'browser gone' if self._closed else 'timed out'})")
                self._answered.wait(left)
            answer = self._answers.pop(ident)
        if "error" in answer:
            raise CDPError(f"{method}: {answer['error'].get('message')} {answer['error'].get('data', '')}".strip())
        return answer.get("result", {})

    def listen(self, callback, session=None):
        self._listeners.append((session, callback))

    def new_page(self, url="about:blank"):
        """Opens a tab and attaches to it; returns a Page."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, target, session)
        # The viewport the demo is laid out for (--window-size leaves the headless window's chrome out of it).
        page.send("Emulation.setDeviceMetricsOverride", {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False})
        if url != "about:blank":
            page.navigate(url)
        return page

    def set_permission(self, name, setting, origin):
        """Browser.setPermission for one origin: setting is "granted", "denied" or "prompt"."""
        self.send("Browser.setPermission", {"permission": {"name": name}, "setting": setting, "origin": origin})

    def close(self):
        try:
            self.send("Browser.close", timeout=5)
        except CDPError:
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for fd in (self._to_browser_w, self._from_browser_r):
            try:
                os.close(fd)
            except OSError:
                pass
        if self._log is not subprocess.DEVNULL:
            self._log.close()


class Page:
    """One tab: navigate, evaluate JavaScript (awaiting promises), wait for a condition, screenshot."""

    def __init__(self, browser, target, session):
        self.browser, self.target, self.session = browser, target, session
        self.console = []  # console messages and uncaught exceptions, for failure reports
        browser.listen(self._event, session)
        self.send("Page.enable")
        self.send("Runtime.enable")

    def _event(self, method, params):
        if method == "Runtime.consoleAPICalled":
            self.console.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            self.console.append("exception: " + str(details.get("exception", {}).get("description", details.get("text"))))

    def send(self, method, params=None, timeout=30):
        return self.browser.send(method, params, session=self.session, timeout=timeout)

    def navigate(self, url, timeout=15):
        self.send("Page.navigate", {"url": url})
        self.wait("document.readyState === 'complete' && location.href === " + json.dumps(url), timeout=timeout)

    def evaluate(self, expression, timeout=30):
        """The value of a JavaScript expression (a promise is awaited); a thrown exception becomes CDPError."""
        result = self.send(
            "Runtime.evaluate",
            {"expression": expression, "awaitPromise": True, "returnByValue": True, "timeout": timeout * 1000},
            timeout=timeout + 5)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise CDPError("page: " + str(details.get("exception", {}).get("description", details.get("text"))))
        return result.get("result", {}).get("value")

    def wait(self, expression, timeout=10, interval=0.05):
        """Polls until the expression is truthy; returns its value, or raises CDPError with the last value seen."""
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            try:
                value = self.evaluate(expression, timeout=max(1, int(timeout)))
            except CDPError as error:
                value = str(error)
            else:
                if value:
                    return value
            time.sleep(interval)
        raise CDPError(f"timed out after {timeout} s waiting for {expression} (last: {value!r})")

    def screenshot(self, path):
        data = self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": False})["data"]
        with open(path, "wb") as out:
            out.write(base64.b64decode(data))

    def close(self):
        self.browser.send("Target.closeTarget", {"targetId": self.target})
