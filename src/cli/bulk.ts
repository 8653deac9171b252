// Bulk commands: user:import, password:set, password:reset.
//
// The two mail commands queue a job in MongoDB (accounts/bulk-mail.ts) and see it
// through from here: this process runs it, under a lease, unless a server has
// already claimed it; if this process dies, a running server resumes it (or the
// same command, run again, joins the job that is still running). Ctrl-C cancels
// the job after the batch in flight.
import { Option, type Command } from 'commander';
import { createReadStream, existsSync, writeFileSync } from 'node:fs';
import type { Services } from '../deps.ts';
import type { BulkProgress, BulkResult } from '../accounts/bulk-mail.ts';
import { CliError, action, examples, withServices } from './context.ts';

const rate = (value: string) => {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 1000) throw new CliError('--rate must be a number of messages per second, from 0.01 to 1000');
  return n;
};

async function progressBar(label: string) {
  const { SingleBar, Presets } = await import('cli-progress');
  const interactive = Boolean(process.stderr.isTTY);
  const bar = new SingleBar({ format: `${label} {bar} {value}/{total} ({percentage}%) sent {sent}, skipped {skipped}`, stream: process.stderr, noTTYOutput: !interactive, notTTYSchedule: 5000 }, Presets.shades_classic);
  let started = false;
  return {
    update(progress: BulkProgress) {
      if (!started) {
        bar.start(progress.total, 0, { sent: 0, skipped: 0 });
        started = true;
      }
      bar.update(progress.done, { sent: progress.sent, skipped: progress.skipped });
    },
    stop: () => started && bar.stop(),
  };
}

/**
 * Queues a bulk mail job (or joins the one running for the same accounts) and sees it
 * through from here with a progress bar. Ctrl-C (or SIGTERM) cancels it after the batch
 * in flight when it runs here, or stops watching when another process runs it.
 */
async function seeThrough(services: Services, label: string, purpose: 'invite' | 'reset', target: { all: true } | { email: string }, ratePerSecond: number): Promise<BulkResult> {
  const { enqueueBulkMail, runBulkMail } = await import('../accounts/bulk-mail.ts');
  const { id, joined } = await enqueueBulkMail(services, purpose, target, { ratePerSecond, context: { actor: 'cli' } });
  if (joined) process.stderr.write(`joining job ${id}, already running for the same accounts (at the rate it was started with)\n`);
  const bar = await progressBar(label);
  const interrupt = () => {
    if (!services.jobs.cancel(id, 'cancelled from the command line')) void services.jobs.stop();
  };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  try {
    return await runBulkMail(services, id, bar.update);
  } finally {
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
    bar.stop();
  }
}

/** The summary line (as before jobs), then what went wrong, if anything. */
function printMailResult(result: BulkResult): void {
  console.log(`${result.sent} sent, ${result.skipped} skipped (a link is still valid), of ${result.total}`);
  if (result.failed) {
    console.log(`${result.failed} of them refused by the mail server (a re-run sends them again): ${result.failedTo.slice(0, 20).join(', ')}${result.failed > 20 ? ', ...' : ''}`);
  }
  if (result.uncertain) {
    console.log(`${result.uncertain} uncertain: a process sending them stopped before the mail server answered; they may have arrived and were not sent again: ${result.uncertainTo.slice(0, 20).join(', ')}${result.uncertain > 20 ? ', ...' : ''}`);
  }
  if (!result.finished) {
    console.log(`stopped watching job ${result.jobId} after ${result.done} of ${result.total}: another Latchkey process runs it; run the same command again to follow it`);
  } else if (result.status === 'failed') {
    throw new CliError(`job ${result.jobId} stopped after ${result.done} of ${result.total}: ${result.error ?? 'failed'}`);
  }
}

export function registerBulkCommands(program: Command): void {
  program
    .command('user:import')
    .summary('Create (or update) accounts from a CSV file')
    .description([
      'Create accounts from a CSV file with a header line. Columns: email (required), name, password, password_hash',
      '(argon2 or bcrypt, kept as is and upgraded at the next sign-in), must_change (true/false), groups (separated by ;).',
      'Rows are validated one by one; rejected rows are listed with their line number and reason, and nothing of them is stored.',
      'Accounts without a password are invited: send their set-password links with `latchkey password:set`.',
      'Re-running the same file changes nothing twice.',
    ].join('\n'))
    .argument('<file>', 'the CSV file (UTF-8)')
    .option('--upsert', 'update existing accounts (name, groups; a password only where the account has none)')
    .option('--report <file>', 'write the rejected rows as CSV (line,email,reason) to this file')
    .option('--legacy-passwords', 'rows without a password keep theirs in the old system (policy legacyMigration): no invitation; the first sign-in moves them in')
    .addHelpText('after', examples('latchkey user:import people.csv --report rejected.csv', 'latchkey user:import people.csv --upsert', 'latchkey user:import people.csv --legacy-passwords'))
    .action(action(async (file: string, options: { upsert?: boolean; report?: string; legacyPasswords?: boolean }) => {
      if (!existsSync(file)) throw new CliError(`no such file: ${file}`);
      const [{ importUsers }, { csvCell }] = await Promise.all([import('../accounts/import.ts'), import('../accounts/import-jobs.ts')]);
      const started = Date.now();
      const report = await withServices(({ services }) => importUsers(services, createReadStream(file), {
        upsert: options.upsert,
        legacyPasswords: options.legacyPasswords,
        context: { actor: 'cli' },
        onProgress: (rows) => process.stderr.isTTY && process.stderr.write(`\r${rows} rows`),
      }));
      if (process.stderr.isTTY) process.stderr.write('\n');
      for (const row of report.rejected.slice(0, 20)) console.log(`line ${row.line}: ${row.reason}${row.email ? ` (${row.email})` : ''}`);
      if (report.rejected.length > 20) console.log(`... and ${report.rejected.length - 20} more rejected rows${options.report ? '' : ' (use --report FILE for all)'}`);
      if (options.report) {
        writeFileSync(options.report, ['line,email,reason', ...report.rejected.map((r) => [r.line, r.email, r.reason].map(csvCell).join(','))].join('\n') + '\n');
      }
      console.log(`${report.rows} rows in ${((Date.now() - started) / 1000).toFixed(1)} s: ${report.created} created, ${report.updated} updated, ${report.unchanged} unchanged, ${report.rejected.length} rejected`);
      if (report.rejected.length) process.exitCode = 3;
    }));

  program
    .command('password:set')
    .summary('Email a set-password link to every account without a password')
    .description([
      'Email a set-password link to every account that has never chosen a password (invited or imported without one).',
      'Accounts whose link is still valid are skipped, so a re-run emails no one twice.',
      'The run is a job in the database: if this command dies, a running Latchkey server resumes it (or run the command again).',
      'Ctrl-C cancels it after the emails in flight.',
    ].join('\n'))
    .option('--rate <per-second>', 'messages per second at most', '10')
    .addHelpText('after', examples('latchkey password:set --rate 5'))
    .action(action(async (options: { rate: string }) => {
      const perSecond = rate(options.rate);
      printMailResult(await withServices(({ services }) => seeThrough(services, 'set-password links', 'invite', { all: true }, perSecond)));
    }));

  program
    .command('password:reset')
    .summary('Email password-reset links')
    .description([
      'Email a password-reset link to one account (--email) or every active account (--all).',
      'Accounts whose reset link is still valid are skipped, so a re-run emails no one twice.',
      'The run is a job in the database: if this command dies, a running Latchkey server resumes it (or run the command again).',
      'Ctrl-C cancels it after the emails in flight.',
    ].join('\n'))
    .addOption(new Option('--email <email>', 'one account').conflicts('all'))
    .addOption(new Option('--all', 'every active account').conflicts('email'))
    .option('--rate <per-second>', 'messages per second at most', '10')
    .addHelpText('after', examples('latchkey password:reset --email ada@example.com', 'latchkey password:reset --all --rate 5'))
    .action(action(async (options: { email?: string; all?: boolean; rate: string }) => {
      if (!options.email && !options.all) throw new CliError('give --email EMAIL or --all');
      const perSecond = rate(options.rate);
      const result = await withServices(({ services }) => seeThrough(services, 'reset links', 'reset', options.all ? { all: true } : { email: options.email! }, perSecond));
      if (options.email && result.total === 0) throw new CliError(`no active account with email ${options.email}`);
      printMailResult(result);
    }));
}
