// Choosing the language of a page or email (i18n/locales.ts).
import { expect } from 'chai';
import { bestLocale, chooseLocale, directionOf, wellFormedTags } from '../../src/i18n/locales.ts';

describe('chooseLocale', () => {
  it('takes ui_locales, then the pick, then the account, then Accept-Language, then English', () => {
    const all = { uiLocales: 'ja', picked: 'fr', account: 'es', acceptLanguage: ['de'] };
    expect(chooseLocale(all)).to.equal('ja');
    expect(chooseLocale({ ...all, uiLocales: undefined })).to.equal('fr');
    expect(chooseLocale({ ...all, uiLocales: undefined, picked: undefined })).to.equal('es');
    expect(chooseLocale({ acceptLanguage: ['de'] })).to.equal('de');
    expect(chooseLocale({})).to.equal('en');
    expect(chooseLocale({ fallback: 'fr' })).to.equal('fr');
  });

  it('matches regional and script variants to ours, and skips what it cannot use', () => {
    expect(bestLocale(['de-CH'])).to.equal('de');
    expect(bestLocale(['pt'])).to.equal('pt-BR');
    expect(bestLocale(['pt-PT'])).to.equal('pt-BR');
    expect(bestLocale(['ar-EG'])).to.equal('ar');
    expect(bestLocale(['zz'])).to.equal(null);
    expect(chooseLocale({ uiLocales: 'zz-QQ  es', acceptLanguage: ['de'] })).to.equal('es');
    expect(chooseLocale({ uiLocales: 42, picked: { $ne: 1 }, account: ['x'], acceptLanguage: ['*', '!!', 'x'.repeat(100)] })).to.equal('en');
    expect(wellFormedTags(['EN-us', 'no good', null, 'ja'])).to.deep.equal(['en-US', 'ja']);
  });

  it('writes Arabic right to left', () => {
    expect(directionOf('ar')).to.equal('rtl');
    expect(directionOf('de')).to.equal('ltr');
  });
});
