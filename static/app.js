/*
 * relink-api's bundled page: lists the customer's bank accounts by link health and repairs
 * broken links with Stripe.js.
 *
 * Configuration comes from GET /v1/config (publishable key, Stripe.js URL). The bearer token
 * comes from `window.relinkConfig = {token, apiBase}` (an embedding app) or the URL fragment
 * `#token=…`, which is removed from the address bar at once; never from the query string.
 *
 * The relink session's client secret lives only in a local variable handed to
 * collectFinancialConnectionsAccounts: it is never written to the DOM, storage, the URL or
 * the console, and is stripped from what is posted back to the API. The same goes for the
 * SetupIntent's client secret handed to confirmUsBankAccountSetup, when a relink linked a
 * different account and the customer sets up payments from it.
 */
(function () {
  "use strict";

  // Link health → how the page groups and words it, in the order the groups are shown.
  var GROUPS = [
    { health: "relink_required", title: "Needs reconnecting", reconnect: true },
    { health: "expiring", title: "Will stop working soon", reconnect: true },
    { health: "unrepairable", title: "Can't be reconnected — link a new account" },
    { health: "disconnected", title: "Disconnected" },
    { health: "ok", title: "Working" },
  ];

  var CAUSES = {
    access_expired: "Your bank's permission to share this account has expired.",
    access_denied: "Your bank stopped allowing access to this account.",
    account_closed: "The account was closed.",
    account_unavailable: "Your bank no longer makes this account available.",
    institution_requirement: "Your bank needs you to sign in again.",
  };

  var state = {
    token: null,
    apiBase: "",
    config: null,
    stripeLoaded: null, // Promise that settles when the Stripe.js script has loaded
    stripes: {}, // publishable key → Stripe instance
    accounts: [],
    paymentMethods: [],
    // New account id → {sessionId, accountId, replaced, billingName}: accounts a relink on
    // this visit linked in place of another, whose payment method is still to be set up.
    // Kept in memory only; the API does not say which relink an account came from.
    setups: {},
    busy: false,
  };

  var ui = {};

  // -------------------------------------------------------------------------------------
  // Small DOM helpers
  // -------------------------------------------------------------------------------------

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (name) {
        var value = attrs[name];
        if (value === false || value === null || value === undefined) return;
        if (name === "text") node.textContent = value;
        else if (name === "className") node.className = value;
        else if (name.slice(0, 2) === "on") node.addEventListener(name.slice(2), value);
        else node.setAttribute(name, value === true ? "" : String(value));
      });
    }
    appendAll(node, children);
    return node;
  }

  function appendAll(node, children) {
    (children || []).forEach(function (child) {
      if (child === null || child === undefined || child === false) return;
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function hidden(text) {
    return el("span", { className: "visually-hidden", text: text });
  }

  /** "Everyday Checking ••6789"; a screen reader hears "Everyday Checking ending in 6789". */
  function accountName(account) {
    var nodes = [account.display_name || "Bank account"];
    if (account.last4) {
      nodes.push(" ");
      nodes.push(el("span", { "aria-hidden": "true", text: "••" }));
      nodes.push(hidden("ending in "));
      nodes.push(account.last4);
    }
    return nodes;
  }

  /** The same name as plain text, for accessible names: "Everyday Checking ending in 6789". */
  function spokenName(account) {
    var name = account.display_name || "Bank account";
    return account.last4 ? name + " ending in " + account.last4 : name;
  }

  function bankName(account) {
    return (account && account.institution_name) || "your bank";
  }

  /** "Sandbox Bank ••••4321"; a screen reader hears "Sandbox Bank ending in 4321". */
  function paymentMethodName(method) {
    var nodes = [method.bank_name || "Bank account"];
    if (method.last4) {
      nodes.push(" ");
      nodes.push(el("span", { "aria-hidden": "true", text: "••••" }));
      nodes.push(hidden("ending in "));
      nodes.push(method.last4);
    }
    return nodes;
  }

  function formatDate(value) {
    var date = new Date(value);
    if (isNaN(date.getTime())) return null;
    // Stripe's deactivation dates are calendar days at midnight UTC: show that day.
    return new Intl.DateTimeFormat(undefined, { dateStyle: "long", timeZone: "UTC" }).format(date);
  }

  function expiryDate(account) {
    var dates = [account.expected_deactivation_at, account.account_number_expires_at]
      .filter(Boolean)
      .map(function (value) {
        return new Date(value);
      })
      .filter(function (date) {
        return !isNaN(date.getTime());
      })
      .sort(function (a, b) {
        return a - b;
      });
    return dates.length ? dates[0].toISOString() : null;
  }

  /**
   * Say `message` in the live region. Progress is also shown on screen; an outcome is only
   * spoken there, since its panel shows it (and its heading takes focus).
   */
  function announce(message, options) {
    // Clear first so the same message twice is still announced.
    ui.status.textContent = "";
    ui.status.classList.toggle("visually-hidden", Boolean(options && options.spokenOnly));
    if (message) {
      window.setTimeout(function () {
        ui.status.textContent = message;
      }, 50);
    }
  }

  // -------------------------------------------------------------------------------------
  // Talking to the API
  // -------------------------------------------------------------------------------------

  function ApiProblem(detail, status, problem) {
    this.name = "ApiProblem";
    this.message = detail;
    this.detail = detail;
    this.status = status;
    this.problem = problem || null;
  }
  ApiProblem.prototype = Object.create(Error.prototype);
  ApiProblem.prototype.constructor = ApiProblem;

  /** A fresh Idempotency-Key: one per customer action, kept across its retries. */
  function newIdempotencyKey() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") {
      return window.crypto.randomUUID();
    }
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map
      .call(bytes, function (byte) {
        return ("0" + byte.toString(16)).slice(-2);
      })
      .join("");
  }

  var CREATE_RETRIES = 2;

  function pause(milliseconds) {
    return new Promise(function (resolve) {
      setTimeout(resolve, milliseconds);
    });
  }

  async function api(method, path, body, options) {
    var headers = { Accept: "application/json, application/problem+json" };
    if (state.token && !(options && options.anonymous)) {
      headers.Authorization = "Bearer " + state.token;
    }
    if (body !== undefined) headers["Content-Type"] = "application/json";
    // Creates carry an Idempotency-Key, so a response lost on the way back can be asked
    // for again without starting a second session: the server replays the first.
    var retries = 0;
    if (options && options.create) {
      headers["Idempotency-Key"] = newIdempotencyKey();
      retries = CREATE_RETRIES;
    }
    var response;
    for (var attempt = 0; ; attempt++) {
      try {
        response = await fetch(state.apiBase + path, {
          method: method,
          headers: headers,
          body: body === undefined ? undefined : JSON.stringify(body),
          credentials: "omit",
          cache: "no-store",
        });
      } catch (_networkError) {
        if (attempt < retries) {
          await pause(500 * (attempt + 1));
          continue;
        }
        throw new ApiProblem(
          "We couldn't reach the server. Check your internet connection and try again.",
          0,
        );
      }
      // The first try is still running on the server: wait for its result.
      if (attempt < retries && response.status === 409 && (await isInUse(response))) {
        await pause(1000 * (parseInt(response.headers.get("Retry-After"), 10) || 1));
        continue;
      }
      break;
    }
    var payload = null;
    var type = response.headers.get("Content-Type") || "";
    if (type.indexOf("json") !== -1) {
      try {
        payload = await response.json();
      } catch (_badJson) {
        payload = null;
      }
    }
    if (!response.ok) {
      var detail =
        (payload && (payload.detail || payload.title)) ||
        "The server answered with an error (HTTP " + response.status + ").";
      throw new ApiProblem(detail, response.status, payload);
    }
    return payload;
  }

  async function isInUse(response) {
    try {
      var problem = await response.clone().json(); // the caller reads the original
      return typeof problem.type === "string" &&
        problem.type.split("/").pop() === "idempotency-key-in-use";
    } catch (_notJson) {
      return false;
    }
  }

  /** Whether a problem's `type` URI names this kind of problem (its last path segment). */
  function isProblem(error, slug) {
    var type = error instanceof ApiProblem && error.problem ? error.problem.type : null;
    return typeof type === "string" && type.split("/").pop() === slug;
  }

  function sessionPath(sessionId, rest) {
    return "/v1/relink-sessions/" + encodeURIComponent(sessionId) + (rest || "");
  }

  /** Every `client_secret`, however deep, removed: the API never needs it back. */
  function withoutClientSecret(value) {
    if (value === undefined) return {};
    return JSON.parse(JSON.stringify(value), function (key, item) {
      return key === "client_secret" ? undefined : item;
    });
  }

  function loadStripeScript(url) {
    if (typeof window.Stripe === "function") return Promise.resolve();
    return new Promise(function (resolve, reject) {
      var script = document.createElement("script");
      script.src = url;
      script.async = true;
      script.addEventListener("load", function () {
        if (typeof window.Stripe === "function") resolve();
        else reject(new ApiProblem("Stripe.js loaded but did not start.", 0));
      });
      script.addEventListener("error", function () {
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

  async function stripeFor(publishableKey) {
    if (!publishableKey) {
      throw new ApiProblem("This server has no Stripe publishable key configured.", 0);
    }
    await state.stripeLoaded;
    if (!state.stripes[publishableKey]) {
      state.stripes[publishableKey] = window.Stripe(publishableKey);
    }
    return state.stripes[publishableKey];
  }

  // -------------------------------------------------------------------------------------
  // The accounts list
  // -------------------------------------------------------------------------------------

  async function loadAccounts() {
    var accounts = [];
    var cursor = null;
    for (var page = 0; page < 50; page += 1) {
      var query = new URLSearchParams({ limit: "100" });
      if (cursor) query.set("cursor", cursor);
      var list = await api("GET", "/v1/accounts?" + query.toString());
      accounts = accounts.concat(list.data || []);
      if (!list.has_more || !list.next_cursor) break;
      cursor = list.next_cursor;
    }
    state.accounts = accounts;
    renderAccounts();
  }

  function statusLine(account) {
    switch (account.link_health) {
      case "expiring": {
        var date = expiryDate(account);
        var formatted = date ? formatDate(date) : null;
        return formatted
          ? "Will stop working on " + formatted + ". Reconnect now to avoid a gap."
          : "Will stop working soon. Reconnect now to avoid a gap.";
      }
      case "relink_required":
        return (CAUSES[account.cause] || "The connection to your bank stopped working.") +
          " Payments from it are paused until you reconnect.";
      case "unrepairable":
        return (CAUSES[account.cause] || "This connection can't be repaired.") +
          " Link a new account to keep payments working.";
      case "disconnected":
        return "This account was disconnected. Link it again to use it.";
      default:
        return account.needs_new_payment_method
          ? "Working. Set up payments from this account to use it."
          : "Working.";
    }
  }

  function renderAccount(account, group) {
    var item = el("li", { className: "account account--" + account.link_health }, [
      el("div", { className: "account__text" }, [
        el("p", { className: "account__bank", text: bankName(account) }),
        el("p", { className: "account__name" }, accountName(account)),
        el("p", { className: "account__status", text: statusLine(account) }),
      ]),
    ]);
    if (group.reconnect) {
      var button = el(
        "button",
        {
          type: "button",
          className: "button",
          "data-reconnect": account.id,
          disabled: state.busy,
          onclick: function () {
            startRelink(account, "account");
          },
        },
        ["Reconnect", hidden(" " + spokenName(account))],
      );
      item.append(button);
    }
    if (account.link_health === "unrepairable" && account.authorization_id) {
      // The account itself is gone (closed, say), but the customer may still link another
      // account at the same bank through the same login, then set up payments from it.
      item.append(
        el(
          "button",
          {
            type: "button",
            className: "button button--secondary",
            "data-replace": account.id,
            disabled: state.busy,
            onclick: function () {
              startRelink(account, "institution");
            },
          },
          ["Link another account at " + bankName(account), hidden(" for " + spokenName(account))],
        ),
      );
    }
    var setup = account.needs_new_payment_method ? setupFor(account) : null;
    if (setup) {
      item.append(
        el(
          "button",
          {
            type: "button",
            className: "button",
            "data-set-up": account.id,
            disabled: state.busy,
            onclick: function () {
              showSetupForm(setup);
            },
          },
          ["Set up payments", hidden(" from " + spokenName(account))],
        ),
      );
    }
    return item;
  }

  function renderAccounts() {
    var sections = [];
    var attention = 0;
    GROUPS.forEach(function (group) {
      var members = state.accounts
        .filter(function (account) {
          return account.link_health === group.health;
        })
        .sort(function (a, b) {
          // By bank, then by name: the order a person scans in.
          return (
            bankName(a).localeCompare(bankName(b)) ||
            (a.display_name || "").localeCompare(b.display_name || "")
          );
        });
      if (!members.length) return;
      if (group.reconnect) attention += members.length;
      var headingId = "group-" + group.health;
      sections.push(
        el("section", { className: "group group--" + group.health, "aria-labelledby": headingId }, [
          el("h2", { id: headingId }, [
            group.title,
            el("span", { className: "group__count", text: " (" + members.length + ")" }),
          ]),
          el(
            "ul",
            { className: "accounts", role: "list" },
            members.map(function (account) {
              return renderAccount(account, group);
            }),
          ),
        ]),
      );
    });
    if (!state.accounts.length) {
      sections.push(el("p", { text: "You have no linked bank accounts yet." }));
    }
    ui.summary.textContent = !state.accounts.length
      ? ""
      : attention === 0
        ? "All your bank connections that can be repaired are working."
        : attention === 1
          ? "One account needs your attention. Reconnecting takes about a minute."
          : attention + " accounts need your attention. Reconnecting takes about a minute.";
    ui.accounts.replaceChildren.apply(ui.accounts, sections);
    ui.accounts.removeAttribute("aria-busy");
  }

  function setBusy(busy) {
    state.busy = busy;
    ui.accounts
      .querySelectorAll("button[data-reconnect], button[data-set-up]")
      .forEach(function (button) {
        button.disabled = busy;
      });
    ui.outcome.querySelectorAll("button, input").forEach(function (control) {
      control.disabled = busy;
    });
  }

  // -------------------------------------------------------------------------------------
  // Outcomes
  // -------------------------------------------------------------------------------------

  function findAccount(id) {
    return (
      state.accounts.find(function (account) {
        return account.id === id;
      }) || null
    );
  }

  function namedList(ids) {
    return el(
      "ul",
      { className: "outcome__accounts" },
      ids.map(function (id) {
        var account = findAccount(id);
        return el(
          "li",
          {},
          account ? accountName(account).concat([" at ", bankName(account)]) : ["Account " + id],
        );
      }),
    );
  }

  /**
   * Show an outcome panel: a heading (which takes focus), paragraphs, and actions.
   * `tone` is one of success, warning, problem, neutral.
   */
  function showPanel(tone, heading, paragraphs, actions, options) {
    var title = el("h2", { id: "outcome-heading", tabindex: "-1", text: heading });
    var buttons = (actions || []).concat(
      options && options.final
        ? []
        : [{ label: "Back to accounts", secondary: true, run: dismissOutcome }],
    );
    ui.outcome.className = "outcome outcome--" + tone;
    ui.outcome.replaceChildren(
      title,
      appendAll(el("div", { className: "outcome__body" }), paragraphs),
    );
    if (buttons.length) {
      ui.outcome.append(
        el(
          "div",
          { className: "actions" },
          buttons.map(function (action) {
            return el("button", {
              type: "button",
              className: action.secondary ? "button button--secondary" : "button",
              text: action.label,
              "aria-describedby": action.describedBy,
              onclick: action.run,
            });
          }),
        ),
      );
    }
    ui.outcome.hidden = false;
    title.focus();
    announce(heading, { spokenOnly: true });
  }

  function dismissOutcome() {
    ui.outcome.hidden = true;
    ui.outcome.replaceChildren();
    var first =
      ui.accounts.querySelector("button[data-reconnect], button[data-set-up]") ||
      ui.accounts.querySelector("h2");
    if (first) {
      if (first.tagName === "H2") first.setAttribute("tabindex", "-1");
      first.focus();
    }
  }

  function showOutcome(result, account, scope) {
    var replacements = replacementIds(result);
    if (replacements.length) {
      showNewAccount(result, account, replacements);
      return;
    }
    var bank = bankName(account);
    var retry = {
      label: "Try again",
      run: function () {
        startRelink(account, scope);
      },
    };
    switch (result.outcome) {
      case "relinked": {
        var ids = (
          result.reactivated_account_ids && result.reactivated_account_ids.length
            ? result.reactivated_account_ids
            : result.linked_account_ids || []
        ).slice();
        // The account the customer set out to repair first, then the others it brought back.
        ids.sort(function (a, b) {
          return (b === account.id) - (a === account.id);
        });
        showPanel("success", "Reconnected", [
          el("p", {
            text:
              ids.length === 1
                ? "This account works again:"
                : "These accounts work again:",
          }),
          namedList(ids),
          el("p", {
            className: "next-step",
            text: "Nothing else to do: payments from these accounts carry on as before.",
          }),
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
          el("p", {
            className: "next-step",
            text: "Next step: set up payments from the new account.",
          }),
        ]);
        return;
      }
      case "cancelled":
        showPanel(
          "warning",
          "Reconnecting was cancelled",
          [
            el("p", {
              text: "You closed the window before finishing, so nothing changed.",
            }),
            el("p", {
              className: "next-step",
              text: "When you're ready, try again.",
            }),
          ],
          [retry],
        );
        return;
      case "failed":
        showFailure(result, account, scope, bank, retry);
        return;
      default:
        showPanel("problem", "We couldn't tell how reconnecting went", [
          el("p", { text: "Reload the page to see your accounts as they are now." }),
        ]);
    }
  }

  function showFailure(result, account, scope, bank, retry) {
    if (result.failure_reason === "no_account" && result.next_step === "relink_institution") {
      showPanel(
        "warning",
        "That wasn't the account we needed",
        [
          el("p", {}, ["You signed in to " + bank + " but didn't connect "].concat(
            accountName(account),
            ["."],
          )),
          el("p", {
            className: "next-step",
            text:
              "Next step: you can connect any checking or savings account at " + bank +
              " instead.",
          }),
        ],
        [
          {
            label: "Choose any account at " + bank,
            run: function () {
              startRelink(account, "institution");
            },
          },
        ],
      );
      return;
    }
    if (result.failure_reason === "no_account") {
      showPanel("warning", "No account was connected", [
        el("p", { text: "You signed in to " + bank + " but no account was connected." }),
        el("p", {
          className: "next-step",
          text: "Next step: set up payments from a new account.",
        }),
      ]);
      return;
    }
    if (result.failure_reason === "no_authorization") {
      showPanel(
        "problem",
        "Signing in to " + bank + " didn't work",
        [
          el("p", { text: "We couldn't sign in to your bank, so nothing changed." }),
          el("p", {
            className: "next-step",
            text:
              "Next step: try again. If it keeps failing, check your sign-in details with " +
              bank + ".",
          }),
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
        el("p", { className: "next-step", text: "Next step: try again." }),
      ],
      [retry],
    );
  }

  function showProblem(heading, error, retry, options) {
    var detail =
      error instanceof ApiProblem ? error.detail : "Something unexpected went wrong.";
    if (error instanceof ApiProblem && error.status === 401) {
      heading = "Your sign-in has ended";
      detail = detail + " Open this page again from your app.";
      retry = null;
    }
    showPanel(
      "problem",
      heading,
      [el("p", { className: "problem-detail", text: detail })],
      retry ? [retry] : [],
      options,
    );
  }

  // -------------------------------------------------------------------------------------
  // The relink flow
  // -------------------------------------------------------------------------------------

  async function startRelink(account, scope) {
    if (state.busy) return;
    setBusy(true);
    ui.outcome.hidden = true;
    announce(
      scope === "institution"
        ? "Opening " + bankName(account) + " to choose an account…"
        : "Opening " + bankName(account) + "…",
    );
    var retry = {
      label: "Try again",
      run: function () {
        startRelink(account, scope);
      },
    };
    var sessionId = null;
    var launchError = null;
    try {
      await state.stripeLoaded; // no session is created that Stripe.js could not open
      var created = await api(
        "POST",
        "/v1/relink-sessions",
        { account_id: account.id, scope: scope },
        { create: true },
      );
      sessionId = created.id;
      var publishableKey = created.publishable_key || state.config.publishable_key;
      var stripe = await stripeFor(publishableKey);
      var result;
      try {
        result = await stripe.collectFinancialConnectionsAccounts({
          clientSecret: created.client_secret,
        });
      } catch (integrationError) {
        result = {
          error: {
            type: "integration_error",
            message: String((integrationError && integrationError.message) || integrationError),
          },
        };
      }
      created = null;
      launchError = result && result.error ? result.error : null;
      announce("Checking the result with the bank…");
      var outcome = await api(
        "POST",
        "/v1/relink-sessions/" + encodeURIComponent(sessionId) + "/complete",
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

  async function refreshAccounts() {
    try {
      await loadAccounts();
    } catch (_ignored) {
      // The list keeps its last good state; the outcome panel says what matters.
    }
  }

  // -------------------------------------------------------------------------------------
  // Payments from an account linked in place of another
  // -------------------------------------------------------------------------------------
  //
  // Stripe moves nothing to an account the customer linked instead of the broken one: the
  // customer names the account holder, reads the ACH mandate, accepts it, and Stripe.js
  // confirms the SetupIntent. What was set up is then read back from the API, which asks
  // Stripe itself; the page never decides it.

  /** Accounts a completed relink linked in place of the one it was for. */
  function replacementIds(result) {
    if (!result || result.next_step !== "set_up_payment_method") return [];
    return (result.linked_account_ids || []).filter(function (id) {
      return id !== result.account_id;
    });
  }

  /** Remember (in memory) that `accountId` needs a payment method, set up through `result`. */
  function rememberSetup(result, replaced, accountId) {
    var known = state.setups[accountId];
    if (known && known.sessionId === result.id) return known;
    var setup = {
      sessionId: result.id,
      accountId: accountId,
      replaced: replaced,
      billingName: "",
    };
    state.setups[accountId] = setup;
    return setup;
  }

  /** The setup an account waits for: remembered from this visit, or (after a reload) named
   * by the relink session the server says linked it. */
  function setupFor(account) {
    var known = state.setups[account.id];
    if (known || !account.replacement_relink_session_id) return known || null;
    return rememberSetup(
      { id: account.replacement_relink_session_id },
      findAccount(account.replaces_account_id),
      account.id,
    );
  }

  function setupAccount(setup) {
    return findAccount(setup.accountId) || { id: setup.accountId, display_name: "New account" };
  }

  function showNewAccount(result, account, ids) {
    var setups = ids.map(function (id) {
      return rememberSetup(result, account, id);
    });
    // Re-draw the list now that it knows which accounts wait for a payment method.
    renderAccounts();
    var setup = setups[0];
    var heading =
      result.outcome === "new_account"
        ? "You connected a different account"
        : "You connected another account instead";
    showPanel("warning", heading, [
      el("p", {
        text:
          (ids.length === 1 ? "You connected this account" : "You connected these accounts") +
          " at " +
          bankName(account) +
          ":",
      }),
      namedList(ids),
      el(
        "p",
        {},
        ["Payments set up from "].concat(accountName(account), [
          " don't move to it by themselves.",
        ]),
      ),
      el("p", {
        className: "next-step",
        text: "Next step: set up payments from the new account.",
      }),
      billingForm(setup),
    ]);
  }

  /** The setup step on its own, for the "Set up payments" button in the list. */
  function showSetupForm(setup) {
    if (state.busy) return;
    var account = setupAccount(setup);
    var paragraphs = [
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
    var account = setupAccount(setup);
    var hint = el("p", {
      id: "billing-name-hint",
      className: "field__hint",
      text: "The account holder's name, as " + bankName(account) + " has it.",
    });
    var error = el("p", { id: "billing-name-error", className: "field__error", hidden: true });
    var input = el("input", {
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

    return el(
      "form",
      {
        className: "setup-form",
        novalidate: true,
        onsubmit: function (event) {
          event.preventDefault();
          var name = input.value.trim();
          if (!name) {
            invalid("Enter the name on the account.");
            return;
          }
          setup.billingName = name;
          requestMandate(setup);
        },
      },
      [
        el("div", { className: "field" }, [
          el("label", { for: "billing-name", text: "Name on the account" }),
          hint,
          input,
          error,
        ]),
        el("button", { type: "submit", className: "button", text: "Continue" }),
      ],
    );
  }

  /** Create (or resume) the SetupIntent, then show its mandate. */
  async function requestMandate(setup) {
    if (state.busy) return;
    setBusy(true);
    announce("Preparing the authorization…");
    var created;
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
      showProblem("We couldn't start setting up payments", error, {
        label: "Try again",
        run: function () {
          requestMandate(setup);
        },
      });
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
    var clientSecret = created.client_secret;
    var publishableKey = created.publishable_key || state.config.publishable_key;
    var account = setupAccount(setup);
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
          run: function () {
            var secret = clientSecret;
            clientSecret = null; // one confirmation per SetupIntent
            if (secret) confirmSetup(setup, secret, publishableKey);
          },
        },
        {
          label: "Change name",
          secondary: true,
          run: function () {
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
    var account = setupAccount(setup);
    var retry = {
      label: "Try again",
      run: function () {
        requestMandate(setup);
      },
    };
    announce("Setting up payments from " + spokenName(account) + "…");
    var stripeError = null;
    try {
      var stripe = await stripeFor(publishableKey);
      try {
        stripeError = wordedError(await stripe.confirmUsBankAccountSetup(clientSecret));
      } catch (integrationError) {
        stripeError = {
          message: String((integrationError && integrationError.message) || integrationError),
        };
      }
    } catch (error) {
      setBusy(false);
      showProblem("We couldn't open Stripe", error, retry);
      return;
    }
    clientSecret = null;
    announce("Checking the result with Stripe…");
    var recorded;
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
      var recorded = await api("GET", sessionPath(setup.sessionId, "/payment-method"));
      await Promise.all([refreshAccounts(), refreshPaymentMethods()]);
      showSetupResult(setup, recorded, null);
    } catch (error) {
      showProblem("We couldn't check whether payments are set up", error, null);
    }
  }

  function showSetupResult(setup, recorded, stripeError) {
    var account = setupAccount(setup);
    var retry = {
      label: "Try again",
      run: function () {
        requestMandate(setup);
      },
    };
    switch (recorded.status) {
      case "succeeded":
        showSetupDone(setup, recorded);
        return;
      case "failed": {
        var message =
          (recorded.failure && recorded.failure.message) ||
          (stripeError && stripeError.message) ||
          "Your bank didn't accept the account for payments.";
        showPanel(
          "problem",
          "We couldn't set up payments from " + spokenName(account),
          [
            el("p", { className: "problem-detail", text: message }),
            el("p", { text: "Nothing was charged, and no payment method was saved." }),
            el("p", {
              className: "next-step",
              text: "Next step: try again. You'll be asked to accept the authorization again.",
            }),
          ],
          [retry],
        );
        return;
      }
      case "canceled":
        showPanel(
          "warning",
          "Setting up payments was cancelled",
          [
            el("p", { text: "No payment method was saved." }),
            el("p", { className: "next-step", text: "When you're ready, try again." }),
          ],
          [retry],
        );
        return;
      default: {
        var paragraphs = [
          el("p", {
            text: "Stripe hasn't confirmed the payment details yet, so nothing is saved.",
          }),
        ];
        if (stripeError && stripeError.message) {
          paragraphs.unshift(el("p", { className: "problem-detail", text: stripeError.message }));
        }
        paragraphs.push(el("p", { className: "next-step", text: "Next step: try again." }));
        showPanel("warning", "Setting up payments didn't finish", paragraphs, [retry]);
      }
    }
  }

  function showSetupDone(setup, recorded) {
    delete state.setups[setup.accountId];
    renderAccounts();
    var method = recorded.payment_method;
    var account = setupAccount(setup);
    var paragraphs = [
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
    var replaces = recorded.replaces_payment_method_id;
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
    paragraphs.push(el("p", { className: "next-step", text: "Nothing else to do." }));
    showPanel("success", "Payments are set up", paragraphs);
  }

  // -------------------------------------------------------------------------------------
  // Payment methods set up here
  // -------------------------------------------------------------------------------------

  var UNUSABLE = {
    blocked: "Stripe can't use it right now: the bank blocked it.",
    relink_required: "Paused until you reconnect the account.",
    unrepairable: "Can't be used: the account can't be reconnected.",
    disconnected: "Can't be used: the account was disconnected.",
  };

  async function loadPaymentMethods() {
    var list = await api("GET", "/v1/payment-methods?limit=100");
    state.paymentMethods = (list && list.data) || [];
    renderPaymentMethods();
  }

  async function refreshPaymentMethods() {
    try {
      await loadPaymentMethods();
    } catch (_ignored) {
      // Only a summary: the accounts and the outcome panel say what matters.
    }
  }

  function renderPaymentMethods() {
    var methods = state.paymentMethods;
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
      el(
        "ul",
        { className: "accounts", role: "list" },
        methods.map(function (method) {
          var status = method.usable
            ? "Payments can come from this account."
            : UNUSABLE[method.unusable_reason] || "Can't be used for payments right now.";
          return el(
            "li",
            {
              className:
                "account payment-method" + (method.usable ? "" : " payment-method--unusable"),
              "data-payment-method-id": method.id,
            },
            [
              el("div", { className: "account__text" }, [
                el("p", { className: "account__name" }, paymentMethodName(method)),
                el("p", {
                  className: "account__status",
                  text:
                    status +
                    (method.replaces_payment_method_id
                      ? " It replaced an earlier payment method."
                      : ""),
                }),
              ]),
            ],
          );
        }),
      ),
    );
  }

  // -------------------------------------------------------------------------------------
  // Start-up
  // -------------------------------------------------------------------------------------

  /** The token in the URL fragment (`#token=…`), taken out of the address bar at once. */
  function takeTokenFromFragment() {
    var hash = window.location.hash;
    if (!hash || hash.length < 2) return null;
    var params = new URLSearchParams(hash.slice(1));
    if (!params.has("token")) return null;
    var token = params.get("token") || null;
    params.delete("token");
    var rest = params.toString();
    // Out of the address bar, and so out of history, bookmarks and shared screenshots.
    window.history.replaceState(
      window.history.state,
      "",
      window.location.pathname + window.location.search + (rest ? "#" + rest : ""),
    );
    return token;
  }

  function readSettings() {
    var embedded =
      window.relinkConfig && typeof window.relinkConfig === "object" ? window.relinkConfig : {};
    var fromFragment = takeTokenFromFragment();
    var token = typeof embedded.token === "string" && embedded.token ? embedded.token : null;
    state.token = token || fromFragment;
    var base = typeof embedded.apiBase === "string" ? embedded.apiBase : "";
    state.apiBase = base.replace(/\/+$/, "");
  }

  function buildSkeleton() {
    var root = document.getElementById("relink-app");
    if (!root) {
      root = el("div", { id: "relink-app" });
      document.body.append(root);
    }
    ui.summary = el("p", { className: "summary" });
    ui.status = el("p", { className: "status", role: "status", "aria-live": "polite" });
    ui.outcome = el("section", {
      id: "outcome",
      className: "outcome",
      "aria-labelledby": "outcome-heading",
      hidden: true,
    });
    ui.accounts = el("div", { id: "accounts", className: "groups", "aria-busy": "true" }, [
      el("p", { text: "Loading your accounts…" }),
    ]);
    ui.paymentMethods = el("section", {
      id: "payment-methods",
      className: "group payment-methods",
      "aria-labelledby": "payment-methods-heading",
      hidden: true,
    });
    root.replaceChildren(
      el("p", {
        className: "intro",
        text:
          "Bank connections sometimes stop working, for example when your bank asks you to " +
          "sign in again. Reconnect them here to keep payments working.",
      }),
      ui.summary,
      ui.status,
      ui.outcome,
      ui.accounts,
      ui.paymentMethods,
    );
  }

  async function start() {
    readSettings();
    buildSkeleton();
    if (!state.token) {
      ui.accounts.replaceChildren();
      ui.accounts.removeAttribute("aria-busy");
      showPanel(
        "problem",
        "This page needs a sign-in link",
        [
          el("p", {
            text:
              "Open it again from your app: the link it gives you signs you in for a short time.",
          }),
        ],
        [],
        { final: true },
      );
      return;
    }
    await boot();
  }

  /** Configuration, Stripe.js and the accounts; run again by "Try again" (the token stays). */
  async function boot() {
    ui.outcome.hidden = true;
    var retry = {
      label: "Try again",
      run: function () {
        boot();
      },
    };
    try {
      state.config = await api("GET", "/v1/config", undefined, { anonymous: true });
      var scriptUrl = new URL(
        state.config.stripe_js_url,
        state.apiBase ? state.apiBase + "/" : window.location.href,
      ).href;
      state.stripeLoaded = loadStripeScript(scriptUrl);
      state.stripeLoaded.catch(function () {
        /* reported when a relink needs it */
      });
      if (state.config.mode === "sandbox" && !document.querySelector(".sandbox-note")) {
        document.documentElement.setAttribute("data-mode", "sandbox");
        ui.summary.before(
          el("p", {
            className: "sandbox-note",
            text: "Sandbox: Stripe and the bank are simulated; no real account is touched.",
          }),
        );
      }
    } catch (error) {
      ui.accounts.replaceChildren();
      ui.accounts.removeAttribute("aria-busy");
      showProblem("We couldn't load this page", error, retry, { final: true });
      return;
    }
    try {
      await loadAccounts();
    } catch (error) {
      ui.accounts.replaceChildren();
      ui.accounts.removeAttribute("aria-busy");
      showProblem("We couldn't load your accounts", error, retry, { final: true });
      return;
    }
    await refreshPaymentMethods();
  }

  // A new link opened in the same tab only changes the fragment: sign in with its token.
  window.addEventListener("hashchange", function () {
    var token = takeTokenFromFragment();
    if (!token || !ui.accounts || state.busy) return;
    state.token = token;
    // Possibly another customer: forget what this visit knew.
    state.setups = {};
    state.paymentMethods = [];
    boot();
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
