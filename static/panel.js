/* The outcome panel above the list, and the live region that speaks progress. */

import { ApiProblem } from "./api.js";
import { appendAll, el } from "./dom.js";
import { logProblem, problemWords } from "./problem-words.js";
import { findAccount, ui } from "./state.js";
import { accountName, bankName } from "./wording.js";

/**
 * Say `message` in the live region. Progress is also shown on screen; an outcome is only
 * spoken there, since its panel shows it (and its heading takes focus).
 */
export function announce(message, options) {
  // Clear first so the same message twice is still announced.
  ui.status.textContent = "";
  ui.status.classList.toggle("visually-hidden", Boolean(options && options.spokenOnly));
  if (message) {
    window.setTimeout(() => {
      ui.status.textContent = message;
    }, 50);
  }
}

/** The "Try again" action of a panel. */
export function tryAgain(run) {
  return { label: "Try again", run };
}

/** The paragraph that says what the customer does next. */
export function nextStep(text) {
  return el("p", { className: "next-step", text });
}

/** The accounts with these ids as a list: "Everyday Checking ••6789 at Sandbox Bank". */
export function namedList(ids) {
  return el(
    "ul",
    { className: "outcome__accounts" },
    ids.map((id) => {
      const account = findAccount(id);
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
export function showPanel(tone, heading, paragraphs, actions, options) {
  const title = el("h2", { id: "outcome-heading", tabindex: "-1", text: heading });
  const buttons = (actions || []).concat(
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
        buttons.map((action) =>
          el("button", {
            type: "button",
            className: action.secondary ? "button button--secondary" : "button",
            text: action.label,
            "aria-describedby": action.describedBy,
            onclick: action.run,
          }),
        ),
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
  const first =
    ui.accounts.querySelector("button[data-reconnect], button[data-set-up]") ||
    ui.accounts.querySelector("h2");
  if (first) {
    if (first.tagName === "H2") first.setAttribute("tabindex", "-1");
    first.focus();
  }
}

/** A panel that says what happened and what to do next, with a "Try again" action. */
export function showRetryPanel(tone, heading, happened, next, retry) {
  showPanel(tone, heading, [el("p", { text: happened }), nextStep(next)], [retry]);
}

/**
 * A problem panel in the customer's words: an API problem by its type (its developer detail
 * goes to the console), a message the page wrote itself as it is. A 401 ends the sign-in.
 */
export function showProblem(heading, error, retry, options) {
  const problem = error instanceof ApiProblem ? error.problem : null;
  let detail = "Something unexpected went wrong.";
  if (problem) {
    logProblem(problem);
    detail = problemWords(problem);
  } else if (error instanceof ApiProblem) {
    detail = error.detail;
  }
  if (error instanceof ApiProblem && error.status === 401) {
    heading = "Your sign-in has ended";
    detail = "For your security, the link you used works for a short time only. " +
      "Open this page again from your app.";
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
