// A write refused by a unique index. MongoDB says E11000 (code 11000) for inserts and
// updates alike; FerretDB on SQLite says so for an insert, but refuses an update with
// code 1 and SQLite's own words ("UNIQUE constraint failed"). Every caller asks here.

export function isDuplicateKey(error: unknown): boolean {
  if (!error || typeof error !== 'object') return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  return code === 11000 || /E11000|UNIQUE constraint failed/.test(String(message ?? ''));
}
