/**
 * The real cluster adapter: AIJobs are custom resources (the durable store), each attempt is a
 * batch/v1 Job owned by its AIJob, and the caches are fed by informers (list + watch, resumed from
 * the last resourceVersion, restarted with backoff when a watch breaks).
 */
import { readFileSync } from 'node:fs';
import * as https from 'node:https';
import {
  ApiextensionsV1Api,
  BatchV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  ListWatch,
  PatchStrategy,
  ServerConfiguration,
  createConfiguration,
  setHeaderOptions,
  Watch,
  type ApiConstructor,
  type ApiType,
  type Informer,
  type KubernetesObject,
  type KubernetesListObject,
  type SecurityAuthentication,
  type V1Job,
} from '@kubernetes/client-node';
import type { K8sJob } from '../../core/k8s.js';
import { LABEL_JOB_ID } from '../../core/k8s.js';
import { isPolicyKind, POLICY_KINDS, type PolicyKind, type PolicyResource } from '../../core/policy.js';
import type { AIJobStatus } from '../../core/status.js';
import { ClusterError, type AIJob, type ClusterEvent, type ClusterPort, type ClusterWatcher } from '../types.js';
import { runwayCrds } from './crds.js';
import { toClusterError } from './errors.js';
import { toWire } from './wire.js';

export const GROUP = 'runway.dev';
export const VERSION = 'v1alpha1';
export const AIJOB_PLURAL = 'aijobs';
/** The resource (plural) of each policy kind; all three are cluster-scoped. */
export const POLICY_PLURALS: Record<PolicyKind, string> = {
  AIJobQueue: 'aijobqueues',
  ComputeCluster: 'computeclusters',
  TenantPolicy: 'tenantpolicies',
};
/** Attempts of a policy write that races another writer (409 Conflict on replace, or a delete between calls). */
const POLICY_WRITE_ATTEMPTS = 3;

/** Idle pooled connections are closed after this long (well before an API server would drop them). */
const POOL_IDLE_MS = 30_000;

/**
 * One keep-alive connection pool for API calls (not watches: each watch has its own connection).
 * client-node's own `makeApiClient` authenticates every request with a new https.Agent, that is a new
 * TCP connection and TLS handshake per API call, which costs the API server more CPU than a create.
 */
export class KubeApiPool {
  private agent: https.Agent | undefined;
  private tls: unknown[] = [];

  /** The pooled agent for a request that client-node prepared with `fresh` (same TLS options). */
  agentFor(fresh: https.Agent): https.Agent {
    const o = fresh.options;
    const tls = [o.ca, o.cert, o.key, o.pfx, o.passphrase, o.rejectUnauthorized, o.servername];
    if (this.agent && tls.every((v, i) => sameOption(v, this.tls[i]))) return this.agent;
    // New credentials (e.g. a rotated client certificate): new connections from now on; requests
    // already on the old pool finish first.
    const old = this.agent;
    if (old) setTimeout(() => old.destroy(), 60_000).unref();
    this.agent = new https.Agent({ ...o, keepAlive: true, scheduling: 'lifo', timeout: POOL_IDLE_MS });
    this.tls = tls;
    return this.agent;
  }

  /** Open pooled connections (busy and idle). */
  sockets(): number {
    if (!this.agent) return 0;
    const count = (m: NodeJS.ReadOnlyDict<unknown[]>) => Object.values(m).reduce((n, list) => n + (list?.length ?? 0), 0);
    return count(this.agent.sockets) + count(this.agent.freeSockets);
  }

  /** Closes every pooled connection; a later request opens new ones. */
  destroy(): void {
    this.agent?.destroy();
    this.agent = undefined;
  }
}

/**
 * A Watch that never leaves a connection open once its source is stopped. client-node's informer can
 * open a watch after stop(): stop() aborts only the request it holds, and a (re)start that is under
 * way (listing, or waiting for the watch's response headers) goes on to open the next watch without
 * checking again. This checks before connecting and once the response arrives.
 */
class StoppableWatch extends Watch {
  constructor(
    config: KubeConfig,
    private readonly stopped: () => boolean,
  ) {
    super(config);
  }

  override async watch(...args: Parameters<Watch['watch']>): Promise<AbortController> {
    const idle = new AbortController();
    if (this.stopped()) {
      idle.abort();
      return idle;
    }
    const controller = await super.watch(...args);
    if (this.stopped()) controller.abort(); // the informer's done handler sees it stopped and ends there
    return controller;
  }
}

function sameOption(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return a.equals(b);
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => sameOption(x, b[i]));
  return false;
}

/**
 * An API client for kc whose requests go through `pool`. Authentication (bearer tokens, refreshed
 * credentials) is still applied per request by the KubeConfig; only the connection is pooled. The
 * bench's raw client builds its clients with this too, so both sides of that comparison pay the same
 * transport.
 */
/**
 * The same configuration with the clusters' CA files read once into caData. client-node reads a
 * caFile from disk on every request (a synchronous read, ~0.1 ms an API call); in a pod the CA is a
 * mounted file that does not change while Runway runs. Users (tokens, token files, client
 * certificates) are left as they are: those may rotate and are re-read as client-node does.
 */
export function withInlineCa(kc: KubeConfig): KubeConfig {
  if (!kc.clusters.some((c) => c.caFile)) return kc;
  const inlined = new KubeConfig();
  inlined.loadFromOptions({
    clusters: kc.clusters.map((c) => (c.caFile ? { ...c, caData: readFileSync(c.caFile).toString('base64'), caFile: undefined } : c)),
    users: kc.users,
    contexts: kc.contexts,
    currentContext: kc.getCurrentContext(),
  });
  return inlined;
}

export function kubeApiClient<T extends ApiType>(config: KubeConfig, api: ApiConstructor<T>, pool = new KubeApiPool()): T {
  const kc = withInlineCa(config);
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster');
  const auth: SecurityAuthentication = {
    getName: () => 'runway-pooled',
    async applySecurityAuthentication(context) {
      await kc.applySecurityAuthentication(context);
      const fresh = context.getAgent();
      if (fresh instanceof https.Agent) context.setAgent(pool.agentFor(fresh));
    },
  };
  return new api(createConfiguration({ baseServer: new ServerConfiguration(cluster.server, {}), authMethods: { default: auth } }));
}

export interface KubeClusterOptions {
  namespace: string;
  /** Informer restart backoff bounds. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

type Kind = ClusterEvent['kind'];

interface Source {
  kind: Kind;
  informer: Informer<KubernetesObject>;
  backoffMs: number;
  /** A restart waiting for its backoff. */
  timer?: NodeJS.Timeout;
  /** Listed, and its watch running; false from an error until the next successful (re)start. */
  healthy: boolean;
  stopped: boolean;
  errors: number;
  lastError?: ClusterError;
  watcher: ClusterWatcher;
}

export class KubeCluster implements ClusterPort {
  readonly name = 'kube';
  readonly namespace: string;
  readonly kubeConfig: KubeConfig;
  private readonly batch: BatchV1Api;
  private readonly core: CoreV1Api;
  private readonly custom: CustomObjectsApi;
  private readonly minBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly sources = new Set<Source>();
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Keep-alive connections for API calls; watches have their own. */
  readonly pool = new KubeApiPool();

  constructor(kubeConfig: KubeConfig, opts: KubeClusterOptions) {
    this.kubeConfig = kubeConfig;
    this.namespace = opts.namespace;
    this.minBackoffMs = opts.minBackoffMs ?? 500;
    this.maxBackoffMs = opts.maxBackoffMs ?? 30_000;
    this.batch = kubeApiClient(kubeConfig, BatchV1Api, this.pool);
    this.core = kubeApiClient(kubeConfig, CoreV1Api, this.pool);
    this.custom = kubeApiClient(kubeConfig, CustomObjectsApi, this.pool);
  }

  /** In-cluster configuration when running in a pod, else KUBECONFIG / ~/.kube/config. */
  static loadConfig(): KubeConfig {
    const kc = new KubeConfig();
    if (process.env.KUBERNETES_SERVICE_HOST) kc.loadFromCluster();
    else kc.loadFromDefault();
    return kc;
  }

  now(): number {
    return Date.now();
  }

  setTimer(atMs: number, fn: () => void): () => void {
    const handle = setTimeout(() => {
      this.timers.delete(handle);
      fn();
    }, Math.max(0, atMs - Date.now()));
    handle.unref();
    this.timers.add(handle);
    return () => {
      clearTimeout(handle);
      this.timers.delete(handle);
    };
  }

  private aijobParams() {
    return { group: GROUP, version: VERSION, namespace: this.namespace, plural: AIJOB_PLURAL };
  }

  async createAIJob(job: AIJob): Promise<AIJob> {
    try {
      const created = (await this.custom.createNamespacedCustomObject({ ...this.aijobParams(), body: job })) as AIJob;
      return toWire(created);
    } catch (err) {
      throw toClusterError(err, `creating AIJob ${job.metadata.name}`);
    }
  }

  async updateAIJobStatus(name: string, status: AIJobStatus, resourceVersion?: string): Promise<AIJob> {
    try {
      // JSON Patch "add" on /status replaces it whole (a merge patch would keep stale fields). A patched
      // object that carries a resourceVersion makes the API server check it: 409 Conflict when stale.
      const body: object[] = [{ op: 'add', path: '/status', value: status }];
      if (resourceVersion !== undefined) body.unshift({ op: 'replace', path: '/metadata/resourceVersion', value: resourceVersion });
      const updated = (await this.custom.patchNamespacedCustomObjectStatus(
        { ...this.aijobParams(), name, body },
        setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
      )) as AIJob;
      return toWire(updated);
    } catch (err) {
      throw toClusterError(err, `updating the status of AIJob ${name}`);
    }
  }

  async deleteAIJob(name: string): Promise<void> {
    try {
      await this.custom.deleteNamespacedCustomObject({ ...this.aijobParams(), name, propagationPolicy: 'Background' });
    } catch (err) {
      const e = toClusterError(err, `deleting AIJob ${name}`);
      if (e.kind !== 'NotFound') throw e;
    }
  }

  async createJob(job: K8sJob): Promise<'created' | 'exists'> {
    try {
      await this.batch.createNamespacedJob({ namespace: this.namespace, body: job as V1Job });
      return 'created';
    } catch (err) {
      const e = toClusterError(err, `creating Job ${job.metadata.name}`);
      if (e.kind === 'AlreadyExists') return 'exists';
      throw e;
    }
  }

  async deleteJob(name: string): Promise<void> {
    try {
      await this.batch.deleteNamespacedJob({ name, namespace: this.namespace, propagationPolicy: 'Background' });
    } catch (err) {
      const e = toClusterError(err, `deleting Job ${name}`);
      if (e.kind !== 'NotFound') throw e;
    }
  }

  private policyParams(kind: PolicyKind) {
    return { group: GROUP, version: VERSION, plural: POLICY_PLURALS[kind] };
  }

  /**
   * Create, else replace: one call for a new object. An existing one is read and replaced with its
   * resourceVersion (the API server refuses a stale one with 409 Conflict: then read again and retry),
   * so a concurrent writer's labels or status are never overwritten with an old copy.
   */
  async putPolicy(obj: PolicyResource): Promise<PolicyResource> {
    const { kind } = obj;
    const name = obj.metadata.name;
    const params = this.policyParams(kind);
    for (let attempt = 1; ; attempt++) {
      try {
        return toWire((await this.custom.createClusterCustomObject({ ...params, body: obj })) as PolicyResource);
      } catch (err) {
        const e = toClusterError(err, `creating ${kind} ${name}`);
        if (e.kind !== 'AlreadyExists') throw e;
      }
      let current: PolicyResource;
      try {
        current = toWire((await this.custom.getClusterCustomObject({ ...params, name })) as PolicyResource);
      } catch (err) {
        const e = toClusterError(err, `reading ${kind} ${name}`);
        if (e.kind === 'NotFound' && attempt < POLICY_WRITE_ATTEMPTS) continue; // deleted meanwhile: create it
        throw e;
      }
      const metadata = { ...current.metadata };
      if (obj.metadata.labels !== undefined) metadata.labels = obj.metadata.labels;
      if (obj.metadata.annotations !== undefined) metadata.annotations = obj.metadata.annotations;
      try {
        const body = { ...current, metadata, spec: obj.spec ?? {} };
        return toWire((await this.custom.replaceClusterCustomObject({ ...params, name, body })) as PolicyResource);
      } catch (err) {
        const e = toClusterError(err, `replacing ${kind} ${name}`);
        if ((e.kind === 'Conflict' || e.kind === 'NotFound') && attempt < POLICY_WRITE_ATTEMPTS) continue;
        throw e;
      }
    }
  }

  async deletePolicy(kind: PolicyKind, name: string): Promise<boolean> {
    try {
      await this.custom.deleteClusterCustomObject({ ...this.policyParams(kind), name });
      return true;
    } catch (err) {
      const e = toClusterError(err, `deleting ${kind} ${name}`);
      if (e.kind === 'NotFound') return false;
      throw e;
    }
  }

  /**
   * As updateAIJobStatus, on the status subresource of a cluster-scoped policy object: a JSON Patch
   * "add" of /status replaces it whole, checked against `resourceVersion` when given. Needs only the
   * `patch` verb on <plural>/status.
   */
  async updatePolicyStatus(kind: PolicyKind, name: string, status: Record<string, unknown>, resourceVersion?: string): Promise<PolicyResource> {
    try {
      const body: object[] = [{ op: 'add', path: '/status', value: status }];
      if (resourceVersion !== undefined) body.unshift({ op: 'replace', path: '/metadata/resourceVersion', value: resourceVersion });
      const updated = (await this.custom.patchClusterCustomObjectStatus(
        { ...this.policyParams(kind), name, body },
        setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
      )) as PolicyResource;
      return toWire(updated);
    } catch (err) {
      throw toClusterError(err, `updating the status of ${kind} ${name}`);
    }
  }

  /**
   * Resolves when the API server answers, serves every runway.dev CRD, and every watch of this adapter
   * is running; otherwise rejects with a message saying which part is missing. A watch waiting for its
   * backoff is restarted at once once the API answers (e.g. when the CRDs have just been installed).
   */
  async ping(): Promise<void> {
    let resources: string[];
    try {
      const list = await this.custom.getAPIResources({ group: GROUP, version: VERSION });
      resources = list.resources.map((r) => r.name);
    } catch (err) {
      const e = toClusterError(err, 'discovering runway.dev/v1alpha1');
      if (e.kind === 'NotFound') throw new ClusterError('Unavailable', crdsMissingMessage(missingCrds([])));
      throw e;
    }
    const missing = missingCrds(resources);
    if (missing.length > 0) throw new ClusterError('Unavailable', crdsMissingMessage(missing));
    const down = [...this.sources].filter((s) => !s.healthy && !s.stopped);
    if (down.length > 0) {
      for (const s of down) this.restartNow(s);
      const why = down.map((s) => `${s.kind}s${s.lastError ? ` (${s.lastError.message})` : ''}`).join(', ');
      throw new ClusterError('Unavailable', `the watch is not running yet on ${why}`);
    }
  }

  async readLogs(jobName: string, tailLines: number): Promise<string> {
    try {
      const pods = await this.core.listNamespacedPod({ namespace: this.namespace, labelSelector: `job-name=${jobName}` });
      const latest = [...pods.items].sort((a, b) =>
        String(toWire(a.metadata?.creationTimestamp) ?? '').localeCompare(String(toWire(b.metadata?.creationTimestamp) ?? '')),
      ).pop();
      if (!latest?.metadata?.name) throw new ClusterError('NotFound', `no pods for Job ${jobName}`);
      const text = await this.core.readNamespacedPodLog({ name: latest.metadata.name, namespace: this.namespace, tailLines });
      return String(text);
    } catch (err) {
      throw toClusterError(err, `reading logs of Job ${jobName}`);
    }
  }

  /** Creates or updates the runway.dev CRDs and waits until the API server serves them. */
  async installCrds(timeoutMs = 30_000): Promise<void> {
    const api = this.kubeConfig.makeApiClient(ApiextensionsV1Api);
    for (const crd of runwayCrds() as Array<{ metadata: { name: string } }>) {
      try {
        await api.createCustomResourceDefinition({ body: crd as never });
      } catch (err) {
        const e = toClusterError(err, `creating CRD ${crd.metadata.name}`);
        if (e.kind !== 'AlreadyExists') throw e;
        const current = await api.readCustomResourceDefinition({ name: crd.metadata.name });
        await api.replaceCustomResourceDefinition({
          name: crd.metadata.name,
          body: { ...(crd as object), metadata: { ...crd.metadata, resourceVersion: current.metadata?.resourceVersion } } as never,
        });
      }
    }
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await this.ping();
        return;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  /**
   * Lists and watches Nodes, Jobs, Pods, the policy kinds (AIJobQueues, ComputeClusters,
   * TenantPolicies) and AIJobs, in that order, and calls onSynced once each has been listed. A watch that breaks is restarted with backoff, resuming from its last resourceVersion
   * (the informer re-lists when that is too old). Missing runway.dev CRDs do not stop Runway from
   * starting: there can be no AIJobs (or policies) then, so those caches are synced empty and their
   * informers keep retrying until the CRDs appear (ping() reports them missing meanwhile). Any other failure of the
   * first list rejects.
   */
  async watch(watcher: ClusterWatcher): Promise<() => void> {
    const ns = this.namespace;
    const sel = LABEL_JOB_ID; // "has the label": only Runway's Jobs and pods
    type List = KubernetesListObject<KubernetesObject>;
    const specs: Array<{ kind: Kind; path: string; list: () => Promise<List>; label?: string }> = [
      {
        kind: 'Node',
        path: '/api/v1/nodes',
        list: () => this.core.listNode() as Promise<List>,
      },
      {
        kind: 'Job',
        path: `/apis/batch/v1/namespaces/${ns}/jobs`,
        list: () => this.batch.listNamespacedJob({ namespace: ns, labelSelector: sel }) as Promise<List>,
        label: sel,
      },
      {
        kind: 'Pod',
        path: `/api/v1/namespaces/${ns}/pods`,
        list: () => this.core.listNamespacedPod({ namespace: ns, labelSelector: sel }) as Promise<List>,
        label: sel,
      },
      // Policies before AIJobs: jobs are synced knowing their queues.
      ...POLICY_KINDS.map((kind) => ({
        kind,
        path: `/apis/${GROUP}/${VERSION}/${POLICY_PLURALS[kind]}`,
        list: () => this.custom.listClusterCustomObject(this.policyParams(kind)) as Promise<List>,
      })),
      // AIJobs last: by the time they are synced, the Jobs and pods they refer to are in the caches.
      {
        kind: 'AIJob',
        path: `/apis/${GROUP}/${VERSION}/namespaces/${ns}/${AIJOB_PLURAL}`,
        list: () => this.custom.listNamespacedCustomObject(this.aijobParams()) as Promise<List>,
      },
    ];
    const mine: Source[] = [];
    for (const spec of specs) {
      // Typed list results carry Date objects: convert them once, here, so that the informer's cache
      // and every event hold the wire shape. Watch events are parsed JSON already (no copy needed).
      const list = async (): Promise<List> => {
        const l = await spec.list();
        return { ...l, items: l.items.map((item) => toWire(item)) };
      };
      const watch = new StoppableWatch(this.kubeConfig, () => source.stopped);
      const informer = new ListWatch<KubernetesObject>(spec.path, watch, list, false, spec.label);
      const source: Source = { kind: spec.kind, informer, backoffMs: this.minBackoffMs, healthy: false, stopped: false, errors: 0, watcher };
      const emit = (type: 'ADDED' | 'MODIFIED' | 'DELETED') => (obj: KubernetesObject) => {
        if (source.stopped) return;
        watcher.onEvent({ kind: spec.kind, type, object: obj } as ClusterEvent);
      };
      informer.on('add', emit('ADDED'));
      informer.on('update', emit('MODIFIED'));
      informer.on('delete', emit('DELETED'));
      informer.on('error', (err: unknown) => this.onSourceError(source, err));
      mine.push(source);
      this.sources.add(source);
    }
    const stop = () => {
      for (const s of mine) this.stopSource(s);
    };
    for (const source of mine) {
      if (await this.startSource(source)) continue;
      const e = source.lastError ?? new ClusterError('Unavailable', `listing ${source.kind}s failed`);
      if ((source.kind === 'AIJob' || isPolicyKind(source.kind)) && e.kind === 'NotFound') continue; // CRD missing: retried with backoff
      stop();
      throw toClusterError(e, 'listing the cluster');
    }
    watcher.onSynced();
    return stop;
  }

  /** (Re)starts a source's informer; true when it listed and its watch is running. */
  private async startSource(source: Source): Promise<boolean> {
    const errorsBefore = source.errors;
    try {
      await source.informer.start();
    } catch (err) {
      // A failure the informer throws instead of reporting (e.g. while preparing the request).
      if (source.errors === errorsBefore) this.onSourceError(source, err);
    }
    if (source.stopped || source.errors !== errorsBefore) return false;
    source.healthy = true;
    source.backoffMs = this.minBackoffMs;
    return true;
  }

  /** The informer does not restart itself after an error: restart it after a backoff. */
  private onSourceError(source: Source, err: unknown): void {
    source.healthy = false;
    source.errors++;
    if (source.stopped) return;
    const e = toClusterError(err, `watching ${source.kind}s`);
    source.lastError = e;
    source.watcher.onError?.(e);
    if (source.timer) return; // a restart is already due
    source.timer = setTimeout(() => {
      source.timer = undefined;
      void this.startSource(source);
    }, source.backoffMs);
    source.timer.unref();
    source.backoffMs = Math.min(this.maxBackoffMs, source.backoffMs * 2);
  }

  /** Cuts a pending backoff short (the API server answers again). */
  private restartNow(source: Source): void {
    if (!source.timer || source.stopped) return;
    clearTimeout(source.timer);
    source.timer = undefined;
    void this.startSource(source);
  }

  private stopSource(source: Source): void {
    source.stopped = true;
    source.healthy = false;
    if (source.timer) clearTimeout(source.timer);
    source.timer = undefined;
    void source.informer.stop();
    this.sources.delete(source);
  }

  async close(): Promise<void> {
    for (const s of [...this.sources]) this.stopSource(s);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.pool.destroy();
  }
}

function crdsMissingMessage(missing: string[]): string {
  return `CRDs missing: ${missing.join(', ')} (kubectl apply -k deploy/crds, or RUNWAY_INSTALL_CRDS=true)`;
}

function missingCrds(served: string[]): string[] {
  return ['aijobs', 'aijobqueues', 'computeclusters', 'tenantpolicies'].filter((r) => !served.includes(r)).map((r) => `${r}.${GROUP}`);
}
