// Second factors (accounts/factors.ts) against the real database and a real SMTP server:
// enrolment of an authenticator app, single use of its codes and of recovery codes
// (also under concurrency), secrets encrypted at rest, notices, audit, and the lockout
// that wrong codes share with wrong passwords.
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';
import type { ParsedMail } from '../helpers/smtp.ts';
import { createUser } from '../../src/accounts/users.ts';
import { accountSubject, deviceSubject } from '../../src/accounts/lockout.ts';
import { AccountError } from '../../src/accounts/errors.ts';
import {
  confirmTotpEnrolment, factorsOf, generateRecoveryCodes, hasSecondFactor, removeAllFactors, removeFactor,
  startTotpEnrolment, useRecoveryCode, verifySecondFactor, verifyTotp, type FactorDeps,
} from '../../src/accounts/factors.ts';
import { useTestServer, withTestServer } from '../helpers/server.ts';
import { DataVault, dataKeysFor } from '../../src/secrets.ts';

const PASSWORD = 'a long and correct password';
const STEP_MS = 30_000;
const OPERATORS = [{ $ne: '' }, { $gt: '' }, { $exists: true }, ['123456'], 123456, null, undefined] as unknown as string[];

/** Codes an authenticator app shows for this secret, `steps` steps from now. */
const authenticator = (secretBase32: string) => {
  const totp = new TOTP({ secret: Secret.fromBase32(secretBase32), algorithm: 'SHA1', digits: 6, period: 30 });
  return (steps = 0) => totp.generate({ timestamp: Date.now() + steps * STEP_MS });
};

/** Keeps a test that computes codes from being cut by a step boundary between computing and checking. */
async function awayFromStepBoundary(): Promise<void> {
  const into = Date.now() % STEP_MS;
  if (into > STEP_MS - 3_000) await new Promise((resolve) => setTimeout(resolve, STEP_MS - into + 200));
}

describe('second factors', () => {
  const { server, smtp } = useTestServer({ smtp: true });
  const deps = (): FactorDeps => server.deps.factors;

  async function newUser(): Promise<{ userId: string; email: string }> {
    const email = `f-${randomUUID().slice(0, 8)}@example.com`;
    return { userId: (await createUser(server.deps, { email, password: PASSWORD }))._id, email };
  }

  /** A user with a confirmed authenticator (confirmed with the code of the step before now). */
  async function enrolledUser() {
    const user = await newUser();
    const enrolment = await startTotpEnrolment(deps(), user.userId, { issuer: 'Latchkey', account: user.email });
    const code = authenticator(enrolment.secretBase32);
    await awayFromStepBoundary();
    const confirmed = await confirmTotpEnrolment(deps(), user.userId, enrolment.enrolmentId, code(-1));
    expect(confirmed.ok).to.equal(true);
    return { ...user, code, secretBase32: enrolment.secretBase32 };
  }

  const mailTo = (to: string, subject: RegExp) => smtp.waitFor((m: ParsedMail) => (m.to as { text: string }).text.includes(to) && subject.test(m.subject ?? ''));
  const events = async (userId: string, event: string) => server.deps.audit.list({ userId, events: [event] });

  describe('authenticator app enrolment', () => {
    it('gives a secret, an otpauth URI and an SVG QR code; nothing is active and the secret is stored encrypted', async () => {
      const { userId, email } = await newUser();
      const enrolment = await startTotpEnrolment(deps(), userId, { issuer: 'Latchkey Test', account: email });
      expect(enrolment.secretBase32).to.match(/^[A-Z2-7]{32}$/);
      const uri = new URL(enrolment.otpauthUri);
      expect(uri.protocol).to.equal('otpauth:');
      expect(uri.host).to.equal('totp');
      expect(uri.searchParams.get('secret')).to.equal(enrolment.secretBase32);
      expect(uri.searchParams.get('issuer')).to.equal('Latchkey Test');
      expect(uri.searchParams.get('algorithm')).to.equal('SHA1');
      expect(uri.searchParams.get('digits')).to.equal('6');
      expect(uri.searchParams.get('period')).to.equal('30');
      expect(decodeURIComponent(uri.pathname)).to.contain(email);
      expect(enrolment.qrSvg).to.match(/^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
      expect(enrolment.expiresAt.getTime()).to.be.closeTo(Date.now() + 10 * 60_000, 5_000);

      expect(await factorsOf(deps(), userId)).to.deep.equal([]);
      expect(await hasSecondFactor(deps(), userId)).to.equal(false);
      const raw = await server.deps.db.collection('factor_enrolments').findOne({ _id: enrolment.enrolmentId as never });
      expect(raw).to.not.equal(null);
      expect(JSON.stringify(raw)).to.not.contain(enrolment.secretBase32);
      expect(JSON.stringify(raw).toLowerCase()).to.not.contain(enrolment.secretBase32.toLowerCase());
      expect(raw!.secret).to.match(/^v1\.[0-9a-f]{8}\./);
    });

    it('refuses a wrong code (nothing activated), then too many wrong codes, and bad input without throwing', async () => {
      const { userId, email } = await newUser();
      const enrolment = await startTotpEnrolment(deps(), userId, { issuer: 'Latchkey', account: email });
      const code = authenticator(enrolment.secretBase32);
      const wrong = String((Number(code()) + 1) % 1_000_000).padStart(6, '0');
      expect(await confirmTotpEnrolment(deps(), userId, enrolment.enrolmentId, wrong)).to.deep.equal({ ok: false, reason: 'wrong_code' });
      for (const bad of ['abcdef', '12345', '1234567', '9'.repeat(10_000), ...OPERATORS]) {
        expect(await confirmTotpEnrolment(deps(), userId, enrolment.enrolmentId, bad), String(bad)).to.deep.include({ ok: false });
      }
      expect(await factorsOf(deps(), userId)).to.deep.equal([]);
      // Five wrong codes used up the enrolment: even the right code is refused now.
      expect(await confirmTotpEnrolment(deps(), userId, enrolment.enrolmentId, code())).to.deep.equal({ ok: false, reason: 'too_many_attempts' });
      expect(await factorsOf(deps(), userId)).to.deep.equal([]);
    });

    it('refuses unknown ids, another account\'s enrolment and operator objects as ids', async () => {
      const owner = await newUser();
      const other = await newUser();
      const enrolment = await startTotpEnrolment(deps(), owner.userId, { issuer: 'Latchkey', account: owner.email });
      const code = authenticator(enrolment.secretBase32)();
      expect(await confirmTotpEnrolment(deps(), other.userId, enrolment.enrolmentId, code)).to.deep.equal({ ok: false, reason: 'not_found' });
      expect(await confirmTotpEnrolment(deps(), owner.userId, randomUUID(), code)).to.deep.equal({ ok: false, reason: 'not_found' });
      for (const bad of OPERATORS) {
        expect(await confirmTotpEnrolment(deps(), owner.userId, bad, code)).to.deep.equal({ ok: false, reason: 'not_found' });
        expect(await confirmTotpEnrolment(deps(), bad, enrolment.enrolmentId, code)).to.deep.equal({ ok: false, reason: 'not_found' });
        let thrown: unknown;
        await startTotpEnrolment(deps(), bad, { issuer: 'Latchkey', account: 'x' }).catch((error: unknown) => (thrown = error));
        expect(thrown).to.be.instanceOf(AccountError).with.property('code', 'not_found');
      }
      expect(await factorsOf(deps(), other.userId)).to.deep.equal([]);
      expect(await factorsOf(deps(), owner.userId)).to.deep.equal([]);
    });

    it('refuses an expired enrolment', async () => {
      const { userId, email } = await newUser();
      const enrolment = await startTotpEnrolment(deps(), userId, { issuer: 'Latchkey', account: email });
      await deps().enrolments.updateOne({ _id: enrolment.enrolmentId }, { $set: { expiresAt: new Date(Date.now() - 1000) } });
      const result = await confirmTotpEnrolment(deps(), userId, enrolment.enrolmentId, authenticator(enrolment.secretBase32)());
      expect(result).to.deep.equal({ ok: false, reason: 'expired' });
      expect(await factorsOf(deps(), userId)).to.deep.equal([]);
    });

    it('activates with a correct code: encrypted at rest, a notice emailed, factor.added audited; the confirming code cannot be used again', async () => {
      const { userId, email } = await newUser();
      const enrolment = await startTotpEnrolment(deps(), userId, { issuer: 'Latchkey', account: email });
      const code = authenticator(enrolment.secretBase32);
      await awayFromStepBoundary();
      const confirmed = await confirmTotpEnrolment(deps(), userId, enrolment.enrolmentId, code(), { ip: '203.0.113.9' });
      expect(confirmed).to.deep.include({ ok: true, replaced: false });
      // Used once: the enrolment is gone.
      expect(await confirmTotpEnrolment(deps(), userId, enrolment.enrolmentId, code())).to.deep.equal({ ok: false, reason: 'not_found' });

      const [factor] = await factorsOf(deps(), userId);
      expect(factor).to.deep.include({ kind: 'totp', lastUsedAt: null, remainingCodes: null });
      expect(factor!.id).to.equal((confirmed as { factorId: string }).factorId);
      expect(JSON.stringify(await factorsOf(deps(), userId))).to.not.contain(enrolment.secretBase32);
      expect(await hasSecondFactor(deps(), userId)).to.equal(true);

      const raw = await server.deps.db.collection('factors').findOne({ userId });
      expect(raw!.secret).to.match(/^v1\.[0-9a-f]{8}\./);
      expect(JSON.stringify(raw).toLowerCase()).to.not.contain(enrolment.secretBase32.toLowerCase());

      const mail = await mailTo(email, /second factor was added/);
      expect(mail.text).to.contain('an authenticator app').and.contain('203.0.113.9').and.not.contain(enrolment.secretBase32);
      const [added] = await events(userId, 'factor.added');
      expect(added).to.deep.include({ userId, ip: '203.0.113.9' });
      expect(added!.details).to.deep.include({ kind: 'totp', replaced: false });

      // The code that confirmed cannot sign in.
      expect(await verifyTotp(deps(), userId, code())).to.deep.equal({ ok: false, reason: 'replayed' });
    });

    it('a new confirmed authenticator replaces the old one (audited as replaced); the old secret stops working', async () => {
      const user = await enrolledUser();
      const enrolment = await startTotpEnrolment(deps(), user.userId, { issuer: 'Latchkey', account: user.email });
      const newCode = authenticator(enrolment.secretBase32);
      await awayFromStepBoundary();
      expect(await confirmTotpEnrolment(deps(), user.userId, enrolment.enrolmentId, newCode(-1))).to.deep.include({ ok: true, replaced: true });
      const factors = await factorsOf(deps(), user.userId);
      expect(factors.map((f) => f.kind)).to.deep.equal(['totp']);
      expect(await verifyTotp(deps(), user.userId, user.code())).to.deep.include({ ok: false });
      expect(await verifyTotp(deps(), user.userId, newCode())).to.deep.include({ ok: true });
      const added = await events(user.userId, 'factor.added');
      expect(added.map((r) => r.details.replaced)).to.deep.equal([true, false]);
    });
  });

  describe('authenticator codes', () => {
    it('accept a code once: a replay is refused, the next step\'s code works, codes outside ±1 step do not', async () => {
      const user = await enrolledUser();
      await awayFromStepBoundary();
      expect(await verifyTotp(deps(), user.userId, user.code(2))).to.deep.equal({ ok: false, reason: 'wrong_code' });
      expect(await verifyTotp(deps(), user.userId, user.code(-2))).to.deep.equal({ ok: false, reason: 'wrong_code' });
      const first = await verifyTotp(deps(), user.userId, user.code());
      expect(first).to.deep.include({ ok: true });
      expect(await verifyTotp(deps(), user.userId, user.code())).to.deep.equal({ ok: false, reason: 'replayed' });
      // An older code than the one accepted is refused too.
      expect(await verifyTotp(deps(), user.userId, user.code(-1))).to.deep.equal({ ok: false, reason: 'replayed' });
      expect(await verifyTotp(deps(), user.userId, `${user.code(1).slice(0, 3)} ${user.code(1).slice(3)}`)).to.deep.include({ ok: true });
      const [factor] = await factorsOf(deps(), user.userId);
      expect(factor!.lastUsedAt).to.be.instanceOf(Date);
    });

    it('of 10 concurrent uses of one code, exactly one succeeds; the next code then works', async () => {
      const user = await enrolledUser();
      await awayFromStepBoundary();
      const code = user.code();
      const results = await Promise.all(Array.from({ length: 10 }, () => verifyTotp(deps(), user.userId, code)));
      expect(results.filter((r) => r.ok)).to.have.length(1);
      expect(results.filter((r) => !r.ok).map((r) => (r as { reason: string }).reason)).to.deep.equal(Array(9).fill('replayed'));
      expect(await verifyTotp(deps(), user.userId, user.code(1))).to.deep.include({ ok: true });
    });

    it('refuse bad input without throwing', async () => {
      const user = await enrolledUser();
      for (const bad of ['', 'abcdef', '12345', '1234567', '12345a', '１２３４５６', '9'.repeat(100_000), ...OPERATORS]) {
        expect(await verifyTotp(deps(), user.userId, bad), String(bad).slice(0, 20)).to.deep.include({ ok: false });
      }
      for (const bad of OPERATORS) expect(await verifyTotp(deps(), bad, user.code(1))).to.deep.equal({ ok: false, reason: 'no_factor' });
      expect(await verifyTotp(deps(), (await newUser()).userId, user.code(1))).to.deep.equal({ ok: false, reason: 'no_factor' });
    });

    it('after a data key rotation, still accept the code, and store the secret under the new key', async () => {
      const user = await enrolledUser();
      const oldKeys = dataKeysFor(server.deps.config);
      const rotated: FactorDeps = { ...deps(), vault: new DataVault([`a-new-data-key-${randomUUID()}`, ...oldKeys]) };
      const before = (await server.deps.db.collection('factors').findOne({ userId: user.userId, kind: 'totp' }))!.secret as string;
      expect(rotated.vault.needsReencryption(before)).to.equal(true);
      await awayFromStepBoundary();
      expect(await verifyTotp(rotated, user.userId, user.code())).to.deep.include({ ok: true });
      const after = (await server.deps.db.collection('factors').findOne({ userId: user.userId, kind: 'totp' }))!.secret as string;
      expect(after.split('.')[1]).to.not.equal(before.split('.')[1]);
      expect(rotated.vault.needsReencryption(after)).to.equal(false);
      // The old key alone no longer reads it: the rotation is complete for this secret.
      let thrown: unknown;
      await verifyTotp(deps(), user.userId, user.code(1)).catch((error: unknown) => (thrown = error));
      expect(thrown).to.have.property('name', 'DecryptionError');
      expect(await verifyTotp(rotated, user.userId, user.code(1))).to.deep.include({ ok: true });
    });
  });

  describe('recovery codes', () => {
    it('are ten distinct codes, stored only as hashes, each working once; regenerating invalidates the old set', async () => {
      const { userId, email } = await newUser();
      const { codes } = await generateRecoveryCodes(deps(), userId, { ip: '203.0.113.10' });
      expect(codes).to.have.length(10);
      expect(new Set(codes).size).to.equal(10);
      for (const code of codes) expect(code).to.match(/^[a-z2-7]{4}(-[a-z2-7]{4}){3}$/);

      const raw = JSON.stringify(await server.deps.db.collection('factors').findOne({ userId, kind: 'recovery_codes' }));
      for (const code of codes) {
        expect(raw).to.not.contain(code);
        expect(raw).to.not.contain(code.replace(/-/g, ''));
      }
      const mail = await mailTo(email, /New recovery codes/);
      for (const code of codes) expect(mail.text).to.not.contain(code);
      expect((await events(userId, 'recovery_codes.generated'))[0]!.details).to.deep.include({ count: 10, replaced: false });

      // Typed as people type: upper case, no hyphens, spaces.
      expect(await useRecoveryCode(deps(), userId, codes[0]!.toUpperCase().replace(/-/g, ' '))).to.deep.equal({ ok: true, remaining: 9 });
      expect(await useRecoveryCode(deps(), userId, codes[0]!)).to.deep.equal({ ok: false, reason: 'wrong_code' });
      for (const [index, code] of codes.slice(1).entries()) {
        expect(await useRecoveryCode(deps(), userId, code)).to.deep.equal({ ok: true, remaining: 8 - index });
        expect(await useRecoveryCode(deps(), userId, code)).to.deep.equal({ ok: false, reason: 'wrong_code' });
      }
      const [factor] = await factorsOf(deps(), userId);
      expect(factor).to.deep.include({ kind: 'recovery_codes', remainingCodes: 0, codeCount: 10 });

      const second = await generateRecoveryCodes(deps(), userId);
      expect(second.factorId).to.equal(factor!.id);
      expect(second.codes.filter((c) => codes.includes(c))).to.deep.equal([]);
      expect((await factorsOf(deps(), userId))[0]).to.deep.include({ remainingCodes: 10, lastUsedAt: null });
      const third = await generateRecoveryCodes(deps(), userId);
      for (const old of second.codes) expect(await useRecoveryCode(deps(), userId, old)).to.deep.equal({ ok: false, reason: 'wrong_code' });
      expect(await useRecoveryCode(deps(), userId, third.codes[3]!)).to.deep.equal({ ok: true, remaining: 9 });
      expect((await events(userId, 'recovery_codes.generated')).map((r) => r.details.replaced)).to.deep.equal([true, true, false]);
    });

    it('of 10 concurrent uses of one code, exactly one succeeds', async () => {
      const { userId } = await newUser();
      const { codes } = await generateRecoveryCodes(deps(), userId);
      const results = await Promise.all(Array.from({ length: 10 }, () => useRecoveryCode(deps(), userId, codes[5]!)));
      expect(results.filter((r) => r.ok)).to.deep.equal([{ ok: true, remaining: 9 }]);
      expect((await factorsOf(deps(), userId))[0]).to.deep.include({ remainingCodes: 9 });
    });

    it('work only for their own account, and refuse bad input without throwing', async () => {
      const owner = await newUser();
      const other = await newUser();
      const { codes } = await generateRecoveryCodes(deps(), owner.userId);
      expect(await useRecoveryCode(deps(), other.userId, codes[0]!)).to.deep.equal({ ok: false, reason: 'no_factor' });
      await generateRecoveryCodes(deps(), other.userId);
      expect(await useRecoveryCode(deps(), other.userId, codes[0]!)).to.deep.equal({ ok: false, reason: 'wrong_code' });
      for (const bad of ['', codes[0]!.slice(0, -1), `${codes[0]}a`, codes[0]!.replace(/[a-z]/, '1'), 'x'.repeat(100_000), ...OPERATORS]) {
        expect(await useRecoveryCode(deps(), owner.userId, bad), String(bad).slice(0, 20)).to.deep.equal({ ok: false, reason: 'malformed' });
      }
      for (const bad of OPERATORS) expect(await useRecoveryCode(deps(), bad, codes[0]!)).to.deep.equal({ ok: false, reason: 'no_factor' });
      expect((await factorsOf(deps(), owner.userId))[0]).to.deep.include({ remainingCodes: 10 });
    });
  });

  describe('the sign-in step (verifySecondFactor)', () => {
    it('takes an authenticator code or a recovery code, and clears the failures counted before', async () => {
      const user = await enrolledUser();
      const { codes } = await generateRecoveryCodes(deps(), user.userId);
      await awayFromStepBoundary();
      expect(await verifySecondFactor(deps(), { userId: user.userId, code: '000000x' })).to.deep.include({ ok: false });
      expect((await server.deps.lockout.state(accountSubject(user.userId)))!.totalFailures).to.equal(1);
      expect(await verifySecondFactor(deps(), { userId: user.userId, code: user.code() })).to.deep.equal({ ok: true, method: 'totp', remainingRecoveryCodes: null });
      expect(await server.deps.lockout.state(accountSubject(user.userId))).to.equal(null);
      expect(await verifySecondFactor(deps(), { userId: user.userId, code: codes[0]! })).to.deep.equal({ ok: true, method: 'recovery_code', remainingRecoveryCodes: 9 });
      const verified = await events(user.userId, 'factor.verified');
      expect(verified.map((r) => r.details.method)).to.deep.equal(['recovery_code', 'totp']);
    });

    it('counts every wrong code on the account, as a wrong password is; a locked account refuses even the right code without using it up', async () => {
      const user = await enrolledUser();
      await awayFromStepBoundary();
      const wrong = String((Number(user.code()) + 1) % 1_000_000).padStart(6, '0');
      const attempts = [wrong, user.code(-1), 'not a code', { $ne: '' } as unknown as string, 'abcd-efgh-ijkl-mnop'];
      for (const [index, code] of attempts.entries()) {
        expect(await verifySecondFactor(deps(), { userId: user.userId, code, context: { ip: '203.0.113.11' } })).to.deep.include({ ok: false });
        const state = await server.deps.lockout.state(accountSubject(user.userId));
        if (index < attempts.length - 1) expect(state!.totalFailures).to.equal(index + 1);
        else expect(state!.lockedUntil!.getTime()).to.be.greaterThan(Date.now());
      }
      // Locked: the right code is refused, and not used up.
      expect(await verifySecondFactor(deps(), { userId: user.userId, code: user.code() })).to.deep.equal({ ok: false, reason: 'locked' });
      const failed = await events(user.userId, 'signin.failed');
      expect(failed).to.have.length(6);
      expect(failed[0]!.details).to.deep.include({ reason: 'locked', during: 'second_factor' });
      expect(failed.at(-1)!.details).to.deep.include({ reason: 'wrong_code', during: 'second_factor', trustedDevice: false });
      expect(failed.map((r) => r.details.reason)).to.include('replayed').and.include('malformed');
      expect((await events(user.userId, 'account.locked'))[0]!.details).to.deep.include({ scope: 'account' });

      await server.deps.lockout.clearUser(user.userId);
      expect(await verifySecondFactor(deps(), { userId: user.userId, code: user.code() })).to.deep.include({ ok: true });
    });

    it('from a trusted browser of the account, counts on that browser\'s own counter (as sign-in does)', async () => {
      const user = await enrolledUser();
      const device = { userId: user.userId, deviceId: randomUUID() };
      expect(await verifySecondFactor(deps(), { userId: user.userId, device, code: '999999x' })).to.deep.include({ ok: false });
      expect((await server.deps.lockout.state(deviceSubject(device.deviceId)))!.totalFailures).to.equal(1);
      expect(await server.deps.lockout.state(accountSubject(user.userId))).to.equal(null);
      // Another account's browser cookie does not count: the account's counter does.
      const stranger = { userId: (await newUser()).userId, deviceId: randomUUID() };
      await verifySecondFactor(deps(), { userId: user.userId, device: stranger, code: '999999x' });
      expect((await server.deps.lockout.state(accountSubject(user.userId)))!.totalFailures).to.equal(1);
      expect(await server.deps.lockout.state(deviceSubject(stranger.deviceId))).to.equal(null);
      await server.deps.lockout.clearUser(user.userId);
    });

    it('refuses bad ids and codes without throwing', async () => {
      const user = await enrolledUser();
      for (const bad of OPERATORS) {
        expect(await verifySecondFactor(deps(), { userId: bad, code: user.code() })).to.deep.include({ ok: false });
        expect(await verifySecondFactor(deps(), { userId: user.userId, code: bad })).to.deep.include({ ok: false });
      }
      await server.deps.lockout.clearUser(user.userId);
    });
  });

  describe('removing factors', () => {
    it('removes one factor of the account, with a notice and an audit record; never another account\'s', async () => {
      const user = await enrolledUser();
      const other = await newUser();
      const [totp] = await factorsOf(deps(), user.userId);
      expect(await removeFactor(deps(), other.userId, totp!.id)).to.equal(false);
      for (const bad of OPERATORS) {
        expect(await removeFactor(deps(), user.userId, bad)).to.equal(false);
        expect(await removeFactor(deps(), bad, totp!.id)).to.equal(false);
      }
      expect(await factorsOf(deps(), user.userId)).to.have.length(1);
      expect(await removeFactor(deps(), user.userId, totp!.id, { ip: '203.0.113.12' })).to.equal(true);
      expect(await removeFactor(deps(), user.userId, totp!.id)).to.equal(false);
      expect(await factorsOf(deps(), user.userId)).to.deep.equal([]);
      expect(await verifyTotp(deps(), user.userId, user.code(1))).to.deep.equal({ ok: false, reason: 'no_factor' });
      const mail = await mailTo(user.email, /second factor was removed/);
      expect(mail.text).to.contain('an authenticator app').and.contain('203.0.113.12');
      expect((await events(user.userId, 'factor.removed'))[0]!.details).to.deep.include({ kind: 'totp', factorId: totp!.id });
    });

    it('an operator removes every factor and any unfinished enrolment at once', async () => {
      const user = await enrolledUser();
      await generateRecoveryCodes(deps(), user.userId);
      await startTotpEnrolment(deps(), user.userId, { issuer: 'Latchkey', account: user.email });
      expect(await removeAllFactors(deps(), user.userId, { actor: 'admin-1' })).to.equal(2);
      expect(await factorsOf(deps(), user.userId)).to.deep.equal([]);
      expect(await deps().enrolments.countDocuments({ userId: user.userId })).to.equal(0);
      const mail = await mailTo(user.email, /second factor was removed/);
      expect(mail.text).to.contain('recovery codes').and.contain('an authenticator app');
      const removed = await events(user.userId, 'factor.removed');
      expect(removed.map((r) => r.actor)).to.deep.equal(['admin-1', 'admin-1']);
      expect(await removeAllFactors(deps(), user.userId)).to.equal(0);
    });
  });

  it('unfinished enrolments are deleted by the expiry sweep (no TTL index needed); factors are not', async function () {
    this.timeout(30_000);
    await withTestServer({ env: { SWEEP_INTERVAL_MS: '100' } }, async (own) => {
      const userId = (await createUser(own.deps, { email: 'sweep@example.com', password: PASSWORD }))._id;
      const enrolment = await startTotpEnrolment(own.deps.factors, userId, { issuer: 'Latchkey', account: 'sweep@example.com' });
      await generateRecoveryCodes(own.deps.factors, userId);
      await own.deps.factors.enrolments.updateOne({ _id: enrolment.enrolmentId }, { $set: { expiresAt: new Date(Date.now() - 1000) } });
      const deadline = Date.now() + 10_000;
      while ((await own.deps.factors.enrolments.countDocuments({ userId })) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(await own.deps.factors.enrolments.countDocuments({ userId })).to.equal(0);
      expect(await factorsOf(own.deps.factors, userId)).to.have.length(1);
    });
  });
});
