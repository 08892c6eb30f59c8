// `manager update --join-approval manual|auto`: whether a node that joins waits for `node accept` (no task, no
// secret meanwhile) or is accepted at once. Also offered by `manager init`.
import { Option } from 'commander';
import type { JoinApproval } from '../manager/cluster/state.js';
import { adminRequest, type AdminTarget } from './manager-admin.js';

export function joinApprovalOption(): Option {
  return new Option(
    '--join-approval <mode>',
    'manual: a node that joins is pending (no task, no secret) until "runsecrets node accept ID"; auto: accepted at once',
  ).choices(['auto', 'manual']);
}

export async function updateJoinApproval(to: AdminTarget, mode: JoinApproval): Promise<void> {
  await adminRequest(to, 'POST', '/runsecrets/join-approval', { Mode: mode });
  process.stdout.write(`Join approval is now ${mode}.\n`);
}
