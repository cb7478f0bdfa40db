/* Talking to relink-api: the bearer token, Idempotency-Keys on creates, problem+json errors. */

import { state } from "./state.js";

/** What went wrong, worded for the customer; `problem` is the API's problem+json, if any. */
export class ApiProblem extends Error {
  constructor(detail, status, problem) {
    super(detail);
    this.name = "ApiProblem";
    this.detail = detail;
    this.status = status;
    this.problem = problem || null;
  }
}

const CREATE_RETRIES = 2;

/** A fresh Idempotency-Key: one per customer action, kept across its retries. */
function newIdempotencyKey() {
  if (window.crypto && typeof window.crypto.randomUUID === "function") {
    return window.crypto.randomUUID();
  }
  const bytes = new Uint8Array(16);
  window.crypto.getRandomValues(bytes);
  return Array.from(bytes, (byte) => ("0" + byte.toString(16)).slice(-2)).join("");
}

function pause(milliseconds) {
  return new Promise((resolve) => {
    setTimeout(resolve, milliseconds);
  });
}

/**
 * `method path` with `body` as JSON; resolves to the response's JSON, or rejects with an
 * ApiProblem. Options: `anonymous` (no token), `create` (an Idempotency-Key, and retries).
 */
export async function api(method, path, body, options) {
  const headers = { Accept: "application/json, application/problem+json" };
  if (state.token && !(options && options.anonymous)) {
    headers.Authorization = "Bearer " + state.token;
  }
  if (body !== undefined) headers["Content-Type"] = "application/json";
  // Creates carry an Idempotency-Key, so a response lost on the way back can be asked
  // for again without starting a second session: the server replays the first.
  let retries = 0;
  if (options && options.create) {
    headers["Idempotency-Key"] = newIdempotencyKey();
    retries = CREATE_RETRIES;
  }
  let response;
  for (let attempt = 0; ; attempt++) {
    try {
      response = await fetch(state.apiBase + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "omit",
        cache: "no-store",
      });
    } catch (_networkError) {
      if (attempt < retries) {
        await pause(500 * (attempt + 1));
        continue;
      }
      throw new ApiProblem(
        "We couldn't reach the server. Check your internet connection and try again.",
        0,
      );
    }
    // The first try is still running on the server: wait for its result.
    if (attempt < retries && response.status === 409 && (await isInUse(response))) {
      await pause(1000 * (parseInt(response.headers.get("Retry-After"), 10) || 1));
      continue;
    }
    break;
  }
  let payload = null;
  const type = response.headers.get("Content-Type") || "";
  if (type.indexOf("json") !== -1) {
    try {
      payload = await response.json();
    } catch (_badJson) {
      payload = null;
    }
  }
  if (!response.ok) {
    const detail =
      (payload && (payload.detail || payload.title)) ||
      "The server answered with an error (HTTP " + response.status + ").";
    throw new ApiProblem(detail, response.status, payload);
  }
  return payload;
}

/** Whether a problem's `type` URI names this kind of problem (its last path segment). */
function hasType(problem, slug) {
  return Boolean(
    problem && typeof problem.type === "string" && problem.type.split("/").pop() === slug,
  );
}

async function isInUse(response) {
  try {
    // A clone: the caller reads the original.
    return hasType(await response.clone().json(), "idempotency-key-in-use");
  } catch (_notJson) {
    return false;
  }
}

/** Whether `error` is the API's problem of this kind (`slug`: its type's last segment). */
export function isProblem(error, slug) {
  return error instanceof ApiProblem && hasType(error.problem, slug);
}

export function sessionPath(sessionId, rest) {
  return "/v1/relink-sessions/" + encodeURIComponent(sessionId) + (rest || "");
}

/** Every `client_secret`, however deep, removed: the API never needs it back. */
export function withoutClientSecret(value) {
  if (value === undefined) return {};
  return JSON.parse(JSON.stringify(value), (key, item) =>
    key === "client_secret" ? undefined : item,
  );
}
