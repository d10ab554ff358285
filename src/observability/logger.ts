/** JSON logs (pino). One logger for the process; requests and jobs log children of it. */
import { pino, type Bindings, type ChildLoggerOptions, type Logger, type DestinationStream } from 'pino';

export type { Logger };

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'runway' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}

/** The part of a logger the services use: satisfied by the process logger and a request's logger. */
export type Log = Pick<Logger, 'info' | 'warn' | 'error' | 'debug' | 'isLevelEnabled'>;

type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/**
 * A child logger whose pino child is built on the first line written at an enabled level: building one
 * (bindings stringified, formatters rebuilt) costs about a microsecond, and most requests log nothing.
 * It writes exactly what `parent.child(bindings, options)` would.
 */
export class LazyChildLogger {
  private built: Logger | undefined;

  constructor(
    private readonly parent: Logger,
    private readonly bindings: Bindings,
    private readonly options: ChildLoggerOptions,
  ) {}

  /** The pino child, built now if it was not yet. */
  private get logger(): Logger {
    return (this.built ??= this.parent.child(this.bindings, this.options));
  }

  // Until built, the child's level is its parent's (a pino child reads it through its prototype).
  get level(): string {
    return (this.built ?? this.parent).level;
  }

  set level(level: string) {
    this.logger.level = level;
  }

  isLevelEnabled(level: string): boolean {
    return (this.built ?? this.parent).isLevelEnabled(level);
  }

  fatal(...args: unknown[]): void {
    this.write('fatal', args);
  }
  error(...args: unknown[]): void {
    this.write('error', args);
  }
  warn(...args: unknown[]): void {
    this.write('warn', args);
  }
  info(...args: unknown[]): void {
    this.write('info', args);
  }
  debug(...args: unknown[]): void {
    this.write('debug', args);
  }
  trace(...args: unknown[]): void {
    this.write('trace', args);
  }
  silent(): void {}

  child(bindings: Bindings, options?: ChildLoggerOptions): Logger {
    return this.logger.child(bindings, options);
  }

  private write(level: Level, args: unknown[]): void {
    if (!this.isLevelEnabled(level)) return;
    const logger = this.logger;
    Reflect.apply(logger[level], logger, args);
  }
}

/**
 * A request's logger (Fastify's childLoggerFactory): lazy, unless the route sets its own level, which
 * the parent's level would not tell.
 */
export function requestLogger(parent: Logger, bindings: Bindings, options: ChildLoggerOptions): LazyChildLogger | Logger {
  return options.level === undefined ? new LazyChildLogger(parent, bindings, options) : parent.child(bindings, options);
}
