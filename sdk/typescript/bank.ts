// The customer's part of a modal relink, which no client of this API makes: Stripe.js (or a
// native sheet) links the account at the bank with the session's client secret. The sandbox
// plays that bank at /sandbox/bank.

import { FlowError } from './relink.js';

// What a modal create answers, after narrowing on `ui_mode === 'modal'`: both secrets are
// there, never null.
export type ModalSession = {
  account_id: string;
  client_secret: string;
  publishable_key: string;
};

// What collectFinancialConnectionsAccounts resolves with: the body of completeRelinkSession.
export type BrowserResult = {
  financialConnectionsSession?: { [key: string]: unknown } | null;
  error?: { [key: string]: unknown } | null;
};

// Link the session's account at the sandbox's bank, as the customer would in Stripe.js.
export async function playTheBank(baseUrl: string, session: ModalSession): Promise<BrowserResult> {
  const response = await fetch(`${baseUrl}/sandbox/bank/session/complete`, {
    method: 'POST',
    headers: {
      Authorization: `Bearer ${session.publishable_key}`,
      'Content-Type': 'application/json',
    },
    body: JSON.stringify({
      client_secret: session.client_secret,
      outcome: 'link',
      account_id: session.account_id,
    }),
  });
  if (response.status !== 200) {
    throw new FlowError(`the sandbox bank answered ${response.status}: ${await response.text()}`);
  }
  return (await response.json()) as BrowserResult;
}
