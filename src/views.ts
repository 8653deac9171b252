// The pug templates of pages (views/) and emails (views/emails/): where they
// live, each compiled once per process.
import pug from 'pug';
import { join, resolve } from 'node:path';

export const VIEWS_DIR = resolve(import.meta.dirname, '../views');
const compiled = new Map<string, pug.compileTemplate>();

/** The template at views/<name>.pug (`emails/reset`, `login`), compiled on first use. */
export function template(name: string): pug.compileTemplate {
  let fn = compiled.get(name);
  if (!fn) {
    fn = pug.compileFile(join(VIEWS_DIR, `${name}.pug`), { basedir: VIEWS_DIR });
    compiled.set(name, fn);
  }
  return fn;
}
