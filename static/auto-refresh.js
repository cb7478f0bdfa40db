/*
 * Keeping the open page current: a link that breaks or heals on the server (a webhook, say)
 * shows without a reload.
 *
 * Every few seconds while the tab is visible, and at once when it is shown or focused again,
 * the page asks for the first page of accounts and of payment methods; only when they differ
 * from what it shows does it redraw them (accounts.js, payment-methods.js), so an unchanged
 * list never loses the customer's focus or place. Nothing is asked while the tab is hidden,
 * while an action runs (its own flow refreshes when it ends), or after the sign-in ended.
 */

import { refreshAccounts } from "./accounts.js";
import { api, ApiProblem } from "./api.js";
import { refreshPaymentMethods } from "./payment-methods.js";
import { tokenExpired } from "./session-token.js";
import { showSignInEnded, showSignInExpired } from "./sign-in.js";
import { state, ui } from "./state.js";

const EVERY_MS = 3000;
// After a failed check (offline, say) wait longer each time, up to this.
const AT_MOST_MS = 60000;

let started = false;
let timer = null;
let checking = false;
let delay = EVERY_MS;

function schedule() {
  window.clearTimeout(timer);
  timer = null;
  if (state.token && !document.hidden) timer = window.setTimeout(check, delay);
}

/** Whether the API's `fresh` first page differs from the start of what the page shows. */
function differs(fresh, shown) {
  const data = (fresh && fresh.data) || [];
  const start = shown.slice(0, data.length);
  if (!fresh.has_more && shown.length !== data.length) return true;
  return JSON.stringify(data) !== JSON.stringify(start);
}

// The card button that has focus, by what it does and to which account, to give focus back
// to the same button once the list is redrawn.
const CARD_ACTIONS = ["data-reconnect", "data-replace", "data-set-up"];

function focusedCardAction() {
  const active = document.activeElement;
  if (!active || !ui.accounts.contains(active)) return null;
  const name = CARD_ACTIONS.find((attribute) => active.hasAttribute(attribute));
  return name ? { name, id: active.getAttribute(name) } : null;
}

function refocus(action) {
  if (!action || (document.activeElement && document.activeElement !== document.body)) return;
  const again = Array.from(ui.accounts.querySelectorAll("button[" + action.name + "]")).find(
    (button) => button.getAttribute(action.name) === action.id,
  );
  if (again) again.focus();
}

async function check() {
  timer = null;
  if (!state.token || checking || document.hidden) return;
  if (state.busy) {
    schedule();
    return;
  }
  if (tokenExpired(state.token)) {
    showSignInExpired();
    return;
  }
  checking = true;
  try {
    const [accounts, methods] = await Promise.all([
      api("GET", "/v1/accounts?limit=100"),
      api("GET", "/v1/payment-methods?limit=100"),
    ]);
    // An action that started meanwhile redraws the list itself when it ends.
    if (!state.busy) {
      const focused = focusedCardAction();
      await Promise.all([
        differs(accounts, state.accounts) ? refreshAccounts() : null,
        differs(methods, state.paymentMethods) ? refreshPaymentMethods() : null,
      ]);
      refocus(focused);
    }
    delay = EVERY_MS;
  } catch (error) {
    if (error instanceof ApiProblem && error.status === 401) {
      showSignInEnded(error);
      return;
    }
    delay = Math.min(delay * 2, AT_MOST_MS);
  } finally {
    checking = false;
  }
  schedule();
}

function checkNow() {
  delay = EVERY_MS;
  if (document.hidden) {
    schedule(); // stops the timer
  } else {
    check();
  }
}

/** Keep the list current from now on (once the page has loaded it; calling again is fine). */
export function startAutoRefresh() {
  if (!started) {
    started = true;
    document.addEventListener("visibilitychange", checkNow);
    window.addEventListener("focus", checkNow);
  }
  schedule();
}
