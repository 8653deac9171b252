// Two-step verification in the account portal (issue 12): the person's authenticator
// app and recovery codes, set up, replaced and removed here. The rules live in
// accounts/factors.ts; this file is the pages a person goes through:
//
// 1. /account/security lists the factors (kind, added, last used, codes left; never a
//    secret). Every page and form here needs a recent sign-in (recentSignInMinutes): an
//    older one goes through the provider's "Confirm it's you" first.
// 2. "Set up an authenticator app" starts an enrolment: the QR code (SVG, inline) and
//    the secret for typing in, shown once, and a field for the first code.
// 3. The first correct code makes it the account's authenticator (303 with a notice);
//    a wrong one shows the field again with the error (400).
// 4. Recovery codes: ten new ones shown once, replacing any earlier set.
// 5. Passkeys: "Add a passkey" runs the browser's WebAuthn ceremony (assets/passkey.js)
//    against a challenge bound to this portal session; the answer comes back in a form
//    with the passkey's name. Each can be renamed and removed.
// 6. Removing a factor: only one of the person's own (404 otherwise), after a page
//    that asks to confirm.
// Every change mails the person a notice and is audited (the domain does both).
import type { Context, Middleware, Next } from 'koa';
import { z } from 'zod';
import type { AppDeps } from '../../deps.ts';
import {
  confirmTotpEnrolment, ENROLMENT_MS, factorsOf, generateRecoveryCodes, removeFactor, startTotpEnrolment, type ConfirmEnrolmentResult,
} from '../../accounts/factors.ts';
import { passkeyName, passkeyRegistrationOptions, passkeysOf, registerPasskey, renamePasskey, PASSKEY_NAME_MAX, type RegisterPasskeyResult } from '../../accounts/passkeys.ts';
import { forgetTrustedBrowsers, trustedBrowserCount } from '../../accounts/trusted-browsers.ts';
import { HttpError } from '../http-error.ts';
import { render } from '../render.ts';
import { parseForm, requestContext, text } from '../forms.ts';
import { formatDate, formatDateTime, portalOf, renderPortal, seeOther } from './page.ts';
import { freshSignInPath } from './session.ts';

/**
 * How recently the password must have been entered, for confirming an enrolment:
 * starting it needed a recent sign-in (`recentMs`, policy lifetimes.recentSignInMinutes),
 * and the enrolment lasts ENROLMENT_MS, so a person scanning the code slowly is not sent away.
 */
export const confirmSignInMs = (recentMs: number) => recentMs + ENROLMENT_MS;

const PAGE = '/account/security';
const id = (message: string) => z.string({ error: message }).regex(/^[\w-]{1,100}$/, message);

const confirmForm = z.object({
  enrolmentId: id('This setup could not be read.'),
  code: text('Enter the 6-digit code from your app.').trim().min(1, 'Enter the 6-digit code from your app.').max(32, 'That code is too long.'),
});
const removeForm = z.object({ factorId: id('Choose what to remove.'), confirm: z.literal('yes').optional().catch(undefined) });
const passkeyForm = z.object({
  name: z.string({ error: 'Give the passkey a name.' }).max(PASSKEY_NAME_MAX * 4, 'That name is too long.').optional(),
  credential: z.string({ error: 'No passkey was sent.' }).min(2, 'No passkey was sent.').max(12_000, 'No passkey was sent.'),
});
const renameForm = z.object({
  factorId: id('Choose a passkey.'),
  name: text('Give the passkey a name.').trim().min(1, 'Give the passkey a name.').max(PASSKEY_NAME_MAX, `Use at most ${PASSKEY_NAME_MAX} characters.`),
});

const REGISTER_FAILED: Record<Exclude<RegisterPasskeyResult, { ok: true }>['reason'], string> = {
  malformed: 'Your browser did not send a passkey. Try again.',
  invalid: 'That passkey could not be added (it was not for this page, the request expired, or it was already used). Try again.',
  already_registered: 'That passkey is already registered.',
  too_many: 'You have as many passkeys as an account can hold. Remove one you no longer use first.',
};

const CONFIRM_FAILED: Record<Exclude<ConfirmEnrolmentResult, { ok: true }>['reason'], string> = {
  wrong_code: 'That code is not right. Enter the code your app shows now.',
  expired: `This setup expired: the first code must be entered within ${ENROLMENT_MS / 60_000} minutes. Start again and scan the new QR code.`,
  too_many_attempts: 'Too many wrong codes for this setup. Start again and scan the new QR code.',
  not_found: 'This setup is no longer open (it was finished, or started again elsewhere). Start again if you still want to add an app.',
};

/**
 * Lets the request through only when the person entered their password within
 * `maxAgeMs` (the portal session's authTime, from the ID token). Otherwise a GET goes
 * through the provider's sign-in again and comes back; a POST changes nothing and says so.
 */
export function recentSignIn(maxAgeMs: number): Middleware {
  return async (ctx: Context, next: Next) => {
    const { authTime } = portalOf(ctx).session;
    if (authTime && Date.now() - authTime.getTime() <= maxAgeMs) return next();
    ctx.set('Cache-Control', 'no-store');
    if (ctx.method === 'GET' || ctx.method === 'HEAD') return ctx.redirect(freshSignInPath(ctx.originalUrl));
    render(ctx, 'account/message', {
      title: 'Confirm it’s you',
      message: 'Changing how you sign in needs a recent sign-in, so nothing was changed. Enter your password again, then retry.',
      link: { href: freshSignInPath(PAGE), text: 'Sign in again' },
    }, 401);
  };
}

export async function showSecurity(ctx: Context, deps: AppDeps): Promise<void> {
  const { user } = portalOf(ctx);
  const factors = await factorsOf(deps.factors, user._id);
  const describe = (kind: 'totp' | 'recovery_codes') => {
    const factor = factors.find((f) => f.kind === kind);
    return factor && {
      id: factor.id,
      added: formatDate(factor.createdAt),
      lastUsed: factor.lastUsedAt ? formatDateTime(factor.lastUsedAt) : null,
      remaining: factor.remainingCodes,
      count: factor.codeCount,
    };
  };
  const passkeys = (await passkeysOf(deps.factors, user._id)).map((p) => ({
    id: p.id, name: p.name, synced: p.synced, added: formatDate(p.createdAt), lastUsed: p.lastUsedAt ? formatDateTime(p.lastUsedAt) : null,
  }));
  renderPortal(ctx, 'security', 'security', {
    title: 'Two-step verification', totp: describe('totp') ?? null, recovery: describe('recovery_codes') ?? null, passkeys, errors: {},
    trustDays: deps.config.policy.mfa.trustBrowserDays,
    trustedBrowsers: await trustedBrowserCount(deps.factors, user._id),
  });
}

/** Ends every "don't ask again on this browser": the next sign-in on each asks for the second step. */
export async function submitForgetBrowsers(ctx: Context, deps: AppDeps): Promise<void> {
  const { user } = portalOf(ctx);
  const forgotten = await forgetTrustedBrowsers(deps.factors, user._id);
  if (forgotten) await deps.audit.record('browsers.forgotten', user._id, requestContext(ctx), { count: forgotten });
  seeOther(ctx, PAGE, 'browsers_forgotten');
}

/** The registration's challenge, bound to this portal session, as JSON for the page's script. */
export async function passkeyRegistration(ctx: Context, deps: AppDeps): Promise<void> {
  const { user, session } = portalOf(ctx);
  ctx.set('Cache-Control', 'no-store');
  ctx.body = await passkeyRegistrationOptions(deps.factors, user._id, `portal:${session._id}`);
}

/** The browser's new passkey, with its name: stored, or the page again saying why not. */
export async function submitPasskey(ctx: Context, deps: AppDeps): Promise<void> {
  const { user, session } = portalOf(ctx);
  const form = parseForm(passkeyForm, ctx);
  const result: RegisterPasskeyResult = form.ok
    ? await registerPasskey(deps.factors, {
      userId: user._id, binding: `portal:${session._id}`, response: form.data.credential,
      name: passkeyName(form.data.name, defaultPasskeyName(ctx.get('user-agent'))), context: requestContext(ctx),
    })
    : { ok: false, reason: 'malformed' };
  if (result.ok) return seeOther(ctx, PAGE, 'passkey_added');
  throw new HttpError(result.reason === 'too_many' ? 409 : 400, 'Passkey not added', REGISTER_FAILED[result.reason]);
}

export async function submitRenamePasskey(ctx: Context, deps: AppDeps): Promise<void> {
  const { user } = portalOf(ctx);
  const form = parseForm(renameForm, ctx);
  if (!form.ok) throw new HttpError(400, 'Passkey not renamed', Object.values(form.errors)[0] ?? 'Give the passkey a name.');
  if (!(await renamePasskey(deps.factors, user._id, form.data.factorId, form.data.name))) {
    throw new HttpError(404, 'Not found', 'Your account has no such passkey. It may have been removed already.');
  }
  seeOther(ctx, PAGE, 'passkey_renamed');
}

/** "Chrome on macOS": a name to start from, which the person can change. */
function defaultPasskeyName(userAgent: string): string {
  const browser = /Edg\//.test(userAgent) ? 'Edge' : /Firefox\//.test(userAgent) ? 'Firefox' : /Chrom(e|ium)\//.test(userAgent) ? 'Chrome' : /Safari\//.test(userAgent) ? 'Safari' : null;
  const system = /Android/.test(userAgent) ? 'Android' : /iPhone|iPad/.test(userAgent) ? 'iOS' : /Mac OS X/.test(userAgent) ? 'macOS' : /Windows/.test(userAgent) ? 'Windows' : /Linux/.test(userAgent) ? 'Linux' : null;
  return browser && system ? `${browser} on ${system}` : browser ?? system ?? 'Passkey';
}

/** Starts an enrolment and shows its QR code and secret (this once), with the field for the first code. */
export async function submitStartTotp(ctx: Context, deps: AppDeps): Promise<void> {
  const { user } = portalOf(ctx);
  const enrolment = await startTotpEnrolment(deps.factors, user._id, { issuer: new URL(deps.config.issuer).host, account: user.email });
  renderPortal(ctx, 'security-totp', 'security', {
    title: 'Set up an authenticator app',
    enrolmentId: enrolment.enrolmentId,
    // Our own SVG (qrcode, from the otpauth URI); named for screen readers and given a size.
    qrSvg: enrolment.qrSvg.replace(/^<svg /, '<svg role="img" aria-label="QR code to scan with your authenticator app" width="220" height="220" '),
    otpauthUri: enrolment.otpauthUri,
    secretGroups: enrolment.secretBase32.match(/.{1,4}/g)!.join(' '),
    minutes: ENROLMENT_MS / 60_000,
    errors: {},
  });
}

export async function submitConfirmTotp(ctx: Context, deps: AppDeps): Promise<void> {
  const { user } = portalOf(ctx);
  const form = parseForm(confirmForm, ctx);
  if (!form.ok && form.errors.enrolmentId) throw new HttpError(400, 'Request not understood', 'This setup could not be read. Start again from your security page.');
  const codeForm = (errors: Record<string, string>, enrolmentId: string | null) =>
    renderPortal(ctx, 'security-totp', 'security', { title: 'Set up an authenticator app', enrolmentId, errors }, 400);
  if (!form.ok) return codeForm(form.errors, String((ctx.request.body as Record<string, unknown>).enrolmentId));

  const result = await confirmTotpEnrolment(deps.factors, user._id, form.data.enrolmentId, form.data.code, requestContext(ctx));
  if (result.ok) return seeOther(ctx, PAGE, result.replaced ? 'totp_replaced' : 'totp_added');
  // A wrong code: the field again. Anything else ends this setup: start again.
  if (result.reason === 'wrong_code') return codeForm({ code: CONFIRM_FAILED.wrong_code }, form.data.enrolmentId);
  return codeForm({ form: CONFIRM_FAILED[result.reason] }, null);
}

/** Ten new recovery codes, shown on this response only. */
export async function submitRecoveryCodes(ctx: Context, deps: AppDeps): Promise<void> {
  const { user } = portalOf(ctx);
  const { codes } = await generateRecoveryCodes(deps.factors, user._id, requestContext(ctx));
  renderPortal(ctx, 'security-recovery-codes', 'security', { title: 'Your recovery codes', codes });
}

export async function submitRemove(ctx: Context, deps: AppDeps): Promise<void> {
  const { user } = portalOf(ctx);
  const form = parseForm(removeForm, ctx);
  if (!form.ok) throw new HttpError(400, 'Request not understood', 'Choose what to remove from your security page.');
  const factor = (await factorsOf(deps.factors, user._id)).find((f) => f.id === form.data.factorId);
  if (!factor) throw new HttpError(404, 'Not found', 'Your account has no such sign-in method. It may have been removed already.');
  const described = factor.kind === 'passkey' ? `the passkey “${factor.name}”` : factor.kind === 'totp' ? 'your authenticator app' : 'your recovery codes';
  // Asked once more first: removing a way to sign in is not undone by a click.
  if (form.data.confirm !== 'yes') {
    return renderPortal(ctx, 'security-remove', 'security', { title: 'Remove a sign-in method', factorId: factor.id, described });
  }
  if (!(await removeFactor(deps.factors, user._id, factor.id, requestContext(ctx)))) {
    throw new HttpError(404, 'Not found', 'Your account has no such sign-in method. It may have been removed already.');
  }
  seeOther(ctx, PAGE, factor.kind === 'totp' ? 'totp_removed' : factor.kind === 'passkey' ? 'passkey_removed' : 'recovery_codes_removed');
}
