// What the provider does not keep about a browser's session: which browser and
// system it is (its user agent), from where it signed in, and when it was last
// seen. One document per provider session, keyed by the session's uid (stable for
// the session's life, while its cookie id changes at every sign-in). Written by
// oidc/session-devices.ts, read and ended by accounts/sessions.ts.
export const SESSION_DEVICES = 'session_devices';

export interface StoredSessionDevice {
  /** The provider session's uid (oidc_session payload.uid). */
  _id: string;
  accountId: string;
  /** As the browser sent it, cut to USER_AGENT_MAX characters; null when it sent none. */
  userAgent: string | null;
  ip: string | null;
  /** When the sign-in that this session holds finished (a fresh sign-in in the same session moves it). */
  signedInAt: Date;
  /** When the session was last used for an authorization (at most every few minutes: see touchSession). */
  lastSeenAt: Date;
  /** A little after the provider session would expire if unused: swept then (it is ignored once the session is gone anyway). */
  expiresAt: Date;
}

/** Longer user agents are cut: nothing past this helps to tell a browser. */
export const USER_AGENT_MAX = 512;
