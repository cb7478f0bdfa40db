/* How the page words accounts, payment methods and dates. */

import { el, hidden } from "./dom.js";
import { findAccount } from "./state.js";

// Link health → how the page groups and words it, in the order the groups are shown.
export const GROUPS = [
  { health: "relink_required", title: "Needs reconnecting", reconnect: true },
  { health: "expiring", title: "Will stop working soon", reconnect: true },
  { health: "unrepairable", title: "Can't be reconnected — link a new account" },
  { health: "replaced", title: "Replaced by a new account" },
  { health: "disconnected", title: "Disconnected" },
  { health: "unknown", title: "Being checked" },
  { health: "ok", title: "Working" },
];

const CAUSES = {
  access_expired: "Your bank's permission to share this account has expired.",
  access_denied: "Your bank stopped allowing access to this account.",
  account_closed: "The account was closed.",
  account_unavailable: "Your bank no longer makes this account available.",
  institution_requirement: "Your bank needs you to sign in again.",
};

// Why Stripe won't charge a payment method: Stripe's own words on the payment method.
const UNUSABLE = {
  blocked: "Can't be used for payments right now: the bank blocked it.",
  detached: "Can't be used for payments any more: it was removed.",
};

// Stripe's blocked reasons a relink can lift: the bank's tokenized account number expired.
const BLOCKED_RELINK = {
  tokenized_account_number_deactivated:
    "Can't be used for payments until you reconnect the account: your bank's account number for it expired.",
};

// The account's link health, said beside a payment method that still works: a broken link
// does not stop payments, but the account needs a relink to stay current.
const LINK_NOTE = {
  expiring: " Reconnect the account soon to keep it working.",
  relink_required: " The account's connection needs reconnecting.",
  unrepairable: " The account's connection can't be repaired.",
  disconnected: " The account's connection was disconnected.",
};

/** `name ••6789`, which a screen reader hears as "name ending in 6789". */
function maskedName(name, dots, last4) {
  if (!last4) return [name];
  const masked = el("span", { "aria-hidden": "true", text: dots });
  return [name, " ", masked, hidden("ending in "), last4];
}

/** "Everyday Checking ••6789"; a screen reader hears "Everyday Checking ending in 6789". */
export function accountName(account) {
  return maskedName(account.display_name || "Bank account", "••", account.last4);
}

/** The same name as plain text, for accessible names: "Everyday Checking ending in 6789". */
export function spokenName(account) {
  const name = account.display_name || "Bank account";
  return account.last4 ? name + " ending in " + account.last4 : name;
}

export function bankName(account) {
  return (account && account.institution_name) || "your bank";
}

/** A payment method by the account it draws on, named as the account list names it; by
 * its bank when that account is not in the list. */
export function paymentMethodName(method) {
  const account = findAccount(method.account_id);
  if (account) return accountName(account);
  return maskedName(method.bank_name || "Bank account", "••", method.last4);
}

/** Whether payments can come from the account: Stripe never debits a credit card by ACH. */
export function paysFrom(account) {
  return account.subcategory !== "credit_card";
}

function formatDate(value) {
  const date = new Date(value);
  if (isNaN(date.getTime())) return null;
  // Stripe's deactivation dates are calendar days at midnight UTC: show that day.
  return new Intl.DateTimeFormat(undefined, { dateStyle: "long", timeZone: "UTC" }).format(date);
}

function expiryDate(account) {
  const dates = [account.expected_deactivation_at, account.account_number_expires_at]
    .filter(Boolean)
    .map((value) => new Date(value))
    .filter((date) => !isNaN(date.getTime()))
    .sort((a, b) => a - b);
  return dates.length ? dates[0].toISOString() : null;
}

/** The line under an account's name: what is wrong with it, and what to do. */
export function statusLine(account) {
  switch (account.link_health) {
    case "expiring": {
      const date = expiryDate(account);
      const formatted = date ? formatDate(date) : null;
      return formatted
        ? "Will stop working on " + formatted + ". Reconnect now to avoid a gap."
        : "Will stop working soon. Reconnect now to avoid a gap.";
    }
    case "relink_required":
      return (CAUSES[account.cause] || "The connection to your bank stopped working.") +
        " Reconnect it to keep this link working.";
    case "unrepairable":
      return (CAUSES[account.cause] || "This connection can't be repaired.") +
        (paysFrom(account)
          ? " Link a new account to keep payments working."
          : " Link another account if you want one connected.");
    case "disconnected":
      return "This account was disconnected. Link it again to use it.";
    case "unknown":
      return "We are checking this connection with your bank. Check back shortly.";
    default:
      return account.needs_new_payment_method
        ? "Working. Set up payments from this account to use it."
        : "Working.";
  }
}

/** The line of a card that reconnects several accounts through one bank sign-in. */
export function sharedLoginLine(accounts) {
  const lead = accounts[0];
  const cause = lead.link_health === "expiring" ? statusLine(lead).split(". ")[0] + "." : (
    CAUSES[lead.cause] || "The connection to your bank stopped working."
  );
  // The causes speak of one account; this card speaks of several.
  return cause.replace("this account", "these accounts") + " One sign-in reconnects all of them.";
}

/** The summary above the list: `total` accounts, `tasks` cards that ask for an action. */
export function summaryLine(total, tasks) {
  if (!total) return "";
  if (tasks === 0) return "Nothing needs your attention: every account that can work does.";
  return tasks === 1
    ? "One item below needs your attention."
    : tasks + " items below need your attention.";
}

/** Why a payment method can't be charged, in Stripe's terms, worded for the customer. */
function unusableLine(method) {
  const blockedReason = method.blocked && method.blocked.reason;
  return (
    (method.unusable_reason === "blocked" && BLOCKED_RELINK[blockedReason]) ||
    UNUSABLE[method.unusable_reason] ||
    "Can't be used for payments right now."
  );
}

/** The line under a payment method's name: whether payments can come from it (Stripe's
 * word), and, apart from that, whether the account it draws on needs a relink. */
export function paymentMethodStatus(method) {
  const status = method.usable
    ? "Payments can come from this account." + (LINK_NOTE[method.link_health] || "")
    : unusableLine(method);
  return status +
    (method.replaces_payment_method_id ? " It replaced an earlier payment method." : "");
}
