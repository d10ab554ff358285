// A real, throwaway Kubernetes control plane for integration tests: etcd + kube-apiserver +
// kube-controller-manager + kube-scheduler, running as local processes (no kubelet, no containers).
//
// Binaries come from scripts/k8s/build-control-plane.sh (Kubernetes 1.20 built from Debian
// sources, cached in ~/.cache/runway/k8s/current/bin) and /usr/bin/etcd (Debian etcd-server).
// The test setup is expected to run that script first; this module only starts/stops processes.
//
// Pods are scheduled (spec.nodeName set by the real scheduler) onto fake Node objects created with
// addNodes(); nothing runs them, so tests drive pod phases by patching pods/{name}/status.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';

export interface ControlPlane {
  /** https://127.0.0.1:PORT */
  server: string;
  /** Bearer token of a user in group system:masters. */
  adminToken: string;
  /** PEM file of the CA that signed the apiserver's serving certificate. */
  caFile: string;
  /** Admin kubeconfig (token auth) written to the temp dir. */
  kubeconfigPath: string;
  /** Temp dir holding etcd data, certs, kubeconfigs and per-process logs (<name>.log). */
  dataDir: string;
  /** Pids of the control-plane processes currently running. */
  pids(): number[];
  /** Stop only kube-apiserver (etcd and controllers keep running). */
  stopApiServer(): Promise<void>;
  /** Start kube-apiserver again with the same port and flags; resolves when /readyz is OK. */
  startApiServer(): Promise<void>;
  /** Stop every process started, await their exit and remove dataDir. Idempotent. */
  stop(): Promise<void>;
}

export interface StartControlPlaneOptions {
  /** Directory with kube-apiserver, kube-controller-manager, kube-scheduler. Default: controlPlaneBinDir(). */
  binDir?: string;
  /** etcd binary. Default: /usr/bin/etcd (Debian etcd-server). */
  etcdBin?: string;
  /** Progress lines. Default: silent. */
  log?: (line: string) => void;
  /** Timeout for each readiness wait, ms. Default 60 000. */
  readyTimeoutMs?: number;
}

export interface KubeResponse {
  status: number;
  /** Raw response body. */
  text: string;
  /** Parsed JSON body, or undefined when the body is not JSON. */
  body: unknown;
}

const COMPONENTS = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'] as const;
const SERVICE_CIDR = '10.0.0.0/24';
const SERVICE_IP = '10.0.0.1';
const CONTROLLERS = 'job,garbagecollector,ttl-after-finished,serviceaccount-token,serviceaccount,namespace';
const FEATURE_GATES = 'TTLAfterFinished=true';

/** ~/.cache/runway/k8s/current/bin (or $RUNWAY_K8S_CACHE/current/bin); throws if the binaries are missing. */
export function controlPlaneBinDir(): string {
  const root = process.env.RUNWAY_K8S_CACHE ?? path.join(os.homedir(), '.cache', 'runway', 'k8s');
  const dir = path.join(root, 'current', 'bin');
  const missing = COMPONENTS.filter((c) => !isExecutable(path.join(dir, c)));
  if (missing.length > 0) {
    throw new Error(
      `Kubernetes control-plane binaries missing in ${dir} (${missing.join(', ')}). ` +
        'Build them with: bash scripts/k8s/build-control-plane.sh',
    );
  }
  return fs.realpathSync(dir);
}

function isExecutable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Process bookkeeping: every child pid lives here until it exits; a process 'exit' hook
// SIGKILLs whatever is left, and a tiny shell watchdog does the same if this process is killed.
// ---------------------------------------------------------------------------------------------
const livePids = new Set<number>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const pid of livePids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  });
}

interface Proc {
  name: string;
  child: ChildProcess;
  pid: number;
  logFile: string;
  exited: Promise<void>;
  exitInfo: string | undefined;
}

function startProcess(name: string, bin: string, args: string[], logFile: string, onChange: () => void): Proc {
  const fd = fs.openSync(logFile, 'a');
  fs.writeSync(fd, `# ${new Date().toISOString()} ${bin} ${args.join(' ')}\n`);
  let child: ChildProcess;
  try {
    child = spawn(bin, args, { stdio: ['ignore', fd, fd], env: { ...process.env, GOTRACEBACK: 'all' } });
  } finally {
    fs.closeSync(fd);
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error(`failed to spawn ${name} (${bin})`);
  livePids.add(pid);
  onChange();
  child.unref();
  const proc: Proc = { name, child, pid, logFile, exited: Promise.resolve(), exitInfo: undefined };
  proc.exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      proc.exitInfo = signal !== null ? `signal ${signal}` : `code ${String(code)}`;
      livePids.delete(pid);
      onChange();
      resolve();
    });
    child.once('error', (err) => {
      proc.exitInfo = `spawn error: ${err.message}`;
      livePids.delete(pid);
      onChange();
      resolve();
    });
  });
  return proc;
}

async function stopProcess(proc: Proc, graceMs = 5_000): Promise<void> {
  if (proc.exitInfo !== undefined) return;
  // Children are unref()'d so a forgotten control plane never keeps the test runner alive; keep
  // the event loop alive ourselves while waiting for the exit event.
  const keepAlive = setInterval(() => undefined, 1_000);
  try {
    try {
      process.kill(proc.pid, 'SIGTERM');
    } catch {
      /* gone */
    }
    const timedOut = await Promise.race([proc.exited.then(() => false), sleep(graceMs).then(() => true)]);
    if (timedOut) {
      try {
        process.kill(proc.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
      await proc.exited;
    }
  } finally {
    clearInterval(keepAlive);
  }
}

function tail(file: string, lines = 40): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---------------------------------------------------------------------------------------------
// Helpers: ports, addresses, openssl.
// ---------------------------------------------------------------------------------------------
async function freePorts(n: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < n; i++) {
      const srv = net.createServer();
      servers.push(srv);
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(0, '127.0.0.1', () => resolve());
      });
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') throw new Error('could not allocate a port');
      ports.push(addr.port);
    }
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

function advertiseAddress(): string {
  for (const addrs of Object.values(os.networkInterfaces())) {
    for (const a of addrs ?? []) {
      if (a.family === 'IPv4' && !a.internal) return a.address;
    }
  }
  // No external interface (e.g. a network-less sandbox): the advertise address is only written into
  // the `kubernetes` Endpoints object and must not be loopback, so use a TEST-NET-1 address.
  return '192.0.2.1';
}

function run(cmd: string, args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      else resolve();
    });
  });
}

async function generatePki(dir: string, advertise: string): Promise<void> {
  const cnf = path.join(dir, 'openssl.cnf');
  fs.writeFileSync(
    cnf,
    [
      '[req]',
      'distinguished_name = dn',
      'prompt = no',
      '[dn]',
      'CN = runway-test',
      '[v3_ca]',
      'basicConstraints = critical, CA:TRUE',
      'keyUsage = critical, keyCertSign, cRLSign, digitalSignature',
      'subjectKeyIdentifier = hash',
      '[v3_server]',
      'basicConstraints = critical, CA:FALSE',
      'keyUsage = critical, digitalSignature, keyEncipherment',
      'extendedKeyUsage = serverAuth',
      'authorityKeyIdentifier = keyid',
      `subjectAltName = IP:127.0.0.1, DNS:localhost, IP:${advertise}, IP:${SERVICE_IP}, ` +
        'DNS:kubernetes, DNS:kubernetes.default, DNS:kubernetes.default.svc, DNS:kubernetes.default.svc.cluster.local',
      '',
    ].join('\n'),
  );
  const days = '3650';
  await run('openssl', ['req', '-x509', '-config', cnf, '-extensions', 'v3_ca', '-newkey', 'rsa:2048', '-nodes',
    '-keyout', 'ca.key', '-out', 'ca.crt', '-days', days, '-subj', '/CN=runway-test-ca'], dir);
  await run('openssl', ['req', '-new', '-config', cnf, '-newkey', 'rsa:2048', '-nodes',
    '-keyout', 'apiserver.key', '-out', 'apiserver.csr', '-subj', '/CN=kube-apiserver'], dir);
  await run('openssl', ['x509', '-req', '-in', 'apiserver.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial',
    '-out', 'apiserver.crt', '-days', days, '-extfile', cnf, '-extensions', 'v3_server'], dir);
  await run('openssl', ['genrsa', '-out', 'sa.key', '2048'], dir);
  await run('openssl', ['rsa', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'], dir);
}

function kubeconfig(server: string, caFile: string, user: string, token: string): string {
  const q = (s: string): string => JSON.stringify(s);
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: runway-test',
    '  cluster:',
    `    server: ${q(server)}`,
    `    certificate-authority: ${q(caFile)}`,
    'users:',
    `- name: ${q(user)}`,
    '  user:',
    `    token: ${q(token)}`,
    'contexts:',
    '- name: runway-test',
    '  context:',
    '    cluster: runway-test',
    `    user: ${q(user)}`,
    'current-context: runway-test',
    '',
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// HTTP helpers.
// ---------------------------------------------------------------------------------------------
interface RawTarget {
  url: string;
  ca?: Buffer;
  token?: string;
  insecure?: boolean;
}

function rawRequest(
  target: RawTarget,
  method: string,
  body?: string,
  contentType?: string,
  timeoutMs = 10_000,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(target.url);
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (target.token !== undefined) headers.Authorization = `Bearer ${target.token}`;
    if (body !== undefined) {
      headers['Content-Type'] = contentType ?? 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(body));
    }
    const opts: https.RequestOptions = {
      method,
      hostname: u.hostname,
      port: u.port,
      path: u.pathname + u.search,
      headers,
      agent: false,
      timeout: timeoutMs,
    };
    if (u.protocol === 'https:') {
      if (target.ca !== undefined) opts.ca = target.ca;
      if (target.insecure === true) opts.rejectUnauthorized = false;
    }
    const req = (u.protocol === 'https:' ? https : http).request(opts, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${target.url} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
  procs: Proc[],
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: string;
  for (;;) {
    const dead = procs.find((p) => p.exitInfo !== undefined);
    if (dead) {
      throw new Error(`${dead.name} exited (${dead.exitInfo ?? '?'}) while waiting for ${what}; ` +
        `last lines of ${dead.logFile}:\n${tail(dead.logFile)}`);
    }
    try {
      if (await check()) return;
      lastErr = 'not ready';
    } catch (err) {
      lastErr = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > deadline) {
      const logs = procs.map((p) => `--- ${p.name} (${p.logFile}):\n${tail(p.logFile, 25)}`).join('\n');
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${lastErr})\n${logs}`);
    }
    await sleep(250);
  }
}

/**
 * One request to the apiserver as admin. Never throws on HTTP status; `body` is the parsed JSON
 * (undefined if not JSON). `contentType` defaults to application/json; use
 * application/merge-patch+json or application/strategic-merge-patch+json for PATCH.
 */
export async function kubeRequest(
  cp: ControlPlane,
  method: string,
  apiPath: string,
  body?: unknown,
  contentType?: string,
): Promise<KubeResponse> {
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  const ct = contentType ?? (method.toUpperCase() === 'PATCH' ? 'application/merge-patch+json' : 'application/json');
  const res = await rawRequest(
    { url: cp.server + apiPath, ca: fs.readFileSync(cp.caFile), token: cp.adminToken },
    method.toUpperCase(),
    payload,
    ct,
  );
  let parsed: unknown;
  try {
    parsed = res.text === '' ? undefined : (JSON.parse(res.text) as unknown);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, text: res.text, body: parsed };
}

async function kubeOk(cp: ControlPlane, method: string, apiPath: string, body?: unknown, ct?: string): Promise<KubeResponse> {
  const res = await kubeRequest(cp, method, apiPath, body, ct);
  if (res.status < 200 || res.status >= 300) {
    throw new Error(`${method} ${apiPath} -> HTTP ${res.status}: ${res.text.slice(0, 2000)}`);
  }
  return res;
}

// ---------------------------------------------------------------------------------------------
// startControlPlane
// ---------------------------------------------------------------------------------------------
export async function startControlPlane(opts: StartControlPlaneOptions = {}): Promise<ControlPlane> {
  const log = opts.log ?? ((): void => undefined);
  const binDir = opts.binDir ?? controlPlaneBinDir();
  const etcdBin = opts.etcdBin ?? '/usr/bin/etcd';
  const timeoutMs = opts.readyTimeoutMs ?? 60_000;
  for (const bin of [...COMPONENTS.map((c) => path.join(binDir, c)), etcdBin]) {
    if (!isExecutable(bin)) {
      throw new Error(`${bin} not found or not executable; run: bash scripts/k8s/build-control-plane.sh`);
    }
  }
  installExitHook();

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runway-cp-'));
  const procs = new Map<string, Proc>();
  let watchdog: ChildProcess | undefined;
  const pidFile = path.join(dir, 'pids');
  const writePidFile = (): void => {
    try {
      fs.writeFileSync(pidFile, [...procs.values()].filter((p) => p.exitInfo === undefined).map((p) => p.pid).join(' '));
    } catch {
      /* dir removed */
    }
  };
  const launch = (name: string, bin: string, args: string[]): Proc => {
    const p = startProcess(name, bin, args, path.join(dir, `${name}.log`), writePidFile);
    procs.set(name, p);
    writePidFile();
    return p;
  };

  let stopped = false;
  const stopAll = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    for (const name of ['kube-scheduler', 'kube-controller-manager', 'kube-apiserver', 'etcd']) {
      const p = procs.get(name);
      if (p) await stopProcess(p);
    }
    if (watchdog?.pid !== undefined) {
      try {
        process.kill(watchdog.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };

  try {
    const [etcdClient, etcdPeer, apiPort, kcmPort, schedPort] = (await freePorts(5)) as [number, number, number, number, number];
    const advertise = advertiseAddress();
    const server = `https://127.0.0.1:${apiPort}`;
    log(`control plane in ${dir}: apiserver ${server} (advertise ${advertise}), etcd :${etcdClient}`);

    await generatePki(dir, advertise);
    const caFile = path.join(dir, 'ca.crt');
    const ca = fs.readFileSync(caFile);
    const tok = (): string => randomBytes(24).toString('hex');
    const adminToken = tok();
    const kcmToken = tok();
    const schedToken = tok();
    fs.writeFileSync(
      path.join(dir, 'tokens.csv'),
      [
        `${adminToken},runway-admin,uid-admin,"system:masters"`,
        `${kcmToken},system:kube-controller-manager,uid-kcm`,
        `${schedToken},system:kube-scheduler,uid-scheduler`,
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    const kubeconfigPath = path.join(dir, 'admin.kubeconfig');
    fs.writeFileSync(kubeconfigPath, kubeconfig(server, caFile, 'runway-admin', adminToken), { mode: 0o600 });
    fs.writeFileSync(path.join(dir, 'kcm.kubeconfig'),
      kubeconfig(server, caFile, 'system:kube-controller-manager', kcmToken), { mode: 0o600 });
    fs.writeFileSync(path.join(dir, 'scheduler.kubeconfig'),
      kubeconfig(server, caFile, 'system:kube-scheduler', schedToken), { mode: 0o600 });

    // Watchdog: if this node process dies without running 'exit' hooks (SIGKILL, crash),
    // kill the children listed in the pid file within ~1 s and remove the temp dir.
    watchdog = spawn(
      'sh',
      ['-c', 'while kill -0 "$1" 2>/dev/null && [ -d "$2" ]; do sleep 1; done; ' +
        '[ -f "$2/pids" ] && kill -9 $(cat "$2/pids") 2>/dev/null; [ -d "$2" ] && rm -rf "$2"; exit 0',
      'runway-cp-watchdog', String(process.pid), dir],
      { stdio: 'ignore', detached: true },
    );
    watchdog.unref();

    // --- etcd ---
    const etcd = launch('etcd', etcdBin, [
      '--name=runway',
      `--data-dir=${path.join(dir, 'etcd')}`,
      `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=runway=http://127.0.0.1:${etcdPeer}`,
      '--initial-cluster-state=new',
      '--log-level=warn',
    ]);
    await waitFor('etcd /health', async () => {
      const r = await rawRequest({ url: `http://127.0.0.1:${etcdClient}/health` }, 'GET', undefined, undefined, 2000);
      return r.status === 200 && r.text.includes('"true"');
    }, timeoutMs, [etcd]);
    log(`etcd ready (pid ${etcd.pid})`);

    // --- kube-apiserver ---
    const apiArgs = [
      `--etcd-servers=http://127.0.0.1:${etcdClient}`,
      `--advertise-address=${advertise}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      '--insecure-port=0',
      `--tls-cert-file=${path.join(dir, 'apiserver.crt')}`,
      `--tls-private-key-file=${path.join(dir, 'apiserver.key')}`,
      `--client-ca-file=${caFile}`,
      `--token-auth-file=${path.join(dir, 'tokens.csv')}`,
      '--authorization-mode=Node,RBAC',
      `--service-account-key-file=${path.join(dir, 'sa.pub')}`,
      `--service-account-signing-key-file=${path.join(dir, 'sa.key')}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      `--feature-gates=${FEATURE_GATES}`,
      '--allow-privileged=true',
      '--profiling=false',
      `--cert-dir=${path.join(dir, 'apiserver-certs')}`,
      '--v=1',
    ];
    const apiserverBin = path.join(binDir, 'kube-apiserver');
    const ready = async (): Promise<boolean> => {
      const r = await rawRequest({ url: `${server}/readyz`, ca, token: adminToken }, 'GET', undefined, undefined, 5000);
      return r.status === 200;
    };
    const startApi = async (): Promise<void> => {
      const api = launch('kube-apiserver', apiserverBin, apiArgs);
      await waitFor(`kube-apiserver ${server}/readyz`, ready, timeoutMs, [etcd, api]);
      log(`kube-apiserver ready (pid ${api.pid})`);
    };
    await startApi();

    // --- kube-controller-manager ---
    const kcm = launch('kube-controller-manager', path.join(binDir, 'kube-controller-manager'), [
      `--kubeconfig=${path.join(dir, 'kcm.kubeconfig')}`,
      `--controllers=${CONTROLLERS}`,
      `--feature-gates=${FEATURE_GATES}`,
      `--service-account-private-key-file=${path.join(dir, 'sa.key')}`,
      `--root-ca-file=${caFile}`,
      '--use-service-account-credentials=true',
      '--leader-elect=false',
      '--port=0',
      '--bind-address=127.0.0.1',
      `--secure-port=${kcmPort}`,
      `--cert-dir=${path.join(dir, 'kcm-certs')}`,
      '--profiling=false',
      '--v=1',
    ]);
    // --- kube-scheduler ---
    const sched = launch('kube-scheduler', path.join(binDir, 'kube-scheduler'), [
      `--kubeconfig=${path.join(dir, 'scheduler.kubeconfig')}`,
      '--leader-elect=false',
      '--port=0',
      '--bind-address=127.0.0.1',
      `--secure-port=${schedPort}`,
      `--cert-dir=${path.join(dir, 'scheduler-certs')}`,
      '--profiling=false',
      '--v=1',
    ]);
    const healthz = (port: number) => async (): Promise<boolean> => {
      const r = await rawRequest({ url: `https://127.0.0.1:${port}/healthz`, insecure: true }, 'GET', undefined, undefined, 2000);
      return r.status === 200;
    };
    await waitFor('kube-controller-manager /healthz', healthz(kcmPort), timeoutMs, [etcd, kcm]);
    log(`kube-controller-manager ready (pid ${kcm.pid})`);
    await waitFor('kube-scheduler /healthz', healthz(schedPort), timeoutMs, [etcd, sched]);
    log(`kube-scheduler ready (pid ${sched.pid})`);

    const cp: ControlPlane = {
      server,
      adminToken,
      caFile,
      kubeconfigPath,
      dataDir: dir,
      pids: () => [...procs.values()].filter((p) => p.exitInfo === undefined).map((p) => p.pid),
      stopApiServer: async () => {
        const api = procs.get('kube-apiserver');
        // kube-apiserver 1.20 closes its listener at once on SIGTERM but then lingers (>10 s) while
        // clients hold watches open; for an outage that is already "down", so SIGKILL after 2 s.
        if (api) await stopProcess(api, 2_000);
        log('kube-apiserver stopped');
      },
      startApiServer: async () => {
        const api = procs.get('kube-apiserver');
        if (api && api.exitInfo === undefined) throw new Error('kube-apiserver is already running');
        if (stopped) throw new Error('control plane was stopped');
        await startApi();
      },
      stop: stopAll,
    };

    // The default ServiceAccount (+ token secret) must exist before pods can be admitted.
    await waitFor('default ServiceAccount token in namespace default', async () => {
      const r = await kubeRequest(cp, 'GET', '/api/v1/namespaces/default/serviceaccounts/default');
      const sa = r.body as { secrets?: unknown[] } | undefined;
      return r.status === 200 && (sa?.secrets?.length ?? 0) > 0;
    }, timeoutMs, [...procs.values()]);
    return cp;
  } catch (err) {
    await stopAll().catch(() => undefined);
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Fake nodes
// ---------------------------------------------------------------------------------------------
export interface FakeNode {
  name: string;
  /** e.g. "8" or "8000m" */
  cpu: string;
  /** e.g. "32Gi" */
  memory: string;
  /** nvidia.com/gpu capacity; omitted or 0 = no GPUs. */
  gpus?: number;
  labels?: Record<string, string>;
}

interface NodeObj {
  spec?: { taints?: Array<{ key: string; effect: string; value?: string }> };
}

/**
 * Create Ready, schedulable Node objects (no kubelet behind them). The TaintNodesByCondition
 * admission plugin adds node.kubernetes.io/not-ready:NoSchedule on creation and nothing (no
 * node-lifecycle controller) removes it, so we drop it here after marking the node Ready.
 */
export async function addNodes(cp: ControlPlane, nodes: FakeNode[]): Promise<void> {
  for (const n of nodes) {
    const labels: Record<string, string> = {
      'kubernetes.io/hostname': n.name,
      'kubernetes.io/os': 'linux',
      'kubernetes.io/arch': 'amd64',
      ...(n.labels ?? {}),
    };
    await kubeOk(cp, 'POST', '/api/v1/nodes', {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: n.name, labels },
      spec: {},
    });
    const resources: Record<string, string> = { cpu: n.cpu, memory: n.memory, pods: '110' };
    if ((n.gpus ?? 0) > 0) resources['nvidia.com/gpu'] = String(n.gpus);
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const cond = (type: string, status: string, reason: string): Record<string, string> => ({
      type, status, reason, message: 'runway test node', lastHeartbeatTime: now, lastTransitionTime: now,
    });
    await kubeOk(cp, 'PATCH', `/api/v1/nodes/${encodeURIComponent(n.name)}/status`, {
      status: {
        capacity: resources,
        allocatable: resources,
        conditions: [
          cond('Ready', 'True', 'KubeletReady'),
          cond('MemoryPressure', 'False', 'KubeletHasSufficientMemory'),
          cond('DiskPressure', 'False', 'KubeletHasNoDiskPressure'),
          cond('PIDPressure', 'False', 'KubeletHasSufficientPID'),
          cond('NetworkUnavailable', 'False', 'RouteCreated'),
        ],
        addresses: [{ type: 'Hostname', address: n.name }],
        nodeInfo: {
          architecture: 'amd64', operatingSystem: 'linux', kubeletVersion: 'v1.20.2', kubeProxyVersion: 'v1.20.2',
          containerRuntimeVersion: 'fake://0', osImage: 'runway-fake', kernelVersion: '0', machineID: '',
          systemUUID: '', bootID: '',
        },
      },
    }, 'application/strategic-merge-patch+json');
    const got = (await kubeOk(cp, 'GET', `/api/v1/nodes/${encodeURIComponent(n.name)}`)).body as NodeObj;
    const taints = got.spec?.taints ?? [];
    const kept = taints.filter((t) => !t.key.startsWith('node.kubernetes.io/'));
    if (kept.length !== taints.length) {
      await kubeOk(cp, 'PATCH', `/api/v1/nodes/${encodeURIComponent(n.name)}`,
        { spec: { taints: kept.length > 0 ? kept : null } }, 'application/merge-patch+json');
    }
  }
}
