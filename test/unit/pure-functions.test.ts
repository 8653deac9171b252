// The pure rules behind pages, CLI and mail, tested without a server: where a
// portal sign-in may return to, which words find an account, which SMTP failures
// are retried, and how a cell of a CSV report is written.
import { expect } from 'chai';
import { safeReturn } from '../../src/web/account/session.ts';
import { searchTermsFor } from '../../src/accounts/users.ts';
import { isRetryable } from '../../src/mail/mailer.ts';
import { csvCell } from '../../src/accounts/import-jobs.ts';
import { validateRow } from '../../src/accounts/import.ts';

describe('safe return paths after a portal sign-in', () => {
  for (const [given, expected] of [
    ['/account/profile', '/account/profile'],
    ['/account/apps?notice=app_revoked', '/account/apps?notice=app_revoked'],
    ['/account', '/account'],
  ] as const) {
    it(`keeps ${given}`, () => expect(safeReturn(given)).to.equal(expected));
  }
  for (const [label, given] of [
    ['another origin', 'https://evil.example/account'],
    ['a protocol-relative URL', '//evil.example/account'],
    ['a backslash trick', '/\\evil.example/account'],
    ['a path outside the portal', '/admin'],
    ['a look-alike prefix', '/accountant'],
    ['a dot-dot escape', '/account/../admin'],
    ['the sign-in itself (a loop)', '/account/login'],
    ['the callback', '/account/callback?code=x'],
    ['a control character', '/account/\u0000x'],
    ['something too long', `/account/${'a'.repeat(600)}`],
    ['not a string', ['/account/profile']],
    ['nothing', undefined],
  ] as const) {
    it(`refuses ${label}`, () => expect(safeReturn(given)).to.equal('/account'));
  }
});

describe('search terms of an account', () => {
  it('are the email, its parts and the words of the name, lower-cased and unique', () => {
    expect(searchTermsFor('Ada.Lovelace@Example.COM', "Ada O'Brien-Lovelace")).to.deep.equal([
      'ada.lovelace@example.com', 'ada.lovelace', 'example.com', 'ada', 'lovelace', 'o', 'brien',
    ]);
  });
  it('work without a name, and keep at most 20 terms', () => {
    expect(searchTermsFor('x@y.z', null)).to.deep.equal(['x@y.z', 'x', 'y.z']);
    expect(searchTermsFor('a@b.c', Array.from({ length: 40 }, (_, i) => `w${i}`).join(' '))).to.have.length(20);
  });
});

describe('which SMTP failures are retried', () => {
  const cases: Array<[string, unknown, boolean]> = [
    ['a transient 4xx reply', { responseCode: 451 }, true],
    ['503 (bad sequence: the transaction was refused)', { responseCode: 503 }, true],
    ['a permanent 5xx reply', { responseCode: 550 }, false],
    ['a refused connection', { code: 'ESOCKET', originalCode: 'ECONNREFUSED' }, true],
    ['a name that does not resolve', { code: 'EDNS' }, true],
    ['a TLS upgrade failure', { code: 'ETLS' }, true],
    ['a connect timeout', { code: 'ETIMEDOUT', timeoutType: 'CONNECT_TIMEOUT' }, true],
    ['a timeout mid-message (the server may have it)', { code: 'ETIMEDOUT', timeoutType: 'DATA_TIMEOUT' }, false],
    ['a connection lost mid-session', { code: 'ECONNECTION', originalCode: 'ECONNRESET', command: 'DATA' }, false],
    ['a connection already gone before the hand-over', { code: 'ECONNECTION', command: 'API' }, true],
    ['an authentication failure', { code: 'EAUTH', responseCode: undefined }, false],
    ['not an error at all', null, false],
  ];
  for (const [label, error, retried] of cases) {
    it(`${retried ? 'retries' : 'does not retry'} ${label}`, () => expect(isRetryable(error)).to.equal(retried));
  }
});

describe('CSV report cells', () => {
  it('leave plain text as it is', () => {
    expect(csvCell('ada@example.com')).to.equal('ada@example.com');
    expect(csvCell(12)).to.equal('12');
    expect(csvCell(null)).to.equal('');
    expect(csvCell(undefined)).to.equal('');
  });
  it('quote commas, quotes and line breaks (RFC 4180)', () => {
    expect(csvCell('a,b')).to.equal('"a,b"');
    expect(csvCell('say "hi"')).to.equal('"say ""hi"""');
    expect(csvCell('two\nlines')).to.equal('"two\nlines"');
  });
  it('defuse what a spreadsheet would run as a formula', () => {
    for (const formula of ['=HYPERLINK("x")', '+1', '-1+2', '@SUM(A1)', '\tx']) expect(csvCell(formula).replace(/^"/, '')).to.match(/^'/);
    expect(csvCell('=1,2')).to.equal('"\'=1,2"');
  });
});

describe('import row validation', () => {
  const reason = (record: Record<string, string>) => {
    const row = validateRow(record, 7);
    return 'reason' in row ? row.reason : null;
  };

  it('accepts a full row, normalising the email and the groups', () => {
    const row = validateRow({ email: 'Ada@Example.com', name: ' Ada ', password: 'a strong passphrase 1', must_change: 'yes', groups: 'staff; ops|staff' }, 3);
    expect(row).to.deep.include({ line: 3, email: 'Ada@Example.com', emailNormalized: 'ada@example.com', name: 'Ada', mustChange: true, groups: ['staff', 'ops'] });
  });
  it('accepts an email alone (the account is invited)', () => {
    expect(validateRow({ email: 'grace@example.com' }, 1)).to.deep.include({ password: null, passwordHash: null, mustChange: false, groups: null });
  });
  for (const [label, record, expected] of [
    ['a missing email', { name: 'No Email' }, /email is missing/],
    ['a malformed email', { email: 'not-an-address' }, /not a valid address/],
    ['a formula in the name', { email: 'a@example.com', name: '=HYPERLINK("x")' }, /formula/],
    ['a name over 200 characters', { email: 'a@example.com', name: 'n'.repeat(201) }, /longer than 200/],
    ['a must_change that is not a boolean', { email: 'a@example.com', must_change: 'maybe', password: 'x' }, /true or false/],
    ['both a password and a hash', { email: 'a@example.com', password: 'p', password_hash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA' }, /not both/],
    ['a hash of an unknown scheme', { email: 'a@example.com', password_hash: '5f4dcc3b5aa765d61d8327deb882cf99' }, /argon2 or bcrypt/],
    ['must_change without a password', { email: 'a@example.com', must_change: 'true' }, /needs a password/],
    ['a group with a forbidden character', { email: 'a@example.com', groups: 'ok;bad<group' }, /not allowed/],
    ['more than 50 groups', { email: 'a@example.com', groups: Array.from({ length: 51 }, (_, i) => `g${i}`).join(';') }, /more than 50/],
    ['text that was not UTF-8', { email: 'a@example.com', name: 'Caf\uFFFD' }, /not valid UTF-8/],
  ] as const) {
    it(`rejects ${label}, naming the line`, () => {
      expect(reason(record as Record<string, string>)).to.match(expected);
      expect(validateRow(record as Record<string, string>, 7)).to.include({ line: 7 });
    });
  }
});
