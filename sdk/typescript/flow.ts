// A short relink with the TypeScript client that @hey-api/openapi-ts generates from
// openapi/openapi.json, against a relink-api sandbox: list the accounts, start an
// account-scope relink for a broken one, play the bank through the sandbox (Stripe.js's part,
// which no client of this API makes), complete the relink and read the outcome back. Prints
// the outcome as JSON.
//
//   npm ci && npx openapi-ts && npx tsc && node dist/flow.js http://127.0.0.1:8000 "$TOKEN"
//
// The base URL and bearer token come from the arguments, else from RELINK_API_URL and
// RELINK_API_TOKEN.

import { randomUUID } from 'node:crypto';

import { createClient, createConfig } from './client/client/index.js';
import {
  completeRelinkSession,
  createRelinkSession,
  getRelinkSession,
  listAccounts,
  type AccountRead,
  type LinkHealth,
  type RelinkSessionComplete,
  type RelinkSessionCreated,
  type RelinkSessionRead,
} from './client/index.js';

class FlowError extends Error {}

type Result<T, E> = ({ data: T; error: undefined } | { data: undefined; error: E }) & {
  response: Response;
};

// The operation's success body, or stop with the problem the API answered.
function expectOk<T, E>(result: Result<T, E>, operation: string): T {
  if (result.error !== undefined || result.data === undefined) {
    throw new FlowError(
      `${operation}: ${result.response.status} ${JSON.stringify(result.error ?? null)}`,
    );
  }
  return result.data;
}

// Link the session's account at the sandbox's bank, as the customer would in Stripe.js;
// returns what collectFinancialConnectionsAccounts resolves with.
async function playTheBank(
  baseUrl: string,
  created: RelinkSessionCreated,
): Promise<RelinkSessionComplete> {
  if (created.client_secret === null || created.publishable_key === null) {
    throw new FlowError('a modal session comes with a client secret and a publishable key');
  }
  const response = await fetch(`${baseUrl}/sandbox/bank/session/complete`, {
    method: 'POST',
    headers: {
      Authorization: `Bearer ${created.publishable_key}`,
      'Content-Type': 'application/json',
    },
    body: JSON.stringify({
      client_secret: created.client_secret,
      outcome: 'link',
      account_id: created.account_id,
    }),
  });
  if (response.status !== 200) {
    throw new FlowError(`the sandbox bank answered ${response.status}: ${await response.text()}`);
  }
  return (await response.json()) as RelinkSessionComplete;
}

async function run(baseUrl: string, token: string): Promise<Record<string, unknown>> {
  // The document's BearerAuth scheme: the client sends the token where an operation asks.
  const client = createClient(createConfig({ baseUrl, auth: token }));

  const accounts = expectOk(
    await listAccounts({ client, query: { limit: 100 } }),
    'listAccounts',
  );
  const relinkRequired: LinkHealth = 'relink_required';
  const account: AccountRead | undefined = accounts.data.find(
    (candidate) => candidate.link_health === relinkRequired,
  );
  if (account === undefined) {
    throw new FlowError('no account needs a relink');
  }

  // A retried create (same Idempotency-Key, same body) answers the first session again.
  const idempotencyKey = randomUUID();
  const create = () =>
    createRelinkSession({
      client,
      body: { account_id: account.id, scope: 'account' },
      headers: { 'Idempotency-Key': idempotencyKey },
    });
  const created: RelinkSessionCreated = expectOk(await create(), 'createRelinkSession');
  const retry = await create();
  const retried: RelinkSessionCreated = expectOk(retry, 'createRelinkSession (retried)');
  if (retried.id !== created.id) {
    throw new FlowError(`the retried create made another session: ${retried.id}`);
  }

  const browserResult = await playTheBank(baseUrl, created);
  const completed: RelinkSessionRead = expectOk(
    await completeRelinkSession({ client, path: { session_id: created.id }, body: browserResult }),
    'completeRelinkSession',
  );
  const read: RelinkSessionRead = expectOk(
    await getRelinkSession({ client, path: { session_id: created.id } }),
    'getRelinkSession',
  );
  if (JSON.stringify(read) !== JSON.stringify(completed)) {
    throw new FlowError('getRelinkSession differs from what completeRelinkSession returned');
  }

  return {
    client: 'typescript',
    accounts_listed: accounts.data.length,
    account_id: account.id,
    session_id: read.id,
    retried_session_id: retried.id,
    retry_replayed: retry.response.headers.get('Idempotent-Replayed'),
    scope: read.scope,
    status: read.status,
    outcome: read.outcome,
    failure_reason: read.failure_reason ?? null,
    next_step: read.next_step,
    linked_account_ids: read.linked_account_ids,
    reactivated_account_ids: read.reactivated_account_ids,
  };
}

async function main(argv: string[]): Promise<number> {
  const baseUrl = argv[2] ?? process.env['RELINK_API_URL'] ?? '';
  const token = argv[3] ?? process.env['RELINK_API_TOKEN'] ?? '';
  if (baseUrl === '' || token === '') {
    console.error('usage: node dist/flow.js BASE_URL TOKEN (or RELINK_API_URL, RELINK_API_TOKEN)');
    return 2;
  }
  try {
    const outcome = await run(baseUrl.replace(/\/+$/, ''), token);
    console.log(JSON.stringify(outcome));
    return 0;
  } catch (error) {
    if (error instanceof FlowError) {
      console.error(`flow failed: ${error.message}`);
      return 1;
    }
    throw error;
  }
}

process.exitCode = await main(process.argv);
