// The words of the strength hint (views/assets/strength.js) in the page's language:
// data-* attributes for the form (or the input) that holds a new password, so the
// script, which has no catalog, reads them from the page. "{level}" in the label is
// filled in by the script.
import type { Translate } from '../../i18n/messages.ts';

export function strengthWords(t: Translate): Record<string, string> {
  return {
    'data-strength-weak': t('password.strength.weak'),
    'data-strength-fair': t('password.strength.fair'),
    'data-strength-good': t('password.strength.good'),
    'data-strength-strong': t('password.strength.strong'),
    'data-strength-label': t('password.strength.label', { level: '{level}' }),
    'data-strength-hint': t('password.strength.hint'),
  };
}
