// A log line as stored (Docker's json-file format) and as read back.
import { formatRfc3339Nano, parseRfc3339Nano } from '../../shared/time.js';

export type LogStream = 'stdout' | 'stderr';

export interface LogEntry {
  stream: LogStream;
  /** Nanoseconds since the epoch. */
  timeNs: bigint;
  /** The line's bytes, its newline included when it had one. */
  line: Buffer;
}

/** Docker's json-file line: {"log":"…\n","stream":"stdout","time":"RFC3339Nano"}. */
export function encodeEntry(e: LogEntry): Buffer {
  return Buffer.from(JSON.stringify({ log: e.line.toString('utf8'), stream: e.stream, time: formatRfc3339Nano(e.timeNs) }) + '\n', 'utf8');
}

/** One stored line back, or null for a line that is not one of ours (a torn last line after a crash). */
export function decodeEntry(text: string): LogEntry | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null) return null;
  const o = v as { log?: unknown; stream?: unknown; time?: unknown };
  if (typeof o.log !== 'string' || (o.stream !== 'stdout' && o.stream !== 'stderr') || typeof o.time !== 'string') return null;
  const timeNs = parseRfc3339Nano(o.time);
  if (timeNs === null) return null;
  return { stream: o.stream, timeNs, line: Buffer.from(o.log, 'utf8') };
}

/** Docker's log timestamp: RFC 3339 with exactly nine fraction digits (jsonmessage.RFC3339NanoFixed). */
export function fixedTimestamp(ns: bigint): string {
  const base = new Date(Number(ns / 1_000_000n)).toISOString().slice(0, 19);
  return `${base}.${(ns % 1_000_000_000n).toString().padStart(9, '0')}Z`;
}

/** A `since`/`until` value as Docker's client sends it ("SECONDS[.NANOS]") in nanoseconds; null when absent or 0. */
export function parseUnixTimestamp(v: string | null): bigint | null {
  if (v === null || v === '' || v === '0') return null;
  const m = /^(\d+)(?:\.(\d{1,9}))?$/.exec(v);
  if (!m) throw new Error(`invalid timestamp "${v}": expected SECONDS[.NANOSECONDS]`);
  return BigInt(m[1]!) * 1_000_000_000n + BigInt((m[2] ?? '').padEnd(9, '0') || '0');
}
