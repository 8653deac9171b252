// Relying parties: OpenID client metadata (RFC 7591 names) from a config file,
// plus those registered with `latchkey client:add` and stored in MongoDB.
// `first_party: true` marks our own apps, which skip the consent page.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import type { ClientMetadata } from 'oidc-provider';
import type { Db } from 'mongodb';
import { artifactCollection } from './adapter.ts';
import { DEFAULT_LOCALE, LOCALES } from '../i18n/locales.ts';
import { translator } from '../i18n/messages.ts';

export const FIRST_PARTY = 'first_party';
/** Client metadata: this app accepts only sign-ins with a second factor. */
export const REQUIRE_MFA = 'require_mfa';

const clientShape = z.looseObject({
  client_id: z.string().min(1).max(200).regex(/^[\w.:-]+$/, 'letters, digits and . _ : - only'),
  first_party: z.boolean().optional(),
});

export function parseClientMetadata(value: unknown, source: string): ClientMetadata {
  const parsed = clientShape.safeParse(value);
  if (!parsed.success) {
    throw new Error(`${source}: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'client'}: ${i.message}`).join('; ')}`);
  }
  return parsed.data as ClientMetadata;
}

export function loadClientsFile(path: string): ClientMetadata[] {
  const file = resolve(path);
  if (!existsSync(file)) return [];
  let list: unknown;
  try {
    list = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(`${file}: not valid JSON (${(error as Error).message})`);
  }
  if (!Array.isArray(list)) throw new Error(`${file}: expected a JSON array of client metadata`);
  return list.map((item, i) => parseClientMetadata(item, `${file} [${i}]`));
}

/** The demo app's client, registered for the development quick start. */
export function demoClient(issuer: string): ClientMetadata {
  return {
    client_id: 'latchkey-demo',
    client_name: 'Latchkey demo app',
    token_endpoint_auth_method: 'none',
    redirect_uris: [`${issuer}/demo/callback`],
    post_logout_redirect_uris: [`${issuer}/demo`],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    scope: 'openid email profile offline_access',
    [FIRST_PARTY]: true,
  };
}

/** The account portal (/account) signs people in through this provider as a first-party client of it. */
export const PORTAL_CLIENT_ID = 'latchkey-account';

export function portalClient(issuer: string): ClientMetadata {
  return {
    client_id: PORTAL_CLIENT_ID,
    client_name: translator(DEFAULT_LOCALE)('common.portalName'),
    // Its name in each of our languages (RFC 7591 client_name#<lang>), so its sign-in page speaks the page's language.
    ...Object.fromEntries(LOCALES.filter((locale) => locale !== DEFAULT_LOCALE).map((locale) => [`client_name#${locale}`, translator(locale)('common.portalName')])),
    token_endpoint_auth_method: 'none',
    redirect_uris: [`${issuer}/account/callback`],
    post_logout_redirect_uris: [`${issuer}/account/signed-out`],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    scope: 'openid email profile phone address account',
    [FIRST_PARTY]: true,
  };
}

/** Stores (or replaces) a client registered from the CLI; the provider reads it through its adapter. */
export async function saveClient(db: Db, metadata: ClientMetadata): Promise<void> {
  await artifactCollection(db, 'Client').updateOne(
    { _id: metadata.client_id },
    { $set: { payload: metadata as never, expiresAt: null } },
    { upsert: true },
  );
}
