/**
 * Runway's start without its CRDs, RUNWAY_INSTALL_CRDS, and its watch connections, on a control plane
 * of its own (the other suite's Runway and kubelet would blur the connection counts).
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import * as net from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeCluster } from '../../src/cluster/kube/index.js';
import { runwayCrds } from '../../src/cluster/kube/crds.js';
import { addNodes, kubeRequest, startControlPlane, type ControlPlane } from './harness/control-plane.js';
import { applyDeploy, eventually, serviceAccountKubeConfig, startRunwayOnKube, type RunwayOnKube } from './harness/runway-on-kube.js';

const skip = process.env.RUNWAY_SKIP_K8S === '1';
const CRDS = ['aijobs.runway.dev', 'aijobqueues.runway.dev', 'computeclusters.runway.dev', 'tenantpolicies.runway.dev'];
const JOB = { image: 'busybox:1.36', cpu: 1, memory_mb: 512, timeout_s: 600 };

let cp: ControlPlane;
let kc: KubeConfig;
let adminKc: KubeConfig;
let rw: RunwayOnKube | undefined;

async function readyz(r: RunwayOnKube) {
  const res = await fetch(`${r.url}/readyz`);
  return { status: res.status, body: (await res.json()) as { status?: string; error?: { code: string; message: string } } };
}

function eventuallyReady(r: RunwayOnKube, timeoutMs = 30_000) {
  return eventually('/readyz to answer 200', async () => ((await readyz(r)).status === 200 ? true : undefined), timeoutMs, 100);
}

async function submit(r: RunwayOnKube) {
  const res = await fetch(`${r.url}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-tenant-id': 'team-a' }, body: JSON.stringify(JOB) });
  return { status: res.status, body: (await res.json()) as { job_id: string } };
}

async function deleteCrd(name: string): Promise<void> {
  const res = await kubeRequest(cp, 'DELETE', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`);
  expect([200, 202, 404]).toContain(res.status);
  await eventually(`CRD ${name} to be gone`, async () =>
    (await kubeRequest(cp, 'GET', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`)).status === 404 ? true : undefined,
  );
}

/** What RUNWAY_INSTALL_CRDS=true does at start (createCluster), as a cluster-admin identity. */
async function installCrdsAsAdmin(): Promise<void> {
  const installer = new KubeCluster(adminKc, { namespace: 'jobs' });
  try {
    await installer.installCrds();
  } finally {
    await installer.close();
  }
}

/**
 * This process's established TCP connections to the API server, by local port: sockets from
 * /proc/self/net/tcp{,6} to the API server's port whose inode is one of this process's descriptors.
 */
function apiServerConnections(): number[] {
  const port = Number(new URL(cp.server).port);
  const mine = new Set<string>();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
      if (m?.[1]) mine.add(m[1]);
    } catch {
      // closed meanwhile
    }
  }
  const local: number[] = [];
  for (const file of ['/proc/self/net/tcp', '/proc/self/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue; // no IPv6
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== '01' || !mine.has(f[9] ?? '')) continue; // 01: ESTABLISHED
      if (parseInt(f[2]?.split(':')[1] ?? '', 16) === port) local.push(parseInt(f[1]?.split(':')[1] ?? '', 16));
    }
  }
  return local.sort((a, b) => a - b);
}

/** The adapter's watches: Nodes, Jobs, Pods, AIJobs, and the policy kinds AIJobQueue, ComputeCluster, TenantPolicy. */
const WATCHES = 7;

/** Waits until the connections that are not the adapter's keep-alive pool are exactly the watches. */
function watchConnections(r: RunwayOnKube): Promise<{ total: number; pool: number; watches: number[] }> {
  let last = { total: 0, pool: 0, watches: [] as number[] };
  return eventually(
    `one connection per watch (${WATCHES}) besides the keep-alive pool`,
    async () => {
      const all = apiServerConnections();
      const pool = r.cluster.pool.sockets();
      last = { total: all.length, pool, watches: all };
      return all.length - pool === WATCHES ? last : undefined;
    },
    20_000,
    100,
  ).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}; last seen ${JSON.stringify(last)}`);
  });
}

interface SlowProxy {
  port: number;
  /** Delay of every byte from the API server to the client, ms. */
  delayMs: number;
  /** Refuse new connections. */
  refuse: boolean;
  /** Connections currently open through the proxy. */
  open(): number;
  dropAll(): void;
  close(): Promise<void>;
}

/** A TCP proxy to the API server (TLS passes through) that can refuse connections and delay answers. */
async function slowProxy(target: number): Promise<SlowProxy> {
  const pairs = new Set<[net.Socket, net.Socket]>();
  const server = net.createServer((client) => {
    if (proxy.refuse) {
      client.destroy();
      return;
    }
    const upstream = net.connect(target, '127.0.0.1');
    const pair: [net.Socket, net.Socket] = [client, upstream];
    pairs.add(pair);
    const end = () => {
      client.destroy();
      upstream.destroy();
      pairs.delete(pair);
    };
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      if (proxy.delayMs === 0) client.write(chunk);
      else setTimeout(() => client.writable && client.write(chunk), proxy.delayMs);
    });
    upstream.on('close', () => setTimeout(end, proxy.delayMs));
    client.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const proxy: SlowProxy = {
    port: (server.address() as net.AddressInfo).port,
    delayMs: 0,
    refuse: false,
    open: () => pairs.size,
    dropAll: () => {
      for (const [c, u] of [...pairs]) {
        c.destroy();
        u.destroy();
      }
    },
    close: async () => {
      proxy.dropAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return proxy;
}

describe.skipIf(skip)('CRD installation and watch connections on a real API server', () => {
  beforeAll(async () => {
    cp = await startControlPlane();
    await addNodes(cp, [{ name: 'cpu-1', cpu: '16', memory: '64Gi' }]);
    applyDeploy(cp);
    // Namespaces, ServiceAccount and RBAC as deployed, but no CRDs.
    for (const crd of CRDS) await deleteCrd(crd);
    kc = await serviceAccountKubeConfig(cp);
    adminKc = new KubeConfig();
    adminKc.loadFromFile(cp.kubeconfigPath);
  }, 180_000);

  afterAll(async () => {
    await rw?.runway.close();
    await cp?.stop();
  }, 60_000);

  it('starts without its CRDs, names the missing ones in /readyz, and is ready once RUNWAY_INSTALL_CRDS installs them', async () => {
    rw = await startRunwayOnKube(kc, { RUNWAY_RATE_LIMIT_PER_MIN: '6000', RUNWAY_RATE_LIMIT_BURST: '100' });
    const r = rw;
    const before = await readyz(r);
    expect(before.status).toBe(503);
    expect(before.body.error?.code).toBe('CLUSTER_UNAVAILABLE');
    expect(before.body.error?.message).toContain(`CRDs missing: ${CRDS.join(', ')}`);
    // A submission cannot be stored: 503, not a crash.
    expect((await submit(r)).status).toBe(503);

    await installCrdsAsAdmin();
    await eventuallyReady(r); // by itself: no restart
    expect((await readyz(r)).body).toEqual({ status: 'ready', cluster: 'kube', namespace: 'jobs' });
    // The AIJob watch is running: a job deleted behind Runway's back leaves its cache.
    const job = await submit(r);
    expect(job.status).toBe(201);
    expect((await fetch(`${r.url}/v1/jobs/${job.body.job_id}`)).status).toBe(200);
    await kubeRequest(cp, 'DELETE', `/apis/runway.dev/v1alpha1/namespaces/jobs/aijobs/${job.body.job_id}`);
    await eventually('the deletion to reach Runway through its watch', async () =>
      (await fetch(`${r.url}/v1/jobs/${job.body.job_id}`)).status === 404 ? true : undefined,
    );
  }, 90_000);

  it('reports a CRD deleted while running, and RUNWAY_INSTALL_CRDS recreates it and updates a changed one', async () => {
    const r = rw as RunwayOnKube;
    const tenantpolicies = `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/tenantpolicies.runway.dev`;
    const patched = await kubeRequest(cp, 'PATCH', tenantpolicies, [{ op: 'replace', path: '/spec/versions/0/additionalPrinterColumns', value: [] }], 'application/json-patch+json');
    expect(patched.status).toBe(200);
    await deleteCrd('aijobs.runway.dev');
    await eventually('/readyz to name the deleted CRD', async () => {
      const res = await readyz(r);
      return res.status === 503 && res.body.error?.message.includes('CRDs missing: aijobs.runway.dev (') ? true : undefined;
    });

    await installCrdsAsAdmin();
    await eventuallyReady(r);
    const wanted = (runwayCrds() as Array<{ metadata: { name: string }; spec: { versions: Array<{ additionalPrinterColumns?: unknown[] }> } }>).find(
      (c) => c.metadata.name === 'tenantpolicies.runway.dev',
    );
    const current = (await kubeRequest(cp, 'GET', tenantpolicies)).body as { spec: { versions: Array<{ additionalPrinterColumns?: unknown[] }> } };
    expect(current.spec.versions[0]?.additionalPrinterColumns).toEqual(wanted?.spec.versions[0]?.additionalPrinterColumns);
    expect(current.spec.versions[0]?.additionalPrinterColumns?.length).toBeGreaterThan(0);
    // The AIJob informer came back on the recreated CRD.
    const job = await submit(r);
    expect(job.status).toBe(201);
    await kubeRequest(cp, 'DELETE', `/apis/runway.dev/v1alpha1/namespaces/jobs/aijobs/${job.body.job_id}`);
    await eventually('the deletion to reach Runway through its watch', async () =>
      (await fetch(`${r.url}/v1/jobs/${job.body.job_id}`)).status === 404 ? true : undefined,
    );
  }, 90_000);

  it('holds one connection per watch across API server restarts, and none once closed', async () => {
    const r = rw as RunwayOnKube;
    const initial = await watchConnections(r);
    const after: Array<{ total: number; pool: number; watches: number[] }> = [];
    for (let i = 0; i < 3; i++) {
      await cp.stopApiServer();
      await cp.startApiServer();
      await eventuallyReady(r);
      after.push(await watchConnections(r));
    }
    // Each restart replaced the connections (the old ones died with the API server) instead of adding
    // to them: one per watch after every restart, the same number after the third as after the first.
    expect(after[0]?.watches.filter((p) => initial.watches.includes(p))).toEqual([]);
    expect(after.map((a) => a.total - a.pool)).toEqual([WATCHES, WATCHES, WATCHES]);
    // The pool does not grow with restarts: at most one connection per informer re-listing at once.
    expect(Math.max(...after.map((a) => a.pool))).toBeLessThanOrEqual(WATCHES);

    await r.runway.close();
    rw = undefined;
    await eventually('every connection to the API server to close', async () => (apiServerConnections().length === 0 ? true : undefined), 10_000, 100);
  }, 120_000);

  it('leaves no watch connection behind when closed while its watches are reconnecting', async () => {
    // Counted below are every connection of this process: none of an earlier test's Runway may remain.
    await rw?.runway.close();
    rw = undefined;
    // Through a proxy that answers slowly, so that the reconnecting watches are still under way when
    // the adapter closes: each must not open its connection afterwards and keep it.
    const proxy = await slowProxy(Number(new URL(cp.server).port));
    const viaProxy = new KubeConfig();
    viaProxy.loadFromOptions({
      clusters: [{ name: 'proxy', server: `https://127.0.0.1:${proxy.port}`, caFile: cp.caFile, skipTLSVerify: false }],
      users: [{ name: 'runway', token: kc.getCurrentUser()?.token ?? '' }],
      contexts: [{ name: 'proxy', cluster: 'proxy', user: 'runway', namespace: 'jobs' }],
      currentContext: 'proxy',
    });
    const cluster = new KubeCluster(viaProxy, { namespace: 'jobs', minBackoffMs: 60_000, maxBackoffMs: 60_000 });
    try {
      await cluster.watch({ onEvent: () => undefined, onSynced: () => undefined });
      proxy.refuse = true;
      proxy.dropAll(); // every watch breaks, fails to reconnect and waits for its (long) backoff
      await new Promise((res) => setTimeout(res, 1_000));
      // Slow answers from now on. ping() finds the API answering and restarts the waiting watches:
      // close while they connect.
      proxy.refuse = false;
      proxy.delayMs = 1_000;
      await expect(cluster.ping()).rejects.toThrow(/the watch is not running yet/);
    } finally {
      await cluster.close();
    }
    await new Promise((res) => setTimeout(res, 8_000)); // the delayed answers arrive meanwhile
    expect(proxy.open()).toBe(0);
    await proxy.close();
    expect(apiServerConnections()).toEqual([]);
  }, 60_000);
});
