// SignService for e-Office pages: the officer's local agent (tokens, signatures) and the department's records
// service (DSC login, file histories). A plain ES module with no dependencies and no build step:
//
//   import { SignServiceAgent, RecordsClient } from "./signservice.js";
//
// The PIN is never handled here: the agent asks for it in its own pinentry dialog on the officer's screen (agent
// configuration `"pinEntry": "pinentry"`), which names the page's origin, the file, the note and the signer.
// The HTTP API is described in docs/openapi.yaml and docs/daemon.md.

/** The agent's address when it runs with its defaults. */
export const DEFAULT_AGENT_URL = "http://127.0.0.1:8787";

/**
 * Every failure this module reports. `code` is the service's stable error code (`pin-incorrect`, `refused`,
 * `invalid-request`, `head-moved`, ...: Sources/SignService/Shared/ErrorStatus.swift), or null when the HTTP layer
 * answered without one; `status` is the HTTP status (0 when no answer came); `kind` sorts failures for a page to
 * word them: "not-paired", "origin-refused", "unreachable", "wrong-pin", "cancelled", "not-logged-in",
 * "not-found", "conflict", "unavailable" or "failed".
 */
export class SignServiceError extends Error {
  /**
   * @param {string} message what went wrong, in words (the service's own text when it gave one)
   * @param {{code?: string|null, status?: number, kind?: string, cause?: unknown}} [details]
   */
  constructor(message, { code = null, status = 0, kind = "failed", cause } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "SignServiceError";
    /** @type {string|null} */ this.code = code;
    /** @type {number} */ this.status = status;
    /** @type {string} */ this.kind = kind;
  }
}

/** 401 from the agent: this page has no (valid) pairing token; call `pair()`. */
export class NotPairedError extends SignServiceError {
  constructor(message, details) {
    super(message, { ...details, kind: "not-paired" });
    this.name = "NotPairedError";
  }
}

/** 403 `refused`: the service does not allow this page's origin (its `allowedOrigins`). */
export class OriginRefusedError extends SignServiceError {
  constructor(message, details) {
    super(message, { ...details, kind: "origin-refused" });
    this.name = "OriginRefusedError";
  }
}

/**
 * No answer at all: fetch() itself failed. The browser refused to let the page reach the local network (Local
 * Network Access denied, or not yet allowed), or the agent is not running.
 */
export class AgentUnreachableError extends SignServiceError {
  constructor(url, cause) {
    super(
      `This page could not reach the SignService agent at ${url}. Allow this page to access devices on your local ` +
        "network (the browser asks, or see the site's permissions next to the address bar), and check that the " +
        "SignService agent is running on this computer.",
      { kind: "unreachable", cause },
    );
    this.name = "AgentUnreachableError";
  }
}

/** The token refused the PIN (`pin-incorrect`, `pin-final-try`) or is locked (`pin-locked`). */
export class WrongPINError extends SignServiceError {
  constructor(message, details) {
    super(message, { ...details, kind: "wrong-pin" });
    this.name = "WrongPINError";
    /** True when the token is now locked: no further try will help. */
    this.locked = details?.code === "pin-locked";
  }
}

/** The officer cancelled the PIN dialog (or the page aborted the request). */
export class CancelledError extends SignServiceError {
  constructor(message, details) {
    super(message, { ...details, kind: "cancelled" });
    this.name = "CancelledError";
  }
}

const WRONG_PIN_CODES = new Set(["pin-incorrect", "pin-final-try", "pin-locked"]);

/**
 * The typed error for an answer that was not a success. The body is the services' `{"error": "code: reason",
 * "code": "code"}` when it is JSON.
 * @param {Response} response
 * @param {"agent"|"records"} service
 * @returns {Promise<SignServiceError>}
 */
async function errorFrom(response, service) {
  let message = `${response.status} ${response.statusText}`.trim();
  let code = null;
  try {
    const body = await response.json();
    if (typeof body?.error === "string") message = body.error;
    else if (typeof body?.error?.message === "string") message = body.error.message;
    if (typeof body?.code === "string") code = body.code;
  } catch {
    // An answer without a JSON body (413 from the HTTP layer, a proxy's page): the status says enough.
  }
  const details = { code, status: response.status };
  if (code === "refused" && response.status === 403) return new OriginRefusedError(message, details);
  if (WRONG_PIN_CODES.has(code)) return new WrongPINError(message, details);
  if (code === "pinentry" && /cancel/i.test(message)) return new CancelledError(message, details);
  if (response.status === 401) {
    if (service === "agent") return new NotPairedError(message, details);
    return new SignServiceError(message, { ...details, kind: "not-logged-in" });
  }
  const kind = { 404: "not-found", 409: "conflict", 503: "unavailable" }[response.status] ?? "failed";
  return new SignServiceError(message, { ...details, kind });
}

/**
 * fetch() with the module's error mapping: a network failure becomes AgentUnreachableError (or CancelledError when
 * the page aborted), an answer that is not 2xx the typed error for its code.
 * @param {string} url
 * @param {RequestInit} init
 * @param {"agent"|"records"} service
 */
async function call(url, init, service) {
  let response;
  try {
    response = await fetch(url, { ...init, cache: "no-store" });
  } catch (error) {
    if (error?.name === "AbortError") throw new CancelledError("the request was cancelled", { cause: error });
    if (service === "agent") throw new AgentUnreachableError(url, error);
    throw new SignServiceError(`the records service at ${url} could not be reached: ${error?.message ?? error}`, {
      kind: "unreachable",
      cause: error,
    });
  }
  if (!response.ok) throw await errorFrom(response, service);
  return response;
}

/** @param {Uint8Array} bytes @returns {string} */
export function toBase64(bytes) {
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

/** @param {string} text @returns {Uint8Array} */
export function fromBase64(text) {
  const raw = atob(text);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  return bytes;
}

/** Lower-case hex SHA-256 of some bytes (Web Crypto). @param {Uint8Array} bytes */
export async function sha256Hex(bytes) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

const sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(new CancelledError("pairing was cancelled"));
    });
  });

/**
 * @typedef {object} Signed
 * @property {Uint8Array} signature the detached CAdES signature (.p7s, DER)
 * @property {string} signer the signer's common name
 * @property {string} certificateSHA256 the signing certificate's SHA-256 fingerprint (hex)
 * @property {string|null} timeStamp the time-stamping authority's URL, or null when not time-stamped
 */

/**
 * @typedef {object} TokenEvent
 * @property {string} type card-present, card-inserted, card-removed, reader-added, reader-removed, pcsc-unavailable
 * @property {string} [reader]
 * @property {string} [atr]
 * @property {string} time
 */

/**
 * The officer's SignService agent on this computer (`SignService agent`, loopback only).
 *
 * A page must be paired before it may list tokens or sign: `pair()` shows a code that the officer approves on this
 * computer (`signctl pair approve CODE`), and the token it receives is bound to the page's origin. Keep it (for
 * example in localStorage) and pass it back as `{token}` next time.
 */
export class SignServiceAgent {
  /**
   * @param {string} [baseURL] the agent's URL, `http://127.0.0.1:8787` by default
   * @param {{token?: string|null}} [options] a pairing token kept from an earlier `pair()`
   */
  constructor(baseURL = DEFAULT_AGENT_URL, { token = null } = {}) {
    this.baseURL = baseURL.replace(/\/+$/, "");
    /** @type {string|null} the pairing token, once paired */
    this.token = token;
  }

  /** @param {string} path @param {RequestInit} [init] */
  async #request(path, init = {}) {
    const headers = new Headers(init.headers);
    if (this.token) headers.set("Authorization", `Bearer ${this.token}`);
    return call(this.baseURL + path, { ...init, headers }, "agent");
  }

  /** @param {string} path @param {unknown} body */
  async #postJSON(path, body, init = {}) {
    return this.#request(path, {
      ...init,
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
  }

  /** GET /v1/health: `{status, version}`; needs no pairing. */
  async health() {
    return (await this.#request("/v1/health")).json();
  }

  /**
   * Pairs this page with the agent: asks for a pairing, hands the code to `onCode` for the page to show, and polls
   * until the officer approves it. Resolves to the token (also kept in `this.token`).
   * @param {{onCode: (code: string, details: {expires: string, approveWith: string}) => void,
   *          intervalMs?: number, signal?: AbortSignal}} options
   * @returns {Promise<string>}
   */
  async pair({ onCode, intervalMs = 1000, signal } = {}) {
    const asked = await (await this.#request("/v1/pairings", { method: "POST", signal })).json();
    onCode?.(asked.code, { expires: asked.expires, approveWith: asked.approveWith });
    for (;;) {
      await sleep(intervalMs, signal);
      let answer;
      try {
        answer = await (await this.#request(`/v1/pairings/${encodeURIComponent(asked.id)}`, { signal })).json();
      } catch (error) {
        if (error.kind === "not-found") {
          throw new SignServiceError("the pairing code expired before it was approved: pair again", {
            code: error.code,
            status: error.status,
            kind: "not-paired",
          });
        }
        throw error;
      }
      if (answer.status === "approved" && answer.token) {
        this.token = answer.token;
        return answer.token;
      }
      if (answer.status === "collected") {
        throw new SignServiceError("this pairing's token was already handed out (to another copy of the page?)", {
          kind: "not-paired",
        });
      }
    }
  }

  /**
   * GET /v1/tokens: readers, tokens and their signing certificates (docs/tokens.md). Each certificate's `uri` is the
   * `key` to sign with.
   * @param {{all?: boolean}} [options] `all`: also certificates not offered for signing
   */
  async tokens({ all = false } = {}) {
    return (await this.#request(all ? "/v1/tokens?all=true" : "/v1/tokens")).json();
  }

  /**
   * Follows the agent's reader and card events (GET /v1/events, server-sent events).
   *
   * EventSource cannot send an Authorization header, and the agent accepts the pairing token only there (never in
   * the URL, where it would end up in logs and history), so the stream is read with fetch() and a ReadableStream
   * and parsed here as text/event-stream. When the stream breaks it is opened again after `retryMs`, and the agent
   * starts each stream with the cards present now, so nothing is missed for long.
   *
   * @param {(event: TokenEvent) => void} onEvent called for each event
   * @param {{onReady?: () => void, onError?: (error: SignServiceError) => void, retryMs?: number}} [options]
   *   `onReady`: the agent sent its current state (`: ready`); `onError`: the stream failed (it is retried unless the
   *   error is NotPairedError or OriginRefusedError)
   * @returns {{close: () => void}}
   */
  events(onEvent, { onReady, onError, retryMs = 2000 } = {}) {
    const controller = new AbortController();
    const run = async () => {
      while (!controller.signal.aborted) {
        try {
          const response = await this.#request("/v1/events", {
            headers: { Accept: "text/event-stream" },
            signal: controller.signal,
          });
          await readEventStream(response.body, onEvent, onReady);
          if (!controller.signal.aborted) onError?.(new SignServiceError("the agent closed the event stream", { kind: "unreachable" }));
        } catch (error) {
          if (controller.signal.aborted) return;
          const failure = error instanceof SignServiceError ? error : new AgentUnreachableError(this.baseURL, error);
          onError?.(failure);
          if (failure instanceof NotPairedError || failure instanceof OriginRefusedError) return;
        }
        await sleep(retryMs, controller.signal).catch(() => {});
      }
    };
    run();
    return { close: () => controller.abort() };
  }

  /**
   * POST /v1/sign: signs a note's extract on the token holding `key`. The agent asks for the PIN in its own dialog.
   * @param {{key: string, extract: Uint8Array, fileNumber: string, noteID: string,
   *          commitment?: "proofOfOrigin"|"proofOfApproval", previousHash?: string, timeStamp?: boolean,
   *          signal?: AbortSignal}} request `previousHash`: the file history's head (hex) the note chains to
   * @returns {Promise<Signed>}
   */
  async sign({ key, extract, fileNumber, noteID, commitment, previousHash, timeStamp, signal }) {
    const body = { key, extract: toBase64(extract), fileNumber, noteID };
    if (commitment) body.commitment = commitment;
    if (previousHash) body.previousHash = previousHash;
    if (timeStamp !== undefined) body.timeStamp = timeStamp;
    const response = await this.#postJSON("/v1/sign", body, { signal });
    const stamp = response.headers.get("X-Time-Stamp");
    return {
      signature: new Uint8Array(await response.arrayBuffer()),
      signer: decodeURIComponent(response.headers.get("X-Signer") ?? ""),
      certificateSHA256: response.headers.get("X-Certificate-SHA256") ?? "",
      timeStamp: stamp && stamp !== "none" ? stamp : null,
    };
  }

  /**
   * POST /v1/sign/batch: several notes signed with one PIN dialog.
   * @param {{key: string, notes: {extract: Uint8Array, fileNumber: string, noteID: string,
   *          commitment?: string, previousHash?: string}[], timeStamp?: boolean, signal?: AbortSignal}} request
   * @returns {Promise<{signer: string, certificateSHA256: string, timeStampAuthority: string|null,
   *          signatures: {fileNumber: string, noteID: string, signature: Uint8Array}[]}>}
   */
  async signBatch({ key, notes, timeStamp, signal }) {
    const body = {
      key,
      notes: notes.map(({ extract, fileNumber, noteID, commitment, previousHash }) => {
        const note = { extract: toBase64(extract), fileNumber, noteID };
        if (commitment) note.commitment = commitment;
        if (previousHash) note.previousHash = previousHash;
        return note;
      }),
    };
    if (timeStamp !== undefined) body.timeStamp = timeStamp;
    const answer = await (await this.#postJSON("/v1/sign/batch", body, { signal })).json();
    return {
      signer: answer.signer,
      certificateSHA256: answer.certificateSHA256,
      timeStampAuthority: answer.timeStampAuthority ?? null,
      signatures: answer.signatures.map((s) => ({ fileNumber: s.fileNumber, noteID: s.noteID, signature: fromBase64(s.signature) })),
    };
  }

  /**
   * POST /v1/verify: the verification report (`signservice.verification/1`, docs/verification.md).
   * @param {Uint8Array} signature the .p7s (DER or PEM bytes)
   * @param {Uint8Array} content the signed bytes
   * @param {{at?: string, revocation?: "require"|"soft"|"off"}} [options]
   */
  async verify(signature, content, { at, revocation } = {}) {
    const body = { signature: toBase64(signature), content: toBase64(content) };
    if (at) body.at = at;
    if (revocation) body.revocation = revocation;
    return (await this.#postJSON("/v1/verify", body)).json();
  }

  /**
   * POST /v1/login/sign: signs a records service's login challenge on the token (the PIN dialog says it is a login
   * and to which service). The signature can only log in; it can never be appended as a note.
   * @param {{key: string, challenge: Uint8Array, signal?: AbortSignal}} request
   * @returns {Promise<{signature: Uint8Array, signer: string, certificate: string, service: string}>}
   */
  async loginSign({ key, challenge, signal }) {
    const answer = await (await this.#postJSON("/v1/login/sign", { key, challenge: toBase64(challenge) }, { signal })).json();
    return { ...answer, signature: fromBase64(answer.signature) };
  }
}

/**
 * Reads a text/event-stream body and calls `onEvent` with each event's parsed data (TokenEvent JSON).
 * @param {ReadableStream<Uint8Array>} body
 */
async function readEventStream(body, onEvent, onReady) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let type = "message";
  let data = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.search(/\r\n|\r|\n/)) >= 0) {
      const line = buffer.slice(0, end);
      buffer = buffer.slice(end + (buffer.startsWith("\r\n", end) ? 2 : 1));
      if (line === "") {
        // A blank line ends an event.
        if (data.length) {
          let parsed;
          try {
            parsed = JSON.parse(data.join("\n"));
          } catch {
            parsed = { type, data: data.join("\n") };
          }
          onEvent({ type, ...parsed });
        }
        type = "message";
        data = [];
      } else if (line.startsWith(":")) {
        if (line.slice(1).trim() === "ready") onReady?.();
      } else {
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") type = text;
        else if (field === "data") data.push(text);
      }
    }
  }
}

/**
 * The department's records service (`SignService records`): DSC login, file histories, signed notes appended.
 *
 * A session comes from `login()`: the service issues a challenge, the officer's agent signs it on the token, and
 * the service checks the signature against its roster. Keep `session.token` for the session's lifetime if the page
 * reloads, and pass it back as `{session}`.
 */
export class RecordsClient {
  /**
   * @param {string} baseURL the records service's URL
   * @param {{session?: string|null}} [options] a session token kept from an earlier login
   */
  constructor(baseURL, { session = null } = {}) {
    this.baseURL = baseURL.replace(/\/+$/, "");
    /** @type {string|null} */ this.session = session;
    /** @type {object|null} the roster member logged in (`{fingerprint, name, department, role}`) */
    this.member = null;
  }

  async #request(path, init = {}) {
    const headers = new Headers(init.headers);
    if (this.session) headers.set("Authorization", `Bearer ${this.session}`);
    return call(this.baseURL + path, { ...init, headers }, "records");
  }

  async #postJSON(path, body) {
    return this.#request(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  }

  /** A file number as one path segment (its slashes percent-encoded). @param {string} number */
  static filePath(number) {
    return `/v1/files/${encodeURIComponent(number)}`;
  }

  /**
   * Logs in with the officer's DSC: a challenge from this service, signed by the agent on `key`, sent back.
   * @param {{agent: SignServiceAgent, key: string}} options
   * @returns {Promise<{token: string, expires: string, member: object}>}
   */
  async login({ agent, key }) {
    const issued = await (await this.#request("/v1/login/challenge", { method: "POST" })).json();
    const signed = await agent.loginSign({ key, challenge: fromBase64(issued.challenge) });
    const session = await (
      await this.#postJSON("/v1/login", { challenge: issued.challenge, signature: toBase64(signed.signature) })
    ).json();
    this.session = session.token;
    this.member = session.member;
    return session;
  }

  /** Ends the session (a session the service no longer knows is not an error). */
  async logout() {
    if (this.session) await this.#request("/v1/logout", { method: "POST" });
    this.session = null;
    this.member = null;
  }

  /** GET /v1/files: the files this member may read. @returns {Promise<{number: string, subject: string, department: string}[]>} */
  async files() {
    return (await (await this.#request("/v1/files")).json()).files;
  }

  /** POST /v1/files: opens a file's history. @param {{number: string, subject: string, department: string}} file */
  async createFile(file) {
    return (await (await this.#postJSON("/v1/files", file)).json()).file;
  }

  /**
   * GET /v1/files/{file}: the file, `head` (the hash the next note must be signed over), its entries (each with its leaf in the department log) and the checkpoints of histories made before the log.
   * @param {string} number
   */
  async history(number) {
    return (await this.#request(RecordsClient.filePath(number))).json();
  }

  /**
   * POST /v1/files/{file}/entries: appends a signed note (or approval). The service verifies the signature and its
   * context (this file, this note, the current head); 409 (`head-moved`) means another append won: sign again over
   * the new head.
   * @param {{fileNumber: string, noteID: string, content: Uint8Array, signature: Uint8Array, kind?: "note"|"approval"}} entry
   */
  async append({ fileNumber, noteID, content, signature, kind = "note" }) {
    const body = { kind, noteID, content: toBase64(content), signature: toBase64(signature) };
    return (await this.#postJSON(RecordsClient.filePath(fileNumber) + "/entries", body)).json();
  }

  /**
   * The whole step of adding a note: reads the file's head, has the agent sign the extract over it, appends. When
   * another desk appended in between (409), signs once more over the new head.
   * @param {{agent: SignServiceAgent, key: string, fileNumber: string, noteID: string, extract: Uint8Array}} note
   * @returns {Promise<{signed: Signed, appended: object}>}
   */
  async signAndAppend({ agent, key, fileNumber, noteID, extract }) {
    for (let attempt = 0; ; attempt++) {
      const { head } = await this.history(fileNumber);
      const signed = await agent.sign({ key, extract, fileNumber, noteID, previousHash: head });
      try {
        const appended = await this.append({ fileNumber, noteID, content: extract, signature: signed.signature });
        return { signed, appended };
      } catch (error) {
        if (error.status !== 409 || attempt > 0) throw error;
      }
    }
  }
}
