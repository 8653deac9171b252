// The profile page: name, language, phone and postal address, which apps receive
// as the standard OIDC claims. The form is read for its shape here (strings, one
// address object); updateProfile checks the values with profileSchema.
import type { Context } from 'koa';
import { z } from 'zod';
import type { AppDeps } from '../../deps.ts';
import { updateProfile } from '../../accounts/profile.ts';
import { parseForm, requestContext, text } from '../forms.ts';
import { portalOf, renderPortal, seeOther } from './page.ts';

// Messages are keys of locales/<lang>/portal.json; the domain's (profileSchema) are mapped by renderPortal.
const UNREADABLE = 'portal.error.unreadable';
const optional = z.string({ error: UNREADABLE }).optional();
const LOCALE_HINT = 'portal.profile.error.locale';

const ADDRESS_FIELDS = ['street_address', 'locality', 'region', 'postal_code', 'country'] as const;
type AddressField = (typeof ADDRESS_FIELDS)[number];

/** The form's shape only: strings where strings belong (the body limit bounds their size); profileSchema checks the values. */
const profileForm = z.object({
  name: text('portal.profile.error.name'),
  locale: optional,
  phoneNumber: optional,
  address: z.strictObject({
    street_address: optional,
    locality: optional,
    region: optional,
    postal_code: optional,
    country: optional,
  }, { error: 'portal.profile.error.address' }).optional(),
});

interface ProfileValues {
  name: string;
  locale: string;
  phoneNumber: string;
  address: Record<AddressField, string>;
}

function storedValues(ctx: Context): ProfileValues {
  const { user } = portalOf(ctx);
  const address = (user.address ?? {}) as Partial<Record<AddressField, string | null>>;
  return {
    name: user.name ?? '',
    locale: user.locale ?? '',
    phoneNumber: user.phoneNumber ?? '',
    address: Object.fromEntries(ADDRESS_FIELDS.map((field) => [field, address[field] ?? ''])) as Record<AddressField, string>,
  };
}

/** What was sent, for redisplay: plain strings only. */
function sentValues(ctx: Context): ProfileValues {
  const body = (ctx.request.body ?? {}) as Record<string, unknown>;
  const str = (value: unknown, max: number) => (typeof value === 'string' ? value.slice(0, max) : '');
  const address = body.address && typeof body.address === 'object' && !Array.isArray(body.address) ? (body.address as Record<string, unknown>) : {};
  return {
    name: str(body.name, 250),
    locale: str(body.locale, 50),
    phoneNumber: str(body.phoneNumber, 50),
    address: Object.fromEntries(ADDRESS_FIELDS.map((field) => [field, str(address[field], 250)])) as Record<AddressField, string>,
  };
}

function showForm(ctx: Context, values: ProfileValues, errors: Record<string, string> = {}, status = 200): void {
  const { user } = portalOf(ctx);
  renderPortal(ctx, 'profile', 'profile', {
    title: 'portal.profile.title',
    values,
    phoneVerified: Boolean(user.phoneNumber && user.phoneNumberVerified),
    errors,
  }, status);
}

export function showProfile(ctx: Context): void {
  showForm(ctx, storedValues(ctx));
}

export async function submitProfile(ctx: Context, deps: AppDeps): Promise<void> {
  const { user } = portalOf(ctx);
  const form = parseForm(profileForm, ctx);
  if (!form.ok) return showForm(ctx, sentValues(ctx), form.errors, 400);
  const result = await updateProfile(deps, user._id, form.data, requestContext(ctx));
  if (!result.ok) {
    // Every locale problem (too long included) has the same remedy.
    const errors = result.errors.locale ? { ...result.errors, locale: LOCALE_HINT } : result.errors;
    return showForm(ctx, sentValues(ctx), errors, 400);
  }
  seeOther(ctx, '/account/profile', 'profile_saved');
}
