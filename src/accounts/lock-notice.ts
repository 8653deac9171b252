// The email an account's owner gets when failed sign-ins lock it (once per lock: the
// attempt that crossed the limit sends it). The sign-in page says nothing more than
// "incorrect, or locked" to whoever typed; the owner learns here when it ends and how
// to get back in at once (a password reset, which also clears the lock).
import type { User } from '../db/models/user.ts';
import type { Mailer } from '../mail/mailer.ts';
import type { RequestContext } from './audit.ts';
import type { EmailUrls } from './password-links.ts';

export interface LockNoticeDeps {
  mailer: Pick<Mailer, 'send'>;
  urls: Pick<EmailUrls, 'forgotPassword'>;
}

export function tellOwnerOfLock(deps: LockNoticeDeps, user: Pick<User, 'email' | 'name' | 'locale'>, until: Date | null, context: RequestContext = {}): void {
  deps.mailer.send('account_locked', {
    to: user.email, name: user.name || undefined, locale: [user.locale, context.locale],
    when: until ?? new Date(), link: deps.urls.forgotPassword(),
  });
}
