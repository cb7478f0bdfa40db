/* The customer's accounts: loaded from the API, drawn as cards grouped by link health. */

import { api } from "./api.js";
import { el, hidden } from "./dom.js";
import { setupFor } from "./setups.js";
import { state, ui } from "./state.js";
import {
  accountName,
  bankName,
  GROUPS,
  paysFrom,
  sharedLoginLine,
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
    [label, hidden(typeof spoken === "string" ? spoken + spokenName(account) : spoken.text)],
  );
}

/** The account linked in place of a closed one that payments now come from, if any. */
function replacementOf(account) {
  if (account.link_health !== "unrepairable") return null;
  return (
    state.accounts.find(
      (other) =>
        other.replaces_account_id === account.id &&
        state.paymentMethods.some((method) => method.account_id === other.id && method.usable),
    ) || null
  );
}

/** The group an account is shown in: its link health, or "replaced". */
function shownHealth(account) {
  return replacementOf(account) ? "replaced" : account.link_health;
}

function accountText(account, status) {
  return el("div", { className: "account__text" }, [
    el("p", { className: "account__bank", text: bankName(account) }),
    el("p", { className: "account__name" }, accountName(account)),
    el("p", { className: "account__status" }, status),
  ]);
}

function renderAccount(account, group) {
  const replacement = replacementOf(account);
  const status = replacement
    ? ["Replaced by "].concat(accountName(replacement), [". Nothing to do here."])
    : [statusLine(account)];
  const item = el("li", { className: "account account--" + shownHealth(account) }, [
    accountText(account, status),
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
  if (!replacement && account.link_health === "unrepairable" && account.authorization_id) {
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

/** One card for accounts that share a bank sign-in: one relink repairs them all. */
function renderLogin(accounts) {
  // The relink starts from an account payments can come from: the one most worth naming.
  const lead = accounts.find(paysFrom) || accounts[0];
  const bank = bankName(lead);
  const names = accounts.map(spokenName);
  const list = names.slice(0, -1).join(", ") + " and " + names[names.length - 1];
  return el("li", { className: "account account--login account--" + lead.link_health }, [
    el("div", { className: "account__text" }, [
      el("p", { className: "account__bank", text: bank }),
      el("p", {
        className: "account__name",
        text: "Reconnecting " + bank + " fixes " + accounts.length + " accounts",
      }),
      el(
        "ul",
        { className: "account__members" },
        accounts.map((account) => el("li", {}, accountName(account))),
      ),
      el("p", { className: "account__status", text: sharedLoginLine(accounts) }),
    ]),
    accountButton(lead, {
      data: "data-reconnect",
      label: "Reconnect",
      spoken: { text: " " + bank + ": " + list },
      run: () => actions.relink(lead, "account"),
    }),
  ]);
}

/** The cards of a group: accounts a relink repairs together share one card. */
function renderCards(members, group) {
  if (!group.reconnect) return members.map((account) => renderAccount(account, group));
  const logins = new Map();
  for (const account of members) {
    const key = account.authorization_id || account.id;
    logins.set(key, (logins.get(key) || []).concat([account]));
  }
  return Array.from(logins.values(), (accounts) =>
    accounts.length === 1 ? renderAccount(accounts[0], group) : renderLogin(accounts),
  );
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
  let tasks = 0;
  for (const group of GROUPS) {
    const members = state.accounts
      .filter((account) => shownHealth(account) === group.health)
      .sort(byBankThenName);
    if (!members.length) continue;
    const cards = renderCards(members, group);
    // The summary counts what asks for an action: the cards with a button.
    tasks += cards.filter((card) => card.querySelector("button")).length;
    const headingId = "group-" + group.health;
    sections.push(
      el("section", { className: "group group--" + group.health, "aria-labelledby": headingId }, [
        el("h2", { id: headingId }, [
          group.title,
          el("span", { className: "group__count", text: " (" + members.length + ")" }),
        ]),
        el("ul", { className: "accounts", role: "list" }, cards),
      ]),
    );
  }
  if (!state.accounts.length) {
    sections.push(el("p", { text: "You have no linked bank accounts yet." }));
  }
  ui.summary.textContent = summaryLine(state.accounts.length, tasks);
  ui.accounts.replaceChildren(...sections);
  ui.accounts.removeAttribute("aria-busy");
}
