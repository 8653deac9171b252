// Change of email (issue 14), end to end: the portal page behind the recent-sign-in
// rule, the confirmation link to the new address (GET shows a button, POST confirms),
// the notice with an undo link to the old address, sign-in with the new address only,
// the email claim an app receives, two accounts racing for one address, undo with a
// new password, expired and used links, and the operator's paths (admin API, CLI).
// Real server, database, SMTP server, openid-client and Chromium (axe).
import { expect } from 'chai';
import * as oidc from 'openid-client';
import type { BrowserContext } from 'playwright-core';
import type { ParsedMail } from 'mailparser';
import { createUser } from '../../src/accounts/users.ts';
import { inviteUser } from '../../src/accounts/password-links.ts';
import { EMAIL_CHANGES, emailHistoryOf, type EmailChangeRecord } from '../../src/accounts/email-change.ts';
import { PORTAL_SESSIONS } from '../../src/accounts/revocation.ts';
import { translator } from '../../src/i18n/messages.ts';
import { LENIENT_THROTTLES, useTestServer } from '../helpers/server.ts';
import { Agent, formOn, type Page, signedInToPortal } from '../helpers/agent.ts';
import { discover, openSignIn, publicClient, signIn, startAuthorization, submitSignIn, RP_CALLBACK } from '../helpers/rp.ts';
import { callApi, expectProblem, type CallInit } from '../helpers/api.ts';
import { cliEnvironment, runCli } from '../helpers/cli.ts';
import { useBrowser } from '../helpers/browser.ts';
import { axeViolations, describeViolations } from '../helpers/axe.ts';

const app = publicClient({ scope: 'openid email profile offline_access admin' });
const en = translator('en');

describe('change of email', () => {
  const { server, smtp } = useTestServer({ clients: [app], smtp: true, policy: LENIENT_THROTTLES });
  let appConfig: oidc.Configuration;
  let counter = 0;

  before(async () => {
    appConfig = await discover(server.url, app);
  });

  const url = (path: string) => `${server.url}${path}`;
  const db = () => server.database.connection;
  const changes = () => db().collection<EmailChangeRecord>(EMAIL_CHANGES);
  const users = () => db().collection<{ _id: string; email: string; emailVerified: boolean; passwordHash: string }>('users');
  const to = (address: string) => (m: ParsedMail) => m.to !== undefined && !Array.isArray(m.to) && m.to.value[0]?.address === address;
  const mailTo = (address: string, subject: string) => smtp.waitFor((m) => to(address)(m) && m.subject === subject, 10_000);
  const SUBJECT = {
    confirm: en('email.email_change_confirm.subject', { product: 'Latchkey' }),
    changed: en('email.email_changed.subject', { product: 'Latchkey' }),
    byAdmin: en('email.email_change_by_admin.subject', { product: 'Latchkey' }),
    inUse: en('email.email_change_in_use.subject', { product: 'Latchkey' }),
  };

  async function newPerson(tag: string, extra: { roles?: string[] } = {}) {
    const email = `change-${tag}-${++counter}@example.com`;
    const password = `copper kettle meadow ${counter} ${tag}`;
    const user = await createUser(server.deps, { email, password, name: 'Change Person', ...extra });
    return { email, password, id: user._id };
  }
  const fresh = (tag: string) => `new-${tag}-${++counter}@example.org`;

  /** A browser signed in to the portal just now (its password typed at the provider). */
  const portalAgent = (email: string, password: string) => signedInToPortal(url(''), email, password);

  /** Sends the portal's form with these fields (the CSRF token from the page). */
  async function requestChange(agent: Agent, fields: Record<string, string> | string): Promise<Page> {
    const page = await agent.request(url('/account/email'));
    expect(page.status).to.equal(200);
    const form = formOn(page.body, /\/account\/email$/);
    const body = typeof fields === 'string' ? `_csrf=${encodeURIComponent(form.fields._csrf!)}&${fields}` : { ...form.fields, ...fields };
    return agent.request(url('/account/email'), { form: body });
  }

  /** Opens an emailed link (GET: a page with a form), then sends that form with `fields`. */
  async function useLink(link: string, fields: Record<string, string> = {}, agent = new Agent()): Promise<{ shown: Page; done: Page }> {
    const shown = await agent.request(link);
    expect(shown.status, shown.body.slice(0, 300)).to.equal(200);
    const form = formOn(shown.body, /\/email\/change(\/undo)?$/);
    const done = await agent.request(new URL(form.action, link).href, { form: { ...form.fields, ...fields } });
    return { shown, done };
  }

  /** The message of the sign-in page after a failed attempt with this email and password. */
  async function signInError(email: string, password: string): Promise<string> {
    const agent = new Agent();
    const page = await submitSignIn(agent, await openSignIn(agent, await startAuthorization(appConfig)), email, password);
    expect(page.url.startsWith(RP_CALLBACK), 'the sign-in must fail').to.equal(false);
    return /role="alert"[^>]*>([^<]+)</.exec(page.body)?.[1] ?? '(no message)';
  }

  describe('in the portal', () => {
    it('changes only when the link is used: then the claims, sign-in, notice with undo link, audit and history follow', async () => {
      const person = await newPerson('flow');
      const target = fresh('flow');
      const agent = await portalAgent(person.email, person.password);
      const { tokens: before } = await signIn(appConfig, new Agent(), person.email, person.password, { scope: 'openid email offline_access' });
      // The email scope's claims reach an app through userinfo (the ID token holds them only without an access token).
      expect(await oidc.fetchUserInfo(appConfig, before.access_token, person.id)).to.include({ email: person.email });

      const sent = await requestChange(agent, { email: target });
      expect(sent.status).to.equal(303);
      expect(sent.headers.get('location')).to.equal('/account/email');
      const page = await agent.request(url('/account/email'));
      expect(page.body).to.contain(target).and.contain(person.email);

      const confirmMail = await mailTo(target, SUBJECT.confirm);
      const link = smtp.linkIn(confirmMail);
      expect(link).to.match(new RegExp(`^${server.url}/email/change\\?token=[\\w-]{43}$`));
      // Nothing changed yet, and opening the link (as a mail scanner would) changes nothing either.
      const shown = await new Agent().request(link);
      expect(shown.status).to.equal(200);
      expect(shown.body).to.contain(target);
      expect((await users().findOne({ _id: person.id }))!.email).to.equal(person.email);

      const { done } = await useLink(link);
      expect(done.status, done.body.slice(0, 300)).to.equal(200);
      expect(done.body).to.contain(en('emailChange.confirm.doneTitle'));
      const stored = (await users().findOne({ _id: person.id }))!;
      expect(stored.email).to.equal(target);
      expect(stored.emailVerified).to.equal(true);

      // The old address is told, with an undo link valid for the policy's 7 days.
      const notice = await mailTo(person.email, SUBJECT.changed);
      expect(notice.text).to.contain(target).and.contain('7 days');
      expect(smtp.linkIn(notice)).to.match(new RegExp(`^${server.url}/email/change/undo\\?token=[\\w-]{43}$`));

      // Sign-in works with the new address only; the old one fails exactly like an unknown account.
      const { tokens } = await signIn(appConfig, new Agent(), target, person.password, { scope: 'openid email' });
      expect(tokens.claims()!.sub).to.equal(person.id);
      const userinfo = await oidc.fetchUserInfo(appConfig, tokens.access_token, person.id);
      expect(userinfo).to.include({ email: target, email_verified: true });
      // An app signed in before the change sees the new address too, with its refreshed token.
      const refreshed = await oidc.refreshTokenGrant(appConfig, before.refresh_token!);
      expect(await oidc.fetchUserInfo(appConfig, refreshed.access_token, person.id)).to.include({ email: target, email_verified: true });
      expect(await signInError(person.email, person.password)).to.equal(await signInError(`nobody-${counter}@example.com`, person.password));

      const events = (await server.deps.audit.list({ userId: person.id })).map((e) => e.event);
      expect(events).to.include.members(['email.change_requested', 'email.changed']);
      const [changed] = await server.deps.audit.list({ userId: person.id, events: ['email.changed'] });
      expect(JSON.stringify(changed!.details)).to.not.contain('@');
      const [record] = await changes().find({ userId: person.id }).toArray();
      expect(record).to.include({ oldEmail: person.email, newEmail: target, status: 'confirmed', mode: 'self' });
      expect(JSON.stringify(record)).to.not.contain(new URL(link).searchParams.get('token')!);
      const history = await emailHistoryOf(server.deps, person.id);
      expect(history).to.have.length(1);
      expect(history[0]).to.include({ from: person.email, to: target, status: 'confirmed', by: 'self' });
      // The portal's activity says it in words.
      expect((await agent.request(url('/account/activity'))).body).to.contain(en('portal.event.email.changed'));
    });

    it('a pending change can be cancelled from the page: its link stops working, audited, shown in the history', async () => {
      const person = await newPerson('cancel');
      const target = fresh('cancel');
      const agent = await portalAgent(person.email, person.password);
      await requestChange(agent, { email: target });
      const link = smtp.linkIn(await mailTo(target, SUBJECT.confirm));

      const page = await agent.request(url('/account/email'));
      const cancel = formOn(page.body, /\/account\/email\/cancel$/);
      expect(page.body).to.contain(en('portal.email.cancel'));
      const done = await agent.request(url('/account/email/cancel'), { form: cancel.fields });
      expect(done.status).to.equal(303);
      expect(done.headers.get('location')).to.equal('/account/email?notice=email_change_cancelled');
      const after = await agent.request(url('/account/email?notice=email_change_cancelled'));
      expect(after.body).to.contain(en('portal.notice.emailChangeCancelled').replace('’', '&rsquo;').split(':')[0]);
      expect(after.body).to.not.contain(en('portal.email.cancel'));

      const refused = await new Agent().request(link);
      expect(refused.status).to.be.within(400, 499);
      expect((await users().findOne({ _id: person.id }))!.email).to.equal(person.email);
      expect(await changes().findOne({ userId: person.id })).to.include({ status: 'cancelled' });
      expect((await emailHistoryOf(server.deps, person.id))[0]).to.include({ status: 'not_confirmed' });
      expect((await server.deps.audit.list({ userId: person.id, events: ['email.change_cancelled'] }))).to.have.length(1);
      // Nothing pending: a second cancel changes nothing and says nothing.
      const again = await agent.request(url('/account/email/cancel'), { form: cancel.fields });
      expect(again.headers.get('location')).to.equal('/account/email');
      // Without the page's CSRF token: refused.
      expect((await agent.request(url('/account/email/cancel'), { form: {} })).status).to.equal(403);
    });

    it('answers the same for a taken address; its owner gets a neutral notice and nothing changes', async () => {
      const person = await newPerson('taken');
      const owner = await newPerson('owner');
      const agent = await portalAgent(person.email, person.password);
      const free = await requestChange(agent, { email: fresh('free') });
      const taken = await requestChange(agent, { email: owner.email.toUpperCase() });
      expect([free.status, free.headers.get('location')]).to.deep.equal([taken.status, taken.headers.get('location')]);
      const notice = await mailTo(owner.email, SUBJECT.inUse);
      expect(notice.text).to.not.contain(person.email);
      // The pending change's link was withdrawn; the account keeps its address.
      expect((await users().findOne({ _id: person.id }))!.email).to.equal(person.email);
      expect(await db().collection('one_time_links').countDocuments({ userId: person.id, purpose: 'email_change', usedAt: null })).to.equal(0);
      expect(smtp.messages.filter((m) => to(owner.email)(m) && m.subject === SUBJECT.confirm)).to.have.length(0);
    });

    it('refuses bad input with the form again (400), storing nothing', async () => {
      const person = await newPerson('bad');
      const agent = await portalAgent(person.email, person.password);
      const cases: Array<Record<string, string> | string> = [
        {}, { email: '' }, { email: 'not-an-address' }, { email: `${'a'.repeat(250)}@example.com` }, { email: person.email.toUpperCase() },
        'email[$ne]=', 'email=a@example.com&email=b@example.com', 'email[x]=y@example.com',
      ];
      for (const fields of cases) {
        const answer = await requestChange(agent, fields);
        expect(answer.status, JSON.stringify(fields)).to.equal(400);
        expect(answer.body).to.contain('aria-invalid="true"');
        expect(answer.body).to.not.match(/\bat \S+ \(|node_modules|\.ts:\d+/);
      }
      expect(await changes().countDocuments({ userId: person.id })).to.equal(0);
    });

    it('needs a recent sign-in, and a portal session', async () => {
      const person = await newPerson('recent');
      const agent = await portalAgent(person.email, person.password);
      const page = await agent.request(url('/account/email'));
      const form = formOn(page.body, /\/account\/email$/);
      await db().collection(PORTAL_SESSIONS).updateMany({ accountId: person.id }, { $set: { authTime: new Date(Date.now() - 3_600_000) } });
      const get = await agent.request(url('/account/email'));
      expect(get.status).to.equal(302);
      const post = await agent.request(url('/account/email'), { form: { ...form.fields, email: fresh('recent') } });
      expect(post.status).to.equal(401);
      expect((await new Agent().request(url('/account/email'))).status).to.equal(302);
      expect(await changes().countDocuments({ userId: person.id })).to.equal(0);
    });
  });

  describe('links', () => {
    it('two accounts confirming the same new address at once: exactly one wins, the other gets a neutral answer', async () => {
      const target = fresh('race');
      const a = await newPerson('race-a');
      const b = await newPerson('race-b');
      for (const person of [a, b]) await requestChange(await portalAgent(person.email, person.password), { email: target });
      await smtp.waitFor((m) => to(target)(m), 10_000);
      const deadline = Date.now() + 10_000;
      while (smtp.messages.filter(to(target)).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const links = smtp.messages.filter(to(target)).map((m) => smtp.linkIn(m));
      expect(links).to.have.length(2);
      const forms = await Promise.all(links.map(async (link) => {
        const agent = new Agent();
        const shown = await agent.request(link);
        return { agent, form: formOn(shown.body, /\/email\/change$/) };
      }));
      const answers = await Promise.all(forms.map(({ agent, form }) => agent.request(url('/email/change'), { form: form.fields })));
      expect(answers.map((p) => p.status).sort()).to.deep.equal([200, 409]);
      const loser = answers.find((p) => p.status === 409)!;
      expect(loser.body).to.contain(en('emailChange.confirm.failedTitle')).and.not.contain(target);
      expect(await users().countDocuments({ email: target })).to.equal(1);
      const owners = await users().find({ _id: { $in: [a.id, b.id] } }).toArray();
      expect(owners.map((u) => u.email).sort()).to.have.members([target, owners.find((u) => u.email !== target)!.email]);
      expect(owners.filter((u) => u.email === a.email || u.email === b.email)).to.have.length(1);
    });

    it('refuses used, expired and unknown links, and bad tokens, with a clear 4xx', async () => {
      const person = await newPerson('links');
      const target = fresh('links');
      await requestChange(await portalAgent(person.email, person.password), { email: target });
      const link = smtp.linkIn(await mailTo(target, SUBJECT.confirm));
      const { done } = await useLink(link);
      expect(done.status).to.equal(200);
      expect((await new Agent().request(link)).status).to.equal(410);

      const again = fresh('links-again');
      await requestChange(await portalAgent(target, person.password), { email: again });
      const second = smtp.linkIn(await mailTo(again, SUBJECT.confirm));
      await db().collection('one_time_links').updateMany({ userId: person.id, purpose: 'email_change' }, { $set: { expiresAt: new Date(Date.now() - 1000) } });
      const expired = await new Agent().request(second);
      expect(expired.status).to.equal(410);
      expect(expired.body).to.contain(en('emailChange.link.expired.title'));

      for (const bad of ['', 'short', 'x'.repeat(43), 'token[$ne]=1']) {
        const page = await new Agent().request(url(`/email/change?${bad.includes('[') ? bad : `token=${bad}`}`));
        expect(page.status, bad).to.equal(404);
        expect(page.body).to.not.match(/\bat \S+ \(|node_modules|\.ts:\d+/);
      }
      // POSTs need the CSRF token of a page; with it, a bad token changes nothing.
      const agent = new Agent();
      const shown = await agent.request(link);
      const csrf = /name="_csrf" value="([^"]+)"/.exec(shown.body)?.[1];
      if (csrf) {
        for (const body of [`_csrf=${csrf}&token[$ne]=1`, `_csrf=${csrf}`, `_csrf=${csrf}&token=${'y'.repeat(5000)}`]) {
          const answer = await agent.request(url('/email/change'), { form: body });
          expect(answer.status, body.slice(0, 60)).to.be.within(400, 499);
        }
      }
      expect((await users().findOne({ _id: person.id }))!.email).to.equal(target);
    });

    it('undo: a new password under the policy, the old address back, every session ended, both audited', async () => {
      const person = await newPerson('undo');
      const target = fresh('undo');
      const agent = await portalAgent(person.email, person.password);
      const { tokens } = await signIn(appConfig, new Agent(), person.email, person.password, { scope: 'openid email offline_access' });
      await requestChange(agent, { email: target });
      await useLink(smtp.linkIn(await mailTo(target, SUBJECT.confirm)));
      const undoLink = smtp.linkIn(await mailTo(person.email, SUBJECT.changed));

      // A weak password: the form again, and the link still works.
      const weak = await useLink(undoLink, { password: 'short' });
      expect(weak.shown.body).to.contain(person.email);
      expect(weak.done.status).to.equal(400);
      const missing = await useLink(undoLink, {});
      expect(missing.done.status).to.equal(400);
      expect((await users().findOne({ _id: person.id }))!.email).to.equal(target);

      const newPassword = `a fresh start with lanterns ${counter}`;
      const { done } = await useLink(undoLink, { password: newPassword });
      expect(done.status, done.body.slice(0, 300)).to.equal(200);
      expect(done.body).to.contain(person.email);
      expect((await users().findOne({ _id: person.id }))!.email).to.equal(person.email);
      // Every session, grant and token ended: the portal asks to sign in, the app's refresh token fails.
      expect((await agent.request(url('/account'))).status).to.equal(302);
      expect(await oidc.refreshTokenGrant(appConfig, tokens.refresh_token!).catch((e: Error) => e)).to.be.instanceOf(oidc.ResponseBodyError);
      await signIn(appConfig, new Agent(), person.email, newPassword);
      expect(await signInError(person.email, person.password)).to.be.a('string');
      expect((await new Agent().request(undoLink)).status).to.equal(410);

      const events = (await server.deps.audit.list({ userId: person.id })).map((e) => e.event);
      expect(events).to.include.members(['email.change_undone', 'password.reset']);
      expect((await changes().findOne({ userId: person.id }))!.status).to.equal('undone');
      expect((await emailHistoryOf(server.deps, person.id))[0]!.status).to.equal('undone');
    });
  });

  describe('undo when the old address is held meanwhile', () => {
    async function changedAway(tag: string) {
      const person = await newPerson(tag);
      const target = fresh(tag);
      await requestChange(await portalAgent(person.email, person.password), { email: target });
      await useLink(smtp.linkIn(await mailTo(target, SUBJECT.confirm)));
      return { person, target, undoLink: smtp.linkIn(await mailTo(person.email, SUBJECT.changed)) };
    }

    it('an unconfirmed sign-up holding the old address gives way to the undo link', async () => {
      const { person, undoLink } = await changedAway('squat');
      const squatter = await createUser(server.deps, { email: person.email, password: 'someone else entirely 123', name: 'Squatter', status: 'unverified' });
      const { done } = await useLink(undoLink, { password: `taking it back ${counter} harbour` });
      expect(done.status).to.equal(200);
      expect(done.body).to.contain(person.email);
      expect((await users().findOne({ _id: person.id }))!.email).to.equal(person.email);
      expect(await users().countDocuments({ _id: squatter._id })).to.equal(0);
    });

    it('a real account holding it keeps it: the password is changed and sessions end, and the page says the address could not be put back', async () => {
      const { person, target, undoLink } = await changedAway('held');
      await createUser(server.deps, { email: person.email, password: 'someone else entirely 456', name: 'Holder' });
      const { done } = await useLink(undoLink, { password: `taking it back ${counter} meadow` });
      expect(done.status).to.equal(200);
      expect(done.body).to.contain(en('emailChange.undo.notRestored'));
      expect((await users().findOne({ _id: person.id }))!.email).to.equal(target);
      const [event] = await server.deps.audit.list({ userId: person.id, events: ['email.change_undone'] });
      expect(event!.details).to.include({ restored: false });
    });
  });

  describe('operators', () => {
    let admin: { email: string; password: string; id: string };
    let adminToken: string;
    before(async () => {
      admin = await newPerson('admin', { roles: ['admin'] });
      adminToken = (await signIn(appConfig, new Agent(), admin.email, admin.password, { scope: 'openid admin' })).tokens.access_token;
    });
    const call = (id: string, body: unknown, init: CallInit = {}) =>
      callApi(server.url, `/api/admin/accounts/${encodeURIComponent(id)}/email`, { method: 'POST', token: adminToken, body, ...init });

    it('admin API confirm: the link goes to the new address, nothing changes until it is used', async () => {
      const person = await newPerson('api-confirm');
      const target = fresh('api-confirm');
      const answer = await call(person.id, { email: target, mode: 'confirm' });
      expect(answer.status, answer.text).to.equal(200);
      expect(answer.json).to.include({ status: 'pending', email: target });
      expect((await users().findOne({ _id: person.id }))!.email).to.equal(person.email);
      await useLink(smtp.linkIn(await mailTo(target, SUBJECT.confirm)));
      expect((await users().findOne({ _id: person.id }))!).to.include({ email: target, emailVerified: true });
      const [requested] = await server.deps.audit.list({ userId: person.id, events: ['email.change_requested'] });
      expect(requested!.actor).to.equal(`admin:${admin.id}`);
      expect((await emailHistoryOf(server.deps, person.id))[0]!.by).to.equal('administrator');
    });

    it('admin API override: at once, audited with the operator, the old address told (no undo link)', async () => {
      const person = await newPerson('api-override');
      const target = fresh('api-override');
      const answer = await call(person.id, { email: target, mode: 'override' });
      expect(answer.json).to.include({ status: 'changed', email: target });
      expect((await users().findOne({ _id: person.id }))!).to.include({ email: target, emailVerified: false });
      const notice = await mailTo(person.email, SUBJECT.byAdmin);
      expect(notice.text).to.contain(target).and.not.contain('/email/change/undo');
      const [changed] = await server.deps.audit.list({ userId: person.id, events: ['email.changed'] });
      expect(changed!.actor).to.equal(`admin:${admin.id}`);
      expect(changed!.details).to.include({ mode: 'admin_override' });
      await signIn(appConfig, new Agent(), target, person.password);
    });

    it('admin API override of an invited account: the invitation goes again, to the new address', async () => {
      const email = `change-invited-${++counter}@example.com`;
      const invited = await inviteUser(server.deps.passwords, { email, name: 'Invited Person' });
      const firstInvite = smtp.linkIn(await smtp.waitFor(to(email), 10_000));
      const target = fresh('invited');
      expect((await call(invited._id, { email: target, mode: 'override' })).json).to.include({ status: 'changed' });
      const invite = await smtp.waitFor((m) => to(target)(m) && /\/password\/set\?token=/.test(smtp.linkIn(m)), 10_000);
      expect(smtp.linkIn(invite)).to.not.equal(firstInvite);
      // The first invitation, at the old address, no longer works.
      expect((await new Agent().request(firstInvite)).status).to.be.within(400, 499);
    });

    it('admin API: in the OpenAPI document with its request schema and problems', async () => {
      const doc = (await callApi(server.url, '/api/openapi.json')).json;
      const operation = doc.paths['/api/admin/accounts/{id}/email'].post;
      expect(operation.operationId).to.equal('adminChangeEmail');
      expect(operation.requestBody.content['application/json'].schema.$ref).to.equal('#/components/schemas/AdminChangeEmailRequest');
      expect(Object.keys(operation.responses)).to.include.members(['200', '400', '401', '403', '404', '409']);
      expect(doc.components.schemas.AdminChangeEmailRequest).to.include({ additionalProperties: false });
      expect(doc.components.schemas.AdminChangeEmailRequest.required).to.have.members(['email', 'mode']);
      expect(Object.keys(doc.webhooks)).to.include('account.email_changed');
    });

    it('admin API refusals: taken, unknown account, same address, and bad input, storing nothing', async () => {
      const person = await newPerson('api-bad');
      const other = await newPerson('api-other');
      expectProblem(await call(person.id, { email: other.email, mode: 'override' }), 409, 'email-taken', server.url);
      expectProblem(await call(person.id, { email: other.email, mode: 'confirm' }), 409, 'email-taken', server.url);
      expectProblem(await call('no-such-account', { email: fresh('x'), mode: 'override' }), 404, 'not-found', server.url);
      expectProblem(await call(person.id, { email: person.email, mode: 'override' }), 400, 'invalid-request', server.url);
      for (const body of [
        {}, { mode: 'override' }, { email: fresh('m') }, { email: 'not-an-address', mode: 'override' }, { email: `${'a'.repeat(250)}@example.com`, mode: 'override' },
        { email: { $ne: null }, mode: 'override' }, { email: fresh('y'), mode: { $in: ['override'] } }, { email: fresh('z'), mode: 'later' },
        { email: fresh('w'), mode: 'override', extra: 1 }, [fresh('v')], 'email=a@example.com',
      ]) {
        expectProblem(await call(person.id, body), 400, 'invalid-request', server.url);
      }
      expectProblem(await call(person.id, { email: fresh('t'), mode: 'override' }, { token: null }), 401, 'invalid-token', server.url);
      expect(await changes().countDocuments({ userId: person.id })).to.equal(0);
      expect((await users().findOne({ _id: person.id }))!.email).to.equal(person.email);
    });

    it('console: the account page\'s form, confirm and override, audited with the admin; bad input refused', async () => {
      const person = await newPerson('console');
      const agent = new Agent();
      const login = await agent.follow(url(`/admin/accounts/${person.id}`));
      const signInForm = formOn(login.body, /\/login$/);
      const page = await agent.follow(new URL(signInForm.action, login.url).href, { form: { ...signInForm.fields, email: admin.email, password: admin.password } });
      expect(page.url).to.equal(url(`/admin/accounts/${person.id}`));
      const form = formOn(page.body, /\/email$/);
      const send = (fields: Record<string, string> | string) => agent.request(url(`/admin/accounts/${person.id}/email`), {
        form: typeof fields === 'string' ? `_csrf=${encodeURIComponent(form.fields._csrf!)}&${fields}` : { ...form.fields, ...fields },
      });

      const target = fresh('console-confirm');
      const sent = await send({ email: target, mode: 'confirm' });
      expect(sent.status).to.equal(303);
      expect(sent.headers.get('location')).to.equal(`/admin/accounts/${person.id}?notice=email_change_sent`);
      await mailTo(target, SUBJECT.confirm);
      expect((await users().findOne({ _id: person.id }))!.email).to.equal(person.email);

      for (const bad of [{ email: '', mode: 'confirm' }, { email: 'nope', mode: 'override' }, { email: fresh('c'), mode: 'later' }, 'email[$ne]=&mode=override', `email=${'a'.repeat(300)}@example.com&mode=override`]) {
        const answer = await send(bad);
        expect(answer.status, JSON.stringify(bad)).to.equal(400);
        expect(answer.body).to.not.match(/\bat \S+ \(|node_modules|\.ts:\d+/);
      }
      expect((await send({ email: admin.email, mode: 'override' })).status).to.equal(409);
      expect((await send({ email: fresh('x'), mode: 'override', _csrf: 'forged' })).status).to.equal(403);

      const overridden = fresh('console-override');
      const changed = await send({ email: overridden, mode: 'override' });
      expect(changed.headers.get('location')).to.equal(`/admin/accounts/${person.id}?notice=email_changed`);
      expect((await users().findOne({ _id: person.id }))!.email).to.equal(overridden);
      await mailTo(person.email, SUBJECT.byAdmin);
      const [event] = await server.deps.audit.list({ userId: person.id, events: ['email.changed'] });
      expect(event!.actor).to.equal(`admin:${admin.id}`);
      const shown = await agent.request(url(`/admin/accounts/${person.id}?notice=email_changed`));
      expect(shown.body).to.contain(overridden).and.contain('Email address changed');
    });

    it('CLI user:change-email, by address or id, with and without --override', async function () {
      this.timeout(60_000);
      const person = await newPerson('cli');
      const env = cliEnvironment(server.database.name, { SMTP_URL: smtp.url, ISSUER: server.url });
      const target = fresh('cli');
      const pending = await runCli(['user:change-email', person.email, target], env);
      expect(pending.code, pending.stderr).to.equal(0);
      expect(pending.stdout).to.contain('sent a confirmation link');
      await mailTo(target, SUBJECT.confirm);
      const overridden = fresh('cli-override');
      const now = await runCli(['user:change-email', person.id, overridden, '--override'], env);
      expect(now.code, now.stderr).to.equal(0);
      expect((await users().findOne({ _id: person.id }))!.email).to.equal(overridden);
      const [changed] = await server.deps.audit.list({ userId: person.id, events: ['email.changed'] });
      expect(changed!.actor).to.equal('cli');
      for (const args of [['nobody@example.com', fresh('n')], [person.id, 'not-an-address', '--override'], [person.id, overridden, '--override']]) {
        const run = await runCli(['user:change-email', ...args], env);
        expect(run.code, args.join(' ')).to.equal(1);
        expect(run.stderr).to.match(/^latchkey: /).and.not.match(/\bat \S+ \(/);
      }
    });
  });

  describe('accessibility (axe, WCAG 2.2 AA)', () => {
    const browser = useBrowser();
    for (const lang of ['en', 'ar'] as const) {
      it(`the portal page, the confirmation page and the undo page pass in ${lang === 'en' ? 'English' : 'Arabic'}`, async function () {
        this.timeout(60_000);
        const person = await newPerson(`a11y-${lang}`);
        let context: BrowserContext | undefined;
        try {
          context = await browser.newContext();
          await context.addCookies([{ name: 'lk_lang', value: lang, url: server.url }]);
          const page = await context.newPage();
          await page.goto(url('/account/email'));
          await page.locator('#email').fill(person.email);
          await page.locator('#password').fill(person.password);
          await page.locator('button[type="submit"].primary').first().click();
          await page.waitForURL(url('/account/email'));
          expect(await page.getAttribute('html', 'dir')).to.equal(lang === 'ar' ? 'rtl' : 'ltr');
          // With an error beside the field, then with a pending change.
          await page.locator('#email').fill('not an address');
          await page.locator('form[action="/account/email"] button[type="submit"]').click();
          await page.locator('#email-error').waitFor();
          let violations = await axeViolations(page);
          expect(violations, describeViolations(violations)).to.deep.equal([]);
          const target = fresh(`a11y-${lang}`);
          await page.locator('#email').fill(target);
          await page.locator('form[action="/account/email"] button[type="submit"]').click();
          await page.locator('p.notice').waitFor();
          violations = await axeViolations(page);
          expect(violations, describeViolations(violations)).to.deep.equal([]);

          const confirmLink = smtp.linkIn(await mailTo(target, lang === 'en' ? SUBJECT.confirm : translator('ar')('email.email_change_confirm.subject', { product: 'Latchkey' })));
          await page.goto(confirmLink);
          expect(await page.locator('h1').textContent()).to.equal(translator(lang)('emailChange.confirm.title'));
          violations = await axeViolations(page);
          expect(violations, describeViolations(violations)).to.deep.equal([]);

          // The undo page, with the policy's rules and an error beside the password.
          await page.locator('form[action="/email/change"] button[type="submit"]').click();
          await page.locator('h1').waitFor();
          const undoLink = smtp.linkIn(await smtp.waitFor((m) => to(person.email)(m) && /undo/.test(m.text ?? ''), 10_000));
          await page.goto(undoLink);
          await page.locator('#password').fill('short');
          await page.locator('form[action="/email/change/undo"] button[type="submit"]').click();
          await page.locator('#password-error').waitFor();
          violations = await axeViolations(page);
          expect(violations, describeViolations(violations)).to.deep.equal([]);
        } finally {
          await context?.close();
        }
      });
    }
  });
});
