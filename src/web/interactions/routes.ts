// The hosted steps of an authorization: /interaction/:uid shows whichever step
// the provider asks for; each POST completes one step.
import Router from '@koa/router';
import type { Context } from 'koa';
import type { AppDeps } from '../../deps.ts';
import { formBody } from '../middleware/form-body.ts';
import { isFirstParty } from '../../oidc/provider.ts';
import { loadInteraction, finish, type Interaction } from './interaction.ts';
import { showLogin, submitLogin } from './login.ts';
import { showConsent, submitConsent, abort } from './consent.ts';
import { submitForcedChange } from './change-password.ts';

export function interactionRoutes(deps: AppDeps, csrf: { verify: (ctx: Context, next: () => Promise<void>) => Promise<void> }): Router {
  const router = new Router({ prefix: '/interaction/:uid' });

  const withInteraction = (step: (ctx: Context, interaction: Interaction) => Promise<void> | void) => async (ctx: Context) => {
    ctx.set('Cache-Control', 'no-store');
    const interaction = await loadInteraction(ctx, deps.provider);
    ctx.state.client = await deps.provider.Client.find(interaction.params.client_id as string);
    await step(ctx, interaction);
  };

  router.get('/', withInteraction(async (ctx, interaction) => {
    switch (interaction.prompt.name) {
      case 'login':
        return showLogin(ctx, deps, interaction);
      case 'consent':
        // First-party grants are made in loadExistingGrant; this only shows for other apps.
        if (isFirstParty(ctx.state.client)) return finish(ctx, deps.provider, { consent: {} });
        return showConsent(ctx, interaction);
      default:
        return abortUnknown(ctx, deps);
    }
  }));

  router.post('/login', formBody, csrf.verify, withInteraction((ctx, interaction) => submitLogin(ctx, deps, interaction)));
  router.post('/change-password', formBody, csrf.verify, withInteraction((ctx, interaction) => submitForcedChange(ctx, deps, interaction)));
  router.post('/confirm', formBody, csrf.verify, withInteraction((ctx, interaction) => submitConsent(ctx, deps, interaction)));
  router.post('/abort', formBody, csrf.verify, withInteraction((ctx) => abort(ctx, deps)));

  return router;
}

async function abortUnknown(ctx: Context, deps: AppDeps): Promise<void> {
  await finish(ctx, deps.provider, { error: 'interaction_required', error_description: 'This step is not supported.' });
}
