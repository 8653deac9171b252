// The organisation's theme (web/theme.ts): WCAG contrast, checked at start.
import { expect } from 'chai';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { contrastRatio, loadTheme, ThemeError } from '../../src/web/theme.ts';

const base = { productName: 'Acme ID', logoFile: null, primaryColor: '#2f5bd3', primaryColorDark: '#8fb0ff', supportEmail: null, supportUrl: null };

describe('theme', () => {
  it('computes WCAG contrast ratios', () => {
    expect(contrastRatio('#000000', '#ffffff')).to.be.closeTo(21, 0.01);
    expect(contrastRatio('#ffffff', '#ffffff')).to.be.closeTo(1, 0.01);
    expect(contrastRatio('#767676', '#ffffff')).to.be.closeTo(4.54, 0.01);
    expect(contrastRatio('#777777', '#ffffff')).to.be.lessThan(4.5);
  });

  it('takes colours that pass AA and serves them as CSS variables for light and dark mode', () => {
    const theme = loadTheme({ ...base, primaryColor: '#0b6e4f', primaryColorDark: '#7ee0b8' });
    expect(theme.css).to.contain('--accent: #0b6e4f').and.contain('prefers-color-scheme: dark').and.contain('--accent: #7ee0b8');
    expect(theme.productName).to.equal('Acme ID');
  });

  it('refuses a colour that would fail AA, saying which and why', () => {
    expect(() => loadTheme({ ...base, primaryColor: '#ffcc00' })).to.throw(ThemeError, /theme.primaryColor #ffcc00: contrast with white is 1\.\d+:1/);
    expect(() => loadTheme({ ...base, primaryColorDark: '#2f5bd3' })).to.throw(ThemeError, /theme.primaryColorDark/);
  });

  it('reads a logo once, refusing a missing, oversized or unknown kind of file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'theme-'));
    writeFileSync(join(dir, 'logo.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
    writeFileSync(join(dir, 'logo.gif'), 'GIF89a');
    writeFileSync(join(dir, 'big.png'), Buffer.alloc(600 * 1024));
    expect(loadTheme({ ...base, logoFile: join(dir, 'logo.svg') }).logo!.type).to.equal('image/svg+xml');
    expect(() => loadTheme({ ...base, logoFile: join(dir, 'logo.gif') })).to.throw(ThemeError, /\.png, \.svg/);
    expect(() => loadTheme({ ...base, logoFile: join(dir, 'missing.png') })).to.throw(ThemeError, /not found/);
    expect(() => loadTheme({ ...base, logoFile: join(dir, 'big.png') })).to.throw(ThemeError, /more than/);
  });
});
