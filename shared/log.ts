// Structured logging: JSON lines on stderr. Never pass secret bytes to a logger: log names, sizes and IDs only.
import pino, { type Logger, type LevelWithSilent } from 'pino';
import { LogSink } from './log-sink.js';

export type { Logger };

export const LOG_LEVELS: readonly LevelWithSilent[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export function isLogLevel(v: string): v is LevelWithSilent {
  return (LOG_LEVELS as readonly string[]).includes(v);
}

// One sink per process, so that the lines of all loggers keep their order on fd 2.
let sink: LogSink | null = null;

/**
 * A logger writing JSON lines to fd 2 without ever blocking the process (see log-sink.ts). Call flushLogs() before
 * process.exit so that the last lines are not lost.
 */
export function createLogger(component: string, level: LevelWithSilent = 'info'): Logger {
  sink ??= new LogSink();
  return pino(
    {
      level,
      base: { component, pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    sink,
  );
}

/** Waits until the queued log lines are written, at most timeoutMs. */
export function flushLogs(timeoutMs = 2000): Promise<void> {
  return sink ? sink.flush(timeoutMs) : Promise.resolve();
}
