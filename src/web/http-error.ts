// Errors our routes throw on purpose: they carry the status and a message safe
// to show. Anything else becomes a generic 500 page with no detail. Title and
// message are catalog keys (locales/*/errors.json and the like) with `values` for
// their placeholders: the error page says them in the page's language, a JSON
// answer in English (middleware/errors.ts). A message that is not a key (a domain
// refusal's own words) is shown as it is.
import { isMessageKey, translator, type MessageValues } from '../i18n/messages.ts';
import { DEFAULT_LOCALE } from '../i18n/locales.ts';

export class HttpError extends Error {
  override name = 'HttpError';
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly title: string;
  readonly values: MessageValues;
  constructor(status: number, title: string, message: string, headers: Record<string, string> = {}, values: MessageValues = {}) {
    super(message);
    this.status = status;
    this.title = title;
    this.headers = headers;
    this.values = values;
  }
}

const english = translator(DEFAULT_LOCALE);

/** A title or message in English, the language of every JSON answer: a key translated with `values`, any other text as it is. */
export function inEnglish(text: string, values: MessageValues = {}): string {
  return isMessageKey(text) ? english(text, values) : text;
}
