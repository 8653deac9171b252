// The message catalogs (locales/<language>/*.json): every language has exactly the
// English keys, each message parses as ICU MessageFormat, and uses the same
// placeholders and tags as its English source.
import { expect } from 'chai';
import { IntlMessageFormat } from 'intl-messageformat';
import { allCatalogs } from '../../src/i18n/messages.ts';
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

describe('message catalogs', () => {
  const catalogs = allCatalogs();
  const english = catalogs[DEFAULT_LOCALE];

  it('has an English source catalog whose messages all parse', () => {
    expect(Object.keys(english).length).to.be.greaterThan(10);
    for (const [key, message] of Object.entries(english)) expect(() => namesOf(message, 'en'), key).to.not.throw();
  });

  for (const locale of LOCALES.filter((l) => l !== DEFAULT_LOCALE)) {
    it(`${locale}: exactly the English keys, the same placeholders and tags, nothing left in English`, () => {
      const catalog = catalogs[locale];
      const missing = Object.keys(english).filter((key) => !Object.hasOwn(catalog, key));
      const extra = Object.keys(catalog).filter((key) => !Object.hasOwn(english, key));
      expect(missing, 'missing keys').to.deep.equal([]);
      expect(extra, 'keys English does not have').to.deep.equal([]);
      for (const [key, message] of Object.entries(catalog)) {
        expect(namesOf(message, locale), `${locale} ${key}`).to.deep.equal(namesOf(english[key]!, 'en'));
        // Names, placeholders and the product stay as they are; a sentence copied from English is a gap.
        if (wordsOf(english[key]!).length >= 8) expect(message, `${locale} ${key} is still English`).to.not.equal(english[key]);
      }
    });
  }
});
