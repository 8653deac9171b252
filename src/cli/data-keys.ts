// Data-key commands: data-keys:reencrypt, after a DATA_KEYS rotation. The walking
// and the conditional writes live in src/accounts/data-keys.ts; this prints counts
// (never a secret) and sets the exit code.
import type { Command } from 'commander';
import { action, examples, withServices } from './context.ts';

export function registerDataKeyCommands(program: Command): void {
  program
    .command('data-keys:reencrypt')
    .summary('Re-encrypt every stored secret under the first DATA_KEYS key (after a rotation)')
    .description([
      'After putting a new key first in DATA_KEYS (keeping the old ones after it), re-encrypt every secret',
      'stored in the database (authenticator apps, those being set up, webhook signing secrets, the private parts of the token signing keys) that is not under the first key,',
      'so the old keys can then be removed. Each value is written only if it did not change since it was read,',
      'so it is safe while servers run and when started on two machines at once; running it again changes',
      'nothing. Prints how many were re-encrypted, already current, and could not be decrypted with any',
      'configured key (with their document ids; exit code 3): keep the old key until those are dealt with.',
    ].join(' '))
    .addHelpText('after', examples('DATA_KEYS="$NEW_KEY,$OLD_KEY" latchkey data-keys:reencrypt'))
    .action(action(async () => {
      const { reencryptStoredSecrets } = await import('../accounts/data-keys.ts');
      const report = await withServices(({ services }) => reencryptStoredSecrets({ db: services.db, vault: services.vault }));
      for (const field of report.fields) {
        console.log(`${field.label}: ${field.reencrypted} re-encrypted, ${field.current} already current, ${field.failed} failed to decrypt${field.changedMeanwhile ? `, ${field.changedMeanwhile} changed meanwhile (left as written)` : ''}`);
        if (field.failedIds.length) console.log(`  failed: ${field.failedIds.join(', ')}${field.failed > field.failedIds.length ? ', …' : ''}`);
      }
      console.log(`total: ${report.reencrypted} re-encrypted, ${report.current} already current, ${report.failed} failed to decrypt${report.changedMeanwhile ? `, ${report.changedMeanwhile} changed meanwhile` : ''}`);
      if (report.failed) {
        console.log('Some secrets could not be decrypted with any key in DATA_KEYS: do not remove a key until they are dealt with.');
        process.exitCode = 3;
      } else {
        console.log('Every stored secret is under the first key: keys after it can be removed from DATA_KEYS once every instance runs with the new first key.');
      }
    }));
}
