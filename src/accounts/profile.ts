// A person's profile: one schema for the portal, the API and the admin console,
// and the update that stores it.
import { z } from 'zod';
import type { UserModel } from '../db/models/user.ts';
import type { AuditTrail, RequestContext } from './audit.ts';
import { searchTermsFor } from './users.ts';

const optionalText = (max: number) => z.string().trim().max(max, `Use at most ${max} characters.`).transform((v) => v || null).nullable().optional();

/** BCP 47 language tags as OIDC's `locale` claim expects (en, en-GB, pt-BR, zh-Hant-TW). */
const LOCALE = /^[a-zA-Z]{2,3}(-[a-zA-Z]{4})?(-([a-zA-Z]{2}|\d{3}))?$/;
/** E.164, as OIDC's `phone_number` claim recommends: + and up to 15 digits. */
const PHONE = /^\+[1-9]\d{6,14}$/;

export const profileSchema = z.strictObject({
  name: z.string().trim().min(1, 'Enter your name.').max(200, 'Use at most 200 characters.'),
  locale: z.string().trim().max(35).refine((v) => v === '' || LOCALE.test(v), 'Use a language tag such as en, en-GB or pt-BR.')
    .transform((v) => v || null).nullable().optional(),
  phoneNumber: z.string().trim().transform((v) => v.replace(/[\s().-]/g, ''))
    .refine((v) => v === '' || PHONE.test(v), 'Use the international format, such as +44 20 7946 0958.')
    .transform((v) => v || null).nullable().optional(),
  address: z.strictObject({
    street_address: optionalText(200),
    locality: optionalText(100),
    region: optionalText(100),
    postal_code: optionalText(20),
    country: optionalText(100),
  }).optional(),
});

export type ProfileInput = z.input<typeof profileSchema>;

export type ProfileResult = { ok: true } | { ok: false; errors: Record<string, string> };

export async function updateProfile(
  deps: { users: UserModel; audit: AuditTrail },
  userId: string,
  input: unknown,
  context: RequestContext = {},
): Promise<ProfileResult> {
  const parsed = profileSchema.safeParse(input);
  if (!parsed.success) {
    const errors: Record<string, string> = {};
    for (const issue of parsed.error.issues) errors[issue.path.join('.') || 'form'] ??= issue.message;
    return { ok: false, errors };
  }
  const { name, locale, phoneNumber, address } = parsed.data;
  const current = await deps.users.findById(userId, { phoneNumber: 1, email: 1 }).lean();
  if (!current) return { ok: false, errors: { form: 'This account no longer exists.' } };
  const set: Record<string, unknown> = { name, searchTerms: searchTermsFor(current.email, name) };
  if (locale !== undefined) set.locale = locale;
  if (phoneNumber !== undefined) {
    set.phoneNumber = phoneNumber;
    // A changed number is not verified any more.
    if (phoneNumber !== current.phoneNumber) set.phoneNumberVerified = false;
  }
  if (address !== undefined) {
    const hasAny = Object.values(address).some((v) => v);
    set.address = hasAny ? address : null;
  }
  await deps.users.updateOne({ _id: userId }, { $set: set });
  await deps.audit.record('profile.updated', userId, context, { fields: Object.keys(set).filter((k) => k !== 'searchTerms').join(',') });
  return { ok: true };
}
