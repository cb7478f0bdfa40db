/*
 * The API's problems worded for a customer. A problem's `detail` is written for developers
 * (ids, settings, what the client should call next): the page words each `type` instead and
 * leaves `detail` to the console. The types are listed in docs/problems.md.
 */

const TRY_LATER = "Something went wrong on our side. Please try again in a few minutes.";
const BUSY = "We're handling a lot of requests right now. Please wait a moment and try again.";
const SIGN_IN = "Open this page again from your app to sign in.";

// Problem slug (the last segment of `type`) → what the customer reads.
const WORDS = {
  unauthorized: SIGN_IN,
  "not-found": "We couldn't find that account any more. Reload the page to see your accounts.",
  "stripe-resource-missing":
    "We couldn't find that account any more. Reload the page to see your accounts.",
  conflict: "Something else is updating this account right now. Please try again in a moment.",
  "account-healthy": "This account is working, so there is nothing to reconnect.",
  "account-not-repairable":
    "This account can't be reconnected. You can link another account at the same bank instead.",
  "account-disconnected": "This account was disconnected. Link it again from your app.",
  "account-without-authorization":
    "We can't reconnect this account from here. Link it again from your app.",
  "relink-session-pending":
    "Your bank hasn't finished yet. Wait a moment, then try again.",
  "relink-session-over": "That attempt has ended. Please start again.",
  "payment-method-not-needed": "Payments from this account don't need setting up again.",
  "payment-method-already-set-up": "Payments from this account are already set up.",
  "idempotency-key-in-use": "We're still working on your last request. Please wait a moment.",
  "validation-failed": "Something in the request wasn't right. Please check and try again.",
  "stripe-invalid-request":
    "Our payment provider couldn't do that for this account. Please try again or use another account.",
  "rate-limited": BUSY,
  "stripe-rate-limited": BUSY,
  "internal-error": TRY_LATER,
  "stripe-configuration": TRY_LATER,
  "not-configured": TRY_LATER,
  "hosted-relink-not-enabled": TRY_LATER,
  "stripe-error": "Our payment provider had a problem. Please try again in a few minutes.",
  "stripe-unavailable": "We couldn't reach our payment provider. Please try again in a few minutes.",
  "database-unavailable": TRY_LATER,
  "service-unavailable": TRY_LATER,
};

const FALLBACK = "Something went wrong. Please try again, or come back later.";

/** What the customer reads about `problem` (the API's problem+json), by its `type`. */
export function problemWords(problem) {
  const type = problem && typeof problem.type === "string" ? problem.type : "";
  return WORDS[type.split("/").pop()] || FALLBACK;
}

/** For developers: the problem's own words, in the console (they never carry a secret). */
export function logProblem(problem) {
  if (!problem) return;
  console.info("relink-api problem", problem.type, problem.status, problem.detail || "");
}
