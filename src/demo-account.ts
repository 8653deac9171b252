// The quick start's demo account: created once with a random password, which is
// printed once on the console (never logged) so a newcomer can try a sign-in.
import { randomBytes } from 'node:crypto';
import type { Services } from './deps.ts';
import { createUser, findUserByEmail } from './accounts/users.ts';

export const DEMO_EMAIL = 'demo@example.com';

export async function ensureDemoAccount(deps: Services): Promise<{ email: string; password?: string }> {
  if (await findUserByEmail(deps.users, DEMO_EMAIL)) return { email: DEMO_EMAIL };
  // Random, and free of the email's words so the password policy accepts it.
  const password = randomBytes(12).toString('base64url');
  await createUser(deps, { email: DEMO_EMAIL, password, name: 'Demo Person' });
  await deps.users.updateOne({ emailNormalized: DEMO_EMAIL }, { $set: { emailVerified: true } });
  return { email: DEMO_EMAIL, password };
}
