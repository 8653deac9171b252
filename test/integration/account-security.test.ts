// Two-step verification in the account portal (issue 12), end to end: set up an
// authenticator app from the QR page (the code computed here from the secret shown),
// after which sign-ins through the provider ask for it; recovery codes shown once;
// removal; the recent sign-in rule; bad input; the notice emails.
// Real server, real database, real SMTP server, openid-client as the app.
import { expect } from 'chai';
import { Secret, TOTP } from 'otpauth';
import type * as oidc from 'openid-client';
import { createUser } from '../../src/accounts/users.ts';
import { TOTP_SETTINGS } from '../../src/accounts/factors.ts';
import { PORTAL_SESSIONS } from '../../src/accounts/revocation.ts';
import { LENIENT_THROTTLES, useTestServer } from '../helpers/server.ts';
import { Agent, formOn, type Page, signedInToPortal } from '../helpers/agent.ts';
import { confidentialClient, discover, openSignIn, RP_CALLBACK, startAuthorization, submitSignIn } from '../helpers/rp.ts';

const STEP_MS = 30_000;
const web = confidentialClient({ client_name: 'Test Web' });

describe('account portal: two-step verification', function () {
  this.timeout(60_000);
  const { server, smtp } = useTestServer({ clients: [web], smtp: true, policy: LENIENT_THROTTLES });
  let config: oidc.Configuration;
  let counter = 0;

  before(async () => {
    config = await discover(server.url, web);
  });

  const url = (path: string) => `${server.url}${path}`;
  const db = () => server.database.connection;
  const factorsOf = (userId: string) => server.deps.factors.factors.find({ userId }).lean();
  const enrolmentsOf = (userId: string) => server.deps.factors.enrolments.find({ userId }).lean();

  async function newPerson(tag: string) {
    const email = `security-${tag}-${++counter}@example.com`;
    const password = `steady copper kettle ${counter}`;
    const user = await createUser(server.deps, { email, password, name: 'Secure Person' });
    return { email, password, userId: user._id };
  }

  /** A browser signed in to the portal just now (its password typed at the provider). */
  const portalAgent = (email: string, password: string) => signedInToPortal(url(''), email, password);

  /** Posts the form of `page` whose action matches (its hidden fields included), with `fields`; not followed. */
  function submit(agent: Agent, page: Page, action: RegExp, fields: Record<string, string> = {}, pick?: (f: { fields: Record<string, string> }) => boolean): Promise<Page> {
    const forms = pick ? allForms(page.body, action).filter(pick) : [formOn(page.body, action)];
    const form = forms[0]!;
    return agent.request(new URL(form.action, page.url).href, { form: { ...form.fields, ...fields } });
  }

  function allForms(html: string, action: RegExp) {
    return [...html.matchAll(/<form[^>]*action="([^"]+)"[^>]*>[\s\S]*?<\/form>/g)]
      .filter((m) => action.test(m[1]!))
      .map((m) => formOn(m[0], /./));
  }

  async function securityPage(agent: Agent): Promise<Page> {
    const page = await agent.request(url('/account/security'));
    expect(page.status, page.body.slice(0, 300)).to.equal(200);
    return page;
  }

  /** Starts a setup from the security page; returns the QR page and a code generator for the secret it shows. */
  async function startSetup(agent: Agent) {
    const page = await submit(agent, await securityPage(agent), /\/account\/security\/totp$/);
    expect(page.status).to.equal(200);
    const secret = /<code class="secret">([A-Z2-7 ]+)<\/code>/.exec(page.body)![1]!;
    const totp = new TOTP({ ...TOTP_SETTINGS, secret: Secret.fromBase32(secret.replace(/ /g, '')) });
    const code = (steps = 0) => totp.generate({ timestamp: Date.now() + steps * STEP_MS });
    return { page, secret, code };
  }

  /** The password step of a sign-in to the app: the page after it (the second step, or the callback). */
  async function signInToApp(email: string, password: string): Promise<Page> {
    const agent = new Agent();
    return submitSignIn(agent, await openSignIn(agent, await startAuthorization(config)), email, password);
  }

  const makeStale = (userId: string, authTime: Date | null = new Date(Date.now() - 6 * 60_000)) =>
    db().collection(PORTAL_SESSIONS).updateMany({ accountId: userId }, authTime ? { $set: { authTime } } : { $unset: { authTime: '' } });

  const mailTo = (email: string, subject: RegExp) => smtp.waitFor((m) => (m.to as { text: string } | undefined)?.text.includes(email) === true && subject.test(m.subject ?? ''), 5_000);

  it('sets up an authenticator app from the QR page; after that a sign-in asks for its code; the notice is emailed', async () => {
    const person = await newPerson('enrol');
    const agent = await portalAgent(person.email, person.password);
    expect((await securityPage(agent)).body).to.contain('Not set up');

    const { page, secret, code } = await startSetup(agent);
    expect(page.body).to.match(/<svg role="img" aria-label="QR code[^"]*"/);
    expect(secret).to.match(/^([A-Z2-7]{4} )+[A-Z2-7]{1,4}$/);
    expect(page.body).to.match(/<input[^>]*name="code"[^>]*autocomplete="one-time-code"/).and.match(/<input[^>]*name="code"[^>]*inputmode="numeric"/);
    expect(page.headers.get('cache-control')).to.equal('no-store');
    expect(await factorsOf(person.userId), 'nothing active before the first code').to.have.length(0);

    // A wrong code: the field again with the error beside it, nothing active.
    const wrong = await submit(agent, page, /\/totp\/confirm$/, { code: code() === '000000' ? '111111' : '000000' });
    expect(wrong.status).to.equal(400);
    expect(wrong.body).to.match(/id="code-error"[^>]*>That code is not right/);
    expect(wrong.body, 'the secret is not shown again').to.not.contain(secret);
    expect(await factorsOf(person.userId)).to.have.length(0);

    const done = await submit(agent, wrong, /\/totp\/confirm$/, { code: code() });
    expect(done.status).to.equal(303);
    expect(done.headers.get('location')).to.equal('/account/security?notice=totp_added');
    const after = await agent.request(url(done.headers.get('location')!));
    expect(after.body).to.contain('Your authenticator app is set up').and.contain('Set up on').and.contain('Last used: not yet');
    expect(after.body).to.not.contain(secret).and.not.contain(secret.replace(/ /g, ''));
    expect((await factorsOf(person.userId)).map((f) => f.kind)).to.deep.equal(['totp']);
    await mailTo(person.email, /second factor was added/);

    const signIn = await signInToApp(person.email, person.password);
    expect(signIn.body).to.contain('Two-step verification').and.contain('autocomplete="one-time-code"');
    expect(signIn.url.startsWith(RP_CALLBACK)).to.equal(false);

    // An expired setup says so, and nothing changes.
    const second = await startSetup(agent);
    await server.deps.factors.enrolments.updateMany({ userId: person.userId }, { $set: { expiresAt: new Date(Date.now() - 1000) } });
    const expired = await submit(agent, second.page, /\/totp\/confirm$/, { code: second.code() });
    expect(expired.status).to.equal(400);
    expect(expired.body).to.contain('This setup expired').and.match(/action="\/account\/security\/totp"/);
    const [first] = await factorsOf(person.userId);
    expect(first!.createdAt.getTime(), 'the first app is still the one').to.be.below(Date.now() - 1);

    // Replacing it: a new setup confirmed takes the place of the old one.
    const third = await startSetup(agent);
    const replaced = await submit(agent, third.page, /\/totp\/confirm$/, { code: third.code() });
    expect(replaced.headers.get('location')).to.equal('/account/security?notice=totp_replaced');
    expect(await factorsOf(person.userId)).to.have.length(1);

    // With an app set up, confirming it's you for these pages asks for its code too.
    await makeStale(person.userId);
    const reauth = await agent.follow(url('/account/security'));
    const form = formOn(reauth.body, /\/login$/);
    const step = await agent.follow(new URL(form.action, reauth.url).href, { form: { ...form.fields, email: person.email, password: person.password } });
    expect(step.body).to.contain('Two-step verification').and.match(/action="\/interaction\/[\w-]+\/second-factor"/);
    const codeForm = formOn(step.body, /\/second-factor$/);
    const back = await agent.follow(new URL(codeForm.action, step.url).href, { form: { ...codeForm.fields, code: third.code(1) } });
    expect(back.url).to.equal(url('/account/security'));
    expect(back.body).to.match(/Last used: \d+ \w+ \d{4}, \d\d:\d\d UTC/);
  });

  it('shows recovery codes once, with the count left on the page; removing factors works and the next sign-in no longer asks', async () => {
    const person = await newPerson('recovery');
    const agent = await portalAgent(person.email, person.password);
    const { page, code } = await startSetup(agent);
    expect((await submit(agent, page, /\/totp\/confirm$/, { code: code() })).status).to.equal(303);

    const shown = await submit(agent, await securityPage(agent), /\/recovery-codes$/);
    expect(shown.status).to.equal(200);
    const codes = [...shown.body.matchAll(/<li><code>([a-z2-7]{4}(?:-[a-z2-7]{4}){3})<\/code><\/li>/g)].map((m) => m[1]!);
    // The same codes as a file to keep, made in the page: a data: URL, nothing stored to serve again.
    const download = /<a class="button secondary" href="data:text\/plain;charset=utf-8,([^"]+)" download="recovery-codes-[^"]+\.txt">/.exec(shown.body);
    expect(download, 'a download link').to.not.equal(null);
    const file = decodeURIComponent(download![1]!.replace(/&amp;/g, '&'));
    for (const code of codes) expect(file).to.contain(code);
    expect(codes).to.have.length(10);
    expect(shown.body).to.contain('replace any you had before').and.contain('will not be shown again');
    await mailTo(person.email, /New recovery codes/);

    const list = await securityPage(agent);
    expect(list.body).to.contain('10 of 10 codes left');
    for (const c of codes) expect(list.body).to.not.contain(c);

    // Another person's factor is not theirs to remove.
    const other = await newPerson('other');
    const otherAgent = await portalAgent(other.email, other.password);
    const otherSetup = await startSetup(otherAgent);
    await submit(otherAgent, otherSetup.page, /\/totp\/confirm$/, { code: otherSetup.code() });
    const [otherTotp] = await factorsOf(other.userId);
    const notTheirs = await submit(agent, list, /\/remove$/, { factorId: otherTotp!._id });
    expect(notTheirs.status).to.equal(404);
    expect(await factorsOf(other.userId)).to.have.length(1);

    const [totp] = (await factorsOf(person.userId)).filter((f) => f.kind === 'totp');
    // Asked once more first: nothing is removed until the confirmation.
    const asked = await submit(agent, list, /\/remove$/, {}, (f) => f.fields.factorId === totp!._id);
    expect(asked.status).to.equal(200);
    expect(asked.body).to.contain('Remove your authenticator app?');
    expect((await factorsOf(person.userId)).map((f) => f.kind)).to.include('totp');
    const removed = await submit(agent, asked, /\/remove$/, {});
    expect(removed.status).to.equal(303);
    expect(removed.headers.get('location')).to.equal('/account/security?notice=totp_removed');
    await mailTo(person.email, /second factor was removed/);
    expect((await factorsOf(person.userId)).map((f) => f.kind)).to.deep.equal(['recovery_codes']);
    expect((await signInToApp(person.email, person.password)).url.startsWith(RP_CALLBACK), 'no second step any more').to.equal(true);

    const [recovery] = await factorsOf(person.userId);
    const again = await submit(agent, await securityPage(agent), /\/remove$/, { factorId: recovery!._id, confirm: 'yes' });
    expect(again.headers.get('location')).to.equal('/account/security?notice=recovery_codes_removed');
    expect(await factorsOf(person.userId)).to.have.length(0);
  });

  it('needs a recent sign-in: an older one confirms the password at the provider and comes back; a stale POST changes nothing', async () => {
    const person = await newPerson('stale');
    const agent = await portalAgent(person.email, person.password);
    const before = await securityPage(agent);

    await makeStale(person.userId);
    const first = await agent.request(url('/account/security'));
    expect(first.status).to.equal(302);
    expect(first.headers.get('location')).to.equal('/account/login?fresh=1&return=%2Faccount%2Fsecurity');

    const csrf = formOn(before.body, /\/totp$/).fields._csrf!;
    for (const [path, fields] of [['totp', ''], ['recovery-codes', ''], ['remove', '&factorId=x']]) {
      const refused = await agent.request(url(`/account/security/${path}`), { form: `_csrf=${csrf}${fields}` });
      expect(refused.status, path).to.equal(401);
      expect(refused.body).to.contain('nothing was changed').and.contain('/account/login?fresh=1');
    }
    // Confirming a setup is allowed for as long as a setup lasts after a recent sign-in (5 + 10 minutes).
    const confirm6 = await agent.request(url('/account/security/totp/confirm'), { form: `_csrf=${csrf}&enrolmentId=x&code=123456` });
    expect(confirm6.status, 'reaches the handler: no such setup').to.equal(400);
    await makeStale(person.userId, new Date(Date.now() - 16 * 60_000));
    const confirm16 = await agent.request(url('/account/security/totp/confirm'), { form: `_csrf=${csrf}&enrolmentId=x&code=123456` });
    expect(confirm16.status).to.equal(401);
    expect(await factorsOf(person.userId)).to.have.length(0);
    expect(await enrolmentsOf(person.userId)).to.have.length(0);

    // Through the provider: "Confirm it's you" with the email filled in, the password, back here.
    const reauth = await agent.follow(url('/account/security'));
    expect(reauth.body).to.contain('Confirm it’s you').and.contain(`value="${person.email}"`);
    const form = formOn(reauth.body, /\/login$/);
    const back = await agent.follow(new URL(form.action, reauth.url).href, { form: { ...form.fields, email: person.email, password: person.password } });
    expect(back.url).to.equal(url('/account/security'));
    expect(back.status).to.equal(200);
    expect(back.body).to.contain('Two-step verification');

    // A session that never recorded when the password was entered is not recent either.
    await makeStale(person.userId, null);
    expect((await agent.request(url('/account/security'))).status).to.equal(302);
  });

  it('bad input: 4xx, nothing stored, no attempt used up', async () => {
    const person = await newPerson('bad');
    const agent = await portalAgent(person.email, person.password);
    const { page, code } = await startSetup(agent);
    const form = formOn(page.body, /\/totp\/confirm$/);
    const confirm = url('/account/security/totp/confirm');
    const remove = url('/account/security/remove');
    const csrf = form.fields._csrf!;
    const enrolmentId = form.fields.enrolmentId!;
    for (const [target, body, status] of [
      [confirm, `_csrf=${csrf}&enrolmentId=${enrolmentId}`, 400],
      [confirm, `_csrf=${csrf}&enrolmentId=${enrolmentId}&code[$ne]=`, 400],
      [confirm, `_csrf=${csrf}&enrolmentId=${enrolmentId}&code=${'1'.repeat(100)}`, 400],
      [confirm, `_csrf=${csrf}&enrolmentId=${enrolmentId}&code=1&code=2`, 400],
      [confirm, `_csrf=${csrf}&code=123456`, 400],
      [confirm, `_csrf=${csrf}&enrolmentId[$ne]=x&code=123456`, 400],
      [confirm, `_csrf=${csrf}&enrolmentId=${'a'.repeat(200)}&code=123456`, 400],
      [confirm, `enrolmentId=${enrolmentId}&code=${code()}`, 403],
      [confirm, `_csrf=${csrf}&enrolmentId=${enrolmentId}&code=${'1'.repeat(20_000)}`, 413],
      [remove, `_csrf=${csrf}`, 400],
      [remove, `_csrf=${csrf}&factorId[$ne]=`, 400],
      [remove, `_csrf=${csrf}&factorId=${'f'.repeat(200)}`, 400],
      [remove, `_csrf=${csrf}&factorId=00000000-0000-0000-0000-000000000000`, 404],
    ] as const) {
      const answer = await agent.request(target, { form: body });
      expect(answer.status, body.slice(0, 80)).to.equal(status);
      expect(answer.body).to.not.match(/\bat \S+ \(|node_modules|\.ts:\d+/);
    }
    const json = await agent.request(confirm, { body: JSON.stringify({ _csrf: csrf, enrolmentId, code: { $ne: '' } }), headers: { 'content-type': 'application/json' } });
    expect(json.status).to.equal(415);
    expect(await factorsOf(person.userId)).to.have.length(0);
    const [enrolment] = await enrolmentsOf(person.userId);
    expect(enrolment!.attempts, 'no attempt spent on unreadable input').to.equal(0);
    // The setup still works.
    expect((await submit(agent, page, /\/totp\/confirm$/, { code: code() })).status).to.equal(303);
  });
});
