/**
 * Resource vectors as the scheduler uses them: (millicores, MiB, GPUs) arithmetic, how many identical
 * pods fit in a free vector, and how to say an amount to a human. Integers throughout (see
 * core/quota.ts), so sums and differences are exact.
 */
import type { Resources } from '../core/quota.js';

export type { Resources } from '../core/quota.js';

export type Dim = keyof Resources;

/** The order in which shortages are named: GPUs, the scarce resource, first. */
export const DIMS: readonly Dim[] = Object.freeze(['gpu', 'cpuMilli', 'memoryMb'] as const);

export function zero(): Resources {
  return { cpuMilli: 0, memoryMb: 0, gpu: 0 };
}

/** `perPod` x `n` as a new vector. */
export function times(perPod: Resources, n: number): Resources {
  return { cpuMilli: perPod.cpuMilli * n, memoryMb: perPod.memoryMb * n, gpu: perPod.gpu * n };
}

/** acc += r x n, in place. */
export function addInto(acc: Resources, r: Resources, n = 1): void {
  acc.cpuMilli += r.cpuMilli * n;
  acc.memoryMb += r.memoryMb * n;
  acc.gpu += r.gpu * n;
}

export function fitsWithin(req: Resources, free: Resources): boolean {
  return req.cpuMilli <= free.cpuMilli && req.memoryMb <= free.memoryMb && req.gpu <= free.gpu;
}

/** How many pods of `perPod` fit in `free` (Infinity for a pod that asks for nothing). */
export function podsIn(freeCpu: number, freeMem: number, freeGpu: number, perPod: Resources): number {
  let n = Infinity;
  if (perPod.cpuMilli > 0) n = Math.min(n, Math.floor(freeCpu / perPod.cpuMilli));
  if (perPod.memoryMb > 0) n = Math.min(n, Math.floor(freeMem / perPod.memoryMb));
  if (perPod.gpu > 0) n = Math.min(n, Math.floor(freeGpu / perPod.gpu));
  return n < 0 ? 0 : n;
}

/** Dimension bits, in the order shortages are named. */
export const GPU = 1;
export const CPU = 2;
export const MEM = 4;

/** Bits of the dimensions in which (cpu, mem, gpu) exceeds the free (cpu, mem, gpu). */
export function overMask(cpu: number, mem: number, gpu: number, freeCpu: number, freeMem: number, freeGpu: number): number {
  return (gpu > freeGpu ? GPU : 0) | (cpu > freeCpu ? CPU : 0) | (mem > freeMem ? MEM : 0);
}

/** "4 GPUs and 8 CPU cores": the amounts of the dimensions in `mask`. */
export function amountsIn(mask: number, cpu: number, mem: number, gpu: number): string {
  let s = '';
  if (mask & GPU) s = amount('gpu', gpu);
  if (mask & CPU) s = s === '' ? amount('cpuMilli', cpu) : `${s} and ${amount('cpuMilli', cpu)}`;
  if (mask & MEM) s = s === '' ? amount('memoryMb', mem) : `${s} and ${amount('memoryMb', mem)}`;
  return s;
}

/** "2 and 4": the bare numbers (negative ones as 0) of the dimensions in `mask`, same order and units. */
export function numsIn(mask: number, cpu: number, mem: number, gpu: number): string {
  let s = '';
  if (mask & GPU) s = num('gpu', Math.max(0, gpu));
  if (mask & CPU) s = s === '' ? num('cpuMilli', Math.max(0, cpu)) : `${s} and ${num('cpuMilli', Math.max(0, cpu))}`;
  if (mask & MEM) s = s === '' ? num('memoryMb', Math.max(0, mem)) : `${s} and ${num('memoryMb', Math.max(0, mem))}`;
  return s;
}

/** The number alone, in the unit `amount` names: cores for CPU, MiB, GPUs. */
export function num(d: Dim, v: number): string {
  return d === 'cpuMilli' ? String(Math.round(v) / 1000) : String(v);
}

/** "4 GPUs", "1 CPU core", "2.5 CPU cores", "4096 MiB of memory". */
export function amount(d: Dim, v: number): string {
  switch (d) {
    case 'gpu':
      return `${v} GPU${v === 1 ? '' : 's'}`;
    case 'cpuMilli':
      return `${num(d, v)} CPU core${v === 1000 ? '' : 's'}`;
    case 'memoryMb':
      return `${v} MiB of memory`;
  }
}

/** The non-zero parts of a vector: "2 GPUs, 8 CPU cores" ("nothing" when all zero). */
export function describe(r: Resources): string {
  const parts: string[] = [];
  for (const d of DIMS) if (r[d] > 0) parts.push(amount(d, r[d]));
  return parts.length === 0 ? 'nothing' : parts.join(', ');
}
