/*
 * The sign-in token kept for this tab, so a reload does not sign the customer out.
 *
 * Only sessionStorage (this tab, gone when it closes): never localStorage, a cookie or the
 * URL. The token is kept until its `exp` claim passes; the page reads `exp` only to know when
 * to stop using the token, never to decide what the customer may do (the API verifies it).
 */

const TOKEN_KEY = "relink.token";
// Set when a kept token expired, so the next load can say so rather than ask for a link.
const EXPIRED_KEY = "relink.signInExpired";

function storage() {
  try {
    return window.sessionStorage;
  } catch (_blocked) {
    return null; // storage switched off: the page still works, but a reload signs out
  }
}

/** When the token stops working (ms since the epoch), from its `exp`; null if unknown. */
export function tokenExpiresAt(token) {
  const parts = typeof token === "string" ? token.split(".") : [];
  if (parts.length !== 3) return null;
  try {
    const base64 = parts[1].replace(/-/g, "+").replace(/_/g, "/");
    const claims = JSON.parse(window.atob(base64.padEnd(Math.ceil(base64.length / 4) * 4, "=")));
    return typeof claims.exp === "number" ? claims.exp * 1000 : null;
  } catch (_notAJwt) {
    return null;
  }
}

/** Whether the token's own expiry has passed (by this device's clock). */
export function tokenExpired(token) {
  const expiresAt = tokenExpiresAt(token);
  return expiresAt !== null && expiresAt <= Date.now();
}

/** Keep `token` for this tab (replacing any other). */
export function keepToken(token) {
  const store = storage();
  if (!store) return;
  try {
    store.setItem(TOKEN_KEY, token);
    store.removeItem(EXPIRED_KEY);
  } catch (_full) {
    // Not kept: a reload will ask for the link again.
  }
}

/** Stop keeping the token; `expired` remembers why, for the next load to say. */
export function forgetToken(expired) {
  const store = storage();
  if (!store) return;
  store.removeItem(TOKEN_KEY);
  if (expired) store.setItem(EXPIRED_KEY, "1");
}

/**
 * The token this tab kept: `{token}` while it works, `{expired: true}` once its expiry has
 * passed (and it is no longer kept), or `{}` when none was kept.
 */
export function keptToken() {
  const store = storage();
  if (!store) return {};
  const token = store.getItem(TOKEN_KEY);
  if (token && !tokenExpired(token)) return { token };
  if (token) forgetToken(true);
  return store.getItem(EXPIRED_KEY) ? { expired: true } : {};
}
