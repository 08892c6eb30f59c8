// The standard process_* metrics (the names Prometheus client libraries use), read from /proc when scraped.
import { readdirSync, readFileSync } from 'node:fs';
import type { Registry } from './registry.js';

function maxFds(): number {
  const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
  return m ? Number(m[1]) : NaN;
}

export function registerProcessMetrics(r: Registry): void {
  const startSeconds = Math.round((Date.now() - process.uptime() * 1000) / 1000);
  r.counterFrom('process_cpu_seconds_total', 'User and system CPU time spent, in seconds.', () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  });
  r.gauge('process_resident_memory_bytes', 'Resident memory size, in bytes.', () => process.memoryUsage.rss());
  r.gauge('nodejs_heap_size_total_bytes', "The JavaScript heap's size (V8 heapTotal), in bytes.", () => process.memoryUsage().heapTotal);
  r.gauge('process_open_fds', 'Open file descriptors.', () => readdirSync('/proc/self/fd').length);
  r.gauge('process_max_fds', 'The limit on open file descriptors.', maxFds);
  r.gauge('process_start_time_seconds', 'Start time of the process since the Unix epoch, in seconds.', () => startSeconds);
}
