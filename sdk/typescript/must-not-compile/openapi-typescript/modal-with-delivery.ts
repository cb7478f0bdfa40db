// A modal relink (by default or said) with a `delivery`: the server answers 422, so the types
// must refuse it.

import type { Client } from 'openapi-fetch';

import type { paths } from '../../fetch-client/schema.js';

export function startByDefault(client: Client<paths>, accountId: string) {
  // expect error at body: Property 'ui_mode' is missing
  return client.POST('/v1/relink-sessions', { body: { account_id: accountId, delivery: 'url' } });
}

export function startSaid(client: Client<paths>, accountId: string) {
  return client.POST('/v1/relink-sessions', {
    // expect error at delivery: is not assignable to type '"url" | "email" | undefined'
    body: { account_id: accountId, ui_mode: 'modal', delivery: 'url' },
  });
}
