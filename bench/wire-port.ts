/**
 * A ClusterPort that passes every object through JSON on its way in and out, as the wire to a real API
 * server does. The benchmark puts it between Runway and the embedded cluster to measure the heap
 * Runway's own caches hold: without it the embedded cluster and Runway share the (immutable) objects
 * the cluster hands out, which is what `npm start` holds but not what Runway holds in kube mode.
 */
import type { AIJob, ClusterEvent, ClusterPort, ClusterWatcher } from '../src/cluster/types.js';
import type { K8sJob } from '../src/core/k8s.js';
import type { PolicyKind, PolicyResource } from '../src/core/policy.js';
import type { AIJobStatus } from '../src/core/status.js';

const wire = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

export class WirePort implements ClusterPort {
  readonly name: string;
  readonly namespace: string;

  constructor(private readonly inner: ClusterPort) {
    this.name = inner.name;
    this.namespace = inner.namespace;
  }

  now(): number {
    return this.inner.now();
  }

  setTimer(atMs: number, fn: () => void): () => void {
    return this.inner.setTimer(atMs, fn);
  }

  async createAIJob(job: AIJob): Promise<AIJob> {
    return wire(await this.inner.createAIJob(wire(job)));
  }

  async updateAIJobStatus(name: string, status: AIJobStatus): Promise<AIJob> {
    return wire(await this.inner.updateAIJobStatus(name, wire(status)));
  }

  deleteAIJob(name: string): Promise<void> {
    return this.inner.deleteAIJob(name);
  }

  createJob(job: K8sJob): Promise<'created' | 'exists'> {
    return this.inner.createJob(wire(job));
  }

  deleteJob(name: string): Promise<void> {
    return this.inner.deleteJob(name);
  }

  async putPolicy(obj: PolicyResource): Promise<PolicyResource> {
    return wire(await this.inner.putPolicy(wire(obj)));
  }

  deletePolicy(kind: PolicyKind, name: string): Promise<boolean> {
    return this.inner.deletePolicy(kind, name);
  }

  async updatePolicyStatus(kind: PolicyKind, name: string, status: Record<string, unknown>, resourceVersion?: string): Promise<PolicyResource> {
    return wire(await this.inner.updatePolicyStatus(kind, name, wire(status), resourceVersion));
  }

  watch(watcher: ClusterWatcher): Promise<() => void> {
    return this.inner.watch({
      onEvent: (e) => watcher.onEvent({ kind: e.kind, type: e.type, object: wire(e.object) } as ClusterEvent),
      onSynced: () => watcher.onSynced(),
      ...(watcher.onError ? { onError: (err: Error) => watcher.onError?.(err) } : {}),
    });
  }

  ping(): Promise<void> {
    return this.inner.ping();
  }

  readLogs(jobName: string, tailLines: number): Promise<string> {
    return this.inner.readLogs(jobName, tailLines);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
