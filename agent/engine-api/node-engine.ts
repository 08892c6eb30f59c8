// The agent's Engine API as one piece for its wiring: the task log store (STATE/logs), the API on its Unix socket
// (default STATE/docker.sock), and the session tunnel's endpoint. A socket that cannot be made is logged and the
// agent runs on without it (tasks matter more than docker ps), like the control socket.
import { join } from 'node:path';
import type { Logger } from '../../shared/log.js';
import { errorMessage } from '../../shared/errors.js';
import type { AgentMessage } from '../../shared/protocol.js';
import { LogStore, type Rotation } from '../logs/index.js';
import type { EngineRuntime } from './containers.js';
import { createEngineApi, defaultEngineSocket } from './server.js';
import { TunnelEndpoint, type TunnelMessage } from './tunnel-endpoint.js';

export interface NodeEngine {
  logs: LogStore;
  onTunnel(m: TunnelMessage): void;
  onDisconnected(): void;
  close(): Promise<void>;
}

export async function startNodeEngine(o: {
  stateDir: string;
  /** The socket path; default STATE/docker.sock; "none": no socket (the tunnel still serves the manager). */
  socket?: string;
  runtime: EngineRuntime;
  /** Task log rotation (default DEFAULT_ROTATION: 10 MiB, 3 files). */
  rotation?: Partial<Rotation>;
  send: (m: AgentMessage) => boolean;
  log: Logger;
}): Promise<NodeEngine> {
  const logs = new LogStore({ dir: join(o.stateDir, 'logs'), log: o.log, ...(o.rotation ? { rotation: o.rotation } : {}) });
  const api = createEngineApi({ runtime: o.runtime, logs, log: o.log });
  const path = o.socket ?? defaultEngineSocket(o.stateDir);
  if (path !== 'none') {
    try {
      await api.listen(path);
    } catch (err) {
      o.log.error({ err: errorMessage(err) }, 'engine API socket not started: docker ps/exec/logs on this node are unavailable locally');
    }
  }
  const tunnel = new TunnelEndpoint(api, o.send);
  return {
    logs,
    onTunnel: (m) => tunnel.onMessage(m),
    onDisconnected: () => tunnel.reset(),
    close: async () => {
      tunnel.reset();
      await api.close();
      logs.close();
    },
  };
}
