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
  signInExpired: false, // the token's own expiry passed (settings.js)
};

// The page's regions (summary, status, outcome, accounts, paymentMethods), set by layout.js.
export const ui = {};

export function findAccount(id) {
  return state.accounts.find((account) => account.id === id) || null;
}

// Every control in these regions is an action, and follows one rule: disabled while another
// action runs, enabled otherwise. Cards drawn while busy start disabled (accounts.js), so
// ending busy must enable every control, not a list of the kinds known today.
const ACTION_REGIONS = ["accounts", "outcome", "paymentMethods"];
const CONTROLS = "button, input, select, textarea";

/** While one action runs, every other action's control is disabled; then all are enabled. */
export function setBusy(busy) {
  state.busy = busy;
  for (const name of ACTION_REGIONS) {
    if (!ui[name]) continue;
    ui[name].querySelectorAll(CONTROLS).forEach((control) => {
      control.disabled = busy;
    });
  }
}
