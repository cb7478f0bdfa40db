/*
 * The relink flow: create a relink session, let Stripe.js's modal collect the accounts, post
 * the result back, and show what the server says happened.
 *
 * The relink session's client secret lives only in a local variable handed to
 * collectFinancialConnectionsAccounts: it is never written to the DOM, storage, the URL or
 * the console, and is stripped from what is posted back to the API.
 */

import { refreshAccounts } from "./accounts.js";
import { api, ApiProblem, sessionPath, withoutClientSecret } from "./api.js";
import { el } from "./dom.js";
import { announce, namedList, nextStep, showPanel, showProblem, tryAgain } from "./panel.js";
import { showNewAccount } from "./payment-setup.js";
import { replacementIds } from "./setups.js";
import { setBusy, state, ui } from "./state.js";
import { stripeFor, thrownMessage } from "./stripe.js";
import { accountName, bankName } from "./wording.js";

/** Reconnect `account`: `scope` "account" repairs it, "institution" links any account at
 * its bank through the same login. */
export async function startRelink(account, scope) {
  if (state.busy) return;
  setBusy(true);
  ui.outcome.hidden = true;
  announce(
    scope === "institution"
      ? "Opening " + bankName(account) + " to choose an account…"
      : "Opening " + bankName(account) + "…",
  );
  const retry = tryAgain(() => startRelink(account, scope));
  let sessionId = null;
  let launchError = null;
  try {
    await state.stripeLoaded; // no session is created that Stripe.js could not open
    let created = await api(
      "POST",
      "/v1/relink-sessions",
      { account_id: account.id, scope },
      { create: true },
    );
    sessionId = created.id;
    const publishableKey = created.publishable_key || state.config.publishable_key;
    const stripe = await stripeFor(publishableKey);
    let result;
    try {
      result = await stripe.collectFinancialConnectionsAccounts({
        clientSecret: created.client_secret,
      });
    } catch (integrationError) {
      result = {
        error: { type: "integration_error", message: thrownMessage(integrationError) },
      };
    }
    created = null;
    launchError = result && result.error ? result.error : null;
    announce("Checking the result with the bank…");
    const outcome = await api(
      "POST",
      sessionPath(sessionId, "/complete"),
      withoutClientSecret(result),
    );
    await refreshAccounts();
    setBusy(false);
    showOutcome(outcome, account, scope);
  } catch (error) {
    setBusy(false);
    if (sessionId === null) {
      showProblem("We couldn't start reconnecting", error, retry);
    } else if (launchError && error instanceof ApiProblem && error.status === 409) {
      // The bank window never got going, so Stripe still has the session open.
      showProblem(
        "We couldn't open " + bankName(account),
        new ApiProblem(launchError.message || "The bank window could not open.", 0),
        retry,
      );
    } else {
      showProblem("We couldn't check the result", error, retry);
    }
    await refreshAccounts();
  }
}

function showOutcome(result, account, scope) {
  const replacements = replacementIds(result);
  if (replacements.length) {
    showNewAccount(result, account, replacements);
    return;
  }
  const bank = bankName(account);
  const retry = tryAgain(() => startRelink(account, scope));
  switch (result.outcome) {
    case "relinked": {
      const ids = (
        result.reactivated_account_ids && result.reactivated_account_ids.length
          ? result.reactivated_account_ids
          : result.linked_account_ids || []
      ).slice();
      // The account the customer set out to repair first, then the others it brought back.
      ids.sort((a, b) => (b === account.id) - (a === account.id));
      showPanel("success", "Reconnected", [
        el("p", {
          text: ids.length === 1 ? "This account works again:" : "These accounts work again:",
        }),
        namedList(ids),
        nextStep("Nothing else to do: payments from these accounts carry on as before."),
      ]);
      return;
    }
    case "new_account": {
      showPanel("warning", "You connected a different account", [
        el("p", { text: "You connected this account at " + bank + ":" }),
        namedList(result.linked_account_ids || []),
        el("p", {}, [
          "Payments set up from ",
        ].concat(accountName(account), [" don't move to it by themselves."])),
        nextStep("Next step: set up payments from the new account."),
      ]);
      return;
    }
    case "cancelled":
      showPanel(
        "warning",
        "Reconnecting was cancelled",
        [
          el("p", { text: "You closed the window before finishing, so nothing changed." }),
          nextStep("When you're ready, try again."),
        ],
        [retry],
      );
      return;
    case "failed":
      showFailure(result, account, bank, retry);
      return;
    default:
      showPanel("problem", "We couldn't tell how reconnecting went", [
        el("p", { text: "Reload the page to see your accounts as they are now." }),
      ]);
  }
}

function showFailure(result, account, bank, retry) {
  if (result.failure_reason === "no_account" && result.next_step === "relink_institution") {
    showPanel(
      "warning",
      "That wasn't the account we needed",
      [
        el("p", {}, ["You signed in to " + bank + " but didn't connect "].concat(
          accountName(account),
          ["."],
        )),
        nextStep(
          "Next step: you can connect any checking or savings account at " + bank + " instead.",
        ),
      ],
      [
        {
          label: "Choose any account at " + bank,
          run: () => startRelink(account, "institution"),
        },
      ],
    );
    return;
  }
  if (result.failure_reason === "no_account") {
    showPanel("warning", "No account was connected", [
      el("p", { text: "You signed in to " + bank + " but no account was connected." }),
      nextStep("Next step: set up payments from a new account."),
    ]);
    return;
  }
  if (result.failure_reason === "no_authorization") {
    showPanel(
      "problem",
      "Signing in to " + bank + " didn't work",
      [
        el("p", { text: "We couldn't sign in to your bank, so nothing changed." }),
        nextStep(
          "Next step: try again. If it keeps failing, check your sign-in details with " +
            bank + ".",
        ),
      ],
      [retry],
    );
    return;
  }
  showPanel(
    "problem",
    "Reconnecting didn't work",
    [
      el("p", { text: "Something went wrong at the bank, so nothing changed." }),
      nextStep("Next step: try again."),
    ],
    [retry],
  );
}
