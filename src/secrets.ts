// Cookie-signing keys: from COOKIE_KEYS in production; generated once and kept in
// DATA_DIR for development, so sessions survive a restart without any setup.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function cookieKeysFor(config: { cookieKeys?: string[]; dataDir: string }): string[] {
  if (config.cookieKeys?.length) return config.cookieKeys;
  const file = join(config.dataDir, 'cookie-keys.json');
  if (existsSync(file)) {
    const keys = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    if (Array.isArray(keys) && keys.length && keys.every((k) => typeof k === 'string' && k.length >= 32)) return keys;
    throw new Error(`${file} is not a list of keys; delete it to generate new ones`);
  }
  mkdirSync(config.dataDir, { recursive: true });
  const keys = [randomBytes(32).toString('base64url')];
  writeFileSync(file, JSON.stringify(keys), { mode: 0o600 });
  return keys;
}
