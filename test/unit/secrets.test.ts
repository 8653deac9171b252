// Encryption at rest (DataVault) and the DATA_KEYS setting: AES-256-GCM from node:crypto,
// one derived key per configured key, the first encrypting and all decrypting.
import { expect } from 'chai';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { DataVault, DecryptionError, cookieKeysFor, dataKeysFor } from '../../src/secrets.ts';

const KEY_A = 'a'.repeat(32) + '-first-data-key';
const KEY_B = 'b'.repeat(32) + '-second-data-key';
const SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';

const policyFile = () => {
  const file = join(mkdtempSync(join(tmpdir(), 'lk-secrets-')), 'latchkey.json');
  writeFileSync(file, '{}');
  return file;
};

describe('encryption at rest (DataVault)', () => {
  it('round-trips, with a fresh IV each time, in the v1.<keyId>.<iv>.<ciphertext>.<tag> form', () => {
    const vault = new DataVault([KEY_A]);
    const one = vault.encrypt(SECRET, 'totp:u1');
    const two = vault.encrypt(SECRET, 'totp:u1');
    expect(one).to.not.equal(two);
    expect(one).to.not.contain(SECRET);
    const parts = one.split('.');
    expect(parts).to.have.length(5);
    expect(parts[0]).to.equal('v1');
    expect(parts[1]).to.match(/^[0-9a-f]{8}$/);
    expect(Buffer.from(parts[2]!, 'base64url')).to.have.length(12);
    expect(Buffer.from(parts[4]!, 'base64url')).to.have.length(16);
    expect(vault.decrypt(one, 'totp:u1')).to.equal(SECRET);
    expect(vault.decrypt(two, 'totp:u1')).to.equal(SECRET);
    expect(vault.decrypt(vault.encrypt(''), '')).to.equal('');
  });

  it('fails with another key, naming no secret', () => {
    const value = new DataVault([KEY_A]).encrypt(SECRET);
    expect(() => new DataVault([KEY_B]).decrypt(value)).to.throw(DecryptionError, /not among the configured DATA_KEYS/);
    try {
      new DataVault([KEY_B]).decrypt(value);
    } catch (error) {
      expect((error as Error).message).to.not.contain(value.split('.')[3]);
    }
  });

  it('fails when any part was changed, or the value is moved to another account (associated data)', () => {
    const vault = new DataVault([KEY_A]);
    const value = vault.encrypt(SECRET, 'totp:u1');
    const parts = value.split('.');
    const flip = (text: string) => {
      const bytes = Buffer.from(text, 'base64url');
      bytes[0] = bytes[0]! ^ 1;
      return bytes.toString('base64url');
    };
    for (const index of [2, 3, 4]) {
      const changed = [...parts];
      changed[index] = flip(changed[index]!);
      expect(() => vault.decrypt(changed.join('.'), 'totp:u1'), `part ${index}`).to.throw(DecryptionError);
    }
    expect(() => vault.decrypt(value, 'totp:u2')).to.throw(DecryptionError);
    for (const bad of ['', 'v1', 'v2.x.y.z.w', `${value}.extra`, SECRET, parts.slice(0, 4).join('.')]) {
      expect(() => vault.decrypt(bad, 'totp:u1'), bad).to.throw(DecryptionError);
    }
    expect(() => vault.decrypt({ $ne: '' } as never)).to.throw(DecryptionError);
  });

  it('rotates: the first key encrypts, every key decrypts, and old values say they need re-encryption', () => {
    const old = new DataVault([KEY_A]);
    const before = old.encrypt(SECRET, 'ad');
    expect(old.needsReencryption(before)).to.equal(false);

    const rotated = new DataVault([KEY_B, KEY_A]);
    expect(rotated.decrypt(before, 'ad')).to.equal(SECRET);
    expect(rotated.needsReencryption(before)).to.equal(true);
    const after = rotated.encrypt(rotated.decrypt(before, 'ad'), 'ad');
    expect(rotated.needsReencryption(after)).to.equal(false);
    expect(after.split('.')[1]).to.not.equal(before.split('.')[1]);

    // Once every value is re-encrypted the old key can go.
    const retired = new DataVault([KEY_B]);
    expect(retired.decrypt(after, 'ad')).to.equal(SECRET);
    expect(() => retired.decrypt(before, 'ad')).to.throw(DecryptionError);
  });

  it('refuses short, missing or repeated keys', () => {
    expect(() => new DataVault([])).to.throw(/at least one key/);
    expect(() => new DataVault(['short'])).to.throw(/32 characters/);
    expect(() => new DataVault([KEY_A, KEY_A])).to.throw(/differ/);
  });
});

describe('DATA_KEYS', () => {
  it('is read as a comma-separated list', () => {
    const config = loadConfig({ LATCHKEY_CONFIG: policyFile(), DATA_KEYS: ` ${KEY_B} , ${KEY_A} ` });
    expect(config.dataKeys).to.deep.equal([KEY_B, KEY_A]);
  });

  it('refuses keys under 32 characters, and a key listed twice', () => {
    expect(() => loadConfig({ LATCHKEY_CONFIG: policyFile(), DATA_KEYS: 'short' })).to.throw(ConfigError, /DATA_KEYS.*32/);
    expect(() => loadConfig({ LATCHKEY_CONFIG: policyFile(), DATA_KEYS: `${KEY_A},${KEY_A}` })).to.throw(ConfigError, /DATA_KEYS.*twice/);
  });

  it('is required in production', () => {
    const env = { LATCHKEY_CONFIG: policyFile(), NODE_ENV: 'production', COOKIE_KEYS: 'k'.repeat(40), MONGODB_URI: 'mongodb://db/latchkey' };
    expect(() => loadConfig(env)).to.throw(ConfigError, /DATA_KEYS: required when NODE_ENV=production/);
    expect(loadConfig({ ...env, DATA_KEYS: KEY_A }).dataKeys).to.deep.equal([KEY_A]);
  });

  it('in development, is generated once into DATA_DIR/data-keys.json (owner-only) and kept, apart from the cookie keys', () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), 'lk-keys-')), 'data');
    const first = dataKeysFor({ dataDir });
    expect(first).to.have.length(1);
    expect(first[0]!.length).to.be.at.least(32);
    const file = join(dataDir, 'data-keys.json');
    expect(existsSync(file)).to.equal(true);
    expect(statSync(file).mode & 0o777).to.equal(0o600);
    expect(JSON.parse(readFileSync(file, 'utf8'))).to.deep.equal(first);
    expect(dataKeysFor({ dataDir })).to.deep.equal(first);
    expect(cookieKeysFor({ dataDir })).to.not.deep.equal(first);
    // Configured keys win, and nothing is written for them.
    expect(dataKeysFor({ dataKeys: [KEY_A], dataDir })).to.deep.equal([KEY_A]);
  });

  it('stops on a kept file that is not a list of keys', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'lk-keys-'));
    writeFileSync(join(dataDir, 'data-keys.json'), '["short"]');
    expect(() => dataKeysFor({ dataDir })).to.throw(/not a list of keys/);
  });
});
