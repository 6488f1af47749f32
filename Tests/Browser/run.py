#!/usr/bin/env python3
"""The browser tests: the demo page (web/demo) in a real headless Chromium, on an origin Chromium treats as public,
against a real agent (pinentry mode), a real records service and the token rig.

    source $SIGNSERVICE_RIG/env.sh
    python3 Tests/Browser/run.py [--bin .build/debug] [--hostile 60] [--screenshots docs/images] [--keep]

Each case prints PASS, FAIL or SKIP with what it saw; the last line is "N passed, M failed", and the exit status is 1
when any case failed. The cases run in order on one world (the pairing of case 2 serves the later ones).
"""

import argparse
import base64
import hashlib
import json
import os
import re
import sys
import threading
import time
import traceback
import urllib.request

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import REPOSITORY, World  # noqa: E402
from hostile import hostile_run  # noqa: E402

FILE_NUMBER = "GAD-11011/3/2026-ADMIN"


class Skip(Exception):
    pass


def check(condition, message):
    if not condition:
        raise AssertionError(message)


class Suite:
    def __init__(self, world, arguments):
        self.world, self.arguments = world, arguments
        self.page = None
        self.results = []
        self.figures = {}

    # Helpers on the demo page.

    def js(self, expression, timeout=30):
        return self.page.evaluate(expression, timeout=timeout)

    def wait(self, expression, timeout=15):
        return self.page.wait(expression, timeout=timeout)

    def click(self, button_id):
        self.js(f"document.getElementById({json.dumps(button_id)}).click()")

    def error_shown(self):
        """The error banner: (kind, code, title, message), or None when hidden."""
        return self.js("""(() => { const box = document.getElementById('error');
            return box.hidden ? null : [box.dataset.kind, box.dataset.code, document.getElementById('error-title').textContent,
                                        document.getElementById('error-message').textContent]; })()""")

    def choose_key(self, token, key_id):
        """Selects the signing key on `token` (URI-encoded label) with CKA_ID `key_id` in the page's key list."""
        uri = self.wait(f"""[...document.getElementById('key').options].map(o => o.value)
            .find(v => v.includes('token={token};') && v.includes('id=%{key_id};'))""")
        self.js(f"document.getElementById('key').value = {json.dumps(uri)}")
        return uri

    def set_note(self, note_id, text):
        self.js(f"""document.getElementById('note-id').value = {json.dumps(note_id)};
                    document.getElementById('note-text').value = {json.dumps(text)};
                    document.getElementById('file-number').value = {json.dumps(FILE_NUMBER)}; true""")

    def sign_note(self, note_id, text, timeout=60):
        """Clicks "Sign this note" and waits for the signature (or raises with the error the page shows)."""
        before = self.js("demo.signed.length")
        errors = self.js("demo.errors.length")
        self.set_note(note_id, text)
        self.click("sign")
        self.wait(f"demo.signed.length > {before} || demo.errors.filter(e => !e.stream).length > {errors}", timeout=timeout)
        signed = self.js(f"demo.signed[{before}] || null")
        if signed is None:
            raise AssertionError(f"the page showed an error instead of a signature: {self.error_shown()}")
        return signed

    @property
    def screenshot_folder(self):
        """--screenshots (docs/images to refresh the documentation's), else the run's own temporary folder."""
        return self.arguments.screenshots or self.world.path("screenshots")

    def screenshot(self, name):
        os.makedirs(self.screenshot_folder, exist_ok=True)
        path = os.path.join(self.screenshot_folder, name)
        self.page.screenshot(path)
        self.figures.setdefault("screenshots", []).append(f"{path} ({os.path.getsize(path)} bytes)")

    def verify_with_openssl(self, signed, name):
        ok, detail = self.world.cms_verify(base64.b64decode(signed["signature"]), base64.b64decode(signed["extract"]), name)
        check(ok, f"openssl cms -verify refused {signed['noteID']}: {detail}")

    # The cases, in order.

    def case_refused_before_pairing(self):
        """The page has no pairing token: tokens() throws NotPairedError (401) and the page says to pair."""
        self.page = self.world.browser.new_page()
        self.page.navigate(self.world.demo_url())
        self.wait("window.demo && demo.started")
        shown = self.error_shown()
        check(shown and shown[0] == "not-paired", f"the page should show the not-paired error, shows {shown}")
        check("Pair with the agent" in shown[3], f"the message should say how to pair: {shown[3]}")
        thrown = self.js(f"""import('../signservice.js').then(m => new m.SignServiceAgent({json.dumps(self.world.agent.url)}).tokens()
            .then(() => 'no error', e => [e.name, e instanceof m.SignServiceError, e.kind, e.status].join('|')))""")
        check(thrown == "NotPairedError|true|not-paired|401", f"tokens() before pairing: {thrown}")

    def case_pairing(self):
        """The page shows a code; `signctl pair approve CODE` approves it; the page gets and keeps its token."""
        self.click("pair")
        code = self.wait("document.getElementById('pairing').hidden === false && document.getElementById('pairing-code').textContent")
        check(re.fullmatch(r"\d{3}-\d{3}", code), f"the code shown: {code!r}")
        command = self.js("document.getElementById('pairing-command').textContent")
        check(code in command, f"the page should show the command to run: {command!r}")
        self.screenshot("demo-pairing.png")
        help_text = self.world.signctl_run(["pair", "approve", "--help"]).stdout
        confirm = ["--yes"] if "--yes" in help_text else []
        approved = self.world.signctl_run(["pair", "approve", code, *confirm, "--service", self.world.agent.url,
                                           "--state-dir", self.world.agent.state])
        check(approved.returncode == 0, f"signctl pair approve: {approved.stdout}{approved.stderr}")
        self.wait("document.getElementById('agent-state').textContent === 'Agent: paired'")
        token = self.js(f"localStorage.getItem('signservice-token ' + {json.dumps(self.world.agent.url)})")
        check(token and len(token) >= 32, "the token is kept in localStorage")
        listed = self.world.signctl_run(["pair", "list", "--service", self.world.agent.url, "--state-dir", self.world.agent.state])
        check(self.world.origin in listed.stdout, f"signctl pair list should name {self.world.origin}: {listed.stdout}")

    def case_token_list(self):
        """The live token list shows the emulated card in its reader and SoftHSM2's test token."""
        self.wait("""Boolean(document.querySelector('#tokens li[data-label="Anita Sharma"][data-reader="Virtual PCD 00 00"]')
                     && document.querySelector('#tokens li[data-label="SignService Test"]'))""")
        self.wait("demo.streamReady === true")
        self.screenshot("demo-tokens.png")

    def case_card_events(self):
        """The card pulled out and put back is seen by the page through the event stream within a second each way."""
        latencies = {}
        for action, event, present in (("card-out", "card-removed", False), ("card-in", "card-inserted", True)):
            count = self.js(f"demo.events.filter(e => e.type === '{event}').length")
            started = time.time()
            self.world.rig.card(action)
            returned = time.time()
            received = self.wait(f"(demo.events.filter(e => e.type === '{event}')[{count}] || {{}}).received", timeout=5) / 1000
            latencies[event] = received - returned
            check(received - returned < 1.0, f"{event} reached the page {received - returned:.2f} s after {action} returned")
            selector = '#tokens li[data-label="Anita Sharma"]'
            self.wait(f"Boolean(document.querySelector('{selector}')) === {json.dumps(present)}", timeout=5)
            latencies[event + " (from the command's start)"] = received - started
        self.figures["card events"] = ", ".join(f"{name} {seconds * 1000:.0f} ms" for name, seconds in latencies.items())

    def case_sign_with_pinentry(self):
        """A note signed on the card, the PIN typed into the agent's pinentry; the dialog names origin, file, note,
        the extract's SHA-256 and the signer."""
        self.choose_key("Anita%20Sharma", "01")
        self.world.pinentry_answer("card")
        dialogs = len(self.world.dialogs())
        text = "The draft leave rules are placed below for approval. Submitted for orders."
        signed = self.sign_note("N-1", text)
        check(signed["signer"] == "Anita Sharma", f"signer {signed['signer']}")
        check(re.fullmatch(r"[0-9a-f]{64}", signed["certificateSHA256"] or ""), "X-Certificate-SHA256")
        new = self.world.dialogs()[dialogs:]
        check(len(new) == 1, f"one PIN dialog, saw {len(new)}")
        description = new[0]["description"] or ""
        digest = hashlib.sha256(text.encode()).hexdigest()
        for part in (self.world.origin, FILE_NUMBER, "N-1", digest[:16], "Anita Sharma"):
            check(part in description, f"the PIN dialog should name {part!r}: {description!r}")
        self.signed_note = signed

    def case_openssl_accepts(self):
        """The .p7s the page got verifies with openssl cms against the test root; the agent's verify() agrees."""
        self.verify_with_openssl(self.signed_note, "note-n1")
        report = self.js(f"""demo.agent.verify(Uint8Array.from(atob({json.dumps(self.signed_note['signature'])}), c => c.charCodeAt(0)),
                               Uint8Array.from(atob({json.dumps(self.signed_note['extract'])}), c => c.charCodeAt(0)))
                             .then(r => r.verdict.indication, e => 'error ' + e.message)""")
        check(report == "TOTAL-PASSED", f"verify() through the agent: {report}")

    def case_wrong_pin(self):
        """A wrong PIN (SoftHSM2's token) shows a clear error; the right PIN then signs again."""
        self.choose_key("SignService%20Test", "01")
        self.world.pinentry_answer("wrong")
        errors = self.js("demo.errors.length")
        self.set_note("N-W1", "A note for the wrong PIN.")
        self.click("sign")
        self.wait(f"demo.errors.length > {errors}", timeout=60)
        shown = self.error_shown()
        check(shown and shown[0] == "wrong-pin" and shown[1] == "pin-incorrect", f"the page shows {shown}")
        check("PIN" in shown[2] and "Check the PIN" in shown[3], f"the words shown: {shown}")
        self.world.pinentry_answer("soft")
        signed = self.sign_note("N-W2", "A note after the wrong PIN.")
        check(self.error_shown() is None, "the error is cleared after a good signature")
        self.verify_with_openssl(signed, "note-w2")
        self.world.pinentry_answer("card")

    def case_cancelled(self):
        """The officer cancels the PIN dialog: the page says signing was cancelled."""
        self.choose_key("Anita%20Sharma", "01")
        self.world.pinentry_answer("cancel")
        errors = self.js("demo.errors.length")
        self.set_note("N-C1", "A note the officer does not sign.")
        self.click("sign")
        self.wait(f"demo.errors.length > {errors}", timeout=60)
        shown = self.error_shown()
        check(shown and shown[0] == "cancelled", f"the page shows {shown}")
        self.world.pinentry_answer("card")

    def case_local_network_denied(self):
        """With Local Network Access denied, fetch to the agent fails and the page tells the officer to allow it."""
        self.world.allow_local_network(False)
        try:
            tab = self.world.browser.new_page()
            try:
                tab.navigate(self.world.demo_url())
                tab.wait("window.demo && demo.started")
                shown = tab.evaluate("""(() => { const box = document.getElementById('error');
                    return box.hidden ? null : [box.dataset.kind, document.getElementById('error-message').textContent]; })()""")
                check(shown and shown[0] == "unreachable", f"the page shows {shown}")
                check("Allow this page to access devices on your local network" in shown[1], f"the message: {shown[1]}")
                thrown = tab.evaluate(f"""import('../signservice.js').then(m => new m.SignServiceAgent({json.dumps(self.world.agent.url)})
                    .health().then(() => 'reached', e => e.name + '|' + (e.cause && e.cause.name)))""")
                check(thrown == "AgentUnreachableError|TypeError", f"health() with the permission denied: {thrown}")
            finally:
                tab.close()
        finally:
            self.world.allow_local_network(True)
        reached = self.js("demo.agent.health().then(h => h.status, e => e.name)")
        check(reached == "ok", f"granted again, the agent answers: {reached}")

    def case_records_login_and_history(self):
        """DSC login to the records service through the agent; a signed note appended; the history shows it."""
        world = self.world
        added = world.signctl_run([
            "records", "roster", "add", "--records", world.records.url, "--state-dir", world.records.state,
            "--certificate", os.path.join(REPOSITORY, "TestCerts", "certs", "officer-rsa.crt"),
            "--name", "Anita Sharma", "--department", "GAD", "--role", "officer"])
        check(added.returncode == 0, f"roster add: {added.stdout}{added.stderr}")
        status, body = world.records.request("POST", "/v1/files", {"number": FILE_NUMBER, "subject": "Leave rules revision", "department": "GAD"})
        check(status == 201, f"the file opened: {status} {body}")
        self.choose_key("Anita%20Sharma", "01")
        world.pinentry_answer("card")
        dialogs = len(world.dialogs())
        self.click("login")
        self.wait("demo.records.member || demo.errors.length > 0 && document.getElementById('error').hidden === false", timeout=60)
        member = self.js("demo.records.member")
        check(member and member["name"] == "Anita Sharma", f"logged in as {member}; the page shows {self.error_shown()}")
        login_dialog = world.dialogs()[dialogs:]
        check(login_dialog and world.records.url in (login_dialog[0]["description"] or ""),
              f"the login's PIN dialog names the service: {login_dialog}")
        self.wait("Boolean(document.querySelector('#history tr.empty'))")
        signed = self.sign_note("N-2", "Agreed. The draft may be put up to the Minister.")
        check(signed["appended"] == 1, f"appended as entry {signed['appended']}")
        self.wait("document.querySelectorAll('#history tr:not(.empty)').length === 1")
        row = self.js("[...document.querySelectorAll('#history tr td')].map(td => td.textContent)")
        check(row[:4] == ["1", "note", "N-2", "Anita Sharma"], f"the history row: {row}")
        status, history = world.records.request("GET", "/v1/files/" + urllib.request.quote(FILE_NUMBER, safe=""))
        check(status == 200 and history["size"] == 1 and history["entries"][0]["noteID"] == "N-2", f"the records service's history: {history}")
        self.verify_with_openssl(signed, "note-n2")
        self.screenshot("demo-history.png")

    def case_sign_batch(self):
        """Two drafts signed with one PIN dialog through POST /v1/sign/batch; each signature verifies with openssl."""
        self.choose_key("Anita%20Sharma", "01")
        self.world.pinentry_answer("card")
        before = self.js("demo.signed.length")
        errors = self.js("demo.errors.length")
        dialogs = len(self.world.dialogs())
        for note, text in (("N-3", "Draft three: the circular is ready."), ("N-4", "Draft four: copy to all sections.")):
            self.set_note(note, text)
            self.click("add-draft")
        self.click("sign-drafts")
        self.wait(f"demo.signed.length >= {before + 2} || demo.errors.length > {errors}", timeout=60)
        if self.js(f"demo.signed.length") < before + 2:
            error = self.js("demo.errors[demo.errors.length - 1]")
            if error.get("status") == 404:
                raise Skip("no /v1/sign/batch: 404")
            raise AssertionError(f"the batch failed: {error}")
        check(len(self.world.dialogs()) - dialogs == 1, "one PIN dialog for the batch")
        for index in range(2):
            signed = self.js(f"demo.signed[{before + index}]")
            self.verify_with_openssl(signed, f"batch-{index}")

    def case_hostile(self):
        """Hostile pages hammer every agent endpoint while the officer signs; afterwards every officer signature
        verifies, the agent answers, its audit log verifies and stays small."""
        if not self.arguments.hostile:
            raise Skip("--hostile 0")
        figures = hostile_run(self, self.arguments.hostile)
        self.figures.update(figures)

    def case_no_pin_written(self):
        """No file the agent, records service, browser profile, test pinentry or harness wrote holds a rig PIN."""
        # Everything stopped first, so every log is complete on disk.
        self.world.stop_processes()
        pins = self.world.rig.pins()
        searched, found = 0, []
        for path in self.world.written_files():
            try:
                with open(path, "rb") as file:
                    data = file.read()
            except OSError:
                continue
            searched += 1
            found += [f"{path}" for pin in pins if pin in data]
        self.figures["files searched for PINs"] = searched
        check(searched > 20, f"only {searched} files were searched")
        check(not found, f"a PIN was found in: {found}")

    def case_screenshots(self):
        """The demo's screenshots are saved and small."""
        for name in ("demo-pairing.png", "demo-tokens.png", "demo-history.png"):
            path = os.path.join(self.screenshot_folder, name)
            check(os.path.exists(path), f"{path} is missing")
            check(os.path.getsize(path) < 300_000, f"{path} is {os.path.getsize(path)} bytes")

    def run(self):
        cases = [name for name in dir(self) if name.startswith("case_")]
        cases.sort(key=lambda name: getattr(Suite, name).__code__.co_firstlineno)
        for name in cases:
            method = getattr(self, name)
            started = time.monotonic()
            label = name[len("case_"):]
            try:
                method()
            except Skip as skip:
                self.results.append(("SKIP", label))
                print(f"SKIP {label} ({skip})", flush=True)
                continue
            except Exception as error:
                self.results.append(("FAIL", label))
                detail = str(error) if isinstance(error, AssertionError) else traceback.format_exc()
                print(f"FAIL {label}: {method.__doc__.split(chr(10))[0]}\n     {detail}", flush=True)
                if self.page and self.page.console:
                    print("     page console: " + " | ".join(self.page.console[-5:]), flush=True)
                continue
            self.results.append(("PASS", label))
            print(f"PASS {label} ({time.monotonic() - started:.1f} s): {method.__doc__.split(chr(10))[0]}", flush=True)


def main():
    parser = argparse.ArgumentParser(description="Browser tests of web/signservice.js and the demo page.")
    parser.add_argument("--bin", default=os.path.join(REPOSITORY, ".build", "debug"), help="folder with SignService and signctl")
    parser.add_argument("--hostile", type=int, default=60, metavar="SECONDS", help="length of the hostile-page run (0: skip it)")
    parser.add_argument("--screenshots", default=None, help="where to save the demo's screenshots (docs/images refreshes the documentation's; default: the run's temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (printed) for inspection")
    arguments = parser.parse_args()
    world = World(arguments.bin, keep=arguments.keep)
    print(f"agent {world.agent.url}, records {world.records.url}, page origin {world.origin} (public), folder {world.folder}", flush=True)
    suite = Suite(world, arguments)
    try:
        suite.run()
    finally:
        world.close()
    for name, value in suite.figures.items():
        print(f"  {name}: {value}")
    passed = sum(1 for result, _ in suite.results if result == "PASS")
    failed = sum(1 for result, _ in suite.results if result == "FAIL")
    skipped = sum(1 for result, _ in suite.results if result == "SKIP")
    if skipped:
        print(f"{skipped} skipped")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
