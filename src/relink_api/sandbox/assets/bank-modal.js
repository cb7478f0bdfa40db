/*
 * relink-api sandbox: the bank's modal of the Stripe.js stand-in (see stripe.js, which imports
 * this module when a Financial Connections flow starts).
 *
 * It plays the bank (sign in, choose an account, link a different one, or close) in a modal
 * dialog inside a shadow root, keeps focus in it and the page behind it inert, and hands the
 * customer's choice to the stand-in. It never sees the client secret.
 */

var CSS = [
  ":host { all: initial; }",
  "*, *::before, *::after { box-sizing: border-box; }",
  ".backdrop { position: fixed; inset: 0; z-index: 2147483647; display: flex;",
  "  align-items: center; justify-content: center; padding: 1rem;",
  "  background: rgba(17, 24, 39, 0.55);",
  "  font: 16px/1.5 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; color: #1f2937; }",
  ".dialog { position: relative; width: 100%; max-width: 26rem; max-height: calc(100vh - 2rem);",
  "  overflow-y: auto; background: #fff; border-radius: 12px; padding: 1.25rem;",
  "  box-shadow: 0 20px 40px rgba(0, 0, 0, 0.25); }",
  ".topbar { display: flex; align-items: center; justify-content: space-between; gap: 1rem;",
  "  margin-bottom: 0.75rem; }",
  ".badge { font-size: 0.8125rem; font-weight: 600; color: #92400e; background: #fef3c7;",
  "  border-radius: 999px; padding: 0.125rem 0.625rem; }",
  ".close { min-width: 2.75rem; min-height: 2.75rem; font-size: 1.5rem; line-height: 1;",
  "  border: 1px solid transparent; border-radius: 8px; background: transparent; color: #374151;",
  "  cursor: pointer; }",
  ".close:hover { background: #f3f4f6; }",
  "h2 { font-size: 1.25rem; line-height: 1.3; margin: 0 0 0.5rem; }",
  "h2:focus, h2:focus-visible { outline: none; }",
  "p { margin: 0 0 1rem; }",
  ".muted { color: #4b5563; font-size: 0.9375rem; }",
  "fieldset { border: 0; margin: 0 0 1rem; padding: 0; }",
  "legend { font-weight: 600; margin-bottom: 0.5rem; padding: 0; }",
  ".option { display: flex; align-items: flex-start; gap: 0.75rem; padding: 0.75rem;",
  "  border: 1px solid #d1d5db; border-radius: 8px; margin-bottom: 0.5rem; cursor: pointer; }",
  ".option input { margin: 0.25rem 0 0; width: 1.125rem; height: 1.125rem; flex: none; }",
  ".option.disabled { color: #6b7280; background: #f9fafb; cursor: not-allowed; }",
  ".option:has(input:checked) { border-color: #2563eb; background: #eff6ff; }",
  ".option .name { display: block; font-weight: 600; }",
  ".option .meta { display: block; font-size: 0.875rem; color: #4b5563; }",
  ".actions { display: flex; flex-wrap: wrap; gap: 0.5rem; }",
  ".button { min-height: 2.75rem; padding: 0.5rem 1rem; border-radius: 8px; font: inherit;",
  "  font-weight: 600; cursor: pointer; border: 1px solid #1d4ed8; background: #1d4ed8;",
  "  color: #fff; }",
  ".button.secondary { background: #fff; color: #1d4ed8; }",
  ".button[disabled] { opacity: 0.6; cursor: progress; }",
  "button:focus-visible, input:focus-visible { outline: 3px solid #2563eb; outline-offset: 2px; }",
  ".visually-hidden { position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px;",
  "  overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0; }",
].join("\n");

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
  (children || []).forEach(function (child) {
    if (child !== null && child !== undefined) {
      node.append(child);
    }
  });
  return node;
}

/** "Everyday Checking ••6789", read by screen readers as "… ending in 6789". */
function accountLabel(account) {
  var nodes = [document.createTextNode(account.display_name || "Account")];
  if (account.last4) {
    nodes.push(document.createTextNode(" "));
    nodes.push(el("span", { "aria-hidden": "true", text: "••" }));
    nodes.push(el("span", { className: "visually-hidden", text: "ending in " }));
    nodes.push(document.createTextNode(account.last4));
  }
  return nodes;
}

function subcategoryWords(subcategory) {
  return (subcategory || "account").replace(/_/g, " ");
}

var FOCUSABLE =
  "button:not([disabled]), input:not([disabled]), [href], select:not([disabled]), " +
  "textarea:not([disabled]), [tabindex]:not([tabindex='-1'])";

export class BankModal {
  /**
   * @param {object} bank   what POST /sandbox/bank/session returned ({session, accounts})
   * @param {(outcome: object) => Promise<object>} finish  posts the outcome, returns the result
   */
  constructor(bank, finish) {
    this.session = bank.session || {};
    this.accounts = Array.isArray(bank.accounts) ? bank.accounts : [];
    this.institution = this.session.institution_name || "your bank";
    this.finish = finish;
    this.busy = false;
    this.inerted = [];
    this.returnFocus = null;
    this.onKeydown = this.onKeydown.bind(this);
    this.onFocusIn = this.onFocusIn.bind(this);
  }

  /** Show the modal; resolves with the value collectFinancialConnectionsAccounts resolves. */
  run() {
    var modal = this;
    return new Promise(function (resolve) {
      modal.resolve = resolve;
      modal.mount();
      modal.showSignIn();
    });
  }

  mount() {
    this.returnFocus = document.activeElement;
    this.host = el("div", { "data-stripe-sandbox": "financial-connections" });
    var root = this.host.attachShadow({ mode: "open" });
    if ("adoptedStyleSheets" in root && typeof CSSStyleSheet === "function") {
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      root.adoptedStyleSheets = [sheet];
    } else {
      root.append(el("style", { text: CSS }));
    }
    this.root = root;
    this.title = el("h2", { id: "sandbox-bank-title", tabindex: "-1" });
    this.body = el("div", { id: "sandbox-bank-body" });
    this.closeButton = el(
      "button",
      {
        type: "button",
        className: "close",
        "aria-label": "Close",
        onclick: this.choose.bind(this, { outcome: "cancel" }),
      },
      [el("span", { "aria-hidden": "true", text: "×" })],
    );
    this.dialog = el(
      "div",
      {
        className: "dialog",
        role: "dialog",
        "aria-modal": "true",
        "aria-labelledby": "sandbox-bank-title",
        "aria-describedby": "sandbox-bank-body",
      },
      [
        el("div", { className: "topbar" }, [
          el("span", { className: "badge", text: "Sandbox bank · simulated" }),
          this.closeButton,
        ]),
        this.title,
        this.body,
      ],
    );
    root.append(el("div", { className: "backdrop" }, [this.dialog]));

    // Everything else on the page is out of reach while the bank is open.
    Array.prototype.forEach.call(document.body.children, function (child) {
      if (!child.inert) {
        child.inert = true;
        this.inerted.push(child);
      }
    }, this);
    document.body.append(this.host);
    document.addEventListener("keydown", this.onKeydown, true);
    document.addEventListener("focusin", this.onFocusIn, true);
  }

  unmount() {
    document.removeEventListener("keydown", this.onKeydown, true);
    document.removeEventListener("focusin", this.onFocusIn, true);
    this.inerted.forEach(function (child) {
      child.inert = false;
    });
    this.inerted = [];
    if (this.host) {
      this.host.remove();
    }
    var target = this.returnFocus;
    if (target && target.isConnected && typeof target.focus === "function") {
      target.focus();
    }
  }

  focusables() {
    return Array.prototype.filter.call(this.dialog.querySelectorAll(FOCUSABLE), function (node) {
      // Only the checked radio of a group is a tab stop.
      return !(node.type === "radio" && !node.checked && node.name);
    });
  }

  onKeydown(event) {
    if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      this.choose({ outcome: "cancel" });
      return;
    }
    if (event.key !== "Tab") return;
    var items = this.focusables();
    if (items.length === 0) {
      event.preventDefault();
      this.title.focus();
      return;
    }
    var active = this.root.activeElement;
    var index = items.indexOf(active);
    if (index === -1 && active && this.dialog.contains(active)) {
      return; // on the heading: the natural order is already right
    }
    var next;
    if (event.shiftKey) {
      next = index <= 0 ? items[items.length - 1] : null;
    } else {
      next = index === -1 || index === items.length - 1 ? items[0] : null;
    }
    if (next) {
      event.preventDefault();
      next.focus();
    }
  }

  onFocusIn(event) {
    // Focus that escapes the dialog (e.g. a click on the page behind) comes back to it.
    if (event.target !== this.host) {
      this.title.focus();
    }
  }

  step(title, nodes) {
    this.title.textContent = title;
    this.body.replaceChildren.apply(this.body, nodes);
    this.title.focus();
  }

  showSignIn() {
    this.step("Sign in to " + this.institution, [
      el("p", {
        text:
          "This is a simulated bank for trying relink-api. No real credentials are needed: " +
          "choose how the sign-in goes.",
      }),
      el("div", { className: "actions" }, [
        el("button", {
          type: "button",
          className: "button",
          text: "Sign in",
          onclick: this.showAccounts.bind(this),
        }),
        el("button", {
          type: "button",
          className: "button secondary",
          text: "Fail sign-in",
          onclick: this.choose.bind(this, { outcome: "login_failed" }),
        }),
      ]),
    ]);
  }

  showAccounts() {
    var modal = this;
    var wanted = this.session.relink_account || null;
    var selectable = this.accounts.filter(function (account) {
      return account.selectable;
    });
    var preselected =
      selectable.find(function (account) {
        return account.id === wanted;
      }) || selectable[0];

    var intro;
    var target = wanted
      ? this.accounts.find(function (account) {
          return account.id === wanted;
        })
      : null;
    if (target) {
      intro = el("p", {}, [
        document.createTextNode("Reconnect "),
      ].concat(accountLabel(target), [document.createTextNode(" to keep payments working.")]));
    } else {
      intro = el("p", {
        text: "Choose one checking or savings account to connect.",
      });
    }

    var options = this.accounts.map(function (account, index) {
      var id = "sandbox-account-" + index;
      var meta = subcategoryWords(account.subcategory);
      if (!account.selectable) meta += " · not eligible";
      var input = el("input", {
        type: "radio",
        name: "sandbox-account",
        id: id,
        value: account.id,
        disabled: !account.selectable,
        checked: preselected && account.id === preselected.id,
      });
      return el("label", { className: "option" + (account.selectable ? "" : " disabled"), for: id }, [
        input,
        el("span", {}, [
          el("span", { className: "name" }, accountLabel(account)),
          el("span", { className: "meta", text: meta }),
        ]),
      ]);
    });

    var connect = el("button", {
      type: "button",
      className: "button",
      text: "Connect",
      disabled: !preselected,
      onclick: function () {
        var checked = modal.dialog.querySelector("input[name='sandbox-account']:checked");
        if (checked) {
          modal.choose({ outcome: "link", account_id: checked.value });
        }
      },
    });

    this.step("Choose an account at " + this.institution, [
      intro,
      el("fieldset", {}, [el("legend", { text: "Accounts" })].concat(options)),
      selectable.length === 0
        ? el("p", { className: "muted", text: "None of these accounts can be connected here." })
        : null,
      el("div", { className: "actions" }, [
        connect,
        el("button", {
          type: "button",
          className: "button secondary",
          text: "Link a different account",
          onclick: this.choose.bind(this, { outcome: "link_new" }),
        }),
      ]),
    ].filter(Boolean));
  }

  async choose(outcome) {
    if (this.busy) return;
    this.busy = true;
    this.dialog.setAttribute("aria-busy", "true");
    Array.prototype.forEach.call(this.dialog.querySelectorAll("button, input"), function (node) {
      node.disabled = true;
    });
    var result = await this.finish(outcome);
    this.unmount();
    this.resolve(result);
  }
}
