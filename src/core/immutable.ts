/**
 * Immutable values. Specs, estimates, AIJob intents and Job manifests are built once and never changed
 * afterwards; frozen, they can be shared by whatever stores them (the AIJob, the embedded cluster, the
 * cache) instead of copied, and a stray write throws rather than silently changing a stored object.
 */

/**
 * The mark of a value frozen all the way down, for the ones the embedded cluster is handed on every
 * submission (AIJob intents, Job manifests): their prototype is MARKED, a frozen object that says so.
 * It costs no memory and no work for the garbage collector, where a WeakSet of such values (a few per
 * job) had to be processed on every GC pass and rehashed as it grew; and a property of their own would
 * not fit in the object (one more slot spills into a separate array). JSON and Object.keys do not see
 * it, and a copy (a spread, JSON) has the plain prototype again, so it is never taken as immutable.
 */
const IMMUTABLE = Symbol('runway.immutable');
const MARKED: object = Object.freeze(Object.create(Object.prototype, { [IMMUTABLE]: { value: true } }) as object);

/** Freezes a JSON-like value and everything in it; parts already frozen are taken as done. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) freezeAll(value);
  return value;
}

/**
 * Freezes a value whose parts its builder froze all the way down already, and marks it immutable (no
 * walk): isImmutable() then answers true. Only for plain objects whose parts really are frozen throughout.
 */
export function freezeImmutable<T extends object>(value: T): T {
  Object.setPrototypeOf(value, MARKED);
  return Object.freeze(value);
}

/** True for a value freezeImmutable() froze. */
export function isImmutable(value: object): boolean {
  return (value as { [IMMUTABLE]?: true })[IMMUTABLE] === true;
}

function freezeAll(value: object): void {
  if (Object.isFrozen(value)) return;
  if (Array.isArray(value)) {
    for (const item of value as unknown[]) if (typeof item === 'object' && item !== null) freezeAll(item);
  } else {
    const obj = value as Record<string, unknown>;
    for (const key in obj) {
      const v = obj[key];
      if (typeof v === 'object' && v !== null) freezeAll(v);
    }
  }
  Object.freeze(value);
}

const interned = new Map<string, string>();
const MAX_INTERNED = 10_000;

/**
 * One shared copy of a string that many stored objects repeat (a tenant id, an image): a string parsed
 * from a request is a new copy each time, kept for as long as its job is. Bounded: cleared when full.
 */
export function intern(s: string): string {
  const shared = interned.get(s);
  if (shared !== undefined) return shared;
  if (interned.size >= MAX_INTERNED) interned.clear();
  interned.set(s, s);
  return s;
}
