// A hosted relink without `delivery`: the server answers 422, so the types must refuse it.

import type { Client } from 'openapi-fetch';

import type { paths } from '../../fetch-client/schema.js';

export function start(client: Client<paths>, accountId: string) {
  // expect error at body: Property 'delivery' is missing
  return client.POST('/v1/relink-sessions', { body: { account_id: accountId, ui_mode: 'hosted' } });
}
