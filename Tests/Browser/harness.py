"""The browser tests' world, started in a temporary folder: the agent (pinentry mode, the test pinentry), a records
service (SQLite, the rig's document signer), the static server for web/ on a public-treated origin, and Chromium.

Needs the token rig (`scripts/rig.sh up`, `source $SIGNSERVICE_RIG/env.sh`) and the built binaries.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

from cdp import Chromium
from static_server import StaticServer
import test_pinentry

REPOSITORY = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CARD_KEY_TOKEN = "Anita%20Sharma"  # the emulated PIV card, in reader "Virtual PCD 00 00"
SOFT_KEY_TOKEN = "SignService%20Test"  # SoftHSM2
# Chromium 156's Permissions API name for a public page reaching loopback (Local Network Access). "local-network"
# (loopback to private addresses) and "local-network-access" (the older, single permission) are accepted by
# Browser.setPermission but do not open 127.0.0.1 to a public page.
LOOPBACK_PERMISSION = "loopback-network"


class HarnessError(Exception):
    pass


def free_port():
    """A port free on 127.0.0.1 now (bound and released; the daemon binds it a moment later)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Rig:
    """The token rig this process was pointed at by `source $SIGNSERVICE_RIG/env.sh`."""

    def __init__(self):
        self.folder = os.environ.get("SIGNSERVICE_RIG")
        if not self.folder or not os.path.exists(os.path.join(self.folder, "env.sh")):
            raise HarnessError("the token rig is not up: run scripts/rig.sh up and source $SIGNSERVICE_RIG/env.sh")
        self.card_pin_file = os.path.join(self.folder, "card.pin")
        self.soft_pin_file = os.path.join(self.folder, "softhsm.pin")
        self.tsa = os.environ.get("SIGNSERVICE_TEST_TSA")

    def pins(self):
        """The rig's PINs, for the leak search only."""
        return [open(path, "rb").read().strip() for path in (self.card_pin_file, self.soft_pin_file)]

    def card(self, action):
        """scripts/rig.sh card-out | card-in | card-reset."""
        subprocess.run([os.path.join(REPOSITORY, "scripts", "rig.sh"), action], cwd=REPOSITORY, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class Daemon:
    """`SignService agent|records --config` in its own folder; waits for the ready line on stdout."""

    def __init__(self, binary, role, folder, config):
        self.role, self.folder = role, folder
        os.makedirs(folder, exist_ok=True)
        self.state = os.path.join(folder, "state")
        config = {"port": 0, "stateDirectory": self.state, "logLevel": "trace", **config}
        self.config_path = os.path.join(folder, "config.json")
        with open(self.config_path, "w") as out:
            json.dump(config, out, indent=2)
        self.log_path = os.path.join(folder, "daemon.log")
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen([binary, role, "--config", self.config_path], stdout=self.log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, cwd=folder)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            match = re.search(r"SignService (?:[a-z]+ )?ready on (http://127\.0\.0\.1:(\d+))", self.text())
            if match:
                self.url, self.port = match.group(1), int(match.group(2))
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        raise HarnessError(f"the {role} did not start:\n{self.text()[-3000:]}")

    def text(self):
        with open(self.log_path, "rb") as file:
            return file.read().decode("utf-8", "replace")

    @property
    def admin_token(self):
        with open(os.path.join(self.state, "admin.token")) as file:
            return file.read().strip()

    @property
    def audit_log(self):
        return os.path.join(self.state, "audit.log")

    def request(self, method, path, body=None, headers=None, timeout=10):
        """A request as a local program with the admin token; returns (status, parsed JSON or raw bytes)."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.admin_token}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


class World:
    """Everything one run needs, under one temporary folder; `close()` stops it all."""

    def __init__(self, binaries, keep=False):
        self.binaries = os.path.abspath(binaries)
        self.signservice = os.path.join(self.binaries, "SignService")
        self.signctl = os.path.join(self.binaries, "signctl")
        for program in (self.signservice, self.signctl):
            if not os.access(program, os.X_OK):
                raise HarnessError(f"{program} is not there: build first, or give --bin FOLDER")
        self.rig = Rig()
        self.folder = tempfile.mkdtemp(prefix="signservice-browser-")
        self.keep = keep
        self.started = []
        try:
            self._start()
        except BaseException:
            self.close()
            raise

    def path(self, *parts):
        return os.path.join(self.folder, *parts)

    def _start(self):
        # Two static origins: the e-Office page's, on every allowlist, and a stranger's, on none.
        self.web = StaticServer(os.path.join(REPOSITORY, "web"))
        self.started.append(self.web)
        self.stranger = StaticServer(os.path.join(REPOSITORY, "web"))
        self.started.append(self.stranger)
        self.origin = self.web.origin

        # The pinentry the agent spawns: a wrapper with absolute paths, because the agent's environment is its own.
        self.pinentry_folder = self.path("pinentry")
        os.makedirs(self.pinentry_folder)
        self.pinentry_answer("card")
        self.pinentry_program = self.path("pinentry", "pinentry-test")
        test_pinentry.write_wrapper(self.pinentry_program, self.pinentry_folder)

        trust = os.path.join(REPOSITORY, "TestCerts", "trust")
        agent_config = {
            "allowedOrigins": [self.origin],
            "pinEntry": "pinentry",
            "pinentryProgram": self.pinentry_program,
            "chainFile": os.path.join(REPOSITORY, "TestCerts", "ca", "chain-individual.pem"),
            "trustDirectory": trust,
            # The rig's CRL and OCSP servers are on loopback, where verification does not fetch by default.
            "fetchFromPrivateAddresses": True,
        }
        if self.rig.tsa:
            agent_config["timeStampAuthority"] = self.rig.tsa
        self.agent = Daemon(self.signservice, "agent", self.path("agent"), agent_config)
        self.started.append(self.agent)
        # The records service on a port chosen here: with port 0 its default serviceName (what every login challenge
        # names) would say ":0" instead of the port bound.
        self.records = Daemon(self.signservice, "records", self.path("records"), {
            "port": free_port(),
            "allowedOrigins": [self.origin],
            "trustDirectory": trust,
            "fetchFromPrivateAddresses": True,
            "documentSigner": {
                "key": "pkcs11:token=SignService%20DocSigner;id=%10;type=private",
                "pinFile": self.rig.soft_pin_file,
                "chainFile": os.path.join(REPOSITORY, "TestCerts", "ca", "chain-docsigner.pem"),
            },
        })
        self.started.append(self.records)

        # Chromium treats the page's origin as public, so every request to the agent on 127.0.0.1 is a Local Network
        # Access request and needs the loopback-network permission, granted or denied per test.
        self.profile = self.path("chromium-profile")
        self.browser = Chromium(
            shutil.which("chromium") or "/usr/bin/chromium", self.profile,
            extra_flags=[f"--ip-address-space-overrides=127.0.0.1:{self.web.port}=public,127.0.0.1:{self.stranger.port}=public"],
            log_path=self.path("chromium.log"))
        self.started.append(self.browser)
        self.allow_local_network(True)
        self.browser.set_permission(LOOPBACK_PERMISSION, "granted", self.stranger.origin)

    def allow_local_network(self, allowed):
        self.browser.set_permission(LOOPBACK_PERMISSION, "granted" if allowed else "denied", self.origin)

    def demo_url(self, origin=None):
        return f"{origin or self.origin}/demo/index.html?agent={self.agent.url}&records={self.records.url}"

    def pinentry_answer(self, kind, value=None):
        """What the test pinentry answers next: "card", "soft" (the rig's PIN files), "wrong" or "cancel"."""
        text = {"card": f"file {self.rig.card_pin_file}",
                "soft": f"file {self.rig.soft_pin_file}", "wrong": "text Wr0ngPinX", "cancel": "cancel"}[kind]
        with open(os.path.join(self.pinentry_folder, "answer"), "w") as out:
            out.write(text + "\n")

    def dialogs(self):
        """Every PIN dialog the agent opened, in order."""
        try:
            with open(os.path.join(self.pinentry_folder, "dialog.log")) as file:
                return [json.loads(line) for line in file if line.strip()]
        except FileNotFoundError:
            return []

    def run(self, arguments, **options):
        return subprocess.run(arguments, capture_output=True, text=True, **options)

    def signctl_run(self, arguments):
        return self.run([self.signctl, *arguments])

    def cms_verify(self, signature, content, name):
        """openssl cms -verify over a detached .p7s and its content, to the test root (an independent verifier)."""
        p7s, data = self.path(f"{name}.p7s"), self.path(f"{name}.txt")
        with open(p7s, "wb") as out:
            out.write(signature)
        with open(data, "wb") as out:
            out.write(content)
        result = self.run(["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", p7s, "-content", data,
                           "-CAfile", os.path.join(REPOSITORY, "TestCerts", "ca", "root.crt"), "-out", "/dev/null"])
        # The signature carries its chain (the agent's chainFile): the test root is the only anchor given.
        return result.returncode == 0 and "Verification successful" in result.stderr, (result.stderr or result.stdout).strip()

    def written_files(self):
        """Every file under the run's folder: the agent's and records service's state and logs, the browser profile,
        the pinentry's log, the harness's own files."""
        for root, _, files in os.walk(self.folder):
            for name in files:
                yield os.path.join(root, name)

    def stop_processes(self):
        """Stops Chromium and both daemons (the static servers keep serving nothing that matters)."""
        for part in (self.browser, self.records, self.agent):
            if part in self.started:
                self.started.remove(part)
                part.close() if part is self.browser else part.stop()

    def close(self):
        for part in reversed(self.started):
            try:
                part.close() if hasattr(part, "close") and not isinstance(part, Daemon) else part.stop()
            except Exception:
                pass
        self.started = []
        if not self.keep:
            shutil.rmtree(self.folder, ignore_errors=True)
