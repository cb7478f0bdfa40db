/* The page's fixed regions, drawn once into #relink-app (or a new one at the end of body). */

import { el } from "./dom.js";
import { ui } from "./state.js";

export function buildSkeleton() {
  let root = document.getElementById("relink-app");
  if (!root) {
    root = el("div", { id: "relink-app" });
    document.body.append(root);
  }
  ui.summary = el("p", { className: "summary" });
  ui.status = el("p", { className: "status", role: "status", "aria-live": "polite" });
  ui.outcome = el("section", {
    id: "outcome",
    className: "outcome",
    "aria-labelledby": "outcome-heading",
    hidden: true,
  });
  ui.accounts = el("div", { id: "accounts", className: "groups", "aria-busy": "true" }, [
    el("p", { text: "Loading your accounts…" }),
  ]);
  ui.paymentMethods = el("section", {
    id: "payment-methods",
    className: "group payment-methods",
    "aria-labelledby": "payment-methods-heading",
    hidden: true,
  });
  root.replaceChildren(
    el("p", {
      className: "intro",
      text:
        "Bank connections sometimes stop working, for example when your bank asks you to " +
        "sign in again. Reconnect them here to keep payments working.",
    }),
    ui.summary,
    ui.status,
    ui.outcome,
    ui.accounts,
    ui.paymentMethods,
  );
}

/** No list to show (no sign-in, or it could not load): the panel says why. */
export function clearAccounts() {
  ui.accounts.replaceChildren();
  ui.accounts.removeAttribute("aria-busy");
}

/** Say, once, that Stripe and the bank are simulated. */
export function showSandboxNote() {
  if (document.querySelector(".sandbox-note")) return;
  document.documentElement.setAttribute("data-mode", "sandbox");
  ui.summary.before(
    el("p", {
      className: "sandbox-note",
      text: "Sandbox: Stripe and the bank are simulated; no real account is touched.",
    }),
  );
}
