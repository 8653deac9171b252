// Who must sign in with a second factor: one rule (accounts/mfa-policy.ts).
import { expect } from 'chai';
import { mustUseSecondFactor } from '../../src/accounts/mfa-policy.ts';

describe('mustUseSecondFactor', () => {
  const person = { roles: [] as string[], status: 'active' as const, mustEnrolSecondFactor: false };
  const admin = { ...person, roles: ['admin'] };

  it('follows the app, the operator and the policy, and nothing else', () => {
    expect(mustUseSecondFactor(person, { require: 'none' }, false)).to.equal(false);
    expect(mustUseSecondFactor(person, { require: 'none' }, true), 'the app requires it').to.equal(true);
    expect(mustUseSecondFactor({ ...person, mustEnrolSecondFactor: true }, { require: 'none' }, false), 'an operator asked').to.equal(true);
    expect(mustUseSecondFactor(person, { require: 'everyone' }, false)).to.equal(true);
    expect(mustUseSecondFactor(person, { require: 'admins' }, false), 'not an admin').to.equal(false);
    expect(mustUseSecondFactor(admin, { require: 'admins' }, false)).to.equal(true);
    expect(mustUseSecondFactor(admin, { require: 'none' }, false)).to.equal(false);
    expect(mustUseSecondFactor({ ...admin, status: 'disabled' }, { require: 'admins' }, false), 'a disabled admin is no admin').to.equal(false);
  });
});
