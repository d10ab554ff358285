// Runway's alerts and dashboard against promtool (Debian's `prometheus` package, installed by
// scripts/ensure-tools.sh when missing; the suite fails, never skips, when it cannot be had).
// deploy/observability/prometheus-rules.yaml (a PrometheusRule) is the only copy of the rules: its
// .spec is extracted into the plain rules file promtool reads.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { ASSUMED_METRICS, DEPLOY, ROOT, ensureTools, metricsIn, registeredMetrics } from './helpers.js';

const OBS = join(DEPLOY, 'observability');

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleGroups {
  groups: Array<{ name: string; rules: Rule[] }>;
}
interface PromtoolTests {
  rule_files: string[];
  tests: Array<{ name: string; alert_rule_test?: Array<{ alertname: string; exp_alerts?: unknown[] }> }>;
}
interface Panel {
  title: string;
  type: string;
  targets?: Array<{ expr: string }>;
}

const cr = parse(readFileSync(join(OBS, 'prometheus-rules.yaml'), 'utf8')) as { kind: string; spec: RuleGroups };
const alerts = cr.spec.groups.flatMap((g) => g.rules).filter((r): r is Rule & { alert: string } => !!r.alert);
const testSpec = parse(readFileSync(join(OBS, 'prometheus-rules.test.yaml'), 'utf8')) as PromtoolTests;
const dashboard = JSON.parse(readFileSync(join(OBS, 'grafana-dashboard.json'), 'utf8')) as { uid: string; panels: Panel[] };
const dashboardExprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));

let dir = '';

function promtool(...args: string[]): { status: number | null; output: string } {
  const r = spawnSync('promtool', args, { cwd: dir, encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

beforeAll(() => {
  ensureTools('promtool');
  dir = mkdtempSync(join(tmpdir(), 'runway-promtool-'));
  expect(cr.kind).toBe('PrometheusRule');
  const rulesFile = testSpec.rule_files[0];
  if (!rulesFile) throw new Error('prometheus-rules.test.yaml names no rule file');
  writeFileSync(join(dir, rulesFile), stringify(cr.spec));
  copyFileSync(join(OBS, 'prometheus-rules.test.yaml'), join(dir, 'prometheus-rules.test.yaml'));
}, 600_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('PrometheusRule deploy/observability/prometheus-rules.yaml', () => {
  it('passes promtool check rules', () => {
    const r = promtool('check', 'rules', testSpec.rule_files[0] ?? '');
    expect(r.output).toContain(`SUCCESS: ${alerts.length} rules found`);
    expect(r.status, r.output).toBe(0);
  });

  it('passes its promtool unit tests (promtool test rules)', () => {
    const r = promtool('test', 'rules', 'prometheus-rules.test.yaml');
    expect(r.status, r.output).toBe(0);
    expect(r.output).toContain('SUCCESS');
  });

  it('has the alerts the operations guide promises', () => {
    expect(alerts.map((a) => a.alert).sort()).toEqual(
      [
        'RunwayDown',
        'RunwayJobCreationFailures',
        'RunwayRejectionSpike',
        'RunwaySubmitLatencyHigh',
        'RunwayKubernetesAPIUnavailable',
        'RunwayQueueStalled',
        'RunwayRetryStorm',
        'RunwayNodePoolExhausted',
        'RunwayGpuQuotaDrift',
      ].sort(),
    );
  });

  it('tests every alert both firing and silent', () => {
    for (const { alert } of alerts) {
      const cases = testSpec.tests.flatMap((t) => t.alert_rule_test ?? []).filter((c) => c.alertname === alert);
      expect(cases.some((c) => (c.exp_alerts ?? []).length > 0), `${alert}: no test where it fires`).toBe(true);
      expect(cases.some((c) => (c.exp_alerts ?? []).length === 0), `${alert}: no test where it stays silent`).toBe(true);
    }
  });

  it('gives every alert a severity, a summary, a description and a runbook in docs/operations.md', () => {
    const docs = readFileSync(join(ROOT, 'docs', 'operations.md'), 'utf8');
    for (const a of alerts) {
      expect(['critical', 'warning', 'info'], a.alert).toContain(a.labels?.severity);
      expect(a.annotations?.summary, a.alert).toBeTruthy();
      expect(a.annotations?.description, a.alert).toBeTruthy();
      const anchor = a.alert.toLowerCase();
      expect(a.annotations?.runbook_url, a.alert).toBe(`docs/operations.md#${anchor}`);
      // GitHub-style anchor of a "### RunwayXyz" heading.
      expect(docs, `docs/operations.md has no "### ${a.alert}" runbook heading`).toMatch(new RegExp(`^### ${a.alert}\\s*$`, 'm'));
    }
  });

  it('carries no tenant label in any expression', () => {
    for (const a of alerts) expect(a.expr, a.alert).not.toMatch(/tenant/);
  });
});

describe('Grafana dashboard deploy/observability/grafana-dashboard.json', () => {
  it('has the panels the operations guide describes, each with queries', () => {
    const titles = dashboard.panels.filter((p) => p.type !== 'row').map((p) => p.title);
    for (const t of [
      'Submissions and rejections by reason',
      'Submit latency (POST /v1/jobs)',
      'Queue depth and admissions',
      'GPU usage per pool',
      'Job outcomes by reason',
      'Job create failures',
      'Kubernetes API available',
    ]) {
      expect(titles).toContain(t);
    }
    for (const p of dashboard.panels.filter((x) => x.type !== 'row')) expect(p.targets?.length, p.title).toBeGreaterThan(0);
  });

  it('has queries that are valid PromQL (checked by promtool as recording rules)', () => {
    const rules = {
      groups: [
        {
          name: 'dashboard',
          rules: dashboardExprs.map((expr, i) => ({
            record: `dashboard:query_${i}`,
            // Grafana's interval variables are not PromQL.
            expr: expr.replace(/\$__rate_interval|\$__interval/g, '5m'),
          })),
        },
      ],
    };
    writeFileSync(join(dir, 'dashboard-queries.yaml'), stringify(rules));
    const r = promtool('check', 'rules', 'dashboard-queries.yaml');
    expect(r.status, r.output).toBe(0);
  });
});

describe('metric names in alerts and dashboard', () => {
  const registered = new Set(registeredMetrics());
  const known = new Set([...registered, ...Object.keys(ASSUMED_METRICS), 'up']);

  it('finds the metrics Runway registers (sanity check of the parser)', () => {
    for (const m of ['jobs_submitted_total', 'jobs_rejected_total', 'request_latency_seconds_bucket', 'runway_cluster_available']) {
      expect(registered.has(m), m).toBe(true);
    }
    expect(metricsIn('histogram_quantile(0.99, sum by (le) (rate(x_bucket{route="/v1/jobs"}[5m]))) > 0.5 and on () y == 0')).toEqual([
      'x_bucket',
      'y',
    ]);
  });

  it('uses only metrics Runway registers or that are listed as assumed (to be added)', () => {
    for (const expr of [...alerts.map((a) => a.expr), ...dashboardExprs]) {
      for (const m of metricsIn(expr)) expect(known.has(m), `${m} in: ${expr}`).toBe(true);
    }
  });

  it('documents every metric, registered or assumed, in docs/operations.md', () => {
    const docs = readFileSync(join(ROOT, 'docs', 'operations.md'), 'utf8');
    const bases = [...registered].filter((m) => !/_(bucket|count|sum)$/.test(m));
    for (const m of [...bases, ...Object.keys(ASSUMED_METRICS)]) expect(docs, `${m} missing from the metrics reference`).toContain(`\`${m}`);
  });
});
