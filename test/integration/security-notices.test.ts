// Security notices (issue 14): when failed sign-ins lock an account, its owner gets one
// email (not one per attempt) with the time it ends and a way back in; the page says
// nothing more than before, and an address without an account mails nobody.
import { expect } from 'chai';
import { createUser } from '../../src/accounts/users.ts';
import { LENIENT_THROTTLES, useTestServer } from '../helpers/server.ts';
import { Agent } from '../helpers/agent.ts';
import { discover, openSignIn, publicClient, startAuthorization, submitSignIn } from '../helpers/rp.ts';

const client = publicClient();

describe('security notices', function () {
  this.timeout(60_000);
  const { server, smtp } = useTestServer({ clients: [client], smtp: true, policy: LENIENT_THROTTLES });

  async function wrongPassword(email: string, n: number) {
    const agent = new Agent();
    const page = await openSignIn(agent, await startAuthorization(await discover(server.url, client)));
    return submitSignIn(agent, page, email, `not the password ${n}`);
  }

  const lockedMails = (email: string) => smtp.messages.filter((m) => (m.to as { text: string } | undefined)?.text.includes(email) && /paused/.test(m.subject ?? ''));

  it('emails the owner once when wrong passwords lock the account, saying until when, with a way back in', async () => {
    const email = 'guessed-at@example.com';
    await createUser(server.deps, { email, password: 'violet harbour lantern 1', name: 'Gus' });
    const limit = server.deps.config.policy.lockout.maxFailures;
    for (let i = 0; i < limit + 3; i++) {
      const page = await wrongPassword(email, i);
      expect(page.status).to.equal(401);
      expect(page.body, 'the page says no more than before').to.contain('Email or password is incorrect, or the account is temporarily locked');
    }
    const mail = await smtp.waitFor((m) => (m.to as { text: string } | undefined)?.text.includes(email) === true && /paused/.test(m.subject ?? ''), 10_000);
    expect(mail.subject).to.equal('Sign-ins to your Latchkey account are paused');
    expect(mail.text).to.contain('too many failed attempts').and.contain('/password/forgot').and.match(/until \w{3}, \d+ \w{3} \d{4} at \d\d:\d\d UTC/);
    await server.deps.mailer.idle();
    expect(lockedMails(email), 'one email, not one per attempt').to.have.length(1);
  });

  it('mails nobody for an address without an account', async () => {
    const email = 'no-account-here@example.com';
    for (let i = 0; i < server.deps.config.policy.lockout.maxFailures + 1; i++) await wrongPassword(email, i);
    await server.deps.mailer.idle();
    expect(lockedMails(email)).to.have.length(0);
  });
});
