// `latchkey devdb`: the embedded database on its own, shared by several server
// processes as MongoDB would be; one process per directory.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { freePort, startServerProcess } from '../helpers/process.ts';
import { runCli } from '../helpers/cli.ts';
import { testRoot } from '../setup.ts';

const ROOT = resolve(import.meta.dirname, '../..');

describe('latchkey devdb', function () {
  this.timeout(120_000);

  it('runs in the foreground, prints the MONGODB_URI that instances share, refuses a second one on its files, and stops on Ctrl-C', async () => {
    const dir = join(mkdtempSync(join(testRoot, 'devdb-cli-')), 'db');
    const port = await freePort();
    const child = spawn(process.execPath, ['bin/latchkey.js', 'devdb', '--port', String(port), '--dir', dir], {
      cwd: ROOT, env: { PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let printed = '';
    child.stderr.on('data', (chunk: Buffer) => (printed += chunk.toString()));
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    const servers: Array<Awaited<ReturnType<typeof startServerProcess>>> = [];
    try {
      const uri = await new Promise<string>((done, fail) => {
        const timer = setTimeout(() => fail(new Error(`no MONGODB_URI printed: ${printed}`)), 60_000);
        createInterface({ input: child.stdout }).on('line', (line) => {
          printed += `${line}\n`;
          const match = /^MONGODB_URI=(\S+)$/.exec(line);
          if (match) {
            clearTimeout(timer);
            done(match[1]!);
          }
        });
      });
      expect(uri).to.equal(`mongodb://127.0.0.1:${port}/latchkey`);

      // A second one on the same files is refused, naming the URI to share instead.
      const second = await runCli(['devdb', '--port', String(await freePort()), '--dir', dir], { PATH: process.env.PATH });
      expect(second.code).to.equal(1);
      expect(second.stderr).to.contain('already running').and.contain(`MONGODB_URI=${uri}`);

      // Two instances on it share their state: the keys the first one made, the second one publishes.
      for (let i = 0; i < 2; i++) {
        const server = await startServerProcess('unused', { MONGODB_URI: uri });
        servers.push(server);
        await server.ready();
      }
      const kids = await Promise.all(servers.map(async (server) =>
        ((await (await fetch(`${server.url}/jwks`)).json()) as { keys: Array<{ kid: string }> }).keys.map((k) => k.kid).sort()));
      expect(kids[0]).to.have.length.greaterThan(0);
      expect(kids[1]).to.deep.equal(kids[0]);
    } finally {
      await Promise.all(servers.map((server) => server.kill()));
      child.kill('SIGINT');
    }
    expect(await exited).to.equal(0);
    expect(printed).to.contain('embedded database stopped');
    expect(existsSync(join(dir, 'devdb.running.json')), 'running marker removed').to.equal(false);
  });

  it('refuses a bad port', async () => {
    const run = await runCli(['devdb', '--port', '70000'], { PATH: process.env.PATH });
    expect(run.code).to.not.equal(0);
    expect(run.stderr).to.contain('Must be a port number');
  });
});
