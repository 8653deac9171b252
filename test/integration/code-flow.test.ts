// The whole authorization code flow, as a relying party built with openid-client
// sees it against the running server.
import { expect } from 'chai';
import * as oidc from 'openid-client';
import { createUser } from '../../src/accounts/users.ts';
import { useTestServer } from '../helpers/server.ts';
import { Agent, formOn } from '../helpers/agent.ts';
import { confidentialClient, discover, openSignIn, publicClient, RP_CALLBACK, signIn, startAuthorization, submitSignIn } from '../helpers/rp.ts';

describe('authorization code flow', () => {
  const web = confidentialClient();
  const spa = publicClient();
  const thirdParty = confidentialClient({ client_id: 'third-party', client_name: 'Third Party', first_party: false, client_uri: 'https://third.example' });
  const email = 'ada@example.com';
  const password = 'correct horse battery staple';

  const { server } = useTestServer({ clients: [web, spa, thirdParty] });

  before(async () => {
    await createUser(server.deps, { email, password, name: 'Ada Lovelace' });
  });

  it('runs on Node 24', () => {
    expect(process.version).to.match(/^v24\./);
  });

  it('publishes discovery with PKCE S256 only and persisted signing keys', async () => {
    const config = await discover(server.url, web);
    const metadata = config.serverMetadata();
    expect(metadata.issuer).to.equal(server.url);
    expect(metadata.code_challenge_methods_supported).to.deep.equal(['S256']);
    expect(metadata.response_types_supported).to.deep.equal(['code']);
    for (const endpoint of ['userinfo_endpoint', 'revocation_endpoint', 'introspection_endpoint', 'end_session_endpoint']) {
      expect(metadata[endpoint as keyof typeof metadata], endpoint).to.be.a('string');
    }
    const jwks = (await (await fetch(metadata.jwks_uri!)).json()) as { keys: Array<{ kid: string; d?: string }> };
    const stored = await server.database.connection.collection('signing_keys').find().toArray();
    expect(jwks.keys.map((k) => k.kid).sort()).to.deep.equal(stored.map((k) => k._id).sort());
    expect(jwks.keys.every((k) => k.d === undefined), 'no private parts published').to.equal(true);
  });

  it('signs in, validates the ID token, and serves userinfo', async () => {
    const config = await discover(server.url, web);
    const { tokens } = await signIn(config, new Agent(), email, password);
    const claims = tokens.claims()!;
    expect(claims.iss).to.equal(server.url);
    expect(claims.aud).to.equal(web.client_id);
    // How the person signed in (RFC 8176): a password, and our acr for it, listed in discovery.
    expect(claims.amr).to.deep.equal(['pwd']);
    expect(claims.acr).to.equal('urn:latchkey:acr:password');
    expect(claims.auth_time).to.be.a('number').within(Math.floor(Date.now() / 1000) - 60, Math.ceil(Date.now() / 1000));
    expect(config.serverMetadata().acr_values_supported).to.deep.equal(['urn:latchkey:acr:password', 'urn:latchkey:acr:mfa']);
    expect(tokens.refresh_token, 'refresh token').to.be.a('string');
    const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
    expect(userinfo).to.include({ email, email_verified: false, name: 'Ada Lovelace' });
  });

  it('rotates refresh tokens, and a reused one fails', async () => {
    const config = await discover(server.url, web);
    const { tokens } = await signIn(config, new Agent(), email, password);
    const first = tokens.refresh_token!;
    const rotated = await oidc.refreshTokenGrant(config, first);
    expect(rotated.refresh_token).to.be.a('string').and.not.equal(first);
    expect(rotated.access_token).to.not.equal(tokens.access_token);
    let error: unknown;
    await oidc.refreshTokenGrant(config, first).catch((e) => (error = e));
    expect(error).to.be.instanceOf(oidc.ResponseBodyError);
    expect((error as oidc.ResponseBodyError).error).to.equal('invalid_grant');
  });

  it('introspects and revokes tokens', async () => {
    const config = await discover(server.url, web);
    const { tokens } = await signIn(config, new Agent(), email, password);
    const active = await oidc.tokenIntrospection(config, tokens.access_token);
    expect(active.active).to.equal(true);
    expect(active.sub).to.equal(tokens.claims()!.sub);
    await oidc.tokenRevocation(config, tokens.access_token);
    expect((await oidc.tokenIntrospection(config, tokens.access_token)).active).to.equal(false);
    await oidc.tokenRevocation(config, tokens.refresh_token!);
    const refused = await oidc.refreshTokenGrant(config, tokens.refresh_token!).catch((e: oidc.ResponseBodyError) => e);
    expect(refused).to.be.instanceOf(oidc.ResponseBodyError);
  });

  it('requires PKCE, even from a confidential client', async () => {
    const config = await discover(server.url, web);
    const url = oidc.buildAuthorizationUrl(config, { redirect_uri: RP_CALLBACK, scope: 'openid', state: 'x' });
    const page = await new Agent().follow(url.href, {}, RP_CALLBACK);
    const error = new URL(page.url).searchParams;
    expect(error.get('error')).to.equal('invalid_request');
    expect(error.get('error_description')).to.match(/PKCE/);
  });

  it('lets a public client (no secret) through with PKCE', async () => {
    const config = await discover(server.url, spa);
    const { tokens } = await signIn(config, new Agent(), email, password);
    expect(tokens.claims()!.aud).to.equal(spa.client_id);
  });

  it('keeps the session: a second authorization needs no password', async () => {
    const config = await discover(server.url, web);
    const agent = new Agent();
    await signIn(config, agent, email, password);
    const again = await openSignIn(agent, await startAuthorization(config));
    expect(again.url.startsWith(RP_CALLBACK)).to.equal(true);
    expect(new URL(again.url).searchParams.get('code')).to.be.a('string');
  });

  it('asks for consent for a third-party app, and denial returns access_denied', async () => {
    const config = await discover(server.url, thirdParty);
    const agent = new Agent();
    const authorization = await startAuthorization(config);
    const consent = await submitSignIn(agent, await openSignIn(agent, authorization), email, password);
    expect(consent.status).to.equal(200);
    expect(consent.body).to.contain('Allow <bdi>Third Party</bdi>?').and.contain('See your email address');
    const deny = formOn(consent.body, /\/abort$/);
    const back = await agent.follow(new URL(deny.action, consent.url).href, { form: deny.fields }, RP_CALLBACK);
    expect(new URL(back.url).searchParams.get('error')).to.equal('access_denied');

    const { tokens } = await signIn(config, agent, email, password);
    expect(tokens.claims()!.aud).to.equal('third-party');
  });

  it('cancel on the sign-in page returns access_denied to the app', async () => {
    const config = await discover(server.url, web);
    const agent = new Agent();
    const page = await openSignIn(agent, await startAuthorization(config));
    const cancel = formOn(page.body, /\/abort$/);
    const back = await agent.follow(new URL(cancel.action, page.url).href, { form: cancel.fields }, RP_CALLBACK);
    expect(new URL(back.url).searchParams.get('error')).to.equal('access_denied');
  });

  it('logs out after confirmation and ends the session', async () => {
    const config = await discover(server.url, web);
    const agent = new Agent();
    const { tokens } = await signIn(config, agent, email, password);
    const logoutUrl = oidc.buildEndSessionUrl(config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: 'http://127.0.0.1:9/signed-out', state: 'bye' });
    const confirm = await agent.follow(logoutUrl.href);
    expect(confirm.status).to.equal(200);
    expect(confirm.body).to.contain('Sign out?');
    const form = formOn(confirm.body, /\/session\/end\/confirm$/);
    const done = await agent.follow(new URL(form.action, confirm.url).href, { form: { ...form.fields, logout: 'yes' } }, 'http://127.0.0.1:9/signed-out');
    expect(done.url).to.equal('http://127.0.0.1:9/signed-out?state=bye');
    // The session is gone: the next authorization asks for the password again.
    const next = await openSignIn(agent, await startAuthorization(config));
    expect(next.body).to.contain('autocomplete="current-password"');
  });

  it('re-authenticates within the session: prompt=login and an expired max_age ask for the password again, then a fresh auth_time', async () => {
    const config = await discover(server.url, web);
    const agent = new Agent();
    // An account of its own, so the per-email sign-in throttle counts this test only.
    const email = 'grace@example.com';
    await createUser(server.deps, { email, password, name: 'Grace Hopper' });
    const first = (await signIn(config, agent, email, password)).tokens.claims()!;
    // Signed in, no prompt: straight back with a code, the same auth_time.
    const silent = (await signIn(config, agent, email, password)).tokens.claims()!;
    expect(silent.auth_time).to.equal(first.auth_time);

    for (const params of [{ prompt: 'login' }, { max_age: '1' }] as Array<Record<string, string>>) {
      await new Promise((resolve) => setTimeout(resolve, 2_100)); // auth_time and max_age count whole seconds
      const page = await openSignIn(agent, await startAuthorization(config, params));
      expect(page.status, JSON.stringify(params)).to.equal(200);
      expect(page.body).to.contain('Confirm it’s you').and.contain(`value="${email}"`);
      const wrong = await submitSignIn(agent, page, email, 'not the password at all');
      expect(wrong.status).to.equal(401);
      const { tokens } = await signIn(config, agent, email, password, params);
      expect(tokens.claims()!.auth_time, JSON.stringify(params)).to.be.greaterThan(first.auth_time!);
    }
  });

  it('shows a friendly page for an unknown or expired interaction', async () => {
    const page = await new Agent().request(`${server.url}/interaction/does-not-exist`);
    expect(page.status).to.equal(400);
    expect(page.body).to.contain('This sign-in has expired');
    expect(page.body).to.not.match(/\bat \S+ \(|node_modules/);
  });

  it('renders protocol errors as a page without internals', async () => {
    const page = await new Agent().request(`${server.url}/auth?client_id=nope&response_type=code&scope=openid`);
    expect(page.status).to.equal(400);
    expect(page.body).to.contain('This sign-in could not continue').and.contain('invalid_client');
    expect(page.body).to.not.match(/node_modules|\.js:\d+/);
  });
});
