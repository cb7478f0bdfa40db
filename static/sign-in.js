/* What the page says when it has no working sign-in: no link, an expired one, or one the
 * server refused. Each ends the visit's list: the link is opened again to go on. */

import { el } from "./dom.js";
import { clearAccounts } from "./layout.js";
import { showPanel, showProblem } from "./panel.js";
import { forgetToken } from "./session-token.js";
import { state } from "./state.js";

function endVisit(expired) {
  state.token = null;
  forgetToken(expired);
  clearAccounts();
}

export function showNeedsSignIn() {
  clearAccounts();
  showPanel(
    "problem",
    "This page needs a sign-in link",
    [
      el("p", {
        text: "Open it again from your app: the link it gives you signs you in for a short time.",
      }),
    ],
    [],
    { final: true },
  );
}

/** The token's expiry passed (on load, or while the page was open). */
export function showSignInExpired() {
  endVisit(true);
  showPanel(
    "problem",
    "Your sign-in link has expired",
    [
      el("p", {
        text: "For your security it works for a short time only. Open the link again from the app or email that gave it to you.",
      }),
    ],
    [],
    { final: true },
  );
}

/** The API refused the token (`error`, a 401) while the page was open. */
export function showSignInEnded(error) {
  endVisit(false);
  showProblem("Your sign-in has ended", error, null, { final: true });
}
