/*
 * relink-api sandbox: a stand-in for Stripe.js (https://js.stripe.com/v3).
 *
 * Served at /sandbox/stripe.js when relink-api runs with no STRIPE_SECRET_KEY. It defines the
 * global `Stripe(publishableKey)` with the two calls the relink page uses:
 *
 *   collectFinancialConnectionsAccounts({clientSecret})
 *     opens a modal that plays the bank (sign in, choose an account, link a different one,
 *     or close) and resolves like Stripe.js: {financialConnectionsSession} or {error}.
 *   confirmUsBankAccountSetup(clientSecret, data)
 *     confirms a SetupIntent made from a linked account: {setupIntent} or {error}; a setup
 *     the bank refused resolves {error} with error.setup_intent and error.payment_method.
 *
 * It talks to the sandbox's /sandbox/bank/* endpoints and imports the bank's modal
 * (bank-modal.js, a module) from beside this script's own URL, so a page on any origin can
 * load it. The client secret only ever travels in a POST body: never in a URL, the DOM,
 * storage or the console.
 */
(function () {
  "use strict";

  if (typeof window === "undefined" || typeof document === "undefined") {
    return;
  }
  if (typeof window.Stripe === "function" && window.Stripe.sandbox === true) {
    return; // loaded twice
  }

  // /sandbox/stripe.js → /sandbox/bank/…, /sandbox/bank-modal.js: beside the script itself.
  var script = document.currentScript;
  var SCRIPT_URL =
    script && script.src ? script.src : new URL("/sandbox/stripe.js", window.location.href).href;

  function besideScript(path) {
    return new URL(path, SCRIPT_URL).href;
  }

  var FC_SECRET = /^fcsess_\S+_secret_\S+$/;
  var SETI_SECRET = /^seti_\S+_secret_\S+$/;

  class IntegrationError extends Error {
    constructor(message) {
      super(message);
      this.name = "IntegrationError";
    }
  }

  var UNREACHABLE = {
    type: "api_connection_error",
    message: "Could not reach the sandbox bank. Check that relink-api is running.",
  };

  var bankModal = null;

  /** The bank's modal (a module), imported when a flow first needs it; {error} if it cannot be. */
  async function loadBankModal() {
    bankModal = bankModal || import(besideScript("bank-modal.js"));
    try {
      return { BankModal: (await bankModal).BankModal };
    } catch (_unreachable) {
      bankModal = null;
      return { error: UNREACHABLE };
    }
  }

  /** POST JSON to the sandbox bank. Resolves {data} on 2xx, {error} otherwise; never throws. */
  async function postBank(path, publishableKey, body) {
    var response;
    try {
      response = await fetch(besideScript("bank/" + path), {
        method: "POST",
        headers: {
          Accept: "application/json",
          "Content-Type": "application/json",
          Authorization: "Bearer " + publishableKey,
        },
        body: JSON.stringify(body),
        credentials: "omit",
        cache: "no-store",
        referrerPolicy: "no-referrer",
      });
    } catch (_networkError) {
      return { error: UNREACHABLE };
    }
    var payload = null;
    try {
      payload = await response.json();
    } catch (_notJson) {
      payload = null;
    }
    if (!response.ok) {
      if (payload && typeof payload === "object" && payload.error) {
        return { error: payload.error };
      }
      return {
        error: {
          type: "api_error",
          message: "The sandbox bank answered with HTTP " + response.status + ".",
        },
      };
    }
    return { data: payload };
  }

  // ---------------------------------------------------------------------------------------
  // Stripe(publishableKey)
  // ---------------------------------------------------------------------------------------

  var openFlow = false;

  function Stripe(publishableKey) {
    if (!(this instanceof Stripe)) {
      return new Stripe(publishableKey);
    }
    if (typeof publishableKey !== "string" || publishableKey.indexOf("pk_") !== 0) {
      throw new IntegrationError("Please call Stripe() with your publishable key (pk_…).");
    }
    var key = publishableKey;

    this.collectFinancialConnectionsAccounts = async function (options) {
      var clientSecret = options && options.clientSecret;
      if (typeof clientSecret !== "string" || !FC_SECRET.test(clientSecret)) {
        throw new IntegrationError(
          "collectFinancialConnectionsAccounts: clientSecret must be a Financial Connections " +
            "Session client secret (fcsess_…_secret_…).",
        );
      }
      if (openFlow) {
        return {
          error: {
            type: "invalid_request_error",
            code: "flow_already_open",
            message: "A Financial Connections flow is already open on this page.",
          },
        };
      }
      openFlow = true;
      try {
        var loaded = await loadBankModal();
        if (loaded.error) {
          return { error: loaded.error };
        }
        var started = await postBank("session", key, { client_secret: clientSecret });
        if (started.error) {
          return { error: started.error };
        }
        var modal = new loaded.BankModal(started.data || {}, async function (choice) {
          var body = { client_secret: clientSecret, outcome: choice.outcome };
          if (choice.account_id) body.account_id = choice.account_id;
          var completed = await postBank("session/complete", key, body);
          return completed.error ? { error: completed.error } : completed.data;
        });
        return await modal.run();
      } finally {
        openFlow = false;
      }
    };

    this.confirmUsBankAccountSetup = async function (clientSecret, _data) {
      if (typeof clientSecret !== "string" || !SETI_SECRET.test(clientSecret)) {
        throw new IntegrationError(
          "confirmUsBankAccountSetup: the first argument must be a SetupIntent client secret " +
            "(seti_…_secret_…).",
        );
      }
      var confirmed = await postBank("setup_intents/confirm", key, { client_secret: clientSecret });
      return confirmed.error ? { error: confirmed.error } : confirmed.data;
    };
  }

  Stripe.version = 3;
  Stripe.sandbox = true;
  window.Stripe = Stripe;
})();
