// The OWASP device cookie: a signed cookie naming the account a browser has
// signed in to, so that browser keeps its own failure budget.
import type { Context } from 'koa';
import { randomUUID } from 'node:crypto';
import type { TrustedDevice } from '../accounts/signin.ts';

const COOKIE = 'lk_device';
const FORMAT = /^([\w-]{1,64})\.([\w-]{1,64})$/;

export function readDevice(ctx: Context): TrustedDevice | null {
  const value = ctx.cookies.get(COOKIE, { signed: true });
  const match = value ? FORMAT.exec(value) : null;
  return match ? { userId: match[1]!, deviceId: match[2]! } : null;
}

export function writeDevice(ctx: Context, device: TrustedDevice, options: { days: number; secure: boolean }): void {
  ctx.cookies.set(COOKIE, `${device.userId}.${device.deviceId}`, {
    signed: true,
    httpOnly: true,
    sameSite: 'lax',
    secure: options.secure,
    maxAge: options.days * 24 * 60 * 60_000,
    overwrite: true,
  });
}

/**
 * After a sign-in of `userId` that passed every step: this browser's device cookie for
 * the account (the one it has, or a new one), renewed. Returns the device it names.
 */
export function rememberBrowser(ctx: Context, userId: string, options: { days: number; secure: boolean }): TrustedDevice {
  const known = readDevice(ctx);
  const device = known?.userId === userId ? known : { userId, deviceId: randomUUID() };
  writeDevice(ctx, device, options);
  return device;
}
