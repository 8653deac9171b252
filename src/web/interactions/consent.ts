// The consent step, for third-party apps: what the app asks for, allow or deny.
import type { Context } from 'koa';
import type { AppDeps } from '../../deps.ts';
import { HttpError } from '../http-error.ts';
import { render } from '../render.ts';
import { finish, type Interaction } from './interaction.ts';

/** What each scope lets an app do, in a person's words (consent and connected-apps pages). */
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

export function showConsent(ctx: Context, interaction: Interaction): void {
  const client = ctx.state.client as { clientName?: string; clientId: string; clientUri?: string };
  const details = interaction.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[] };
  render(ctx, 'consent', {
    title: 'Allow access',
    uid: interaction.uid,
    appName: client.clientName ?? client.clientId,
    appUri: client.clientUri,
    scopes: (details.missingOIDCScope ?? []).map((scope) => SCOPE_TEXT[scope] ?? scope),
  });
}

export async function submitConsent(ctx: Context, deps: AppDeps, interaction: Interaction): Promise<void> {
  if (interaction.prompt.name !== 'consent') throw new HttpError(400, 'Nothing to confirm', 'This step is already done. Go back to the app and start again.');
  const { provider } = deps;
  const accountId = interaction.session?.accountId;
  if (!accountId) throw new HttpError(400, 'This sign-in has expired', 'Go back to the app and start again.');
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
