// The sign-in page itself (email and password), shown by the steps that start or restart a
// sign-in: login.ts, passkey.ts and restore.ts.
import type { Context } from 'koa';
import type { AppDeps } from '../../deps.ts';
import { EMAIL_MAX } from '../../accounts/email.ts';
import { translator } from '../../i18n/messages.ts';
import { localeOf } from '../locale.ts';
import { render } from '../render.ts';
import { appNameOf, appOf, type Interaction } from './interaction.ts';

const NOTICES: Record<string, string> = {
  password_changed: 'signin.notice.passwordChanged',
  email_verified: 'signin.notice.emailVerified',
};

export async function showLogin(ctx: Context, deps: AppDeps, interaction: Interaction, extra: { email?: string; errors?: Record<string, string>; status?: number } = {}): Promise<void> {
  const hint = interaction.params.login_hint;
  // Signed in already, and the app asks for a fresh sign-in (prompt=login, max_age): the same person, again.
  const signedIn = interaction.session?.accountId
    ? await deps.users.findById(interaction.session.accountId, { email: 1 }).lean<{ email: string }>()
    : null;
  const t = translator(localeOf(ctx));
  render(ctx, 'login', {
    title: t(signedIn ? 'signin.reauth.title' : 'signin.title'),
    reauthenticate: Boolean(signedIn),
    uid: interaction.uid,
    appName: appNameOf(ctx),
    app: appOf(ctx),
    email: extra.email ?? signedIn?.email ?? (typeof hint === 'string' ? hint.slice(0, EMAIL_MAX) : ''),
    errors: extra.errors ?? {},
    notice: NOTICES[String(ctx.query.notice)] ?? null,
    signupEnabled: deps.config.policy.signup.enabled,
  }, extra.status ?? 200);
}
