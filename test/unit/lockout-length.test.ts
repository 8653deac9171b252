import { expect } from 'chai';
import { Lockout } from '../../src/accounts/lockout.ts';

describe('lock length', () => {
  const lockout = new Lockout(null as never, { maxFailures: 5, windowMs: 1, lockMs: 15 * 60_000, maxLockMs: 240 * 60_000 });

  it('doubles with each repeated lockout, up to the cap', () => {
    expect([0, 1, 2, 3, 4, 5, 50].map((n) => lockout.lockLengthMs(n) / 60_000)).to.deep.equal([15, 30, 60, 120, 240, 240, 240]);
  });
});
