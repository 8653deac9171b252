// Paths of the pages that emails and other pages link to, in one place: the
// route map (routes.ts) serves them and the links in emails (emailUrls) point at
// them, so the two cannot drift apart.
import type { EmailUrls } from '../accounts/password-links.ts';

export const PAGES = {
  forgotPassword: '/password/forgot',
  resetPassword: '/password/reset',
  setPassword: '/password/set',
  resendLink: '/password/resend',
  signUp: '/signup',
  verifyEmail: '/email/verify',
  accountPassword: '/account/password',
  // Change of email (web/account/email.ts): confirming the new address, undoing from the old one.
  confirmEmailChange: '/email/change',
  undoEmailChange: '/email/change/undo',
} as const;

/** Where each emailed link lands; the token rides in the query, never in a path we log. */
const LINK_PAGES = {
  invite: PAGES.setPassword,
  reset: PAGES.resetPassword,
  verify_email: PAGES.verifyEmail,
  email_change: PAGES.confirmEmailChange,
  email_change_undo: PAGES.undoEmailChange,
} as const;

/** The absolute URLs emails carry, under the issuer. */
export function emailUrls(issuer: string): EmailUrls {
  return {
    link(purpose, token) {
      const url = new URL(LINK_PAGES[purpose], issuer);
      url.searchParams.set('token', token);
      return url.href;
    },
    forgotPassword: () => new URL(PAGES.forgotPassword, issuer).href,
  };
}
