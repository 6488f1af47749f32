// The demo note sheet: pairing, the live token list, signing one note or all drafts, the DSC login to the records
// service and the file's history. Addresses come from the query string (`?agent=...&records=...`), so the same page
// works with the agent's default port and with the test harness's.

import { SignServiceAgent, RecordsClient, SignServiceError, sha256Hex, toBase64 } from "../signservice.js";

const query = new URLSearchParams(location.search);
const agentURL = query.get("agent") ?? "http://127.0.0.1:8787";
const recordsURL = query.get("records");
const storageKey = `signservice-token ${agentURL}`;

const agent = new SignServiceAgent(agentURL, { token: localStorage.getItem(storageKey) });
// The records session lasts as long as the page: a reload logs in again.
const records = recordsURL ? new RecordsClient(recordsURL) : null;

/** What happened, for anyone inspecting the page (and for the browser tests). */
const demo = { agent, records, signed: [], events: [], errors: [], history: null, inventory: null };
window.demo = demo;

const $ = (id) => document.getElementById(id);
const encoder = new TextEncoder();
let drafts = [];
let stream = null;

// Errors: one banner, worded by kind, with the service's code.
const TITLES = {
  "not-paired": "This page is not paired with the SignService agent",
  "origin-refused": "The SignService agent refuses this page",
  unreachable: "The SignService agent cannot be reached",
  "wrong-pin": "The PIN was not accepted",
  cancelled: "Signing was cancelled",
  "not-logged-in": "Not logged in to the records service",
  conflict: "The file changed meanwhile",
  "not-found": "Not found",
  unavailable: "Not available right now",
  failed: "Something went wrong",
};

function showError(error) {
  const kind = error instanceof SignServiceError ? error.kind : "failed";
  demo.errors.push({ kind, code: error.code ?? null, status: error.status ?? 0, message: error.message, name: error.name });
  const box = $("error");
  box.dataset.kind = kind;
  box.dataset.code = error.code ?? "";
  $("error-title").textContent = TITLES[kind] ?? TITLES.failed;
  let message = error.message;
  if (kind === "wrong-pin") message += error.locked ? " The token is locked." : " Check the PIN and sign again.";
  if (kind === "not-paired") message += " Use “Pair with the agent”.";
  $("error-message").textContent = message;
  box.hidden = false;
}

function clearError() {
  $("error").hidden = true;
  delete $("error").dataset.kind;
}

function status(text) {
  $("status").textContent = text;
}

/** Runs a button's action with the button disabled and errors shown. */
async function action(button, work) {
  button.disabled = true;
  clearError();
  try {
    await work();
  } catch (error) {
    showError(error);
  } finally {
    button.disabled = false;
  }
}

// The agent: pairing, tokens, events.

function showPaired() {
  const paired = Boolean(agent.token);
  $("agent-state").textContent = paired ? "Agent: paired" : "Agent: not paired";
  $("agent-state").className = `badge ${paired ? "on" : "off"}`;
  $("pair").hidden = paired;
}

async function refreshTokens() {
  const inventory = await agent.tokens();
  demo.inventory = inventory;
  const list = $("tokens");
  const select = $("key");
  const chosen = select.value;
  list.replaceChildren();
  select.replaceChildren();
  for (const reader of inventory.readers.filter((r) => !r.cardPresent)) {
    const item = document.createElement("li");
    item.dataset.reader = reader.name;
    item.innerHTML = `<span class="label absent">No card</span><div class="meta"></div>`;
    item.querySelector(".meta").textContent = `reader ${reader.name}`;
    list.append(item);
  }
  for (const token of inventory.tokens) {
    const item = document.createElement("li");
    item.dataset.label = token.label;
    if (token.reader) item.dataset.reader = token.reader;
    const label = document.createElement("span");
    label.className = "label";
    label.textContent = token.label;
    const meta = document.createElement("div");
    meta.className = "meta";
    meta.textContent = `${token.reader ? `reader ${token.reader}` : token.manufacturer} · PIN ${token.pinState} · ${token.certificates.length} certificate(s)`;
    item.append(label, meta);
    list.append(item);
    for (const certificate of token.certificates) {
      const option = document.createElement("option");
      option.value = certificate.uri;
      option.textContent = `${certificate.commonName ?? certificate.subject} · ${token.label} · ${certificate.keyAlgorithm}`;
      select.append(option);
    }
  }
  if (!list.children.length) list.innerHTML = `<li class="empty">No readers or tokens.</li>`;
  if (!select.children.length) select.innerHTML = `<option value="">(no signing certificate)</option>`;
  if ([...select.options].some((o) => o.value === chosen)) select.value = chosen;
}

function followEvents() {
  stream?.close();
  stream = agent.events(
    (event) => {
      demo.events.push({ ...event, received: Date.now() });
      const line = document.createElement("li");
      line.dataset.type = event.type;
      line.textContent = `${event.time?.slice(11, 19) ?? ""} ${event.type} ${event.reader ?? ""}`;
      $("events").prepend(line);
      refreshTokens().catch(showError);
    },
    { onReady: () => (demo.streamReady = true), onError: (error) => demo.errors.push({ kind: error.kind, message: error.message, stream: true }) },
  );
}

async function afterPairing() {
  showPaired();
  await refreshTokens();
  followEvents();
}

$("pair").addEventListener("click", (event) =>
  action(event.target, async () => {
    const token = await agent.pair({
      onCode: (code, { approveWith }) => {
        $("pairing").hidden = false;
        $("pairing-code").textContent = code;
        $("pairing-command").textContent = approveWith;
      },
    });
    localStorage.setItem(storageKey, token);
    $("pairing").hidden = true;
    status("Paired with the agent.");
    await afterPairing();
  }),
);

// Signing.

function currentNote() {
  return { fileNumber: $("file-number").value.trim(), noteID: $("note-id").value.trim(), extract: encoder.encode($("note-text").value) };
}

function nextNoteID() {
  const id = $("note-id").value.trim();
  const match = id.match(/^(.*?)(\d+)$/);
  $("note-id").value = match ? match[1] + (Number(match[2]) + 1) : id + "-2";
}

async function remember(note, signed, appended) {
  demo.signed.push({
    fileNumber: note.fileNumber,
    noteID: note.noteID,
    extract: toBase64(note.extract),
    extractSHA256: await sha256Hex(note.extract),
    signature: toBase64(signed.signature),
    signer: signed.signer,
    certificateSHA256: signed.certificateSHA256,
    timeStamp: signed.timeStamp,
    appended: appended ? appended.entry.sequence : null,
  });
}

$("sign").addEventListener("click", (event) =>
  action(event.target, async () => {
    const note = currentNote();
    const key = $("key").value;
    status(`Signing ${note.noteID}: confirm and type the PIN in the SignService window…`);
    try {
      if (records?.session) {
        const { signed, appended } = await records.signAndAppend({ agent, key, ...note });
        await remember(note, signed, appended);
        status(`${note.noteID} signed by ${signed.signer} and added to the file as entry ${appended.entry.sequence}.`);
        await showHistory();
      } else {
        const signed = await agent.sign({ key, ...note });
        await remember(note, signed, null);
        status(`${note.noteID} signed by ${signed.signer}${signed.timeStamp ? ", time-stamped" : ""} (not added to a file: log in to the records service).`);
      }
      nextNoteID();
    } catch (error) {
      status("");
      throw error;
    }
  }),
);

function showDrafts() {
  const list = $("drafts");
  list.replaceChildren();
  for (const draft of drafts) {
    const item = document.createElement("li");
    item.textContent = `${draft.fileNumber} · ${draft.noteID}: ${new TextDecoder().decode(draft.extract).slice(0, 80)}`;
    list.append(item);
  }
  if (!drafts.length) list.innerHTML = `<li class="empty">No drafts.</li>`;
}

$("add-draft").addEventListener("click", () => {
  drafts.push(currentNote());
  nextNoteID();
  showDrafts();
});

$("sign-drafts").addEventListener("click", (event) =>
  action(event.target, async () => {
    if (!drafts.length) throw new SignServiceError("there are no drafts to sign: keep a note as a draft first");
    status(`Signing ${drafts.length} drafts with one PIN…`);
    const batch = await agent.signBatch({ key: $("key").value, notes: drafts });
    for (const [index, signature] of batch.signatures.entries()) {
      await remember(drafts[index], { ...batch, signature: signature.signature, timeStamp: batch.timeStampAuthority }, null);
    }
    status(`${batch.signatures.length} drafts signed by ${batch.signer}.`);
    drafts = [];
    showDrafts();
  }),
);

// The records service: login, history.

function showMember() {
  const member = records?.member;
  $("member").textContent = member ? `${member.name} (${member.role}, ${member.department})` : records ? "Not logged in." : "No records service configured (?records=URL).";
  $("records-state").textContent = member ? `Records: ${member.name}` : "Records: not logged in";
  $("records-state").className = `badge ${member ? "on" : "off"}`;
  $("login").hidden = Boolean(member) || !records;
  $("logout").hidden = !member;
}

async function showHistory() {
  const body = $("history");
  $("open-file").hidden = true;
  let history;
  try {
    history = await records.history($("file-number").value.trim());
  } catch (error) {
    if (error.kind !== "not-found") throw error;
    body.innerHTML = `<tr class="empty"><td colspan="6">This file has no history yet.</td></tr>`;
    $("open-file").hidden = false;
    return;
  }
  demo.history = history;
  body.replaceChildren();
  for (const entry of history.entries) {
    const row = document.createElement("tr");
    const signer = entry.signerFingerprint === records.member?.fingerprint ? records.member.name : entry.signerFingerprint.slice(0, 12) + "…";
    for (const [text, cls] of [
      [entry.sequence, ""], [entry.kind, ""], [entry.noteID, ""], [signer, ""],
      [entry.time.replace("T", " ").replace("Z", ""), ""], [entry.hash.slice(0, 16) + "…", "hash"],
    ]) {
      const cell = document.createElement("td");
      cell.textContent = text;
      if (cls) cell.className = cls;
      row.append(cell);
    }
    body.append(row);
  }
  if (!history.entries.length) body.innerHTML = `<tr class="empty"><td colspan="6">No entries yet: sign the first note.</td></tr>`;
}

$("login").addEventListener("click", (event) =>
  action(event.target, async () => {
    status("Logging in: confirm and type the PIN in the SignService window…");
    const session = await records.login({ agent, key: $("key").value });
    status(`Logged in as ${session.member.name}.`);
    showMember();
    await showHistory();
  }),
);

$("logout").addEventListener("click", (event) =>
  action(event.target, async () => {
    await records.logout();
    showMember();
    $("history").innerHTML = `<tr class="empty"><td colspan="6">Log in to the records service to see the file's history.</td></tr>`;
  }),
);

$("open-file").addEventListener("click", (event) =>
  action(event.target, async () => {
    await records.createFile({ number: $("file-number").value.trim(), subject: "Opened from the note sheet", department: records.member.department });
    await showHistory();
  }),
);

$("file-number").addEventListener("change", () => {
  if (records?.member) showHistory().catch(showError);
});
$("error-close").addEventListener("click", clearError);

// Start: a page with a kept token lists tokens at once; one without is told to pair.
showPaired();
showMember();
refreshTokens()
  .then(() => {
    showPaired();
    followEvents();
  })
  .catch((error) => {
    if (error.kind === "not-paired") {
      agent.token = null;
      localStorage.removeItem(storageKey);
      showPaired();
    }
    showError(error);
  })
  .finally(() => (demo.started = true));
