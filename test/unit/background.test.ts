// Background tasks start strictly after the answer they follow, and idle() waits for them.
import { expect } from 'chai';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BackgroundTasks, responseSent } from '../../src/background.ts';
import { createLogger } from '../../src/log.ts';

describe('background tasks', () => {
  const tasks = () => new BackgroundTasks(createLogger('silent'));

  it('a task given `after` starts once that settles, on a later turn, and idle() waits for it', async () => {
    const background = tasks();
    let release!: () => void;
    const answered = new Promise<void>((resolve) => { release = resolve; });
    const events: string[] = [];
    background.run('test', async () => { events.push('task'); }, { after: answered });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(events, 'not before the answer').to.deep.equal([]);
    release();
    events.push('answered');
    await background.idle();
    expect(events).to.deep.equal(['answered', 'task']);
  });

  it('starts after the response is finished, with the whole body already sent', async () => {
    const background = tasks();
    const seen: Array<{ finished: boolean }> = [];
    const server = createServer((_req, res) => {
      background.run('test', async () => { seen.push({ finished: res.writableFinished }); }, { after: responseSent(res) });
      res.end('answer');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
      expect(await response.text()).to.equal('answer');
      await background.idle();
      expect(seen).to.deep.equal([{ finished: true }]);
    } finally {
      server.close();
    }
  });

  it('spreadMs starts it a random 0..spreadMs later', async () => {
    const background = tasks();
    const delays: number[] = [];
    for (let i = 0; i < 20; i++) {
      const started = performance.now();
      background.run('test', async () => { delays.push(performance.now() - started); }, { spreadMs: 60 });
    }
    await background.idle();
    expect(delays).to.have.length(20);
    expect(Math.max(...delays)).to.be.below(60 + 40); // timers may fire a little late
    expect(new Set(delays.map((d) => Math.round(d / 10))).size, 'not all at once').to.be.above(1);
  });

  it('a failing task is logged, not thrown', async () => {
    const background = tasks();
    background.run('test', async () => { throw new Error('boom'); });
    await background.idle();
  });
});
