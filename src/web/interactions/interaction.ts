// Loading the interaction behind /interaction/:uid, shared by every step.
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { errors } from 'oidc-provider';
import type { AppDeps } from '../../deps.ts';
import { HttpError } from '../http-error.ts';
import { isFirstParty, isHttpsUrl } from '../../oidc/provider.ts';
import { allowImagesFrom } from '../middleware/security-headers.ts';
import { translator } from '../../i18n/messages.ts';
import { localeOf } from '../locale.ts';

export type Interaction = Awaited<ReturnType<Provider['interactionDetails']>>;

/**
 * The interaction this browser is in. An unknown, expired or foreign one
 * becomes a friendly "start again" page, never an error trace.
 */
export async function loadInteraction(ctx: Context, provider: Provider): Promise<Interaction> {
  let interaction: Interaction;
  try {
    interaction = await provider.interactionDetails(ctx.req, ctx.res);
  } catch (error) {
    if (error instanceof errors.SessionNotFound) throw expired();
    throw error;
  }
  if (interaction.uid !== ctx.params.uid) throw expired();
  return interaction;
}

function expired(): HttpError {
  // Sign-in pages stay valid for a limited time, and only in the browser that opened them.
  return new HttpError(400, 'errors.interaction.expired.title', 'errors.interaction.expired.message');
}

/** Hands the result to the provider and follows it back into the authorization flow. */
export async function finish(ctx: Context, provider: Provider, result: Record<string, unknown>): Promise<void> {
  const loaded = ctx.state.interaction as Interaction | undefined;
  let redirectTo: string;
  if (loaded) {
    // What provider.interactionResult does, on the interaction this request already
    // loaded (withInteraction) rather than reading it again: one database read less.
    loaded.result = result;
    await loaded.save(Math.max(1, loaded.exp - Math.floor(Date.now() / 1000)));
    redirectTo = loaded.returnTo;
  } else {
    redirectTo = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
  }
  ctx.status = 303;
  ctx.redirect(redirectTo);
}

type ClientBranding = { clientId: string; clientName?: string; logoUri?: string; clientUri?: string; policyUri?: string; tosUri?: string } & Record<string, unknown>;

/**
 * The name of the app this sign-in is for (withInteraction loads its client), for the
 * step's page: in the page's language when the app registered one (client_name#de).
 */
export function appNameOf(ctx: Context): string {
  const client = ctx.state.client as ClientBranding | undefined;
  const localized = client?.[`client_name#${localeOf(ctx)}`];
  return (typeof localized === 'string' ? localized : undefined) ?? client?.clientName ?? client?.clientId ?? translator(localeOf(ctx))('common.theApp');
}

/** What a page where the person decides shows of the app (RFC 7591 metadata): its name, logo and links. */
export function appOf(ctx: Context): { name: string; logoUri: string | null; clientUri: string | null; policyUri: string | null; tosUri: string | null } {
  const client = ctx.state.client as ClientBranding | undefined;
  const https = (value: unknown) => (isHttpsUrl(value) ? value : null);
  return {
    name: appNameOf(ctx),
    logoUri: https(client?.logoUri),
    clientUri: https(client?.clientUri),
    policyUri: https(client?.policyUri),
    tosUri: https(client?.tosUri),
  };
}

/** A step of the interaction: loads it (and its client, for the page), never cached. */
export function withInteraction(deps: AppDeps, step: (ctx: Context, interaction: Interaction) => Promise<void> | void) {
  return async (ctx: Context): Promise<void> => {
    ctx.set('Cache-Control', 'no-store');
    const interaction = await loadInteraction(ctx, deps.provider);
    ctx.state.interaction = interaction;
    ctx.state.client = await deps.provider.Client.find(interaction.params.client_id as string);
    // The app's ui_locales come first for this sign-in's pages (web/locale.ts).
    ctx.state.uiLocales = interaction.params.ui_locales;
    // Its logo (https only, checked at registration) may show on these pages: exactly its origin, nothing more.
    const logo = (ctx.state.client as ClientBranding | undefined)?.logoUri;
    if (isHttpsUrl(logo)) allowImagesFrom(ctx, new URL(logo).origin);
    await step(ctx, interaction);
  };
}

/** Which page a GET of /interaction/:uid shows: the step the provider asks for. */
export function showStep(deps: AppDeps, steps: { login: Step; consent: Step; terms?: Step }) {
  return withInteraction(deps, async (ctx, interaction) => {
    switch (interaction.prompt.name) {
      case 'login':
        return steps.login(ctx, interaction);
      case 'consent':
        // First-party grants are made in loadExistingGrant; this only shows for other apps.
        if (isFirstParty(ctx.state.client)) return finish(ctx, deps.provider, { consent: {} });
        return steps.consent(ctx, interaction);
      case 'terms':
        // The organisation's terms, not accepted in their current version (oidc/provider.ts termsPrompt).
        if (steps.terms) return steps.terms(ctx, interaction);
        return finish(ctx, deps.provider, { error: 'interaction_required', error_description: 'This step is not supported.' });
      default:
        return finish(ctx, deps.provider, { error: 'interaction_required', error_description: 'This step is not supported.' });
    }
  });
}

type Step = (ctx: Context, interaction: Interaction) => Promise<void> | void;

/** One sign-in attempt (a password or a code) against the per-IP and per-email throttles; 429 with Retry-After when spent. */
export async function consumeSignInThrottle(ctx: Context, deps: AppDeps, email: string): Promise<void> {
  const throttle = await deps.throttle.consume(ctx.ip, email);
  if (!throttle.allowed) {
    throw new HttpError(429, 'errors.interaction.throttled.title', 'errors.interaction.throttled.message', {
      'Retry-After': String(throttle.retryAfterSeconds),
    }, { minutes: Math.ceil(throttle.retryAfterSeconds / 60) });
  }
}
