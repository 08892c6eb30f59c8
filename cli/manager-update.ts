// `runsecrets manager update …`: settings changed after init, on the running manager. Each setting's option and
// handling lives in its own module (manager-update-*.ts); this file only wires them.
import { Command } from 'commander';
import { action, addAdminConnectOptions, adminTarget, type AdminConnectOptions } from './manager-cli.js';
import { advertiseAddrOption, updateAdvertiseAddr } from './manager-update-advertise.js';
import { joinApprovalOption, updateJoinApproval } from './manager-update-join-approval.js';
import { hasSwarmSetting, swarmSettingOptions, updateSwarmSettings, type SwarmSettingOpts } from './manager-update-swarm.js';
import type { JoinApproval } from '../manager/cluster/state.js';

interface UpdateOpts extends SwarmSettingOpts, AdminConnectOptions {
  advertiseAddr?: string;
  joinApproval?: JoinApproval;
}

export function updateCommand(): Command {
  const cmd = new Command('update')
    .description('Change cluster settings after init')
    .addOption(advertiseAddrOption())
    .addOption(joinApprovalOption());
  for (const opt of swarmSettingOptions()) cmd.addOption(opt);
  return addAdminConnectOptions(cmd).action(
      action(async (o: UpdateOpts) => {
        const to = adminTarget(o);
        let changed = 0;
        if (o.advertiseAddr !== undefined) {
          await updateAdvertiseAddr(to, o.advertiseAddr);
          changed++;
        }
        if (o.joinApproval !== undefined) {
          await updateJoinApproval(to, o.joinApproval);
          changed++;
        }
        if (hasSwarmSetting(o)) {
          await updateSwarmSettings(to, o);
          changed++;
        }
        if (changed === 0) {
          throw new Error('nothing to update: give a setting to change (--advertise-addr, --join-approval, --autolock, --task-history-limit, --cert-expiry, --dispatcher-heartbeat)');
        }
      }),
    );
}
