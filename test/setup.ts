// Mocha root hooks: one database server for the whole run — MONGODB_URI when set,
// otherwise the embedded FerretDB in a temporary directory. Each test file then
// uses a database of its own on it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDevDb, type DevDb } from '../src/db/devdb.ts';

let devdb: DevDb | undefined;
export const testRoot = mkdtempSync(join(tmpdir(), 'latchkey-test-'));

export function databaseServerUri(): string {
  const uri = process.env.MONGODB_URI ?? devdb?.uri;
  if (!uri) throw new Error('the test database server is not running');
  return uri;
}

export const mochaHooks = {
  async beforeAll(this: Mocha.Context) {
    this.timeout(240_000); // the first run builds the embedded database with Go
    if (!process.env.MONGODB_URI) devdb = await startDevDb(join(testRoot, 'devdb'));
  },
  async afterAll() {
    await devdb?.stop();
    rmSync(testRoot, { recursive: true, force: true });
  },
};
