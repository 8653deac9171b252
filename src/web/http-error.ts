// Errors our routes throw on purpose: they carry the status and a message safe
// to show. Anything else becomes a generic 500 page with no detail. Title and
// message are catalog keys (locales/*/errors.json and the like) where the code is
// converted, with `values` for their placeholders; the error page translates them
// (middleware/errors.ts), and prints a text that is not a key as it is.
import type { MessageValues } from '../i18n/messages.ts';

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
