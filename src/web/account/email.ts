// Changing one's email address (accounts/email-change.ts has the rules):
//
// 1. /account/email (portal, recent sign-in): the current address and a field for the
//    new one. Sending it answers the same whether the address is free or taken; the
//    page then shows the pending change until its link is used or expires.
// 2. /email/change?token=… (from the email to the new address, any browser): GET shows
//    a button and never uses the link (mail scanners open links); the POST confirms.
// 3. /email/change/undo?token=… (from the notice to the old address): a new password
//    form; the POST undoes the change and signs the account out everywhere.
import type { Context } from 'koa';
import { z } from 'zod';
import type { AppDeps } from '../../deps.ts';
import { EMAIL_MAX, emailSchema } from '../../accounts/email.ts';
import { AccountError } from '../../accounts/errors.ts';
import type { LinkState } from '../../accounts/links.ts';
import {
  cancelEmailChange, confirmEmailChange, inspectEmailChangeLink, pendingEmailChange, requestEmailChange, undoEmailChange, type EmailChangeDeps,
} from '../../accounts/email-change.ts';
import { describeIssues } from '../../accounts/password-policy.ts';
import { responseSent } from '../../background.ts';
import { translator } from '../../i18n/messages.ts';
import { HttpError } from '../http-error.ts';
import { localeOf } from '../locale.ts';
import { PAGES } from '../paths.ts';
import { render } from '../render.ts';
import { parseForm, requestContext, text } from '../forms.ts';
import { strengthWords } from '../password/strength-words.ts';
import { formatDateTime, portalOf, portalT, renderPortal, seeOther } from './page.ts';

const PAGE = '/account/email';

/** The services a change of address uses, with whom an operator's override tells the person to ask. */
export const emailChangeDeps = (deps: Pick<AppDeps, 'passwords' | 'theme' | 'config'>): EmailChangeDeps => ({
  ...deps.passwords,
  contact: deps.theme.supportEmail ?? deps.theme.supportUrl ?? null,
  portalLink: new URL('/account', deps.config.issuer).href,
});

// Messages are catalog keys (locales/<lang>/email-change.json).
const emailForm = z.object({
  email: text('portal.email.error.missing').trim().min(1, 'portal.email.error.missing').max(EMAIL_MAX, 'portal.email.error.tooLong')
    .pipe(z.string().refine((value) => emailSchema.safeParse(value).success, 'portal.email.error.invalid')),
});

const tokenOf = (ctx: Context): string => {
  const value = ctx.method === 'GET' ? ctx.query.token : (ctx.request.body as Record<string, unknown> | undefined)?.token;
  return typeof value === 'string' ? value.slice(0, 64) : '';
};

async function showForm(ctx: Context, deps: AppDeps, values: { email: string }, errors: Record<string, string> = {}, status = 200): Promise<void> {
  const { user } = portalOf(ctx);
  const pending = await pendingEmailChange(deps, user._id);
  renderPortal(ctx, 'email', 'profile', {
    title: 'portal.email.title',
    current: user.email,
    verified: user.emailVerified,
    pending: pending && { email: pending.newEmail, expires: formatDateTime(pending.expiresAt, localeOf(ctx)) },
    values,
    errors,
  }, status);
}

export async function showEmail(ctx: Context, deps: AppDeps): Promise<void> {
  await showForm(ctx, deps, { email: '' });
}

export async function submitEmail(ctx: Context, deps: AppDeps): Promise<void> {
  const { user } = portalOf(ctx);
  const form = parseForm(emailForm, ctx);
  const sent = (ctx.request.body as Record<string, unknown> | undefined)?.email;
  const values = { email: typeof sent === 'string' ? sent.slice(0, EMAIL_MAX) : '' };
  if (!form.ok) return showForm(ctx, deps, values, form.errors, 400);

  // The same budget as the other forms that email an address someone typed (forgot password, sign-up).
  const throttle = await deps.emailFormThrottle.consume(ctx.ip, form.data.email);
  if (!throttle.allowed) {
    const t = portalT(ctx);
    throw new HttpError(429, t('password.error.tooManyTitle'), t('password.error.tooManyAttempts', { minutes: Math.ceil(throttle.retryAfterSeconds / 60) }), {
      'Retry-After': String(throttle.retryAfterSeconds),
    });
  }
  try {
    await requestEmailChange(emailChangeDeps(deps), user._id, form.data.email, requestContext(ctx), { after: responseSent(ctx.res) });
  } catch (error) {
    if (error instanceof AccountError && (error.code === 'invalid_request' || error.code === 'invalid_email')) {
      return showForm(ctx, deps, values, { email: error.code === 'invalid_request' ? 'portal.email.error.same' : 'portal.email.error.invalid' }, 400);
    }
    throw error;
  }
  seeOther(ctx, PAGE);
}

/** "Cancel this change" beside a pending change: its link stops working. */
export async function submitCancelEmailChange(ctx: Context, deps: AppDeps): Promise<void> {
  const { user } = portalOf(ctx);
  const cancelled = await cancelEmailChange(deps.passwords, user._id, requestContext(ctx));
  seeOther(ctx, PAGE, cancelled ? 'email_change_cancelled' : undefined);
}

// A link that cannot be used, in words (keys emailChange.link.<kind>.title/message).
const LINK_PROBLEM: Record<LinkState, { kind: 'expired' | 'used' | 'unknown'; status: number }> = {
  expired: { kind: 'expired', status: 410 },
  used: { kind: 'used', status: 410 },
  superseded: { kind: 'unknown', status: 404 },
  unknown: { kind: 'unknown', status: 404 },
  valid: { kind: 'unknown', status: 400 },
};

function linkProblem(ctx: Context, state: LinkState): void {
  const t = translator(localeOf(ctx));
  const { kind, status } = LINK_PROBLEM[state];
  render(ctx, 'message', { title: t(`emailChange.link.${kind}.title`), message: t(`emailChange.link.${kind}.message`) }, status);
}

export async function showConfirmEmailChange(ctx: Context, deps: AppDeps): Promise<void> {
  const token = tokenOf(ctx);
  const { state, change } = await inspectEmailChangeLink(emailChangeDeps(deps), token, 'email_change');
  if (state !== 'valid' || !change) return linkProblem(ctx, state);
  ctx.set('Cache-Control', 'no-store');
  render(ctx, 'account/email-confirm', { title: translator(localeOf(ctx))('emailChange.confirm.title'), token, email: change.newEmail });
}

export async function submitConfirmEmailChange(ctx: Context, deps: AppDeps): Promise<void> {
  const result = await confirmEmailChange(emailChangeDeps(deps), tokenOf(ctx), requestContext(ctx));
  const t = translator(localeOf(ctx));
  if (!result.ok) {
    // Never why (another account may have the address): only that nothing changed.
    if (result.state === 'not_completed') return render(ctx, 'message', { title: t('emailChange.confirm.failedTitle'), message: t('emailChange.confirm.failed') }, 409);
    return linkProblem(ctx, result.state);
  }
  render(ctx, 'message', { title: t('emailChange.confirm.doneTitle'), message: t('emailChange.confirm.done', { email: result.newEmail }) });
}

const undoForm = z.object({ password: text('password.error.passwordMissing').min(1, 'password.error.passwordMissing') });

function showUndoForm(ctx: Context, deps: AppDeps, page: { token: string; email: string; errors: Record<string, string> }, status = 200): void {
  const t = translator(localeOf(ctx));
  ctx.set('Cache-Control', 'no-store');
  render(ctx, 'account/email-undo', {
    title: t('emailChange.undo.title'), token: page.token, email: page.email,
    rules: deps.policy.describeFor(t), strength: strengthWords(t), errors: page.errors,
  }, status);
}

export async function showUndoEmailChange(ctx: Context, deps: AppDeps): Promise<void> {
  const token = tokenOf(ctx);
  const { state, change } = await inspectEmailChangeLink(emailChangeDeps(deps), token, 'email_change_undo');
  if (state !== 'valid' || !change) return linkProblem(ctx, state);
  showUndoForm(ctx, deps, { token, email: change.oldEmail, errors: {} });
}

export async function submitUndoEmailChange(ctx: Context, deps: AppDeps): Promise<void> {
  const token = tokenOf(ctx);
  const form = parseForm(undoForm, ctx);
  if (!form.ok) {
    const { state, change } = await inspectEmailChangeLink(emailChangeDeps(deps), token, 'email_change_undo');
    if (state !== 'valid' || !change) return linkProblem(ctx, state);
    return showUndoForm(ctx, deps, { token, email: change.oldEmail, errors: form.errors }, 400);
  }
  const result = await undoEmailChange(emailChangeDeps(deps), token, form.data.password, requestContext(ctx));
  const t = translator(localeOf(ctx));
  if (!result.ok) {
    if (result.issues) {
      const { change } = await inspectEmailChangeLink(emailChangeDeps(deps), token, 'email_change_undo');
      return showUndoForm(ctx, deps, { token, email: change?.oldEmail ?? '', errors: { password: describeIssues(t, result.issues) } }, 400);
    }
    return linkProblem(ctx, result.state);
  }
  render(ctx, 'message', {
    title: t('emailChange.undo.doneTitle'),
    message: result.restored ? t('emailChange.undo.done', { email: result.email }) : t('emailChange.undo.notRestored'),
    next: t('emailChange.undo.next'),
  });
}

/** Where the pages are (routes.ts). */
export const EMAIL_CHANGE_PAGES = { portal: PAGE, confirm: PAGES.confirmEmailChange, undo: PAGES.undoEmailChange } as const;
