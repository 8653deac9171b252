// Structured logs. Redaction is the backstop; the first rule is that no caller
// logs a password, token or cookie in the first place.
import { pino, type Logger } from 'pino';

export type { Logger };

/** Logs go to stdout for the server; the CLI passes stderr (2) so they never mix with command output. */
export function createLogger(level: string, destination: 1 | 2 = 1): Logger {
  return pino({
    level,
    base: { service: 'latchkey' },
    redact: {
      paths: ['password', '*.password', 'req.headers.cookie', 'req.headers.authorization', 'res.headers["set-cookie"]', 'token', '*.token'],
      censor: '[redacted]',
    },
  }, pino.destination({ fd: destination, sync: destination === 2 }));
}
