// The life of a password on the hosted pages, end to end: forgot/reset, forced
// change on first sign-in, invitations, self sign-up with email verification.
// Real server, real database, real SMTP server, openid-client as the app.
import { expect } from 'chai';
import * as oidc from 'openid-client';
import type { ParsedMail } from 'mailparser';
import { createUser } from '../../src/accounts/users.ts';
import { setTemporaryPassword } from '../../src/accounts/set-password.ts';
import { inviteUser, setPasswordWithLink } from '../../src/accounts/password-links.ts';
import { authenticate } from '../../src/accounts/signin.ts';
import { LENIENT_THROTTLES, useTestServer } from '../helpers/server.ts';
import { Agent, formOn, type Page } from '../helpers/agent.ts';
import { discover, openSignIn, publicClient, RP_CALLBACK, signIn, startAuthorization, submitSignIn } from '../helpers/rp.ts';

const client = publicClient({ client_uri: 'http://127.0.0.1:9/home' });
const invitingApp = publicClient({ client_id: 'inviting-app', client_name: 'Inviting App', client_uri: 'http://127.0.0.1:9/app', initiate_login_uri: 'https://app.example/login' });
const FAILED = 'Email or password is incorrect';


describe('password lifecycle', () => {
  const { server, smtp } = useTestServer({ clients: [client, invitingApp], smtp: true, policy: LENIENT_THROTTLES });
  let config: oidc.Configuration;
  let counter = 0;
  const uniqueEmail = (tag: string) => `${tag}-${++counter}@example.com`;

  before(async () => {
    config = await discover(server.url, client);
  });

  /** The message to `to` matching `subject`, once it has arrived. */
  const mailTo = (to: string, subject: RegExp) => smtp.waitFor((m: ParsedMail) => (m.to as { text: string }).text.includes(to) && subject.test(m.subject ?? ''));
  const settle = () => server.deps.tasks.idle().then(() => server.deps.mailer.idle());

  async function submit(agent: Agent, page: Page, action: RegExp, fields: Record<string, string>): Promise<Page> {
    const form = formOn(page.body, action);
    return agent.follow(new URL(form.action, page.url).href, { form: { ...form.fields, ...fields } }, RP_CALLBACK);
  }

  async function forgot(agent: Agent, email: string, interaction?: string): Promise<Page> {
    const page = await agent.request(`${server.url}/password/forgot${interaction ? `?interaction=${interaction}` : ''}`);
    return submit(agent, page, /\/password\/forgot$/, { email });
  }

  describe('forgot password', () => {
    it('answers the same for an existing and an unknown email; only the account gets a link', async () => {
      const email = uniqueEmail('forgot');
      await createUser(server.deps, { email, password: 'old password for forgot' });
      const known = await forgot(new Agent(), email);
      const unknown = await forgot(new Agent(), 'nobody-here@example.com');
      expect(known.status).to.equal(200);
      expect(unknown.status).to.equal(200);
      const strip = (body: string) => body.replace(/<strong><bdi>[^<]*<\/bdi><\/strong>/, '').replace(/nonce="[^"]*"|value="[^"]*"/g, '');
      expect(strip(known.body)).to.equal(strip(unknown.body));
      await settle();
      expect(smtp.messages.filter((m) => (m.to as { text: string }).text.includes('nobody-here'))).to.have.length(0);
      const mail = await mailTo(email, /reset/i);
      expect(smtp.linkIn(mail)).to.match(/\/password\/reset\?token=[\w-]{43}$/);
    });

    it('resets through the link: GET does not use it, the new password works, the old one and other sessions do not', async () => {
      const email = uniqueEmail('reset');
      const oldPassword = 'old password for reset';
      const newPassword = 'a brand new reset password';
      await createUser(server.deps, { email, password: oldPassword });
      const before = await signIn(config, new Agent(), email, oldPassword, { scope: 'openid offline_access' });

      await forgot(new Agent(), email);
      const link = smtp.linkIn(await mailTo(email, /reset/i));
      const agent = new Agent();
      const first = await agent.request(link);
      const second = await agent.request(link);
      expect(first.status).to.equal(200);
      expect(second.status, 'opening the link twice does not use it').to.equal(200);
      expect(first.body).to.contain('autocomplete="new-password"').and.contain(email);

      const done = await submit(agent, second, /\/password\/reset$/, { password: newPassword });
      expect(done.status).to.equal(200);
      expect(done.body).to.contain('Password changed');

      expect((await authenticate(server.deps.signInDeps, { email, password: oldPassword })).ok).to.equal(false);
      expect((await authenticate(server.deps.signInDeps, { email, password: newPassword })).ok).to.equal(true);
      const refused = await oidc.refreshTokenGrant(config, before.tokens.refresh_token!).catch((e: Error) => e);
      expect(refused, 'the earlier session\'s refresh token is revoked').to.be.instanceOf(oidc.ResponseBodyError);
      const notice = await mailTo(email, /changed/i);
      expect(notice.text).to.not.contain(newPassword);

      const reused = await agent.request(link);
      expect(reused.status).to.equal(410);
      expect(reused.body).to.contain('already used').and.contain('Send me a fresh link');
    });

    it('returns to the sign-in it started from', async () => {
      const email = uniqueEmail('return');
      await createUser(server.deps, { email, password: 'old password for return' });
      const agent = new Agent();
      const authorization = await startAuthorization(config);
      const login = await openSignIn(agent, authorization);
      const uid = /\/interaction\/([\w-]+)\/login/.exec(login.body)![1]!;
      expect(login.body).to.contain(`/password/forgot?interaction=${uid}`);
      await forgot(agent, email, uid);
      const link = smtp.linkIn(await mailTo(email, /reset/i));
      const form = await agent.request(link);
      const back = await submit(agent, form, /\/password\/reset$/, { password: 'returning new password 42' });
      expect(back.status).to.equal(200);
      expect(back.url).to.contain(`/interaction/${uid}`);
      expect(back.body).to.contain('Your password was changed');
      const done = await submitSignIn(agent, back, email, 'returning new password 42');
      expect(done.url.startsWith(RP_CALLBACK)).to.equal(true);
    });

    it('opened on another device: the password is changed there, with a way back to the app, and the first browser still returns to its sign-in', async () => {
      const email = uniqueEmail('two-devices');
      await createUser(server.deps, { email, password: 'old password on the laptop' });
      const laptop = new Agent();
      const login = await openSignIn(laptop, await startAuthorization(config));
      const uid = /\/interaction\/([\w-]+)\/login/.exec(login.body)![1]!;
      await forgot(laptop, email, uid);
      const link = smtp.linkIn(await mailTo(email, /reset/i));

      const phone = new Agent();
      const done = await submit(phone, await phone.request(link), /\/password\/reset$/, { password: 'chosen on the phone 31' });
      expect(done.status).to.equal(200);
      expect(done.url).to.not.contain('/interaction/');
      expect(done.body).to.contain('Password changed').and.contain('Your password was changed');
      expect(done.body).to.contain(`Continue to <bdi>${client.client_name}</bdi>`);
      expect(done.body).to.not.contain('expired');

      // The laptop, still on its sign-in, signs in with the new password.
      const back = await laptop.follow(`${server.url}/interaction/${uid}`);
      const signedIn = await submitSignIn(laptop, back, email, 'chosen on the phone 31');
      expect(signedIn.url.startsWith(RP_CALLBACK)).to.equal(true);
    });

    it('clears a lockout', async () => {
      const email = uniqueEmail('locked');
      const user = await createUser(server.deps, { email, password: 'old password for locked' });
      for (let i = 0; i < 5; i++) await authenticate(server.deps.signInDeps, { email, password: 'wrong guess!!' });
      expect((await authenticate(server.deps.signInDeps, { email, password: 'old password for locked' })).ok).to.equal(false);
      await forgot(new Agent(), email);
      const agent = new Agent();
      const form = await agent.request(smtp.linkIn(await mailTo(email, /reset/i)));
      await submit(agent, form, /\/password\/reset$/, { password: 'unlocked new password 7' });
      expect((await authenticate(server.deps.signInDeps, { email, password: 'unlocked new password 7' })).ok).to.equal(true);
      expect(await server.deps.lockout.state(`account:${user._id}`)).to.equal(null);
    });

    it('a newer link supersedes the older one; expired and unknown links get a clear page', async () => {
      const email = uniqueEmail('supersede');
      const user = await createUser(server.deps, { email, password: 'old password for supersede' });
      await forgot(new Agent(), email);
      const older = smtp.linkIn(await mailTo(email, /reset/i));
      smtp.clear();
      await forgot(new Agent(), email);
      const newer = smtp.linkIn(await mailTo(email, /reset/i));
      expect(newer).to.not.equal(older);
      expect((await new Agent().request(older)).status).to.be.oneOf([404, 410]);
      expect((await new Agent().request(newer)).status).to.equal(200);

      await server.database.connection.collection('one_time_links').updateMany({ userId: user._id }, { $set: { expiresAt: new Date(Date.now() - 1000) } });
      const expired = await new Agent().request(newer);
      expect(expired.status).to.equal(410);
      expect(expired.body).to.contain('This link has expired').and.contain('Send me a fresh link');

      const unknown = await new Agent().request(`${server.url}/password/reset?token=${'A'.repeat(43)}`);
      expect(unknown.status).to.equal(404);
      expect(unknown.body).to.contain('Ask for a new link');
    });

    it('a fresh link can be asked for from the expired-link page', async () => {
      const email = uniqueEmail('fresh');
      const user = await createUser(server.deps, { email, password: 'old password for fresh' });
      await forgot(new Agent(), email);
      const link = smtp.linkIn(await mailTo(email, /reset/i));
      await server.database.connection.collection('one_time_links').updateMany({ userId: user._id }, { $set: { expiresAt: new Date(Date.now() - 1000) } });
      smtp.clear();
      const agent = new Agent();
      const page = await agent.request(link);
      const answer = await submit(agent, page, /\/password\/resend$/, {});
      expect(answer.status).to.equal(200);
      const fresh = smtp.linkIn(await mailTo(email, /reset/i));
      expect(fresh).to.not.equal(link);
      expect((await new Agent().request(fresh)).status).to.equal(200);
    });

    it('limits requests per email per hour, for unknown emails too', async () => {
      for (const email of [uniqueEmail('limit'), 'limit-nobody@example.com']) {
        if (!email.startsWith('limit-nobody')) await createUser(server.deps, { email, password: 'old password for limits' });
        for (let i = 0; i < 3; i++) expect((await forgot(new Agent(), email)).status).to.equal(200);
        const limited = await forgot(new Agent(), email);
        expect(limited.status).to.equal(429);
        expect(Number(limited.headers.get('retry-after'))).to.be.within(1, 3600);
      }
    });

    it('20 concurrent redemptions of one link: exactly one wins', async () => {
      const email = uniqueEmail('race');
      const user = await createUser(server.deps, { email, password: 'old password for race' });
      const { token } = await server.deps.links.issue(user._id, 'reset');
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) =>
        setPasswordWithLink(server.deps.passwords, 'reset', token, `concurrent password number ${i}`)));
      const winners = results.filter((r) => r.ok);
      expect(winners).to.have.length(1);
      expect(results.filter((r) => !r.ok && r.state === 'used')).to.have.length(19);
      const winner = results.indexOf(winners[0]!);
      expect((await authenticate(server.deps.signInDeps, { email, password: `concurrent password number ${winner}` })).ok).to.equal(true);
    });

    it('20 concurrent POSTs of the reset form: exactly one succeeds', async () => {
      const email = uniqueEmail('race-http');
      const user = await createUser(server.deps, { email, password: 'old password for race http' });
      const { token } = await server.deps.links.issue(user._id, 'reset');
      const agent = new Agent();
      const page = await agent.request(`${server.url}/password/reset?token=${token}`);
      const form = formOn(page.body, /\/password\/reset$/);
      const pages = await Promise.all(Array.from({ length: 20 }, (_, i) =>
        agent.request(new URL(form.action, page.url).href, { form: { ...form.fields, password: `http race password ${i}` } })));
      expect(pages.filter((p) => p.status === 200)).to.have.length(1);
      expect(pages.filter((p) => p.status === 410)).to.have.length(19);
    });
  });

  describe('forced change on first sign-in', () => {
    async function temporaryUser(temporary: string) {
      const email = uniqueEmail('temp');
      const user = await createUser(server.deps, { email, password: 'initial password placeholder' });
      await setTemporaryPassword({ ...server.deps.passwords, temporaryPasswordMs: 7 * 86_400_000 }, user, temporary);
      return { email, user };
    }

    it('shows the change page before any token, and continues to the app after a valid new password', async () => {
      const temporary = 'temporary handed out 1';
      const { email } = await temporaryUser(temporary);
      const agent = new Agent();
      const change = await submitSignIn(agent, await openSignIn(agent, await startAuthorization(config)), email, temporary);
      expect(change.status).to.equal(200);
      expect(change.url.startsWith(RP_CALLBACK)).to.equal(false);
      expect(change.body).to.contain('Choose a new password').and.contain('autocomplete="new-password"');

      const same = await submit(agent, change, /\/change-password$/, { password: temporary });
      expect(same.status).to.equal(400);
      expect(same.body).to.contain('not used recently');
      const weak = await submit(agent, same, /\/change-password$/, { password: 'password1' });
      expect(weak.status).to.equal(400);

      const done = await submit(agent, weak, /\/change-password$/, { password: 'my own chosen password 9' });
      expect(done.url.startsWith(RP_CALLBACK)).to.equal(true);
      expect((await authenticate(server.deps.signInDeps, { email, password: 'my own chosen password 9' })).ok).to.equal(true);
      expect((await authenticate(server.deps.signInDeps, { email, password: temporary })).ok).to.equal(false);
    });

    it('cannot be got around: going back, another app, cancel, or the token endpoint', async () => {
      const temporary = 'temporary handed out 2';
      const { email } = await temporaryUser(temporary);
      const agent = new Agent();
      const authorization = await startAuthorization(config);
      const change = await submitSignIn(agent, await openSignIn(agent, authorization), email, temporary);
      expect(change.body).to.contain('Choose a new password');

      // Back to the interaction: still the sign-in page, not a session.
      const uid = /\/interaction\/([\w-]+)\/change-password/.exec(change.body)![1];
      const back = await agent.request(`${server.url}/interaction/${uid}`);
      expect(back.body).to.contain('autocomplete="current-password"');

      // Another app in the same browser: no session there either, and the temporary password leads to the change page again.
      const otherConfig = await discover(server.url, invitingApp);
      const other = await openSignIn(agent, await startAuthorization(otherConfig, { redirect_uri: RP_CALLBACK }));
      expect(other.url.startsWith(RP_CALLBACK)).to.equal(false);
      const otherChange = await submitSignIn(agent, other, email, temporary);
      expect(otherChange.body).to.contain('Choose a new password');

      // Cancel: the app hears access_denied, and has no code to exchange.
      const cancelled = await submit(agent, otherChange, /\/abort$/, {});
      expect(new URL(cancelled.url).searchParams.get('error')).to.equal('access_denied');
      expect(new URL(cancelled.url).searchParams.get('code')).to.equal(null);

      // The token endpoint has nothing to give: no session, so no code was ever issued for this account.
      const accountId = (await server.deps.users.findOne({ email }).lean())!._id;
      const db = server.database.connection;
      expect(await db.collection('oidc_session').countDocuments({ 'payload.accountId': accountId })).to.equal(0);
      expect(await db.collection('oidc_authorization_code').countDocuments({ 'payload.accountId': accountId })).to.equal(0);
      const exchange = await fetch(`${server.url}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'authorization_code', code: 'made-up', client_id: client.client_id, redirect_uri: RP_CALLBACK, code_verifier: authorization.verifier }),
      });
      expect(exchange.status).to.equal(400);
      expect(((await exchange.json()) as { error: string }).error).to.equal('invalid_grant');
    });

    it('an expired temporary password guides to the forgot-password path', async () => {
      const temporary = 'temporary handed out 3';
      const { email, user } = await temporaryUser(temporary);
      await server.deps.users.updateOne({ _id: user._id }, { $set: { temporaryPasswordExpiresAt: new Date(Date.now() - 1000) } });
      const agent = new Agent();
      const page = await submitSignIn(agent, await openSignIn(agent, await startAuthorization(config)), email, temporary);
      expect(page.status).to.equal(401);
      expect(page.body).to.contain('temporary password has expired').and.contain('/password/forgot');
    });
  });

  describe('pre-registration', () => {
    it('invites by email; the account cannot sign in until the person chooses a password', async () => {
      const email = uniqueEmail('invite');
      await inviteUser(server.deps.passwords, { email, name: 'Invited Person' });
      const stored = await server.deps.users.findOne({ email }).lean();
      expect(stored!.status).to.equal('invited');
      expect(stored!.passwordHash).to.equal(null);

      const agent = new Agent();
      const attempt = await submitSignIn(agent, await openSignIn(agent, await startAuthorization(config)), email, 'any password at all');
      expect(attempt.status).to.equal(401);
      expect(attempt.body).to.contain(FAILED);

      const mail = await mailTo(email, /invit/i);
      const link = smtp.linkIn(mail);
      expect(link).to.match(/\/password\/set\?token=/);
      const page = await agent.request(link);
      expect(page.body).to.contain('Choose your password');
      const weak = await submit(agent, page, /\/password\/set$/, { password: 'invited' });
      expect(weak.status).to.equal(400);
      const done = await submit(agent, weak, /\/password\/set$/, { password: 'my first real password' });
      expect(done.status).to.equal(200);
      expect(done.body).to.contain('Account ready');

      const active = await server.deps.users.findOne({ email }).lean();
      expect(active!.status).to.equal('active');
      expect(active!.emailVerified).to.equal(true);
      const { tokens } = await signIn(config, new Agent(), email, 'my first real password');
      expect(tokens.claims()!.sub).to.equal(active!._id);
    });

    it('an invite that named an app continues straight to it', async () => {
      const email = uniqueEmail('invite-app');
      await inviteUser(server.deps.passwords, { email, clientId: invitingApp.client_id, appName: 'Inviting App' });
      const link = smtp.linkIn(await mailTo(email, /invit/i));
      const agent = new Agent();
      const page = await agent.request(link);
      const form = formOn(page.body, /\/password\/set$/);
      const result = await agent.request(new URL(form.action, page.url).href, { form: { ...form.fields, password: 'going straight to the app' } });
      expect(result.status).to.equal(303);
      expect(result.headers.get('location')).to.equal('https://app.example/login');
    });

    it('an expired invitation can be sent again from its page', async () => {
      const email = uniqueEmail('invite-expired');
      const user = await inviteUser(server.deps.passwords, { email });
      const link = smtp.linkIn(await mailTo(email, /invit/i));
      await server.database.connection.collection('one_time_links').updateMany({ userId: user._id }, { $set: { expiresAt: new Date(Date.now() - 1000) } });
      smtp.clear();
      const agent = new Agent();
      const page = await agent.request(link);
      expect(page.status).to.equal(410);
      await submit(agent, page, /\/password\/resend$/, {});
      const fresh = smtp.linkIn(await mailTo(email, /invit/i));
      expect(fresh).to.match(/\/password\/set\?token=/).and.not.equal(link);
    });

    it('forgot password on an invited account sends the invitation again', async () => {
      const email = uniqueEmail('invite-forgot');
      await inviteUser(server.deps.passwords, { email });
      await mailTo(email, /invit/i);
      smtp.clear();
      await forgot(new Agent(), email);
      expect(smtp.linkIn(await mailTo(email, /invit/i))).to.match(/\/password\/set\?token=/);
    });
  });

  describe('self sign-up', () => {
    async function signupFrom(agent: Agent, fields: Record<string, string>) {
      const login = await openSignIn(agent, await startAuthorization(config));
      const uid = /\/interaction\/([\w-]+)\/login/.exec(login.body)![1]!;
      expect(login.body).to.contain(`/signup?interaction=${uid}`);
      const page = await agent.request(`${server.url}/signup?interaction=${uid}`);
      return { uid, result: await submit(agent, page, /\/signup$/, fields) };
    }

    it('creates an account that signs in only after the email is confirmed, then returns to the app', async () => {
      const email = uniqueEmail('signup');
      const agent = new Agent();
      const { uid, result } = await signupFrom(agent, { email, name: 'New Person', password: 'signing up properly 12' });
      expect(result.status).to.equal(200);
      expect(result.body).to.contain('Check your email');

      expect((await authenticate(server.deps.signInDeps, { email, password: 'signing up properly 12' })).ok, 'not before verification').to.equal(false);

      const link = smtp.linkIn(await mailTo(email, /confirm|verify/i));
      const confirm = await agent.request(link);
      expect(confirm.status).to.equal(200);
      expect((await agent.request(link)).status, 'GET does not use the link').to.equal(200);
      const back = await submit(agent, confirm, /\/email\/verify$/, {});
      expect(back.url).to.contain(`/interaction/${uid}`);
      expect(back.body).to.contain('Your email address is confirmed');
      const done = await submitSignIn(agent, back, email, 'signing up properly 12');
      expect(done.url.startsWith(RP_CALLBACK)).to.equal(true);
    });

    it('confirmed on another device: says so with a way back to the app; the first browser still returns to its sign-in', async () => {
      const email = uniqueEmail('signup-two-devices');
      const laptop = new Agent();
      const { uid } = await signupFrom(laptop, { email, name: 'Two Devices', password: 'signing up on a laptop 5' });
      const link = smtp.linkIn(await mailTo(email, /confirm|verify/i));
      const phone = new Agent();
      const done = await submit(phone, await phone.request(link), /\/email\/verify$/, {});
      expect(done.status).to.equal(200);
      expect(done.url).to.not.contain('/interaction/');
      expect(done.body).to.contain('Your email address is confirmed').and.contain(`Continue to <bdi>${client.client_name}</bdi>`);
      const signedIn = await submitSignIn(laptop, await laptop.follow(`${server.url}/interaction/${uid}`), email, 'signing up on a laptop 5');
      expect(signedIn.url.startsWith(RP_CALLBACK)).to.equal(true);
    });

    it('answers the same for an email that already has an account, and tells its owner by email', async () => {
      const email = uniqueEmail('signup-existing');
      await createUser(server.deps, { email, password: 'the owner password 77' });
      const { result } = await signupFrom(new Agent(), { email, name: 'Someone Else', password: 'a different password 12' });
      expect(result.status).to.equal(200);
      expect(result.body).to.contain('Check your email');
      expect(await server.deps.users.countDocuments({ emailNormalized: email })).to.equal(1);
      await mailTo(email, /already/i);
      expect((await authenticate(server.deps.signInDeps, { email, password: 'the owner password 77' })).ok).to.equal(true);
    });

    it('applies the password policy', async () => {
      const email = uniqueEmail('signup-weak');
      for (const password of ['short', 'password123', `${email.split('@')[0]}!x`]) {
        const { result } = await signupFrom(new Agent(), { email, name: 'Weak Person', password });
        expect(result.status, password).to.equal(400);
      }
      expect(await server.deps.users.countDocuments({ emailNormalized: email })).to.equal(0);
    });
  });

  it('/.well-known/change-password leads to where a password is changed', async () => {
    const response = await fetch(`${server.url}/.well-known/change-password`, { redirect: 'manual' });
    expect(response.status).to.equal(302);
    expect(response.headers.get('location')).to.equal('/account/password');
  });

  it('bad input on the new forms: 4xx, nothing stored', async () => {
    const users = await server.deps.users.countDocuments();
    const agent = new Agent();
    const forgotPage = await agent.request(`${server.url}/password/forgot`);
    const csrf = formOn(forgotPage.body, /\/password\/forgot$/).fields._csrf!;
    const attempts: Array<[string, string, number]> = [
      ['/password/forgot', `_csrf=${csrf}&email[$ne]=x`, 400],
      ['/password/forgot', `_csrf=${csrf}&email=not-an-email`, 400],
      ['/password/forgot', `email=a%40example.com`, 403],
      ['/password/reset', `_csrf=${csrf}&token[$ne]=x&password=whatever%20long%20enough`, 404],
      ['/password/reset', `_csrf=${csrf}&token=${'A'.repeat(43)}&password[$gt]=`, 404],
      ['/password/set', `_csrf=${csrf}&password=x`, 404],
      ['/password/resend', `_csrf=${csrf}&token[$ne]=`, 200],
      ['/signup', `_csrf=${csrf}&email[$ne]=x&name=a&password=b`, 400],
      ['/signup', `_csrf=${csrf}&email=a%40example.com&name=${'n'.repeat(300)}&password=long%20enough%20password%202`, 400],
      ['/email/verify', `_csrf=${csrf}&token[$ne]=x`, 404],
    ];
    for (const [path, body, status] of attempts) {
      const page = await agent.request(`${server.url}${path}`, { form: body });
      expect(page.status, `${path} ${body}`).to.equal(status);
      expect(page.body).to.not.match(/\bat \S+ \(|node_modules/);
    }
    const json = await agent.request(`${server.url}/password/forgot`, { method: 'POST', body: '{"email":"a@example.com"}', headers: { 'content-type': 'application/json' } });
    expect(json.status).to.equal(415);
    expect(await server.deps.users.countDocuments()).to.equal(users);
  });
});
