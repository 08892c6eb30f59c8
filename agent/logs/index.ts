// The agent's task log store (json-file format, rotated): see log-store.ts.
export { LogStore, DEFAULT_ROTATION, type TaskLogSink, type ReadOptions, type LogStoreOptions } from './log-store.js';
export { fixedTimestamp, parseUnixTimestamp, type LogEntry, type LogStream } from './entry.js';
export type { Rotation } from './log-file.js';
export { parseLogSize, parseLogFileCount } from './size.js';
