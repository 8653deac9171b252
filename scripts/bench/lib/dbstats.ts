// Database commands per operation, from the Latchkey server child's command counts.
const WRITES = new Set(['insert', 'update', 'delete', 'findAndModify', 'createIndexes', 'drop']);

/** "per sign-in: 9.0 commands (find 4.0, update 3.0, insert 1.0, delete 1.0), 5.0 of them writes". */
export function perOperation(what: string, before: Record<string, number>, after: Record<string, number>, operations: number): string {
  const names = new Set([...Object.keys(before), ...Object.keys(after)]);
  const deltas = [...names]
    .map((name) => [name, ((after[name] ?? 0) - (before[name] ?? 0)) / operations] as const)
    .filter(([, n]) => n > 0.005)
    .sort((a, b) => b[1] - a[1]);
  const total = deltas.reduce((sum, [, n]) => sum + n, 0);
  const writes = deltas.filter(([name]) => WRITES.has(name)).reduce((sum, [, n]) => sum + n, 0);
  return `database commands per ${what}: ${total.toFixed(1)} (${deltas.map(([name, n]) => `${name} ${n.toFixed(1)}`).join(', ')}), ${writes.toFixed(1)} of them writes`;
}
