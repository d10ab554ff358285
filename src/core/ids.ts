/**
 * Job ids: short, unique, sortable by creation time, and valid DNS labels (they name AIJobs, Jobs and
 * pods). Shape: "j" + 9 base-32 characters of milliseconds + 6 random base-32 characters, lowercase.
 * Within one millisecond the random part is incremented, so ids from one process stay strictly ordered.
 */
const ALPHABET = '0123456789abcdefghijklmnopqrstuv'; // base32hex: sorts like the numbers it encodes
const TIME_CHARS = 9; // 32^9 ms is about 1,100 years
const RANDOM_CHARS = 6;
const RANDOM_SPACE = 32 ** RANDOM_CHARS;

function encode(n: number, width: number): string {
  let out = '';
  for (let i = 0; i < width; i++) {
    out = ALPHABET[n % 32] + out;
    n = Math.floor(n / 32);
  }
  return out;
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
    return 'j' + encode(ms, TIME_CHARS) + encode(rnd, RANDOM_CHARS);
  }
}

/** Name of the batch/v1 Job for an attempt: deterministic, so a repeated create is a no-op. */
export function attemptJobName(jobId: string, attempt: number): string {
  return `${jobId}-${attempt}`;
}
