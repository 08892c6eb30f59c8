// moby's swarm.ServiceSpec (api/types/swarm, v27.5.1) as Go codecs: the fields, their Go types and their `omitempty`
// tags, so that a body decodes as moby decodes it and a spec encodes as Docker returns it. PluginSpec and
// NetworkAttachmentSpec are accepted and dropped (runsecrets runs container tasks only).
import { bool, bytes, duration, f, float, ignored, int, list, map, ptr, str, struct, type Infer } from './go-json.js';

const strs = (): ReturnType<typeof list<string>> => list(str());
const strMap = (): ReturnType<typeof map<string>> => map(str());

const Driver = struct('swarm.Driver', { Name: f(str(), true), Options: f(strMap(), true) });
const MountDriver = struct('mount.Driver', { Name: f(str(), true), Options: f(strMap(), true) });

const Mount = struct('mount.Mount', {
  Type: f(str('mount.Type'), true),
  Source: f(str(), true),
  Target: f(str(), true),
  ReadOnly: f(bool(), true),
  Consistency: f(str('mount.Consistency'), true),
  BindOptions: f(
    ptr(
      struct('mount.BindOptions', {
        Propagation: f(str('mount.Propagation'), true),
        NonRecursive: f(bool(), true),
        CreateMountpoint: f(bool(), true),
        ReadOnlyNonRecursive: f(bool(), true),
        ReadOnlyForceRecursive: f(bool(), true),
      }),
    ),
    true,
  ),
  VolumeOptions: f(
    ptr(
      struct('mount.VolumeOptions', {
        NoCopy: f(bool(), true),
        Labels: f(strMap(), true),
        Subpath: f(str(), true),
        DriverConfig: f(ptr(MountDriver), true),
      }),
    ),
    true,
  ),
  TmpfsOptions: f(
    ptr(struct('mount.TmpfsOptions', { SizeBytes: f(int('int64'), true), Mode: f(int('uint32', 'fs.FileMode'), true), Options: f(list(strs(), '[][]string'), true) })),
    true,
  ),
  ClusterOptions: f(ptr(struct('mount.ClusterOptions', {})), true),
});

const FileTarget = (name: string) =>
  struct(name, { Name: f(str()), UID: f(str()), GID: f(str()), Mode: f(int('uint32', 'fs.FileMode')) });

export const SecretReference = struct('swarm.SecretReference', {
  File: f(ptr(FileTarget('swarm.SecretReferenceFileTarget'))),
  SecretID: f(str()),
  SecretName: f(str()),
});
export const ConfigReference = struct('swarm.ConfigReference', {
  File: f(ptr(FileTarget('swarm.ConfigReferenceFileTarget')), true),
  Runtime: f(ptr(struct('swarm.ConfigReferenceRuntimeTarget', {})), true),
  ConfigID: f(str()),
  ConfigName: f(str()),
});

const Privileges = struct('swarm.Privileges', {
  CredentialSpec: f(ptr(struct('swarm.CredentialSpec', { Config: f(str()), File: f(str()), Registry: f(str()) }))),
  SELinuxContext: f(ptr(struct('swarm.SELinuxContext', { Disable: f(bool()), User: f(str()), Role: f(str()), Type: f(str()), Level: f(str()) }))),
  Seccomp: f(ptr(struct('swarm.SeccompOpts', { Mode: f(str('swarm.SeccompMode'), true), Profile: f(bytes(), true) })), true),
  AppArmor: f(ptr(struct('swarm.AppArmorOpts', { Mode: f(str('swarm.AppArmorMode'), true) })), true),
  NoNewPrivileges: f(bool()),
});

export const ContainerSpec = struct('swarm.ContainerSpec', {
  Image: f(str(), true),
  Labels: f(strMap(), true),
  Command: f(strs(), true),
  Args: f(strs(), true),
  Hostname: f(str(), true),
  Env: f(strs(), true),
  Dir: f(str(), true),
  User: f(str(), true),
  Groups: f(strs(), true),
  Privileges: f(ptr(Privileges), true),
  Init: f(ptr(bool()), true),
  StopSignal: f(str(), true),
  TTY: f(bool(), true),
  OpenStdin: f(bool(), true),
  ReadOnly: f(bool(), true),
  Mounts: f(list(Mount), true),
  StopGracePeriod: f(ptr(duration()), true),
  Healthcheck: f(
    ptr(
      struct('v1.HealthcheckConfig', {
        Test: f(strs(), true),
        Interval: f(duration(), true),
        Timeout: f(duration(), true),
        StartPeriod: f(duration(), true),
        StartInterval: f(duration(), true),
        Retries: f(int('int'), true),
      }),
    ),
    true,
  ),
  Hosts: f(strs(), true),
  DNSConfig: f(ptr(struct('swarm.DNSConfig', { Nameservers: f(strs(), true), Search: f(strs(), true), Options: f(strs(), true) })), true),
  Secrets: f(list(ptr(SecretReference), '[]*swarm.SecretReference'), true),
  Configs: f(list(ptr(ConfigReference), '[]*swarm.ConfigReference'), true),
  Isolation: f(str('container.Isolation'), true),
  Sysctls: f(strMap(), true),
  CapabilityAdd: f(strs(), true),
  CapabilityDrop: f(strs(), true),
  Ulimits: f(list(ptr(struct('units.Ulimit', { Name: f(str()), Hard: f(int('int64')), Soft: f(int('int64')) })), '[]*units.Ulimit'), true),
  OomScoreAdj: f(int('int64'), true),
});

const GenericResource = struct('swarm.GenericResource', {
  NamedResourceSpec: f(ptr(struct('swarm.NamedGenericResource', { Kind: f(str(), true), Value: f(str(), true) })), true),
  DiscreteResourceSpec: f(ptr(struct('swarm.DiscreteGenericResource', { Kind: f(str(), true), Value: f(int('int64'), true) })), true),
});

export const NetworkAttachmentConfig = struct('swarm.NetworkAttachmentConfig', {
  Target: f(str(), true),
  Aliases: f(strs(), true),
  DriverOpts: f(strMap(), true),
});

export const RestartPolicy = struct('swarm.RestartPolicy', {
  Condition: f(str('swarm.RestartPolicyCondition'), true),
  Delay: f(ptr(duration()), true),
  MaxAttempts: f(ptr(int('uint64')), true),
  Window: f(ptr(duration()), true),
});

export const Placement = struct('swarm.Placement', {
  Constraints: f(strs(), true),
  Preferences: f(list(struct('swarm.PlacementPreference', { Spread: f(ptr(struct('swarm.SpreadOver', { SpreadDescriptor: f(str()) }))) })), true),
  MaxReplicas: f(int('uint64'), true),
  Platforms: f(list(struct('swarm.Platform', { Architecture: f(str(), true), OS: f(str(), true) })), true),
});

export const Resources = struct('swarm.ResourceRequirements', {
  Limits: f(ptr(struct('swarm.Limit', { NanoCPUs: f(int('int64'), true), MemoryBytes: f(int('int64'), true), Pids: f(int('int64'), true) })), true),
  Reservations: f(
    ptr(struct('swarm.Resources', { NanoCPUs: f(int('int64'), true), MemoryBytes: f(int('int64'), true), GenericResources: f(list(GenericResource), true) })),
    true,
  ),
});

export const TaskSpec = struct('swarm.TaskSpec', {
  ContainerSpec: f(ptr(ContainerSpec), true),
  PluginSpec: f(ignored('runtime.PluginSpec'), true),
  NetworkAttachmentSpec: f(ignored('swarm.NetworkAttachmentSpec'), true),
  Resources: f(ptr(Resources), true),
  RestartPolicy: f(ptr(RestartPolicy), true),
  Placement: f(ptr(Placement), true),
  Networks: f(list(NetworkAttachmentConfig), true),
  LogDriver: f(ptr(Driver), true),
  ForceUpdate: f(int('uint64')),
  Runtime: f(str('swarm.RuntimeType'), true),
});

export const UpdateConfig = struct('swarm.UpdateConfig', {
  Parallelism: f(int('uint64')),
  Delay: f(duration(), true),
  FailureAction: f(str(), true),
  Monitor: f(duration(), true),
  MaxFailureRatio: f(float('float32')),
  Order: f(str()),
});

export const ServiceMode = struct('swarm.ServiceMode', {
  Replicated: f(ptr(struct('swarm.ReplicatedService', { Replicas: f(ptr(int('uint64')), true) })), true),
  Global: f(ptr(struct('swarm.GlobalService', {})), true),
  ReplicatedJob: f(ptr(struct('swarm.ReplicatedJob', { MaxConcurrent: f(ptr(int('uint64')), true), TotalCompletions: f(ptr(int('uint64')), true) })), true),
  GlobalJob: f(ptr(struct('swarm.GlobalJob', {})), true),
});

const PortConfig = struct('swarm.PortConfig', {
  Name: f(str(), true),
  Protocol: f(str('swarm.PortConfigProtocol'), true),
  TargetPort: f(int('uint32'), true),
  PublishedPort: f(int('uint32'), true),
  PublishMode: f(str('swarm.PortConfigPublishMode'), true),
});
export const EndpointSpec = struct('swarm.EndpointSpec', { Mode: f(str('swarm.ResolutionMode'), true), Ports: f(list(PortConfig), true) });

/** swarm.ServiceSpec with its embedded Annotations (Name omitempty, Labels always). */
export const ServiceSpecCodec = struct('swarm.ServiceSpec', {
  Name: f(str(), true),
  Labels: f(strMap()),
  TaskTemplate: f(TaskSpec, true),
  Mode: f(ServiceMode, true),
  UpdateConfig: f(ptr(UpdateConfig), true),
  RollbackConfig: f(ptr(UpdateConfig), true),
  Networks: f(list(NetworkAttachmentConfig), true),
  EndpointSpec: f(ptr(EndpointSpec), true),
});

export type GoServiceSpec = Infer<typeof ServiceSpecCodec>;
export type GoTaskSpec = Infer<typeof TaskSpec>;
export type GoContainerSpec = Infer<typeof ContainerSpec>;
export type GoUpdateConfig = Infer<typeof UpdateConfig>;
export type GoServiceMode = Infer<typeof ServiceMode>;
