/*
 * Payments from an account linked in place of another.
 *
 * Stripe moves nothing to an account the customer linked instead of the broken one: the
 * customer names the account holder, reads the ACH mandate, accepts it, and Stripe.js
 * confirms the SetupIntent. What was set up is then read back from the API, which asks
 * Stripe itself; the page never decides it. The SetupIntent's client secret is handed to
 * confirmUsBankAccountSetup and nowhere else: never the DOM, storage, the URL or the console.
 */

import { refreshAccounts, renderAccounts } from "./accounts.js";
import { api, isProblem, sessionPath } from "./api.js";
import { el } from "./dom.js";
import { refreshPaymentMethods } from "./payment-methods.js";
import {
  announce,
  namedList,
  nextStep,
  showPanel,
  showProblem,
  showRetryPanel,
  tryAgain,
} from "./panel.js";
import { rememberSetup, setupAccount } from "./setups.js";
import { setBusy, state } from "./state.js";
import { stripeFor, thrownMessage } from "./stripe.js";
import { accountName, bankName, paymentMethodName, spokenName } from "./wording.js";

/**
 * "You connected … at Sandbox Bank": the accounts linked in place of `account`, that its
 * payments do not move to them by themselves, and (given) the form that sets them up.
 */
export function showConnectedInstead(heading, lead, ids, account, form) {
  showPanel("warning", heading, [
    el("p", { text: lead + " at " + bankName(account) + ":" }),
    namedList(ids),
    el(
      "p",
      {},
      ["Payments set up from "].concat(accountName(account), [
        " don't move to it by themselves.",
      ]),
    ),
    nextStep("Next step: set up payments from the new account."),
    form,
  ]);
}

/** After a relink linked `ids` in place of `account`: say so, and ask for the holder's name. */
export function showNewAccount(result, account, ids) {
  const setups = ids.map((id) => rememberSetup(result, account, id));
  // Re-draw the list now that it knows which accounts wait for a payment method.
  renderAccounts();
  showConnectedInstead(
    result.outcome === "new_account"
      ? "You connected a different account"
      : "You connected another account instead",
    ids.length === 1 ? "You connected this account" : "You connected these accounts",
    ids,
    account,
    billingForm(setups[0]),
  );
}

/** The setup step on its own, for the "Set up payments" button in the list. */
export function showSetupForm(setup) {
  if (state.busy) return;
  const account = setupAccount(setup);
  const paragraphs = [
    el("p", {}, ["Payments from "].concat(accountName(account), [" need your authorization."])),
  ];
  if (setup.replaced) {
    paragraphs.push(
      el(
        "p",
        {},
        ["They take over from "].concat(accountName(setup.replaced), [
          ", which can't be used for payments any more.",
        ]),
      ),
    );
  }
  paragraphs.push(billingForm(setup));
  showPanel("neutral", "Set up payments from " + spokenName(account), paragraphs);
}

/** Name on the account → Continue, which fetches the mandate to accept. */
function billingForm(setup) {
  const account = setupAccount(setup);
  const hint = el("p", {
    id: "billing-name-hint",
    className: "field__hint",
    text: "The account holder's name, as " + bankName(account) + " has it.",
  });
  const error = el("p", { id: "billing-name-error", className: "field__error", hidden: true });
  const input = el("input", {
    id: "billing-name",
    name: "billing_name",
    type: "text",
    autocomplete: "name",
    autocapitalize: "words",
    spellcheck: "false",
    maxlength: "255",
    required: true,
    "aria-describedby": "billing-name-hint",
    value: setup.billingName || null,
  });

  function invalid(message) {
    error.textContent = message;
    error.hidden = false;
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", "billing-name-hint billing-name-error");
    input.focus();
  }

  function submit(event) {
    event.preventDefault();
    const name = input.value.trim();
    if (!name) {
      invalid("Enter the name on the account.");
      return;
    }
    setup.billingName = name;
    requestMandate(setup);
  }

  return el("form", { className: "setup-form", novalidate: true, onsubmit: submit }, [
    el("div", { className: "field" }, [
      el("label", { for: "billing-name", text: "Name on the account" }),
      hint,
      input,
      error,
    ]),
    el("button", { type: "submit", className: "button", text: "Continue" }),
  ]);
}

/** Create (or resume) the SetupIntent, then show its mandate. */
async function requestMandate(setup) {
  if (state.busy) return;
  setBusy(true);
  announce("Preparing the authorization…");
  let created;
  try {
    created = await api(
      "POST",
      sessionPath(setup.sessionId, "/payment-method"),
      { billing_name: setup.billingName, account_id: setup.accountId },
      { create: true },
    );
  } catch (error) {
    setBusy(false);
    if (isProblem(error, "payment-method-already-set-up")) {
      await showRecordedSetup(setup);
      return;
    }
    showProblem(
      "We couldn't start setting up payments",
      error,
      tryAgain(() => requestMandate(setup)),
    );
    return;
  }
  setBusy(false);
  showMandate(setup, created);
}

/**
 * The ACH mandate and an explicit Accept. The SetupIntent's client secret stays in this
 * closure until Accept hands it to Stripe.js; it never reaches the DOM.
 */
function showMandate(setup, created) {
  let clientSecret = created.client_secret;
  const publishableKey = created.publishable_key || state.config.publishable_key;
  const account = setupAccount(setup);
  showPanel(
    "neutral",
    "Authorize payments from " + spokenName(account),
    [
      el("dl", { className: "facts" }, [
        el("dt", { text: "Account holder" }),
        el("dd", { text: setup.billingName }),
        el("dt", { text: "Account" }),
        el("dd", {}, accountName(account).concat([" at ", bankName(account)])),
      ]),
      el("p", {
        text: "Please read this authorization. Payments start only once you accept it.",
      }),
      el("div", { id: "mandate", className: "mandate" }, [
        el("p", { text: created.mandate_text }),
      ]),
    ],
    [
      {
        label: "Accept",
        describedBy: "mandate",
        run: () => {
          const secret = clientSecret;
          clientSecret = null; // one confirmation per SetupIntent
          if (secret) confirmSetup(setup, secret, publishableKey);
        },
      },
      {
        label: "Change name",
        secondary: true,
        run: () => {
          clientSecret = null;
          showSetupForm(setup);
        },
      },
    ],
  );
}

/** The part of Stripe.js's {error} the page words; the rest (which can carry the
 * SetupIntent, secret included) is dropped at once. */
function wordedError(result) {
  return result && result.error ? { message: result.error.message || null } : null;
}

async function confirmSetup(setup, clientSecret, publishableKey) {
  if (state.busy) return;
  setBusy(true);
  const account = setupAccount(setup);
  const retry = tryAgain(() => requestMandate(setup));
  announce("Setting up payments from " + spokenName(account) + "…");
  let stripeError = null;
  try {
    const stripe = await stripeFor(publishableKey);
    try {
      stripeError = wordedError(await stripe.confirmUsBankAccountSetup(clientSecret));
    } catch (integrationError) {
      stripeError = { message: thrownMessage(integrationError) };
    }
  } catch (error) {
    setBusy(false);
    showProblem("We couldn't open Stripe", error, retry);
    return;
  }
  clientSecret = null;
  announce("Checking the result with Stripe…");
  let recorded;
  try {
    recorded = await api("POST", sessionPath(setup.sessionId, "/payment-method/complete"));
  } catch (error) {
    setBusy(false);
    showProblem("We couldn't check whether payments are set up", error, retry);
    return;
  }
  await Promise.all([refreshAccounts(), refreshPaymentMethods()]);
  setBusy(false);
  showSetupResult(setup, recorded, stripeError);
}

/** Setting up was done before (another tab, or a click that raced): show its record. */
async function showRecordedSetup(setup) {
  try {
    const recorded = await api("GET", sessionPath(setup.sessionId, "/payment-method"));
    await Promise.all([refreshAccounts(), refreshPaymentMethods()]);
    showSetupResult(setup, recorded, null);
  } catch (error) {
    showProblem("We couldn't check whether payments are set up", error, null);
  }
}

function showSetupResult(setup, recorded, stripeError) {
  const account = setupAccount(setup);
  const retry = tryAgain(() => requestMandate(setup));
  switch (recorded.status) {
    case "succeeded":
      showSetupDone(setup, recorded);
      return;
    case "failed": {
      // Stripe's message says what to do next ("Please try a different bank account."):
      // the page's own next step is only for a failure Stripe did not word.
      const message =
        (recorded.failure && recorded.failure.message) || (stripeError && stripeError.message);
      showPanel(
        "problem",
        "We couldn't set up payments from " + spokenName(account),
        [
          el("p", {
            className: "problem-detail",
            text: message || "Your bank didn't accept the account for payments.",
          }),
          el("p", { text: "Nothing was charged, and no payment method was saved." }),
          message
            ? null
            : nextStep("Next step: try again. You'll be asked to accept the authorization again."),
        ],
        [retry],
      );
      return;
    }
    case "canceled":
      showRetryPanel(
        "warning",
        "Setting up payments was cancelled",
        "No payment method was saved.",
        "When you're ready, try again.",
        retry,
      );
      return;
    default: {
      const paragraphs = [
        el("p", { text: "Stripe hasn't confirmed the payment details yet, so nothing is saved." }),
      ];
      if (stripeError && stripeError.message) {
        paragraphs.unshift(el("p", { className: "problem-detail", text: stripeError.message }));
      } else {
        paragraphs.push(nextStep("Next step: try again."));
      }
      showPanel("warning", "Setting up payments didn't finish", paragraphs, [retry]);
    }
  }
}

function showSetupDone(setup, recorded) {
  delete state.setups[setup.accountId];
  renderAccounts();
  const method = recorded.payment_method;
  const account = setupAccount(setup);
  const paragraphs = [
    method
      ? el(
          "p",
          {
            className: "payment-method-line",
            "data-testid": "new-payment-method",
            "data-payment-method-id": method.id,
          },
          ["Payments will now come from "].concat(paymentMethodName(method), ["."]),
        )
      : el("p", {}, ["Payments will now come from "].concat(accountName(account), ["."])),
  ];
  const replaces = recorded.replaces_payment_method_id;
  if (replaces) {
    paragraphs.push(
      el(
        "p",
        { "data-testid": "replaced-payment-method", "data-payment-method-id": replaces },
        ["It replaces the payment method from "].concat(
          setup.replaced ? accountName(setup.replaced) : ["your earlier account"],
          ["."],
        ),
      ),
    );
  }
  paragraphs.push(nextStep("Nothing else to do."));
  showPanel("success", "Payments are set up", paragraphs);
}
