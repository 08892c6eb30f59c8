// The managers this agent may use: those given on its command line (--manager, repeatable), then those the cluster
// named in its last welcome, kept in <stateDir>/managers.json for the next start. The session uses the current one
// and moves to the next when it fails (session.ts). Each welcome replaces the kept list: a manager removed from the
// cluster is forgotten (unless given on the command line).
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../shared/log.js';
import { errorMessage } from '../../shared/errors.js';
import { formatManagerAddr, parseManagerAddr, type ManagerAddr } from '../../shared/manager-addr.js';
import type { ManagerEntry } from '../../shared/protocol.js';

export const MANAGERS_FILE = 'managers.json';

export interface KnownManager {
  addr: ManagerAddr;
  /** The node ID its certificate must carry, when the cluster said it. */
  nodeId?: string;
}

/** managers.json as kept: {"managers":[{"addr":"HOST:PORT","nodeId":"…"}]}; entries that do not parse are dropped. */
function readKept(stateDir: string, log: Logger): KnownManager[] {
  const path = join(stateDir, MANAGERS_FILE);
  if (!existsSync(path)) return [];
  try {
    const v: unknown = JSON.parse(readFileSync(path, 'utf8'));
    const list = v !== null && typeof v === 'object' && Array.isArray((v as { managers?: unknown }).managers) ? (v as { managers: unknown[] }).managers : [];
    const out: KnownManager[] = [];
    for (const e of list) {
      if (e === null || typeof e !== 'object') continue;
      const { addr, nodeId } = e as { addr?: unknown; nodeId?: unknown };
      if (typeof addr !== 'string') continue;
      try {
        const a = parseManagerAddr(addr, 'kept manager address');
        out.push(typeof nodeId === 'string' && nodeId !== '' ? { addr: a, nodeId } : { addr: a });
      } catch {
        log.warn({ file: path }, 'a kept manager address does not parse: ignored');
      }
    }
    return out;
  } catch (err) {
    log.warn({ file: path, err: errorMessage(err) }, 'the kept manager list cannot be read: using the given managers only');
    return [];
  }
}

export class ManagerList {
  private given: KnownManager[];
  private kept: KnownManager[];
  private list: KnownManager[] = [];
  private index = 0;

  /** stateDir null: nothing is read or kept (a session used on its own, as in tests). */
  constructor(
    private readonly stateDir: string | null,
    given: ManagerAddr[],
    private readonly log: Logger,
  ) {
    this.given = given.map((addr) => ({ addr }));
    this.kept = stateDir ? readKept(stateDir, log) : [];
    this.rebuild(null);
    if (this.list.length === 0) throw new Error('no manager address: pass --manager HOST:PORT');
  }

  /** Given first, then kept ones not given; node IDs from the cluster's list. */
  private rebuild(keepCurrent: string | null): void {
    const byAddr = new Map<string, KnownManager>();
    for (const m of [...this.given, ...this.kept]) {
      const k = formatManagerAddr(m.addr);
      const prev = byAddr.get(k);
      if (!prev) byAddr.set(k, { ...m });
      else if (m.nodeId && !prev.nodeId) prev.nodeId = m.nodeId;
    }
    // The manager in use stays in the list (in memory) even when the cluster's list leaves it out: it answers.
    if (keepCurrent !== null && !byAddr.has(keepCurrent)) byAddr.set(keepCurrent, { addr: parseManagerAddr(keepCurrent, 'manager address') });
    this.list = [...byAddr.values()];
    const i = keepCurrent === null ? -1 : this.list.findIndex((m) => formatManagerAddr(m.addr) === keepCurrent);
    this.index = i >= 0 ? i : 0;
  }

  get current(): ManagerAddr {
    return this.list[this.index]!.addr;
  }

  get size(): number {
    return this.list.length;
  }

  get all(): readonly KnownManager[] {
    return this.list;
  }

  /** Node IDs the cluster named for its managers: their certificates are accepted besides the one pinned at join. */
  get nodeIds(): string[] {
    return this.list.flatMap((m) => (m.nodeId ? [m.nodeId] : []));
  }

  /** Moves to the next manager; true when that wrapped around to the first (every one was tried once). */
  advance(): boolean {
    this.index = (this.index + 1) % this.list.length;
    return this.index === 0;
  }

  /** Puts this address first in line (the one that answered a join). */
  prefer(addr: ManagerAddr): void {
    const i = this.list.findIndex((m) => formatManagerAddr(m.addr) === formatManagerAddr(addr));
    if (i >= 0) this.index = i;
  }

  /** The cluster's list from a welcome: kept (when it changed) and merged; the current manager stays current. */
  update(entries: ManagerEntry[]): void {
    const next: KnownManager[] = [];
    for (const e of entries) {
      try {
        const addr = parseManagerAddr(e.addr, 'manager address');
        next.push(e.nodeId ? { addr, nodeId: e.nodeId } : { addr });
      } catch {
        // the protocol already checked the form; a port out of range is all that is left
      }
    }
    const text = JSON.stringify({ managers: next.map((m) => ({ addr: formatManagerAddr(m.addr), ...(m.nodeId ? { nodeId: m.nodeId } : {}) })) }) + '\n';
    const old = JSON.stringify({ managers: this.kept.map((m) => ({ addr: formatManagerAddr(m.addr), ...(m.nodeId ? { nodeId: m.nodeId } : {}) })) }) + '\n';
    if (text === old) return;
    this.kept = next;
    this.rebuild(formatManagerAddr(this.current));
    this.log.info({ managers: this.list.map((m) => formatManagerAddr(m.addr)) }, 'the cluster named its managers');
    if (!this.stateDir) return;
    const path = join(this.stateDir, MANAGERS_FILE);
    try {
      writeFileSync(`${path}.tmp`, text, { mode: 0o600 });
      chmodSync(`${path}.tmp`, 0o600);
      renameSync(`${path}.tmp`, path);
    } catch (err) {
      this.log.warn({ file: path, err: errorMessage(err) }, 'cannot keep the manager list: the next start knows only the given managers');
    }
  }
}
