// Static checks of the rendered kustomize trees (kubectl kustomize, no cluster needed): least-privilege
// RBAC, the Deployment's security settings, configuration that Runway actually reads, guardrails in
// the jobs namespace, and the pieces that must agree (selectors, ports, CRDs, bounds).
// Applying them to a real API server is the job of the k8s suite.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runwayCrds } from '../../src/cluster/kube/crds.js';
import { loadConfig } from '../../src/config.js';
import {
  PENDING_CONFIG_VARIABLES,
  ROOT,
  configVariables,
  ensureTools,
  find,
  kustomize,
  kustomizeWith,
  one,
  type K8sObject,
} from './helpers.js';

interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
  verbs: string[];
}
interface Binding extends K8sObject {
  roleRef: { kind: string; name: string };
  subjects: Array<{ kind: string; name: string; namespace?: string }>;
}
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string } };
}
interface Container {
  name: string;
  image: string;
  ports: Array<{ name: string; containerPort: number }>;
  env: EnvVar[];
  envFrom: Array<{ configMapRef?: { name: string }; secretRef?: { name: string; optional?: boolean } }>;
  resources: { requests?: Record<string, string>; limits?: Record<string, string> };
  livenessProbe?: { httpGet?: { path: string; port: string } };
  readinessProbe?: { httpGet?: { path: string; port: string } };
  securityContext: Record<string, unknown>;
}
interface PodSpec {
  serviceAccountName: string;
  securityContext: Record<string, unknown>;
  containers: Container[];
}
interface Deployment extends K8sObject {
  spec: { replicas: number; selector: { matchLabels: Record<string, string> }; template: { metadata: { labels: Record<string, string> }; spec: PodSpec } };
}

let renders: Record<'base' | 'eks' | 'installCrds' | 'pdbV1beta1', K8sObject[]>;

beforeAll(() => {
  ensureTools('kubectl');
  renders = {
    base: kustomize('base'),
    eks: kustomize('overlays/eks'),
    installCrds: kustomizeWith(['base'], ['components/install-crds']),
    pdbV1beta1: kustomizeWith(['base'], ['components/pdb-v1beta1']),
  };
}, 600_000);

const all = () => Object.entries(renders) as Array<[string, K8sObject[]]>;
const rulesOf = (o: K8sObject) => ((o as unknown as { rules?: PolicyRule[] }).rules ?? []);
const deployment = (objs: K8sObject[]) => one(objs, 'Deployment', 'runway', 'runway-system') as Deployment;
const container = (objs: K8sObject[]) => {
  const c = deployment(objs).spec.template.spec.containers[0];
  if (!c) throw new Error('no container');
  return c;
};
const configMapData = (objs: K8sObject[], ref: string) =>
  (one(objs, 'ConfigMap', ref, 'runway-system') as unknown as { data: Record<string, string> }).data;
const runwayConfigMap = (objs: K8sObject[]) => {
  const ref = container(objs).envFrom.find((e) => e.configMapRef)?.configMapRef?.name;
  if (!ref) throw new Error('Deployment has no envFrom configMapRef');
  return configMapData(objs, ref);
};
/** The environment the container gets: ConfigMap first, then the Deployment's own values (which win). */
const containerEnv = (objs: K8sObject[]): Record<string, string> => {
  const env: Record<string, string> = { ...runwayConfigMap(objs) };
  for (const e of container(objs).env) if (e.value !== undefined) env[e.name] = e.value;
  env.POD_NAME = 'runway-0';
  return env;
};

describe('RBAC', () => {
  it('uses no wildcard verbs, resources, groups or URLs and no escalation verbs', () => {
    for (const [render, objs] of all()) {
      for (const role of [...find(objs, 'Role'), ...find(objs, 'ClusterRole')]) {
        for (const rule of rulesOf(role)) {
          const where = `${render}: ${role.kind} ${role.metadata.name} ${JSON.stringify(rule)}`;
          for (const field of [rule.verbs, rule.resources ?? [], rule.apiGroups ?? [], rule.resourceNames ?? []]) {
            expect(field.some((v) => v.includes('*')), where).toBe(false);
          }
          expect(rule.nonResourceURLs, where).toBeUndefined();
          expect(rule.verbs.filter((v) => ['escalate', 'bind', 'impersonate'].includes(v)), where).toEqual([]);
          expect(rule.resources ?? [], where).not.toContain('secrets');
        }
        expect((role as unknown as { aggregationRule?: unknown }).aggregationRule, role.metadata.name).toBeUndefined();
      }
    }
  });

  it('binds no built-in role (cluster-admin, admin, edit) and only the runway ServiceAccount', () => {
    for (const [render, objs] of all()) {
      const bindings = [...find(objs, 'RoleBinding'), ...find(objs, 'ClusterRoleBinding')] as Binding[];
      expect(bindings.length, render).toBeGreaterThan(0);
      for (const b of bindings) {
        expect(['cluster-admin', 'admin', 'edit', 'view'], `${render}: ${b.metadata.name}`).not.toContain(b.roleRef.name);
        expect(b.roleRef.name.startsWith('system:'), b.metadata.name).toBe(false);
        expect(b.subjects, `${render}: ${b.metadata.name}`).toEqual([{ kind: 'ServiceAccount', name: 'runway', namespace: 'runway-system' }]);
        // The role it points at is part of the same manifests.
        expect(find(objs, b.roleRef.kind, b.roleRef.name).length, `${render}: ${b.metadata.name} -> ${b.roleRef.name}`).toBe(1);
      }
    }
  });

  it('grants exactly what Runway uses', () => {
    const table = (o: K8sObject) =>
      rulesOf(o).map((r) => `${(r.apiGroups ?? []).join(',') || 'core'} ${(r.resources ?? []).join(',')}${r.resourceNames ? ` [${r.resourceNames.length} names]` : ''}: ${r.verbs.join(' ')}`);
    const base = renders.base;
    expect(table(one(base, 'Role', 'runway', 'jobs'))).toEqual([
      'runway.dev aijobs: get list watch create delete',
      'runway.dev aijobs/status: get update patch',
      'batch jobs: get list watch create delete',
      'core pods: get list watch',
      'core pods/log: get',
    ]);
    expect(table(one(base, 'ClusterRole', 'runway'))).toEqual([
      'runway.dev aijobqueues,computeclusters,tenantpolicies: get list watch create update delete',
      'runway.dev aijobqueues/status,computeclusters/status,tenantpolicies/status: patch',
      'core nodes: get list watch',
    ]);
    expect(table(one(base, 'Role', 'runway-leader-election', 'runway-system'))).toEqual(['coordination.k8s.io leases: get create update']);
    expect(find(base, 'ClusterRole', 'runway-crd-installer')).toEqual([]);
    expect(find(renders.eks, 'ClusterRole', 'runway-crd-installer')).toEqual([]);
  });

  it('grants CRD writes only through the optional install-crds component', () => {
    const objs = renders.installCrds;
    const role = one(objs, 'ClusterRole', 'runway-crd-installer');
    for (const rule of rulesOf(role)) {
      expect(rule.apiGroups).toEqual(['apiextensions.k8s.io']);
      expect(rule.resources).toEqual(['customresourcedefinitions']);
    }
    const named = rulesOf(role).find((r) => r.resourceNames);
    expect(named?.resourceNames?.sort()).toEqual(runwayCrds().map((c) => c.metadata.name).sort());
    expect(rulesOf(role).flatMap((r) => r.verbs).sort()).toEqual(['create', 'get', 'list', 'patch', 'update']);
    expect(one(objs, 'ClusterRoleBinding', 'runway-crd-installer')).toBeDefined();
    expect(runwayConfigMap(objs).RUNWAY_INSTALL_CRDS).toBe('true');
    expect(loadConfig(containerEnv(objs)).installCrds).toBe(true);
    expect(loadConfig(containerEnv(renders.base)).installCrds).toBe(false);
  });
});

describe('Deployment runway-system/runway', () => {
  it('runs one replica as the runway ServiceAccount on port 8000 (http) with health probes', () => {
    for (const [render, objs] of all()) {
      const d = deployment(objs);
      expect(d.spec.replicas, render).toBe(1);
      expect(d.spec.template.spec.serviceAccountName).toBe('runway');
      const c = container(objs);
      expect(c.ports).toEqual([{ name: 'http', containerPort: 8000, protocol: 'TCP' }]);
      expect(c.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'http' });
      expect(c.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'http' });
      expect(Object.keys(c.resources.requests ?? {}).sort()).toEqual(['cpu', 'memory']);
      expect(Object.keys(c.resources.limits ?? {}).sort()).toEqual(['cpu', 'memory']);
    }
  });

  it('is locked down: non-root 10001, read-only root, no privilege escalation, no capabilities, RuntimeDefault seccomp', () => {
    for (const [render, objs] of all()) {
      const pod = deployment(objs).spec.template.spec;
      expect(pod.securityContext, render).toMatchObject({ runAsNonRoot: true, runAsUser: 10001, seccompProfile: { type: 'RuntimeDefault' } });
      expect(container(objs).securityContext, render).toMatchObject({
        runAsNonRoot: true,
        runAsUser: 10001,
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
        seccompProfile: { type: 'RuntimeDefault' },
      });
    }
  });

  it('takes configuration from ConfigMap runway-config and secrets from optional Secret runway-secrets', () => {
    for (const [render, objs] of all()) {
      const c = container(objs);
      const cm = c.envFrom.find((e) => e.configMapRef)?.configMapRef?.name ?? '';
      expect(cm, render).toMatch(/^runway-config-[a-z0-9]+$/); // generated, content-hashed
      expect(c.envFrom.find((e) => e.secretRef)?.secretRef).toEqual({ name: 'runway-secrets', optional: true });
      expect(find(objs, 'Secret'), `${render}: no secret values in the manifests`).toEqual([]);
      const env = Object.fromEntries(c.env.map((e) => [e.name, e.value ?? e.valueFrom?.fieldRef?.fieldPath]));
      expect(env).toMatchObject({
        RUNWAY_CLUSTER: 'kube',
        RUNWAY_NAMESPACE: 'jobs',
        HOST: '0.0.0.0',
        PORT: '8000',
        RUNWAY_LEADER_ELECTION: 'true',
        POD_NAME: 'metadata.name',
        RUNWAY_LEASE_NAMESPACE: 'metadata.namespace',
      });
    }
  });

  it('uses image runway:latest in the base and a registry image in the eks overlay', () => {
    expect(container(renders.base).image).toBe('runway:latest');
    expect(container(renders.eks).image).toMatch(/^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com\/runway:\d+\.\d+\.\d+$/);
  });
});

describe('configuration', () => {
  const read = configVariables();

  it('finds the variables src/config.ts reads (sanity check of the parser)', () => {
    expect(read.length).toBeGreaterThanOrEqual(15);
    for (const v of ['PORT', 'RUNWAY_CLUSTER', 'RUNWAY_MAX_GPU', 'COST_GPU_PER_GPU_SECOND', 'POD_NAME']) expect(read).toContain(v);
  });

  it('sets only variables Runway reads (or has been asked to read: PENDING_CONFIG_VARIABLES)', () => {
    for (const [render, objs] of all()) {
      const names = [...Object.keys(runwayConfigMap(objs)), ...container(objs).env.map((e) => e.name)];
      for (const n of names) {
        expect(read.includes(n) || n in PENDING_CONFIG_VARIABLES, `${render}: ${n} is not read by src/config.ts`).toBe(true);
      }
    }
  });

  it('holds values loadConfig accepts; the base ConfigMap spells out exactly the defaults', () => {
    for (const [render, objs] of all()) expect(() => loadConfig(containerEnv(objs)), render).not.toThrow();
    const fromBase = loadConfig(runwayConfigMap(renders.base));
    expect({ ...fromBase, identity: '' }).toEqual({ ...loadConfig({}), identity: '' });
  });

  it('sets the GPU toleration and node selector in the eks overlay, matching the Terraform node group', () => {
    const cm = runwayConfigMap(renders.eks);
    expect(cm.RUNWAY_GPU_TOLERATION).toBe('nvidia.com/gpu');
    expect(cm.RUNWAY_GPU_NODE_SELECTOR).toBe('nvidia.com/gpu.present=true');
    const tf = readFileSync(join(ROOT, 'infra', 'terraform', 'main.tf'), 'utf8');
    expect(tf).toMatch(/gpu_taint_key\s*=\s*"nvidia\.com\/gpu"/);
    expect(tf).toMatch(/gpu_node_label\s*=\s*"nvidia\.com\/gpu\.present"/);
  });

  it('documents every variable in docs/configuration.md (the one configuration reference)', () => {
    const docs = readFileSync(join(ROOT, 'docs', 'configuration.md'), 'utf8');
    for (const v of [...read, ...Object.keys(PENDING_CONFIG_VARIABLES)]) expect(docs, v).toMatch(new RegExp(`^\\| \`${v}\` \\|`, 'm'));
  });
});

describe('cluster objects', () => {
  it('creates namespaces runway-system and jobs, and the CRDs exactly as generated', () => {
    for (const [render, objs] of all()) {
      expect(find(objs, 'Namespace').map((n) => n.metadata.name).sort(), render).toEqual(['jobs', 'runway-system']);
      expect(find(objs, 'CustomResourceDefinition').sort((a, b) => a.metadata.name.localeCompare(b.metadata.name)), render).toEqual(
        runwayCrds().sort((a, b) => a.metadata.name.localeCompare(b.metadata.name)),
      );
    }
  });

  it('routes the Service, PodDisruptionBudget and ServiceMonitor to the Runway pods', () => {
    const labels = deployment(renders.eks).spec.template.metadata.labels;
    const matches = (sel: Record<string, string>) => Object.entries(sel).every(([k, v]) => labels[k] === v);
    const svc = one(renders.eks, 'Service', 'runway', 'runway-system') as unknown as {
      metadata: { labels: Record<string, string> };
      spec: { selector: Record<string, string>; ports: Array<{ name: string; port: number; targetPort: string }> };
    };
    expect(matches(svc.spec.selector)).toBe(true);
    expect(svc.spec.ports).toEqual([{ name: 'http', port: 8000, targetPort: 'http', protocol: 'TCP' }]);
    expect(matches(deployment(renders.eks).spec.selector.matchLabels)).toBe(true);

    const pdb = one(renders.eks, 'PodDisruptionBudget', 'runway', 'runway-system') as unknown as {
      apiVersion: string;
      spec: { maxUnavailable: number; selector: { matchLabels: Record<string, string> } };
    };
    expect(pdb.apiVersion).toBe('policy/v1');
    expect(pdb.spec.maxUnavailable).toBe(1);
    expect(matches(pdb.spec.selector.matchLabels)).toBe(true);
    const legacy = one(renders.pdbV1beta1, 'PodDisruptionBudget', 'runway', 'runway-system') as unknown as typeof pdb;
    expect(legacy.apiVersion).toBe('policy/v1beta1');
    expect(legacy.spec).toEqual(pdb.spec);

    const sm = one(renders.eks, 'ServiceMonitor', 'runway', 'runway-system') as unknown as {
      spec: { selector: { matchLabels: Record<string, string> }; endpoints: Array<{ port: string; path: string }> };
    };
    expect(Object.entries(sm.spec.selector.matchLabels).every(([k, v]) => svc.metadata.labels[k] === v)).toBe(true);
    expect(sm.spec.endpoints.map((e) => [e.port, e.path])).toEqual([['http', '/metrics']]);
    expect(one(renders.eks, 'PrometheusRule', 'runway', 'runway-system')).toBeDefined();
    const dash = one(renders.eks, 'ConfigMap', 'runway-grafana-dashboard', 'runway-system') as unknown as {
      metadata: { labels: Record<string, string> };
      data: Record<string, string>;
    };
    expect(dash.metadata.labels.grafana_dashboard).toBe('1');
    expect(JSON.parse(dash.data['grafana-dashboard.json'] ?? '{}')).toHaveProperty('uid', 'runway-overview');
  });

  it('keeps Prometheus Operator objects out of the base (it must apply without the Operator)', () => {
    expect(renders.base.filter((o) => o.apiVersion.startsWith('monitoring.coreos.com/'))).toEqual([]);
  });

  it('bounds containers in the jobs namespace like Runway does (LimitRange = default cpu/memory bounds, no GPU default)', () => {
    const bounds = loadConfig({}).bounds;
    const lr = one(renders.base, 'LimitRange', undefined, 'jobs') as unknown as {
      spec: { limits: Array<{ type: string; max: Record<string, string> }> };
    };
    const max = lr.spec.limits.find((l) => l.type === 'Container')?.max;
    // No nvidia.com/gpu max: without a default it would become every CPU pod's default GPU limit.
    expect(max).toEqual({ cpu: String(bounds.maxCpu), memory: `${bounds.maxMemoryMb / 1024}Gi` });
    const quota = one(renders.base, 'ResourceQuota', undefined, 'jobs') as unknown as { spec: { hard: Record<string, string> } };
    expect(Object.keys(quota.spec.hard)).toEqual(expect.arrayContaining(['requests.cpu', 'requests.memory', 'requests.nvidia.com/gpu', 'pods']));
    expect(Number(quota.spec.hard['requests.nvidia.com/gpu'])).toBeGreaterThanOrEqual(loadConfig({}).tenantGpuQuota);
  });

  it('denies all ingress to job pods by default', () => {
    const np = find(renders.base, 'NetworkPolicy', undefined, 'jobs') as unknown as Array<{
      spec: { podSelector: Record<string, unknown>; policyTypes: string[]; ingress?: unknown[] };
    }>;
    const denyAll = np.filter((p) => Object.keys(p.spec.podSelector).length === 0 && p.spec.policyTypes.includes('Ingress') && !p.spec.ingress?.length);
    expect(denyAll).toHaveLength(1);
  });
});
