/**
 * A request's logger (LazyChildLogger): it writes exactly what the pino child it stands for would,
 * and builds that child only for a line written at an enabled level.
 */
import { Writable } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import { createLogger, LazyChildLogger, requestLogger, type Logger } from '../../src/observability/logger.js';

function capture(level: string): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      cb();
    },
  });
  return { logger: createLogger(level, sink), lines };
}

/** A line without its timestamp, which differs between two loggers writing the same thing. */
const untimed = (line: string) => line.replace(/"time":"[^"]*",/, '');

describe('LazyChildLogger', () => {
  it('builds no child for lines below the level, nor for level checks', () => {
    const { logger, lines } = capture('info');
    const child = vi.spyOn(logger, 'child');
    const log = new LazyChildLogger(logger, { request_id: 'r1' }, {});
    log.debug('not written');
    log.trace({ a: 1 }, 'not written');
    expect(log.isLevelEnabled('info')).toBe(true);
    expect(log.isLevelEnabled('debug')).toBe(false);
    expect(log.level).toBe('info');
    expect(child).not.toHaveBeenCalled();
    expect(lines).toEqual([]);
  });

  it('builds nothing at level silent, whatever is logged', () => {
    const { logger, lines } = capture('silent');
    const child = vi.spyOn(logger, 'child');
    const log = new LazyChildLogger(logger, { request_id: 'r1' }, {});
    log.fatal('x');
    log.error({ err: new Error('boom') }, 'x');
    log.warn('x');
    log.info({ a: 1 }, 'x');
    log.silent();
    expect(child).not.toHaveBeenCalled();
    expect(lines).toEqual([]);
  });

  it('writes what the pino child would, with the request id, building that child once', () => {
    const lazy = capture('debug');
    const eager = capture('debug');
    const child = vi.spyOn(lazy.logger, 'child');
    const log = new LazyChildLogger(lazy.logger, { request_id: 'r1' }, {});
    const pinoChild = eager.logger.child({ request_id: 'r1' }, {});
    for (const target of [log, pinoChild]) {
      target.info({ job_id: 'j1', n: 2 }, 'job %s submitted', 'j1');
      target.warn('plain message');
      target.error({ err: new Error('boom') }, 'failed');
      target.debug({ a: [1, 2] }, 'detail');
      target.trace('not written');
    }
    expect(child).toHaveBeenCalledTimes(1);
    expect(lazy.lines).toHaveLength(4);
    expect(lazy.lines.map(untimed)).toEqual(eager.lines.map(untimed));
    for (const line of lazy.lines) expect(JSON.parse(line)).toMatchObject({ service: 'runway', request_id: 'r1' });
  });

  it('follows its parent level until it has its own', () => {
    const { logger, lines } = capture('warn');
    const log = new LazyChildLogger(logger, { request_id: 'r1' }, {});
    log.info('not yet');
    logger.level = 'info';
    log.info('now');
    log.level = 'error';
    expect(logger.level).toBe('info');
    log.warn('no longer');
    expect(lines.map((l) => (JSON.parse(l) as { msg: string }).msg)).toEqual(['now']);
  });

  it('gives children that keep the request id', () => {
    const { logger, lines } = capture('info');
    new LazyChildLogger(logger, { request_id: 'r1' }, {}).child({ job_id: 'j1' }).info('hello');
    expect(JSON.parse(lines[0] as string)).toMatchObject({ request_id: 'r1', job_id: 'j1', msg: 'hello' });
  });
});

describe('requestLogger', () => {
  it('is lazy unless the route sets its own level', () => {
    const { logger, lines } = capture('info');
    expect(requestLogger(logger, { request_id: 'r1' }, {})).toBeInstanceOf(LazyChildLogger);
    const own = requestLogger(logger, { request_id: 'r2' }, { level: 'debug' });
    expect(own).not.toBeInstanceOf(LazyChildLogger);
    own.debug('at the route level');
    expect(JSON.parse(lines[0] as string)).toMatchObject({ request_id: 'r2', level: 'debug' });
  });
});
