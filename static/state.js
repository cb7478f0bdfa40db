/* What the page knows on this visit, and the regions of the page it draws into. */

export const state = {
  token: null,
  apiBase: "",
  config: null,
  stripeLoaded: null, // Promise that settles when the Stripe.js script has loaded
  stripes: {}, // publishable key → Stripe instance
  accounts: [],
  paymentMethods: [],
  // New account id → {sessionId, accountId, replaced, billingName}: accounts a relink on
  // this visit linked in place of another, whose payment method is still to be set up.
  // Kept in memory only; the API does not say which relink an account came from.
  setups: {},
  busy: false,
};

// The page's regions (summary, status, outcome, accounts, paymentMethods), set by layout.js.
export const ui = {};

export function findAccount(id) {
  return state.accounts.find((account) => account.id === id) || null;
}

/** While one action runs, the others' buttons are disabled. */
export function setBusy(busy) {
  state.busy = busy;
  ui.accounts
    .querySelectorAll("button[data-reconnect], button[data-set-up]")
    .forEach((button) => {
      button.disabled = busy;
    });
  ui.outcome.querySelectorAll("button, input").forEach((control) => {
    control.disabled = busy;
  });
}
