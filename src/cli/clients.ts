// Relying-party commands: client:add.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { ClientMetadata } from 'oidc-provider';
import { CliError, action, examples, readStdin, withServices, type CliContext } from './context.ts';

/** Authentication methods that use no client secret. */
const SECRETLESS_AUTH_METHODS = new Set(['none', 'private_key_jwt', 'tls_client_auth', 'self_signed_tls_client_auth']);

function needsSecret(metadata: ClientMetadata): boolean {
  if (metadata.client_secret !== undefined) return false;
  // oidc-provider's default method is client_secret_basic.
  const method = metadata.token_endpoint_auth_method ?? 'client_secret_basic';
  return !SECRETLESS_AUTH_METHODS.has(method);
}

function label(item: unknown, index: number, many: boolean): string {
  const id = typeof item === 'object' && item !== null ? (item as { client_id?: unknown }).client_id : undefined;
  const named = typeof id === 'string' && id ? ` ${JSON.stringify(id)}` : '';
  return `client${many ? ` [${index}]` : ''}${named}`;
}

async function readInput(file: string | undefined): Promise<{ text: string; source: string }> {
  if (file !== undefined) {
    try {
      return { text: await readFile(file, 'utf8'), source: file };
    } catch (error) {
      throw new CliError(`cannot read ${file}: ${(error as Error).message}`);
    }
  }
  if (process.stdin.isTTY) throw new CliError('no client metadata: pipe the JSON on stdin, or use --file FILE');
  return { text: await readStdin('client metadata'), source: 'stdin' };
}

/** The metadata from the input, checked by our own rules: one object or an array of them. */
function parseInput(text: string, source: string, parse: (value: unknown, source: string) => ClientMetadata): Array<{ metadata: ClientMetadata; label: string }> {
  if (!text.trim()) throw new CliError(`no client metadata on ${source} (expected a JSON object or an array of them)`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new CliError(`${source} is not valid JSON: ${(error as Error).message}`);
  }
  const many = Array.isArray(value);
  const items: unknown[] = Array.isArray(value) ? value : [value];
  if (!items.length) throw new CliError(`${source}: the array holds no clients`);

  const seen = new Set<string>();
  return items.map((item, index) => {
    const name = label(item, index, many);
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw new CliError(`${name}: expected a JSON object of client metadata`);
    let metadata: ClientMetadata;
    try {
      metadata = parse(item, name);
    } catch (error) {
      throw new CliError((error as Error).message);
    }
    if (seen.has(metadata.client_id)) throw new CliError(`${name}: client_id ${metadata.client_id} appears more than once`);
    seen.add(metadata.client_id);
    return { metadata: { ...metadata }, label: name };
  });
}

/** oidc-provider's own validation, the same the server applies when it loads the client. */
async function validateWithProvider({ config, services }: CliContext, clients: Array<{ metadata: ClientMetadata; label: string }>): Promise<void> {
  const [{ createProvider }, { loadSigningKeys }] = await Promise.all([import('../oidc/provider.ts'), import('../oidc/keys.ts')]);
  const provider = createProvider({
    issuer: config.issuer,
    db: services.db,
    users: services.users,
    jwks: await loadSigningKeys(services.db, services.vault),
    cookieKeys: ['x'.repeat(32)], // never used: the provider serves no request here
    secure: config.secure,
    trustProxy: config.trustProxy,
    lifetimes: config.policy.lifetimes,
    secondFactorOf: async () => ({ has: false, required: false }), // no request is served here
    clients: [],
    pages: { async error() {}, async logout() {}, async loggedOut() {} },
  });
  for (const { metadata, label: name } of clients) {
    try {
      await provider.Client.validate(metadata);
    } catch (error) {
      const description = (error as { error_description?: unknown }).error_description;
      if (typeof description === 'string') throw new CliError(`${name}: invalid client metadata: ${description}`);
      throw error;
    }
  }
}

export function registerClientCommands(program: Command): void {
  program
    .command('client:add')
    .summary('Register relying parties from client metadata JSON')
    .description([
      'Register relying parties (OpenID clients) from client metadata JSON: RFC 7591 field names,',
      'plus an optional boolean "first_party" for our own apps (they skip the consent page).',
      'Reads one object or an array of them from stdin, or from --file. Every client is validated',
      'before any is stored. A client that authenticates with a secret but gives none gets a',
      'generated one, printed once. A client_id that is already registered is replaced.',
    ].join(' '))
    .option('--file <file>', 'read the metadata from this file instead of stdin')
    .addHelpText('after', examples(
      'echo \'{"client_id":"shop","redirect_uris":["https://shop.example.com/callback"]}\' | latchkey client:add',
      'latchkey client:add --file clients/intranet.json',
    ))
    .action(action(async (options: { file?: string }) => {
      const { parseClientMetadata, saveClient, loadClientsFile, demoClient, FIRST_PARTY } = await import('../oidc/clients.ts');
      const input = await readInput(options.file);
      const clients = parseInput(input.text, input.source, parseClientMetadata);

      const generated = new Map<string, string>();
      for (const { metadata } of clients) {
        if (!needsSecret(metadata)) continue;
        metadata.client_secret = randomBytes(32).toString('base64url');
        generated.set(metadata.client_id, metadata.client_secret);
      }

      await withServices(async (context) => {
        await validateWithProvider(context, clients);

        // Clients in the config file (and the demo client) are registered with the
        // provider directly and win over stored ones with the same id.
        const shadowing = new Map<string, string>();
        if (context.config.demoApp) shadowing.set(demoClient(context.config.issuer).client_id, 'the demo app\'s client (DEMO_APP)');
        try {
          const file = context.config.policy.clientsFile;
          for (const client of loadClientsFile(file)) shadowing.set(client.client_id, `the clients file ${file}`);
        } catch {
          // A broken clients file is the server's to report.
        }

        const { artifactCollection } = await import('../oidc/adapter.ts');
        const stored = artifactCollection(context.services.db, 'Client');
        for (const { metadata } of clients) {
          const existed = Boolean(await stored.findOne({ _id: metadata.client_id }, { projection: { _id: 1 } }));
          await saveClient(context.services.db, metadata);
          const kind = metadata[FIRST_PARTY] === true ? ', first party' : '';
          console.log(`registered client ${metadata.client_id}${existed ? ' (replaced the stored registration)' : ''}${kind}`);
          const secret = generated.get(metadata.client_id);
          if (secret) console.log(`  client_secret: ${secret}\n  (shown once: store it with the relying party now)`);
          const other = shadowing.get(metadata.client_id);
          if (other) process.stderr.write(`latchkey: warning: ${other} also defines client ${metadata.client_id}, and the server uses that definition instead\n`);
        }
      });
    }));
}
