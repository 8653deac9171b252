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
import { isMessageKey, translator, type MessageValues, type Translate } from '../../i18n/messages.ts';
import { localeOf } from '../locale.ts';
import { formatDate, formatDateTime, portalOf, portalT, renderPortal, seeOther } from './page.ts';
import { freshSignInPath } from './session.ts';

/**
 * How recently the password must have been entered, for confirming an enrolment:
 * starting it needed a recent sign-in (`recentMs`, policy lifetimes.recentSignInMinutes),
 * and the enrolment lasts ENROLMENT_MS, so a person scanning the code slowly is not sent away.
 */
export const confirmSignInMs = (recentMs: number) => recentMs + ENROLMENT_MS;

const PAGE = '/account/security';
const escapeAttribute = (value: string) => value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const id = (message: string) => z.string({ error: message }).regex(/^[\w-]{1,100}$/, message);

// Messages are keys of locales/<lang>/portal.json (values, where a message has them, given where it is shown).
const confirmForm = z.object({
  enrolmentId: id('portal.totp.error.setupUnreadable'),
  code: text('portal.totp.error.codeMissing').trim().min(1, 'portal.totp.error.codeMissing').max(32, 'portal.totp.error.codeTooLong'),
});
const removeForm = z.object({ factorId: id('portal.removeFactor.error.choose'), confirm: z.literal('yes').optional().catch(undefined) });
const passkeyForm = z.object({
  name: z.string({ error: 'portal.passkey.error.nameMissing' }).max(PASSKEY_NAME_MAX * 4, 'portal.passkey.error.nameTooLong').optional(),
  credential: z.string({ error: 'portal.passkey.error.notSent' }).min(2, 'portal.passkey.error.notSent').max(12_000, 'portal.passkey.error.notSent'),
});
const renameForm = z.object({
  factorId: id('portal.passkey.error.choose'),
  name: text('portal.passkey.error.nameMissing').trim().min(1, 'portal.passkey.error.nameMissing').max(PASSKEY_NAME_MAX, 'portal.passkey.error.nameMax'),
});

const REGISTER_FAILED: Record<Exclude<RegisterPasskeyResult, { ok: true }>['reason'], string> = {
  malformed: 'portal.passkey.error.malformed',
  invalid: 'portal.passkey.error.invalid',
  already_registered: 'portal.passkey.error.alreadyRegistered',
  too_many: 'portal.passkey.error.tooMany',
};

const CONFIRM_FAILED: Record<Exclude<ConfirmEnrolmentResult, { ok: true }>['reason'], string> = {
  wrong_code: 'portal.totp.error.wrongCode',
  expired: 'portal.totp.error.expired',
  too_many_attempts: 'portal.totp.error.tooManyAttempts',
  not_found: 'portal.totp.error.notFound',
};

/**
 * Lets the request through only when the person entered their password within
 * `maxAgeMs` (the portal session's authTime, from the ID token). Otherwise a GET goes
 * through the provider's sign-in again and comes back; a POST changes nothing and says so
 * (its link signs in again and comes back to `returnTo`).
 */
export function recentSignIn(maxAgeMs: number, returnTo: string = PAGE): Middleware {
  return async (ctx: Context, next: Next) => {
    const { authTime } = portalOf(ctx).session;
    if (authTime && Date.now() - authTime.getTime() <= maxAgeMs) return next();
    ctx.set('Cache-Control', 'no-store');
    if (ctx.method === 'GET' || ctx.method === 'HEAD') return ctx.redirect(freshSignInPath(ctx.originalUrl));
    const t = translator(localeOf(ctx));
    render(ctx, 'account/message', {
      title: t('portal.session.recentTitle'),
      message: t('portal.session.recent'),
      link: { href: freshSignInPath(returnTo), text: t('portal.session.signInAgain') },
    }, 401);
  };
}

export async function showSecurity(ctx: Context, deps: AppDeps): Promise<void> {
  const { user } = portalOf(ctx);
  const locale = localeOf(ctx);
  const factors = await factorsOf(deps.factors, user._id);
  const describe = (kind: 'totp' | 'recovery_codes') => {
    const factor = factors.find((f) => f.kind === kind);
    return factor && {
      id: factor.id,
      added: formatDate(factor.createdAt, locale),
      lastUsed: factor.lastUsedAt ? formatDateTime(factor.lastUsedAt, locale) : null,
      remaining: factor.remainingCodes,
      count: factor.codeCount,
    };
  };
  const passkeys = (await passkeysOf(deps.factors, user._id)).map((p) => ({
    id: p.id, name: p.name, synced: p.synced, added: formatDate(p.createdAt, locale), lastUsed: p.lastUsedAt ? formatDateTime(p.lastUsedAt, locale) : null,
  }));
  renderPortal(ctx, 'security', 'security', {
    title: 'portal.security.title', totp: describe('totp') ?? null, recovery: describe('recovery_codes') ?? null, passkeys, errors: {},
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
  const t = portalT(ctx);
  const form = parseForm(passkeyForm, ctx);
  const result: RegisterPasskeyResult = form.ok
    ? await registerPasskey(deps.factors, {
      userId: user._id, binding: `portal:${session._id}`, response: form.data.credential,
      name: passkeyName(form.data.name, defaultPasskeyName(ctx.get('user-agent'), t)), context: requestContext(ctx),
    })
    : { ok: false, reason: 'malformed' };
  if (result.ok) return seeOther(ctx, PAGE, 'passkey_added');
  throw new HttpError(result.reason === 'too_many' ? 409 : 400, t('portal.passkey.error.notAddedTitle'), t(REGISTER_FAILED[result.reason]));
}

export async function submitRenamePasskey(ctx: Context, deps: AppDeps): Promise<void> {
  const { user } = portalOf(ctx);
  const t = portalT(ctx);
  const form = parseForm(renameForm, ctx);
  if (!form.ok) {
    const message = Object.values(form.errors)[0] ?? 'portal.passkey.error.nameMissing';
    throw new HttpError(400, t('portal.passkey.error.notRenamedTitle'), sayError(t, message, { max: PASSKEY_NAME_MAX }));
  }
  if (!(await renamePasskey(deps.factors, user._id, form.data.factorId, form.data.name))) {
    throw new HttpError(404, t('portal.error.notFoundTitle'), t('portal.passkey.error.notFound'));
  }
  seeOther(ctx, PAGE, 'passkey_renamed');
}

/** A form error for an error page: a key of the catalog translated, anything else (shared helpers' English) as it is. */
function sayError(t: Translate, message: string, values?: MessageValues): string {
  return isMessageKey(message) ? t(message, values) : message;
}

/** "Chrome on macOS", in the page's language: a name to start from, which the person can change. */
function defaultPasskeyName(userAgent: string, t: Translate): string {
  const browser = /Edg\//.test(userAgent) ? 'Edge' : /Firefox\//.test(userAgent) ? 'Firefox' : /Chrom(e|ium)\//.test(userAgent) ? 'Chrome' : /Safari\//.test(userAgent) ? 'Safari' : null;
  const system = /Android/.test(userAgent) ? 'Android' : /iPhone|iPad/.test(userAgent) ? 'iOS' : /Mac OS X/.test(userAgent) ? 'macOS' : /Windows/.test(userAgent) ? 'Windows' : /Linux/.test(userAgent) ? 'Linux' : null;
  return browser && system ? t('portal.device', { browser, os: system }) : browser ?? system ?? t('portal.passkey');
}

/** Starts an enrolment and shows its QR code and secret (this once), with the field for the first code. */
export async function submitStartTotp(ctx: Context, deps: AppDeps): Promise<void> {
  const { user } = portalOf(ctx);
  const enrolment = await startTotpEnrolment(deps.factors, user._id, { issuer: new URL(deps.config.issuer).host, account: user.email });
  renderPortal(ctx, 'security-totp', 'security', {
    title: 'portal.totp.title',
    enrolmentId: enrolment.enrolmentId,
    // Our own SVG (qrcode, from the otpauth URI); named for screen readers and given a size.
    qrSvg: enrolment.qrSvg.replace(/^<svg /, `<svg role="img" aria-label="${escapeAttribute(portalT(ctx)('portal.totp.qrLabel'))}" width="220" height="220" `),
    otpauthUri: enrolment.otpauthUri,
    secretGroups: enrolment.secretBase32.match(/.{1,4}/g)!.join(' '),
    minutes: ENROLMENT_MS / 60_000,
    errors: {},
  });
}

export async function submitConfirmTotp(ctx: Context, deps: AppDeps): Promise<void> {
  const { user } = portalOf(ctx);
  const t = portalT(ctx);
  const form = parseForm(confirmForm, ctx);
  if (!form.ok && form.errors.enrolmentId) throw new HttpError(400, t('portal.totp.error.unreadableTitle'), t('portal.totp.error.unreadable'));
  const codeForm = (errors: Record<string, string>, enrolmentId: string | null) =>
    renderPortal(ctx, 'security-totp', 'security', { title: 'portal.totp.title', enrolmentId, errors }, 400);
  if (!form.ok) return codeForm(form.errors, String((ctx.request.body as Record<string, unknown>).enrolmentId));

  const result = await confirmTotpEnrolment(deps.factors, user._id, form.data.enrolmentId, form.data.code, requestContext(ctx));
  if (result.ok) return seeOther(ctx, PAGE, result.replaced ? 'totp_replaced' : 'totp_added');
  // A wrong code: the field again. Anything else ends this setup: start again.
  if (result.reason === 'wrong_code') return codeForm({ code: CONFIRM_FAILED.wrong_code }, form.data.enrolmentId);
  // The expiry names its minutes: translated here, where the value is known.
  const reason = CONFIRM_FAILED[result.reason];
  return codeForm({ form: result.reason === 'expired' ? t(reason, { minutes: ENROLMENT_MS / 60_000 }) : reason }, null);
}

/** Ten new recovery codes, shown on this response only. */
export async function submitRecoveryCodes(ctx: Context, deps: AppDeps): Promise<void> {
  const { user } = portalOf(ctx);
  const { codes } = await generateRecoveryCodes(deps.factors, user._id, requestContext(ctx));
  // The same codes as a text file to keep, made in the page (a data: URL): never stored or served again.
  const t = portalT(ctx);
  const file = [t('portal.codes.fileHeader', { email: user.email, site: new URL(deps.config.issuer).host }), '', ...codes, ''].join('\n');
  renderPortal(ctx, 'security-recovery-codes', 'security', {
    title: 'portal.codes.title', codes, download: `data:text/plain;charset=utf-8,${encodeURIComponent(file)}`,
    downloadName: `recovery-codes-${new URL(deps.config.issuer).hostname}.txt`,
  });
}

export async function submitRemove(ctx: Context, deps: AppDeps): Promise<void> {
  const { user } = portalOf(ctx);
  const t = portalT(ctx);
  const form = parseForm(removeForm, ctx);
  if (!form.ok) throw new HttpError(400, t('portal.error.badRequestTitle'), t('portal.removeFactor.error.unreadable'));
  const factor = (await factorsOf(deps.factors, user._id)).find((f) => f.id === form.data.factorId);
  if (!factor) throw new HttpError(404, t('portal.error.notFoundTitle'), t('portal.removeFactor.error.notFound'));
  // Asked once more first: removing a way to sign in is not undone by a click.
  if (form.data.confirm !== 'yes') {
    return renderPortal(ctx, 'security-remove', 'security', {
      title: 'portal.removeFactor.title', factorId: factor.id, kind: factor.kind === 'recovery_codes' ? 'recovery' : factor.kind, name: factor.name ?? '',
    });
  }
  if (!(await removeFactor(deps.factors, user._id, factor.id, requestContext(ctx)))) {
    throw new HttpError(404, t('portal.error.notFoundTitle'), t('portal.removeFactor.error.notFound'));
  }
  seeOther(ctx, PAGE, factor.kind === 'totp' ? 'totp_removed' : factor.kind === 'passkey' ? 'passkey_removed' : 'recovery_codes_removed');
}
