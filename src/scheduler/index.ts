/** The scheduling cycle: a pure function from a Snapshot to Decisions (see cycle.ts for the rules). */
export { DEFAULT_RESERVE_AFTER_MS, explainNeverFits, schedule } from './cycle.js';
export { dominantShare } from './fair-share.js';
export { QueueIndex, pairsOf, type QueuedPair } from './queue-index.js';
export type * from './types.js';
