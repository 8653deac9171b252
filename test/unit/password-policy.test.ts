import { expect } from 'chai';
import { PasswordPolicy, reuseIssue, normalizePassword, type PasswordRules } from '../../src/accounts/password-policy.ts';
import { PASSWORD_MAX_BYTES } from '../../src/accounts/passwords.ts';

const defaults: PasswordRules = {
  minLength: 8,
  maxLength: 128,
  minScore: 2,
  rejectCommon: true,
  rejectPersonalInfo: true,
  historyCount: 3,
  forbidSpaces: false,
  requiredCharacterClasses: 0,
};
const policy = (overrides: Partial<PasswordRules> = {}) => new PasswordPolicy({ ...defaults, ...overrides });
/** Only the rule under test: no strength or dictionary checks. */
const only = (overrides: Partial<PasswordRules> = {}) => policy({ minScore: 0, rejectCommon: false, rejectPersonalInfo: false, ...overrides });
const codes = (p: PasswordPolicy, password: unknown, context = {}) => p.check(password, context).map((issue) => issue.code);

const PASSPHRASE = 'velvet nomad quarry lantern';

/** A reproducible string of varied characters (a small linear congruential generator). */
function scrambled(length: number): string {
  const alphabet = 'abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ0123456789@$!#%&*+=?|()[]';
  let seed = 20240611;
  let out = '';
  for (let i = 0; i < length; i++) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    out += alphabet[seed % alphabet.length];
  }
  return out;
}

describe('password policy', () => {
  it('accepts a strong four-word passphrase', () => {
    expect(policy().check(PASSPHRASE, { email: 'jsmith@example.com', name: 'Alice Wong' })).to.deep.equal([]);
    expect(policy().check('blue-ocean-9')).to.deep.equal([]);
  });

  it('refuses anything that is not text', () => {
    for (const value of [{ $ne: 1 }, undefined, null, 42, ['password1234'], true]) {
      const issues = policy().check(value);
      expect(issues, String(value)).to.have.length(1);
      expect(issues[0]!.code).to.equal('not_text');
      expect(issues[0]!.message).to.be.a('string').and.not.be.empty;
    }
  });

  describe('length', () => {
    it('accepts exactly the minimum and refuses one less', () => {
      expect(codes(policy(), 'Xk9#mQ2$')).to.deep.equal([]);
      expect(codes(policy(), 'Xk9#mQ2')).to.deep.equal(['too_short']);
      const p = only({ minLength: 12 });
      expect(codes(p, 'tR7#vB2!qL9@')).to.deep.equal([]);
      const issues = p.check('tR7#vB2!qL9');
      expect(issues.map((i) => i.code)).to.deep.equal(['too_short']);
      expect(issues[0]!.message).to.equal('Use at least 12 characters.');
    });

    it('refuses the empty password as too short', () => {
      expect(codes(policy(), '')).to.deep.equal(['too_short']);
    });

    it('accepts exactly the maximum and refuses one more', () => {
      const p = only({ maxLength: 64 });
      expect(codes(p, scrambled(64))).to.deep.equal([]);
      const issues = p.check(scrambled(65));
      expect(issues.map((i) => i.code)).to.deep.equal(['too_long']);
      expect(issues[0]!.message).to.equal('Use at most 64 characters.');
    });

    it('counts characters, not UTF-16 units: an emoji is one character', () => {
      const p = only();
      expect(codes(p, '😀'.repeat(8))).to.deep.equal([]);
      expect(codes(p, '😀'.repeat(7))).to.deep.equal(['too_short']);
      expect(codes(only({ maxLength: 64 }), '😀'.repeat(64))).to.deep.equal([]);
      expect(codes(only({ maxLength: 64 }), '😀'.repeat(65))).to.deep.equal(['too_long']);
    });

    it(`refuses more than ${PASSWORD_MAX_BYTES} UTF-8 bytes even within the character limit`, () => {
      const p = only({ maxLength: 1024 });
      // Each emoji is 4 bytes.
      expect(codes(p, '😀'.repeat(PASSWORD_MAX_BYTES / 4))).to.deep.equal([]);
      const issues = p.check('😀'.repeat(PASSWORD_MAX_BYTES / 4 + 1));
      expect(issues.map((i) => i.code)).to.deep.equal(['too_long']);
      expect(issues[0]!.message).to.match(/too long/);
      // "é" is 2 bytes.
      expect(codes(p, '\u00e9'.repeat(PASSWORD_MAX_BYTES / 2))).to.deep.equal([]);
      expect(codes(p, '\u00e9'.repeat(PASSWORD_MAX_BYTES / 2 + 1))).to.deep.equal(['too_long']);
    });

    it('counts composed and decomposed accents the same (NFC)', () => {
      const composed = 'r\u00e9sum\u00e9s!'; // 8 code points
      const decomposed = 're\u0301sume\u0301s!'; // 10 code points before normalising
      expect(normalizePassword(decomposed)).to.equal(composed);
      expect(codes(only(), composed)).to.deep.equal([]);
      expect(codes(only(), decomposed)).to.deep.equal([]);
      expect(codes(only({ minLength: 9 }), composed)).to.deep.equal(['too_short']);
      expect(codes(only({ minLength: 9 }), decomposed)).to.deep.equal(['too_short']);
      expect(codes(only(), decomposed, { previous: composed })).to.deep.equal(['reused']);
    });
  });

  describe('common passwords', () => {
    for (const password of ['password', '123456789', 'qwerty123', 'PASSWORD', 'Password1']) {
      it(`refuses ${JSON.stringify(password)}`, () => {
        const issues = policy().check(password);
        expect(issues.map((i) => i.code)).to.deep.equal(['common']);
        expect(issues[0]!.message).to.equal('This password is too common. Choose something less predictable.');
      });
    }

    for (const password of ['P@ssw0rd', 'p4ssw0rd', 'P@ssw0rd123']) {
      it(`refuses the leet variant ${JSON.stringify(password)}`, () => {
        expect(codes(policy(), password)).to.include('common');
      });
    }

    it('does not call a longer password common because it contains a common word', () => {
      expect(codes(policy(), 'password-tundra-violin')).to.not.include('common');
    });

    it('allows common passwords when rejectCommon is off (strength still applies)', () => {
      expect(codes(policy({ rejectCommon: false, minScore: 0 }), 'password')).to.deep.equal([]);
      expect(codes(policy({ rejectCommon: false }), 'password')).to.deep.equal(['too_weak']);
    });
  });

  describe('strength', () => {
    it('refuses a guessable password with zxcvbn advice, and accepts it when minScore allows', () => {
      const issues = policy().check('aaaaaaaaaaaa');
      expect(issues.map((i) => i.code)).to.deep.equal(['too_weak']);
      expect(issues[0]!.message).to.match(/^This password would be easy to guess\. /);
      expect(issues[0]!.message).to.include('Repeated characters');
      expect(codes(policy({ minScore: 0 }), 'aaaaaaaaaaaa')).to.deep.equal([]);
    });

    it('applies a higher minScore', () => {
      expect(codes(policy({ minScore: 2 }), 'zebra castle')).to.deep.equal([]);
      expect(codes(policy({ minScore: 4 }), 'zebra castle')).to.deep.equal(['too_weak']);
      expect(codes(policy({ minScore: 4 }), PASSPHRASE)).to.deep.equal([]);
    });

    it('gives a score and one line of feedback', () => {
      const weak = policy().strength('aaaaaaaaaaaa');
      expect(weak.score).to.equal(0);
      expect(weak.feedback).to.be.a('string').and.not.be.empty;
      const strong = policy().strength(PASSPHRASE);
      expect(strong.score).to.equal(4);
      expect(strong.feedback).to.equal(null);
      // User inputs (the person's name or email) count as easy to guess.
      expect(policy().strength('zorblatt-7').score).to.be.at.least(3);
      const personal = policy().strength('zorblatt-7', ['Zorblatt']);
      expect(personal.score).to.be.below(2);
      expect(personal.feedback).to.include('personal');
    });
  });

  describe('personal information', () => {
    const context = { email: 'JSmith@example.com', name: 'Alice  Wong-Harper' };

    it('refuses the email local part, the whole email or a part of the name', () => {
      for (const password of ['jsmith-rocks-2024', 'xx-JSMITH-harbor', 'jsmith@example.com!', 'WongFamily-Harbor-77', 'harper-tundra-violin', 'my friend alice!!']) {
        const issues = policy().check(password, context);
        expect(issues.map((i) => i.code), password).to.include('contains_personal_info');
        expect(issues.find((i) => i.code === 'contains_personal_info')!.message).to.equal('Don’t include your name or email address.');
      }
    });

    it('ignores short parts and other people', () => {
      expect(codes(policy(), 'jolly-lion-harbor', { email: 'jo@example.com', name: 'Jo Li' })).to.deep.equal([]);
      expect(codes(policy(), 'tundra-violin-harbor', context)).to.deep.equal([]);
    });

    it('is off when rejectPersonalInfo is false', () => {
      expect(codes(policy({ rejectPersonalInfo: false }), 'jsmith-rocks-2024', context)).to.deep.equal([]);
    });
  });

  it('forbids spaces only when configured', () => {
    expect(codes(policy(), PASSPHRASE)).to.deep.equal([]);
    expect(codes(policy({ forbidSpaces: true }), PASSPHRASE)).to.deep.equal(['contains_spaces']);
    expect(codes(policy({ forbidSpaces: true }), 'velvet\tnomad-quarry')).to.deep.equal(['contains_spaces']);
    expect(codes(policy({ forbidSpaces: true }), 'velvet-nomad-quarry-lantern')).to.deep.equal([]);
  });

  it('requires 0 to 4 character classes', () => {
    const samples = ['plumtreeorchard', 'plumtreeOrchard', 'plumtreeOrchard7', 'plumtree-Orchard7']; // 1, 2, 3, 4 classes
    for (let required = 0; required <= 4; required++) {
      const p = only({ requiredCharacterClasses: required });
      samples.forEach((password, index) => {
        const classes = index + 1;
        expect(codes(p, password), `${password} with ${required} required`).to.deep.equal(classes >= required ? [] : ['character_classes']);
      });
    }
    const message = only({ requiredCharacterClasses: 3 }).check('plumtreeorchard')[0]!.message;
    expect(message).to.equal('Use at least three of these: lowercase letters, uppercase letters, digits, symbols.');
    expect(codes(only({ requiredCharacterClasses: 2 }), 'ÉCOLEécole')).to.deep.equal([]);
  });

  describe('reuse', () => {
    it('refuses the previous (temporary) password and nothing else', () => {
      expect(policy().check(PASSPHRASE, { previous: PASSPHRASE })).to.deep.equal([reuseIssue(1)]);
      expect(codes(policy(), PASSPHRASE, { previous: 'velvet nomad quarry lanterns' })).to.deep.equal([]);
      expect(codes(policy(), PASSPHRASE, { previous: null })).to.deep.equal([]);
    });

    it('builds the history message with the count', () => {
      expect(reuseIssue(3).code).to.equal('reused');
      expect(reuseIssue(3).message).to.match(/^Choose a password you have not used recently/).and.include('3');
      expect(reuseIssue(1).message).to.include('current');
    });
  });

  it('describes the rules from the configuration', () => {
    expect(policy().describe()).to.deep.equal([
      'At least 8 characters',
      'No more than 128 characters',
      'Not a commonly used password',
      'Hard to guess: avoid single words, keyboard patterns, repeated characters and dates',
      'Does not contain your name or email address',
      'Not one of your last 3 passwords',
    ]);
    const strict = policy({ minLength: 12, maxLength: 64, rejectCommon: false, minScore: 0, rejectPersonalInfo: false, forbidSpaces: true, requiredCharacterClasses: 3, historyCount: 1 });
    expect(strict.describe()).to.deep.equal([
      'At least 12 characters',
      'No more than 64 characters',
      'No spaces',
      'At least three of: lowercase letters, uppercase letters, digits, symbols',
      'Different from your current password',
    ]);
    expect(policy({ requiredCharacterClasses: 4, historyCount: 0 }).describe()).to.include('Lowercase and uppercase letters, digits and symbols')
      .and.not.include('Not one of your last 3 passwords');
    expect(policy().describe({ history: false })).to.not.include('Not one of your last 3 passwords');
  });

  it('checks a 1,000-character password quickly (guard against pathological input)', () => {
    const p = policy({ maxLength: 1024 });
    for (const password of [scrambled(1000), '@4013$!|'.repeat(125), 'a'.repeat(1000)]) {
      const started = performance.now();
      p.check(password, { email: `${'x'.repeat(60)}@example.com`, name: 'Alice Wong' });
      expect(performance.now() - started, password.slice(0, 20)).to.be.below(2000);
    }
  });
});
