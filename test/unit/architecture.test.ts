// The layout's rules, read from the import lines of src: the domain stays free of
// the web layer and of the wiring, and no module imports itself back through others.
import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative, resolve } from 'node:path';

const SRC = resolve(import.meta.dirname, '../../src');

/** Every module of src and what it imports from src (static, type-only and dynamic imports alike). */
function importGraph(): Map<string, Array<{ target: string; typeOnly: boolean }>> {
  const graph = new Map<string, Array<{ target: string; typeOnly: boolean }>>();
  const files = readdirSync(SRC, { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.ts'));
  for (const file of files) {
    const text = readFileSync(join(SRC, file), 'utf8');
    const edges: Array<{ target: string; typeOnly: boolean }> = [];
    const pattern = /^\s*(import|export)\s+(type\s+)?[^;]*?from\s+'(\.[^']+)'|import\('(\.[^']+)'\)/gm;
    for (const match of text.matchAll(pattern)) {
      const specifier = match[3] ?? match[4]!;
      edges.push({ target: normalize(relative(SRC, resolve(SRC, dirname(file), specifier))), typeOnly: Boolean(match[2]) });
    }
    graph.set(normalize(file), edges);
  }
  return graph;
}

describe('the layout of src', () => {
  const graph = importGraph();

  it('reads every module', () => {
    expect(graph.size).to.be.greaterThan(80);
    expect(graph.get('accounts/signin.ts')).to.be.an('array');
  });

  it('keeps the domain (accounts/) free of the wiring and the web layer, and of mail but for its types', () => {
    const offences: string[] = [];
    for (const [file, edges] of graph) {
      if (!file.startsWith('accounts/')) continue;
      for (const { target, typeOnly } of edges) {
        if (target === 'deps.ts' || target.startsWith('web/') || (target.startsWith('mail/') && !typeOnly)) offences.push(`${file} imports ${target}`);
      }
    }
    expect(offences).to.deep.equal([]);
  });

  it('has no import cycle', () => {
    const state = new Map<string, 'visiting' | 'done'>();
    const cycles: string[] = [];
    const visit = (file: string, path: string[]) => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'visiting') {
        cycles.push([...path.slice(path.indexOf(file)), file].join(' -> '));
        return;
      }
      state.set(file, 'visiting');
      for (const { target } of graph.get(file) ?? []) if (graph.has(target)) visit(target, [...path, file]);
      state.set(file, 'done');
    };
    for (const file of graph.keys()) visit(file, []);
    expect(cycles).to.deep.equal([]);
  });
});
