/*
 * Accounts a relink linked in place of the one it was for, waiting for a payment method.
 *
 * Stripe moves nothing to an account the customer linked instead of the broken one: the
 * customer sets up payments from it (payment-setup.js). The page remembers which accounts
 * wait, in memory only, or learns it after a reload from the account's
 * `replacement_relink_session_id`.
 */

import { findAccount, state } from "./state.js";

/** Accounts a completed relink linked in place of the one it was for. */
export function replacementIds(result) {
  if (!result || result.next_step !== "set_up_payment_method") return [];
  return (result.linked_account_ids || []).filter((id) => id !== result.account_id);
}

/** Remember (in memory) that `accountId` needs a payment method, set up through `result`. */
export function rememberSetup(result, replaced, accountId) {
  const known = state.setups[accountId];
  if (known && known.sessionId === result.id) return known;
  const setup = {
    sessionId: result.id,
    accountId,
    replaced,
    billingName: "",
  };
  state.setups[accountId] = setup;
  return setup;
}

/** The setup an account waits for: remembered from this visit, or (after a reload) named
 * by the relink session the server says linked it. */
export function setupFor(account) {
  const known = state.setups[account.id];
  if (known || !account.replacement_relink_session_id) return known || null;
  return rememberSetup(
    { id: account.replacement_relink_session_id },
    findAccount(account.replaces_account_id),
    account.id,
  );
}

/** The account a setup is for, as the list has it (or a stand-in until it does). */
export function setupAccount(setup) {
  return findAccount(setup.accountId) || { id: setup.accountId, display_name: "New account" };
}
