import { expect } from 'chai';
import { CookieSigner } from '../../src/cookie-signing.ts';

describe('cookie signing', () => {
  const keys = ['a'.repeat(32), 'second key that is long enough!!', 'ключ с буквами не из ASCII, 32+'];

  it('signs exactly as keygrip did, so cookies signed before an upgrade stay valid', () => {
    // Digests keygrip 1.1 (koa's default) made for these keys and data.
    const keygrip: Array<[string, string, string]> = [
      [keys[0]!, 'W86Pz8wU-12ls_SEUqc8I0zJmA4', 'riVKJzdiKPsWPo1O_S9C3Q9UCjw'],
      [keys[1]!, 'ZpddZnk_q6FHJ6iIrMbqSpBF6AU', 'rkhwJixixRLg31IDa829ze3Mlxc'],
      [keys[2]!, 'iQt7bCCO6i-9remZ--szNgUWAGE', 'Fc3tIYzwpmXBnmAOD2thjLEhToA'],
    ];
    for (const [key, session, unicode] of keygrip) {
      const signer = new CookieSigner([key]);
      expect(signer.sign('lk_session=abc')).to.equal(session);
      expect(signer.sign('ü=ß')).to.equal(unicode);
      expect(signer.index('lk_session=abc', session)).to.equal(0);
    }
  });

  it('verifies with every key and says which one signed (rotation)', () => {
    const old = new CookieSigner([keys[1]!]);
    const rotated = new CookieSigner(keys);
    const digest = old.sign('lk_session=abc');
    expect(rotated.index('lk_session=abc', digest)).to.equal(1);
    expect(rotated.verify('lk_session=abc', digest)).to.equal(true);
  });

  it('refuses a digest of other data, another key, a changed, shortened or padded digest, and non-strings', () => {
    const signer = new CookieSigner(keys);
    const digest = signer.sign('lk_session=abc');
    expect(signer.index('lk_session=abd', digest)).to.equal(-1);
    expect(signer.index('lk_session=abc', new CookieSigner(['z'.repeat(32)]).sign('lk_session=abc'))).to.equal(-1);
    expect(signer.index('lk_session=abc', `${digest.slice(0, -1)}${digest.endsWith('A') ? 'B' : 'A'}`)).to.equal(-1);
    expect(signer.index('lk_session=abc', digest.slice(0, -1))).to.equal(-1);
    expect(signer.index('lk_session=abc', `${digest}=`)).to.equal(-1);
    expect(signer.index('lk_session=abc', '')).to.equal(-1);
    expect(signer.index('lk_session=abc', undefined as unknown as string)).to.equal(-1);
    expect(signer.index({} as unknown as string, digest)).to.equal(-1);
  });

  it('needs a key', () => {
    expect(() => new CookieSigner([])).to.throw(/at least one key/);
  });
});
