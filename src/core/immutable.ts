/**
 * Immutable values. Specs, estimates, AIJob intents and Job manifests are built once and never changed
 * afterwards; frozen, they can be shared by whatever stores them (the AIJob, the embedded cluster, the
 * cache) instead of copied, and a stray write throws rather than silently changing a stored object.
 */

/**
 * The mark of a value frozen all the way down: a non-enumerable symbol property, so that JSON, keys and
 * spreads never see it (a spread copy is not immutable). A property rather than a WeakSet of such
 * values: every job adds a few, and a weak table that large costs the garbage collector on every pass.
 */
const IMMUTABLE = Symbol('runway.immutable');
const MARK: PropertyDescriptor = { value: true };

/**
 * Freezes a JSON-like value and everything in it (parts already frozen are taken as done), and marks
 * it immutable all the way down, so that isImmutable() answers without a walk. A value that was frozen
 * already is left as it is (it cannot be marked; isImmutable() is then false and callers walk it).
 */
export function deepFreeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  forEachChild(value, freezeAll);
  return freezeImmutable(value);
}

/**
 * Freezes a value whose parts its builder froze all the way down already, and marks it immutable (no
 * walk): isImmutable() then answers true. Only for values whose parts really are frozen throughout.
 */
export function freezeImmutable<T extends object>(value: T): T {
  Object.defineProperty(value, IMMUTABLE, MARK);
  return Object.freeze(value);
}

/** True for a value deepFreeze() or freezeImmutable() froze. */
export function isImmutable(value: object): boolean {
  return (value as { [IMMUTABLE]?: true })[IMMUTABLE] === true;
}

function freezeAll(value: object): void {
  if (Object.isFrozen(value)) return;
  forEachChild(value, freezeAll);
  Object.freeze(value);
}

function forEachChild(value: object, fn: (child: object) => void): void {
  if (Array.isArray(value)) {
    for (const item of value as unknown[]) if (typeof item === 'object' && item !== null) fn(item);
  } else {
    const obj = value as Record<string, unknown>;
    for (const key in obj) {
      const v = obj[key];
      if (typeof v === 'object' && v !== null) fn(v);
    }
  }
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
