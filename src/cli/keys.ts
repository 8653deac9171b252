// Signing-key commands: keys:rotate.
import { InvalidArgumentError, type Command } from 'commander';
import { action, examples, withServices } from './context.ts';

const MAX_GRACE_DAYS = 3650;

export function parseGraceDays(value: string): number {
  const days = /^\d+$/.test(value.trim()) ? Number(value.trim()) : Number.NaN;
  if (!Number.isSafeInteger(days)) throw new InvalidArgumentError('Must be a non-negative integer (a number of days).');
  if (days > MAX_GRACE_DAYS) throw new InvalidArgumentError(`Must be at most ${MAX_GRACE_DAYS} days.`);
  return days;
}

export function registerKeyCommands(program: Command): void {
  program
    .command('keys:rotate')
    .summary('Add new signing keys and retire the current ones')
    .description([
      'Add a new token signing key for each algorithm (RS256, ES256) and retire the current ones.',
      'Retired keys stay published in the JWKS so tokens already issued still verify; those retired',
      'longer ago than the grace period are deleted. Running servers load keys at start: restart',
      'them one at a time afterwards.',
    ].join(' '))
    .option('--grace-days <days>', 'delete keys retired more than this many days ago', parseGraceDays, 2)
    .addHelpText('after', examples('latchkey keys:rotate', 'latchkey keys:rotate --grace-days 7'))
    .action(action(async (options: { graceDays: number }) => {
      const { rotateSigningKeys } = await import('../oidc/keys.ts');
      const { added, removed } = await withServices(({ services }) =>
        rotateSigningKeys(services.db, { graceDays: options.graceDays }));
      console.log('added signing keys (the previous ones are retired):');
      for (const key of added) console.log(`  ${key}`);
      console.log(`removed ${removed} retired key${removed === 1 ? '' : 's'} older than ${options.graceDays} day${options.graceDays === 1 ? '' : 's'}`);
      console.log('Restart running Latchkey servers one at a time so they sign with the new keys.');
    }));
}
