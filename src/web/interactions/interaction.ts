// Loading the interaction behind /interaction/:uid, shared by every step.
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { errors } from 'oidc-provider';
import { HttpError } from '../http-error.ts';

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
  return new HttpError(
    400,
    'This sign-in has expired',
    'Sign-in pages stay valid for a limited time, and only in the browser that opened them. Go back to the app you came from and start again.',
  );
}

/** Hands the result to the provider and follows it back into the authorization flow. */
export async function finish(ctx: Context, provider: Provider, result: Record<string, unknown>): Promise<void> {
  const redirectTo = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
  ctx.status = 303;
  ctx.redirect(redirectTo);
}
