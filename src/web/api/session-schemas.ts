// The admin API's session answers (admin-sessions.ts), registered in schemas.ts so
// the OpenAPI document names them.
import { z } from 'zod';

const timestamp = z.iso.datetime({ offset: true });

export const accountSession = z.object({
  id: z.string().meta({ description: 'The session\'s id (stable for its life; not its cookie): what DELETE takes.' }),
  signedInAt: timestamp.nullable().meta({ description: 'When its sign-in finished.' }),
  lastSeenAt: timestamp.nullable().meta({ description: 'When it was last used to sign in to an app (to within a few minutes).' }),
  expiresAt: timestamp.nullable().meta({ description: 'When it ends unless used again.' }),
  ip: z.string().nullable().meta({ description: 'The address it signed in from.' }),
  userAgent: z.string().nullable().meta({ description: 'The user agent it signed in with (at most 512 characters); null when unknown.' }),
  browser: z.string().nullable().meta({ description: 'The browser, parsed from the user agent ("Chrome", "Firefox"); null when not recognised.' }),
  os: z.string().nullable().meta({ description: 'The operating system, parsed from the user agent ("Windows", "iOS"); null when not recognised.' }),
  apps: z.array(z.object({ clientId: z.string() })).meta({ description: 'The apps signed in through it (their grants end with it).' }),
}).meta({ title: 'AccountSession' });

export const accountSessionList = z.object({
  items: z.array(accountSession).meta({ description: 'The account\'s live sessions, newest sign-in first.' }),
}).meta({ title: 'AccountSessionList' });

export const SESSION_RESPONSE_SCHEMAS = {
  AccountSession: accountSession,
  AccountSessionList: accountSessionList,
} as const;
