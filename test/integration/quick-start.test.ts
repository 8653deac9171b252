// The quick start as a newcomer runs it: `node src/main.ts` in its own process,
// the printed demo account, a sign-in through the demo app, and a clean SIGTERM.
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Agent, formOn } from '../helpers/agent.ts';
import { freshDatabase, type TestDatabase } from '../helpers/server.ts';
import { databaseServerUri, testRoot } from '../setup.ts';

const ROOT = resolve(import.meta.dirname, '../..');

describe('quick start', function () {
  this.timeout(60_000);
  let database: TestDatabase;
  let child: ChildProcess;
  let output = '';

  before(async () => {
    database = await freshDatabase();
    const uri = new URL(databaseServerUri());
    uri.pathname = `/${database.name}`;
    child = spawn(process.execPath, ['src/main.ts'], {
      cwd: ROOT,
      env: { ...process.env, PORT: '0', MONGODB_URI: uri.toString(), DATA_DIR: mkdtempSync(join(testRoot, 'quick-')), LOG_LEVEL: 'info', NODE_ENV: 'development' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const deadline = Date.now() + 30_000;
    while (!/sign in as \S+ with password \S+/.test(output)) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the server did not start:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  });
  after(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    await database.drop();
  });

  it('prints how to try a sign-in, and the demo app signs in through the provider', async () => {
    const [, url] = /Latchkey is running at (\S+)/.exec(output)!;
    const [, email, password] = /sign in as (\S+) with password (\S+)/.exec(output)!;
    const agent = new Agent();
    const login = await agent.follow(`${url}/demo/login`);
    expect(login.body).to.contain('Latchkey demo app');
    const form = formOn(login.body, /\/login$/);
    const result = await agent.follow(new URL(form.action, url).href, { form: { ...form.fields, email: email!, password: password! } });
    expect(result.status).to.equal(200);
    expect(result.body).to.contain('Signed in as').and.contain(email);
  });

  it('never logs the demo password (it is printed once, to the console only)', () => {
    const [, password] = /with password (\S+)/.exec(output)!;
    const logLines = output.split('\n').filter((line) => line.startsWith('{'));
    expect(logLines.length).to.be.greaterThan(0);
    expect(logLines.join('\n')).to.not.contain(password);
  });

  it('stops cleanly on SIGTERM', async () => {
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    child.kill('SIGTERM');
    expect(await exited).to.equal(0);
    expect(output).to.contain('stopped');
  });
});
