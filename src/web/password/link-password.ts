// Choosing a password from an emailed link: a reset (forgot password) or an
// invitation (first password). GET shows the form and never uses the link;
// the POST that sets the password uses it.
import type { Context } from 'koa';
import { z } from 'zod';
import type { AppDeps } from '../../deps.ts';
import type { LinkState } from '../../accounts/links.ts';
import { resendLinkFor, setPasswordWithLink } from '../../accounts/password-links.ts';
import { render } from '../render.ts';
import { parseForm, requestContext, text } from '../forms.ts';
import { afterLink } from './return-to-sign-in.ts';
import { responseSent } from '../../background.ts';

type Purpose = 'invite' | 'reset';

const COPY: Record<Purpose, { title: string; lead: string; button: string; done: string }> = {
  reset: {
    title: 'Choose a new password',
    lead: 'Choose a new password for',
    button: 'Change password',
    done: 'Your password was changed, and you were signed out everywhere else.',
  },
  invite: {
    title: 'Welcome! Choose your password',
    lead: 'Choose a password for your new account',
    button: 'Set password',
    done: 'Your account is ready.',
  },
};

const passwordForm = z.object({
  token: z.string().max(64).catch(''),
  password: text('Choose a password.').min(1, 'Choose a password.'),
});

export async function showLinkPassword(ctx: Context, deps: AppDeps, purpose: Purpose): Promise<void> {
  const token = typeof ctx.query.token === 'string' ? ctx.query.token : '';
  const { state, link } = await deps.links.inspect(token, purpose);
  if (state !== 'valid') return linkProblem(ctx, state, token);
  const user = await deps.users.findById(link!.userId).lean();
  if (!user || user.status === 'disabled') return linkProblem(ctx, 'unknown', token);
  render(ctx, 'set-password', { ...COPY[purpose], purpose, token, email: user.email, rules: deps.policy.describe(), errors: {} });
}

export async function submitLinkPassword(ctx: Context, deps: AppDeps, purpose: Purpose): Promise<void> {
  const form = parseForm(passwordForm, ctx);
  const token = form.ok ? form.data.token : String((ctx.request.body as Record<string, unknown>)?.token ?? '').slice(0, 64);
  if (!form.ok) {
    const { state, link } = await deps.links.inspect(token, purpose);
    if (state !== 'valid') return linkProblem(ctx, state, token);
    const user = await deps.users.findById(link!.userId).lean();
    return render(ctx, 'set-password', { ...COPY[purpose], purpose, token, email: user?.email, rules: deps.policy.describe(), errors: form.errors }, 400);
  }

  const result = await setPasswordWithLink(deps.passwords, purpose, token, form.data.password, requestContext(ctx));
  if (!result.ok) {
    if (result.issues) {
      return render(ctx, 'set-password', {
        ...COPY[purpose], purpose, token, email: result.user.email, rules: deps.policy.describe(),
        errors: { password: result.issues.map((issue) => issue.message).join(' ') },
      }, 400);
    }
    return linkProblem(ctx, result.state, token);
  }

  // Back into the sign-in this started from, in the browser that holds it; elsewhere
  // (the link opened on another device) the password is changed and that is said.
  const next = await afterLink(ctx, deps, result.link.interactionUid, result.link.clientId, 'password_changed');
  if (next.kind === 'sign-in') {
    ctx.status = 303;
    return ctx.redirect(next.location);
  }
  // An invitation that named an app goes straight there, to start its sign-in.
  if (purpose === 'invite' && next.app?.uri) {
    ctx.status = 303;
    return ctx.redirect(next.app.uri);
  }
  render(ctx, 'message', {
    title: purpose === 'reset' ? 'Password changed' : 'Account ready',
    message: COPY[purpose].done,
    app: next.app,
    next: 'Go back to the app you use and sign in with your new password.',
  });
}

const PROBLEM: Record<LinkState, { status: number; title: string; message: string }> = {
  expired: { status: 410, title: 'This link has expired', message: 'Links we email stay valid for a limited time. We can send you a fresh one.' },
  used: { status: 410, title: 'This link was already used', message: 'Each link works once. If you still need it, we can send you a fresh one.' },
  superseded: { status: 410, title: 'A newer link was sent', message: 'Only the most recent link we sent works. Use that one, or ask for a fresh one.' },
  unknown: { status: 404, title: 'This link is not valid', message: 'It may have been copied incompletely. Ask for a fresh one below.' },
  valid: { status: 400, title: 'Something went wrong', message: 'Please try again.' },
};

export function linkProblem(ctx: Context, state: LinkState, token: string): void {
  const problem = PROBLEM[state];
  render(ctx, 'link-problem', { ...problem, token: state === 'unknown' ? null : token }, problem.status);
}

/** The link-problem page's button: a fresh link to the link's owner, same answer whatever happens. */
export async function resendLink(ctx: Context, deps: AppDeps): Promise<void> {
  const token = (ctx.request.body as Record<string, unknown> | undefined)?.token;
  for (const purpose of ['invite', 'reset', 'verify_email'] as const) {
    const { link } = await deps.links.inspect(token, purpose);
    if (link) {
      resendLinkFor(deps.passwords, link, { after: responseSent(ctx.res) });
      break;
    }
  }
  render(ctx, 'message', { title: 'Check your email', message: 'If that link was one of ours, a fresh one is on its way to the address it was sent to.' });
}
