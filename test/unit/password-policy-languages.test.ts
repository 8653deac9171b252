// The password policy in the person's language: every rule and issue has a stable
// code and values, the English catalog says exactly what the APIs' English messages
// say (so English pages read as before), every language says each of them, and
// zxcvbn's feedback is put in words by the catalog without changing a score.
import { expect } from 'chai';
import * as zxcvbnEn from '@zxcvbn-ts/language-en';
import { describeIssue, describeIssues, PasswordPolicy, reuseIssue, type PasswordIssue, type PasswordRules } from '../../src/accounts/password-policy.ts';
import { allCatalogs, translator } from '../../src/i18n/messages.ts';
import { LOCALES } from '../../src/i18n/locales.ts';

const BASE: PasswordRules = {
  minLength: 8, maxLength: 128, rejectCommon: true, minScore: 3, rejectPersonalInfo: true,
  forbidSpaces: true, requiredCharacterClasses: 0, historyCount: 3,
} as PasswordRules;
const policy = (rules: Partial<PasswordRules> = {}) => new PasswordPolicy({ ...BASE, ...rules });

/** Passwords that between them break every rule, under the given rules. */
const SAMPLES = ['', 'abc', 'x'.repeat(200), '😀'.repeat(100), 'has a space 1', 'password123', 'aaaaaaaaaaaaaaaa', 'qwertyuiop', 'jsmith-orchard', 'Summer2024', 'plumtreeorchard', '19851231'];
const CONTEXT = { email: 'jsmith@example.com', name: 'John Smith', previous: 'plumtreeorchard' };

describe('password policy in every language', () => {
  const en = translator('en');
  const configurations: Array<Partial<PasswordRules>> = [
    {}, { minLength: 12, historyCount: 1 }, { requiredCharacterClasses: 1 }, { requiredCharacterClasses: 2 },
    { requiredCharacterClasses: 3 }, { requiredCharacterClasses: 4, maxLength: 64 }, { rejectCommon: false, minScore: 0, rejectPersonalInfo: false, forbidSpaces: false, historyCount: 0 },
  ];

  it('says every rule in English exactly as describe() does', () => {
    for (const rules of configurations) {
      for (const options of [{}, { history: false }]) {
        expect(policy(rules).describeFor(en, options), JSON.stringify(rules)).to.deep.equal(policy(rules).describe(options));
      }
    }
  });

  it('gives every rule a code and says it in every language', () => {
    for (const rules of configurations) {
      const list = policy(rules).ruleList();
      expect(list.every((rule) => typeof rule.code === 'string' && rule.message.length > 0)).to.equal(true);
      for (const locale of LOCALES) {
        const lines = policy(rules).describeFor(translator(locale));
        expect(lines).to.have.length(list.length);
        if (locale !== 'en') lines.forEach((line, i) => expect(line, `${locale} ${list[i]!.code}`).to.not.equal(list[i]!.message));
      }
    }
  });

  it('says every issue in English exactly as its message (the APIs\' English), with the same codes and values as before', () => {
    const issues: PasswordIssue[] = [reuseIssue(1), reuseIssue(5)];
    for (const rules of configurations) for (const password of SAMPLES) issues.push(...policy(rules).check(password, CONTEXT));
    issues.push(...policy().check(42));
    const codes = new Set(issues.map((issue) => issue.code));
    expect([...codes].sort()).to.deep.equal(['character_classes', 'common', 'contains_personal_info', 'contains_spaces', 'not_text', 'reused', 'too_long', 'too_short', 'too_weak']);
    for (const issue of issues) expect(describeIssue(en, issue), issue.code).to.equal(issue.message);
    expect(describeIssues(en, issues.slice(0, 3))).to.equal(issues.slice(0, 3).map((issue) => issue.message).join(' '));
    expect(policy({ minLength: 12 }).check('abc')[0]).to.deep.include({ code: 'too_short', values: { min: 12 } });
  });

  it('says every issue in every language, with zxcvbn\'s advice in that language', () => {
    const issues: PasswordIssue[] = [reuseIssue(1), reuseIssue(3), reuseIssue(11)];
    for (const rules of configurations) for (const password of SAMPLES) issues.push(...policy(rules).check(password, CONTEXT));
    for (const locale of LOCALES.filter((l) => l !== 'en')) {
      const t = translator(locale);
      for (const issue of issues) {
        const text = describeIssue(t, issue);
        expect(text, `${locale} ${issue.code}`).to.be.a('string').and.not.equal(issue.message);
        expect(text, `${locale} ${issue.code}: English zxcvbn advice`).to.not.match(/easy to guess|Avoid|Add more words/);
      }
    }
    const weak = policy().check('aaaaaaaaaaaaaaaa')[0]!;
    expect(weak.values).to.deep.include({ warning: 'simpleRepeat' });
    expect(describeIssue(translator('ja'), weak)).to.equal('このパスワードは簡単に推測されてしまいます。「aaa」のような同じ文字の繰り返しは推測されやすくなります。あまり使われない単語をさらに加えてください。');
  });

  it('has zxcvbn\'s own English for its feedback in the English catalog, and every feedback key in every language', () => {
    const catalogs = allCatalogs();
    const { warnings, suggestions } = zxcvbnEn.translations as { warnings: Record<string, string>; suggestions: Record<string, string> };
    for (const [key, text] of Object.entries(warnings)) expect(catalogs.en[`password.zxcvbn.warning.${key}`], key).to.equal(text);
    for (const [key, text] of Object.entries(suggestions)) expect(catalogs.en[`password.zxcvbn.suggestion.${key}`], key).to.equal(text);
    const feedbackKeys = Object.keys(catalogs.en).filter((key) => key.startsWith('password.zxcvbn.'));
    expect(feedbackKeys).to.have.length(Object.keys(warnings).length + Object.keys(suggestions).length);
  });

  it('keeps the English strength feedback and the scores', () => {
    const strength = policy().strength('aaaaaaaaaaaa');
    expect(strength.score).to.equal(0);
    expect(strength.feedback).to.equal('Repeated characters like "aaa" are easy to guess.');
    expect(policy().strength('zorblatt-7', ['Zorblatt']).feedback).to.equal('There should not be any personal or page related data.');
  });
});
