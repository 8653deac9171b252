// What every CLI command shares: configuration, the database and the services
// on it (opened for the command and always closed after), stdin, and one way of
// reporting errors and setting the exit code.
import type { Config } from '../config.ts';
import type { Services } from '../deps.ts';

/** A problem with what the operator gave us: printed as `latchkey: <message>`, exit 1. */
export class CliError extends Error {
  override name = 'CliError';
}

export interface CliContext {
  config: Config;
  services: Services;
}

/**
 * Loads the configuration, opens the database (MONGODB_URI, or the embedded one
 * under DATA_DIR) and its services, runs `task`, and closes the database whatever
 * happened. The heavy modules are imported here so that `--help` and input
 * errors stay fast.
 */
export async function withServices<T>(task: (context: CliContext) => Promise<T>): Promise<T> {
  const { loadConfig } = await import('../config.ts');
  const config = loadConfig();
  const [{ openDatabase }, { createServices, prepareDatabase }, { createLogger }] = await Promise.all([
    import('../server.ts'),
    import('../deps.ts'),
    import('../log.ts'),
  ]);
  const database = await openDatabase(config);
  let failed = false;
  try {
    const services = createServices(config, createLogger('warn', 2), database.connection);
    const stopSweep = await prepareDatabase(services);
    stopSweep(); // a short-lived command has nothing to sweep
    const result = await task({ config, services });
    // Emails a command started are delivered before it exits.
    await services.tasks.idle();
    await services.mailer.close();
    return result;
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    try {
      await database.close();
    } catch (error) {
      // The command's own error matters more than a failure to close after it.
      if (!failed) throw error;
      debug(error);
    }
  }
}

const debugging = () => process.env.LATCHKEY_DEBUG === '1';

function debug(error: unknown): void {
  if (debugging()) process.stderr.write(`${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
}

/** Prints an error the operator can act on and returns the exit code for it. */
export async function report(error: unknown): Promise<number> {
  const { ConfigError } = await import('../config.ts');
  const { AccountError } = await import('../accounts/errors.ts');
  if (error instanceof ConfigError) {
    process.stderr.write(`latchkey: ${error.message}\n`);
    return 2;
  }
  if (error instanceof CliError || error instanceof AccountError) {
    process.stderr.write(`latchkey: ${error.message}\n`);
    debug(error);
    return 1;
  }
  const e = error instanceof Error ? error : new Error(String(error));
  const firstLine = e.message.split('\n', 1)[0] || '(no message)';
  const hint = debugging() ? '' : ' (LATCHKEY_DEBUG=1 shows the stack trace)';
  if (/ServerSelectionError$/.test(e.name)) {
    // Never the URI itself: it may hold credentials.
    process.stderr.write(`latchkey: cannot reach the database (MONGODB_URI): ${firstLine}${hint}\n`);
  } else {
    process.stderr.write(`latchkey: unexpected error: ${e.name === 'Error' ? '' : `${e.name}: `}${firstLine}${hint}\n`);
  }
  if (debugging()) process.stderr.write(`${e.stack ?? ''}\n`);
  return 1;
}

/** Wraps a command's action: errors are reported and become the exit code. */
export function action<Args extends unknown[]>(run: (...args: Args) => Promise<void>): (...args: Args) => Promise<void> {
  return async (...args: Args) => {
    try {
      await run(...args);
    } catch (error) {
      process.exitCode = await report(error);
    }
  };
}

/** All of stdin as text; refuses more than `maxBytes`. */
export async function readStdin(what: string, maxBytes = 1024 * 1024): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buffer.length;
    if (size > maxBytes) throw new CliError(`${what} on stdin is larger than ${maxBytes} bytes`);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Help text shown after a command's options: its examples. */
export function examples(...lines: string[]): string {
  return `\nExample${lines.length > 1 ? 's' : ''}:\n${lines.map((line) => `  $ ${line}`).join('\n')}\n`;
}

/** The password from stdin: one line, without its trailing newline. */
export async function passwordFromStdin(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('Password (then Enter and Ctrl-D): ');
  const text = (await readStdin('the password', 16 * 1024)).replace(/\r?\n$/, '');
  if (!text) throw new CliError('--password-stdin: no password on stdin');
  if (/[\r\n]/.test(text)) throw new CliError('--password-stdin: the password must be a single line');
  return text;
}
