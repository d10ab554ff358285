import { describe, expect, it } from 'vitest';
import { explainNeverFits, schedule } from '../../src/scheduler/index.js';
import type { AdmittedJob, Decisions, ScheduleOptions, Snapshot, WaitReason } from '../../src/scheduler/types.js';
import { MIN, NOW, job, pool, queue, r, running, snapshot } from './scheduler-fixtures.js';

interface Case {
  name: string;
  snapshot: Snapshot;
  options?: ScheduleOptions;
  expected: Partial<Decisions>;
}

const NO_DECISIONS: Decisions = { admissions: [], preemptions: [], waiting: [] };

function capacity(id: string, position: number, message: string, etaMs?: number): WaitReason {
  return etaMs === undefined ? { id, position, reason: 'Capacity', message } : { id, position, reason: 'Capacity', message, etaMs };
}

function ahead(n: number): string {
  return n === 0 ? 'no jobs ahead' : `${n} job${n === 1 ? '' : 's'} ahead`;
}

// One node of 4 cores / 4 GiB: room for exactly one 4-core job.
const ONE_SLOT = pool('cpu', r(4, 4096), 1);
const GPU_NODE = r(16, 65536, 4);

const ordering: Case[] = [
  {
    name: 'takes the highest effective priority (queue + job) first, then the next ones in priority order',
    snapshot: snapshot({
      pools: [ONE_SLOT],
      queues: { batch: queue('batch'), urgent: queue('urgent', { priority: 10 }) },
      queued: [
        job('j1', { queuedAt: 1, perPod: r(4) }),
        job('j2', { queuedAt: 2, perPod: r(4), priority: 5 }),
        job('j3', { queuedAt: 3, perPod: r(4), priority: 1 }),
        job('j4', { queuedAt: 4, perPod: r(4), queue: 'urgent' }),
      ],
    }),
    expected: {
      admissions: [{ id: 'j4', pool: 'cpu' }],
      waiting: [
        capacity('j2', 1, 'needs 4 CPU cores in pool cpu, 0 free; no jobs ahead'),
        capacity('j3', 2, 'needs 4 CPU cores in pool cpu, 0 free; 1 job ahead'),
        capacity('j1', 3, 'needs 4 CPU cores in pool cpu, 0 free; 2 jobs ahead'),
      ],
    },
  },
  {
    name: 'goes FIFO within a priority (queuedAt, then id), whatever the input order',
    snapshot: snapshot({
      pools: [pool('cpu', r(2, 4096), 1)],
      queued: [job('x', { queuedAt: 5 }), job('m', { queuedAt: 3 }), job('k', { queuedAt: 3 }), job('z', { queuedAt: 1 })],
    }),
    expected: {
      admissions: [
        { id: 'z', pool: 'cpu' },
        { id: 'k', pool: 'cpu' },
      ],
      waiting: [
        capacity('m', 1, 'needs 1 CPU core in pool cpu, 0 free; no jobs ahead'),
        capacity('x', 2, 'needs 1 CPU core in pool cpu, 0 free; 1 job ahead'),
      ],
    },
  },
  {
    name: "fair share: tenant B's only job goes before tenant A's second (A queued 10 first)",
    snapshot: snapshot({
      pools: [pool('cpu', r(3, 8192), 1)],
      queued: [
        ...Array.from({ length: 10 }, (_, i) => job(`a${i + 1}`, { tenant: 'A', queuedAt: i + 1 })),
        job('b1', { tenant: 'B', queuedAt: 20 }),
      ],
    }),
    expected: {
      admissions: [
        { id: 'a1', pool: 'cpu' },
        { id: 'b1', pool: 'cpu' },
        { id: 'a2', pool: 'cpu' },
      ],
      waiting: Array.from({ length: 8 }, (_, i) =>
        capacity(`a${i + 3}`, i + 1, `needs 1 CPU core in pool cpu, 0 free; ${ahead(i)}`),
      ),
    },
  },
  {
    name: 'fair share counts running jobs: a tenant using more goes after one using less, though queued first',
    snapshot: snapshot({
      pools: [pool('cpu', r(4, 8192), 1, { nodesFree: [r(1, 6144)] })],
      admitted: [running('ra', { tenant: 'A', perPod: r(3, 2048) })],
      queued: [job('a1', { tenant: 'A', queuedAt: 1 }), job('b1', { tenant: 'B', queuedAt: 2 })],
    }),
    expected: {
      admissions: [{ id: 'b1', pool: 'cpu' }],
      waiting: [capacity('a1', 1, 'needs 1 CPU core in pool cpu, 0 free; no jobs ahead')],
    },
  },
  {
    name: "a tenant flooding the queue cannot keep another tenant's single job beyond one admission slot",
    snapshot: snapshot({
      pools: [pool('cpu', r(2, 8192), 1)],
      queued: [
        ...Array.from({ length: 50 }, (_, i) => job(`a${i + 1}`, { tenant: 'A', queuedAt: i })),
        job('b', { tenant: 'B', queuedAt: 1000 }),
      ],
    }),
    expected: {
      admissions: [
        { id: 'a1', pool: 'cpu' },
        { id: 'b', pool: 'cpu' },
      ],
      waiting: Array.from({ length: 49 }, (_, i) => capacity(`a${i + 2}`, i + 1, `needs 1 CPU core in pool cpu, 0 free; ${ahead(i)}`)),
    },
  },
  {
    name: 'priority beats fair share: a high-priority job of a heavy tenant goes before a light tenant',
    snapshot: snapshot({
      pools: [pool('cpu', r(4, 8192), 1, { nodesFree: [r(1, 6144)] })],
      admitted: [running('ra', { tenant: 'A', perPod: r(3, 2048) })],
      queued: [job('b1', { tenant: 'B', queuedAt: 1 }), job('a1', { tenant: 'A', queuedAt: 2, priority: 1 })],
    }),
    expected: {
      admissions: [{ id: 'a1', pool: 'cpu' }],
      waiting: [capacity('b1', 1, 'needs 1 CPU core in pool cpu, 0 free; no jobs ahead')],
    },
  },
  {
    name: 'skips a head that does not fit and admits smaller jobs behind it (BestEffortFIFO)',
    snapshot: snapshot({
      pools: [pool('cpu', r(4, 8192), 1)],
      queued: [job('big', { queuedAt: 1, perPod: r(3) }), job('mid', { queuedAt: 2, perPod: r(2) }), job('small', { queuedAt: 3, perPod: r(1) })],
    }),
    expected: {
      admissions: [
        { id: 'big', pool: 'cpu' },
        { id: 'small', pool: 'cpu' },
      ],
      waiting: [capacity('mid', 1, 'needs 2 CPU cores in pool cpu, 1 free; no jobs ahead')],
    },
  },
  {
    name: 'counts positions per queue, in the order the cycle considered the jobs',
    snapshot: snapshot({
      pools: [pool('cpu', r(4, 4096), 1, { nodesFree: [r(0, 3072)] })],
      queues: { batch: queue('batch'), other: queue('other') },
      admitted: [running('r', { perPod: r(4) })],
      queued: [
        job('b1', { queuedAt: 1, perPod: r(4) }),
        job('o1', { queuedAt: 2, perPod: r(4), queue: 'other' }),
        job('b2', { queuedAt: 3, perPod: r(4) }),
        job('o2', { queuedAt: 4, perPod: r(4), queue: 'other' }),
      ],
    }),
    expected: {
      waiting: [
        capacity('b1', 1, 'needs 4 CPU cores in pool cpu, 0 free; no jobs ahead'),
        capacity('o1', 1, 'needs 4 CPU cores in pool cpu, 0 free; no jobs ahead'),
        capacity('b2', 2, 'needs 4 CPU cores in pool cpu, 0 free; 1 job ahead'),
        capacity('o2', 2, 'needs 4 CPU cores in pool cpu, 0 free; 1 job ahead'),
      ],
    },
  },
];

// Gang placement: 2 or 3 nodes of 4 GPUs.
const gangs: Case[] = [
  {
    name: 'gang fits: 3 pods x 2 GPUs onto 2 nodes of 4 GPUs (2+2 on the first node, 1 on the second)',
    snapshot: snapshot({
      pools: [pool('gpu', GPU_NODE, 2)],
      queued: [
        job('g', { queuedAt: 1, perPod: r(2, 1024, 2), replicas: 3 }),
        job('g2', { queuedAt: 2, perPod: r(1, 1024, 2) }),
        job('g3', { queuedAt: 3, perPod: r(1, 1024, 1) }),
      ],
    }),
    expected: {
      admissions: [
        { id: 'g', pool: 'gpu' },
        { id: 'g2', pool: 'gpu' },
      ],
      waiting: [capacity('g3', 1, 'needs 1 GPU in pool gpu, 0 free; no jobs ahead')],
    },
  },
  {
    name: 'gang does not fit: 3 pods x 3 GPUs on 2 nodes of 4 GPUs (9 > 8 in total: never)',
    snapshot: snapshot({ pools: [pool('gpu', GPU_NODE, 2)], queued: [job('g', { perPod: r(1, 1024, 3), replicas: 3 })] }),
    expected: {
      waiting: [{ id: 'g', position: 1, reason: 'Capacity', message: 'can never fit: needs 9 GPUs but pool gpu has 8 in total', neverFits: true }],
    },
  },
  {
    name: 'gang does not fit now: 3 pods x 3 GPUs with 8 GPUs free on 2 of 3 nodes; ETA when a node frees',
    snapshot: snapshot({
      pools: [pool('gpu', GPU_NODE, 3, { nodesFree: [r(15, 64512, 0), GPU_NODE, GPU_NODE] })],
      admitted: [running('r', { pool: 'gpu', perPod: r(1, 1024, 4), expectedEndAt: NOW + 30 * MIN })],
      queued: [job('g', { perPod: r(1, 1024, 3), replicas: 3 })],
    }),
    expected: {
      waiting: [capacity('g', 1, 'needs 9 GPUs in pool gpu, 8 free; no jobs ahead; estimated start in 30 min', NOW + 30 * MIN)],
    },
  },
  {
    name: 'gang does not pack: 2 pods x 3 GPUs on 3 nodes with 2 free each (6 free in total, no node takes 3)',
    snapshot: snapshot({
      pools: [pool('gpu', GPU_NODE, 3, { nodesFree: [r(15, 64512, 2), r(15, 64512, 2), r(15, 64512, 2)] })],
      admitted: [
        running('r1', { pool: 'gpu', perPod: r(1, 1024, 2), expectedEndAt: NOW + 10 * MIN }),
        running('r2', { pool: 'gpu', perPod: r(1, 1024, 2), expectedEndAt: NOW + 20 * MIN }),
        running('r3', { pool: 'gpu', perPod: r(1, 1024, 2), expectedEndAt: NOW + 30 * MIN }),
      ],
      queued: [job('g', { perPod: r(1, 1024, 3), replicas: 2 })],
    }),
    expected: {
      waiting: [
        {
          id: 'g',
          position: 1,
          reason: 'Gang',
          message: 'needs 2 pods (3 GPUs, 1 CPU core, 1024 MiB of memory each) at once in pool gpu, room for 0; no jobs ahead; estimated start in 30 min',
          etaMs: NOW + 30 * MIN,
        },
      ],
    },
  },
  {
    name: 'a single pod that no node has room for, though the pool has enough in total, waits for Capacity',
    snapshot: snapshot({
      pools: [pool('gpu', GPU_NODE, 2, { nodesFree: [r(15, 64512, 2), r(15, 64512, 2)] })],
      admitted: [running('r1', { pool: 'gpu', perPod: r(1, 1024, 2) }), running('r2', { pool: 'gpu', perPod: r(1, 1024, 2) })],
      queued: [job('p', { perPod: r(1, 1024, 3) })],
    }),
    expected: {
      waiting: [capacity('p', 1, 'needs 3 GPUs, 1 CPU core, 1024 MiB of memory on one node in pool gpu, no node has that free; no jobs ahead')],
    },
  },
];

// Preemption: one node of 8 GPUs, full.
const GPU8 = r(32, 131072, 8);
const prod = queue('prod', { priority: 3, preemptionPolicy: 'PreemptLowerPriority' });
const twoGpus = r(1, 1024, 2);
const fullGpuPool = pool('gpu', GPU8, 1, { nodesFree: [r(28, 131072 - 4096, 0)] });
const fourVictims = [
  running('v1', { pool: 'gpu', priority: 1, admittedAt: 100, perPod: twoGpus }),
  running('v2', { pool: 'gpu', priority: 0, admittedAt: 50, perPod: twoGpus }),
  running('v3', { pool: 'gpu', priority: 0, admittedAt: 200, perPod: twoGpus }),
  running('v4', { pool: 'gpu', priority: 5, admittedAt: 10, perPod: twoGpus }),
];

const preemption: Case[] = [
  {
    name: 'preempts the lowest-priority, most recently admitted jobs, just enough of them; the preemptor waits',
    snapshot: snapshot({
      pools: [fullGpuPool],
      queues: { batch: queue('batch'), prod },
      admitted: fourVictims,
      queued: [job('p', { queue: 'prod', perPod: r(1, 1024, 4) })],
    }),
    expected: {
      preemptions: [
        { id: 'v3', for: 'p' },
        { id: 'v2', for: 'p' },
      ],
      waiting: [capacity('p', 1, 'needs 4 GPUs in pool gpu, 0 free; preempting 2 lower-priority jobs; no jobs ahead')],
    },
  },
  {
    name: 'drops a victim the others already cover (re-fit): a 4-GPU victim alone is enough',
    snapshot: snapshot({
      pools: [pool('gpu', GPU8, 1, { nodesFree: [r(29, 131072 - 3072, 0)] })],
      queues: { batch: queue('batch'), prod },
      admitted: [
        running('small', { pool: 'gpu', admittedAt: 300, perPod: r(1, 1024, 1) }),
        running('big', { pool: 'gpu', admittedAt: 100, perPod: r(1, 1024, 4) }),
        running('high', { pool: 'gpu', priority: 9, perPod: r(1, 1024, 3) }),
      ],
      queued: [job('p', { queue: 'prod', perPod: r(1, 1024, 4) })],
    }),
    expected: {
      preemptions: [{ id: 'big', for: 'p' }],
      waiting: [capacity('p', 1, 'needs 4 GPUs in pool gpu, 0 free; preempting 1 lower-priority job; no jobs ahead')],
    },
  },
  {
    name: 'waits for the room that stopping jobs (earlier victims) release, taking no further victim',
    snapshot: snapshot({
      pools: [{ ...fullGpuPool, releasing: r(2, 2048, 4) }],
      queues: { batch: queue('batch'), prod },
      admitted: [fourVictims[0] as AdmittedJob, fourVictims[3] as AdmittedJob],
      queued: [job('p', { queue: 'prod', perPod: r(1, 1024, 4) })],
    }),
    expected: {
      waiting: [capacity('p', 1, 'needs 4 GPUs in pool gpu, 0 free; stopping jobs are releasing the room it needs; room held for it; no jobs ahead')],
    },
  },
  {
    name: 'counts room being released: 2 of the 4 GPUs are on their way, so one 2-GPU victim is enough; a second preemptor cannot count on them',
    snapshot: snapshot({
      pools: [{ ...fullGpuPool, releasing: r(1, 1024, 2) }],
      queues: { batch: queue('batch'), prod },
      admitted: [fourVictims[0] as AdmittedJob, fourVictims[2] as AdmittedJob, fourVictims[3] as AdmittedJob],
      queued: [job('p', { queue: 'prod', perPod: r(1, 1024, 4) }), job('p2', { queue: 'prod', queuedAt: 1, perPod: r(1, 1024, 2) })],
    }),
    expected: {
      preemptions: [
        { id: 'v3', for: 'p' },
        { id: 'v1', for: 'p2' },
      ],
      waiting: [
        capacity('p', 1, 'needs 4 GPUs in pool gpu, 0 free; preempting 1 lower-priority job; no jobs ahead'),
        capacity('p2', 2, 'needs 2 GPUs in pool gpu, 0 free; preempting 1 lower-priority job; 1 job ahead'),
      ],
    },
  },
  {
    name: "never preempts a direct queue's jobs (their 201 promised they run): the next candidate goes instead",
    snapshot: snapshot({
      pools: [fullGpuPool],
      queues: { batch: queue('batch'), default: queue('default', { admission: 'direct' }), prod },
      admitted: fourVictims.map((v) => (v.id === 'v3' ? { ...v, queue: 'default' } : v)),
      queued: [job('p', { queue: 'prod', perPod: r(1, 1024, 2) })],
    }),
    expected: {
      preemptions: [{ id: 'v2', for: 'p' }],
      waiting: [capacity('p', 1, 'needs 2 GPUs in pool gpu, 0 free; preempting 1 lower-priority job; no jobs ahead')],
    },
  },
  {
    name: "'Never' never preempts",
    snapshot: snapshot({
      pools: [fullGpuPool],
      queues: { batch: queue('batch'), prod: { ...prod, preemptionPolicy: 'Never' } },
      admitted: fourVictims,
      queued: [job('p', { queue: 'prod', perPod: r(1, 1024, 4) })],
    }),
    expected: { waiting: [capacity('p', 1, 'needs 4 GPUs in pool gpu, 0 free; no jobs ahead')] },
  },
  {
    name: 'never preempts equal or higher priority',
    snapshot: snapshot({
      pools: [fullGpuPool],
      queues: { batch: queue('batch'), prod },
      admitted: fourVictims.map((v, i) => ({ ...v, priority: 3 + i })),
      queued: [job('p', { queue: 'prod', perPod: r(1, 1024, 2) })],
    }),
    expected: { waiting: [capacity('p', 1, 'needs 2 GPUs in pool gpu, 0 free; room held for it; no jobs ahead')] },
  },
  {
    name: 'the preemptor holds the room it needs: a later lower-priority job cannot take the free GPUs',
    snapshot: snapshot({
      pools: [pool('gpu', GPU8, 1, { nodesFree: [r(29, 131072 - 3072, 2)] })],
      queues: { batch: queue('batch'), prod },
      admitted: fourVictims.slice(0, 3),
      queued: [job('p', { queue: 'prod', queuedAt: 2, perPod: r(1, 1024, 4) }), job('small', { queuedAt: 1, perPod: twoGpus })],
    }),
    expected: {
      preemptions: [{ id: 'v3', for: 'p' }],
      waiting: [
        capacity('p', 1, 'needs 4 GPUs in pool gpu, 2 free; preempting 1 lower-priority job; no jobs ahead'),
        { id: 'small', position: 1, reason: 'Fairness', message: 'needs 2 GPUs in pool gpu, 0 free after room held for job p; no jobs ahead' },
      ],
    },
  },
  {
    name: 'a blocked job that may preempt holds its room: a lower-priority job cannot start there (it would be preempted)',
    snapshot: snapshot({
      pools: [pool('cpu', r(3, 4096), 2, { nodesFree: [r(1, 3072), r(1.5, 3072)] })],
      queues: { batch: queue('batch'), prod },
      admitted: [running('r1', { priority: 3, perPod: r(2) }), running('r2', { priority: 3, perPod: r(1.5) })],
      queued: [job('p', { queue: 'prod', perPod: r(2) }), job('low', { queuedAt: 1, perPod: r(0.5), replicas: 2 })],
    }),
    expected: {
      waiting: [
        capacity('p', 1, 'needs 2 CPU cores, 1024 MiB of memory on one node in pool cpu, no node has that free; room held for it; no jobs ahead'),
        { id: 'low', position: 1, reason: 'Fairness', message: 'needs 1 CPU core and 2048 MiB of memory in pool cpu, 0 and 0 free after room held for job p; no jobs ahead' },
      ],
    },
  },
  {
    name: "over quota, preempts only the tenant's own lower-priority jobs (not a more recent one of another tenant)",
    snapshot: snapshot({
      pools: [pool('gpu', GPU8, 1, { nodesFree: [r(30, 131072 - 2048, 2)] })],
      queues: { batch: queue('batch'), prod },
      quotas: { A: { gpu: 4 } },
      admitted: [
        running('mine', { tenant: 'A', pool: 'gpu', admittedAt: 1, perPod: r(1, 1024, 4) }),
        running('theirs', { tenant: 'B', pool: 'gpu', admittedAt: 2, perPod: twoGpus }),
      ],
      queued: [job('p', { tenant: 'A', queue: 'prod', perPod: twoGpus }), job('later', { tenant: 'B', queuedAt: 1, perPod: twoGpus })],
    }),
    expected: {
      preemptions: [{ id: 'mine', for: 'p' }],
      waiting: [
        { id: 'p', position: 1, reason: 'Quota', message: 'tenant A quota: needs 2 GPUs, 4 of 4 in use; preempting 1 lower-priority job; no jobs ahead' },
        capacity('later', 1, 'needs 2 GPUs in pool gpu, 0 free; no jobs ahead'),
      ],
    },
  },
  {
    name: 'at maxConcurrency, preempts a lower-priority job of the same queue',
    snapshot: snapshot({
      pools: [pool('cpu', r(8, 8192), 1, { nodesFree: [r(6, 6144)] })],
      queues: { batch: queue('batch'), prod: { ...prod, maxConcurrency: 1 } },
      admitted: [running('other', { queue: 'batch', admittedAt: 9 }), running('same', { queue: 'prod', priority: 1, admittedAt: 1 })],
      queued: [job('p', { queue: 'prod' })],
    }),
    expected: {
      preemptions: [{ id: 'same', for: 'p' }],
      waiting: [{ id: 'p', position: 1, reason: 'MaxConcurrency', message: 'queue prod is at its limit of 1 running job; preempting 1 lower-priority job; no jobs ahead' }],
    },
  },
];

const limits: Case[] = [
  {
    name: 'maxConcurrency: admits up to the limit; ETA from the first admitted job of the queue to end',
    snapshot: snapshot({
      pools: [pool('cpu', r(8, 8192), 1, { nodesFree: [r(7, 7168)] })],
      queues: { batch: queue('batch', { maxConcurrency: 2 }) },
      admitted: [running('r1', { expectedEndAt: NOW + 5 * MIN })],
      queued: [job('c1', { queuedAt: 1 }), job('c2', { queuedAt: 2 }), job('c3', { queuedAt: 3 })],
    }),
    expected: {
      admissions: [{ id: 'c1', pool: 'cpu' }],
      waiting: [
        { id: 'c2', position: 1, reason: 'MaxConcurrency', message: 'queue batch is at its limit of 2 running jobs; no jobs ahead; estimated start in 5 min', etaMs: NOW + 5 * MIN },
        { id: 'c3', position: 2, reason: 'MaxConcurrency', message: 'queue batch is at its limit of 2 running jobs; 1 job ahead' },
      ],
    },
  },
  {
    name: 'maxConcurrency 0 is a closed gate',
    snapshot: snapshot({ pools: [ONE_SLOT], queues: { batch: queue('batch', { maxConcurrency: 0 }) }, queued: [job('c')] }),
    expected: { waiting: [{ id: 'c', position: 1, reason: 'MaxConcurrency', message: 'queue batch is at its limit of 0 running jobs; no jobs ahead' }] },
  },
  {
    name: "quota: a job over the tenant's GPU quota waits (ETA from its running job) while a smaller one goes",
    snapshot: snapshot({
      pools: [pool('gpu', GPU_NODE, 2, { nodesFree: [r(15, 64512, 2), GPU_NODE] })],
      quotas: { a: { gpu: 4 } },
      admitted: [running('ra', { pool: 'gpu', perPod: twoGpus, expectedEndAt: NOW + 12 * MIN })],
      queued: [job('q1', { queuedAt: 1, perPod: r(1, 1024, 4) }), job('q2', { queuedAt: 2, perPod: twoGpus })],
    }),
    expected: {
      admissions: [{ id: 'q2', pool: 'gpu' }],
      waiting: [
        { id: 'q1', position: 1, reason: 'Quota', message: 'tenant a quota: needs 4 GPUs, 2 of 4 in use; no jobs ahead; estimated start in 12 min', etaMs: NOW + 12 * MIN },
      ],
    },
  },
  {
    name: 'quota applies to CPU and memory too, and uses the default quota for tenants without one',
    snapshot: snapshot({
      pools: [pool('cpu', r(16, 65536), 1)],
      defaultQuota: { cpuMilli: 4000, memoryMb: 4096 },
      queued: [job('a1', { queuedAt: 1, perPod: r(3, 2048) }), job('a2', { queuedAt: 2, perPod: r(2, 4096) })],
    }),
    expected: {
      admissions: [{ id: 'a1', pool: 'cpu' }],
      waiting: [{ id: 'a2', position: 1, reason: 'Quota', message: 'tenant a quota: needs 2 CPU cores and 4096 MiB of memory, 3 of 4 and 2048 of 4096 in use; no jobs ahead' }],
    },
  },
  {
    name: 'backoff: a job with notBefore in the future waits; the next job goes',
    snapshot: snapshot({
      pools: [pool('cpu', r(8, 8192), 1)],
      queued: [job('b1', { queuedAt: 1, notBefore: NOW + 2 * MIN }), job('b2', { queuedAt: 2 }), job('b3', { queuedAt: 3, notBefore: NOW })],
    }),
    expected: {
      admissions: [
        { id: 'b2', pool: 'cpu' },
        { id: 'b3', pool: 'cpu' },
      ],
      waiting: [{ id: 'b1', position: 1, reason: 'Backoff', message: 'retry backoff after a failed attempt; no jobs ahead; estimated start in 2 min', etaMs: NOW + 2 * MIN }],
    },
  },
  {
    name: 'ComputeCluster maxJobs and maxGpus cap a pool (a CPU-only queue cannot fall back to the GPU pool)',
    snapshot: snapshot({
      pools: [pool('cpu', r(8, 8192), 1, { maxJobs: 1, nodesFree: [r(7, 7168)] }), pool('gpu', GPU_NODE, 2, { maxGpus: 4, nodesFree: [r(15, 64512, 2), GPU_NODE] })],
      queues: { batch: queue('batch'), cpuq: queue('cpuq', { pools: ['cpu'] }) },
      admitted: [running('rc', { expectedEndAt: NOW + 3 * MIN }), running('rg', { pool: 'gpu', perPod: twoGpus, expectedEndAt: NOW + 7 * MIN })],
      queued: [job('c', { queuedAt: 1, queue: 'cpuq' }), job('g', { queuedAt: 2, perPod: r(1, 1024, 4) })],
    }),
    expected: {
      waiting: [
        { id: 'c', position: 1, reason: 'PoolLimit', message: 'pool cpu is at its limit of 1 job; no jobs ahead; estimated start in 3 min', etaMs: NOW + 3 * MIN },
        { id: 'g', position: 1, reason: 'PoolLimit', message: 'needs 4 GPUs in pool gpu, 2 free under its limit of 4; no jobs ahead; estimated start in 7 min', etaMs: NOW + 7 * MIN },
      ],
    },
  },
  {
    name: 'maxAdmissions stops admitting; the rest say why',
    snapshot: snapshot({ pools: [pool('cpu', r(8, 8192), 1)], queued: [job('m1', { queuedAt: 1 }), job('m2', { queuedAt: 2 }), job('m3', { queuedAt: 3 })] }),
    options: { maxAdmissions: 1 },
    expected: {
      admissions: [{ id: 'm1', pool: 'cpu' }],
      waiting: [
        capacity('m2', 1, "not considered: this cycle's limit of 1 admission was reached; no jobs ahead"),
        capacity('m3', 2, "not considered: this cycle's limit of 1 admission was reached; 1 job ahead"),
      ],
    },
  },
];

const pools: Case[] = [
  {
    name: 'pool choice: CPU jobs prefer GPU-less pools, queues restrict pools, GPU jobs take the best fit',
    snapshot: snapshot({
      pools: [pool('cpu', r(8, 32768), 1), pool('a100', r(32, 131072, 8), 1), pool('t4', r(16, 65536, 4), 1, { nodesFree: [r(15, 64512, 2)] })],
      queues: { batch: queue('batch'), gpuonly: queue('gpuonly', { pools: ['a100', 't4'] }), cpuonly: queue('cpuonly', { pools: ['cpu'] }) },
      admitted: [running('rt4', { pool: 't4', perPod: twoGpus })],
      queued: [
        job('c1', { queuedAt: 1, perPod: r(2) }),
        job('c2', { queuedAt: 2, perPod: r(2), queue: 'gpuonly' }),
        job('g1', { queuedAt: 3, perPod: twoGpus }),
        job('g2', { queuedAt: 4, perPod: twoGpus }),
        job('n', { queuedAt: 5, perPod: r(1, 1024, 1), queue: 'cpuonly' }),
      ],
    }),
    expected: {
      admissions: [
        { id: 'c1', pool: 'cpu' },
        { id: 'c2', pool: 't4' },
        { id: 'g1', pool: 't4' },
        { id: 'g2', pool: 'a100' },
      ],
      waiting: [{ id: 'n', position: 1, reason: 'Capacity', message: 'can never fit: a pod needs 1 GPU but the largest node in pool cpu has 0', neverFits: true }],
    },
  },
  {
    name: 'a job of an undefined queue waits; a queue naming only missing pools can never fit',
    snapshot: snapshot({
      pools: [ONE_SLOT],
      queues: { batch: queue('batch'), ghost: queue('ghost', { pools: ['gone'] }) },
      queued: [job('u', { queue: 'nope' }), job('g', { queue: 'ghost', queuedAt: 1 })],
    }),
    expected: {
      waiting: [
        { id: 'u', position: 1, reason: 'NoQueue', message: 'queue nope is not defined (deleted after the job was queued); it waits until the queue exists again; no jobs ahead' },
        { id: 'g', position: 1, reason: 'Capacity', message: 'can never fit: queue ghost allows pools gone, none of which exists', neverFits: true },
      ],
    },
  },
  {
    name: "can never fit: bigger than the tenant's quota",
    snapshot: snapshot({ pools: [pool('gpu', GPU_NODE, 2)], quotas: { a: { gpu: 2 } }, queued: [job('q', { perPod: r(1, 1024, 4) })] }),
    expected: { waiting: [{ id: 'q', position: 1, reason: 'Quota', message: "can never fit: needs 4 GPUs but tenant a's quota is 2", neverFits: true }] },
  },
];

const etas: Case[] = [
  {
    name: 'ETA: each waiting job counts what the jobs ahead of it in the pool need; unknown when the ends do not free enough',
    snapshot: snapshot({
      pools: [pool('cpu', r(4, 8192), 1, { nodesFree: [r(0, 6144)] })],
      admitted: [running('r1', { perPod: r(2), expectedEndAt: NOW + 10 * MIN }), running('r2', { perPod: r(2), expectedEndAt: NOW + 20 * MIN })],
      queued: [job('q1', { queuedAt: 1, perPod: r(2) }), job('q2', { queuedAt: 2, perPod: r(2) }), job('q3', { queuedAt: 3, perPod: r(2) })],
    }),
    expected: {
      waiting: [
        capacity('q1', 1, 'needs 2 CPU cores in pool cpu, 0 free; no jobs ahead; estimated start in 10 min', NOW + 10 * MIN),
        capacity('q2', 2, 'needs 2 CPU cores in pool cpu, 0 free; 1 job ahead; estimated start in 20 min', NOW + 20 * MIN),
        capacity('q3', 3, 'needs 2 CPU cores in pool cpu, 0 free; 2 jobs ahead'),
      ],
    },
  },
];

// Aging: a 4-GPU job that has waited 20 minutes holds room; a 1-GPU job behind it may not take it.
const AGED_NOW = 60 * MIN;
const agingSnapshot = snapshot({
  now: AGED_NOW,
  pools: [pool('gpu', GPU8, 1, { nodesFree: [r(31, 130048, 2)] })],
  admitted: [running('r1', { pool: 'gpu', perPod: r(1, 1024, 6), expectedEndAt: AGED_NOW + 30 * MIN })],
  queued: [job('big', { queuedAt: AGED_NOW - 20 * MIN, perPod: r(1, 1024, 4) }), job('small', { queuedAt: AGED_NOW - MIN, perPod: r(1, 1024, 1) })],
});

const aging: Case[] = [
  {
    name: 'a job blocked by room for reserveAfterMs holds it: smaller jobs behind it cannot take it',
    snapshot: agingSnapshot,
    expected: {
      waiting: [
        capacity('big', 1, 'needs 4 GPUs in pool gpu, 2 free; room held for it after 20 min waiting; no jobs ahead; estimated start in 30 min', AGED_NOW + 30 * MIN),
        { id: 'small', position: 2, reason: 'Fairness', message: 'needs 1 GPU in pool gpu, 0 free after room held for job big; 1 job ahead; estimated start in 30 min', etaMs: AGED_NOW + 30 * MIN },
      ],
    },
  },
  {
    name: 'without aging (reserveAfterMs Infinity) the small job backfills',
    snapshot: agingSnapshot,
    options: { reserveAfterMs: Infinity },
    expected: {
      admissions: [{ id: 'small', pool: 'gpu' }],
      waiting: [capacity('big', 1, 'needs 4 GPUs in pool gpu, 2 free; no jobs ahead; estimated start in 30 min', AGED_NOW + 30 * MIN)],
    },
  },
];

describe('schedule', () => {
  for (const [group, cases] of Object.entries({ ordering, gangs, preemption, limits, pools, etas, aging })) {
    describe(group, () => {
      it.each(cases)('$name', (c) => {
        expect(schedule(c.snapshot, c.options)).toEqual({ ...NO_DECISIONS, ...c.expected });
      });
    });
  }

  it('is deterministic: the same snapshot gives the same decisions, and the snapshot is not mutated', () => {
    const s = preemption[0]?.snapshot as Snapshot;
    const before = structuredClone(s);
    expect(schedule(s)).toEqual(schedule(s));
    expect(s).toEqual(before);
  });

  it('without explanations decides the same and lists no waiting jobs', () => {
    for (const c of [...ordering, ...gangs, ...preemption, ...limits, ...pools, ...etas, ...aging]) {
      const full = schedule(c.snapshot, c.options);
      expect(schedule(c.snapshot, { ...c.options, explain: false }), c.name).toEqual({ admissions: full.admissions, preemptions: full.preemptions, waiting: [] });
    }
  });

  it('with no queued jobs decides nothing', () => {
    expect(schedule(snapshot({ pools: [ONE_SLOT], admitted: [running('r')] }))).toEqual(NO_DECISIONS);
  });

  it("starvation across cycles: tenant B's job starts at the first slot that frees although A keeps 20 queued", () => {
    const queued = [...Array.from({ length: 20 }, (_, i) => job(`a${i}`, { tenant: 'A', queuedAt: i })), job('b', { tenant: 'B', queuedAt: 100 })];
    const admitted = [0, 1, 2].map((i) => running(`ra${i}`, { tenant: 'A', perPod: r(1) }));
    // Three 1-core slots, all taken by A; one of A's jobs ends before each cycle.
    const cycle1 = schedule(snapshot({ pools: [pool('cpu', r(3, 8192), 1, { nodesFree: [r(0, 5120)] })], admitted, queued }));
    expect(cycle1.admissions).toEqual([]);
    const cycle2 = schedule(snapshot({ pools: [pool('cpu', r(3, 8192), 1, { nodesFree: [r(1, 6144)] })], admitted: admitted.slice(1), queued }));
    expect(cycle2.admissions).toEqual([{ id: 'b', pool: 'cpu' }]);
  });
});

describe('explainNeverFits', () => {
  const s = snapshot({
    pools: [pool('cpu', r(4, 4096), 2), pool('gpu', GPU_NODE, 2, { maxGpus: 6 })],
    queues: { batch: queue('batch'), gpu: queue('gpu', { pools: ['gpu'] }) },
    quotas: { small: { gpu: 1 } },
  });

  it.each([
    ['fits somewhere', job('j', { perPod: r(4) }), undefined],
    ['over quota', job('j', { tenant: 'small', perPod: r(1, 1024, 2) }), "needs 2 GPUs but tenant small's quota is 1"],
    ['pod bigger than any node', job('j', { perPod: r(32) }), 'a pod needs 32 CPU cores but the largest node in pool cpu has 4; a pod needs 32 CPU cores but the largest node in pool gpu has 16'],
    ['over the GPU cap of the only allowed pool', job('j', { queue: 'gpu', perPod: r(1, 1024, 4), replicas: 2 }), 'needs 8 GPUs but pool gpu is limited to 6'],
    ['more pods than the nodes can ever hold', job('j', { queue: 'gpu', perPod: r(9, 1024, 1), replicas: 3 }), 'needs 3 pods (1 GPU, 9 CPU cores, 1024 MiB of memory each) at once but pool gpu can hold at most 2'],
  ])('%s', (_name, j, expected) => {
    expect(explainNeverFits(j, s)).toBe(expected);
  });
});
