/* The payment methods relink-api set up for the customer, listed below the accounts. */

import { renderAccounts } from "./accounts.js";
import { api } from "./api.js";
import { el } from "./dom.js";
import { state, ui } from "./state.js";
import { paymentMethodName, paymentMethodStatus } from "./wording.js";

async function loadPaymentMethods() {
  const list = await api("GET", "/v1/payment-methods?limit=100");
  state.paymentMethods = (list && list.data) || [];
  renderPaymentMethods();
  // A usable payment method from a replacement turns a closed account's task into "Replaced".
  if (state.accounts.length) renderAccounts();
}

export async function refreshPaymentMethods() {
  try {
    await loadPaymentMethods();
  } catch (_ignored) {
    // Only a summary: the accounts and the outcome panel say what matters.
  }
}

function renderPaymentMethod(method) {
  return el(
    "li",
    {
      className: "account payment-method" + (method.usable ? "" : " payment-method--unusable"),
      "data-payment-method-id": method.id,
    },
    [
      el("div", { className: "account__text" }, [
        el("p", { className: "account__name" }, paymentMethodName(method)),
        el("p", { className: "account__status", text: paymentMethodStatus(method) }),
      ]),
    ],
  );
}

function renderPaymentMethods() {
  const methods = state.paymentMethods;
  if (!methods.length) {
    ui.paymentMethods.replaceChildren();
    ui.paymentMethods.hidden = true;
    return;
  }
  ui.paymentMethods.hidden = false;
  ui.paymentMethods.replaceChildren(
    el("h2", { id: "payment-methods-heading" }, [
      "Payment methods set up here",
      el("span", { className: "group__count", text: " (" + methods.length + ")" }),
    ]),
    el("ul", { className: "accounts", role: "list" }, methods.map(renderPaymentMethod)),
  );
}
