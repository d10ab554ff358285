/**
 * Immutable values. Specs, estimates, AIJob intents and Job manifests are built once and never changed
 * afterwards; frozen, they can be shared by whatever stores them (the AIJob, the embedded cluster, the
 * cache) instead of copied, and a stray write throws rather than silently changing a stored object.
 */

/**
 * The mark of a Kubernetes object frozen all the way down, for the ones the embedded cluster is handed
 * on every submission (AIJob intents, Job manifests): they are instances of ImmutableKubeObject, and
 * isImmutable() asks for that prototype. It costs no memory and no work for the garbage collector, where
 * a WeakSet of such values (a few per job) had to be processed on every GC pass and rehashed as it grew;
 * JSON and Object.keys do not see it, and a copy (a spread, JSON) is a plain object, so it is never taken
 * as immutable. Built by a constructor rather than given the prototype afterwards: V8's
 * Object.setPrototypeOf on a new object took ~600 ns, the constructor ~50 ns. And a prototype compared
 * by identity, not a symbol looked up on it: the embedded cluster asks about objects of every shape, and
 * such a lookup went megamorphic.
 */
class ImmutableKubeObject {
  constructor(
    readonly apiVersion: string,
    readonly kind: string,
    readonly metadata: unknown,
    readonly spec: unknown,
  ) {
    Object.freeze(this);
  }
}
Object.freeze(ImmutableKubeObject.prototype);

interface KubeObjectFields {
  apiVersion: string;
  kind: string;
  metadata: unknown;
  spec: unknown;
}

/** Freezes a JSON-like value and everything in it; parts already frozen are taken as done. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) freezeAll(value);
  return value;
}

/**
 * A frozen Kubernetes object (no status) marked immutable, so that isImmutable() answers true without
 * a walk. Only for metadata and specs whose builder froze them all the way down already.
 */
export function immutableKubeObject<T extends KubeObjectFields>(
  apiVersion: T['apiVersion'],
  kind: T['kind'],
  metadata: T['metadata'],
  spec: T['spec'],
): T {
  return new ImmutableKubeObject(apiVersion, kind, metadata, spec) as unknown as T;
}

/** True for an object immutableKubeObject() built. */
export function isImmutable(value: object): boolean {
  return Object.getPrototypeOf(value) === ImmutableKubeObject.prototype;
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
