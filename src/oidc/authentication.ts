// How a person signed in, as OpenID Connect says it: `amr` (RFC 8176 method
// references) and `acr` (the class of the authentication, one of ours, listed in
// discovery as acr_values_supported). Every sign-in step finishes with one of
// these, so an app can tell what was done from the ID token.

/** Our acr values: a password alone, or multi-factor (a password and a second factor, or a passkey). */
export const ACR = {
  password: 'urn:latchkey:acr:password',
  mfa: 'urn:latchkey:acr:mfa',
} as const;

export const ACR_VALUES_SUPPORTED: string[] = Object.values(ACR);

export type LoginResult = {
  login: { accountId: string; amr: string[]; acr: string; remember: boolean };
};

/** The interaction result of a sign-in done with `amr`; multi-factor when it says so. */
export function loginResult(accountId: string, amr: string[]): LoginResult {
  return { login: { accountId, amr, acr: amr.includes('mfa') ? ACR.mfa : ACR.password, remember: true } };
}

/** A password alone (RFC 8176: pwd). */
export const passwordLogin = (accountId: string) => loginResult(accountId, ['pwd']);

/**
 * A password and a second factor: an authenticator app's code is `otp`; a recovery
 * code has no RFC 8176 value of its own and is reported by `mfa` alone.
 */
export const mfaLogin = (accountId: string, method: 'totp' | 'recovery_code') =>
  loginResult(accountId, method === 'totp' ? ['pwd', 'otp', 'mfa'] : ['pwd', 'mfa']);

/**
 * A passkey, alone or after a password: proof of a key held in hardware (hwk, a
 * passkey bound to one authenticator) or synced between devices (swk), with the
 * authenticator's user verification (user): multi-factor by itself.
 */
export const passkeyLogin = (accountId: string, key: 'hwk' | 'swk', options: { afterPassword: boolean }) =>
  loginResult(accountId, [...(options.afterPassword ? ['pwd'] : []), key, 'user', 'mfa']);
