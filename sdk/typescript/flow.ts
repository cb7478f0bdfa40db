// A short relink with the TypeScript client that @hey-api/openapi-ts generates from
// openapi/openapi.json, against a relink-api sandbox: list the accounts, start an
// account-scope relink for a broken one, play the bank through the sandbox (Stripe.js's part,
// which no client of this API makes), complete the relink and read the outcome back. Prints
// the outcome as JSON.
//
//   npm ci && npx openapi-ts && npx tsc && node dist/flow.js http://127.0.0.1:8000 "$TOKEN"

import { randomUUID } from 'node:crypto';

import { playTheBank } from './bank.js';
import { createClient, createConfig } from './client/client/index.js';
import {
  completeRelinkSession,
  createRelinkSession,
  getRelinkSession,
  listAccounts,
  type LinkHealth,
} from './client/index.js';
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
  // The document's BearerAuth scheme: the client sends the token where an operation asks.
  const client = createClient(createConfig({ baseUrl, auth: token }));

  const accounts = expectOk(
    await listAccounts({ client, query: { limit: 100 } }),
    'listAccounts',
  );
  const relinkRequired: LinkHealth = 'relink_required';
  const account = accountWith(accounts.data, relinkRequired);

  // The minimal body: scope (`account`) and ui_mode (`modal`) are the server's defaults.
  const idempotencyKey = randomUUID();
  const create = () =>
    createRelinkSession({
      client,
      body: { account_id: account.id },
      headers: { 'Idempotency-Key': idempotencyKey },
    });
  const created = expectOk(await create(), 'createRelinkSession');
  const retry = await create();
  const retried = expectOk(retry, 'createRelinkSession (retried)');
  expectReplayed(created, retried);
  // Told apart by ui_mode, a modal answer has its client secret and publishable key.
  if (created.ui_mode !== 'modal') {
    throw new FlowError(`asked for a modal session, got ${created.ui_mode}`);
  }

  const browserResult = await playTheBank(baseUrl, created);
  const completed = expectOk(
    await completeRelinkSession({ client, path: { session_id: created.id }, body: browserResult }),
    'completeRelinkSession',
  );
  const read = expectOk(
    await getRelinkSession({ client, path: { session_id: created.id } }),
    'getRelinkSession',
  );
  expectSameRead(read, completed);

  return {
    client: 'typescript',
    accountsListed: accounts.data.length,
    accountId: account.id,
    retriedSessionId: retried.id,
    retryReplayed: retry.response.headers.get('Idempotent-Replayed'),
    read,
  };
}

process.exitCode = await runFromCommandLine('flow', run);
