// Session commands for operators: user:sessions lists the browsers signed in to an
// account (as the portal shows them to the person), user:end-session ends one,
// acting as `cli` in the audit trail. Both take the account's id or email.
import type { Command } from 'commander';
import type { User } from '../db/models/user.ts';
import type { Services } from '../deps.ts';
import { CliError, action, examples, withServices } from './context.ts';
import { CLI, accountByEmail, clip, iso, json, table } from './output.ts';

/** A session id as user:sessions lists it. */
const SESSION_ID = /^[\w-]{1,64}$/;

/** The account named by its email (with an @) or its id. */
async function accountOf(services: Services, idOrEmail: string): Promise<User> {
  if (idOrEmail.includes('@')) return accountByEmail(services, idOrEmail);
  const user = idOrEmail.length <= 200 ? await services.users.findById(idOrEmail).lean<User>() : null;
  if (!user) throw new CliError(`no account with id ${clip(idOrEmail, 60)}`);
  return user;
}

export function registerSessionCommands(program: Command): void {
  userSessions(program);
  userEndSession(program);
}

function userSessions(program: Command): void {
  program
    .command('user:sessions')
    .summary('List the browsers signed in to an account')
    .description('List the account\'s live sessions at the provider: browser and system (from the user agent), when each signed in and was last used, its IP address and the apps signed in through it. user:end-session ends one.')
    .argument('<account>', 'the account\'s id or email address')
    .option('--json', 'print the sessions as JSON')
    .addHelpText('after', examples('latchkey user:sessions ada@example.com', 'latchkey user:sessions ada@example.com --json'))
    .action(action(async (account: string, options: { json?: boolean }) => {
      const [{ listSessions }, { deviceText }, { translator }] = await Promise.all([
        import('../accounts/sessions.ts'), import('../accounts/user-agent.ts'), import('../i18n/messages.ts'),
      ]);
      const { user, sessions } = await withServices(async ({ services }) => {
        const user = await accountOf(services, account);
        return { user, sessions: await listSessions(services, user._id) };
      });
      if (options.json) return json(sessions);
      const t = translator('en');
      console.log(`${sessions.length} session${sessions.length === 1 ? '' : 's'} of ${user.email}:`);
      if (!sessions.length) return;
      console.log(table(['id', 'device', 'signed in', 'last seen', 'ip', 'apps'], sessions.map((session) => [
        session.id, clip(deviceText(t, session.device), 50), iso(session.signedInAt), iso(session.lastSeenAt), clip(session.ip ?? '-', 45),
        clip(session.apps.map((app) => app.clientId).join(', ') || '-', 80),
      ])));
    }));
}

function userEndSession(program: Command): void {
  program
    .command('user:end-session')
    .summary('End one session of an account: that browser is signed out and its apps\' tokens end')
    .description('End one of the account\'s sessions, by the id user:sessions lists: that browser is signed out at the provider, and the apps signed in through it lose their grants and tokens at once. The other sessions stay. Recorded in the audit trail as session.ended, by cli.')
    .argument('<account>', 'the account\'s id or email address')
    .argument('<sessionId>', 'the session\'s id, as user:sessions lists it')
    // Session ids may begin with "-" (base64url): read as the id, not as an option.
    .allowUnknownOption()
    .addHelpText('after', examples('latchkey user:sessions ada@example.com', 'latchkey user:end-session ada@example.com V1StGXR8_Z5jdHi6B-myT'))
    .action(action(async (account: string, sessionId: string) => {
      const listed = `user:sessions ${clip(account, 60)} lists them`;
      if (!SESSION_ID.test(sessionId)) throw new CliError(`not a session id: "${clip(sessionId, 40)}" (${listed})`);
      const { endSession } = await import('../accounts/sessions.ts');
      const user = await withServices(async ({ services }) => {
        const user = await accountOf(services, account);
        // Only a live session of this account: another account's is "no such session".
        if (!(await endSession(services, user._id, sessionId, CLI))) throw new CliError(`${user.email} has no live session with id ${sessionId} (${listed})`);
        return user;
      });
      console.log(`ended session ${sessionId} of ${user.email}: that browser is signed out and its apps' tokens ended`);
    }));
}
