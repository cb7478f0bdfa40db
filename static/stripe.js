/* Stripe.js: loaded once from where GET /v1/config says, one Stripe instance per key. */

import { ApiProblem } from "./api.js";
import { state } from "./state.js";

/** Add the Stripe.js script; resolves once `window.Stripe` is there. */
export function loadStripeScript(url) {
  if (typeof window.Stripe === "function") return Promise.resolve();
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = url;
    script.async = true;
    script.addEventListener("load", () => {
      if (typeof window.Stripe === "function") resolve();
      else reject(new ApiProblem("Stripe.js loaded but did not start.", 0));
    });
    script.addEventListener("error", () => {
      reject(
        new ApiProblem(
          "We couldn't load Stripe, which connects to your bank. Check your internet " +
            "connection and reload the page.",
          0,
        ),
      );
    });
    document.head.append(script);
  });
}

export async function stripeFor(publishableKey) {
  if (!publishableKey) {
    throw new ApiProblem("This server has no Stripe publishable key configured.", 0);
  }
  await state.stripeLoaded;
  if (!state.stripes[publishableKey]) {
    state.stripes[publishableKey] = window.Stripe(publishableKey);
  }
  return state.stripes[publishableKey];
}

/** The message of what a Stripe.js call threw (an integration error), as text. */
export function thrownMessage(error) {
  return String((error && error.message) || error);
}
