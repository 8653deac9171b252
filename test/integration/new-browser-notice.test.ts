// The new-browser sign-in notice (issue 14, policy notices.newBrowser, on by default): the
// account's very first browser is recorded silently; a sign-in from another browser
// emails the owner once, in their language, with browser, system, IP and the sessions
// page; the same browser again sends nothing; the notices are throttled per account, also
// across two instances on one database; the browser that just set the password from an
// emailed link is not news. Real server, database and SMTP server.
import { expect } from 'chai';
import type { ParsedMail } from 'mailparser';
import { createUser } from '../../src/accounts/users.ts';
import { KNOWN_BROWSERS, deviceHash, noteSignInBrowser, type NewBrowserDeps } from '../../src/accounts/new-browser.ts';
import type { User } from '../../src/db/models/user.ts';
import { LENIENT_THROTTLES, startTestServer, useTestServer, type TestServer } from '../helpers/server.ts';
import { Agent, formOn } from '../helpers/agent.ts';
import { discover, publicClient, signIn } from '../helpers/rp.ts';

const app = publicClient();
const FIREFOX_WINDOWS = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:130.0) Gecko/20100101 Firefox/130.0';
const SAFARI_IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';

describe('new-browser sign-in notice', function () {
  this.timeout(60_000);
  // A short throttle, so the test can pass it (the default is an hour).
  const { server, smtp } = useTestServer({ clients: [app], smtp: true, policy: { ...LENIENT_THROTTLES, notices: { newBrowserThrottleMinutes: 1 } } });
  let counter = 0;

  async function newPerson(tag: string, extra: { locale?: string } = {}) {
    const email = `browser-${tag}-${++counter}@example.com`;
    const password = `copper meadow lantern ${counter}`;
    const user = await createUser(server.deps, { email, password, name: 'Bea' });
    if (extra.locale) await server.deps.users.updateOne({ _id: user._id }, { $set: { locale: extra.locale } });
    return { email, password, id: user._id };
  }

  const toAddress = (m: ParsedMail) => (m.to as { text: string } | undefined)?.text ?? '';
  const noticesTo = (email: string) => smtp.messages.filter((m) => toAddress(m).includes(email) && /\/account\/sessions/.test(m.text ?? ''));
  /** Waits for the background work of the sign-ins (the notice runs after the answer) and the mail queue. */
  const settled = async (on: TestServer = server) => {
    await on.deps.tasks.idle();
    await on.deps.mailer.idle();
  };

  async function signInWith(on: TestServer, agent: Agent, person: { email: string; password: string }) {
    await signIn(await discover(on.url, app), agent, person.email, person.password);
  }

  it('records the account\'s first browser silently; a second browser emails the owner once, in their language; the same browser again sends nothing', async () => {
    const person = await newPerson('basic', { locale: 'de' });
    const laptop = new Agent({ 'user-agent': FIREFOX_WINDOWS });
    await signInWith(server, laptop, person);
    await settled();
    expect(noticesTo(person.email), 'the first browser ever: nothing to compare with').to.have.length(0);
    const known = await server.database.connection.db!.collection(KNOWN_BROWSERS).find({ userId: person.id }).toArray();
    expect(known).to.have.length(1);
    // The device id is the cookie's secret part: only its hash is kept.
    const deviceId = laptop.cookies.get('lk_device')!.split('.')[1];
    expect(known[0]!.deviceHash).to.equal(deviceHash(deviceId!));
    expect(JSON.stringify(known)).to.not.contain(deviceId);

    const phone = new Agent({ 'user-agent': SAFARI_IPHONE });
    await signInWith(server, phone, person);
    const mail = await smtp.waitFor((m) => toAddress(m).includes(person.email), 10_000);
    expect(mail.subject).to.equal('Neue Anmeldung bei Ihrem Latchkey-Konto');
    expect(mail.text).to.contain('Safari').and.contain('iOS').and.contain('127.0.0.1').and.contain(`${server.url}/account/sessions`).and.match(/UTC/);
    const events = await server.deps.audit.list({ userId: person.id, events: ['signin.new_browser'] });
    expect(events).to.have.length(1);
    expect(events[0]!.details).to.include({ notified: true });

    // The same browsers again: known, nothing more.
    await signInWith(server, phone, person);
    await signInWith(server, laptop, person);
    await settled();
    expect(noticesTo(person.email)).to.have.length(1);
    expect(await server.deps.audit.list({ userId: person.id, events: ['signin.new_browser'] })).to.have.length(1);
  });

  it('throttles: new browsers one after another send one email per period, each still audited', async () => {
    const person = await newPerson('throttle');
    await signInWith(server, new Agent(), person);
    for (let i = 0; i < 3; i++) await signInWith(server, new Agent(), person);
    await settled();
    expect(noticesTo(person.email)).to.have.length(1);
    const events = await server.deps.audit.list({ userId: person.id, events: ['signin.new_browser'] });
    expect(events.map((e) => e.details.notified).sort()).to.deep.equal([false, false, true]);

    // The period over (moved back in the database rather than waited for): the next new browser is told again.
    await server.deps.users.updateOne({ _id: person.id }, { $set: { newBrowserNoticeAt: new Date(Date.now() - 2 * 60_000) } });
    await signInWith(server, new Agent(), person);
    await settled();
    expect(noticesTo(person.email)).to.have.length(2);
    // English when the account has no language of its own and the browser did not say.
    expect(noticesTo(person.email)[1]!.subject).to.equal('New sign-in to your Latchkey account');
  });

  it('does not tell the owner of the browser that just set the password from an emailed reset link', async () => {
    const person = await newPerson('reset');
    await signInWith(server, new Agent(), person);
    await settled();
    const browser = new Agent();
    const forgot = await browser.request(`${server.url}/password/forgot`);
    const form = formOn(forgot.body, /\/password\/forgot$/);
    await browser.request(`${server.url}/password/forgot`, { form: { ...form.fields, email: person.email } });
    const resetMail = await smtp.waitFor((m) => toAddress(m).includes(person.email) && /password\/reset\?token=/.test(m.text ?? ''), 15_000);
    const page = await browser.request(smtp.linkIn(resetMail));
    const reset = formOn(page.body, /\/password\/reset/);
    const newPassword = 'brand new orchard lantern 5';
    const done = await browser.request(new URL(reset.action, page.url).href, { form: { ...reset.fields, password: newPassword } });
    expect(done.status, done.body.slice(0, 300)).to.equal(200);
    await signInWith(server, browser, { email: person.email, password: newPassword });
    await settled();
    expect(noticesTo(person.email)).to.have.length(0);
    expect(await server.database.connection.db!.collection(KNOWN_BROWSERS).countDocuments({ userId: person.id })).to.equal(2);
  });

  it('is off with notices.newBrowser false: browsers are still recorded, nobody is emailed', async () => {
    const quiet = await startTestServer({ clients: [app], database: server.database, policy: { ...LENIENT_THROTTLES, notices: { newBrowser: false } }, env: { DATA_DIR: server.deps.config.dataDir, SMTP_URL: smtp.url } });
    try {
      const person = await newPerson('off');
      await signInWith(quiet, new Agent(), person);
      await signInWith(quiet, new Agent(), person);
      await settled(quiet);
      expect(noticesTo(person.email)).to.have.length(0);
      expect(await server.database.connection.db!.collection(KNOWN_BROWSERS).countDocuments({ userId: person.id })).to.equal(2);
    } finally {
      await quiet.stop();
    }
  });

  it('two instances on one database: concurrent sign-ins from new browsers send one email between them', async () => {
    const second = await startTestServer({ clients: [app], database: server.database, policy: { ...LENIENT_THROTTLES, notices: { newBrowserThrottleMinutes: 1 } }, env: { DATA_DIR: server.deps.config.dataDir, SMTP_URL: smtp.url } });
    try {
      const person = await newPerson('cluster');
      await signInWith(server, new Agent(), person);
      await settled();
      await Promise.all(Array.from({ length: 6 }, (_, i) => signInWith(i % 2 ? second : server, new Agent(), person)));
      await settled();
      await settled(second);
      expect(noticesTo(person.email)).to.have.length(1);
      const events = await server.deps.audit.list({ userId: person.id, events: ['signin.new_browser'] });
      expect(events).to.have.length(6);
      expect(events.filter((e) => e.details.notified)).to.have.length(1);
      const user = (await server.deps.users.findById(person.id).lean<User>())!;
      expect(user.knownBrowsersSince).to.be.instanceOf(Date);
    } finally {
      await second.stop();
    }
  });

  it('the sign-in itself never waits for the notice: the app gets its code whatever the mail server does', async () => {
    const person = await newPerson('fail');
    await signInWith(server, new Agent(), person);
    await settled();
    smtp.failNext(10, 550);
    const agent = new Agent();
    const config = await discover(server.url, app);
    const { tokens } = await signIn(config, agent, person.email, person.password);
    expect(tokens.access_token).to.be.a('string');
    await settled();
    smtp.failNext(0);
  });

  it('decides right from an account read earlier in the sign-in, however stale: the writes are conditional', async () => {
    const person = await newPerson('stale');
    const deps: NewBrowserDeps = {
      db: server.database.connection.db!, users: server.deps.users, audit: server.deps.audit, mailer: server.deps.mailer,
      urls: { sessions: () => `${server.url}/account/sessions` }, notices: { ...server.deps.config.policy.notices, newBrowserThrottleMinutes: 60 }, cookieDays: 30,
    };
    // As the provider read it before anything was recorded: no first browser, never told.
    const snapshot = { knownBrowsersSince: null, newBrowserNoticeAt: null, status: 'active' as const };
    const note = (deviceId: string) => noteSignInBrowser(deps, { userId: person.id, deviceId, account: snapshot });
    expect(await note('first-browser-device-id')).to.equal('first_browser');
    // Both later sign-ins still hold the stale snapshot: the first browser is not claimed twice, and one email goes out.
    const verdicts = await Promise.all([note('second-browser-device-id'), note('third-browser-device-id')]);
    expect(verdicts.sort()).to.deep.equal(['notified', 'throttled']);
    await settled();
    expect(noticesTo(person.email)).to.have.length(1);
    // Disabled since it was read: nobody is told.
    await server.deps.users.updateOne({ _id: person.id }, { $set: { status: 'disabled', newBrowserNoticeAt: null } });
    expect(await note('fourth-browser-device-id')).to.equal('throttled');
  });
});
