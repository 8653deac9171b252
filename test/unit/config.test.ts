import { expect } from 'chai';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, ConfigError } from '../../src/config.ts';

const policyFile = (content: string) => {
  const file = join(mkdtempSync(join(tmpdir(), 'lk-config-')), 'latchkey.json');
  writeFileSync(file, content);
  return file;
};

describe('configuration', () => {
  it('has working defaults', () => {
    const config = loadConfig({ LATCHKEY_CONFIG: policyFile('{}') });
    expect(config.port).to.equal(3000);
    expect(config.issuer).to.equal('http://localhost:3000');
    expect(config.secure).to.equal(false);
    expect(config.policy.passwordHashing).to.deep.equal({ memoryKiB: 19456, timeCost: 2, parallelism: 1 });
    expect(config.lockout).to.deep.equal({ maxFailures: 5, windowMs: 900_000, lockMs: 900_000, maxLockMs: 14_400_000 });
    expect(config.policy.lifetimes).to.deep.equal({
      signInMinutes: 60, sessionDays: 14, portalSessionHours: 12, recentSignInMinutes: 5, accessTokenMinutes: 60, idTokenMinutes: 60,
      refreshTokenDays: 14, grantDays: 14, authorizationCodeSeconds: 60, clientCredentialsMinutes: 10,
    });
    expect(config.policy.links.firstLoginMinutes).to.equal(15);
  });

  it('makes cookies Secure and sends HSTS when the issuer is https', () => {
    const config = loadConfig({ ISSUER: 'https://id.example.com/', LATCHKEY_CONFIG: policyFile('{}') });
    expect(config.issuer).to.equal('https://id.example.com');
    expect(config.secure).to.equal(true);
  });

  const bad: Array<[string, Record<string, string>, RegExp]> = [
    ['a port out of range', { PORT: '70000' }, /PORT/],
    ['a port that is not a number', { PORT: 'eighty' }, /PORT/],
    ['an issuer that is not a URL', { ISSUER: 'id.example.com' }, /ISSUER/],
    ['an issuer with another scheme', { ISSUER: 'ftp://id.example.com' }, /ISSUER/],
    ['a MongoDB URI of another kind', { MONGODB_URI: 'postgres://x' }, /MONGODB_URI/],
    ['an SMTP URL of another kind', { SMTP_URL: 'http://mail' }, /SMTP_URL/],
    ['short cookie keys', { COOKIE_KEYS: 'short' }, /COOKIE_KEYS/],
    ['production without cookie keys', { NODE_ENV: 'production', MONGODB_URI: 'mongodb://db/latchkey' }, /COOKIE_KEYS/],
    ['production without MongoDB', { NODE_ENV: 'production', COOKIE_KEYS: 'k'.repeat(40) }, /MONGODB_URI/],
    ['an unknown log level', { LOG_LEVEL: 'loud' }, /LOG_LEVEL/],
    ['a missing policy file named explicitly', { LATCHKEY_CONFIG: '/nonexistent/latchkey.json' }, /LATCHKEY_CONFIG.*not found/],
  ];
  for (const [name, env, message] of bad) {
    it(`stops on ${name}, naming the setting`, () => {
      expect(() => loadConfig({ LATCHKEY_CONFIG: policyFile('{}'), ...env })).to.throw(ConfigError, message);
    });
  }

  const badPolicy: Array<[string, string, RegExp]> = [
    ['argon2 memory below the OWASP minimum', '{"passwordHashing":{"memoryKiB":1024}}', /passwordHashing\.memoryKiB/],
    ['a lockout threshold of zero', '{"lockout":{"maxFailures":0}}', /lockout\.maxFailures/],
    ['a string where a number belongs', '{"throttle":{"perIp":{"points":"ten"}}}', /throttle\.perIp\.points/],
    ['an unknown key (a typo)', '{"lockuot":{}}', /lockuot/],
    ['invalid JSON', '{"lockout":', /not valid JSON/],
    ['an access token living longer than a day', '{"lifetimes":{"accessTokenMinutes":1441}}', /lifetimes\.accessTokenMinutes/],
    ['an unknown lifetime', '{"lifetimes":{"sessionHours":1}}', /lifetimes/],
  ];
  for (const [name, content, message] of badPolicy) {
    it(`stops on ${name} in the policy file`, () => {
      expect(() => loadConfig({ LATCHKEY_CONFIG: policyFile(content) })).to.throw(ConfigError, message);
    });
  }
});
