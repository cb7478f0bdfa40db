// Only a modal answer has a client secret, and only a hosted `url` one a URL: read from an
// answer not yet told apart by `ui_mode`, either may be null.

import type { components } from '../../fetch-client/schema.js';

type RelinkSessionCreated = components['schemas']['RelinkSessionCreated'];

export function clientSecret(created: RelinkSessionCreated): string {
  // expect error at secret: Type 'string | null' is not assignable to type 'string'
  const secret: string = created.client_secret;
  return secret;
}

export function url(created: RelinkSessionCreated): string {
  // expect error at page: Type 'string | null' is not assignable to type 'string'
  const page: string = created.url;
  return page;
}
