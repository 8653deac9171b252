// The account portal at /account, end to end: its own sign-in through the
// provider, profile (returned as OIDC claims), password change, connected apps,
// sign out everywhere, activity, sign-out, and bad input on every form.
// Real server, real database, real SMTP server, openid-client as the apps.
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import * as oidc from 'openid-client';
import type { ParsedMail } from 'mailparser';
import { createUser } from '../../src/accounts/users.ts';
import { authenticate } from '../../src/accounts/signin.ts';
import { PORTAL_SESSIONS } from '../../src/accounts/revocation.ts';
import { safeReturn } from '../../src/web/account/session.ts';
import { LENIENT_THROTTLES, useTestServer } from '../helpers/server.ts';
import { Agent, formOn, type Page } from '../helpers/agent.ts';
import { confidentialClient, discover, publicClient, signIn } from '../helpers/rp.ts';

const app = publicClient();
const backend = confidentialClient({ client_name: 'Test Backend' });
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0';


function expectNoInternals(page: Page) {
  expect(page.status, page.body.slice(0, 300)).to.be.within(400, 499);
  expect(page.body).to.not.match(/\bat \S+ \(|node_modules|\.ts:\d+|Error:/);
}

describe('account portal', () => {
  const { server, smtp } = useTestServer({ clients: [app, backend], smtp: true, policy: LENIENT_THROTTLES });
  let appConfig: oidc.Configuration;
  let backendConfig: oidc.Configuration;
  let counter = 0;

  before(async () => {
    appConfig = await discover(server.url, app);
    backendConfig = await discover(server.url, backend);
  });

  const db = () => server.database.connection;
  const url = (path: string) => `${server.url}${path}`;

  async function newPerson(tag: string, name = 'Portal Person') {
    const email = `${tag}-${++counter}@example.com`;
    const password = `quiet harbour lantern ${counter}`;
    const user = await createUser(server.deps, { email, password, name });
    return { email, password, user };
  }

  /** Submits the provider's sign-in form on `page` and follows everything to the end. */
  async function submitSignInForm(agent: Agent, page: Page, email: string, password: string): Promise<Page> {
    const form = formOn(page.body, /\/login$/);
    return agent.follow(new URL(form.action, page.url).href, { form: { ...form.fields, email, password } });
  }

  /** A browser signed in to the portal: GET /account → sign-in → callback → /account. */
  async function portalAgent(email: string, password: string, headers: Record<string, string> = {}): Promise<Agent> {
    const agent = new Agent(headers);
    const login = await agent.follow(url('/account'));
    expect(login.body, 'the provider\'s sign-in page').to.contain('autocomplete="current-password"');
    const home = await submitSignInForm(agent, login, email, password);
    expect(home.status, home.body.slice(0, 500)).to.equal(200);
    expect(home.url).to.equal(url('/account'));
    return agent;
  }

  /** GETs `page`, fills its form posting to `action` and sends it; the response itself, not followed. */
  async function post(agent: Agent, page: string, action: RegExp, fields: Record<string, string>): Promise<Page> {
    const shown = await agent.request(url(page));
    expect(shown.status, `GET ${page}`).to.equal(200);
    const form = formOn(shown.body, action);
    return agent.request(new URL(form.action, shown.url).href, { form: { ...form.fields, ...fields } });
  }

  const refreshFails = async (config: oidc.Configuration, refreshToken: string) =>
    (await oidc.refreshTokenGrant(config, refreshToken).catch((e: Error) => e)) instanceof oidc.ResponseBodyError;

  describe('portal session', () => {
    it('sends a visitor to the sign-in and back to the page asked for; the cookie holds an id whose hash only is stored', async () => {
      const { email, password, user } = await newPerson('session');
      const agent = new Agent();
      const first = await agent.request(url('/account/activity?x=1'));
      expect(first.status).to.equal(302);
      expect(first.headers.get('location')).to.equal('/account/login?return=%2Faccount%2Factivity%3Fx%3D1');
      const login = await agent.follow(url('/account/activity?x=1'));
      expect(login.url).to.match(/\/interaction\/[\w-]+$/);
      const back = await submitSignInForm(agent, login, email, password);
      expect(back.url).to.equal(url('/account/activity?x=1'));
      expect(back.body).to.contain('Recent activity');

      const id = agent.cookies.get('lk_account')!;
      expect(id).to.match(/^[\w-]{43}$/);
      const docs = await db().collection(PORTAL_SESSIONS).find({ accountId: user._id }).toArray();
      expect(docs).to.have.length(1);
      const doc = docs[0]!;
      expect(doc._id).to.equal(createHash('sha256').update(id).digest('hex'));
      expect(JSON.stringify(doc)).to.not.contain(id);
      expect(doc.expiresAt.getTime() - doc.createdAt.getTime()).to.equal(12 * 3_600_000);
      expect(doc.idToken).to.be.a('string');
      // The provider session this sign-in belongs to, for "sign out my other devices".
      expect(await db().collection('oidc_session').countDocuments({ 'payload.uid': doc.sid, 'payload.accountId': user._id })).to.equal(1);

      // A new sign-in page is not needed while the portal session lasts; the provider session signs in again without a form.
      expect((await agent.request(url('/account/login?return=/account/profile'))).headers.get('location')).to.equal('/account/profile');
      const other = await agent.follow(url('/account/callback?code=x&state=y'));
      expect(other.status).to.equal(400);
    });

    it('sets the session cookie signed, HttpOnly and SameSite=Lax, and refuses expired sessions', async () => {
      const { email, password, user } = await newPerson('cookie');
      const agent = new Agent();
      const login = await agent.follow(url('/account'));
      const form = formOn(login.body, /\/login$/);
      let page = await agent.request(new URL(form.action, login.url).href, { form: { ...form.fields, email, password } });
      let setCookie = '';
      for (let hops = 0; page.status >= 300 && page.status < 400 && hops < 10; hops++) {
        const cookies = page.headers.getSetCookie().filter((line) => line.startsWith('lk_account='));
        if (cookies.length) setCookie = cookies[0]!;
        page = await agent.request(new URL(page.headers.get('location')!, page.url).href);
      }
      expect(setCookie).to.match(/httponly/i).and.match(/samesite=lax/i).and.match(/path=\/account/i);
      expect(agent.cookies.get('lk_account.sig')).to.be.a('string');

      await db().collection(PORTAL_SESSIONS).updateMany({ accountId: user._id }, { $set: { expiresAt: new Date(Date.now() - 1000) } });
      const expired = await agent.request(url('/account'));
      expect(expired.status).to.equal(302);
      expect(expired.headers.get('location')).to.match(/^\/account\/login/);

      // A forged cookie (unsigned) is not a session.
      const forged = new Agent();
      forged.cookies.set('lk_account', agent.cookies.get('lk_account')!);
      expect((await forged.request(url('/account'))).status).to.equal(302);
    });

    it('returns only to same-origin paths under /account', () => {
      expect(safeReturn('/account/profile')).to.equal('/account/profile');
      expect(safeReturn('/account?notice=x')).to.equal('/account?notice=x');
      for (const bad of ['https://evil.example/account', '//evil.example/account', '/\\evil.example', '/accounting', '/account/../admin',
        '/account/%2e%2e/admin', '/account/login', '/account/callback', '/interaction/x', ['/account'], { $ne: 1 }, '/account\n/x']) {
        expect(safeReturn(bad), JSON.stringify(bad)).to.equal('/account');
      }
    });

    it('a disabled account loses its portal session', async () => {
      const { email, password, user } = await newPerson('disabled');
      const agent = await portalAgent(email, password);
      await db().collection('users').updateOne({ _id: user._id as never }, { $set: { status: 'disabled' } });
      const page = await agent.request(url('/account'));
      expect(page.status).to.equal(302);
      expect(await db().collection(PORTAL_SESSIONS).countDocuments({ accountId: user._id })).to.equal(0);
    });

    it('signs out through the provider: the portal session and the provider session end', async () => {
      const { email, password, user } = await newPerson('logout');
      const agent = await portalAgent(email, password);
      const out = await post(agent, '/account', /\/account\/logout$/, {});
      expect(out.status).to.equal(303);
      const endSession = new URL(out.headers.get('location')!);
      expect(endSession.pathname).to.equal('/session/end');
      expect(endSession.searchParams.get('post_logout_redirect_uri')).to.equal(url('/account/signed-out'));
      expect(endSession.searchParams.get('id_token_hint')).to.be.a('string');
      expect(await db().collection(PORTAL_SESSIONS).countDocuments({ accountId: user._id })).to.equal(0);

      const confirm = await agent.follow(endSession.href);
      expect(confirm.body).to.contain('Sign out?');
      const form = formOn(confirm.body, /\/session\/end\/confirm$/);
      const done = await agent.follow(new URL(form.action, confirm.url).href, { form: { ...form.fields, logout: 'yes' } });
      expect(done.url).to.equal(url('/account/signed-out'));
      expect(done.body).to.contain('You are signed out');
      expect(await db().collection('oidc_session').countDocuments({ 'payload.accountId': user._id })).to.equal(0);

      // Signing in again asks for the password: no session is left anywhere.
      const again = await agent.follow(url('/account'));
      expect(again.body).to.contain('autocomplete="current-password"');
    });
  });

  describe('profile', () => {
    it('stores name, language, phone and address, and apps receive them as claims', async () => {
      const { email, password } = await newPerson('profile', 'Old Name');
      const agent = await portalAgent(email, password);
      const shown = await agent.request(url('/account/profile'));
      for (const attribute of ['autocomplete="name"', 'autocomplete="tel"', 'autocomplete="street-address"', 'autocomplete="address-level2"',
        'autocomplete="address-level1"', 'autocomplete="postal-code"', 'autocomplete="country-name"']) {
        expect(shown.body).to.contain(attribute);
      }
      expect(shown.body).to.contain('value="Old Name"');

      const saved = await post(agent, '/account/profile', /\/account\/profile$/, {
        name: '  Ada Lovelace ', locale: 'en-GB', phoneNumber: '+44 20 7946 0958',
        'address[street_address]': '12 St James’s Square', 'address[locality]': 'London', 'address[region]': '',
        'address[postal_code]': 'SW1Y 4JH', 'address[country]': 'United Kingdom',
      });
      expect(saved.status).to.equal(303);
      expect(saved.headers.get('location')).to.equal('/account/profile?notice=profile_saved');
      const after = await agent.request(url(saved.headers.get('location')!));
      expect(after.body).to.contain('Your profile was saved').and.contain('value="Ada Lovelace"').and.contain('value="+442079460958"');

      const { tokens } = await signIn(appConfig, new Agent(), email, password, { scope: 'openid profile phone address' });
      const info = await oidc.fetchUserInfo(appConfig, tokens.access_token, tokens.claims()!.sub);
      expect(info.name).to.equal('Ada Lovelace');
      expect(info.locale).to.equal('en-GB');
      expect(info.phone_number).to.equal('+442079460958');
      expect(info.phone_number_verified).to.equal(false);
      expect(info.address).to.include({ street_address: '12 St James’s Square', locality: 'London', postal_code: 'SW1Y 4JH', country: 'United Kingdom' });
      expect((info.address as { region?: string | null }).region ?? null, 'an empty field has no value').to.equal(null);

      // Clearing the optional fields removes them.
      await post(agent, '/account/profile', /\/account\/profile$/, {
        name: 'Ada', locale: '', phoneNumber: '', 'address[street_address]': '', 'address[locality]': '', 'address[region]': '', 'address[postal_code]': '', 'address[country]': '',
      });
      const cleared = await oidc.fetchUserInfo(appConfig, tokens.access_token, tokens.claims()!.sub);
      expect(cleared).to.not.have.any.keys('locale', 'phone_number', 'address');
    });

    it('re-renders with errors beside the fields and keeps what was typed', async () => {
      const { email, password, user } = await newPerson('profile-errors');
      const agent = await portalAgent(email, password);
      const page = await post(agent, '/account/profile', /\/account\/profile$/, {
        name: 'Kept Name', locale: 'not a language', phoneNumber: '0123', 'address[postal_code]': 'x'.repeat(21),
      });
      expect(page.status).to.equal(400);
      expect(page.body).to.contain('id="locale-error"').and.contain('Use a language tag');
      expect(page.body).to.contain('id="phoneNumber-error"').and.contain('international format');
      expect(page.body).to.contain('Use at most 20 characters');
      expect(page.body).to.contain('value="Kept Name"');
      expect((await db().collection('users').findOne({ _id: user._id as never }))!.name).to.equal('Portal Person');
    });
  });

  describe('password', () => {
    it('wrong current password and policy failures are 400s beside their fields; success works, mails a notice and signs out the other devices', async () => {
      const { email, password, user } = await newPerson('password');
      const agent = await portalAgent(email, password, { 'user-agent': FIREFOX });
      const shown = await agent.request(url('/account/password'));
      expect(shown.body).to.contain('autocomplete="current-password"').and.contain('autocomplete="new-password"');
      expect(shown.body).to.match(/<input[^>]*name="signOutOthers"[^>]*checked/);
      expect(shown.body).to.contain('At least 8 characters');

      const elsewhere = await signIn(appConfig, new Agent(), email, password, { scope: 'openid offline_access' });
      const newPassword = 'a freshly chosen passphrase 31';

      const wrong = await post(agent, '/account/password', /\/account\/password$/, { currentPassword: 'not it at all', password: newPassword, signOutOthers: 'yes' });
      expect(wrong.status).to.equal(400);
      expect(wrong.body).to.match(/id="currentPassword-error"[^>]*>That is not your current password/);
      const weak = await post(agent, '/account/password', /\/account\/password$/, { currentPassword: password, password: 'password1', signOutOthers: 'yes' });
      expect(weak.status).to.equal(400);
      expect(weak.body).to.contain('id="password-error"');
      const same = await post(agent, '/account/password', /\/account\/password$/, { currentPassword: password, password, signOutOthers: 'yes' });
      expect(same.status).to.equal(400);
      expect((await authenticate(server.deps.signInDeps, { email, password })).ok, 'unchanged after 400s').to.equal(true);

      const done = await post(agent, '/account/password', /\/account\/password$/, { currentPassword: password, password: newPassword, signOutOthers: 'yes' });
      expect(done.status).to.equal(303);
      expect(done.headers.get('location')).to.equal('/account/password?notice=password_changed_signed_out');
      expect((await authenticate(server.deps.signInDeps, { email, password: newPassword })).ok).to.equal(true);
      expect((await authenticate(server.deps.signInDeps, { email, password })).ok).to.equal(false);

      const notice = await smtp.waitFor((m: ParsedMail) => (m.to as { text: string }).text.includes(email) && /changed/i.test(m.subject ?? ''));
      expect(notice.text).to.not.contain(newPassword);

      expect(await refreshFails(appConfig, elsewhere.tokens.refresh_token!), 'the other device\'s refresh token').to.equal(true);
      const still = await agent.request(url('/account/password?notice=password_changed_signed_out'));
      expect(still.status, 'this portal session stays').to.equal(200);
      expect(still.body).to.contain('your other devices were signed out');
      // So does this browser's provider session: an app signs in without the form.
      const session = await db().collection(PORTAL_SESSIONS).findOne({ accountId: user._id });
      expect(await db().collection('oidc_session').countDocuments({ 'payload.accountId': user._id })).to.equal(1);
      expect(await db().collection('oidc_session').countDocuments({ 'payload.uid': session!.sid })).to.equal(1);

      // Without the checkbox the other devices stay signed in.
      const second = await signIn(appConfig, new Agent(), email, newPassword, { scope: 'openid offline_access' });
      const kept = await post(agent, '/account/password', /\/account\/password$/, { currentPassword: newPassword, password: 'yet another chosen passphrase 47' });
      expect(kept.status).to.equal(303);
      expect(kept.headers.get('location')).to.equal('/account/password?notice=password_changed');
      expect(await refreshFails(appConfig, second.tokens.refresh_token!)).to.equal(false);
    });

    it('a locked account gets the same message as a wrong password', async () => {
      const { email, password } = await newPerson('password-locked');
      const agent = await portalAgent(email, password);
      for (let i = 0; i < 5; i++) {
        const page = await post(agent, '/account/password', /\/account\/password$/, { currentPassword: `wrong guess ${i}`, password: 'a new password for locked 5' });
        expect(page.status).to.equal(400);
      }
      const locked = await post(agent, '/account/password', /\/account\/password$/, { currentPassword: password, password: 'a new password for locked 5' });
      expect(locked.status).to.equal(400);
      expect(locked.body).to.contain('That is not your current password, or the account is temporarily locked');
      expect((await authenticate(server.deps.signInDeps, { email, password: 'a new password for locked 5' })).ok).to.equal(false);
    });
  });

  describe('connected apps', () => {
    it('lists the apps signed in to (not the portal), and revoking one ends its refresh and access tokens only', async () => {
      const { email, password, user } = await newPerson('apps');
      const agent = await portalAgent(email, password);
      const elsewhere = new Agent();
      const fromApp = await signIn(appConfig, elsewhere, email, password, { scope: 'openid email offline_access' });
      const fromBackend = await signIn(backendConfig, elsewhere, email, password, { scope: 'openid profile offline_access' });

      const list = await agent.request(url('/account/apps'));
      expect(list.body).to.contain('<h2><bdi>Test App</bdi></h2>').and.contain('<h2><bdi>Test Backend</bdi></h2>').and.not.contain('<bdi>Your account</bdi>');
      expect(list.body).to.contain('See your email address').and.contain('See your name and language');
      expect(list.body).to.contain('Allowed since');
      expect(list.body).to.contain('Sign out everywhere');

      const grants = await db().collection('oidc_grant').find({ 'payload.accountId': user._id, 'payload.clientId': backend.client_id }).toArray();
      expect(grants).to.have.length(1);
      expect(list.body).to.contain(`value="${grants[0]!._id}"`);
      const revoked = await post(agent, '/account/apps', /\/account\/apps\/revoke$/, { grantId: grants[0]!._id as unknown as string });
      expect(revoked.status).to.equal(303);
      expect(revoked.headers.get('location')).to.equal('/account/apps?notice=app_revoked');
      const after = await agent.request(url('/account/apps?notice=app_revoked'));
      expect(after.body).to.contain('access was removed').and.contain('Test App').and.not.contain('Test Backend');

      expect(await refreshFails(backendConfig, fromBackend.tokens.refresh_token!)).to.equal(true);
      const introspection = await oidc.tokenIntrospection(backendConfig, fromBackend.tokens.access_token);
      expect(introspection.active).to.equal(false);
      expect(await refreshFails(appConfig, fromApp.tokens.refresh_token!), 'the other app keeps its access').to.equal(false);
      expect((await server.deps.audit.list({ userId: user._id, events: ['grant.revoked'] }))[0]!.details.clientId).to.equal(backend.client_id);
    });

    it('someone else\'s grant, or one already revoked, is a 404', async () => {
      const owner = await newPerson('apps-owner');
      const other = await newPerson('apps-other');
      await signIn(appConfig, new Agent(), owner.email, owner.password);
      const ownerGrant = (await db().collection('oidc_grant').findOne({ 'payload.accountId': owner.user._id }))!;
      const agent = await portalAgent(other.email, other.password);
      const page = await agent.request(url('/account/apps'));
      expect(page.body).to.contain('No apps are connected');
      const csrf = /name="_csrf" value="([^"]+)"/.exec(page.body)![1]!;
      const foreign = await agent.request(url('/account/apps/revoke'), { form: { _csrf: csrf, grantId: ownerGrant._id as unknown as string } });
      expect(foreign.status).to.equal(404);
      expect(foreign.body).to.contain('App not found');
      expectNoInternals(foreign);
      expect(await db().collection('oidc_grant').countDocuments({ _id: ownerGrant._id })).to.equal(1);
      // The portal's own grant is not on the list, nor revocable from it.
      const portalGrant = (await db().collection('oidc_grant').findOne({ 'payload.accountId': other.user._id, 'payload.clientId': 'latchkey-account' }))!;
      expect((await agent.request(url('/account/apps/revoke'), { form: { _csrf: csrf, grantId: portalGrant._id as unknown as string } })).status).to.equal(404);
    });
  });

  describe('sign out everywhere', () => {
    it('ends every app\'s tokens, every session and this portal session', async () => {
      const { email, password, user } = await newPerson('everywhere');
      const agent = await portalAgent(email, password);
      const fromApp = await signIn(appConfig, new Agent(), email, password, { scope: 'openid offline_access' });
      const fromBackend = await signIn(backendConfig, new Agent(), email, password, { scope: 'openid offline_access' });
      const overview = await agent.request(url('/account'));
      expect(overview.body).to.contain('Signs you out of every app and every browser');

      const out = await post(agent, '/account', /\/account\/sign-out-everywhere$/, {});
      expect(out.status).to.equal(303);
      expect(out.headers.get('location')).to.equal('/account/signed-out');
      expect((await agent.request(url('/account/signed-out'))).body).to.contain('You are signed out');

      expect(await refreshFails(appConfig, fromApp.tokens.refresh_token!)).to.equal(true);
      expect(await refreshFails(backendConfig, fromBackend.tokens.refresh_token!)).to.equal(true);
      expect(await db().collection(PORTAL_SESSIONS).countDocuments({ accountId: user._id })).to.equal(0);
      expect(await db().collection('oidc_session').countDocuments({ 'payload.accountId': user._id })).to.equal(0);
      const next = await agent.request(url('/account'));
      expect(next.status).to.equal(302);
      expect(next.headers.get('location')).to.equal('/account/login?return=%2Faccount');
      expect((await server.deps.audit.list({ userId: user._id, events: ['signout.everywhere'] }))).to.have.length(1);
    });

    it('from elsewhere (revokeAccountAccess), ends the portal session at once', async () => {
      const { email, password, user } = await newPerson('everywhere-elsewhere');
      const agent = await portalAgent(email, password);
      const { revokeAccountAccess } = await import('../../src/accounts/revocation.ts');
      await revokeAccountAccess(server.deps.db, user._id);
      expect((await agent.request(url('/account'))).status).to.equal(302);
    });
  });

  describe('activity', () => {
    it('lists the person\'s own events in words, with IP and a short device name, and no operator ids', async () => {
      const { email, password, user } = await newPerson('activity');
      const stranger = await newPerson('activity-stranger');
      await authenticate(server.deps.signInDeps, { email: stranger.email, password: 'wrong for the stranger', context: { ip: '203.0.113.99' } });
      const agent = await portalAgent(email, password, { 'user-agent': FIREFOX });
      await server.deps.audit.record('account.updated', user._id, { actor: 'admin:operator-id-1234', ip: '198.51.100.7' }, { fields: 'roles' });

      const page = await agent.request(url('/account/activity'));
      expect(page.status).to.equal(200);
      expect(page.body).to.contain('Signed in').and.contain('Firefox on Linux').and.match(/127\.0\.0\.1/);
      expect(page.body).to.contain('Account details changed by an administrator').and.contain('198.51.100.7');
      expect(page.body).to.not.contain('operator-id-1234').and.not.contain('203.0.113.99').and.not.contain(stranger.user._id);
      expect(page.body).to.contain('aria-current="page"');
    });
  });

  describe('bad input', () => {
    let person: Awaited<ReturnType<typeof newPerson>>;
    let agent: Agent;
    let csrf: string;

    before(async () => {
      person = await newPerson('bad-input');
      agent = await portalAgent(person.email, person.password);
      await signIn(appConfig, new Agent(), person.email, person.password);
      csrf = /name="_csrf" value="([^"]+)"/.exec((await agent.request(url('/account'))).body)![1]!;
    });

    async function stored() {
      const userId = person.user._id;
      return {
        user: await db().collection('users').findOne({ _id: userId as never }),
        grants: await db().collection('oidc_grant').countDocuments({ 'payload.accountId': userId }),
        sessions: await db().collection('oidc_session').countDocuments({ 'payload.accountId': userId }),
        portal: await db().collection(PORTAL_SESSIONS).countDocuments({ accountId: userId }),
        audit: await db().collection('audit_events').countDocuments({ userId }),
        lockouts: await db().collection('lockouts').countDocuments(),
      };
    }

    const e = encodeURIComponent;
    const cases: Array<[string, string, (c: string) => string, number, RegExp]> = [
      ['/account/profile', 'missing name', (c) => `_csrf=${c}&locale=en`, 400, /Enter your name/],
      ['/account/profile', 'an empty name', (c) => `_csrf=${c}&name=%20%20`, 400, /Enter your name/],
      ['/account/profile', 'an operator object for name', (c) => `_csrf=${c}&name[$ne]=x`, 400, /could not be read/],
      ['/account/profile', 'a repeated field (array)', (c) => `_csrf=${c}&name=a&phoneNumber=1&phoneNumber=2`, 400, /could not be read/],
      ['/account/profile', 'an operator object in the address', (c) => `_csrf=${c}&name=a&address[locality][$gt]=`, 400, /could not be read/],
      ['/account/profile', 'an unknown address key', (c) => `_csrf=${c}&name=a&address[$where]=1`, 400, /address could not be read/],
      ['/account/profile', 'the address as a string', (c) => `_csrf=${c}&name=a&address=London`, 400, /address could not be read/],
      ['/account/profile', 'an oversized name', (c) => `_csrf=${c}&name=${'n'.repeat(201)}`, 400, /at most 200 characters/],
      ['/account/profile', 'an oversized locale', (c) => `_csrf=${c}&name=a&locale=${'l'.repeat(500)}`, 400, /language tag/],
      ['/account/profile', 'a body over the limit', (c) => `_csrf=${c}&name=${'z'.repeat(20_000)}`, 413, /too large/],
      ['/account/profile', 'no CSRF token', () => 'name=Mallory', 403, /Form expired/],
      ['/account/password', 'missing current password', (c) => `_csrf=${c}&password=a%20fine%20new%20password%2012`, 400, /Enter your current password/],
      ['/account/password', 'missing new password', (c) => `_csrf=${c}&currentPassword=${e(person.password)}`, 400, /Choose a new password/],
      ['/account/password', 'an operator object for the current password', (c) => `_csrf=${c}&currentPassword[$ne]=&password=a%20fine%20new%20password%2012`, 400, /could not be read/],
      ['/account/password', 'an operator object for the new password', (c) => `_csrf=${c}&currentPassword=${e(person.password)}&password[$gt]=`, 400, /could not be read/],
      ['/account/password', 'an operator object for the checkbox', (c) => `_csrf=${c}&currentPassword=${e(person.password)}&password=a%20fine%20new%20password%2012&signOutOthers[$ne]=x`, 400, /could not be read/],
      ['/account/password', 'an oversized current password', (c) => `_csrf=${c}&currentPassword=${'p'.repeat(2000)}&password=a%20fine%20new%20password%2012`, 400, /too long/],
      ['/account/password', 'no CSRF token', () => `currentPassword=${e(person.password)}&password=a%20fine%20new%20password%2012`, 403, /Form expired/],
      ['/account/apps/revoke', 'missing grantId', (c) => `_csrf=${c}`, 400, /Choose an app/],
      ['/account/apps/revoke', 'an operator object for grantId', (c) => `_csrf=${c}&grantId[$ne]=`, 400, /Choose an app/],
      ['/account/apps/revoke', 'an oversized grantId', (c) => `_csrf=${c}&grantId=${'g'.repeat(300)}`, 400, /Choose an app/],
      ['/account/apps/revoke', 'an unknown grantId', (c) => `_csrf=${c}&grantId=nope`, 404, /App not found/],
      ['/account/apps/revoke', 'no CSRF token', () => 'grantId=x', 403, /Form expired/],
      ['/account/sign-out-everywhere', 'no CSRF token', () => '', 403, /Form expired/],
      ['/account/sign-out-everywhere', 'an operator object as CSRF token', () => '_csrf[$ne]=x', 403, /Form expired/],
      ['/account/logout', 'no CSRF token', () => '', 403, /Form expired/],
    ];

    for (const [path, name, body, status, message] of cases) {
      it(`${path}: ${name} -> ${status}`, async () => {
        const before = await stored();
        const page = await agent.request(url(path), { form: body(e(csrf)) });
        expect(page.status, page.body.slice(0, 300)).to.equal(status);
        expect(page.body).to.match(message);
        expectNoInternals(page);
        expect(await stored()).to.deep.equal(before);
      });
    }

    it('every form refuses JSON (415) and a missing portal session (401), storing nothing', async () => {
      const before = await stored();
      for (const path of ['/account/profile', '/account/password', '/account/apps/revoke', '/account/sign-out-everywhere', '/account/logout']) {
        const json = await agent.request(url(path), { body: JSON.stringify({ _csrf: csrf, name: 'x', grantId: 'x' }), headers: { 'content-type': 'application/json' } });
        expect(json.status, path).to.equal(415);
        expectNoInternals(json);
      }
      // A browser with a valid CSRF token but no portal session.
      const stranger = new Agent();
      const forgot = await stranger.request(url('/password/forgot'));
      const token = formOn(forgot.body, /\/password\/forgot$/).fields._csrf!;
      for (const path of ['/account/profile', '/account/password', '/account/apps/revoke', '/account/sign-out-everywhere']) {
        const page = await stranger.request(url(path), { form: { _csrf: token, name: 'Mallory', grantId: 'x' } });
        expect(page.status, path).to.equal(401);
        expect(page.body).to.contain('Sign in again');
      }
      expect(await stored()).to.deep.equal(before);
      expect((await agent.request(url('/account'))).status, 'still signed in').to.equal(200);
    });
  });
});
