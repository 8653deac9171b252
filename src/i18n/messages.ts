// Message catalogs: one directory per language under locales/, one JSON file per area
// (signin.json, portal.json, ...), each a flat map from key to an ICU MessageFormat
// message (plurals, numbers, dates: intl-messageformat). English is the source; the
// catalog test checks every language has exactly its keys and placeholders.
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { IntlMessageFormat } from 'intl-messageformat';
import { DEFAULT_LOCALE, LOCALES, type Locale } from './locales.ts';

export const LOCALES_DIR = resolve(import.meta.dirname, '../../locales');

export type Catalog = Record<string, string>;
export type MessageValues = Record<string, string | number | Date | boolean | null | undefined>;
export type Translate = (key: string, values?: MessageValues) => string;

/** Whether `key` is a message of the English catalog (a form's error may be a key or, until its page is converted, a text). */
export const isMessageKey = (key: unknown): key is string => typeof key === 'string' && Object.hasOwn(catalogOf(DEFAULT_LOCALE), key);

const escapeHtml = (value: string) => value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * A message with emphasis, as HTML for a template's `!=`: every value is escaped, and
 * the message's own <b>…</b> becomes <strong>…</strong> (translators move it with the
 * words it belongs to). Nothing else in a message can produce markup. Each text value
 * (an app's or a person's name, an address) is isolated in <bdi>, so a Latin name with
 * brackets or punctuation keeps its order inside an Arabic sentence and does not turn
 * the words around it.
 */
export function translateHtml(locale: Locale, key: string, values: MessageValues = {}): string {
  const format = formatOf(locale, key);
  const printed = printedArguments(format);
  // A value a select chooses by ({kind, select, passkey {…}}) stays as it is; one printed in the sentence is escaped and isolated.
  const safe = Object.fromEntries(Object.entries(values).map(([name, value]) => [
    name, typeof value !== 'string' ? value : printed.has(name) ? `<bdi>${escapeHtml(value)}</bdi>` : escapeHtml(value),
  ]));
  const parts = format.format({ ...safe, b: (chunks: unknown[]) => `<strong>${chunks.join('')}</strong>` } as never);
  return Array.isArray(parts) ? parts.join('') : String(parts);
}

type AstNode = { type: number; value?: string; options?: Record<string, { value: AstNode[] }>; children?: AstNode[] };
const printedOf = new WeakMap<IntlMessageFormat, Set<string>>();

/** The arguments a message prints as they are ({app}, not {kind, select, …}), from its syntax tree (type 1: a plain argument). */
function printedArguments(format: IntlMessageFormat): Set<string> {
  let names = printedOf.get(format);
  if (!names) {
    const found = new Set<string>();
    const walk = (nodes: AstNode[]) => {
      for (const node of nodes) {
        if (node.type === 1 && node.value) found.add(node.value);
        if (node.options) for (const option of Object.values(node.options)) walk(option.value);
        if (node.children) walk(node.children);
      }
    };
    walk(format.getAst() as unknown as AstNode[]);
    names = found;
    printedOf.set(format, names);
  }
  return names;
}

/** The catalog of one language: every area file of its directory, merged (keys are prefixed by area). */
export function readCatalog(locale: Locale, dir = LOCALES_DIR): Catalog {
  const catalog: Catalog = {};
  let files: string[];
  try {
    files = readdirSync(join(dir, locale)).filter((file) => file.endsWith('.json')).sort();
  } catch {
    return catalog;
  }
  for (const file of files) {
    const entries = JSON.parse(readFileSync(join(dir, locale, file), 'utf8')) as Record<string, unknown>;
    for (const [key, message] of Object.entries(entries)) {
      if (typeof message !== 'string') throw new Error(`locales/${locale}/${file}: "${key}" is not a string`);
      if (Object.hasOwn(catalog, key)) throw new Error(`locales/${locale}/${file}: "${key}" is defined twice`);
      catalog[key] = message;
    }
  }
  return catalog;
}

const catalogs = new Map<Locale, Catalog>();
const compiled = new Map<string, IntlMessageFormat>();

function catalogOf(locale: Locale): Catalog {
  let catalog = catalogs.get(locale);
  if (!catalog) {
    catalog = readCatalog(locale);
    catalogs.set(locale, catalog);
  }
  return catalog;
}

/**
 * The translator of one language. A key missing from a language falls back to
 * English (the catalog test keeps that from happening); a key English lacks is a
 * programming error and throws. Values are formatted by the message (ICU), and
 * escaped by the template that prints them, never here.
 */
export function translator(locale: Locale): Translate {
  return (key, values) => String(formatOf(locale, key).format(values as never));
}

/** The compiled message `key` of `locale` (English when the language lacks it), compiled once per process. */
function formatOf(locale: Locale, key: string): IntlMessageFormat {
  const own = catalogOf(locale)[key];
  const source = own ?? catalogOf(DEFAULT_LOCALE)[key];
  if (source === undefined) throw new Error(`no message "${key}" in the catalog`);
  const used = own === undefined ? DEFAULT_LOCALE : locale;
  const cacheKey = `${used}\u0000${key}`;
  let format = compiled.get(cacheKey);
  if (!format) {
    format = new IntlMessageFormat(source, used);
    compiled.set(cacheKey, format);
  }
  return format;
}

/** Every language's catalog, for tests and tools. */
export function allCatalogs(dir = LOCALES_DIR): Record<Locale, Catalog> {
  return Object.fromEntries(LOCALES.map((locale) => [locale, readCatalog(locale, dir)])) as Record<Locale, Catalog>;
}
