// The organisation's look (policy `theme`): its product name on every page and email,
// its logo, its colour for buttons and links in light and dark mode. Colours are
// checked at start for WCAG AA contrast (4.5:1 for text), so a theme cannot make the
// pages unreadable; the logo is read once at start from a file the operator names.
import { readFileSync, statSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import type { Policy } from '../config.ts';

/** The backgrounds our pages put text of the primary colour on, and put white text on the primary colour. */
const LIGHT_CARD = '#ffffff';
const DARK_CARD = '#1f2226';
const MIN_CONTRAST = 4.5;
const LOGO_MAX_BYTES = 512 * 1024;
const LOGO_TYPES: Record<string, string> = { '.png': 'image/png', '.svg': 'image/svg+xml', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.webp': 'image/webp' };

export class ThemeError extends Error {}

/** WCAG 2.x relative luminance of a #rrggbb colour. */
function luminance(hex: string): number {
  const channel = (i: number) => {
    const c = parseInt(hex.slice(1 + 2 * i, 3 + 2 * i), 16) / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * channel(0) + 0.7152 * channel(1) + 0.0722 * channel(2);
}

/** WCAG 2.x contrast ratio of two #rrggbb colours (1 to 21). */
export function contrastRatio(a: string, b: string): number {
  const [light, dark] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (light + 0.05) / (dark + 0.05);
}

export interface Theme {
  productName: string;
  /** The logo's bytes and type, served at /assets/logo; null: the product name alone. */
  logo: { body: Buffer; type: string } | null;
  /** CSS custom properties served at /assets/theme.css, after app.css. */
  css: string;
  supportEmail: string | null;
  supportUrl: string | null;
}

/** The configured theme, checked: a colour that fails AA contrast or an unusable logo refuses the start with why. */
export function loadTheme(theme: Policy['theme']): Theme {
  const { primaryColor, primaryColorDark } = theme;
  const light = contrastRatio(primaryColor, LIGHT_CARD);
  if (light < MIN_CONTRAST) {
    throw new ThemeError(`theme.primaryColor ${primaryColor}: contrast with white is ${light.toFixed(2)}:1, below the ${MIN_CONTRAST}:1 that WCAG AA needs for text (buttons carry white text, links sit on white). Choose a darker colour.`);
  }
  const dark = contrastRatio(primaryColorDark, DARK_CARD);
  if (dark < MIN_CONTRAST) {
    throw new ThemeError(`theme.primaryColorDark ${primaryColorDark}: contrast with the dark background ${DARK_CARD} is ${dark.toFixed(2)}:1, below the ${MIN_CONTRAST}:1 that WCAG AA needs. Choose a lighter colour.`);
  }
  let logo: Theme['logo'] = null;
  if (theme.logoFile) {
    const file = resolve(theme.logoFile);
    const type = LOGO_TYPES[extname(file).toLowerCase()];
    if (!type) throw new ThemeError(`theme.logoFile ${file}: use a .png, .svg, .jpg or .webp file`);
    let size: number;
    try {
      size = statSync(file).size;
    } catch {
      throw new ThemeError(`theme.logoFile ${file}: file not found`);
    }
    if (size > LOGO_MAX_BYTES) throw new ThemeError(`theme.logoFile ${file}: ${size} bytes, more than ${LOGO_MAX_BYTES}`);
    logo = { body: readFileSync(file), type };
  }
  const css = `:root { --accent: ${primaryColor}; }\n@media (prefers-color-scheme: dark) { :root { --accent: ${primaryColorDark}; } }\n`;
  return { productName: theme.productName, logo, css, supportEmail: theme.supportEmail, supportUrl: theme.supportUrl };
}
