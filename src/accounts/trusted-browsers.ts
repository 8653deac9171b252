// "Don't ask again on this browser" (policy mfa.trustBrowserDays, 0: off): after a
// second step, the person may trust the browser for some days, so a sign-in there with
// the password alone is enough, where nothing requires two-step (the app, the policy,
// an operator or acr_values: then the step is asked for anyway, and the sign-in reports
// only what was done: amr pwd).
//
// The trust is bound to the signed device cookie's id and the account, kept in MongoDB
// (every instance sees it), and ends: on its date; when the password changes after it
// was given; when the account's factors are reset or it signs out everywhere
// (forgetTrustedBrowsers); when the person forgets them in the portal.
import type { TrustedBrowserModel } from '../db/models/trusted-browser.ts';
import type { User } from '../db/models/user.ts';
import type { TrustedDevice } from './signin.ts';

export interface TrustedBrowserDeps {
  trustedBrowsers: TrustedBrowserModel;
}

const keyOf = (userId: string, deviceId: string) => `${userId}:${deviceId}`;

/** Trusts `device` for its account for `days` (replacing an earlier trust of it). */
export async function trustBrowser(deps: TrustedBrowserDeps, device: TrustedDevice, days: number, now = new Date()): Promise<void> {
  await deps.trustedBrowsers.replaceOne(
    { _id: keyOf(device.userId, device.deviceId) },
    { userId: device.userId, deviceId: device.deviceId, createdAt: now, expiresAt: new Date(now.getTime() + days * 86_400_000) },
    { upsert: true },
  );
}

/** Whether the browser holding `device` is trusted by `user` now. */
export async function isTrustedBrowser(deps: TrustedBrowserDeps, device: TrustedDevice | null, user: Pick<User, '_id' | 'passwordChangedAt'>, now = new Date()): Promise<boolean> {
  if (!device || device.userId !== user._id) return false;
  const trust = await deps.trustedBrowsers.findOne({ _id: keyOf(user._id, device.deviceId), expiresAt: { $gt: now } }).lean();
  // A password changed since the trust was given ends it (someone else may have had the old one).
  return Boolean(trust) && !(user.passwordChangedAt && user.passwordChangedAt > trust!.createdAt);
}

/** How many browsers the account trusts now. */
export function trustedBrowserCount(deps: TrustedBrowserDeps, userId: string, now = new Date()): Promise<number> {
  return deps.trustedBrowsers.countDocuments({ userId, expiresAt: { $gt: now } });
}

/** Ends every trust the account gave: the next sign-in on each browser asks for the second step. */
export async function forgetTrustedBrowsers(deps: TrustedBrowserDeps, userId: string): Promise<number> {
  return (await deps.trustedBrowsers.deleteMany({ userId })).deletedCount;
}
