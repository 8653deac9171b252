// `latchkey devdb`: the embedded database on its own, in the foreground, so that
// several local instances (and the CLI) share one database exactly as they would
// share MongoDB. `npm start` without MONGODB_URI still starts a private one.
import { InvalidArgumentError, type Command } from 'commander';
import { resolve, join } from 'node:path';
import { action, CliError, examples } from './context.ts';

function parsePort(value: string): number {
  const port = /^\d{1,5}$/.test(value.trim()) ? Number(value.trim()) : Number.NaN;
  if (!(port >= 1 && port <= 65535)) throw new InvalidArgumentError('Must be a port number (1-65535).');
  return port;
}

export function registerDevDbCommands(program: Command): void {
  program
    .command('devdb')
    .summary('Run the embedded database on its own, for several local instances to share')
    .description([
      'Run the embedded database (FerretDB on SQLite) in the foreground on 127.0.0.1 and print the',
      'MONGODB_URI that servers and CLI commands use to share it. Stop it with Ctrl-C. For trying',
      'several instances on one machine; production uses a MongoDB replica set.',
    ].join(' '))
    .option('--port <port>', 'port on 127.0.0.1', parsePort, 27017)
    .option('--dir <dir>', 'where its files live (default: $DATA_DIR/devdb, the files `npm start` uses)')
    .addHelpText('after', examples(
      'latchkey devdb --port 27017',
      'MONGODB_URI=mongodb://127.0.0.1:27017/latchkey COOKIE_KEYS=... PORT=3001 npm start',
    ))
    .action(action(async (options: { port: number; dir?: string }) => {
      const { runningDevDb, startDevDb } = await import('../db/devdb.ts');
      const dir = resolve(options.dir ?? join(process.env.DATA_DIR || 'data', 'devdb'));
      const running = runningDevDb(dir);
      if (running) throw new CliError(`the embedded database in ${dir} is already running (process ${running.pid}); use MONGODB_URI=${running.uri}latchkey`);
      const devdb = await startDevDb(dir, {
        port: options.port,
        onBuild: () => process.stderr.write('building the embedded database with Go (first time only, about a minute)\n'),
      }).catch((error: Error) => {
        throw new CliError(`the embedded database did not start on port ${options.port}: ${error.message.split('\n', 1)[0]}`);
      });
      console.log(`embedded database running on ${devdb.uri} with its files in ${dir}`);
      console.log(`MONGODB_URI=${devdb.uri}latchkey`);
      console.log('Give every instance that MONGODB_URI and the same COOKIE_KEYS. Ctrl-C stops it.');
      await new Promise<void>((done) => {
        process.once('SIGINT', done);
        process.once('SIGTERM', done);
      });
      await devdb.stop();
      console.log('embedded database stopped');
    }));
}
