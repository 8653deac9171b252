// The terms step of a sign-in (prompt "terms", oidc/provider.ts): shown when the account
// has not accepted the organisation's terms in force, after the sign-in and before the
// app. Accept: stored on the account (accounts/terms.ts) and on to the app. Decline: the
// sign-in ends and the app receives access_denied. The page names the version it shows;
// accepting a version that is no longer in force (the terms changed while the page was
// open) stores nothing and shows the new one.
//
// An app's own terms (its tos_uri, RFC 7591) are linked beside ours when it has them:
// the app keeps asking for its own acceptance if it needs one; what we store is ours.
import type { Context } from 'koa';
import { z } from 'zod';
import type { AppDeps } from '../../deps.ts';
import type { User } from '../../db/models/user.ts';
import { acceptTerms, currentTerms, type CurrentTerms } from '../../accounts/terms.ts';
import { HttpError } from '../http-error.ts';
import { render } from '../render.ts';
import { parseForm, requestContext } from '../forms.ts';
import { appNameOf, appOf, finish, type Interaction } from './interaction.ts';
import { translator } from '../../i18n/messages.ts';
import { localeOf } from '../locale.ts';

// Messages are catalog keys (locales/*/terms.json).
const termsForm = z.object({
  decision: z.enum(['accept', 'decline'], { error: 'terms.error.unreadable' }),
  version: z.string({ error: 'terms.error.unreadable' }).min(1, 'terms.error.unreadable').max(64, 'terms.error.unreadable'),
});

/** The step applies: the provider asks for the terms, and there are terms. */
function termsStep(deps: AppDeps, interaction: Interaction): { terms: CurrentTerms; accountId: string } {
  const terms = currentTerms(deps.config.policy.terms);
  const accountId = interaction.session?.accountId;
  if (interaction.prompt.name !== 'terms' || !terms) throw new HttpError(400, 'errors.step.done.title', 'errors.step.done');
  if (!accountId) throw new HttpError(400, 'errors.interaction.expired.title', 'errors.step.startAgain');
  return { terms, accountId };
}

/** GET: the terms to accept, with the app's own terms beside them when it has some. */
export async function showTerms(ctx: Context, deps: AppDeps, interaction: Interaction, extra: { error?: string; status?: number } = {}): Promise<void> {
  const { terms, accountId } = termsStep(deps, interaction);
  const user = await deps.users.findById(accountId, { email: 1, termsAccepted: 1 }).lean<Pick<User, 'email' | 'termsAccepted'>>();
  if (!user) throw new HttpError(400, 'errors.step.signInAgain.title', 'errors.step.signInAgain');
  const t = translator(localeOf(ctx));
  render(ctx, 'terms', {
    title: t('terms.title'),
    uid: interaction.uid,
    appName: appNameOf(ctx),
    app: appOf(ctx),
    email: user.email,
    terms,
    // Accepted an earlier version: the page says the terms changed.
    changed: Boolean(user.termsAccepted?.version),
    error: extra.error ?? null,
  }, extra.status ?? 200);
}

/** POST /terms: accept (stored, on to the app) or decline (access_denied to the app). */
export async function submitTerms(ctx: Context, deps: AppDeps, interaction: Interaction): Promise<void> {
  const { terms, accountId } = termsStep(deps, interaction);
  const form = parseForm(termsForm, ctx);
  if (!form.ok) return showTerms(ctx, deps, interaction, { error: 'terms.error.unreadable', status: 400 });
  if (form.data.decision === 'decline') {
    await signOutOfProvider(deps, interaction, accountId);
    return finish(ctx, deps.provider, { error: 'access_denied', error_description: 'The person declined the terms.' });
  }
  const clientId = typeof interaction.params.client_id === 'string' ? interaction.params.client_id : null;
  const result = await acceptTerms(deps, terms, { userId: accountId, version: form.data.version, clientId }, requestContext(ctx));
  if (!result.ok) {
    // The terms changed while the page was open: nothing accepted, the new version shown.
    if (result.reason === 'stale') return showTerms(ctx, deps, interaction, { error: 'terms.error.changed', status: 409 });
    throw new HttpError(400, 'errors.step.signInAgain.title', 'errors.step.signInAgain');
  }
  // The provider checks the account again (its terms prompt) and goes on to consent or the app.
  // With the sign-in just done (the last submission): an app that asked for a fresh sign-in
  // (prompt=login) finds it answered, instead of asking for it again.
  await finish(ctx, deps.provider, { ...(interaction.lastSubmission ?? {}), terms: { accepted: result.acceptance.version } });
}

/**
 * Declining ends the sign-in, not only this authorization: the browser's provider session
 * forgets the account (kept under the same id, so the app still gets its access_denied).
 * Otherwise a shared computer would stay signed in to an account that cannot use any app,
 * one "Accept" away for the next person.
 */
async function signOutOfProvider(deps: AppDeps, interaction: Interaction, accountId: string): Promise<void> {
  const sessionId = (interaction.session as { cookie?: string } | undefined)?.cookie;
  const session = sessionId ? await deps.provider.Session.find(sessionId) : undefined;
  if (!session || session.accountId !== accountId) return;
  Object.assign(session, { accountId: undefined, loginTs: undefined, acr: undefined, amr: undefined, authorizations: {} });
  await session.persist();
}
