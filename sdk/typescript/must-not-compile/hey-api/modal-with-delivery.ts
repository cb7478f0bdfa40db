// A modal relink (by default or said) with a `delivery`: the server answers 422, so the types
// must refuse it.

import type { Client } from '../../client/client/index.js';
import { createRelinkSession } from '../../client/index.js';

export function startByDefault(client: Client, accountId: string) {
  // expect error at body: Property 'ui_mode' is missing
  return createRelinkSession({ client, body: { account_id: accountId, delivery: 'url' } });
}

export function startSaid(client: Client, accountId: string) {
  return createRelinkSession({
    client,
    // expect error at delivery: is not assignable to type 'Delivery | null | undefined'
    body: { account_id: accountId, ui_mode: 'modal', delivery: 'url' },
  });
}
