// The consent step, for third-party apps: what the app asks for, allow or deny.
import type { Context } from 'koa';
import type { AppDeps } from '../../deps.ts';
import { HttpError } from '../http-error.ts';
import { render } from '../render.ts';
import { appNameOf, appOf, finish, type Interaction } from './interaction.ts';
import { translator } from '../../i18n/messages.ts';
import { localeOf } from '../locale.ts';

/** What each scope lets an app do, in a person's words (the portal's connected-apps page; English). */
export const SCOPE_TEXT: Record<string, string> = {
  openid: 'Know who you are',
  email: 'See your email address',
  profile: 'See your name and language',
  phone: 'See your phone number',
  address: 'See your postal address',
  groups: 'See the groups you belong to',
  account: 'Change your password and account settings',
  admin: 'Manage every account of this organisation (administrators only)',
  offline_access: 'Stay signed in when you are not using it',
};

/** The same on the consent page, as catalog keys (locales/<lang>/steps.json): every language. */
const SCOPE_KEYS: Record<string, string> = Object.fromEntries(Object.keys(SCOPE_TEXT).map((scope) => [scope, `steps.consent.scope.${scope}`]));

export function showConsent(ctx: Context, interaction: Interaction): void {
  const t = translator(localeOf(ctx));
  const details = interaction.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[] };
  render(ctx, 'consent', {
    title: t('steps.consent.title'),
    uid: interaction.uid,
    // The app as it registered (RFC 7591): its name in the page's language, its logo and links (https only).
    appName: appNameOf(ctx),
    app: appOf(ctx),
    // A scope we have no words for shows by its name.
    scopes: (details.missingOIDCScope ?? []).map((scope) => (Object.hasOwn(SCOPE_KEYS, scope) ? t(SCOPE_KEYS[scope]!) : scope)),
  });
}

export async function submitConsent(ctx: Context, deps: AppDeps, interaction: Interaction): Promise<void> {
  if (interaction.prompt.name !== 'consent') throw new HttpError(400, 'errors.consent.nothing.title', 'errors.step.done');
  const { provider } = deps;
  const accountId = interaction.session?.accountId;
  if (!accountId) throw new HttpError(400, 'errors.interaction.expired.title', 'errors.step.startAgain');
  const details = interaction.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[] };

  const grant = interaction.grantId
    ? (await provider.Grant.find(interaction.grantId))!
    : new provider.Grant({ accountId, clientId: interaction.params.client_id as string });
  if (details.missingOIDCScope?.length) grant.addOIDCScope(details.missingOIDCScope.join(' '));
  if (details.missingOIDCClaims?.length) grant.addOIDCClaims(details.missingOIDCClaims);
  const grantId = await grant.save();
  await finish(ctx, provider, { consent: { grantId } });
}

/** Cancel on any step: the app receives access_denied. */
export async function abort(ctx: Context, deps: AppDeps): Promise<void> {
  await finish(ctx, deps.provider, { error: 'access_denied', error_description: 'The person cancelled the sign-in.' });
}
