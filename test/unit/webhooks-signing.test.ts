// Webhook signatures (webhooks/signing.ts): node:crypto HMAC in the Standard Webhooks
// form, checked against the reference implementation (the standardwebhooks package).
import { expect } from 'chai';
import { Webhook } from 'standardwebhooks';
import { generateSecret, isValidSecret, secretKey, signedHeaders, verifySignature } from '../../src/webhooks/signing.ts';

describe('webhook signatures', () => {
  const body = JSON.stringify({ id: 'msg_1', type: 'account.disabled', data: { note: 'ünïcode ✓' } });

  it('makes the same signature as the reference implementation, which verifies ours', () => {
    const secret = generateSecret();
    const at = new Date();
    const headers = signedHeaders(secret, 'msg_1', body, at);
    const reference = new Webhook(secret);
    expect(headers['webhook-signature']).to.equal(reference.sign('msg_1', at, body));
    expect(() => reference.verify(body, headers)).to.not.throw();
    expect(headers['webhook-timestamp']).to.equal(String(Math.floor(at.getTime() / 1000)));
  });

  it('does not verify with another secret, another body, another id, or an old timestamp', () => {
    const secret = generateSecret();
    const headers = signedHeaders(secret, 'msg_1', body);
    const given = { id: headers['webhook-id'], timestamp: headers['webhook-timestamp'], signature: headers['webhook-signature'] };
    expect(verifySignature(secret, given, body)).to.equal(true);
    expect(verifySignature(generateSecret(), given, body)).to.equal(false);
    expect(verifySignature(secret, given, `${body} `)).to.equal(false);
    expect(verifySignature(secret, { ...given, id: 'msg_2' }, body)).to.equal(false);
    expect(verifySignature(secret, given, body, new Date(Date.now() + 600_000))).to.equal(false);
    expect(verifySignature(secret, { ...given, signature: `v2,${given.signature.slice(3)}` }, body)).to.equal(false);
    // Several signatures (a receiver during rotation): any v1 that matches will do.
    expect(verifySignature(secret, { ...given, signature: `v1,AAAA ${given.signature}` }, body)).to.equal(true);
    expect(() => new Webhook(generateSecret()).verify(body, headers)).to.throw();
  });

  it('accepts only whsec_ secrets of 24 to 64 bytes of base64', () => {
    expect(secretKey(generateSecret())).to.have.length(32);
    expect(generateSecret()).to.match(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(generateSecret()).to.not.equal(generateSecret());
    for (const bad of ['', 'whsec_', 'secret', `whsec_${Buffer.alloc(16).toString('base64')}`, `whsec_${Buffer.alloc(65).toString('base64')}`, 'whsec_not base64!', `wh_${Buffer.alloc(32).toString('base64')}`]) {
      expect(isValidSecret(bad), bad).to.equal(false);
    }
    expect(isValidSecret(`whsec_${Buffer.alloc(24, 3).toString('base64')}`)).to.equal(true);
    expect(() => signedHeaders('nope', 'msg_1', body)).to.throw('not a webhook secret');
  });
});
