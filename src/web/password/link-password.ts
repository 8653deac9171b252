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
import { localeOf } from '../locale.ts';
import { translator } from '../../i18n/messages.ts';
import { describeIssues } from '../../accounts/password-policy.ts';
import { strengthWords } from './strength-words.ts';
import { markPasswordSetHere } from '../new-browser-signin.ts';

type Purpose = 'invite' | 'reset';

// Each purpose's words, as catalog keys (locales/*/password.json).
const COPY: Record<Purpose, { title: string; lead: string; button: string; doneTitle: string; done: string }> = {
  reset: {
    title: 'password.reset.title',
    lead: 'password.reset.lead',
    button: 'password.reset.submit',
    doneTitle: 'password.reset.doneTitle',
    done: 'password.reset.done',
  },
  invite: {
    title: 'password.invite.title',
    lead: 'password.invite.lead',
    button: 'password.invite.submit',
    doneTitle: 'password.invite.doneTitle',
    done: 'password.invite.done',
  },
};

const passwordForm = z.object({
  token: z.string().max(64).catch(''),
  password: text('password.error.passwordMissing').min(1, 'password.error.passwordMissing'),
});

/** The set-password page of `purpose` for `email`, in the request's language. */
function showForm(ctx: Context, deps: AppDeps, purpose: Purpose, page: { token: string; email?: string; errors: Record<string, string> }, status = 200): void {
  const t = translator(localeOf(ctx));
  const copy = COPY[purpose];
  render(ctx, 'set-password', {
    title: t(copy.title), leadKey: copy.lead, button: t(copy.button), purpose,
    token: page.token, email: page.email ?? '', rules: deps.policy.describeFor(t), strength: strengthWords(t), errors: page.errors,
  }, status);
}

export async function showLinkPassword(ctx: Context, deps: AppDeps, purpose: Purpose): Promise<void> {
  const token = typeof ctx.query.token === 'string' ? ctx.query.token : '';
  const { state, link } = await deps.links.inspect(token, purpose);
  if (state !== 'valid') return linkProblem(ctx, state, token);
  const user = await deps.users.findById(link!.userId).lean();
  if (!user || user.status === 'disabled') return linkProblem(ctx, 'unknown', token);
  showForm(ctx, deps, purpose, { token, email: user.email, errors: {} });
}

export async function submitLinkPassword(ctx: Context, deps: AppDeps, purpose: Purpose): Promise<void> {
  const form = parseForm(passwordForm, ctx);
  const token = form.ok ? form.data.token : String((ctx.request.body as Record<string, unknown>)?.token ?? '').slice(0, 64);
  if (!form.ok) {
    const { state, link } = await deps.links.inspect(token, purpose);
    if (state !== 'valid') return linkProblem(ctx, state, token);
    const user = await deps.users.findById(link!.userId).lean();
    return showForm(ctx, deps, purpose, { token, email: user?.email, errors: form.errors }, 400);
  }

  const result = await setPasswordWithLink(deps.passwords, purpose, token, form.data.password, requestContext(ctx));
  if (!result.ok) {
    if (result.issues) {
      const t = translator(localeOf(ctx));
      return showForm(ctx, deps, purpose, { token, email: result.user.email, errors: { password: describeIssues(t, result.issues) } }, 400);
    }
    return linkProblem(ctx, result.state, token);
  }
  // The sign-in that follows in this browser is the owner's: no "new browser" email for it.
  markPasswordSetHere(ctx, result.link.userId, { secure: deps.config.secure, signInMinutes: deps.config.policy.lifetimes.signInMinutes });

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
  const t = translator(localeOf(ctx));
  render(ctx, 'message', {
    title: t(COPY[purpose].doneTitle),
    message: t(COPY[purpose].done),
    app: next.app,
    next: t('password.done.next'),
  });
}

// What each state of a link means for the person (keys: password.link.<state>.title/message).
const PROBLEM_STATUS: Record<LinkState, number> = { expired: 410, used: 410, superseded: 410, unknown: 404, valid: 400 };

export function linkProblem(ctx: Context, state: LinkState, token: string): void {
  const t = translator(localeOf(ctx));
  render(ctx, 'link-problem', {
    title: t(`password.link.${state}.title`),
    message: t(`password.link.${state}.message`),
    token: state === 'unknown' ? null : token,
  }, PROBLEM_STATUS[state]);
}

/** The link-problem page's button: a fresh link to the link's owner, same answer whatever happens. */
export async function resendLink(ctx: Context, deps: AppDeps): Promise<void> {
  const token = (ctx.request.body as Record<string, unknown> | undefined)?.token;
  for (const purpose of ['invite', 'reset', 'verify_email'] as const) {
    const { link } = await deps.links.inspect(token, purpose);
    if (link) {
      resendLinkFor(deps.passwords, link, { after: responseSent(ctx.res) }, requestContext(ctx));
      break;
    }
  }
  const t = translator(localeOf(ctx));
  render(ctx, 'message', { title: t('password.checkEmail'), message: t('password.link.resent') });
}
