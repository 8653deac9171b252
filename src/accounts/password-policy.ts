// The password policy: one set of rules for every path that sets a password
// (sign-up, reset, invite, change, API, import), and the one place its messages
// are written. Strength comes from zxcvbn-ts with its bundled dictionaries; it
// makes no network calls.
import { ZxcvbnFactory, type ZxcvbnResult } from '@zxcvbn-ts/core';
import * as zxcvbnCommon from '@zxcvbn-ts/language-common';
import * as zxcvbnEn from '@zxcvbn-ts/language-en';
import type { Policy } from '../config.ts';
import type { Translate } from '../i18n/messages.ts';
import { PASSWORD_MAX_BYTES } from './passwords.ts';

export type PasswordRules = Policy['passwordPolicy'];

/**
 * A rule the password breaks: a stable `code` with its `values` (numbers of the
 * rule, zxcvbn's feedback as keys), and the English `message` the APIs, the CLI
 * and SCIM return. Pages say it in the person's language with describeIssue().
 */
export interface PasswordIssue {
  code: string;
  message: string;
  values?: IssueValues;
}

export interface IssueValues {
  /** too_short: the shortest length. */
  min?: number;
  /** too_long: the longest length in characters; absent when the password is too long in bytes. */
  max?: number;
  /** character_classes: classes required; reused: passwords it must differ from. */
  count?: number;
  /** too_weak: zxcvbn's warning and first suggestion, as its translation keys (null when none). */
  warning?: string | null;
  suggestion?: string | null;
}

/** One rule of the policy, as a page lists it: a stable code, its numbers, and the English phrase of describe(). */
export interface PasswordRule {
  code: 'min_length' | 'max_length' | 'not_common' | 'hard_to_guess' | 'no_personal_info' | 'no_spaces' | 'character_classes' | 'history';
  values?: { min?: number; max?: number; count?: number };
  message: string;
}

export interface PasswordContext {
  email?: string | null;
  name?: string | null;
  /** A password the new one must differ from, such as the temporary one being replaced. */
  previous?: string | null;
}

/**
 * How much of a password zxcvbn sees. Its matching grows with length times the
 * number of leet variants it tries: measured here, 256 characters took about two
 * seconds of blocked event loop, 64 with the variant cap below about 0.1 s. A
 * password longer than this is judged on its first 64 characters, which for
 * anything but a repeated pattern is already the top score.
 */
const ZXCVBN_MAX_INPUT = 64;
/** Leet variants zxcvbn tries per password (its default is 100); the fully substituted ones come first. */
const ZXCVBN_L33T_VARIANTS = 20;
/** Names and email parts given to zxcvbn as user inputs are cut to this length: longer ones widen its search. */
const USER_INPUT_MAX = 32;
/** Shortest email local part or name part treated as personal information. */
const PERSONAL_PART_MIN = 3;

const CLASS_NAMES = ['lowercase letters', 'uppercase letters', 'digits', 'symbols'] as const;
const NUMBER_WORDS = ['zero', 'one', 'two', 'three', 'four'] as const;

const MESSAGES = {
  notText: 'Enter a password.',
  tooShort: (min: number) => `Use at least ${min} characters.`,
  tooLong: (max: number) => `Use at most ${max} characters.`,
  tooManyBytes: 'This password is too long. Use fewer characters (emoji and some symbols take up more room).',
  common: 'This password is too common. Choose something less predictable.',
  tooWeak: 'This password would be easy to guess.',
  personalInfo: 'Don’t include your name or email address.',
  spaces: 'Don’t use spaces.',
  characterClasses: (n: number) =>
    n >= 4
      ? 'Use lowercase and uppercase letters, digits and symbols.'
      : n === 1
        ? 'Use at least one letter, digit or symbol.'
        : `Use at least ${NUMBER_WORDS[n]} of these: ${CLASS_NAMES.join(', ')}.`,
} as const;

/** The issue for a password found among the person's recent ones (the history check lives with the stored hashes). */
export function reuseIssue(count: number): PasswordIssue {
  const n = Math.max(1, Math.floor(count));
  return {
    code: 'reused',
    values: { count: n },
    message: n === 1
      ? 'Choose a password you have not used recently: it must differ from your current one.'
      : `Choose a password you have not used recently: it must differ from your last ${n} passwords.`,
  };
}

/**
 * The form in which passwords are checked: Unicode NFC, so "é" typed as one code
 * point or as "e" plus a combining accent is the same password. Hash and verify
 * this form too, or the two spellings would not match at sign-in.
 */
export function normalizePassword(password: string): string {
  return password.normalize('NFC');
}

// zxcvbn-ts is configured once per process, on first use: building its ranked
// dictionaries takes a noticeable fraction of a second.
let factory: ZxcvbnFactory | undefined;

// zxcvbn is given its own translation keys as its "translations": its feedback comes
// back as keys (warnings.straightRow, suggestions.repeated), which the English of the
// APIs (zxcvbnEn) and the pages' catalogs (password.zxcvbn.*) then put in words.
const identity = (words: Record<string, unknown>) => Object.fromEntries(Object.keys(words).map((key) => [key, key]));
const ZXCVBN_KEYS = {
  warnings: identity(zxcvbnEn.translations.warnings),
  suggestions: identity(zxcvbnEn.translations.suggestions),
  timeEstimation: zxcvbnEn.translations.timeEstimation,
} as typeof zxcvbnEn.translations;
const englishWarning = (key: string | null) => (key ? (zxcvbnEn.translations.warnings as Record<string, string>)[key] ?? key : null);
const englishSuggestion = (key: string | null) => (key ? (zxcvbnEn.translations.suggestions as Record<string, string>)[key] ?? key : null);
let commonPasswords: ReadonlySet<string> | undefined;

function zxcvbn(): ZxcvbnFactory {
  factory ??= new ZxcvbnFactory({
    dictionary: { ...zxcvbnCommon.dictionary, ...zxcvbnEn.dictionary },
    graphs: zxcvbnCommon.adjacencyGraphs,
    translations: ZXCVBN_KEYS,
    maxLength: ZXCVBN_MAX_INPUT,
    l33tMaxSubstitutions: ZXCVBN_L33T_VARIANTS,
  });
  return factory;
}

function commonPasswordSet(): ReadonlySet<string> {
  commonPasswords ??= new Set(zxcvbnCommon.dictionary['passwords-common'].map((word) => String(word).toLowerCase()));
  return commonPasswords;
}

/** zxcvbn's name for the common-passwords dictionary ("passwords-common" in v4). */
function isPasswordsDictionary(name: unknown): boolean {
  return typeof name === 'string' && (name === 'passwords' || name.startsWith('passwords-'));
}

function estimate(normalized: string, userInputs: string[]): ZxcvbnResult {
  // Cut by code points so a surrogate pair is never split.
  const input = [...normalized].slice(0, ZXCVBN_MAX_INPUT).join('');
  const inputs = userInputs.filter((s) => s.length > 0).map((s) => [...s].slice(0, USER_INPUT_MAX).join(''));
  return zxcvbn().check(input, inputs);
}

/** zxcvbn's warning and first suggestion, as its translation keys (null when it has nothing to say). */
function feedbackKeys(result: ZxcvbnResult, options: { skipWarnings?: string[] } = {}): { warning: string | null; suggestion: string | null } {
  const warning = result.feedback.warning && !options.skipWarnings?.includes(result.feedback.warning) ? result.feedback.warning : null;
  return { warning, suggestion: result.feedback.suggestions[0] ?? null };
}

/** The same in English, as one piece of text; null when it has nothing to say. */
function feedbackText(feedback: { warning: string | null; suggestion: string | null }): string | null {
  const parts = [englishWarning(feedback.warning), englishSuggestion(feedback.suggestion)].filter((s): s is string => Boolean(s));
  return parts.length ? parts.join(' ') : null;
}

/** The email local part, the whole email and the name's words, lowercased; only those long enough to mean something. */
function personalParts(context: PasswordContext): string[] {
  const parts = new Set<string>();
  const email = typeof context.email === 'string' ? normalizePassword(context.email.trim()).toLowerCase() : '';
  if (email) {
    parts.add(email);
    const at = email.lastIndexOf('@');
    const local = at > 0 ? email.slice(0, at) : email;
    parts.add(local);
    const plus = local.indexOf('+'); // jsmith+news@… is still jsmith
    if (plus > 0) parts.add(local.slice(0, plus));
  }
  const name = typeof context.name === 'string' ? normalizePassword(context.name).toLowerCase() : '';
  for (const word of name.split(/[^\p{L}\p{M}\p{N}]+/u)) parts.add(word);
  return [...parts].filter((part) => [...part].length >= PERSONAL_PART_MIN);
}

function characterClassCount(password: string): number {
  let lower = false, upper = false, digit = false, other = false;
  for (const ch of password) {
    if (/\p{Ll}/u.test(ch)) lower = true;
    else if (/\p{Lu}|\p{Lt}/u.test(ch)) upper = true;
    else if (/\p{Nd}/u.test(ch)) digit = true;
    else other = true;
  }
  return Number(lower) + Number(upper) + Number(digit) + Number(other);
}

export class PasswordPolicy {
  readonly rules: Readonly<PasswordRules>;

  constructor(rules: PasswordRules) {
    this.rules = Object.freeze({ ...rules });
  }

  /**
   * Every rule the password breaks, in the order to show them; empty when it is
   * acceptable. Synchronous and without side effects. Checking it against the
   * person's stored password history is the caller's job (see reuseIssue).
   */
  check(password: unknown, context: PasswordContext = {}): PasswordIssue[] {
    if (typeof password !== 'string') return [{ code: 'not_text', message: MESSAGES.notText }];
    const rules = this.rules;
    const normalized = normalizePassword(password);
    const length = [...normalized].length;
    const issues: PasswordIssue[] = [];

    const tooShort = length < rules.minLength;
    if (tooShort) issues.push({ code: 'too_short', values: { min: rules.minLength }, message: MESSAGES.tooShort(rules.minLength) });
    if (length > rules.maxLength) issues.push({ code: 'too_long', values: { max: rules.maxLength }, message: MESSAGES.tooLong(rules.maxLength) });
    else if (Buffer.byteLength(normalized, 'utf8') > PASSWORD_MAX_BYTES) issues.push({ code: 'too_long', message: MESSAGES.tooManyBytes });

    if (rules.forbidSpaces && /\s/u.test(normalized)) issues.push({ code: 'contains_spaces', message: MESSAGES.spaces });
    if (rules.requiredCharacterClasses > 0 && characterClassCount(normalized) < rules.requiredCharacterClasses) {
      issues.push({ code: 'character_classes', values: { count: rules.requiredCharacterClasses }, message: MESSAGES.characterClasses(rules.requiredCharacterClasses) });
    }

    if (typeof context.previous === 'string' && normalizePassword(context.previous) === normalized) issues.push(reuseIssue(1));

    const personal = personalParts(context);
    const lower = normalized.toLowerCase();
    const hasPersonalInfo = rules.rejectPersonalInfo && personal.some((part) => lower.includes(part));

    // Nothing to estimate in an empty password; too_short already says what to do.
    if (normalized.length === 0) return issues;
    const needsEstimate = rules.rejectCommon || rules.minScore > 0;
    const result = needsEstimate ? estimate(normalized, personal) : undefined;

    let common = false;
    if (rules.rejectCommon) {
      common = commonPasswordSet().has(lower) || (result !== undefined && this.#isWholeDictionaryMatch(result, normalized));
      if (common) issues.push({ code: 'common', message: MESSAGES.common });
    }
    if (hasPersonalInfo) issues.push({ code: 'contains_personal_info', message: MESSAGES.personalInfo });

    // A too-short or common password is weak for a reason already given.
    if (result && result.score < rules.minScore && !tooShort && !common) {
      const keys = feedbackKeys(result, hasPersonalInfo ? { skipWarnings: [ZXCVBN_KEYS.warnings.userInputs] } : {});
      const feedback = feedbackText(keys);
      issues.push({ code: 'too_weak', values: keys, message: feedback ? `${MESSAGES.tooWeak} ${feedback}` : MESSAGES.tooWeak });
    }
    return issues;
  }

  /** The rules, each with its code and numbers, in the order to list them beside the password field. */
  ruleList(options: { history?: boolean } = {}): PasswordRule[] {
    const rules = this.rules;
    const list: PasswordRule[] = [
      { code: 'min_length', values: { min: rules.minLength }, message: `At least ${rules.minLength} characters` },
      { code: 'max_length', values: { max: rules.maxLength }, message: `No more than ${rules.maxLength} characters` },
    ];
    if (rules.rejectCommon) list.push({ code: 'not_common', message: 'Not a commonly used password' });
    if (rules.minScore > 0) list.push({ code: 'hard_to_guess', message: 'Hard to guess: avoid single words, keyboard patterns, repeated characters and dates' });
    if (rules.rejectPersonalInfo) list.push({ code: 'no_personal_info', message: 'Does not contain your name or email address' });
    if (rules.forbidSpaces) list.push({ code: 'no_spaces', message: 'No spaces' });
    const classes = rules.requiredCharacterClasses;
    if (classes >= 2) {
      list.push({
        code: 'character_classes', values: { count: Math.min(classes, 4) },
        message: classes >= 4 ? 'Lowercase and uppercase letters, digits and symbols' : `At least ${NUMBER_WORDS[classes]} of: ${CLASS_NAMES.join(', ')}`,
      });
    }
    if ((options.history ?? true) && rules.historyCount > 0) {
      const count = rules.historyCount;
      list.push({ code: 'history', values: { count }, message: count === 1 ? 'Different from your current password' : `Not one of your last ${count} passwords` });
    }
    return list;
  }

  /** The rules as short English phrases (the console and the APIs' descriptions). */
  describe(options: { history?: boolean } = {}): string[] {
    return this.ruleList(options).map((rule) => rule.message);
  }

  /** The rules as short phrases in a page's language: `t` is the page's translator (i18n/messages.ts). */
  describeFor(t: Translate, options: { history?: boolean } = {}): string[] {
    return this.ruleList(options).map((rule) => t(RULE_KEYS[rule.code], rule.values));
  }

  /** zxcvbn's score and one line of advice, for a meter or an API; not a verdict (use check). */
  strength(password: string, userInputs: string[] = []): { score: 0 | 1 | 2 | 3 | 4; feedback: string | null } {
    const normalized = normalizePassword(String(password));
    if (normalized.length === 0) return { score: 0, feedback: MESSAGES.notText };
    const result = estimate(normalized, userInputs.filter((s) => typeof s === 'string').map((s) => normalizePassword(s).toLowerCase()));
    return { score: result.score, feedback: englishWarning(result.feedback.warning) ?? englishSuggestion(result.feedback.suggestions[0] ?? null) };
  }

  /** True when zxcvbn read the whole password as one entry of its common-passwords list (plain, leet or reversed). */
  #isWholeDictionaryMatch(result: ZxcvbnResult, normalized: string): boolean {
    if ([...normalized].length > ZXCVBN_MAX_INPUT) return false;
    return result.sequence.some(
      (match) => match.pattern === 'dictionary' && isPasswordsDictionary(match['dictionaryName']) && match.i === 0 && match.j === normalized.length - 1,
    );
  }
}

// ---- The policy in the person's language (locales/*/password.json) ----

const RULE_KEYS: Record<PasswordRule['code'], string> = {
  min_length: 'password.rule.minLength',
  max_length: 'password.rule.maxLength',
  not_common: 'password.rule.notCommon',
  hard_to_guess: 'password.rule.hardToGuess',
  no_personal_info: 'password.rule.noPersonalInfo',
  no_spaces: 'password.rule.noSpaces',
  character_classes: 'password.rule.characterClasses',
  history: 'password.rule.history',
};

const ISSUE_KEYS: Record<string, string> = {
  not_text: 'password.issue.notText',
  too_short: 'password.issue.tooShort',
  too_long: 'password.issue.tooLong',
  contains_spaces: 'password.issue.spaces',
  character_classes: 'password.issue.characterClasses',
  reused: 'password.issue.reused',
  common: 'password.issue.common',
  contains_personal_info: 'password.issue.personalInfo',
  too_weak: 'password.issue.tooWeak',
};

/** Two sentences one after the other, as the language writes them (Japanese without a space). */
const joinSentences = (t: Translate, sentences: string[]) =>
  sentences.reduce((first, second) => (first ? t('password.sentences', { first, second }) : second), '');

/** One issue in the language of `t`; the English message for a code this file does not know. */
export function describeIssue(t: Translate, issue: PasswordIssue): string {
  const values = issue.values ?? {};
  if (issue.code === 'too_long' && values.max === undefined) return t('password.issue.tooManyBytes');
  const key = ISSUE_KEYS[issue.code];
  if (!key) return issue.message;
  const text = t(key, { min: values.min, max: values.max, count: values.count });
  if (issue.code !== 'too_weak') return text;
  const advice = [
    values.warning && Object.hasOwn(ZXCVBN_KEYS.warnings, values.warning) ? t(`password.zxcvbn.warning.${values.warning}`) : null,
    values.suggestion && Object.hasOwn(ZXCVBN_KEYS.suggestions, values.suggestion) ? t(`password.zxcvbn.suggestion.${values.suggestion}`) : null,
  ].filter((s): s is string => Boolean(s));
  return joinSentences(t, [text, ...advice]);
}

/** Every issue in the language of `t`, as one text for the field's error. */
export function describeIssues(t: Translate, issues: readonly PasswordIssue[]): string {
  return joinSentences(t, issues.map((issue) => describeIssue(t, issue)));
}
