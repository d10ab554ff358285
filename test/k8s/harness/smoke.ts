// End-to-end smoke test of the control-plane harness:
//   npx tsx test/k8s/harness/smoke.ts
// Starts etcd + apiserver + controller-manager + scheduler, adds a GPU and a CPU node, runs a
// one-pod GPU Job, checks the scheduler binds it to the GPU node, fakes the pod's success and
// waits for the job controller to mark the Job Complete. Exit code 0 and "OK" on success.
import { addNodes, kubeRequest, startControlPlane, type ControlPlane, type KubeResponse } from './control-plane.js';

const t0 = Date.now();
const log = (line: string): void => console.log(`[smoke +${((Date.now() - t0) / 1000).toFixed(1)}s] ${line}`);

function ok(res: KubeResponse, what: string): KubeResponse {
  if (res.status < 200 || res.status >= 300) throw new Error(`${what}: HTTP ${res.status} ${res.text.slice(0, 1000)}`);
  return res;
}

async function poll<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

interface PodList {
  items: Array<{ metadata: { name: string }; spec: { nodeName?: string } }>;
}
interface Job {
  status?: { succeeded?: number; conditions?: Array<{ type: string; status: string }> };
}

async function main(): Promise<void> {
  let cp: ControlPlane | undefined;
  let leaked: number[] = [];
  try {
    cp = await startControlPlane({ log });
    const c = cp;
    log(`pids ${c.pids().join(',')}; kubeconfig ${c.kubeconfigPath}`);
    await addNodes(c, [
      { name: 'gpu-node-1', cpu: '16', memory: '64Gi', gpus: 4, labels: { 'runway.dev/pool': 'gpu' } },
      { name: 'cpu-node-1', cpu: '8', memory: '32Gi' },
    ]);
    log('nodes added');
    ok(await kubeRequest(c, 'POST', '/api/v1/namespaces', { metadata: { name: 'jobs' } }), 'create namespace');
    ok(await kubeRequest(c, 'POST', '/apis/batch/v1/namespaces/jobs/jobs', {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'train' },
      spec: {
        backoffLimit: 0,
        ttlSecondsAfterFinished: 600,
        template: {
          spec: {
            restartPolicy: 'Never',
            containers: [{
              name: 'main',
              image: 'busybox',
              command: ['true'],
              resources: { requests: { cpu: '1', 'nvidia.com/gpu': '1' }, limits: { 'nvidia.com/gpu': '1' } },
            }],
          },
        },
      },
    }), 'create job');
    log('job created');

    const pod = await poll('pod bound to a node', async () => {
      const list = ok(await kubeRequest(c, 'GET', '/api/v1/namespaces/jobs/pods?labelSelector=job-name%3Dtrain'), 'list pods')
        .body as PodList;
      return list.items.find((p) => p.spec.nodeName !== undefined && p.spec.nodeName !== '');
    });
    log(`pod ${pod.metadata.name} bound to ${pod.spec.nodeName ?? '?'}`);
    if (pod.spec.nodeName !== 'gpu-node-1') throw new Error(`pod scheduled to ${pod.spec.nodeName ?? '?'}, expected gpu-node-1`);

    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    ok(await kubeRequest(c, 'PATCH', `/api/v1/namespaces/jobs/pods/${pod.metadata.name}/status`, {
      status: {
        phase: 'Succeeded',
        startTime: now,
        containerStatuses: [{
          name: 'main', ready: false, restartCount: 0, image: 'busybox', imageID: '',
          state: { terminated: { exitCode: 0, reason: 'Completed', startedAt: now, finishedAt: now } },
        }],
      },
    }, 'application/merge-patch+json'), 'patch pod status');
    log('pod marked Succeeded');

    await poll('job Complete', async () => {
      const job = ok(await kubeRequest(c, 'GET', '/apis/batch/v1/namespaces/jobs/jobs/train'), 'get job').body as Job;
      return job.status?.conditions?.some((x) => x.type === 'Complete' && x.status === 'True') === true ? job : undefined;
    });
    log('job Complete');
  } finally {
    if (cp) {
      const pids = cp.pids();
      await cp.stop();
      leaked = pids.filter((p) => {
        try {
          process.kill(p, 0);
          return true;
        } catch {
          return false;
        }
      });
      log('stopped');
    }
  }
  if (leaked.length > 0) throw new Error(`processes still alive after stop(): ${leaked.join(',')}`);
  console.log('OK');
}

main().catch((err: unknown) => {
  console.error('SMOKE FAILED:', err instanceof Error ? err.message : err);
  process.exit(1);
});
