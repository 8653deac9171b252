// Which browser and system a session is (accounts/user-agent.ts): parsed from real
// user agents, said through one ICU message per case in every language, with
// translated words for what is not recognised.
import { expect } from 'chai';
import { describeUserAgent, deviceText } from '../../src/accounts/user-agent.ts';
import { translator } from '../../src/i18n/messages.ts';
import { LOCALES } from '../../src/i18n/locales.ts';

const AGENTS: Array<[string, string | null, string | null]> = [
  ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36', 'Chrome', 'Windows'],
  ['Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0', 'Firefox', 'Linux'],
  ['Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1', 'Safari', 'iOS'],
  ['Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0', 'Microsoft Edge', 'macOS'],
  ['Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36', 'Chrome', 'Android'],
];

describe('user agent descriptions', () => {
  it('parses the browser and system of common user agents', () => {
    for (const [agent, browser, os] of AGENTS) expect(describeUserAgent(agent), agent).to.deep.equal({ browser, os });
  });

  it('knows nothing of a missing, empty, odd or hostile user agent, and never throws', () => {
    for (const agent of [null, undefined, '', '   ', 'curl/8.5.0', 'node', '<script>alert(1)</script>', '\u0000\u001b[31m', 'x'.repeat(100_000)]) {
      expect(describeUserAgent(agent), String(agent).slice(0, 30)).to.deep.equal({ browser: null, os: null });
    }
  });

  it('keeps parsed names short and printable', () => {
    const { browser, os } = describeUserAgent(`Mozilla/5.0 (Windows NT 10.0) ${'Z'.repeat(300)}/1.0`);
    for (const name of [browser, os]) if (name) expect(name.length).to.be.at.most(40).and.to.be.greaterThan(0);
  });

  it('says "Chrome on Windows" through one message, with its own words for an unknown browser or system', () => {
    const t = translator('en');
    expect(deviceText(t, { browser: 'Chrome', os: 'Windows' })).to.equal('Chrome on Windows');
    expect(deviceText(t, { browser: 'Firefox', os: null })).to.equal('Firefox on an unknown system');
    expect(deviceText(t, { browser: null, os: 'Android' })).to.equal('Unknown browser on Android');
    expect(deviceText(t, { browser: null, os: null })).to.equal('Unknown browser and system');
  });

  it('says it in every language, the names as they are, the rest translated', () => {
    const english = translator('en');
    for (const locale of LOCALES.filter((l) => l !== 'en')) {
      const t = translator(locale);
      const both = deviceText(t, { browser: 'Chrome', os: 'Windows' });
      expect(both, locale).to.contain('Chrome').and.contain('Windows');
      expect(deviceText(t, { browser: null, os: null }), locale).to.not.equal(english('sessions.device.unknown'));
      expect(deviceText(t, { browser: 'Firefox', os: null }), locale).to.contain('Firefox').and.not.contain('unknown');
    }
    expect(deviceText(translator('de'), { browser: 'Chrome', os: 'Windows' })).to.equal('Chrome unter Windows');
    expect(deviceText(translator('ja'), { browser: 'Chrome', os: 'Windows' })).to.equal('Windows の Chrome');
  });
});
