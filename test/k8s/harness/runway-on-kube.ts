/** Sets up the test control plane the way an operator would, and runs Runway against it in-process. */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeCluster, KubeLeaseStore } from '../../../src/cluster/kube/index.js';
import { LEASE_NAME } from '../../../src/cluster/create.js';
import { loadConfig, type Config } from '../../../src/config.js';
import { LeaderElector, type LeaderElectionTimings } from '../../../src/controller/leader-election.js';
import { createLogger } from '../../../src/observability/logger.js';
import { createRunway, type Runway } from '../../../src/runway.js';
import { kubeRequest, type ControlPlane } from './control-plane.js';

const ROOT = path.resolve(import.meta.dirname, '../../..');

function kubectl(cp: ControlPlane, args: string[], input?: string): string {
  return execFileSync('kubectl', ['--kubeconfig', cp.kubeconfigPath, ...args], { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
}

/** deploy/base rendered with the 1.20 PodDisruptionBudget component. */
export function renderDeploy(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runway-kustomize-'));
  try {
    fs.writeFileSync(
      path.join(dir, 'kustomization.yaml'),
      [
        'apiVersion: kustomize.config.k8s.io/v1beta1',
        'kind: Kustomization',
        'resources:',
        `  - ${path.relative(dir, path.join(ROOT, 'deploy/base'))}`,
        'components:',
        `  - ${path.relative(dir, path.join(ROOT, 'deploy/components/pdb-v1beta1'))}`,
      ].join('\n'),
    );
    return execFileSync('kubectl', ['kustomize', '--load-restrictor', 'LoadRestrictionsNone', dir], { encoding: 'utf8' });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Applies the project's manifests: CRDs, namespaces, ServiceAccount, RBAC and the jobs-namespace
 * guardrails for real; the Deployment, Service and PodDisruptionBudget as a server-side dry run
 * (no kubelet here runs Runway's own pod). Returns kubectl's output.
 */
export function applyDeploy(cp: ControlPlane): { applied: string; dryRun: string } {
  const docs = renderDeploy().split(/^---$/m);
  const dry = (d: string) => /^kind: (Deployment|Service|PodDisruptionBudget)$/m.test(d);
  const applied = kubectl(cp, ['apply', '-f', '-'], docs.filter((d) => !dry(d)).join('---'));
  kubectl(cp, ['wait', '--for=condition=Established', '--timeout=60s', 'crd/aijobs.runway.dev', 'crd/aijobqueues.runway.dev', 'crd/computeclusters.runway.dev', 'crd/tenantpolicies.runway.dev']);
  const dryRun = kubectl(cp, ['apply', '--dry-run=server', '-f', '-'], docs.filter(dry).join('---'));
  return { applied, dryRun };
}

/** A KubeConfig that authenticates as the runway ServiceAccount: Runway gets exactly deploy/'s RBAC. */
export async function serviceAccountKubeConfig(cp: ControlPlane): Promise<KubeConfig> {
  let token = '';
  for (let i = 0; i < 100 && !token; i++) {
    const sa = await kubeRequest(cp, 'GET', '/api/v1/namespaces/runway-system/serviceaccounts/runway');
    const secret = (sa.body as { secrets?: Array<{ name: string }> } | undefined)?.secrets?.[0]?.name;
    if (secret) {
      const s = await kubeRequest(cp, 'GET', `/api/v1/namespaces/runway-system/secrets/${secret}`);
      const data = (s.body as { data?: { token?: string } } | undefined)?.data?.token;
      if (data) token = Buffer.from(data, 'base64').toString();
    }
    if (!token) await new Promise((r) => setTimeout(r, 100));
  }
  if (!token) throw new Error('no token for ServiceAccount runway-system/runway');
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'test', server: cp.server, caFile: cp.caFile, skipTLSVerify: false }],
    users: [{ name: 'runway', token }],
    contexts: [{ name: 'runway', cluster: 'test', user: 'runway', namespace: 'jobs' }],
    currentContext: 'runway',
  });
  return kc;
}

export interface RunwayOnKube {
  runway: Runway;
  cluster: KubeCluster;
  elector?: LeaderElector;
  url: string;
}

export async function startRunwayOnKube(
  kc: KubeConfig,
  env: Record<string, string> = {},
  opts: { identity?: string; timings?: LeaderElectionTimings; cluster?: KubeCluster } = {},
): Promise<RunwayOnKube> {
  const config: Config = {
    ...loadConfig({ RUNWAY_CLUSTER: 'kube', LOG_LEVEL: process.env.RUNWAY_TEST_LOG ?? 'silent', RUNWAY_LEASE_NAMESPACE: 'runway-system', ...env }),
    port: 0,
    host: '127.0.0.1',
  };
  const cluster = opts.cluster ?? new KubeCluster(kc, { namespace: config.namespace, minBackoffMs: 200, maxBackoffMs: 2000 });
  const elector = opts.identity
    ? new LeaderElector(opts.identity, new KubeLeaseStore(kc, config.leaseNamespace, LEASE_NAME), opts.timings)
    : undefined;
  const runway = await createRunway(config, { cluster, logger: createLogger(config.logLevel), ...(elector ? { elector } : {}) });
  const url = await runway.listen();
  return { runway, cluster, url, ...(elector ? { elector } : {}) };
}

/** Polls until fn returns a value that is not undefined, or fails with the last value seen. */
export async function eventually<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
