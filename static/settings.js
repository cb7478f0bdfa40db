/*
 * Where the page's token and API come from: `window.relinkConfig = {token, apiBase}` (set by
 * an embedding app) or the URL fragment `#token=…`, which is removed from the address bar at
 * once; never from the query string.
 */

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

/** The token and API base into `state`: an embedding app's first, else the fragment's. */
export function readSettings() {
  const embedded =
    window.relinkConfig && typeof window.relinkConfig === "object" ? window.relinkConfig : {};
  const fromFragment = takeTokenFromFragment();
  const token = typeof embedded.token === "string" && embedded.token ? embedded.token : null;
  state.token = token || fromFragment;
  const base = typeof embedded.apiBase === "string" ? embedded.apiBase : "";
  state.apiBase = base.replace(/\/+$/, "");
}
