// Starting the servers under test as child processes: Latchkey (scripts/bench/server.ts)
// with a fresh DATA_DIR and accounts, and the oidc-provider baseline.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { benchClients } from './flows.ts';
import { BENCH_DIR, startServerChild, tempDir, type ServerChild } from './proc.ts';
import { resetConnections } from './http.ts';

export interface Account {
  email: string;
  password: string;
}

export interface LatchkeyServer extends ServerChild {
  accounts: Account[];
  dataDir: string;
}

/** A random password the policy accepts (long, random, none of the email's words). */
export const benchPassword = () => `Bq7-${randomBytes(12).toString('base64url')}`;

export async function startLatchkey(name: string, accountCount: number): Promise<LatchkeyServer> {
  const dataDir = tempDir(name);
  const password = benchPassword();
  const accounts = Array.from({ length: accountCount }, (_, i) => ({ email: `bench-${i}@example.com`, password }));
  resetConnections();
  const server = await startServerChild(join(BENCH_DIR, 'server.ts'), { dataDir, users: accounts, clients: benchClients('latchkey') }, {
    name, logDir: dataDir,
  });
  return Object.assign(server, { accounts, dataDir });
}

export async function startBaseline(name: string): Promise<ServerChild> {
  resetConnections();
  return startServerChild(join(BENCH_DIR, 'baseline-provider.ts'), { clients: benchClients('baseline') }, { name, logDir: tempDir(name), timeoutMs: 60_000 });
}
