// What the create-relink-session contract lets a client of the @hey-api/openapi-ts client
// write: the minimal body, a hosted body, and each answer's secret or URL typed `string` once
// the answer is told apart by `ui_mode` (and `delivery`). tests/sdk compiles this; nothing
// runs it.

import type { Client } from '../client/client/index.js';
import { createRelinkSession } from '../client/index.js';

// Start a modal relink with `{account_id}` alone; its client secret, if it is one.
export async function clientSecretFor(client: Client, accountId: string): Promise<string | null> {
  const { data } = await createRelinkSession({ client, body: { account_id: accountId } });
  if (data?.ui_mode === 'modal') {
    const secret: string = data.client_secret;
    return secret;
  }
  return null;
}

// Start a hosted relink delivered by URL; the page to open, if it is one.
export async function pageFor(client: Client, accountId: string): Promise<string | null> {
  const { data } = await createRelinkSession({
    client,
    body: { account_id: accountId, ui_mode: 'hosted', delivery: 'url' },
  });
  if (data?.ui_mode === 'hosted' && data.delivery === 'url') {
    const url: string = data.url;
    return url;
  }
  return null;
}
