// The same relink as flow.ts with the types that openapi-typescript generates from
// openapi/openapi.json, with its default options, and the openapi-fetch client: list the
// accounts, start an account-scope relink for a broken one, play the bank through the sandbox,
// complete the relink and read the outcome back. Prints the outcome as JSON.
//
//   npx openapi-typescript ../../openapi/openapi.json -o fetch-client/schema.ts
//   npx tsc -p tsconfig.fetch.json && node dist/fetch-flow.js http://127.0.0.1:8000 "$TOKEN"

import { randomUUID } from 'node:crypto';

import createClient from 'openapi-fetch';

import { playTheBank } from './bank.js';
import type { components, paths } from './fetch-client/schema.js';
import {
  accountWith,
  expectOk,
  expectReplayed,
  expectSameRead,
  FlowError,
  runFromCommandLine,
  type Relink,
} from './relink.js';

async function run(baseUrl: string, token: string): Promise<Relink> {
  const client = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${token}` } });

  const accounts = expectOk(
    await client.GET('/v1/accounts', { params: { query: { limit: 100 } } }),
    'listAccounts',
  );
  const relinkRequired: components['schemas']['LinkHealth'] = 'relink_required';
  const account = accountWith(accounts.data, relinkRequired);

  // The README's minimal body, which openapi-typescript's defaults must type as complete.
  const idempotencyKey = randomUUID();
  const create = () =>
    client.POST('/v1/relink-sessions', {
      body: { account_id: account.id },
      params: { header: { 'Idempotency-Key': idempotencyKey } },
    });
  const created = expectOk(await create(), 'createRelinkSession');
  const retry = await create();
  const retried = expectOk(retry, 'createRelinkSession (retried)');
  expectReplayed(created, retried);
  if (created.ui_mode !== 'modal') {
    throw new FlowError(`asked for a modal session, got ${created.ui_mode}`);
  }

  const browserResult = await playTheBank(baseUrl, created);
  const session = { params: { path: { session_id: created.id } } };
  const completed = expectOk(
    await client.POST('/v1/relink-sessions/{session_id}/complete', {
      ...session,
      body: browserResult,
    }),
    'completeRelinkSession',
  );
  const read = expectOk(
    await client.GET('/v1/relink-sessions/{session_id}', session),
    'getRelinkSession',
  );
  expectSameRead(read, completed);

  return {
    client: 'openapi-fetch',
    accountsListed: accounts.data.length,
    accountId: account.id,
    retriedSessionId: retried.id,
    retryReplayed: retry.response.headers.get('Idempotent-Replayed'),
    read,
  };
}

process.exitCode = await runFromCommandLine('fetch-flow', run);
