// Changing one's own password with the current one (portal and API).
import type { User } from '../db/models/user.ts';
import type { RequestContext } from './audit.ts';
import type { PasswordFlowDeps } from './password-links.ts';
import type { PasswordIssue } from './password-policy.ts';
import { accountSubject } from './lockout.ts';
import { passwordIssues, storePassword } from './set-password.ts';
import { revokeAccountAccess } from './revocation.ts';

export type ChangePasswordResult =
  | { ok: true; signedOutOthers: boolean }
  | { ok: false; reason: 'wrong_current_password' | 'locked' | 'not_found' }
  | { ok: false; reason: 'policy'; issues: PasswordIssue[] };

export async function changePassword(
  deps: PasswordFlowDeps,
  userId: string,
  input: { currentPassword: string; newPassword: string; signOutOtherSessions: boolean; keepSessionUid?: string | null; keepGrantId?: string | null },
  context: RequestContext = {},
): Promise<ChangePasswordResult> {
  const user = await deps.users.findById(userId).lean<User>();
  if (!user || user.status !== 'active' || !user.passwordHash) return { ok: false, reason: 'not_found' };

  // The current password is a sign-in in disguise: the same counter and lock apply.
  const subject = accountSubject(user._id);
  const [locked, matches] = await Promise.all([deps.lockout.isLocked(subject), deps.hasher.verify(user.passwordHash, input.currentPassword)]);
  if (locked || !matches) {
    await deps.lockout.recordFailure(subject, { userId: user._id });
    await deps.audit.record('signin.failed', user._id, context, { reason: locked ? 'locked' : 'wrong_password', during: 'password_change' });
    return { ok: false, reason: locked ? 'locked' : 'wrong_current_password' };
  }

  const issues = await passwordIssues(deps, user, input.newPassword);
  if (issues.length) return { ok: false, reason: 'policy', issues };

  await storePassword(deps, user, input.newPassword);
  if (input.signOutOtherSessions) await revokeAccountAccess(deps.db, user._id, { keepSessionUid: input.keepSessionUid, keepGrantId: input.keepGrantId });
  await deps.audit.record('password.changed', user._id, context, { signedOutOthers: input.signOutOtherSessions });
  deps.mailer.send('password_changed', {
    to: user.email, locale: [user.locale, context.locale], name: user.name || undefined, when: new Date(), ip: context.ip ?? undefined,
    link: deps.urls.forgotPassword(),
  });
  return { ok: true, signedOutOthers: input.signOutOtherSessions };
}
