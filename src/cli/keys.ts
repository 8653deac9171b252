// Signing-key commands: keys:rotate, keys:list.
import { InvalidArgumentError, type Command } from 'commander';
import { CliError, action, examples, withServices } from './context.ts';

const MAX_GRACE_DAYS = 3650;
const DAY_MS = 24 * 60 * 60_000;

export function parseGraceDays(value: string): number {
  const days = /^\d+$/.test(value.trim()) ? Number(value.trim()) : Number.NaN;
  if (!Number.isSafeInteger(days)) throw new InvalidArgumentError('Must be a non-negative integer (a number of days).');
  if (days > MAX_GRACE_DAYS) throw new InvalidArgumentError(`Must be at most ${MAX_GRACE_DAYS} days.`);
  return days;
}

/** 2025-01-31 12:00:00Z: sortable, unambiguous, one column. */
const when = (date: Date | null) => (date ? date.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '-');

function inAbout(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s <= 0) return 'now';
  if (s < 120) return `in ${s} seconds`;
  if (s < 2 * 3600) return `in ${Math.round(s / 60)} minutes`;
  if (s < 2 * 86400) return `in ${Math.round(s / 3600)} hours`;
  return `in ${Math.round(s / 86400)} days`;
}

/** Left-aligned columns, two spaces apart. */
function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n');
}

export function registerKeyCommands(program: Command): void {
  program
    .command('keys:rotate')
    .summary('Add new signing keys; they start signing after the propagation delay')
    .description([
      'Add a new token signing key for each algorithm (RS256, ES256). Running servers publish it in',
      'their JWKS within KEYS_POLL_MS and all switch to signing with it at the same moment,',
      'KEY_ROTATION_DELAY_S from now, so relying parties that cache the JWKS already hold it. The keys',
      'it replaces stop signing then and stay published for the grace period (at least the ID token',
      'lifetime plus JWKS_MAX_AGE_S) so tokens they signed still verify; keys past their grace period are',
      'deleted. No restart is needed. The private keys are sealed with DATA_KEYS: give it the DATA_KEYS',
      'the servers have (it refuses when the stored keys do not decrypt with them).',
    ].join(' ') + '\n\n' + [
      'With --compromised the new keys sign at once and every previous key is deleted at once: tokens',
      'they signed stop verifying, and relying parties that cached the JWKS fail to verify new ID tokens',
      'until they fetch it again (most do so on an unknown kid). It reads no stored key, so it also replaces',
      'keys whose DATA_KEYS were lost.',
    ].join(' '))
    .option('--grace-days <days>', 'how long a replaced key stays published after it stops signing', parseGraceDays, 2)
    .option('--compromised', 'the current keys leaked: sign with the new keys now and delete every previous key now')
    .addHelpText('after', examples('latchkey keys:rotate', 'latchkey keys:rotate --grace-days 7', 'latchkey keys:rotate --compromised'))
    .action(action(async (options: { graceDays: number; compromised?: boolean }) => {
      const { rotateSigningKeys, UnreadableSigningKeyError } = await import('../oidc/keys.ts');
      const { rotation, config } = await withServices(async ({ config, services }) => {
        // Below this a token signed just before the switch could meet a JWKS without its key.
        const minimumGraceMs = (config.policy.lifetimes.idTokenMinutes * 60 + config.signingKeys.jwksMaxAgeS) * 1000;
        const rotation = await rotateSigningKeys(services.db, services.vault, {
          delayMs: config.signingKeys.rotationDelayMs,
          graceMs: Math.max(options.graceDays * DAY_MS, minimumGraceMs),
          compromised: options.compromised,
        }).catch((error: unknown) => {
          // Other DATA_KEYS than the servers': keys sealed with them would never sign. Nothing was added.
          throw error instanceof UnreadableSigningKeyError ? new CliError(error.message) : error;
        });
        return { rotation, config };
      });
      const now = Date.now();
      console.log('added signing keys:');
      for (const key of rotation.added) {
        console.log(`  ${key.alg} ${key.kid}  signs from ${when(key.activatesAt)} (${inAbout(key.activatesAt.getTime() - now)})`);
      }
      if (rotation.retiring.length) {
        console.log('replaced keys (they stop signing then, and stay published until the date shown):');
        for (const key of rotation.retiring) console.log(`  ${key.alg} ${key.kid}  published until ${when(key.deleteAfter)}`);
      }
      if (options.compromised) {
        console.log(`removed ${rotation.removed} previous key${rotation.removed === 1 ? '' : 's'} (compromised): tokens they signed no longer verify`);
      } else {
        console.log(`removed ${rotation.removed} retired key${rotation.removed === 1 ? '' : 's'} past ${rotation.removed === 1 ? 'its' : 'their'} grace period`);
      }
      console.log(`Running servers pick the new keys up within ${config.signingKeys.pollMs / 1000} seconds by themselves: no restart needed.`);
    }));

  program
    .command('keys:list')
    .summary('Show the signing keys with their state and dates')
    .description([
      'Show every stored signing key: its state (next: published, not signing yet; signing; retired:',
      'published so tokens it signed verify; expired: no longer published, deleted soon) and when it',
      'was created, starts signing, stops signing and stops being published. Times are UTC.',
    ].join(' '))
    .addHelpText('after', examples('latchkey keys:list'))
    .action(action(async () => {
      const { listSigningKeys } = await import('../oidc/keys.ts');
      const keys = await withServices(({ services }) => listSigningKeys(services.db));
      if (!keys.length) {
        console.log('no signing keys yet: the first server start generates them');
        return;
      }
      console.log(table([
        ['KID', 'ALG', 'STATE', 'CREATED', 'SIGNS FROM', 'SIGNS UNTIL', 'PUBLISHED UNTIL'],
        ...keys.map((key) => [key.kid, key.alg, key.state, when(key.createdAt), when(key.activatesAt), when(key.retiredAt), when(key.deleteAfter)]),
      ]));
    }));
}
