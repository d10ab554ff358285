/** JSON logs (pino). One logger for the process; requests and jobs log children of it. */
import { pino, type Logger, type DestinationStream } from 'pino';

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
export type Log = Pick<Logger, 'info' | 'warn' | 'error' | 'debug'>;
