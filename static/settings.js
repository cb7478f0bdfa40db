/*
 * Where the page's token and API come from: `window.relinkConfig = {token, apiBase}` (set by
 * an embedding app) or the URL fragment `#token=…`, which is removed from the address bar at
 * once and kept for the tab (session-token.js) so a reload stays signed in; never from the
 * query string.
 */

import { forgetToken, keepToken, keptToken, tokenExpired } from "./session-token.js";
import { state } from "./state.js";

/** The token in the URL fragment (`#token=…`), taken out of the address bar at once. */
export function takeTokenFromFragment() {
  const hash = window.location.hash;
  if (!hash || hash.length < 2) return null;
  const params = new URLSearchParams(hash.slice(1));
  if (!params.has("token")) return null;
  const token = params.get("token") || null;
  params.delete("token");
  const rest = params.toString();
  // Out of the address bar, and so out of history, bookmarks and shared screenshots.
  window.history.replaceState(
    window.history.state,
    "",
    window.location.pathname + window.location.search + (rest ? "#" + rest : ""),
  );
  return token;
}

/** A token from a link (the fragment): used, and kept for this tab until it expires. */
export function useLinkToken(token) {
  state.signInExpired = tokenExpired(token);
  state.token = state.signInExpired ? null : token;
  if (state.token) {
    keepToken(token);
  } else {
    forgetToken(true);
  }
}

/** The token and API base into `state`: an embedding app's first, else the fragment's, else
 * the one this tab kept. `state.signInExpired` says whether the token's expiry has passed. */
export function readSettings() {
  const embedded =
    window.relinkConfig && typeof window.relinkConfig === "object" ? window.relinkConfig : {};
  const fromFragment = takeTokenFromFragment();
  const token = typeof embedded.token === "string" && embedded.token ? embedded.token : null;
  if (token) {
    // The embedding app hands it over on every load: nothing to keep.
    state.signInExpired = tokenExpired(token);
    state.token = state.signInExpired ? null : token;
  } else if (fromFragment) {
    useLinkToken(fromFragment);
  } else {
    const kept = keptToken();
    state.token = kept.token || null;
    state.signInExpired = Boolean(kept.expired);
  }
  const base = typeof embedded.apiBase === "string" ? embedded.apiBase : "";
  state.apiBase = base.replace(/\/+$/, "");
}
