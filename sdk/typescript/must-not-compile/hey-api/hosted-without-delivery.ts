// A hosted relink without `delivery`: the server answers 422, so the types must refuse it.

import type { Client } from '../../client/client/index.js';
import { createRelinkSession } from '../../client/index.js';

export function start(client: Client, accountId: string) {
  // expect error at body: Property 'delivery' is missing
  return createRelinkSession({ client, body: { account_id: accountId, ui_mode: 'hosted' } });
}
