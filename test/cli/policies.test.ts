/**
 * `runway apply -f` and `runway delete` end to end: a real Runway (embedded sim cluster) listens in this
 * process on an ephemeral port, and each test runs the real binary (bin/runway.js) against it. The first
 * test applies deploy/examples/policies.yaml, whose header promises that it works.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { ManualClock, SimCluster } from '../../src/cluster/sim/index.js';
import { loadConfig } from '../../src/config.js';
import { createRunway, type Runway } from '../../src/runway.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin/runway.js');
const EXAMPLE = 'deploy/examples/policies.yaml';
const T = 30_000;
const TOKEN = 'test-admin-token-0123456789';

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

interface Doc {
  apiVersion: string;
  kind: string;
  metadata: { name: string; uid?: string; resourceVersion?: string };
  spec: Record<string, unknown>;
}

interface Server {
  runway: Runway;
  url: string;
}

let open: Server; // no admin token
let guarded: Server; // RUNWAY_ADMIN_TOKEN set
let dir: string;

/** A Runway on the embedded cluster holding no policy objects at all (the default queue is the implicit one). */
async function start(env: Record<string, string> = {}): Promise<Server> {
  const config = { ...loadConfig(env), port: 0, host: '127.0.0.1', logLevel: 'silent' as const };
  const cluster = new SimCluster({ namespace: config.namespace, clock: new ManualClock(), policies: [] });
  const runway = await createRunway(config, { cluster });
  return { runway, url: await runway.listen() };
}

/** Runs `runway ...args` against a server; resolves with the exit code and output, whatever it is. */
function cli(args: string[], opts: { input?: string; env?: Record<string, string>; server?: Server } = {}): Promise<Result> {
  const url = (opts.server ?? open).url;
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [BIN, ...args],
      { cwd: ROOT, env: { ...process.env, RUNWAY_URL: url, RUNWAY_TENANT: '', RUNWAY_ADMIN_TOKEN: '', NO_COLOR: '1', ...opts.env } },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    child.stdin?.end(opts.input ?? '');
  });
}

/** GET through the API. */
async function get(path: string, server: Server = open): Promise<{ status: number; body: Doc }> {
  const res = await fetch(`${server.url}${path}`);
  return { status: res.status, body: (await res.json()) as Doc };
}

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const PATHS: Record<string, string> = { AIJobQueue: 'queues', ComputeCluster: 'clusters', TenantPolicy: 'tenants' };
const pathOf = (d: Doc) => `/v1/${PATHS[d.kind] ?? '?'}/${d.metadata.name}`;
const exampleDocs = () => YAML.parseAllDocuments(readFileSync(join(ROOT, EXAMPLE), 'utf8')).map((d) => d.toJS() as Doc);
const REQUEST_ID = 'request id: [\\w-]+\\n';

beforeAll(async () => {
  open = await start();
  guarded = await start({ RUNWAY_ADMIN_TOKEN: TOKEN });
  dir = mkdtempSync(join(tmpdir(), 'runway-apply-'));
});

afterAll(async () => {
  await open?.runway.close();
  await guarded?.runway.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('runway apply', () => {
  it(
    `applies ${EXAMPLE}: one line per document, every object stored with its spec; again: configured; -o json`,
    async () => {
      const first = await cli(['apply', '-f', EXAMPLE]);
      expect(first).toEqual({
        code: 0,
        stdout: 'aijobqueue/training created\ncomputecluster/gpu created\ntenantpolicy/team-a created\ntenantpolicy/research created\n',
        stderr: '',
      });

      const docs = exampleDocs();
      expect(docs.map((d) => `${d.kind}/${d.metadata.name}`)).toEqual([
        'AIJobQueue/training',
        'ComputeCluster/gpu',
        'TenantPolicy/team-a',
        'TenantPolicy/research',
      ]);
      const stored: Doc[] = [];
      for (const doc of docs) {
        const { status, body } = await get(pathOf(doc));
        expect(status).toBe(200);
        expect(body).toMatchObject({ apiVersion: 'runway.dev/v1alpha1', kind: doc.kind, metadata: { name: doc.metadata.name, generation: 1 } });
        expect(body.spec).toEqual(doc.spec);
        expect(body.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
        stored.push(body);
      }
      // Spot checks against the file's text, so that the comparison above cannot pass on two empty specs.
      expect(stored[0]?.spec).toMatchObject({ admission: 'queued', maxConcurrency: 20, clusters: ['gpu'], retryPolicy: { maxRetries: 3, backoffMultiplier: 2 } });
      expect(stored[3]?.spec).toEqual({ tenantId: 'Research_Lab', gpuQuota: 8 });
      const tenants = (await get('/v1/tenants')).body as unknown as { items: Doc[] };
      expect(tenants.items.map((d) => d.metadata.name)).toEqual(['research', 'team-a']);

      const again = await cli(['apply', '-f', EXAMPLE]);
      expect(again).toEqual({
        code: 0,
        stdout: 'aijobqueue/training configured\ncomputecluster/gpu configured\ntenantpolicy/team-a configured\ntenantpolicy/research configured\n',
        stderr: '',
      });

      const asJson = await cli(['apply', '-f', EXAMPLE, '-o', 'json']);
      expect(asJson.code).toBe(0);
      expect(asJson.stderr).toBe('');
      // The same documents, unchanged (same uid and resourceVersion: nothing changed).
      expect(JSON.parse(asJson.stdout)).toEqual({ apiVersion: 'v1', kind: 'List', items: stored });

      // What -o json prints is a List that apply takes back (server-set metadata is ignored).
      const back = await cli(['apply', '-f', '-'], { input: asJson.stdout });
      expect(back.stdout).toBe(first.stdout.replaceAll('created', 'configured'));
      expect(back.code).toBe(0);
    },
    T,
  );

  it(
    'reads JSON (an object, an array, a List) from files and stdin, and replaces a changed spec',
    async () => {
      const queue = (name: string, spec: Record<string, unknown>) => ({ apiVersion: 'runway.dev/v1alpha1', kind: 'AIJobQueue', metadata: { name }, spec });
      const one = file('one.json', JSON.stringify(queue('json-a', { maxConcurrency: 1 })));
      const array = file('array.json', JSON.stringify([queue('json-b', {}), queue('json-a', { maxConcurrency: 2 })]));
      const list = JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [queue('json-c', { priority: 5 })] });

      expect(await cli(['apply', '-f', one])).toEqual({ code: 0, stdout: 'aijobqueue/json-a created\n', stderr: '' });
      expect(await cli(['apply', '-f', array])).toEqual({ code: 0, stdout: 'aijobqueue/json-b created\naijobqueue/json-a configured\n', stderr: '' });
      expect(await cli(['apply', '-f', '-'], { input: list })).toEqual({ code: 0, stdout: 'aijobqueue/json-c created\n', stderr: '' });

      const a = await get('/v1/queues/json-a');
      expect(a.body.spec).toEqual({ maxConcurrency: 2 });
      expect(a.body.metadata).toMatchObject({ generation: 2 });
      expect((await get('/v1/queues/json-c')).body.spec).toEqual({ priority: 5 });
    },
    T,
  );

  it(
    'a document without a known kind, the apiVersion or metadata.name is a usage error naming it (exit 2), and nothing is applied',
    async () => {
      const good = 'apiVersion: runway.dev/v1alpha1\nkind: AIJobQueue\nmetadata:\n  name: never-applied\nspec: {}\n';
      const unknownKind = file('kind.yaml', `${good}---\napiVersion: runway.dev/v1alpha1\nkind: Queue\nmetadata:\n  name: x\n`);
      const noKind = file('nokind.yaml', `${good}---\napiVersion: runway.dev/v1alpha1\nmetadata:\n  name: x\n`);
      // An empty document (a trailing or doubled ---) is skipped and not counted.
      const noName = file('noname.yaml', `${good}---\n---\n${good}---\napiVersion: runway.dev/v1alpha1\nkind: TenantPolicy\nmetadata: {}\nspec:\n  gpuQuota: 1\n---\n`);
      const badVersion = file('version.json', JSON.stringify([{ apiVersion: 'v1', kind: 'TenantPolicy', metadata: { name: 'x' } }]));
      const notYaml = file('broken.yaml', `${good}---\nkind: [AIJobQueue\n`);
      const empty = file('empty.yaml', '# nothing here\n');

      const results = await Promise.all([
        cli(['apply', '-f', unknownKind]),
        cli(['apply', '-f', noKind]),
        cli(['apply', '-f', noName]),
        cli(['apply', '-f', badVersion]),
        cli(['apply', '-f', '-'], { input: '[1]' }),
        cli(['apply', '-f', notYaml]),
        cli(['apply', '-f', empty]),
        cli(['apply', '-f', join(dir, 'missing.yaml')]),
      ]);
      expect(results.map((r) => r.stderr)).toEqual([
        `error: ${unknownKind} document 2: unknown kind "Queue" (expected AIJobQueue, ComputeCluster or TenantPolicy)\n`,
        `error: ${noKind} document 2: missing kind (expected AIJobQueue, ComputeCluster or TenantPolicy)\n`,
        `error: ${noName} document 3 (TenantPolicy): missing metadata.name\n`,
        `error: ${badVersion} document 1 (TenantPolicy): apiVersion "v1", expected runway.dev/v1alpha1\n`,
        'error: stdin document 1 is number 1, not a policy document (apiVersion, kind, metadata, spec)\n',
        expect.stringMatching(new RegExp(`^error: ${notYaml} is not valid YAML: .+\\n$`)),
        `error: ${empty} holds no documents\n`,
        `error: cannot read ${join(dir, 'missing.yaml')}: no such file\n`,
      ]);
      for (const r of results) expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 2, stdout: '' });
      expect((await get('/v1/queues/never-applied')).status).toBe(404);
    },
    T,
  );

  it(
    "a document the server refuses exits 1 with the server's message and code; the documents before it stay applied",
    async () => {
      const refused = file(
        'refused.yaml',
        [
          'apiVersion: runway.dev/v1alpha1\nkind: AIJobQueue\nmetadata: {name: before}\nspec: {maxConcurrency: 1}',
          'apiVersion: runway.dev/v1alpha1\nkind: AIJobQueue\nmetadata: {name: negative}\nspec: {maxConcurrency: -1}',
          'apiVersion: runway.dev/v1alpha1\nkind: TenantPolicy\nmetadata: {name: after}\nspec: {gpuQuota: 1}',
        ].join('\n---\n'),
      );
      const r = await cli(['apply', '-f', refused]);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('aijobqueue/before created\n');
      expect(r.stderr).toMatch(
        new RegExp(
          '^Error: aijobqueue/negative: invalid spec\\.maxConcurrency: must be >= 0 \\(got -1\\) \\(INVALID_REQUEST\\)\\n' +
            REQUEST_ID +
            'Applied 1 of 3 documents \\(aijobqueue/before\\); not applied: aijobqueue/negative, tenantpolicy/after\\.\\n$',
        ),
      );
      expect((await get('/v1/queues/before')).status).toBe(200);
      expect((await get('/v1/queues/negative')).status).toBe(404);
      expect((await get('/v1/tenants/after')).status).toBe(404);

      // With -o json, stdout still holds valid JSON: the documents that were applied.
      const json = await cli(['apply', '-f', refused, '-o', 'json']);
      expect(json.code).toBe(1);
      const printed = JSON.parse(json.stdout) as { kind: string; items: Doc[] };
      expect(printed.kind).toBe('List');
      expect(printed.items.map((d) => d.metadata.name)).toEqual(['before']);
      expect(json.stderr).toContain('(INVALID_REQUEST)');

      // A name the server refuses (not a DNS label), alone in its file: no summary line.
      const badName = await cli(['apply', '-f', '-'], { input: '{"apiVersion": "runway.dev/v1alpha1", "kind": "AIJobQueue", "metadata": {"name": "Not_A_Label"}}' });
      expect(badName.code).toBe(1);
      expect(badName.stdout).toBe('');
      expect(badName.stderr).toMatch(
        new RegExp(`^Error: aijobqueue/Not_A_Label: invalid AIJobQueue name "Not_A_Label": expected a DNS label .*\\(INVALID_REQUEST\\)\\n${REQUEST_ID}$`),
      );
    },
    T,
  );

  it(
    'with RUNWAY_ADMIN_TOKEN set on the server: no token or a wrong one exits 1 (UNAUTHORIZED); --token or the env var succeeds',
    async () => {
      const server = guarded;
      const none = await cli(['apply', '-f', EXAMPLE], { server });
      expect(none.code).toBe(1);
      expect(none.stdout).toBe('');
      expect(none.stderr).toMatch(
        new RegExp(
          '^Error: aijobqueue/training: policy writes need the admin token: send Authorization: Bearer <RUNWAY_ADMIN_TOKEN> \\(UNAUTHORIZED\\)\\n' +
            REQUEST_ID +
            'Applied 0 of 4 documents; not applied: aijobqueue/training, computecluster/gpu, tenantpolicy/team-a, tenantpolicy/research\\.\\n$',
        ),
      );
      const wrong = await cli(['apply', '-f', EXAMPLE, '--token', 'not-the-admin-token'], { server });
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toMatch(/^Error: aijobqueue\/training: the bearer token is not the admin token \(UNAUTHORIZED\)\n/);
      expect((await get('/v1/queues/training', server)).status).toBe(404);

      const withFlag = await cli(['apply', '-f', EXAMPLE, '--token', TOKEN], { server });
      expect(withFlag).toEqual({
        code: 0,
        stdout: 'aijobqueue/training created\ncomputecluster/gpu created\ntenantpolicy/team-a created\ntenantpolicy/research created\n',
        stderr: '',
      });
      const fromEnv = await cli(['apply', '-f', EXAMPLE], { server, env: { RUNWAY_ADMIN_TOKEN: TOKEN } });
      expect(fromEnv.code).toBe(0);
      expect(fromEnv.stdout).toBe('aijobqueue/training configured\ncomputecluster/gpu configured\ntenantpolicy/team-a configured\ntenantpolicy/research configured\n');

      const denied = await cli(['delete', 'queue', 'training'], { server });
      expect(denied.code).toBe(1);
      expect(denied.stderr).toMatch(/^Error: policy writes need the admin token: .* \(UNAUTHORIZED\)\n/);
      expect(await cli(['delete', 'queue', 'training', '--token', TOKEN], { server })).toEqual({ code: 0, stdout: 'aijobqueue/training deleted\n', stderr: '' });

      const badToken = await cli(['delete', 'queue', 'training', '--token', 'has space'], { server });
      expect(badToken).toEqual({
        code: 2,
        stdout: '',
        stderr: 'error: invalid admin token (from --token or RUNWAY_ADMIN_TOKEN): expected printable ASCII without spaces\n',
      });
    },
    T,
  );
});

describe('runway delete', () => {
  it(
    'deletes by kind and name (queue/cluster/tenant or the kind), prints what it deleted; a second delete exits 1 NOT_FOUND',
    async () => {
      const docs = [
        'apiVersion: runway.dev/v1alpha1\nkind: AIJobQueue\nmetadata: {name: doomed}',
        'apiVersion: runway.dev/v1alpha1\nkind: ComputeCluster\nmetadata: {name: doomed}',
        'apiVersion: runway.dev/v1alpha1\nkind: TenantPolicy\nmetadata: {name: doomed}',
      ].join('\n---\n');
      expect((await cli(['apply', '-f', '-'], { input: docs })).code).toBe(0);

      expect(await cli(['delete', 'queue', 'doomed'])).toEqual({ code: 0, stdout: 'aijobqueue/doomed deleted\n', stderr: '' });
      expect(await cli(['delete', 'ComputeCluster', 'doomed'])).toEqual({ code: 0, stdout: 'computecluster/doomed deleted\n', stderr: '' });
      const json = await cli(['delete', 'tp', 'doomed', '-o', 'json']);
      expect(json.code).toBe(0);
      expect(JSON.parse(json.stdout)).toEqual({ kind: 'TenantPolicy', name: 'doomed', deleted: true });
      for (const path of ['/v1/queues/doomed', '/v1/clusters/doomed', '/v1/tenants/doomed']) expect((await get(path)).status).toBe(404);

      const again = await cli(['delete', 'queue', 'doomed']);
      expect(again.code).toBe(1);
      expect(again.stdout).toBe('');
      expect(again.stderr).toMatch(new RegExp(`^Error: queue doomed not found \\(NOT_FOUND\\)\\n${REQUEST_ID}$`));

      // The default queue has no object here: it is the implicit direct queue, which cannot be deleted.
      const implicit = await cli(['delete', 'queue', 'default']);
      expect(implicit.code).toBe(1);
      expect(implicit.stderr).toMatch(/^Error: queue default has no object to delete: without one it is the implicit direct queue \(NOT_FOUND\)\n/);

      const badKind = await cli(['delete', 'job', 'x']);
      expect(badKind.code).toBe(2);
      expect(badKind.stderr).toContain(
        "error: command-argument value 'job' is invalid for argument 'kind'. expected queue, cluster or tenant (or the kind: AIJobQueue, ComputeCluster, TenantPolicy), got 'job'",
      );
    },
    T,
  );

  it(
    'the help lists apply and delete with examples',
    async () => {
      const help = await cli(['--help']);
      expect(help.code).toBe(0);
      expect(help.stdout).toMatch(/\n {2}apply \[options\] +create or replace queues, compute clusters/);
      expect(help.stdout).toMatch(/\n {2}delete \[options\] <kind> <name> +delete a queue, compute cluster or tenant/);
      expect(help.stdout).toContain('\n  $ runway apply -f deploy/examples/policies.yaml\n  $ runway delete queue training\n');
      expect(help.stdout).toContain('\n  RUNWAY_ADMIN_TOKEN  admin token for apply and delete (or --token)\n');
      const apply = await cli(['apply', '--help']);
      expect(apply.stdout).toContain('--token <token>');
      expect(apply.stdout).toContain('$ runway apply -f deploy/examples/policies.yaml');
    },
    T,
  );
});
