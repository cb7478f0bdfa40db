// What every relink flow in this folder shares, whichever generator made its client: the
// error that stops a flow, the checks between its steps, the outcome it prints and its
// command line.

export class FlowError extends Error {}

// How a generated client answers an operation: the success body or the problem, and the
// Response they came in.
type Answer<T, E> = { data?: T; error?: E; response: Response };

// The operation's success body, or stop with the problem the API answered.
export function expectOk<T, E>(answer: Answer<T, E>, operation: string): T {
  if (answer.error !== undefined || answer.data === undefined) {
    throw new FlowError(
      `${operation}: ${answer.response.status} ${JSON.stringify(answer.error ?? null)}`,
    );
  }
  return answer.data;
}

// The first account in need of a relink.
export function accountWith<A extends { link_health: string }>(
  accounts: A[],
  health: A['link_health'],
): A {
  const account = accounts.find((candidate) => candidate.link_health === health);
  if (account === undefined) {
    throw new FlowError(`no account is ${health}`);
  }
  return account;
}

// A retried create (same Idempotency-Key, same body) answers the first session again.
export function expectReplayed(created: { id: string }, retried: { id: string }): void {
  if (retried.id !== created.id) {
    throw new FlowError(`the retried create made another session: ${retried.id}`);
  }
}

// Reading a session back answers what completing it did.
export function expectSameRead(read: unknown, completed: unknown): void {
  if (JSON.stringify(read) !== JSON.stringify(completed)) {
    throw new FlowError('getRelinkSession differs from what completeRelinkSession returned');
  }
}

// The parts of a relink session (RelinkSessionRead) the outcome reports.
type SessionRead = {
  id: string;
  scope: string;
  status: string;
  outcome: string | null;
  failure_reason: string | null;
  next_step: string | null;
  linked_account_ids: string[];
  reactivated_account_ids: string[];
};

export type Relink = {
  client: string;
  accountsListed: number;
  accountId: string;
  retriedSessionId: string;
  retryReplayed: string | null;
  read: SessionRead;
};

// The line a flow prints, which tests/sdk compares with what the app recorded.
function outcomeOf(relink: Relink): Record<string, unknown> {
  const { read } = relink;
  return {
    client: relink.client,
    accounts_listed: relink.accountsListed,
    account_id: relink.accountId,
    session_id: read.id,
    retried_session_id: relink.retriedSessionId,
    retry_replayed: relink.retryReplayed,
    scope: read.scope,
    status: read.status,
    outcome: read.outcome,
    failure_reason: read.failure_reason,
    next_step: read.next_step,
    linked_account_ids: read.linked_account_ids,
    reactivated_account_ids: read.reactivated_account_ids,
  };
}

// `node dist/SCRIPT.js BASE_URL TOKEN`, else RELINK_API_URL and RELINK_API_TOKEN: runs the
// flow and prints its outcome as one line of JSON; returns the exit code.
export async function runFromCommandLine(
  script: string,
  run: (baseUrl: string, token: string) => Promise<Relink>,
): Promise<number> {
  const baseUrl = process.argv[2] ?? process.env['RELINK_API_URL'] ?? '';
  const token = process.argv[3] ?? process.env['RELINK_API_TOKEN'] ?? '';
  if (baseUrl === '' || token === '') {
    console.error(
      `usage: node dist/${script}.js BASE_URL TOKEN (or RELINK_API_URL, RELINK_API_TOKEN)`,
    );
    return 2;
  }
  try {
    const relink = await run(baseUrl.replace(/\/+$/, ''), token);
    console.log(JSON.stringify(outcomeOf(relink)));
    return 0;
  } catch (error) {
    if (error instanceof FlowError) {
      console.error(`flow failed: ${error.message}`);
      return 1;
    }
    throw error;
  }
}
