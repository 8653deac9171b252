// For helpers that start something in a mocha hook and hand it out before the hook has run.

/** Stands for what `resolve` gives once a hook has made it: read it only inside tests and hooks. */
export function lazy<T extends object>(what: string, resolve: () => T | undefined): T {
  return new Proxy({} as T, {
    get(_target, key) {
      const target = resolve();
      if (!target) throw new Error(`${what} is not started: use it inside a test or a hook`);
      const value: unknown = Reflect.get(target, key);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
