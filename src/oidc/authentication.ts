// How a person signed in, as OpenID Connect says it: `amr` (RFC 8176 method
// references) and `acr` (the class of the authentication, one of ours, listed in
// discovery as acr_values_supported). Every sign-in step finishes with one of
// these, so an app can tell what was done from the ID token.

/** Our acr values: a password alone, or a password and a second factor. */
export const ACR = {
  password: 'urn:latchkey:acr:password',
  mfa: 'urn:latchkey:acr:mfa',
} as const;

export const ACR_VALUES_SUPPORTED: string[] = Object.values(ACR);

/** The interaction result of a sign-in with a password (RFC 8176: pwd). */
export function passwordLogin(accountId: string): { login: { accountId: string; amr: string[]; acr: string; remember: boolean } } {
  return { login: { accountId, amr: ['pwd'], acr: ACR.password, remember: true } };
}

/**
 * The interaction result of a sign-in with a password and a second factor: an
 * authenticator app's code is `otp`; a recovery code has no RFC 8176 value of its
 * own and is reported by `mfa` alone.
 */
export function mfaLogin(accountId: string, method: 'totp' | 'recovery_code'): { login: { accountId: string; amr: string[]; acr: string; remember: boolean } } {
  return { login: { accountId, amr: method === 'totp' ? ['pwd', 'otp', 'mfa'] : ['pwd', 'mfa'], acr: ACR.mfa, remember: true } };
}
