// Going back into a sign-in after an emailed link (reset, email confirmation):
// only in the browser that holds that sign-in. The link may be opened anywhere
// (asked for on a laptop, opened on a phone); the sign-in itself lives in the
// provider's interaction cookie of the first browser, so elsewhere a redirect to it
// could only end on "This sign-in has expired". That browser is marked with a
// signed cookie when it asks for the email; any other browser is told that the
// step is done and how to get back to the app.
import type { Context, Middleware } from 'koa';
import type { AppDeps } from '../../deps.ts';
import { optionalId } from '../forms.ts';

const COOKIE = 'lk_sign_in';
/** The paths whose POSTs may send a person back into a sign-in. */
const PATHS = ['/password', '/email'] as const;

/** Marks this browser as the one holding sign-in `uid`. */
export function rememberSignIn(ctx: Context, uid: string | null | undefined, options: { secure: boolean; signInMinutes: number }): void {
  if (!uid) return;
  for (const path of PATHS) {
    // overwrite: false, or each path's cookie would replace the one set for the other path.
    ctx.cookies.set(COOKIE, uid, {
      signed: true, httpOnly: true, sameSite: 'strict', secure: options.secure, path, maxAge: options.signInMinutes * 60_000, overwrite: false,
    });
  }
}

/** After a form that emails a link (forgot password, sign-up) was answered: marks the browser with the form's sign-in. */
export function rememberSignInOfForm(deps: AppDeps): Middleware {
  return async (ctx, next) => {
    await next();
    if (ctx.status !== 200) return;
    rememberSignIn(ctx, optionalId.parse((ctx.request.body as Record<string, unknown> | undefined)?.interaction), { secure: deps.config.secure, signInMinutes: deps.config.policy.lifetimes.signInMinutes });
  };
}

/** The sign-in this browser holds, if it is `uid`. */
function holds(ctx: Context, uid: string): boolean {
  const held = optionalId.safeParse(ctx.cookies.get(COOKIE, { signed: true }));
  return held.success && held.data === uid;
}

export type AfterLink =
  | { kind: 'sign-in'; location: string }
  | { kind: 'elsewhere'; app: { name: string; uri: string | null } | null };

/**
 * Where a person goes once an emailed link has done its work: back into sign-in
 * `uid` when this browser holds it and it is still open; otherwise nowhere, with
 * the app the sign-in (or the link) was for, so the page can offer a way back to it.
 */
export async function afterLink(ctx: Context, deps: AppDeps, uid: string | null | undefined, clientId: string | null | undefined, notice: string): Promise<AfterLink> {
  const interaction = uid ? await deps.provider.Interaction.find(uid) : undefined;
  if (uid && interaction && holds(ctx, uid)) {
    return { kind: 'sign-in', location: `/interaction/${encodeURIComponent(uid)}?notice=${notice}` };
  }
  const id = (interaction?.params.client_id as string | undefined) ?? clientId;
  const client = id ? await deps.provider.Client.find(id) : undefined;
  if (!client) return { kind: 'elsewhere', app: null };
  return { kind: 'elsewhere', app: { name: client.clientName ?? client.clientId, uri: client.initiateLoginUri ?? client.clientUri ?? null } };
}
