/**
 * A simulated kubelet for the test control plane: pods the real scheduler binds to our fake nodes
 * go Running, then Succeeded or Failed with a terminated container state, following the
 * sim.runway.dev/* annotations exactly as the embedded cluster reads them. Everything else (retries
 * by backoffLimit, activeDeadlineSeconds, garbage collection) is the real controllers' work.
 */
import { KubeConfig, makeInformer, CoreV1Api, type KubernetesObject, type V1Pod } from '@kubernetes/client-node';
import { outcomeFor, parseWorkload } from '../../../src/cluster/sim/kubelet.js';
import { LABEL_JOB_ID } from '../../../src/core/k8s.js';
import { kubeRequest, type ControlPlane } from './control-plane.js';

export interface Kubelet {
  /** Pods started so far, by Runway job id. */
  started: Map<string, number>;
  stop(): Promise<void>;
}

const nowIso = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

export async function startKubelet(cp: ControlPlane, nodeNames: string[], opts: { startDelayMs?: number; namespace?: string } = {}): Promise<Kubelet> {
  const kc = new KubeConfig();
  kc.loadFromFile(cp.kubeconfigPath);
  const core = kc.makeApiClient(CoreV1Api);
  const ns = opts.namespace ?? 'jobs';
  const nodes = new Set(nodeNames);
  const handled = new Set<string>();
  const timers = new Map<string, NodeJS.Timeout[]>();
  const started = new Map<string, number>();
  let stopped = false;

  const patchStatus = async (pod: V1Pod, status: Record<string, unknown>) => {
    const name = pod.metadata?.name ?? '';
    const res = await kubeRequest(cp, 'PATCH', `/api/v1/namespaces/${ns}/pods/${name}/status`, { status }, 'application/merge-patch+json');
    if (res.status === 404 || stopped) return; // deleted meanwhile
    if (res.status >= 300) throw new Error(`kubelet: patching ${name} -> HTTP ${res.status}: ${res.text.slice(0, 500)}`);
  };

  const later = (key: string, ms: number, fn: () => Promise<void>) => {
    const t = setTimeout(() => {
      fn().catch((err: unknown) => {
        if (!stopped) console.error(String(err));
      });
    }, ms);
    timers.set(key, [...(timers.get(key) ?? []), t]);
  };

  // A real kubelet confirms a graceful deletion once the containers are gone; without that, deleted
  // pods bound to a node would stay Terminating for ever.
  const finishDeletion = (pod: V1Pod) => {
    const key = pod.metadata?.uid ?? '';
    if (!pod.metadata?.deletionTimestamp || !pod.spec?.nodeName || !nodes.has(pod.spec.nodeName) || handled.has(`deleted:${key}`)) return;
    handled.add(`deleted:${key}`);
    for (const t of timers.get(key) ?? []) clearTimeout(t);
    timers.delete(key);
    void kubeRequest(cp, 'DELETE', `/api/v1/namespaces/${ns}/pods/${pod.metadata.name ?? ''}`, { kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds: 0 });
  };

  const run = (pod: V1Pod) => {
    finishDeletion(pod);
    const key = pod.metadata?.uid ?? '';
    if (pod.metadata?.deletionTimestamp) return;
    if (handled.has(key) || !pod.spec?.nodeName || !nodes.has(pod.spec.nodeName) || pod.status?.phase !== 'Pending') return;
    handled.add(key);
    const jobId = pod.metadata?.labels?.[LABEL_JOB_ID] ?? '';
    const index = started.get(jobId) ?? 0;
    started.set(jobId, index + 1);
    // The embedded cluster's reading of the annotations, so both clusters run the same workloads.
    const workload = parseWorkload(pod.metadata?.annotations);
    const outcome = outcomeFor(workload, index);
    const durationMs = workload.durationS * 1000;
    const containers = pod.spec.containers.map((c) => c.name);
    const image = pod.spec.containers[0]?.image ?? '';
    let startedAt = '';

    later(key, opts.startDelayMs ?? 200, async () => {
      startedAt = nowIso();
      await patchStatus(pod, {
        phase: 'Running',
        startTime: startedAt,
        conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: startedAt }],
        containerStatuses: containers.map((name) => ({ name, image, imageID: '', ready: true, restartCount: 0, started: true, state: { running: { startedAt } } })),
      });
      later(key, durationMs, async () => {
        const finishedAt = nowIso();
        const terminated = { reason: outcome.reason, exitCode: outcome.exitCode };
        await patchStatus(pod, {
          phase: outcome.phase,
          conditions: [{ type: 'Ready', status: 'False', lastTransitionTime: finishedAt }],
          containerStatuses: containers.map((name) => ({
            name,
            image,
            imageID: '',
            ready: false,
            restartCount: 0,
            state: { terminated: { ...terminated, startedAt, finishedAt } },
          })),
        });
      });
    });
  };

  const informer = makeInformer<KubernetesObject>(kc, `/api/v1/namespaces/${ns}/pods`, () => core.listNamespacedPod({ namespace: ns }));
  informer.on('add', (p) => run(p as V1Pod));
  informer.on('update', (p) => run(p as V1Pod));
  informer.on('delete', (p) => {
    const key = p.metadata?.uid ?? '';
    for (const t of timers.get(key) ?? []) clearTimeout(t);
    timers.delete(key);
  });
  informer.on('error', () => {
    // The API server may be stopped on purpose by a test: try again shortly.
    if (!stopped) setTimeout(() => void informer.start().catch(() => undefined), 500);
  });
  await informer.start();
  return {
    started,
    async stop() {
      stopped = true;
      for (const list of timers.values()) for (const t of list) clearTimeout(t);
      await informer.stop();
    },
  };
}
