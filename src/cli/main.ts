// The operator CLI: `latchkey <command>`. Each command group lives in its own
// module; they share src/cli/context.ts for configuration, database and errors.
import { Command } from 'commander';
import { registerUserCommands } from './users.ts';
import { registerDeleteCommands } from './delete.ts';
import { registerClientCommands } from './clients.ts';
import { registerKeyCommands } from './keys.ts';
import { registerBulkCommands } from './bulk.ts';
import { registerAuditCommands } from './audit.ts';
import { registerDevDbCommands } from './devdb.ts';
import { registerWebhookCommands } from './webhooks.ts';
import { registerDataKeyCommands } from './data-keys.ts';
import { registerEmailCommands } from './email.ts';
import { registerSessionCommands } from './sessions.ts';

const program = new Command('latchkey')
  .description([
    'Operate a Latchkey OpenID provider: accounts, relying parties and signing keys.',
    'Uses the same environment as the server (MONGODB_URI, or the embedded database under',
    'DATA_DIR; LATCHKEY_CONFIG for policy). Set LATCHKEY_DEBUG=1 for stack traces.',
  ].join(' '))
  .configureOutput({ outputError: (message, write) => write(message.replace(/^error: /, 'latchkey: ')) })
  .showHelpAfterError('(add --help for usage)')
  .addHelpText('after', '\nExample:\n  $ latchkey user:create --help\n');

registerUserCommands(program);
registerDeleteCommands(program);
registerClientCommands(program);
registerKeyCommands(program);
registerBulkCommands(program);
registerAuditCommands(program);
registerDevDbCommands(program);
registerWebhookCommands(program);
registerDataKeyCommands(program);
registerEmailCommands(program);
registerSessionCommands(program);

await program.parseAsync(process.argv);
