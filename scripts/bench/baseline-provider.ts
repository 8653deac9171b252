// The baseline: the same oidc-provider version as Latchkey, with its in-memory
// adapter, its development keys and devInteractions, and no code of ours. Its
// token policy matches Latchkey's (a refresh token for every client allowed the
// grant, rotated on every use), so a refresh or client-credentials grant does the
// same protocol work on both and the ratio shows what our storage, middleware and
// hooks cost.
// Prints {"ready": true, "url": ...} on stdout; stops on SIGTERM/SIGINT or when stdin ends.
//
// BENCH_CHILD_CONFIG (environment): JSON {clients: [...]}.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import Provider, { type ClientMetadata } from 'oidc-provider';

const { clients } = JSON.parse(process.env.BENCH_CHILD_CONFIG ?? '{}') as { clients: ClientMetadata[] };

const http = createServer();
await new Promise<void>((resolve, reject) => {
  http.once('error', reject);
  http.listen(0, '127.0.0.1', () => resolve());
});
const { port } = http.address() as AddressInfo;
const issuer = `http://localhost:${port}`;

const provider = new Provider(issuer, {
  clients,
  pkce: { required: () => false },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  features: {
    devInteractions: { enabled: true },
    clientCredentials: { enabled: true },
    userinfo: { enabled: true },
  },
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: () => true,
});
http.on('request', provider.callback());
http.keepAliveTimeout = 5_000;

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  http.close(() => process.exit(0));
  http.closeIdleConnections();
  setTimeout(() => process.exit(0), 5_000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();

process.stdout.write(`${JSON.stringify({ ready: true, url: issuer, pid: process.pid })}\n`);
