/* What the page says about a finished relink, from the outcome the server recorded. */

import { el } from "./dom.js";
import { namedList, nextStep, showPanel, showRetryPanel, tryAgain } from "./panel.js";
import { showConnectedInstead, showNewAccount } from "./payment-setup.js";
import { replacementIds } from "./setups.js";
import { accountName, bankName } from "./wording.js";

/** The outcome's panel; `relink(scope)` starts the same account's relink again. */
export function showOutcome(result, account, scope, relink) {
  const replacements = replacementIds(result);
  if (replacements.length) {
    showNewAccount(result, account, replacements);
    return;
  }
  const bank = bankName(account);
  const retry = tryAgain(() => relink(scope));
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
      showConnectedInstead(
        "You connected a different account",
        "You connected this account",
        result.linked_account_ids || [],
        account,
      );
      return;
    }
    case "cancelled":
      showRetryPanel(
        "warning",
        "Reconnecting was cancelled",
        "You closed the window before finishing, so nothing changed.",
        "When you're ready, try again.",
        retry,
      );
      return;
    case "failed":
      showFailure(result, account, bank, relink, retry);
      return;
    default:
      showPanel("problem", "We couldn't tell how reconnecting went", [
        el("p", { text: "Reload the page to see your accounts as they are now." }),
      ]);
  }
}

function showFailure(result, account, bank, relink, retry) {
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
          run: () => relink("institution"),
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
    showRetryPanel(
      "problem",
      "Signing in to " + bank + " didn't work",
      "We couldn't sign in to your bank, so nothing changed.",
      "Next step: try again. If it keeps failing, check your sign-in details with " + bank + ".",
      retry,
    );
    return;
  }
  showRetryPanel(
    "problem",
    "Reconnecting didn't work",
    "Something went wrong at the bank, so nothing changed.",
    "Next step: try again.",
    retry,
  );
}
