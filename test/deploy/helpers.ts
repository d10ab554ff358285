// Shared by the deploy tests: tool installation, kustomize rendering, and what src/ declares
// (configuration variables, metric names) so manifests, alerts and docs can be checked against it.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parseAllDocuments } from 'yaml';

export const ROOT = join(import.meta.dirname, '..', '..');
export const DEPLOY = join(ROOT, 'deploy');

/** Runs scripts/ensure-tools.sh (installs missing Debian packages); throws with its output on failure. */
export function ensureTools(...tools: string[]): void {
  const r = spawnSync('bash', [join(ROOT, 'scripts', 'ensure-tools.sh'), ...tools], { encoding: 'utf8' });
  if (r.status !== 0) {
    throw new Error(`scripts/ensure-tools.sh ${tools.join(' ')} failed (exit ${r.status}):\n${r.stderr}${r.stdout}`);
  }
}

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [key: string]: unknown;
}

export function parseYamlDocs(text: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}

/** `kubectl kustomize` of a directory under deploy/. */
export function kustomize(dirUnderDeploy: string): K8sObject[] {
  const out = execFileSync('kubectl', ['kustomize', join(DEPLOY, dirUnderDeploy)], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  return parseYamlDocs(out);
}

/** Renders resources + components (paths under deploy/) through a throwaway kustomization. */
export function kustomizeWith(resources: string[], components: string[]): K8sObject[] {
  const dir = mkdtempSync(join(tmpdir(), 'runway-kustomize-'));
  try {
    // kustomize accepts only relative paths to other kustomizations.
    const rel = (p: string) => relative(dir, join(DEPLOY, p));
    const lines = ['resources:', ...resources.map((r) => `  - ${rel(r)}`), 'components:', ...components.map((c) => `  - ${rel(c)}`)];
    writeFileSync(join(dir, 'kustomization.yaml'), lines.join('\n') + '\n');
    return parseYamlDocs(execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function find(objs: K8sObject[], kind: string, name?: string, namespace?: string): K8sObject[] {
  return objs.filter(
    (o) =>
      o.kind === kind &&
      (name === undefined || o.metadata.name === name) &&
      (namespace === undefined || o.metadata.namespace === namespace),
  );
}

export function one(objs: K8sObject[], kind: string, name?: string, namespace?: string): K8sObject {
  const found = find(objs, kind, name, namespace);
  if (found.length !== 1) throw new Error(`expected one ${kind} ${name ?? ''}, found ${found.length}`);
  return found[0] as K8sObject;
}

/** Environment variables src/config.ts reads (read/number/oneOf/bool calls). */
export function configVariables(): string[] {
  const src = readFileSync(join(ROOT, 'src', 'config.ts'), 'utf8');
  const names = [...src.matchAll(/\b(?:read|number|oneOf|bool|dnsLabel|list)\(\s*env,\s*'([A-Z][A-Z0-9_]*)'/g)].map((m) => m[1] as string);
  return [...new Set(names)];
}

/**
 * Variables the manifests set that src/config.ts does not read yet: the app is to implement them
 * (docs/operations.md documents them). Delete an entry once config.ts reads it.
 */
export const PENDING_CONFIG_VARIABLES: Record<string, string> = {};

/** Metric names registered in src/observability/metrics.ts, histograms expanded to their series. */
export function registeredMetrics(): string[] {
  const src = readFileSync(join(ROOT, 'src', 'observability', 'metrics.ts'), 'utf8');
  const names: string[] = [];
  for (const m of src.matchAll(/new (Counter|Gauge|Histogram|Summary)\(\{\s*name:\s*'([a-zA-Z_:][a-zA-Z0-9_:]*)'/g)) {
    const [, type, name] = m as unknown as [string, string, string];
    names.push(name);
    if (type === 'Histogram') names.push(`${name}_bucket`, `${name}_count`, `${name}_sum`);
  }
  return names;
}

/**
 * Metrics the alerts and dashboard use that Runway does not export yet (the app is to add them,
 * without tenant labels). Delete an entry once src/observability/metrics.ts registers it.
 */
export const ASSUMED_METRICS: Record<string, string> = {};

const PROMQL_WORDS = new Set([
  'and', 'or', 'unless', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'offset',
  'inf', 'nan', 'le',
]);

/** Metric names in a PromQL expression (labels, strings, ranges, functions and keywords removed). */
export function metricsIn(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const out = new Set<string>();
  for (const m of stripped.matchAll(/(?<![\w:.])[a-zA-Z_:][a-zA-Z0-9_:]*(?=\s*(\(?))/g)) {
    const word = m[0];
    if (m[1] === '(' || PROMQL_WORDS.has(word.toLowerCase())) continue;
    out.add(word);
  }
  return [...out];
}
