"""The hostile-page run: pages hammer every agent endpoint with malformed, oversized and garbage requests and many
pairing requests, while the officer signs notes in the demo page. Afterwards: every officer signature verifies with
openssl, the agent still answers, its audit log verifies and stays under AUDIT_LIMIT bytes.
"""

import base64
import json
import os
import threading
import time
import urllib.request

AUDIT_LIMIT = 2 * 1024 * 1024

# Runs in a hostile tab for `seconds`: six workers (Chromium's connections per host), each sending a random request
# from the list, until the time is up. Answers and failures are counted by status.
HAMMER = r"""
async (agent, seconds, token) => {
  const end = Date.now() + seconds * 1000;
  const counts = { sent: 0, bytes: 0, failed: 0, statuses: {} };
  const big = "A".repeat(3 * 1024 * 1024);
  const garbage = (n) => { let s = ""; for (let i = 0; i < n; i++) s += String.fromCharCode((Math.random() * 0x2FF) | 0); return s; };
  const auth = token ? { Authorization: "Bearer " + token } : {};
  const json = (body) => ({ method: "POST", headers: { "Content-Type": "application/json", ...auth }, body });
  const requests = [
    () => [agent + "/v1/pairings", { method: "POST" }],
    () => [agent + "/v1/pairings", { method: "POST", body: garbage(5000) }],
    () => [agent + "/v1/pairings/" + "z".repeat(2000), {}],
    () => [agent + "/v1/pairings/..%2F..%2Fetc%2Fpasswd", {}],
    () => [agent + "/v1/tokens?all=true", { headers: auth }],
    () => [agent + "/v1/tokens", { headers: { Authorization: "Bearer " + "x".repeat(6000) } }],
    () => [agent + "/v1/sign", json(garbage(20000))],
    () => [agent + "/v1/sign", json(JSON.stringify({ extract: big, fileNumber: "F/1", noteID: "N", key: "pkcs11:token=Nobody;id=%01" }))],
    () => [agent + "/v1/sign", json(JSON.stringify({ extract: "!!", fileNumber: "", noteID: "", key: "not a uri", pin: "1234" }))],
    () => [agent + "/v1/sign", json(JSON.stringify({ extract: "QUJD", fileNumber: "F".repeat(100000), noteID: "N", key: "pkcs11:token=Nobody" }))],
    () => [agent + "/v1/sign", json(big + big)],
    () => [agent + "/v1/sign/batch", json(JSON.stringify({ key: "pkcs11:token=Nobody", notes: Array(20000).fill({ extract: "QQ==", fileNumber: "F", noteID: "N" }) }))],
    () => [agent + "/v1/sign/batch", json(garbage(3000))],
    () => [agent + "/v1/login/sign", json(JSON.stringify({ key: "pkcs11:token=Nobody", challenge: btoa(garbage(200).replace(/[^\x00-\xff]/g, "?")) }))],
    () => [agent + "/v1/login/sign", json(big)],
    () => [agent + "/v1/verify", json(JSON.stringify({ signature: btoa("not a signature"), content: "" }))],
    () => [agent + "/v1/verify", json(JSON.stringify({ signature: big, content: big }))],
    () => [agent + "/v1/admin/pairings/approve", json(JSON.stringify({ code: "123-456" }))],
    () => [agent + "/v1/admin/pairings?origin=" + encodeURIComponent(location.origin), { method: "DELETE", headers: auth }],
    () => [agent + "/v1/files", json("{}")],
    () => [agent + "/" + "a".repeat(4000), {}],
    () => [agent + "/v1/health", {}],
    () => [agent + "/v1/sign", { method: "DELETE", headers: auth }],
  ];
  const worker = async () => {
    while (Date.now() < end) {
      const [url, init] = requests[(Math.random() * requests.length) | 0]();
      counts.sent++;
      counts.bytes += typeof init.body === "string" ? init.body.length : 0;
      try {
        const controller = new AbortController();
        const timer = setTimeout(() => controller.abort(), 10000);
        const response = await fetch(url, { ...init, signal: controller.signal });
        await response.arrayBuffer().catch(() => null);
        clearTimeout(timer);
        counts.statuses[response.status] = (counts.statuses[response.status] || 0) + 1;
      } catch (error) {
        counts.failed++;
      }
    }
  };
  // The event stream opened and dropped over and over, beside the rest.
  const streams = async () => {
    while (Date.now() < end) {
      const controller = new AbortController();
      counts.sent++;
      try {
        const response = await fetch(agent + "/v1/events", { headers: auth, signal: controller.signal });
        counts.statuses[response.status] = (counts.statuses[response.status] || 0) + 1;
        setTimeout(() => controller.abort(), 200);
        await response.arrayBuffer().catch(() => null);
      } catch (error) {
        counts.failed++;
      }
    }
  };
  await Promise.all([worker(), worker(), worker(), worker(), worker(), streams()]);
  return counts;
}
"""


def hostile_run(suite, seconds):
    world = suite.world
    agent = world.agent.url
    # A stranger's page (an origin on no allowlist) and a second tab of the paired origin, using the page's token.
    stranger = world.browser.new_page(world.stranger.origin + "/")
    paired = world.browser.new_page(world.origin + "/")
    token = paired.evaluate(f"localStorage.getItem('signservice-token ' + {json.dumps(agent)})")
    results = {}

    def hammer(name, page, with_token):
        try:
            results[name] = page.evaluate(f"({HAMMER})({json.dumps(agent)}, {seconds}, {json.dumps(with_token)})",
                                          timeout=seconds + 60)
        except Exception as error:  # reported below as a failure of the run
            results[name] = {"error": str(error)}

    threads = [threading.Thread(target=hammer, args=("stranger", stranger, None)),
               threading.Thread(target=hammer, args=("paired tab", paired, token))]
    for thread in threads:
        thread.start()
    started = time.monotonic()
    signatures = []
    # The officer keeps working in the demo page: a note every few seconds, each appended to the file's history.
    suite.choose_key("Anita%20Sharma", "01")
    world.pinentry_answer("card")
    number = 0
    while time.monotonic() - started < seconds - 5 or len(signatures) < 5:
        number += 1
        signatures.append(suite.sign_note(f"H-{number}", f"Hostile-run note {number}: the officer keeps working.", timeout=120))
        time.sleep(1)
    for thread in threads:
        thread.join()
    stranger.close()
    paired.close()

    failures = []
    for name, counts in results.items():
        if "error" in counts:
            failures.append(f"the {name} run failed: {counts['error']}")
    for index, signed in enumerate(signatures):
        ok, detail = world.cms_verify(base64.b64decode(signed["signature"]),
                                      base64.b64decode(signed["extract"]), f"hostile-{index}")
        if not ok:
            failures.append(f"officer signature {signed['noteID']} does not verify: {detail}")
    appended = [s for s in signatures if s.get("appended")]
    if len(signatures) < 5:
        failures.append(f"the officer made only {len(signatures)} signatures under the hostile load (at least 5 expected)")
    if len(appended) != len(signatures):
        failures.append(f"{len(signatures) - len(appended)} of the officer's {len(signatures)} signatures were not appended to the history")
    with urllib.request.urlopen(agent + "/v1/health", timeout=10) as response:
        health = json.loads(response.read())
    if health.get("status") != "ok":
        failures.append(f"health: {health}")
    audit = world.signctl_run(["audit", "verify", world.agent.audit_log])
    if audit.returncode != 0:
        failures.append(f"signctl audit verify: {audit.stdout}{audit.stderr}")
    audit_bytes = os.path.getsize(world.agent.audit_log)
    # Where the audit log's bytes went, by action and result, the largest first: what to look at when it is too big.
    by_kind, largest = {}, (0, "")
    with open(world.agent.audit_log, "rb") as log:
        for line in log:
            record = json.loads(line)
            kind = f"{record.get('action')}/{record.get('result')}"
            count, size = by_kind.get(kind, (0, 0))
            by_kind[kind] = (count + 1, size + len(line))
            if len(line) > largest[0]:
                largest = (len(line), f"{kind}: {(record.get('detail') or '')[:80]}")
    breakdown = ", ".join(f"{kind} {count} records {size} bytes" for kind, (count, size) in
                          sorted(by_kind.items(), key=lambda item: -item[1][1])[:6])
    if audit_bytes >= AUDIT_LIMIT:
        failures.append(f"the audit log grew to {audit_bytes} bytes (limit {AUDIT_LIMIT})")
    sent = sum(counts.get("sent", 0) for counts in results.values())
    figures = {
        "hostile seconds": seconds,
        "hostile requests sent": sent,
        "hostile request body bytes offered": sum(counts.get("bytes", 0) for counts in results.values()),
        "hostile answers by status": {name: counts.get("statuses") for name, counts in results.items()},
        # The stranger's requests are refused with 403 and no CORS headers, so its fetch() calls fail (TypeError).
        "hostile fetch failures (no answer the page may read)": {name: counts.get("failed") for name, counts in results.items()},
        "officer signatures made": len(signatures),
        "officer signatures appended": len(appended),
        "agent audit log bytes": f"{audit_bytes} (limit {AUDIT_LIMIT})",
        "agent audit log by action/result": breakdown,
        "agent audit log's largest record": f"{largest[0]} bytes, {largest[1]}",
        "audit verify": audit.stdout.strip().splitlines()[-1] if audit.stdout.strip() else audit.stderr.strip(),
    }
    if failures:
        raise AssertionError("; ".join(failures) + f" (figures: {figures})")
    return figures
