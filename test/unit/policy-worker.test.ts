// The password policy on its worker thread (src/accounts/policy-worker.ts), which CSV
// imports use: a real worker, whose answers must be exactly the policy's own.
import { expect } from 'chai';
import { PasswordPolicy, type PasswordRules } from '../../src/accounts/password-policy.ts';
import { PolicyWorker } from '../../src/accounts/policy-worker.ts';

const rules: PasswordRules = {
  minLength: 8, maxLength: 128, minScore: 3, rejectCommon: true, rejectPersonalInfo: true,
  historyCount: 3, forbidSpaces: false, requiredCharacterClasses: 0,
};

const CASES: Array<[string, { email?: string; name?: string; previous?: string }]> = [
  ['password', {}],
  ['P@ssw0rd', {}],
  ['short', {}],
  ['correct horse battery staple', {}],
  ['velvet nomad quarry lantern', {}],
  ['Bq7-Xq2v9LmP0aZr4tYw', {}],
  ['ada.lovelace.1815', { email: 'ada.lovelace@example.com', name: 'Ada Lovelace' }],
  ['onetwothreefourfive', {}],
  ['x'.repeat(200), {}],
  ['temporary-pass-2024', { previous: 'temporary-pass-2024' }],
  ['ｐａｓｓｗｏｒｄ１２３', {}],
];

describe('password policy on a worker thread', function () {
  this.timeout(30_000);
  const policy = new PasswordPolicy(rules);
  let worker: PolicyWorker;
  before(() => { worker = new PolicyWorker(policy.rules); });
  after(() => worker.close());

  it('answers exactly as the policy does on this thread, in any number at once', async () => {
    const answers = await Promise.all(CASES.map(([password, context]) => worker.check(password, context)));
    expect(answers).to.deep.equal(CASES.map(([password, context]) => policy.check(password, context)));
    expect(answers.some((issues) => issues.length === 0), 'some pass').to.equal(true);
    expect(answers.some((issues) => issues.length > 0), 'some fail').to.equal(true);
  });

  it('refuses checks once closed, and closing twice is harmless', async () => {
    const own = new PolicyWorker(policy.rules);
    // Asked before the close: answered or refused, never left hanging.
    const pending = own.check('velvet nomad quarry lantern').then(() => undefined, (error: Error) => expect(error.message).to.match(/closed/));
    await own.close();
    await own.close();
    await pending;
    await own.check('anything at all').then(() => expect.fail('answered after close'), (error: Error) => expect(error.message).to.match(/closed/));
  });
});
