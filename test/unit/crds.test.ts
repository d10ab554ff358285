// The CRDs in deploy/crds/ are generated from src/cluster/kube/crds.ts, whose AIJob spec is derived
// from JobSpecSchema. These tests keep the three from drifting apart.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { runwayCrdFiles, runwayCrds, toStructuralSchema, type StructuralSchema } from '../../src/cluster/kube/crds.js';
import { DNS_LABEL_PATTERN, JobSpecSchema } from '../../src/core/job-spec.js';
import { JOB_STATUSES } from '../../src/core/status.js';

const CRD_DIR = join(import.meta.dirname, '..', '..', 'deploy', 'crds');

function schemaOf(kind: string): StructuralSchema {
  const crd = runwayCrds().find((c) => c.spec.names.kind === kind);
  if (!crd) throw new Error(`no CRD for ${kind}`);
  const v = crd.spec.versions[0];
  if (!v) throw new Error(`${kind}: no version`);
  return v.schema.openAPIV3Schema;
}

/** Every key path in a value, e.g. "spec.versions.0.schema...". */
function keyPaths(value: unknown, prefix = ''): string[] {
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]) => [`${prefix}${k}`, ...keyPaths(v, `${prefix}${k}.`)]);
}

describe('generated CRDs', () => {
  it('match the committed files in deploy/crds (run `npx tsx scripts/gen-crds.ts` after changing them)', () => {
    for (const { file, content } of runwayCrdFiles()) {
      let committed: string;
      try {
        committed = readFileSync(join(CRD_DIR, file), 'utf8');
      } catch {
        throw new Error(`deploy/crds/${file} is missing: run npx tsx scripts/gen-crds.ts`);
      }
      expect(committed, `deploy/crds/${file} is stale: run npx tsx scripts/gen-crds.ts`).toBe(content);
    }
  });

  it('are four v1 CRDs of runway.dev/v1alpha1, served and stored, with a status subresource', () => {
    const crds = runwayCrds();
    expect(crds.map((c) => [c.metadata.name, c.spec.scope, c.spec.names.shortNames])).toEqual([
      ['aijobs.runway.dev', 'Namespaced', ['aij']],
      ['aijobqueues.runway.dev', 'Cluster', ['aijq']],
      ['computeclusters.runway.dev', 'Cluster', ['cc']],
      ['tenantpolicies.runway.dev', 'Cluster', ['tp']],
    ]);
    for (const c of crds) {
      expect(c.apiVersion).toBe('apiextensions.k8s.io/v1');
      expect(c.spec.group).toBe('runway.dev');
      expect(c.spec.versions).toHaveLength(1);
      expect(c.spec.versions[0]).toMatchObject({ name: 'v1alpha1', served: true, storage: true, subresources: { status: {} } });
    }
  });

  it('round-trip through YAML unchanged', () => {
    const files = runwayCrdFiles().filter((f) => f.file !== 'kustomization.yaml');
    const parsed = files.map((f) => parseAllDocuments(f.content).map((d) => d.toJS() as unknown));
    expect(parsed.flat()).toEqual(runwayCrds());
  });

  it('give AIJob a spec with exactly the properties and required list of JobSpecSchema', () => {
    const spec = schemaOf('AIJob').properties?.spec;
    expect(Object.keys(spec?.properties ?? {})).toEqual(Object.keys(JobSpecSchema.properties));
    expect(spec?.required).toEqual(JobSpecSchema.required);
    expect(schemaOf('AIJob').required).toEqual(['spec']);
  });

  it('keep the job spec bounds, in the draft-4 form Kubernetes reads', () => {
    const p = schemaOf('AIJob').properties?.spec?.properties ?? {};
    expect(p.cpu).toMatchObject({ type: 'number', minimum: 0, exclusiveMinimum: true });
    expect(p.timeout_s).toMatchObject({ type: 'integer', minimum: 0, exclusiveMinimum: true });
    expect(p.priority).toMatchObject({ type: 'integer', minimum: -1000, maximum: 1000 });
    expect(p.queue?.pattern).toBe(DNS_LABEL_PATTERN);
    expect(p.env).toEqual({ type: 'object', maxProperties: 128, additionalProperties: { type: 'string', maxLength: 32768 } });
    expect(p.retry_policy?.required).toEqual(['max_retries']);
  });

  it('give AIJob a status phase enum of JOB_STATUSES and the printer columns kubectl shows', () => {
    const status = schemaOf('AIJob').properties?.status;
    expect(status?.properties?.phase?.enum).toEqual([...JOB_STATUSES]);
    for (const f of ['reason', 'message', 'exitCode', 'attempts', 'attempt', 'startTime', 'completionTime', 'estimatedCost', 'conditions', 'admittedAt', 'pool', 'failures', 'preemptions', 'nextAttemptAt']) {
      expect(status?.properties, f).toHaveProperty(f);
    }
    const aijob = runwayCrds()[0];
    const cols = aijob?.spec.versions[0]?.additionalPrinterColumns.filter((c) => !c.priority).map((c) => [c.name, c.jsonPath]);
    expect(cols).toEqual([
      ['Tenant', '.spec.tenant_id'],
      ['Status', '.status.phase'],
      ['GPUs', '.spec.gpu_count'],
      ['Queue', '.spec.queue'],
      ['Age', '.metadata.creationTimestamp'],
    ]);
  });

  it('are structural: no patternProperties, $id, numeric exclusive bounds or additionalProperties next to properties', () => {
    for (const crd of runwayCrds()) {
      const paths = keyPaths(crd);
      expect(paths.filter((p) => /(^|\.)(patternProperties|\$id|\$schema|anyOf|oneOf|const)$/.test(p)), crd.metadata.name).toEqual([]);
      const walk = (s: StructuralSchema, at: string): void => {
        expect(s.type, `${at} needs a type`).toBeDefined();
        if (s.exclusiveMinimum !== undefined) expect(typeof s.exclusiveMinimum, at).toBe('boolean');
        if (s.exclusiveMaximum !== undefined) expect(typeof s.exclusiveMaximum, at).toBe('boolean');
        expect(s.properties && s.additionalProperties, `${at}: properties with additionalProperties`).toBeFalsy();
        for (const [k, v] of Object.entries(s.properties ?? {})) walk(v, `${at}.${k}`);
        if (s.items) walk(s.items, `${at}[]`);
        if (s.additionalProperties) walk(s.additionalProperties, `${at}[*]`);
      };
      walk(crd.spec.versions[0]?.schema.openAPIV3Schema ?? {}, crd.metadata.name);
    }
    for (const f of runwayCrdFiles()) expect(f.content).not.toContain('patternProperties');
  });
});

describe('toStructuralSchema', () => {
  it('turns unions of literals into enums', () => {
    expect(toStructuralSchema({ anyOf: [{ const: 'a' }, { const: 'b' }] })).toEqual({ type: 'string', enum: ['a', 'b'] });
  });

  it('keeps the stricter of an inclusive and an exclusive bound', () => {
    expect(toStructuralSchema({ type: 'number', minimum: 1, exclusiveMinimum: 0 })).toEqual({ type: 'number', minimum: 1 });
    expect(toStructuralSchema({ type: 'number', minimum: 0, exclusiveMinimum: 0 })).toEqual({ type: 'number', minimum: 0, exclusiveMinimum: true });
    expect(toStructuralSchema({ type: 'number', exclusiveMaximum: 5 })).toEqual({ type: 'number', maximum: 5, exclusiveMaximum: true });
  });

  it('refuses what a structural schema cannot say, naming where', () => {
    expect(() => toStructuralSchema({ type: 'object', properties: { a: { type: ['string', 'null'] } } })).toThrow(/\$\.a: needs a single type/);
    expect(() => toStructuralSchema({ type: 'object', properties: { a: { $ref: '#/x' } } })).toThrow(/\$\.a: .*"\$ref"/);
    expect(() => toStructuralSchema({ anyOf: [{ type: 'string' }, { type: 'number' }] })).toThrow(/only unions of literals/);
    expect(() => toStructuralSchema({ type: 'string', format: 'regex' })).toThrow(/format "regex"/);
    expect(() => toStructuralSchema({ type: 'object', patternProperties: { a: { type: 'string' }, b: { type: 'string' } } })).toThrow(/one key pattern/);
  });
});
