/**
 * Job ids: short, unique, sortable by creation time, and valid DNS labels (they name AIJobs, Jobs and
 * pods). Shape: "j" + 9 base-32 characters of milliseconds + 6 random base-32 characters, lowercase.
 * Within one millisecond the random part is incremented, so ids from one process stay strictly ordered.
 */
const ALPHABET = '0123456789abcdefghijklmnopqrstuv'; // base32hex: sorts like the numbers it encodes
const TIME_CHARS = 9; // 32^9 ms is about 1,100 years
const RANDOM_CHARS = 6;
const RANDOM_SPACE = 32 ** RANDOM_CHARS;

const DIGITS = Array.from(ALPHABET, (c) => c.charCodeAt(0));
const idChars: number[] = new Array<number>(1 + TIME_CHARS + RANDOM_CHARS).fill(0x6a); // 'j'

/** Writes n in base 32, `width` digits, into idChars from `at`. */
function encode(n: number, width: number, at: number): void {
  for (let i = width - 1; i >= 0; i--) {
    idChars[at + i] = DIGITS[n % 32] as number;
    n = Math.floor(n / 32);
  }
}

export const JOB_ID_PATTERN = /^j[0-9a-v]{15}$/;

export class JobIdGenerator {
  private lastMs = -1;
  private lastRandom = 0;

  constructor(
    private readonly now: () => number = Date.now,
    private readonly random: () => number = Math.random,
  ) {}

  next(): string {
    let ms = this.now();
    let rnd: number;
    if (ms <= this.lastMs) {
      ms = this.lastMs;
      rnd = this.lastRandom + 1;
      if (rnd >= RANDOM_SPACE) {
        ms += 1;
        rnd = Math.floor(this.random() * (RANDOM_SPACE / 2));
      }
    } else {
      // Half the space, so increments within a millisecond never overflow in practice.
      rnd = Math.floor(this.random() * (RANDOM_SPACE / 2));
    }
    this.lastMs = ms;
    this.lastRandom = rnd;
    encode(ms, TIME_CHARS, 1);
    encode(rnd, RANDOM_CHARS, 1 + TIME_CHARS);
    // One flat string (concatenation would leave a rope, and every stored job keeps its id).
    return String.fromCharCode(...idChars);
  }
}

/** Name of the batch/v1 Job for an attempt: deterministic, so a repeated create is a no-op. */
export function attemptJobName(jobId: string, attempt: number): string {
  // The same job's name is asked for several times in a row (manifest, reconcile, its pods).
  if (jobId !== lastJobId || attempt !== lastAttempt) {
    lastJobId = jobId;
    lastAttempt = attempt;
    lastAttemptName = [jobId, attempt].join('-'); // joined, not concatenated: a flat string
  }
  return lastAttemptName;
}
let lastJobId = '';
let lastAttempt = 0;
let lastAttemptName = '';
