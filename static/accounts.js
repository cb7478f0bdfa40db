/* The customer's accounts: loaded from the API, drawn as cards grouped by link health. */

import { api } from "./api.js";
import { el, hidden } from "./dom.js";
import { setupFor } from "./setups.js";
import { state, ui } from "./state.js";
import {
  accountName,
  bankName,
  GROUPS,
  spokenName,
  statusLine,
  summaryLine,
} from "./wording.js";

// What the cards' buttons start, given by the entry module: the relink and payment set-up
// flows draw this list again, so this module does not import them.
const actions = { relink: null, setUp: null };

/** `relink(account, scope)` for Reconnect and "Link another account", `setUp(setup)` for
 * "Set up payments". */
export function setAccountActions(handlers) {
  Object.assign(actions, handlers);
}

export async function loadAccounts() {
  let accounts = [];
  let cursor = null;
  for (let page = 0; page < 50; page += 1) {
    const query = new URLSearchParams({ limit: "100" });
    if (cursor) query.set("cursor", cursor);
    const list = await api("GET", "/v1/accounts?" + query.toString());
    accounts = accounts.concat(list.data || []);
    if (!list.has_more || !list.next_cursor) break;
    cursor = list.next_cursor;
  }
  state.accounts = accounts;
  renderAccounts();
}

export async function refreshAccounts() {
  try {
    await loadAccounts();
  } catch (_ignored) {
    // The list keeps its last good state; the outcome panel says what matters.
  }
}

/** A card's button: `label` on screen, then `spoken` and the account's name for a screen
 * reader; `data` names the attribute that carries the account's id. */
function accountButton(account, { data, label, spoken, secondary, run }) {
  return el(
    "button",
    {
      type: "button",
      className: secondary ? "button button--secondary" : "button",
      [data]: account.id,
      disabled: state.busy,
      onclick: run,
    },
    [label, hidden(spoken + spokenName(account))],
  );
}

function renderAccount(account, group) {
  const item = el("li", { className: "account account--" + account.link_health }, [
    el("div", { className: "account__text" }, [
      el("p", { className: "account__bank", text: bankName(account) }),
      el("p", { className: "account__name" }, accountName(account)),
      el("p", { className: "account__status", text: statusLine(account) }),
    ]),
  ]);
  if (group.reconnect) {
    item.append(
      accountButton(account, {
        data: "data-reconnect",
        label: "Reconnect",
        spoken: " ",
        run: () => actions.relink(account, "account"),
      }),
    );
  }
  if (account.link_health === "unrepairable" && account.authorization_id) {
    // The account itself is gone (closed, say), but the customer may still link another
    // account at the same bank through the same login, then set up payments from it.
    item.append(
      accountButton(account, {
        data: "data-replace",
        label: "Link another account at " + bankName(account),
        spoken: " for ",
        secondary: true,
        run: () => actions.relink(account, "institution"),
      }),
    );
  }
  const setup = account.needs_new_payment_method ? setupFor(account) : null;
  if (setup) {
    item.append(
      accountButton(account, {
        data: "data-set-up",
        label: "Set up payments",
        spoken: " from ",
        run: () => actions.setUp(setup),
      }),
    );
  }
  return item;
}

/** By bank, then by name: the order a person scans in. */
function byBankThenName(a, b) {
  return (
    bankName(a).localeCompare(bankName(b)) ||
    (a.display_name || "").localeCompare(b.display_name || "")
  );
}

export function renderAccounts() {
  const sections = [];
  let attention = 0;
  for (const group of GROUPS) {
    const members = state.accounts
      .filter((account) => account.link_health === group.health)
      .sort(byBankThenName);
    if (!members.length) continue;
    if (group.reconnect) attention += members.length;
    const headingId = "group-" + group.health;
    sections.push(
      el("section", { className: "group group--" + group.health, "aria-labelledby": headingId }, [
        el("h2", { id: headingId }, [
          group.title,
          el("span", { className: "group__count", text: " (" + members.length + ")" }),
        ]),
        el(
          "ul",
          { className: "accounts", role: "list" },
          members.map((account) => renderAccount(account, group)),
        ),
      ]),
    );
  }
  if (!state.accounts.length) {
    sections.push(el("p", { text: "You have no linked bank accounts yet." }));
  }
  ui.summary.textContent = summaryLine(state.accounts.length, attention);
  ui.accounts.replaceChildren(...sections);
  ui.accounts.removeAttribute("aria-busy");
}
