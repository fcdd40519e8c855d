/**
 * The default of a guard, action or actor a machine's owner must provide: it throws, so a machine
 * started without it fails at once and by name instead of quietly doing nothing. `P` types the params
 * the provided implementation takes.
 */
export function notProvided<P = undefined>(what: string): (args: unknown, params: P) => never {
  return () => {
    throw new Error(`${what} was not provided`);
  };
}

/** The default of an actor (a promise) a machine's owner must provide: it fails at once, by name. */
export function notProvidedActor(what: string): () => Promise<never> {
  return () => Promise.reject(new Error(`${what} was not provided`));
}
