// Which browser and system a session is, from the user agent the browser sent:
// parsed by bowser (MIT), and said in the page's language through one ICU message
// with the parsed names as values ("{browser} on {os}"), never by joining words.
import Bowser from 'bowser';
import type { Translate } from '../i18n/messages.ts';

export interface DeviceDescription {
  /** The browser's name as its maker spells it ("Chrome", "Firefox", "Microsoft Edge"); null when not recognised. */
  browser: string | null;
  /** The operating system's name ("Windows", "macOS", "iOS", "Android", "Linux"); null when not recognised. */
  os: string | null;
}

/** Names are the parser's, but a name read from an odd user agent stays short and printable. */
const NAME_MAX = 40;

function cleanName(name: string | undefined): string | null {
  const flat = (name ?? '').replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ').trim();
  if (!flat) return null;
  return flat.length > NAME_MAX ? `${flat.slice(0, NAME_MAX - 1)}…` : flat;
}

/** The browser and system of a user agent; unknown parts (or no user agent at all) are null. */
export function describeUserAgent(userAgent: string | null | undefined): DeviceDescription {
  if (typeof userAgent !== 'string' || !userAgent.trim()) return { browser: null, os: null };
  try {
    const { browser, os } = Bowser.parse(userAgent);
    return { browser: cleanName(browser.name), os: cleanName(os.name) };
  } catch {
    // The parser refuses what it cannot read; that is an unknown device, never an error.
    return { browser: null, os: null };
  }
}

/**
 * "Chrome on Windows", in the language of `t` (keys sessions.device.* of
 * locales/<lang>/sessions.json); an unknown browser or system has its own words.
 */
export function deviceText(t: Translate, device: DeviceDescription): string {
  const { browser, os } = device;
  if (browser && os) return t('sessions.device.browserOnSystem', { browser, os });
  if (browser) return t('sessions.device.browserOnly', { browser });
  if (os) return t('sessions.device.systemOnly', { os });
  return t('sessions.device.unknown');
}
