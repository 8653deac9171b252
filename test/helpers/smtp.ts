// A real SMTP server for tests: smtp-server on 127.0.0.1 and a random port, no
// TLS, any (or no) login. Every accepted message is parsed with mailparser and
// kept, so a test can wait for it and follow the link inside.
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { simpleParser, type ParsedMail } from 'mailparser';

export type { ParsedMail };

export interface TestSmtp {
  /** smtp://127.0.0.1:<port> */
  url: string;
  port: number;
  /** Accepted messages, oldest first. */
  messages: ParsedMail[];
  /** Transactions refused by failNext, for assertions. */
  refused: number;
  /** Most transactions (MAIL FROM to end of DATA) open at once since the start or clear(). */
  peakTransactions: number;
  /** The first message (already here or still to come) that matches. */
  waitFor(predicate: (m: ParsedMail) => boolean, timeoutMs?: number): Promise<ParsedMail>;
  /** The first http(s) link in the message's text body. */
  linkIn(m: ParsedMail): string;
  /** Forgets the messages received and the peak. */
  clear(): void;
  /** Refuse the next n transactions after their DATA with a 451 (or the code given: 5xx is permanent). */
  failNext(n: number, responseCode?: number): void;
  close(): Promise<void>;
}

interface Waiter {
  predicate: (m: ParsedMail) => boolean;
  resolve: (m: ParsedMail) => void;
}

export interface SmtpOptions {
  /** Wait this long before answering each message, to keep transactions open. */
  delayMs?: number;
}

export async function startSmtp(options: SmtpOptions = {}): Promise<TestSmtp> {
  const messages: ParsedMail[] = [];
  let waiters: Waiter[] = [];
  let failures = 0;
  let failureCode = 451;
  const open = new Set<string>();
  const state = { refused: 0, peak: 0 };
  const endTransaction = (id: string) => open.delete(id);

  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    disableReverseLookup: true,
    // Accept any credentials a SMTP_URL may carry.
    onAuth(_auth, _session, callback) {
      callback(null, { user: 'test' });
    },
    onMailFrom(_address, session, callback) {
      open.add(session.id);
      state.peak = Math.max(state.peak, open.size);
      callback();
    },
    onClose(session) {
      endTransaction(session.id);
    },
    onData(stream, session, callback) {
      // The whole message is read before answering, as a real server would.
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', async () => {
        if (options.delayMs) await new Promise((resolve) => setTimeout(resolve, options.delayMs));
        endTransaction(session.id);
        if (failures > 0) {
          failures--;
          state.refused++;
          const text = failureCode < 500 ? 'Temporary failure, try again later' : 'Message refused';
          const error = Object.assign(new Error(text), { responseCode: failureCode });
          return callback(error);
        }
        simpleParser(Buffer.concat(chunks)).then((mail) => {
          messages.push(mail);
          const matched = waiters.filter((w) => w.predicate(mail));
          waiters = waiters.filter((w) => !matched.includes(w));
          for (const w of matched) w.resolve(mail);
          callback();
        }, (error: Error) => callback(error));
      });
    },
  });
  server.on('error', () => {}); // a client dropping its connection is not a test failure

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.server.address() as AddressInfo).port;

  return {
    url: `smtp://127.0.0.1:${port}`,
    port,
    messages,
    get refused() {
      return state.refused;
    },
    get peakTransactions() {
      return state.peak;
    },
    waitFor(predicate, timeoutMs = 5000) {
      const found = messages.find(predicate);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const waiter: Waiter = {
          predicate,
          resolve: (m) => {
            clearTimeout(timer);
            resolve(m);
          },
        };
        const timer = setTimeout(() => {
          waiters = waiters.filter((w) => w !== waiter);
          reject(new Error(`no matching email arrived within ${timeoutMs} ms (${messages.length} received)`));
        }, timeoutMs);
        waiters.push(waiter);
      });
    },
    linkIn(m) {
      const match = /https?:\/\/[^\s<>"')\]]+/.exec(m.text ?? '');
      if (!match) throw new Error(`no link in the text of "${m.subject ?? ''}"`);
      return match[0];
    },
    clear() {
      messages.length = 0;
      state.peak = open.size;
    },
    failNext(n, responseCode = 451) {
      failures = n;
      failureCode = responseCode;
    },
    close() {
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
