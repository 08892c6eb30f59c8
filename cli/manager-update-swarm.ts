// `manager update --autolock true|false --task-history-limit N --cert-expiry D --dispatcher-heartbeat D`: the
// swarm's settings, as `docker swarm update` changes them (GET /swarm, the whole Spec back with the fields changed,
// "Swarm updated.", and the unlock key block when autolock was just turned on).
import { Option } from 'commander';
import { errorMessage } from '../shared/errors.js';
import { adminRequest, type AdminTarget } from './manager-admin.js';
import { parseDuration } from './swarm/go-parse.js';
import { UNLOCK_KEY_TEXT } from './unlock-key-text.js';

export interface SwarmSettingOpts {
  autolock?: boolean;
  taskHistoryLimit?: number;
  certExpiry?: number;
  dispatcherHeartbeat?: number;
}

function boolArg(flag: string) {
  return (v: string): boolean => {
    if (/^(1|t|true)$/i.test(v)) return true;
    if (/^(0|f|false)$/i.test(v)) return false;
    throw new Error(`invalid argument "${v}" for "${flag}" flag: strconv.ParseBool: parsing "${v}": invalid syntax`);
  };
}

function durationArg(flag: string) {
  return (v: string): number => {
    try {
      return parseDuration(v);
    } catch (err) {
      throw new Error(`invalid argument "${v}" for "${flag}" flag: ${errorMessage(err)}`);
    }
  };
}

export function swarmSettingOptions(): Option[] {
  return [
    new Option('--autolock <bool>', 'change manager autolocking setting (true|false)').argParser(boolArg('--autolock')),
    new Option('--task-history-limit <n>', 'task history retention limit').argParser((v) => {
      if (!/^-?\d{1,9}$/.test(v)) throw new Error(`invalid argument "${v}" for "--task-history-limit" flag: strconv.ParseInt: parsing "${v}": invalid syntax`);
      return Number(v);
    }),
    new Option('--cert-expiry <duration>', 'validity period for node certificates (ns|us|ms|s|m|h)').argParser(durationArg('--cert-expiry')),
    new Option('--dispatcher-heartbeat <duration>', 'dispatcher heartbeat period (ns|us|ms|s|m|h)').argParser(durationArg('--dispatcher-heartbeat')),
  ];
}

export function hasSwarmSetting(o: SwarmSettingOpts): boolean {
  return o.autolock !== undefined || o.taskHistoryLimit !== undefined || o.certExpiry !== undefined || o.dispatcherHeartbeat !== undefined;
}

interface SwarmJson {
  Version: { Index: number };
  Spec: {
    Orchestration: Record<string, unknown>;
    CAConfig: Record<string, unknown>;
    Dispatcher: Record<string, unknown>;
    EncryptionConfig: { AutoLockManagers?: boolean };
  };
}

export async function updateSwarmSettings(to: AdminTarget, o: SwarmSettingOpts): Promise<void> {
  const cur = (await adminRequest(to, 'GET', '/swarm')).body as SwarmJson;
  const spec = structuredClone(cur.Spec);
  const wasLocked = spec.EncryptionConfig.AutoLockManagers === true;
  if (o.autolock !== undefined) spec.EncryptionConfig.AutoLockManagers = o.autolock;
  if (o.taskHistoryLimit !== undefined) spec.Orchestration.TaskHistoryRetentionLimit = o.taskHistoryLimit;
  if (o.certExpiry !== undefined) spec.CAConfig.NodeCertExpiry = o.certExpiry;
  if (o.dispatcherHeartbeat !== undefined) spec.Dispatcher.HeartbeatPeriod = o.dispatcherHeartbeat;
  await adminRequest(to, 'POST', `/swarm/update?version=${cur.Version.Index}`, spec);
  process.stdout.write('Swarm updated.\n');
  if (o.autolock === true && !wasLocked) {
    const key = ((await adminRequest(to, 'GET', '/swarm/unlockkey')).body as { UnlockKey?: string }).UnlockKey ?? '';
    if (key !== '') process.stdout.write(UNLOCK_KEY_TEXT(key));
  }
}
