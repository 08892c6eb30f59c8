// A manager's agent address, HOST:PORT or [IPv6]:PORT: as agents are given it (--manager), as managers announce
// each other (--peer-manager, the welcome's managers list) and as agents keep it (agent/session/manager-list.ts).
export interface ManagerAddr {
  host: string;
  port: number;
}

export function parseManagerAddr(s: string, flag = '--manager'): ManagerAddr {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(s.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port < 1 || port > 65535) throw new Error(`invalid ${flag} "${s}": expected HOST:PORT or [IPv6]:PORT`);
  return { host: m[1] ?? m[2] ?? '', port };
}

export function formatManagerAddr(a: ManagerAddr): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
