/*
 * relink-api's bundled page: lists the customer's bank accounts by link health and repairs
 * broken links with Stripe.js. This entry module wires the flows together and starts the page.
 *
 * Configuration comes from GET /v1/config (publishable key, Stripe.js URL); the bearer token
 * from an embedding app, the URL fragment, or this tab's storage after a reload (settings.js).
 * Once loaded, the list keeps itself current (auto-refresh.js). Client secrets never leave the
 * flows that hand them to Stripe.js (relink.js, payment-setup.js).
 */

import { loadAccounts, setAccountActions } from "./accounts.js";
import { api } from "./api.js";
import { startAutoRefresh } from "./auto-refresh.js";
import { buildSkeleton, clearAccounts, showSandboxNote } from "./layout.js";
import { showProblem, tryAgain } from "./panel.js";
import { refreshPaymentMethods } from "./payment-methods.js";
import { showSetupForm } from "./payment-setup.js";
import { startRelink } from "./relink.js";
import { readSettings, takeTokenFromFragment, useLinkToken } from "./settings.js";
import { showNeedsSignIn, showSignInExpired } from "./sign-in.js";
import { state, ui } from "./state.js";
import { loadStripeScript } from "./stripe.js";

setAccountActions({ relink: startRelink, setUp: showSetupForm });

async function start() {
  readSettings();
  buildSkeleton();
  if (state.signInExpired) {
    showSignInExpired();
    return;
  }
  if (!state.token) {
    showNeedsSignIn();
    return;
  }
  await boot();
}

/** Configuration, Stripe.js and the accounts; run again by "Try again" (the token stays). */
async function boot() {
  ui.outcome.hidden = true;
  const failed = (heading, error) => {
    clearAccounts();
    showProblem(heading, error, tryAgain(() => boot()), { final: true });
  };
  try {
    state.config = await api("GET", "/v1/config", undefined, { anonymous: true });
    const scriptUrl = new URL(
      state.config.stripe_js_url,
      state.apiBase ? state.apiBase + "/" : window.location.href,
    ).href;
    state.stripeLoaded = loadStripeScript(scriptUrl);
    state.stripeLoaded.catch(() => {
      /* reported when a relink needs it */
    });
    if (state.config.mode === "sandbox") showSandboxNote();
  } catch (error) {
    failed("We couldn't load this page", error);
    return;
  }
  try {
    await loadAccounts();
  } catch (error) {
    failed("We couldn't load your accounts", error);
    return;
  }
  await refreshPaymentMethods();
  startAutoRefresh();
}

// A new link opened in the same tab only changes the fragment: sign in with its token.
window.addEventListener("hashchange", () => {
  const token = takeTokenFromFragment();
  if (!token || !ui.accounts || state.busy) return;
  useLinkToken(token);
  if (state.signInExpired) {
    showSignInExpired();
    return;
  }
  // Possibly another customer: forget what this visit knew.
  state.setups = {};
  state.paymentMethods = [];
  boot();
});

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", start);
} else {
  start();
}
