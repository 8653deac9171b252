// Structured logs. Redaction is the backstop; the first rule is that no caller
// logs a password, token or cookie in the first place.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'latchkey' },
    redact: {
      paths: ['password', '*.password', 'req.headers.cookie', 'req.headers.authorization', 'res.headers["set-cookie"]', 'token', '*.token'],
      censor: '[redacted]',
    },
  });
}
