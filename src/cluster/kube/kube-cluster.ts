/**
 * The real cluster adapter: AIJobs are custom resources (the durable store), each attempt is a
 * batch/v1 Job owned by its AIJob, and the caches are fed by informers (list + watch, resumed from
 * the last resourceVersion, restarted with backoff when a watch breaks).
 */
import {
  ApiextensionsV1Api,
  BatchV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  makeInformer,
  setHeaderOptions,
  type Informer,
  type KubernetesObject,
  type KubernetesListObject,
  type V1Job,
} from '@kubernetes/client-node';
import type { K8sJob } from '../../core/k8s.js';
import { LABEL_JOB_ID } from '../../core/k8s.js';
import type { AIJobStatus } from '../../core/status.js';
import { ClusterError, type AIJob, type ClusterEvent, type ClusterPort, type ClusterWatcher } from '../types.js';
import { runwayCrds } from './crds.js';
import { toClusterError } from './errors.js';
import { toWire } from './wire.js';

export const GROUP = 'runway.dev';
export const VERSION = 'v1alpha1';
export const AIJOB_PLURAL = 'aijobs';

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
  timer?: NodeJS.Timeout;
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

  constructor(kubeConfig: KubeConfig, opts: KubeClusterOptions) {
    this.kubeConfig = kubeConfig;
    this.namespace = opts.namespace;
    this.minBackoffMs = opts.minBackoffMs ?? 500;
    this.maxBackoffMs = opts.maxBackoffMs ?? 30_000;
    this.batch = kubeConfig.makeApiClient(BatchV1Api);
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.custom = kubeConfig.makeApiClient(CustomObjectsApi);
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

  async updateAIJobStatus(name: string, status: AIJobStatus): Promise<AIJob> {
    try {
      // JSON Patch "add" on /status replaces it whole (a merge patch would keep stale fields).
      const updated = (await this.custom.patchNamespacedCustomObjectStatus(
        { ...this.aijobParams(), name, body: [{ op: 'add', path: '/status', value: status }] },
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

  async ping(): Promise<void> {
    let resources: string[];
    try {
      const list = await this.custom.getAPIResources({ group: GROUP, version: VERSION });
      resources = list.resources.map((r) => r.name);
    } catch (err) {
      const e = toClusterError(err, 'discovering runway.dev/v1alpha1');
      if (e.kind === 'NotFound') throw new ClusterError('Unavailable', `CRDs missing: ${missingCrds([]).join(', ')} (kubectl apply -k deploy/crds, or RUNWAY_INSTALL_CRDS=true)`);
      throw e;
    }
    const missing = missingCrds(resources);
    if (missing.length > 0) {
      throw new ClusterError('Unavailable', `CRDs missing: ${missing.join(', ')} (kubectl apply -k deploy/crds, or RUNWAY_INSTALL_CRDS=true)`);
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

  async watch(watcher: ClusterWatcher): Promise<() => void> {
    const ns = this.namespace;
    const sel = LABEL_JOB_ID; // "has the label": only Runway's Jobs and pods
    const specs: Array<{ kind: Kind; path: string; list: () => Promise<KubernetesListObject<KubernetesObject>>; label?: string }> = [
      {
        kind: 'Node',
        path: '/api/v1/nodes',
        list: () => this.core.listNode() as Promise<KubernetesListObject<KubernetesObject>>,
      },
      {
        kind: 'Job',
        path: `/apis/batch/v1/namespaces/${ns}/jobs`,
        list: () => this.batch.listNamespacedJob({ namespace: ns, labelSelector: sel }) as Promise<KubernetesListObject<KubernetesObject>>,
        label: sel,
      },
      {
        kind: 'Pod',
        path: `/api/v1/namespaces/${ns}/pods`,
        list: () => this.core.listNamespacedPod({ namespace: ns, labelSelector: sel }) as Promise<KubernetesListObject<KubernetesObject>>,
        label: sel,
      },
      // AIJobs last: by the time they are synced, the Jobs and pods they refer to are in the caches.
      {
        kind: 'AIJob',
        path: `/apis/${GROUP}/${VERSION}/namespaces/${ns}/${AIJOB_PLURAL}`,
        list: () => this.custom.listNamespacedCustomObject(this.aijobParams()) as Promise<KubernetesListObject<KubernetesObject>>,
      },
    ];
    const mine: Source[] = [];
    let stopped = false;
    for (const spec of specs) {
      const informer = makeInformer<KubernetesObject>(this.kubeConfig, spec.path, spec.list, spec.label);
      const source: Source = { kind: spec.kind, informer, backoffMs: this.minBackoffMs };
      const emit = (type: 'ADDED' | 'MODIFIED' | 'DELETED') => (obj: KubernetesObject) => {
        source.backoffMs = this.minBackoffMs; // a delivered event means the watch is healthy
        watcher.onEvent({ kind: spec.kind, type, object: toWire(obj) } as ClusterEvent);
      };
      informer.on('add', emit('ADDED'));
      informer.on('update', emit('MODIFIED'));
      informer.on('delete', emit('DELETED'));
      informer.on('error', (err: unknown) => {
        if (stopped) return;
        const e = toClusterError(err, `watching ${spec.kind}s`);
        watcher.onError?.(e);
        // The informer does not restart itself after an error: do it, with backoff, resuming from
        // its last resourceVersion (or re-listing if the server says it is too old).
        source.timer = setTimeout(() => {
          source.timer = undefined;
          if (!stopped) informer.start().catch(() => undefined); // failures arrive as 'error' again
        }, source.backoffMs);
        source.timer.unref();
        source.backoffMs = Math.min(this.maxBackoffMs, source.backoffMs * 2);
      });
      mine.push(source);
      this.sources.add(source);
    }
    try {
      for (const source of mine) await startOnce(source);
    } catch (err) {
      stopped = true;
      for (const s of mine) this.stopSource(s);
      throw toClusterError(err, 'listing the cluster');
    }
    watcher.onSynced();
    return () => {
      stopped = true;
      for (const s of mine) this.stopSource(s);
    };
  }

  private stopSource(source: Source): void {
    if (source.timer) clearTimeout(source.timer);
    void source.informer.stop();
    this.sources.delete(source);
  }

  async close(): Promise<void> {
    for (const s of [...this.sources]) this.stopSource(s);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}

/** Starts an informer and resolves after its first list, or rejects with the first error. */
function startOnce(source: Source): Promise<void> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const onError = (err: unknown) => {
      if (settled) return;
      settled = true;
      source.informer.off('error', onError);
      reject(err instanceof Error ? err : new Error(String(err)));
    };
    source.informer.on('error', onError);
    source.informer.start().then(
      () => {
        if (settled) return;
        settled = true;
        source.informer.off('error', onError);
        resolve();
      },
      (err: unknown) => onError(err),
    );
  });
}

function missingCrds(served: string[]): string[] {
  return ['aijobs', 'aijobqueues', 'computeclusters', 'tenantpolicies'].filter((r) => !served.includes(r)).map((r) => `${r}.${GROUP}`);
}
