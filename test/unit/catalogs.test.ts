// The message catalogs (locales/<language>/*.json): every language has exactly the
// English keys, each message parses as ICU MessageFormat, and uses the same
// placeholders and tags as its English source. The admin console stays English
// (issue 13): its texts live in locales/en/admin*.json, only there, all "admin." keys.
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { expect } from 'chai';
import { IntlMessageFormat } from 'intl-messageformat';
import { LOCALES_DIR, allCatalogs, translateHtml } from '../../src/i18n/messages.ts';
import { DEFAULT_LOCALE, LOCALES } from '../../src/i18n/locales.ts';

type Node = { type: number; value?: string; options?: Record<string, { value: Node[] }>; children?: Node[] };

/** The argument and tag names a message uses (ICU AST: 1 argument … 6 plural, 8 tag). */
function namesOf(message: string, locale: string): string[] {
  const names = new Set<string>();
  const walk = (nodes: Node[]) => {
    for (const node of nodes) {
      if (node.type >= 1 && node.type <= 6 && node.value) names.add(`{${node.value}}`);
      if (node.type === 8 && node.value) names.add(`<${node.value}>`);
      if (node.options) for (const option of Object.values(node.options)) walk(option.value);
      if (node.children) walk(node.children);
    }
  };
  walk(new IntlMessageFormat(message, locale).getAst() as unknown as Node[]);
  return [...names].sort();
}

/** The letters a message has outside its placeholders and tags ("{title} · {product}" has none). */
const wordsOf = (message: string) => message.replace(/\{[^}]*\}|<\/?\w+>/g, '').replace(/[^\p{L}]/gu, '');

/** The console's files: admin.json, admin-<area>.json, … */
const isConsoleFile = (file: string) => /^admin.*\.json$/.test(file);
const isConsoleKey = (key: string) => key.startsWith('admin.');

describe('message catalogs', () => {
  const catalogs = allCatalogs();
  const english = catalogs[DEFAULT_LOCALE];
  /** What every language must have: English without the console's keys. */
  const shared = Object.fromEntries(Object.entries(english).filter(([key]) => !isConsoleKey(key)));

  it('keeps the admin console English: admin*.json only in English, holding only "admin." keys, and "admin." keys only there', () => {
    const consoleFiles = readdirSync(join(LOCALES_DIR, DEFAULT_LOCALE)).filter(isConsoleFile);
    expect(consoleFiles, 'locales/en/admin.json').to.include('admin.json');
    for (const locale of LOCALES) {
      for (const file of readdirSync(join(LOCALES_DIR, locale)).filter((name) => name.endsWith('.json'))) {
        const keys = Object.keys(JSON.parse(readFileSync(join(LOCALES_DIR, locale, file), 'utf8')) as Record<string, unknown>);
        if (isConsoleFile(file)) {
          expect(locale, `locales/${locale}/${file}: the console's texts are English only`).to.equal(DEFAULT_LOCALE);
          expect(keys.filter((key) => !isConsoleKey(key)), `locales/${locale}/${file}: keys without "admin."`).to.deep.equal([]);
        } else {
          expect(keys.filter(isConsoleKey), `locales/${locale}/${file}: "admin." keys belong in locales/en/admin*.json`).to.deep.equal([]);
        }
      }
    }
  });

  it('has an English source catalog whose messages all parse', () => {
    expect(Object.keys(english).length).to.be.greaterThan(10);
    for (const [key, message] of Object.entries(english)) expect(() => namesOf(message, 'en'), key).to.not.throw();
  });

  for (const locale of LOCALES.filter((l) => l !== DEFAULT_LOCALE)) {
    it(`${locale}: exactly the English keys (but the console's), the same placeholders and tags, nothing left in English`, () => {
      const catalog = catalogs[locale];
      const missing = Object.keys(shared).filter((key) => !Object.hasOwn(catalog, key));
      const extra = Object.keys(catalog).filter((key) => !Object.hasOwn(shared, key));
      expect(missing, 'missing keys').to.deep.equal([]);
      expect(extra, 'keys English does not have').to.deep.equal([]);
      for (const [key, message] of Object.entries(catalog)) {
        expect(namesOf(message, locale), `${locale} ${key}`).to.deep.equal(namesOf(english[key]!, 'en'));
        // Names, placeholders and the product stay as they are; a sentence copied from English is a gap.
        if (wordsOf(english[key]!).length >= 8) expect(message, `${locale} ${key} is still English`).to.not.equal(english[key]);
      }
    });
  }

  it('every error thrown with fixed words says them as catalog keys (the error page translates keys only)', () => {
    const src = resolve(import.meta.dirname, '../../src');
    const files = (readdirSync(src, { recursive: true }) as string[]).filter((file) => file.endsWith('.ts'));
    const literals: string[] = [];
    for (const file of files) {
      const code = readFileSync(join(src, file), 'utf8');
      for (const match of code.matchAll(/new HttpError\(\s*[^,]+,\s*('[^']*')\s*,\s*('[^']*')?/g)) {
        for (const literal of [match[1], match[2]]) if (literal) literals.push(`${file}: ${literal}`);
      }
    }
    expect(literals.length, 'HttpErrors with fixed words').to.be.greaterThan(10);
    const notKeys = literals.filter((found) => !Object.hasOwn(english, found.slice(found.indexOf(": '") + 3, -1)));
    expect(notKeys, 'titles and messages that are not catalog keys').to.deep.equal([]);
  });

  it('tHtml escapes every value, isolates the ones a sentence prints in <bdi>, and leaves the ones a select chooses by', () => {
    expect(translateHtml('ar', 'signin.lead', { app: 'Harbour <beta>' })).to.equal(`${catalogs.ar['signin.lead']!.split('<b>')[0]}<strong><bdi>Harbour &#60;beta&#62;</bdi></strong>`);
    const passkey = translateHtml('en', 'portal.removeFactor.heading', { kind: 'passkey', name: 'Work "laptop"' });
    expect(passkey).to.contain('<bdi>Work &#34;laptop&#34;</bdi>').and.not.contain('<bdi>passkey</bdi>');
    expect(translateHtml('en', 'portal.removeFactor.heading', { kind: 'recovery', name: '' })).to.not.equal(passkey);
  });
});
