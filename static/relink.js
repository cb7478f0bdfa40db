/*
 * The relink flow: create a relink session, let Stripe.js's modal collect the accounts, post
 * the result back, and show what the server says happened (relink-outcome.js).
 *
 * The relink session's client secret lives only in a local variable handed to
 * collectFinancialConnectionsAccounts: it is never written to the DOM, storage, the URL or
 * the console, and is stripped from what is posted back to the API.
 */

import { refreshAccounts } from "./accounts.js";
import { api, ApiProblem, isProblem, sessionPath, withoutClientSecret } from "./api.js";
import { announce, showProblem, tryAgain } from "./panel.js";
import { refreshPaymentMethods } from "./payment-methods.js";
import { showOutcome } from "./relink-outcome.js";
import { setBusy, state, ui } from "./state.js";
import { stripeFor, thrownMessage } from "./stripe.js";
import { bankName } from "./wording.js";

/** Reconnect `account`: `scope` "account" repairs it, "institution" links any account at
 * its bank through the same login. */
export async function startRelink(account, scope) {
  if (state.busy) return;
  setBusy(true);
  ui.outcome.hidden = true;
  announce(
    scope === "institution"
      ? "Opening " + bankName(account) + " to choose an account…"
      : "Opening " + bankName(account) + "…",
  );
  const retry = tryAgain(() => startRelink(account, scope));
  let sessionId = null;
  let launchError = null;
  try {
    await state.stripeLoaded; // no session is created that Stripe.js could not open
    let created = await api(
      "POST",
      "/v1/relink-sessions",
      { account_id: account.id, scope },
      { create: true },
    );
    sessionId = created.id;
    const publishableKey = created.publishable_key || state.config.publishable_key;
    const stripe = await stripeFor(publishableKey);
    let result;
    try {
      result = await stripe.collectFinancialConnectionsAccounts({
        clientSecret: created.client_secret,
      });
    } catch (integrationError) {
      result = {
        error: { type: "integration_error", message: thrownMessage(integrationError) },
      };
    }
    created = null;
    launchError = result && result.error ? result.error : null;
    announce("Checking the result with the bank…");
    const outcome = await completeWhenFinished(sessionId, withoutClientSecret(result), launchError);
    // A relink can unblock a payment method (its bank's account number reissued).
    await Promise.all([refreshAccounts(), refreshPaymentMethods()]);
    setBusy(false);
    showOutcome(outcome, account, scope, (next) => startRelink(account, next));
  } catch (error) {
    setBusy(false);
    if (sessionId === null) {
      showProblem("We couldn't start reconnecting", error, retry);
    } else if (launchError && error instanceof ApiProblem && error.status === 409) {
      // The bank window never got going, so Stripe still has the session open.
      showProblem(
        "We couldn't open " + bankName(account),
        new ApiProblem(launchError.message || "The bank window could not open.", 0),
        retry,
      );
    } else {
      showProblem("We couldn't check the result", error, retry);
    }
    await refreshAccounts();
  }
}

// Stripe can still be finishing the session when the bank window closes: a pending answer is
// asked again a few times before it is shown. Not when the window never opened (launchError),
// which leaves the session open for good and has its own message.
const PENDING_RETRY_DELAYS_MS = [1000, 2000, 3000];

async function completeWhenFinished(sessionId, hint, launchError) {
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await api("POST", sessionPath(sessionId, "/complete"), hint);
    } catch (error) {
      const wait = PENDING_RETRY_DELAYS_MS[attempt];
      if (launchError || wait === undefined || !isProblem(error, "relink-session-pending")) {
        throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}
