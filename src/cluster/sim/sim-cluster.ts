/**
 * The embedded simulated cluster: the zero-setup ClusterPort adapter. It plays the parts of a
 * Kubernetes 1.20 control plane that Runway can observe — an object store with resourceVersions and
 * watches, the garbage collector (ownerReferences), the Job controller (parallelism, completions,
 * backoffLimit with exponential back-off, activeDeadlineSeconds), kube-scheduler (filters and a
 * bin-packing score) and a kubelet that runs `sim.runway.dev/*` workloads — on a SimClock.
 *
 * Every mutation runs to completion synchronously (then `settle` lets the controllers react), and
 * watchers receive events from a queue, so the sim is deterministic under a ManualClock.
 *
 * Objects are immutable. What a caller writes is copied (and frozen) once on the way in; a change
 * replaces an object with a new one that shares the unchanged parts, as an API server's new
 * resourceVersion does. So every watcher and every caller gets the stored object itself, not a copy,
 * and treats it as read-only (as client-go's informer caches require): writing to it throws.
 */
import { LABEL_JOB_ID, type Container, type JobCondition, type K8sJob, type K8sNode, type K8sPod, type ObjectMeta } from '../../core/k8s.js';
import { isPolicyKind, POLICY_API_VERSION, type PolicyKind, type PolicyOf, type PolicyResource } from '../../core/policy.js';
import type { AIJobStatus } from '../../core/status.js';
import {
  ClusterError,
  type AIJob,
  type ClusterErrorKind,
  type ClusterEvent,
  type ClusterPort,
  type ClusterWatcher,
} from '../types.js';
import type { SimClock } from './clock.js';
import { outcomeFor, parseWorkload, type Outcome, type Workload } from './kubelet.js';
import { defaultPolicies } from './policies.js';
import {
  DEFAULT_POOLS,
  makeNode,
  nodeState,
  placePod,
  podRequests,
  type NodeState,
  type PoolSpec,
  type Resources,
} from './placement.js';
import { deepFreeze, freezeCopy, isImmutable, iso, MinHeap, sameJson, uuid, withFields } from './util.js';
import { WatchStream } from './watch.js';

/** The port operations that failNext can break. */
export type SimOp =
  | 'createAIJob'
  | 'createJob'
  | 'updateAIJobStatus'
  | 'deleteAIJob'
  | 'deleteJob'
  | 'putPolicy'
  | 'deletePolicy'
  | 'updatePolicyStatus';

export interface SimClusterOptions {
  namespace: string;
  clock: SimClock;
  /** Node pools (default DEFAULT_POOLS: 4 cpu nodes, 2 gpu nodes). */
  pools?: readonly PoolSpec[];
  /** Seconds from binding a pod to its container running (default 1). */
  startDelayS?: number;
  /**
   * Policy objects it starts with (default defaultPolicies(pools): queues `default` (direct) and
   * `batch` (queued, maxConcurrency 100, PreemptLowerPriority), and a ComputeCluster per pool).
   */
  policies?: readonly PolicyResource[];
}

export interface PoolUsage {
  nodes: number;
  readyNodes: number;
  capacity: Resources;
  allocated: Resources;
}

// The 1.20 Job controller's back-off: DefaultJobBackOff doubling per failure up to MaxJobBackOff.
export const JOB_BACKOFF_BASE_MS = 10_000;
export const JOB_BACKOFF_MAX_MS = 360_000;
const DEFAULT_BACKOFF_LIMIT = 6;
const MAX_LOG_LINES = 1000;
// Kubernetes' generateName alphabet: no vowels, so generated names never spell words.
const NAME_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

type PodPhase = 'pending' | 'bound' | 'running' | 'done';

interface PodState {
  pod: K8sPod;
  job: JobState;
  /** Creation order, for the scheduling queue. */
  seq: number;
  phase: PodPhase;
  node?: NodeState;
  timer?: SimTimer | undefined;
  outcome?: Outcome;
  startedAt?: string;
  /** Only Runway's pods (labelled with a job id) are watched, as the kube adapter's label selector does. */
  watched: boolean;
}

interface JobState {
  job: K8sJob;
  name: string;
  uid: string;
  // Every pod of a Job has the same template, so these are worked out once per Job.
  req: Resources;
  /** The spec of its pods until they are bound (shared: objects are immutable). */
  podSpec: K8sPod['spec'];
  selector: Record<string, string> | undefined;
  /** Shared by every Job of the same shape (see PendingGroup). */
  groupKey: string;
  workload: Workload;
  runwayJobId: string;
  // Arrays rather than Maps/Sets: a Job has a handful of pods, and 100,000 Jobs must stay cheap.
  /** Pods that exist, oldest first. */
  pods: PodState[];
  active: number;
  succeeded: number;
  failed: number;
  startMs?: number;
  deadlineAt?: number;
  backoffUntil: number;
  deadlineTimer?: SimTimer | undefined;
  backoffTimer?: SimTimer | undefined;
  /** Set once a Complete or Failed condition is written. */
  condition?: JobCondition;
  deleted: boolean;
  /** Log lines as their parts (mostly strings shared with other objects), joined when read. */
  logs?: string[][];
}

/** What the pods of a Job request, the key of their PendingGroup before the selector, and their spec. */
interface ContainerFacts {
  req: Resources;
  reqKey: string;
  podSpec: K8sPod['spec'];
}

/** Pending pods with the same requests and selector, oldest first. */
class PendingGroup {
  constructor(readonly key: string) {}

  items: PodState[] = [];
  head = 0;
  /** Items before this index have had a scheduling attempt (and a status saying why they wait). */
  attemptedUpTo = 0;
  /**
   * The capacity generation at which the front pod last failed to fit, and why. Until nodes or
   * allocations change, every pod of the group would fail the same way (kube-scheduler parks such
   * pods in its unschedulable queue until a cluster event), so placement is not tried again.
   */
  failedGen = -1;
  failedMessage = '';

  front(): PodState | undefined {
    while (this.head < this.items.length && (this.items[this.head] as PodState).phase !== 'pending') this.head++;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.attemptedUpTo = Math.max(0, this.attemptedUpTo - this.head);
      this.head = 0;
    }
    return this.items[this.head];
  }
}

export class SimCluster implements ClusterPort {
  readonly name = 'sim';
  readonly namespace: string;
  readonly clock: SimClock;
  private readonly startDelayMs: number;

  private rv = 0;
  private podSeq = 0;
  private readonly aiJobStore = new Map<string, AIJob>();
  /** Policy objects (cluster-scoped), by kind and name. */
  private readonly policyStore = new Map<PolicyKind, Map<string, PolicyResource>>([
    ['AIJobQueue', new Map()],
    ['ComputeCluster', new Map()],
    ['TenantPolicy', new Map()],
  ]);
  private readonly jobStore = new Map<string, JobState>();
  private readonly jobsByOwnerUid = new Map<string, JobState[]>();
  private readonly podStore = new Map<string, PodState>();
  private readonly nodeStore = new Map<string, NodeState>();
  private nodeOrder = 0;
  private readonly pending = new Map<string, PendingGroup>();
  /** Pods started per Runway job id, for fail-attempts; only jobs using that annotation are counted. */
  private readonly startsByRunwayJob = new Map<string, number>();

  private readonly watchers = new Set<WatchStream>();
  /** Every sim timer, in (time, creation) order; only the earliest is armed on the clock. */
  private readonly timerQueue = new MinHeap<SimTimer>((a, b) => a.at < b.at || (a.at === b.at && a.seq < b.seq));
  private timerSeq = 0;
  private cancelledTimers = 0;
  private armedAt = Number.POSITIVE_INFINITY;
  private cancelArmed: (() => void) | undefined;
  private readonly faults = new Map<SimOp, ClusterErrorKind[]>();
  private available = true;
  private closed = false;

  private readonly dirtyJobs = new Set<JobState>();
  private schedulerDirty = false;
  /** Bumped whenever what placement sees changes: nodes, readiness, allocations. */
  private capacityGen = 0;
  // Timer handlers, made once (see timer()).
  private readonly markDirty = (js: JobState): void => void this.dirtyJobs.add(js);
  private readonly backoffOver = (js: JobState): void => {
    js.backoffTimer = undefined;
    this.dirtyJobs.add(js);
  };
  private readonly startPodFn = (ps: PodState): void => this.startPod(ps);
  private readonly finishPodFn = (ps: PodState): void => this.finishPod(ps);
  /** The status of pods waiting for the same reason is one shared (immutable) object. */
  private unschedulableStatus: NonNullable<K8sPod['status']> = Object.freeze({ phase: 'Pending', reason: 'Unschedulable', message: '' });
  private settling = false;
  private readonly factsByContainers = new WeakMap<readonly Container[], ContainerFacts>();

  constructor(options: SimClusterOptions) {
    this.namespace = options.namespace;
    this.clock = options.clock;
    const delay = options.startDelayS ?? 1;
    this.startDelayMs = (Number.isFinite(delay) && delay >= 0 ? delay : 1) * 1000;
    for (const pool of options.pools ?? DEFAULT_POOLS) this.addNodesInternal(pool);
    for (const obj of options.policies ?? defaultPolicies(options.pools ?? DEFAULT_POOLS)) this.storePolicy(obj);
  }

  // ---------------------------------------------------------------- port: clock

  now(): number {
    return this.clock.now();
  }

  setTimer(atMs: number, fn: () => void): () => void {
    const t = this.timer(atMs, callIt, fn);
    return () => this.cancel(t);
  }

  /**
   * What a Job's pods request, and their spec: worked out once per container list. Runway shares one
   * frozen list between jobs of the same shape (core/manifest.ts), so this is parsed once per shape.
   */
  private containerFacts(containers: readonly Container[]): ContainerFacts {
    let facts = this.factsByContainers.get(containers);
    if (!facts) {
      const req = Object.freeze(podRequests(containers));
      const reqKey = `${req.cpuMilli}/${req.memoryMb}/${req.gpu}/`;
      facts = Object.freeze({ req, reqKey, podSpec: Object.freeze({ containers }) as K8sPod['spec'] });
      if (Object.isFrozen(containers)) this.factsByContainers.set(containers, facts);
    }
    return facts;
  }

  // ---------------------------------------------------------------- port: AIJobs

  async createAIJob(job: AIJob): Promise<AIJob> {
    this.gate('createAIJob');
    const name = this.checkMeta(job.metadata, 'AIJob');
    if (this.aiJobStore.has(name)) throw new ClusterError('AlreadyExists', `aijobs.runway.dev "${name}" already exists`);
    const immutable = isImmutable(job);
    const stored = kubeObject(job, this.stamped(job.metadata, immutable), immutable ? job.spec : freezeCopy(job.spec), freezeCopy(job.status));
    this.aiJobStore.set(name, stored);
    this.emit({ kind: 'AIJob', type: 'ADDED', object: stored });
    return stored;
  }

  async updateAIJobStatus(name: string, status: AIJobStatus, resourceVersion?: string): Promise<AIJob> {
    this.gate('updateAIJobStatus');
    const stored = this.aiJobStore.get(name);
    if (!stored) throw new ClusterError('NotFound', `aijobs.runway.dev "${name}" not found`);
    if (resourceVersion !== undefined && stored.metadata.resourceVersion !== resourceVersion) {
      throw new ClusterError('Conflict', `Operation cannot be fulfilled on aijobs.runway.dev "${name}": the object has been modified`);
    }
    const next = kubeObject(stored, this.bumped(stored.metadata), stored.spec, freezeCopy(status));
    this.aiJobStore.set(name, next);
    this.emit({ kind: 'AIJob', type: 'MODIFIED', object: next });
    return next;
  }

  async deleteAIJob(name: string): Promise<void> {
    this.gate('deleteAIJob');
    const stored = this.aiJobStore.get(name);
    if (!stored) return;
    this.aiJobStore.delete(name);
    this.startsByRunwayJob.delete(name);
    this.emit({ kind: 'AIJob', type: 'DELETED', object: stored });
    // Background propagation: the owner goes at once, the garbage collector then removes dependents.
    const uid = stored.metadata.uid ?? '';
    for (const js of [...(this.jobsByOwnerUid.get(uid) ?? [])]) this.removeJob(js);
    this.settle();
  }

  // ---------------------------------------------------------------- port: Jobs

  async createJob(job: K8sJob): Promise<'created' | 'exists'> {
    this.gate('createJob');
    const name = this.checkMeta(job.metadata, 'Job');
    if (!job.spec?.template?.spec?.containers?.length) {
      throw new ClusterError('Invalid', `Job.batch "${name}" is invalid: spec.template.spec.containers: Required value`);
    }
    if (this.jobStore.has(name)) return 'exists';

    const immutable = isImmutable(job);
    const stored = kubeObject(job, this.stamped(job.metadata, immutable), immutable ? job.spec : freezeCopy(job.spec), EMPTY_JOB_STATUS);
    const tmpl = stored.spec.template;
    const selector = tmpl.spec.nodeSelector && Object.keys(tmpl.spec.nodeSelector).length > 0 ? tmpl.spec.nodeSelector : undefined;
    const { req, podSpec, reqKey } = this.containerFacts(tmpl.spec.containers);
    const groupKey = selector ? reqKey + JSON.stringify(Object.entries(selector).sort()) : reqKey;
    const js: JobState = {
      job: stored,
      name,
      uid: stored.metadata.uid as string,
      req,
      podSpec,
      selector,
      groupKey: this.pending.get(groupKey)?.key ?? groupKey,
      workload: parseWorkload(tmpl.metadata?.annotations),
      runwayJobId: tmpl.metadata?.labels?.[LABEL_JOB_ID] ?? stored.metadata.labels?.[LABEL_JOB_ID] ?? name,
      pods: [],
      active: 0,
      succeeded: 0,
      failed: 0,
      startMs: undefined,
      deadlineAt: undefined,
      backoffUntil: 0,
      deadlineTimer: undefined,
      backoffTimer: undefined,
      condition: undefined,
      deleted: false,
      logs: undefined,
    };
    this.jobStore.set(name, js);
    for (const uid of ownerUidsOf(js.job)) {
      const owned = this.jobsByOwnerUid.get(uid);
      if (owned) owned.push(js);
      else this.jobsByOwnerUid.set(uid, [js]);
    }
    this.emit({ kind: 'Job', type: 'ADDED', object: stored });
    this.dirtyJobs.add(js);
    this.settle();
    return 'created';
  }

  async deleteJob(name: string): Promise<void> {
    this.gate('deleteJob');
    const js = this.jobStore.get(name);
    if (!js) return;
    this.removeJob(js);
    this.settle();
  }

  // ---------------------------------------------------------------- port: policies

  async putPolicy(obj: PolicyResource): Promise<PolicyResource> {
    this.gate('putPolicy');
    return this.storePolicy(obj);
  }

  async deletePolicy(kind: PolicyKind, name: string): Promise<boolean> {
    this.gate('deletePolicy');
    const store = this.policyStore.get(kind);
    const stored = store?.get(name);
    if (!store || !stored) return false;
    store.delete(name);
    this.emit({ kind, type: 'DELETED', object: stored } as ClusterEvent);
    return true;
  }

  /**
   * Replaces the status of a policy object, as the status subresource does: a new resourceVersion and a
   * MODIFIED event (generation, spec and labels unchanged); an equal status changes nothing.
   */
  async updatePolicyStatus(kind: PolicyKind, name: string, status: Record<string, unknown>, resourceVersion?: string): Promise<PolicyResource> {
    this.gate('updatePolicyStatus');
    if (!isPolicyKind(kind)) throw new ClusterError('Invalid', `kind ${String(kind)} is not a Runway policy kind`);
    const store = this.policyStore.get(kind) as Map<string, PolicyResource>;
    const stored = store.get(name);
    if (!stored) throw new ClusterError('NotFound', `${kind} "${name}" not found`);
    if (resourceVersion !== undefined && stored.metadata.resourceVersion !== resourceVersion) {
      throw new ClusterError('Conflict', `Operation cannot be fulfilled on ${kind} "${name}": the object has been modified`);
    }
    if (sameJson(stored.status, status)) return stored;
    const next = withFields(stored, { metadata: this.bumped(stored.metadata), status: freezeCopy(status) } as Partial<PolicyResource>);
    store.set(name, next);
    this.emit({ kind, type: 'MODIFIED', object: next } as ClusterEvent);
    return next;
  }

  // ---------------------------------------------------------------- port: watch, ping, logs, close

  async watch(watcher: ClusterWatcher): Promise<() => void> {
    this.gate();
    const initial: ClusterEvent[] = [];
    // Policies first, as the kube adapter lists them before AIJobs: jobs are synced knowing their queues.
    for (const store of this.policyStore.values()) {
      for (const o of store.values()) initial.push({ kind: o.kind, type: 'ADDED', object: o } as ClusterEvent);
    }
    for (const o of this.aiJobStore.values()) initial.push({ kind: 'AIJob', type: 'ADDED', object: o });
    for (const js of this.jobStore.values()) initial.push({ kind: 'Job', type: 'ADDED', object: js.job });
    for (const ps of this.podStore.values()) {
      if (ps.watched) initial.push({ kind: 'Pod', type: 'ADDED', object: ps.pod });
    }
    for (const ns of this.nodeStore.values()) initial.push({ kind: 'Node', type: 'ADDED', object: ns.node });
    const stream = new WatchStream(watcher);
    this.watchers.add(stream);
    await new Promise<void>((resolve) => stream.start(initial, resolve));
    return () => {
      stream.stop();
      this.watchers.delete(stream);
    };
  }

  async ping(): Promise<void> {
    this.gate();
  }

  async readLogs(jobName: string, tailLines: number): Promise<string> {
    this.gate();
    const js = this.jobStore.get(jobName);
    if (!js) throw new ClusterError('NotFound', `jobs.batch "${jobName}" not found`);
    const logs = js.logs ?? [];
    if (tailLines === 0) return '';
    const lines = !Number.isFinite(tailLines) || tailLines < 0 ? logs : logs.slice(-Math.floor(tailLines));
    return lines.map((parts) => `[sim] ${parts.join(' ')}`).join('\n');
  }

  async close(): Promise<void> {
    this.closed = true;
    this.cancelArmed?.();
    this.cancelArmed = undefined;
    this.armedAt = Number.POSITIVE_INFINITY;
    this.timerQueue.clear();
    this.cancelledTimers = 0;
    for (const w of this.watchers) w.stop();
    this.watchers.clear();
  }

  // ---------------------------------------------------------------- fault injection

  /** While false, every port call rejects with ClusterError('Unavailable'); the cluster itself keeps running. */
  setAvailable(up: boolean): void {
    this.available = up;
  }

  isAvailable(): boolean {
    return this.available;
  }

  /** Makes the next `times` calls of op reject with ClusterError(kind) before changing anything. */
  failNext(op: SimOp, kind: ClusterErrorKind = 'Unavailable', times = 1): void {
    const queue = this.faults.get(op) ?? [];
    for (let i = 0; i < times; i++) queue.push(kind);
    this.faults.set(op, queue);
  }

  // ---------------------------------------------------------------- nodes (for tests and chaos)

  /** Adds `pool.nodes` nodes to a pool (numbered after its existing nodes); waiting pods get a chance. */
  addNodes(pool: PoolSpec): K8sNode[] {
    const added = this.addNodesInternal(pool);
    this.schedulerDirty = true;
    this.settle();
    return added;
  }

  /** Marks a node Ready or NotReady. NotReady nodes take no new pods; running pods carry on. */
  setNodeReady(name: string, ready: boolean): void {
    const ns = this.nodeStore.get(name);
    if (!ns) throw new ClusterError('NotFound', `nodes "${name}" not found`);
    if (ns.ready === ready) return;
    ns.ready = ready;
    this.capacityGen++;
    const status = deepFreeze({ ...ns.node.status, conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] });
    ns.node = withFields(ns.node, { metadata: this.bumped(ns.node.metadata), status });
    this.emit({ kind: 'Node', type: 'MODIFIED', object: ns.node });
    this.schedulerDirty = ready;
    this.settle();
  }

  /** Removes a node; its pods are deleted (as the pod GC does) and their Jobs replace them. */
  removeNode(name: string): void {
    const ns = this.nodeStore.get(name);
    if (!ns) return;
    this.nodeStore.delete(name);
    this.capacityGen++;
    this.emit({ kind: 'Node', type: 'DELETED', object: ns.node });
    for (const ps of [...this.podStore.values()]) {
      if (ps.node === ns) this.deletePod(ps, `node ${name} removed`);
    }
    this.settle();
  }

  // ---------------------------------------------------------------- inspection

  // Objects are immutable, so these hand out the stored objects themselves.

  nodes(): K8sNode[] {
    return [...this.nodeStore.values()].map((ns) => ns.node);
  }

  pods(): K8sPod[] {
    return [...this.podStore.values()].map((ps) => ps.pod);
  }

  podsOfJob(jobName: string): K8sPod[] {
    return (this.jobStore.get(jobName)?.pods ?? []).map((ps) => ps.pod);
  }

  jobs(): K8sJob[] {
    return [...this.jobStore.values()].map((js) => js.job);
  }

  job(name: string): K8sJob | undefined {
    return this.jobStore.get(name)?.job;
  }

  aiJobs(): AIJob[] {
    return [...this.aiJobStore.values()];
  }

  /** The stored policy objects of a kind, by name. */
  policies<K extends PolicyKind>(kind: K): PolicyOf<K>[] {
    const store = this.policyStore.get(kind) as Map<string, PolicyOf<K>>;
    return [...store.values()].sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0));
  }

  policy<K extends PolicyKind>(kind: K, name: string): PolicyOf<K> | undefined {
    return this.policyStore.get(kind)?.get(name) as PolicyOf<K> | undefined;
  }

  aiJob(name: string): AIJob | undefined {
    return this.aiJobStore.get(name);
  }

  /** Capacity and what bound pods hold, per pool. Capacity counts every node, ready or not. */
  poolUsage(): Record<string, PoolUsage> {
    const out: Record<string, PoolUsage> = {};
    for (const ns of this.nodeStore.values()) {
      const u = (out[ns.pool] ??= {
        nodes: 0,
        readyNodes: 0,
        capacity: { cpuMilli: 0, memoryMb: 0, gpu: 0 },
        allocated: { cpuMilli: 0, memoryMb: 0, gpu: 0 },
      });
      u.nodes++;
      if (ns.ready) u.readyNodes++;
      u.capacity.cpuMilli += ns.capacity.cpuMilli;
      u.capacity.memoryMb += ns.capacity.memoryMb;
      u.capacity.gpu += ns.capacity.gpu;
      u.allocated.cpuMilli += ns.allocated.cpuMilli;
      u.allocated.memoryMb += ns.allocated.memoryMb;
      u.allocated.gpu += ns.allocated.gpu;
    }
    return out;
  }

  // ---------------------------------------------------------------- plumbing

  private gate(op?: SimOp): void {
    if (!this.available) throw new ClusterError('Unavailable', 'simulated outage');
    if (op === undefined) return;
    const kind = this.faults.get(op)?.shift();
    if (kind !== undefined) throw new ClusterError(kind, `simulated ${kind} (injected into ${op})`);
  }

  private checkMeta(meta: { name?: string; namespace?: string } | undefined, kind: string): string {
    const name = meta?.name;
    if (!name) throw new ClusterError('Invalid', `${kind} is invalid: metadata.name: Required value`);
    if (meta.namespace !== undefined && meta.namespace !== this.namespace) {
      throw new ClusterError('Invalid', `${kind} "${name}": the namespace of the object (${meta.namespace}) does not match ${this.namespace}`);
    }
    return name;
  }

  /**
   * Creates a policy object, or replaces the spec (and the labels and annotations, when given) of the
   * existing one, as an update through the API server would: a new resourceVersion, generation + 1
   * when the spec changed, and no change at all (no event) when nothing did. Status is not written here.
   */
  private storePolicy(obj: PolicyResource): PolicyResource {
    const kind = obj.kind;
    if (!isPolicyKind(kind)) throw new ClusterError('Invalid', `kind ${String(kind)} is not a Runway policy kind`);
    if (obj.apiVersion !== POLICY_API_VERSION) {
      throw new ClusterError('Invalid', `${kind} apiVersion ${String(obj.apiVersion)}: expected ${POLICY_API_VERSION}`);
    }
    const name = obj.metadata?.name;
    if (!name) throw new ClusterError('Invalid', `${kind} is invalid: metadata.name: Required value`);
    const store = this.policyStore.get(kind) as Map<string, PolicyResource>;
    const current = store.get(name);
    const spec = freezeCopy(obj.spec ?? {});
    const { labels, annotations } = obj.metadata;
    if (!current) {
      const metadata = this.stamped({ name, labels, annotations, generation: 1 }, false, false);
      const stored = deepFreeze({ apiVersion: POLICY_API_VERSION, kind, metadata, spec } as PolicyResource);
      store.set(name, stored);
      this.emit({ kind, type: 'ADDED', object: stored } as ClusterEvent);
      return stored;
    }
    const specChanged = !sameJson(current.spec, spec);
    const labelsChanged = labels !== undefined && !sameJson(current.metadata.labels ?? {}, labels);
    const annotationsChanged = annotations !== undefined && !sameJson(current.metadata.annotations ?? {}, annotations);
    if (!specChanged && !labelsChanged && !annotationsChanged) return current;
    const meta: Partial<ObjectMeta> = { resourceVersion: this.nextRv() };
    if (specChanged) meta.generation = (current.metadata.generation ?? 1) + 1;
    if (labelsChanged) meta.labels = freezeCopy(labels);
    if (annotationsChanged) meta.annotations = freezeCopy(annotations);
    const next = withFields(current, { metadata: storedMeta(current.metadata, meta), spec } as Partial<PolicyResource>);
    store.set(name, next);
    this.emit({ kind, type: 'MODIFIED', object: next } as ClusterEvent);
    return next;
  }

  private nextRv(): string {
    return String(++this.rv);
  }

  /**
   * A frozen copy of metadata with what the API server sets on create (the namespace, for namespaced
   * kinds). Its labels, annotations and owner references are copied unless `immutable` says they are.
   */
  private stamped(meta: ObjectMeta, immutable: boolean, namespaced = true): ObjectMeta {
    const copy = (v: unknown) => (immutable ? v : freezeCopy(v));
    return storedMeta(meta, {
      namespace: namespaced ? this.namespace : meta.namespace,
      uid: uuid(),
      resourceVersion: this.nextRv(),
      creationTimestamp: iso(this.clock.now()),
      labels: copy(meta.labels) as ObjectMeta['labels'],
      annotations: copy(meta.annotations) as ObjectMeta['annotations'],
      ownerReferences: copy(meta.ownerReferences) as ObjectMeta['ownerReferences'],
    });
  }

  /** The metadata of the next version of an object: a new resourceVersion. */
  private bumped(meta: ObjectMeta): ObjectMeta {
    return storedMeta(meta, { resourceVersion: this.nextRv() });
  }

  /** Queues the event for every watcher: one (immutable) event object for all of them. */
  private emit(event: ClusterEvent): void {
    if (this.watchers.size === 0) return;
    Object.freeze(event);
    for (const w of this.watchers) w.push(event);
  }

  /**
   * A sim timer: cancelled by close(), and lets the controllers react after it fires. Timers wait in
   * one queue with only the earliest armed on the clock, so a Job's deadline costs a heap entry, not
   * a clock timer; they run in (time, creation) order, as the clock runs its own timers.
   */
  private timer<T>(atMs: number, fn: (arg: T) => void, arg: T): SimTimer {
    // fn(arg) rather than a closure per timer: every Job has a deadline timer, so they add up.
    const t: SimTimer = { at: atMs, seq: this.timerSeq++, fn: fn as (arg: unknown) => void, arg, done: this.closed };
    if (this.closed) return t;
    this.timerQueue.push(t);
    if (atMs < this.armedAt) this.arm();
    return t;
  }

  private cancel(t: SimTimer | undefined): void {
    if (!t || t.done) return;
    t.done = true;
    // Cancelled timers are dropped lazily; the queue is compacted when they are the majority.
    if (++this.cancelledTimers > 1024 && this.cancelledTimers * 2 > this.timerQueue.size) {
      this.timerQueue.retain((x) => !x.done);
      this.cancelledTimers = 0;
    }
  }

  /** Arms one clock timer for the earliest live sim timer (if it is not armed already). */
  private arm(): void {
    let next = this.timerQueue.peek();
    while (next?.done) {
      this.timerQueue.pop();
      this.cancelledTimers = Math.max(0, this.cancelledTimers - 1);
      next = this.timerQueue.peek();
    }
    const at = next ? next.at : Number.POSITIVE_INFINITY;
    if (at === this.armedAt) return;
    this.cancelArmed?.();
    this.armedAt = at;
    this.cancelArmed = next ? this.clock.setTimer(at, () => this.fireTimers()) : undefined;
  }

  /** Runs every sim timer that is due, in order (including ones they set that are due too). */
  private fireTimers(): void {
    this.armedAt = Number.POSITIVE_INFINITY;
    this.cancelArmed = undefined;
    try {
      for (let t = this.timerQueue.peek(); t && t.at <= this.clock.now() && !this.closed; t = this.timerQueue.peek()) {
        this.timerQueue.pop();
        if (t.done) {
          this.cancelledTimers = Math.max(0, this.cancelledTimers - 1);
          continue;
        }
        t.done = true;
        t.fn(t.arg);
        this.settle();
      }
    } finally {
      if (!this.closed) this.arm();
    }
  }

  /** Runs the Job controller and the scheduler until neither has anything left to react to. */
  private settle(): void {
    if (this.settling) return;
    this.settling = true;
    try {
      for (;;) {
        if (this.dirtyJobs.size > 0) {
          const batch = [...this.dirtyJobs];
          this.dirtyJobs.clear();
          for (const js of batch) this.syncJob(js);
        } else if (this.schedulerDirty) {
          this.schedulerDirty = false;
          this.schedulePending();
        } else {
          break;
        }
      }
    } finally {
      this.settling = false;
    }
  }

  /** Appends a log line, kept as its parts (mostly strings other objects hold too) and joined when read. */
  private log(js: JobState, ...parts: string[]): void {
    js.logs = appended(js.logs ?? [], parts);
    if (js.logs.length > MAX_LOG_LINES) js.logs.splice(0, js.logs.length - MAX_LOG_LINES);
  }

  private addNodesInternal(pool: PoolSpec): K8sNode[] {
    const added: K8sNode[] = [];
    let index = 0;
    for (let i = 0; i < pool.nodes; i++) {
      let name: string;
      do name = `${pool.name}-${++index}`;
      while (this.nodeStore.has(name));
      const node = makeNode(name, pool);
      node.metadata = this.stamped(node.metadata, false, false);
      deepFreeze(node);
      this.nodeStore.set(name, nodeState(node, this.nodeOrder++));
      this.emit({ kind: 'Node', type: 'ADDED', object: node });
      added.push(node);
    }
    this.capacityGen++;
    return added;
  }

  // ---------------------------------------------------------------- Job controller

  private syncJob(js: JobState): void {
    if (js.condition || js.deleted) return;
    const now = this.clock.now();
    const spec = js.job.spec;
    if (js.startMs === undefined) {
      js.startMs = now;
      if (Number.isFinite(spec.activeDeadlineSeconds) && spec.activeDeadlineSeconds > 0) {
        const at = now + spec.activeDeadlineSeconds * 1000;
        js.deadlineAt = at;
        js.deadlineTimer = this.timer(at, this.markDirty, js);
      }
    }
    const backoffLimit = Number.isFinite(spec.backoffLimit) && spec.backoffLimit >= 0 ? spec.backoffLimit : DEFAULT_BACKOFF_LIMIT;
    const completions = Number.isFinite(spec.completions) && spec.completions >= 0 ? spec.completions : 1;
    const parallelism = Number.isFinite(spec.parallelism) && spec.parallelism >= 0 ? spec.parallelism : 1;

    if (js.failed > backoffLimit) {
      this.finishJob(js, 'Failed', 'BackoffLimitExceeded', 'Job has reached the specified backoff limit');
    } else if (js.deadlineAt !== undefined && now >= js.deadlineAt) {
      this.finishJob(js, 'Failed', 'DeadlineExceeded', 'Job was active longer than specified deadline');
    } else if (js.succeeded >= completions) {
      this.finishJob(js, 'Complete');
    } else {
      const want = Math.max(0, Math.min(parallelism, completions - js.succeeded));
      if (js.active > want) {
        const extra = activePods(js).slice(want);
        for (const ps of extra) this.deletePod(ps, 'more pods than the Job needs');
      } else if (js.active < want) {
        if (now >= js.backoffUntil) {
          for (let n = js.active; n < want; n++) this.createPod(js);
        } else if (!js.backoffTimer) {
          js.backoffTimer = this.timer(js.backoffUntil, this.backoffOver, js);
        }
      }
    }
    this.publishJob(js);
  }

  private finishJob(js: JobState, type: JobCondition['type'], reason?: string, message?: string): void {
    const condition: JobCondition = { type, status: 'True' };
    if (reason) condition.reason = reason;
    if (message) condition.message = message;
    condition.lastTransitionTime = iso(this.clock.now());
    js.condition = Object.freeze(condition);
    this.cancel(js.deadlineTimer);
    this.cancel(js.backoffTimer);
    js.deadlineTimer = js.backoffTimer = undefined;
    const leftovers = activePods(js);
    // Like the 1.20 controller, a failed Job counts the pods it kills as failed.
    if (type === 'Failed') js.failed += leftovers.length;
    for (const ps of leftovers) this.deletePod(ps, reason ?? 'Job complete');
    if (type === 'Complete') this.log(js, 'job', js.name, 'complete');
    else this.log(js, 'job', js.name, 'failed:', reason ?? '', `(${message ?? ''})`);
  }

  /**
   * Writes the Job's status and emits MODIFIED if it changed. The status is rebuilt rather than
   * edited in place: zero counts are omitted (as the API server's omitempty does) without `delete`,
   * which would push every Job's status into slow dictionary mode.
   */
  private publishJob(js: JobState): void {
    const old = js.job.status ?? {};
    const startTime = js.startMs === undefined ? undefined : iso(js.startMs);
    if (
      old.startTime === startTime &&
      (old.active ?? 0) === js.active &&
      (old.succeeded ?? 0) === js.succeeded &&
      (old.failed ?? 0) === js.failed &&
      (old.conditions?.length ?? 0) === (js.condition ? 1 : 0)
    ) {
      return;
    }
    const next: NonNullable<K8sJob['status']> = {};
    if (startTime !== undefined) next.startTime = startTime;
    if (js.condition?.type === 'Complete') next.completionTime = js.condition.lastTransitionTime as string;
    if (js.active > 0) next.active = js.active;
    if (js.succeeded > 0) next.succeeded = js.succeeded;
    if (js.failed > 0) next.failed = js.failed;
    if (js.condition) next.conditions = Object.freeze([js.condition]) as JobCondition[];
    js.job = kubeObject(js.job, this.bumped(js.job.metadata), js.job.spec, Object.freeze(next));
    this.emit({ kind: 'Job', type: 'MODIFIED', object: js.job });
  }

  private createPod(js: JobState): void {
    const tmpl = js.job.spec.template;
    let name: string;
    do name = [js.name, randomSuffix()].join('-');
    while (this.podStore.has(name));
    const labels: Record<string, string> = {};
    const tmplLabels = tmpl.metadata?.labels ?? {};
    for (const key in tmplLabels) labels[key] = tmplLabels[key] as string;
    labels['controller-uid'] = js.uid;
    labels['job-name'] = js.name;
    const metadata = this.stamped(
      {
        name,
        labels: Object.freeze(labels),
        // Shared with the template (immutable, like the pod's spec and status).
        annotations: tmpl.metadata?.annotations ?? EMPTY_MAP,
        ownerReferences: Object.freeze([
          Object.freeze({ apiVersion: 'batch/v1', kind: 'Job', name: js.name, uid: js.uid, controller: true, blockOwnerDeletion: true }),
        ]) as ObjectMeta['ownerReferences'],
      },
      true,
    );
    const pod: K8sPod = Object.freeze({ metadata, spec: js.podSpec, status: POD_PENDING });
    // Every field is set here, so all PodStates (and JobStates) share one hidden class, fields in-object.
    const ps: PodState = {
      pod,
      job: js,
      seq: this.podSeq++,
      phase: 'pending',
      node: undefined,
      timer: undefined,
      outcome: undefined,
      startedAt: undefined,
      watched: labels[LABEL_JOB_ID] !== undefined,
    };
    this.podStore.set(name, ps);
    js.pods = appended(js.pods, ps);
    js.active++;
    let group = this.pending.get(js.groupKey);
    if (!group) this.pending.set(js.groupKey, (group = new PendingGroup(js.groupKey)));
    group.items.push(ps);
    this.schedulerDirty = true;
    this.emitPod(ps, 'ADDED');
  }

  /** Deletes a pod at once (no grace period): its node resources are free immediately. */
  private deletePod(ps: PodState, why: string): void {
    const name = ps.pod.metadata.name;
    if (this.podStore.get(name) !== ps) return;
    const wasRunning = ps.phase === 'running' || ps.phase === 'bound';
    const js = ps.job;
    this.release(ps);
    if (ps.phase !== 'done') js.active--;
    ps.phase = 'done';
    this.cancel(ps.timer);
    ps.timer = undefined;
    this.podStore.delete(name);
    const i = js.pods.indexOf(ps);
    if (i >= 0) js.pods.splice(i, 1);
    ps.pod = withFields(ps.pod, { metadata: storedMeta(ps.pod.metadata, { deletionTimestamp: iso(this.clock.now()) }) });
    if (wasRunning) this.log(js, 'pod', name, 'killed:', why);
    this.emitPod(ps, 'DELETED');
    if (!js.condition && !js.deleted) this.dirtyJobs.add(js);
  }

  private removeJob(js: JobState): void {
    js.deleted = true;
    this.cancel(js.deadlineTimer);
    this.cancel(js.backoffTimer);
    js.deadlineTimer = js.backoffTimer = undefined;
    this.jobStore.delete(js.name);
    this.dirtyJobs.delete(js);
    for (const uid of ownerUidsOf(js.job)) {
      const owned = this.jobsByOwnerUid.get(uid)?.filter((o) => o !== js);
      if (owned?.length) this.jobsByOwnerUid.set(uid, owned);
      else this.jobsByOwnerUid.delete(uid);
    }
    this.emit({ kind: 'Job', type: 'DELETED', object: js.job });
    for (const ps of [...js.pods]) this.deletePod(ps, ['Job', js.name, 'deleted'].join(' '));
  }

  // ---------------------------------------------------------------- scheduler

  /**
   * One scheduling pass over the waiting pods, oldest first. Pods of the same shape are grouped:
   * once the oldest of a group does not fit, none of the others can in this pass, so a long queue
   * of identical pods costs one placement attempt rather than one per pod.
   */
  private schedulePending(): void {
    // One group of waiting pods (the common case: jobs of one shape) needs no ordering across groups.
    if (this.pending.size === 1) {
      for (const [key, group] of this.pending) {
        let ps = group.front();
        if (!ps) this.pending.delete(key);
        while (ps && this.scheduleFront(group, ps)) ps = group.front();
      }
      return;
    }
    const heap = new MinHeap<[PendingGroup, PodState]>((a, b) => a[1].seq < b[1].seq);
    for (const [key, group] of this.pending) {
      const front = group.front();
      if (front) heap.push([group, front]);
      else this.pending.delete(key);
    }
    for (let top = heap.pop(); top; top = heap.pop()) {
      const [group, ps] = top;
      if (this.scheduleFront(group, ps)) {
        const next = group.front();
        if (next) heap.push([group, next]);
      }
    }
  }

  /**
   * One scheduling attempt for a group's oldest waiting pod. True when it was bound (the group's next
   * pod may fit too); false when it does not fit, and then neither does any other pod of the group.
   */
  private scheduleFront(group: PendingGroup, ps: PodState): boolean {
    let message: string;
    if (group.failedGen === this.capacityGen) {
      // Nothing placement looks at changed since this group's front pod failed: neither would this one.
      message = group.failedMessage;
    } else {
      const placement = placePod(this.nodeStore.values(), ps.job.req, ps.job.selector);
      if (placement.node) {
        group.head++;
        this.bind(ps, placement.node);
        return true;
      }
      // Every pod waiting for the same reason shares one message string (and one status object).
      message = placement.message === this.unschedulableStatus.message ? this.unschedulableStatus.message : placement.message;
      group.failedGen = this.capacityGen;
      group.failedMessage = message;
    }
    this.markUnschedulable(ps, message);
    for (let i = Math.max(group.head + 1, group.attemptedUpTo); i < group.items.length; i++) {
      const other = group.items[i] as PodState;
      if (other.phase === 'pending') this.markUnschedulable(other, message);
    }
    group.attemptedUpTo = group.items.length;
    return false;
  }

  private markUnschedulable(ps: PodState, message: string): void {
    if (ps.pod.status?.message === message) return;
    const first = ps.pod.status?.reason !== 'Unschedulable';
    if (this.unschedulableStatus.message !== message) {
      this.unschedulableStatus = Object.freeze({ phase: 'Pending', reason: 'Unschedulable', message });
    }
    ps.pod = withFields(ps.pod, { metadata: this.bumped(ps.pod.metadata), status: this.unschedulableStatus });
    if (first) this.log(ps.job, 'pod', ps.pod.metadata.name, 'unschedulable:', message);
    this.emitPod(ps, 'MODIFIED');
  }

  private bind(ps: PodState, ns: NodeState): void {
    const req = ps.job.req;
    ns.allocated.cpuMilli += req.cpuMilli;
    ns.allocated.memoryMb += req.memoryMb;
    ns.allocated.gpu += req.gpu;
    ns.allocated.pods += 1;
    this.capacityGen++;
    ps.node = ns;
    ps.phase = 'bound';
    const containers = ps.pod.spec.containers;
    ps.pod = withFields(ps.pod, {
      metadata: this.bumped(ps.pod.metadata),
      spec: Object.freeze({ containers, nodeName: ns.name }),
      status: deepFreeze({
        phase: 'Pending',
        containerStatuses: containers.map((c) => ({ name: c.name, state: { waiting: { reason: 'ContainerCreating' } }, restartCount: 0 })),
      }),
    });
    this.log(ps.job, 'pod', ps.pod.metadata.name, 'scheduled on node', ns.name);
    this.emitPod(ps, 'MODIFIED');
    ps.timer = this.timer(this.clock.now() + this.startDelayMs, this.startPodFn, ps);
  }

  /** Gives a pod's node resources back; waiting pods get another chance. */
  private release(ps: PodState): void {
    const ns = ps.node;
    if (!ns || (ps.phase !== 'bound' && ps.phase !== 'running')) return;
    const req = ps.job.req;
    ns.allocated.cpuMilli -= req.cpuMilli;
    ns.allocated.memoryMb -= req.memoryMb;
    ns.allocated.gpu -= req.gpu;
    ns.allocated.pods -= 1;
    this.capacityGen++;
    this.schedulerDirty = true;
  }

  // ---------------------------------------------------------------- kubelet

  private startPod(ps: PodState): void {
    if (ps.phase !== 'bound') return;
    const js = ps.job;
    const w = js.workload;
    let prior = 0;
    if (w.failAttempts > 0) {
      prior = this.startsByRunwayJob.get(js.runwayJobId) ?? 0;
      this.startsByRunwayJob.set(js.runwayJobId, prior + 1);
    }
    ps.outcome = outcomeFor(w, prior);
    ps.phase = 'running';
    const now = this.clock.now();
    const startedAt = iso(now);
    ps.startedAt = startedAt;
    ps.pod = withFields(ps.pod, {
      metadata: this.bumped(ps.pod.metadata),
      status: deepFreeze({
        phase: 'Running',
        startTime: startedAt,
        containerStatuses: ps.pod.spec.containers.map((c) => ({ name: c.name, state: { running: { startedAt } }, restartCount: 0 })),
      }),
    });
    this.log(js, 'pod', ps.pod.metadata.name, 'started', `(image ${ps.pod.spec.containers[0]?.image ?? '?'})`);
    this.emitPod(ps, 'MODIFIED');
    ps.timer = this.timer(now + w.durationS * 1000, this.finishPodFn, ps);
  }

  private finishPod(ps: PodState): void {
    if (ps.phase !== 'running' || !ps.outcome) return;
    const { phase, reason, exitCode } = ps.outcome;
    const js = ps.job;
    const now = this.clock.now();
    this.release(ps);
    ps.phase = 'done';
    ps.timer = undefined;
    const finishedAt = iso(now);
    const terminated = { reason, exitCode, startedAt: ps.startedAt ?? finishedAt, finishedAt };
    ps.pod = withFields(ps.pod, {
      metadata: this.bumped(ps.pod.metadata),
      status: deepFreeze({
        phase,
        startTime: ps.startedAt ?? finishedAt,
        containerStatuses: ps.pod.spec.containers.map((c) => ({
          name: c.name,
          state: { terminated: { reason, exitCode, startedAt: terminated.startedAt, finishedAt } },
          restartCount: 0,
        })),
      }),
    });
    this.log(js, 'pod', ps.pod.metadata.name, 'exited with code', String(exitCode), `(${reason})`);
    this.emitPod(ps, 'MODIFIED');
    js.active--;
    if (phase === 'Succeeded') {
      js.succeeded++;
    } else {
      js.failed++;
      js.backoffUntil = now + Math.min(JOB_BACKOFF_MAX_MS, JOB_BACKOFF_BASE_MS * 2 ** (js.failed - 1));
    }
    this.dirtyJobs.add(js);
  }

  private emitPod(ps: PodState, type: 'ADDED' | 'MODIFIED' | 'DELETED'): void {
    if (ps.watched) this.emit({ kind: 'Pod', type, object: ps.pod });
  }
}

interface SimTimer {
  at: number;
  seq: number;
  fn: (arg: unknown) => void;
  arg: unknown;
  /** Fired or cancelled. */
  done: boolean;
}

function callIt(fn: () => void): void {
  fn();
}

const EMPTY_JOB_STATUS: NonNullable<K8sJob['status']> = Object.freeze({});
const EMPTY_MAP: Record<string, string> = Object.freeze({});
const POD_PENDING: NonNullable<K8sPod['status']> = Object.freeze({ phase: 'Pending' });

/**
 * `list` with `item` appended, for arrays that usually hold one item (a Job's pods, its log lines):
 * V8 gives an empty array room for 17 items on its first push (~150 bytes, kept for every stored Job),
 * so the first item makes a new array of exactly one instead.
 */
function appended<T>(list: T[], item: T): T[] {
  if (list.length === 0) return [item];
  list.push(item);
  return list;
}

/**
 * An AIJob or a Job as the sim stores it: a literal with the fields of the type (as the API server
 * prunes what its schema does not know), so that they sit in the object. Built key by key, more than
 * four fields spill into a separate array, and each version of each object would pay for it.
 */
function kubeObject<T extends AIJob | K8sJob>(like: T, metadata: ObjectMeta, spec: T['spec'], status: T['status']): T {
  return Object.freeze({ apiVersion: like.apiVersion, kind: like.kind, metadata, spec, status }) as T;
}

/**
 * Metadata as the sim stores it: `meta` with `changes` applied, every field of ObjectMeta in the API
 * server's order and in the object (see kubeObject). Fields that are not set stay undefined, which
 * JSON leaves out as the API server does.
 */
function storedMeta(meta: ObjectMeta, changes: Partial<ObjectMeta>): ObjectMeta {
  return Object.freeze({
    name: meta.name,
    namespace: 'namespace' in changes ? changes.namespace : meta.namespace,
    uid: 'uid' in changes ? changes.uid : meta.uid,
    resourceVersion: 'resourceVersion' in changes ? changes.resourceVersion : meta.resourceVersion,
    generation: 'generation' in changes ? changes.generation : meta.generation,
    creationTimestamp: 'creationTimestamp' in changes ? changes.creationTimestamp : meta.creationTimestamp,
    deletionTimestamp: 'deletionTimestamp' in changes ? changes.deletionTimestamp : meta.deletionTimestamp,
    labels: 'labels' in changes ? changes.labels : meta.labels,
    annotations: 'annotations' in changes ? changes.annotations : meta.annotations,
    ownerReferences: 'ownerReferences' in changes ? changes.ownerReferences : meta.ownerReferences,
  });
}

/** The uids of a Job's owners (read from its metadata when needed, not kept per Job). */
function ownerUidsOf(job: K8sJob): string[] {
  return (job.metadata.ownerReferences ?? []).map((o) => o.uid);
}

function activePods(js: JobState): PodState[] {
  return js.pods.filter((ps) => ps.phase !== 'done');
}

function randomSuffix(): string {
  const n = NAME_ALPHABET.length;
  return String.fromCharCode(
    NAME_ALPHABET.charCodeAt(Math.floor(Math.random() * n)),
    NAME_ALPHABET.charCodeAt(Math.floor(Math.random() * n)),
    NAME_ALPHABET.charCodeAt(Math.floor(Math.random() * n)),
    NAME_ALPHABET.charCodeAt(Math.floor(Math.random() * n)),
    NAME_ALPHABET.charCodeAt(Math.floor(Math.random() * n)),
  );
}

