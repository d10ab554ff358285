import { describe, expect, it } from 'vitest';
import { RunwayError } from '../../src/core/errors.js';
import { fieldFromPointer, parseJobSpec } from '../../src/core/validation.js';

const valid = { image: 'pytorch/pytorch:2.3', cpu: 4, memory_mb: 16384, gpu_count: 2, timeout_s: 1800 };

function rejection(body: unknown, header?: string | string[]): RunwayError {
  try {
    parseJobSpec(body, header);
  } catch (err) {
    if (err instanceof RunwayError) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

describe('parseJobSpec', () => {
  it('accepts the README example and fills defaults', () => {
    expect(parseJobSpec(valid, 'team-a')).toEqual({
      tenant_id: 'team-a',
      image: 'pytorch/pytorch:2.3',
      cpu: 4,
      memory_mb: 16384,
      gpu_count: 2,
      timeout_s: 1800,
      queue: 'default',
      priority: 0,
      replicas: 1,
    });
  });

  it('returns an immutable spec: it and every part of it are frozen', () => {
    const spec = parseJobSpec(
      {
        ...valid,
        env: { A: '1' },
        command: ['python'],
        args: ['x.py'],
        labels: { team: 'ml' },
        annotations: { note: 'x' },
        retry_policy: { max_retries: 2, backoff_multiplier: 2 },
      },
      'team-a',
    );
    const parts = [spec, spec.env, spec.command, spec.args, spec.labels, spec.annotations, spec.retry_policy];
    expect(parts.map((p) => p !== undefined && Object.isFrozen(p))).toEqual(parts.map(() => true));
    expect(() => {
      (spec.env as Record<string, string>).B = '2';
    }).toThrow(TypeError);
  });

  it('defaults gpu_count to 0 and keeps optional fields', () => {
    const spec = parseJobSpec(
      { ...valid, gpu_count: undefined, tenant_id: 'ml', name: 'train', env: { A_B: '1' }, command: ['python'], args: ['x.py'], labels: { team: 'ml' } },
      undefined,
    );
    expect(spec.gpu_count).toBe(0);
    expect(spec.tenant_id).toBe('ml');
    expect(spec.env).toEqual({ A_B: '1' });
    expect(spec.command).toEqual(['python']);
    expect(spec.labels).toEqual({ team: 'ml' });
  });

  it('accepts fractional cpu down to 1m and refuses finer', () => {
    expect(parseJobSpec({ ...valid, cpu: 0.5 }, 't').cpu).toBe(0.5);
    expect(parseJobSpec({ ...valid, cpu: 0.001 }, 't').cpu).toBe(0.001);
    const err = rejection({ ...valid, cpu: 0.0005 }, 't');
    expect(err.code).toBe('INVALID_REQUEST');
    expect(err.details.field).toBe('cpu');
  });

  it.each([
    ['cpu zero', { cpu: 0 }, 'cpu'],
    ['cpu negative', { cpu: -1 }, 'cpu'],
    ['cpu as string', { cpu: '4' }, 'cpu'],
    ['cpu infinite (1e999 parses to Infinity)', { cpu: JSON.parse('1e999') as number }, 'cpu'],
    ['cpu NaN', { cpu: NaN }, 'cpu'],
    ['memory fractional', { memory_mb: 1.5 }, 'memory_mb'],
    ['memory zero', { memory_mb: 0 }, 'memory_mb'],
    ['gpu fractional', { gpu_count: 0.5 }, 'gpu_count'],
    ['gpu negative', { gpu_count: -1 }, 'gpu_count'],
    ['timeout zero', { timeout_s: 0 }, 'timeout_s'],
    ['timeout fractional', { timeout_s: 1.5 }, 'timeout_s'],
    ['timeout null', { timeout_s: null }, 'timeout_s'],
    ['image empty', { image: '' }, 'image'],
    ['image with spaces', { image: 'a b' }, 'image'],
    ['image too long', { image: 'a'.repeat(513) }, 'image'],
    ['replicas zero', { replicas: 0 }, 'replicas'],
    ['priority out of range', { priority: 1001 }, 'priority'],
    ['queue not a DNS label', { queue: 'Batch_Q' }, 'queue'],
    ['env value not a string', { env: { A: 1 } }, 'env.A'],
    ['env name invalid', { env: { '1A': 'x' } }, 'env.1A'],
    ['command not an array', { command: 'python' }, 'command'],
    ['command item not a string', { command: ['python', 3] }, 'command[1]'],
    ['label reserved prefix', { labels: { 'runway.dev/tenant': 'x' } }, 'labels.runway.dev/tenant'],
    ['label value invalid', { labels: { team: 'a b' } }, 'labels.team'],
    ['retry policy unknown field', { retry_policy: { max_retries: 1, delay: 3 } }, 'retry_policy.delay'],
    ['expected runtime over timeout', { expected_runtime_s: 4000, timeout_s: 3600 }, 'expected_runtime_s'],
    ['idempotency key with spaces', { idempotency_key: 'a b' }, 'idempotency_key'],
  ])('refuses %s with INVALID_REQUEST naming %s', (_name, patch, field) => {
    const err = rejection({ ...valid, ...patch }, 'team-a');
    expect(err.code).toBe('INVALID_REQUEST');
    expect(err.status).toBe(400);
    expect(err.details.field).toBe(field);
    expect(err.message).toContain(field.split('.')[0]?.split('[')[0]);
  });

  it('names the unknown field', () => {
    const err = rejection({ ...valid, gpus: 2 }, 't');
    expect(err.details).toEqual({ field: 'gpus', unknown_fields: ['gpus'] });
    expect(err.message).toBe("unknown field 'gpus'");
  });

  it('names the missing field', () => {
    const err = rejection({ image: 'x', cpu: 1, memory_mb: 1 }, 't');
    expect(err.details.field).toBe('timeout_s');
    expect(err.message).toBe("missing required field 'timeout_s'");
  });

  it.each([null, [], 'job', 42, true])('refuses a body that is not an object: %j', (body) => {
    expect(rejection(body, 't').details.field).toBe('body');
  });

  describe('tenant', () => {
    it('takes the header when the body has none', () => {
      expect(parseJobSpec(valid, 'team-b').tenant_id).toBe('team-b');
    });
    it('takes the body when both agree', () => {
      expect(parseJobSpec({ ...valid, tenant_id: 'team-b' }, 'team-b').tenant_id).toBe('team-b');
    });
    it('refuses a conflict between body and header', () => {
      const err = rejection({ ...valid, tenant_id: 'team-a' }, 'team-b');
      expect(err.details.field).toBe('tenant_id');
      expect(err.message).toContain('conflicts');
    });
    it('refuses a missing tenant', () => {
      const err = rejection(valid, undefined);
      expect(err.details.field).toBe('tenant_id');
      expect(err.message).toContain('X-Tenant-ID');
    });
    it('refuses a repeated header', () => {
      expect(rejection(valid, ['a', 'b']).details.field).toBe('X-Tenant-ID');
    });
    it.each([
      ['unicode', 'équipe'],
      ['emoji', 'team-🚀'],
      ['oversized (64 chars)', 'a'.repeat(64)],
      ['leading dash', '-team'],
      ['space', 'team a'],
      ['empty', ''],
      ['slash', 'a/b'],
    ])('refuses a %s tenant id in the header and in the body', (_name, tenant) => {
      expect(rejection(valid, tenant).code).toBe('INVALID_REQUEST');
      expect(rejection({ ...valid, tenant_id: tenant }, undefined).details.field).toBe('tenant_id');
    });
    it('accepts a 63-character tenant id', () => {
      expect(parseJobSpec(valid, 'a'.repeat(63)).tenant_id).toBe('a'.repeat(63));
    });
  });
});

describe('fieldFromPointer', () => {
  it.each([
    ['/cpu', 'cpu'],
    ['/retry_policy/max_retries', 'retry_policy.max_retries'],
    ['/command/0', 'command[0]'],
    ['/labels/a~1b', 'labels.a/b'],
    ['', ''],
  ])('%s -> %s', (pointer, field) => expect(fieldFromPointer(pointer)).toBe(field));
});
