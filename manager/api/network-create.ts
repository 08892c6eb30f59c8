// POST /networks/create bodies (moby network.CreateRequest) parsed into a typed request, Go's decoder's way (keys
// matched case-insensitively, null leaves a field unset, wrong JSON types named), then checked with moby's and
// swarmkit's texts (daemon/network.go, daemon/cluster/networks.go, controlapi/network.go, libnetwork).
import { isIP } from 'node:net';
import { ApiError, rpcError } from './http.js';
import { decodeObject, decodeString, decodeStringMap, field, jsonTypeName } from './decode.js';
import { isPredefinedName, type IpamConfig, type NetworkRecord, type NetworkScope } from './network-record.js';
import { PREDEFINED_LABEL } from './network-predefined.js';

export interface NetworkCreate {
  name: string;
  record: NetworkRecord;
}

/** Drivers a Docker engine has built in. host and null allow one network each (the predefined one). */
const BUILTIN_DRIVERS = new Set(['bridge', 'overlay', 'macvlan', 'ipvlan', 'host', 'null']);

function typeError(v: unknown, path: string, goType: string): ApiError {
  return new ApiError(400, `invalid JSON: json: cannot unmarshal ${jsonTypeName(v)} into Go struct field ${path} of type ${goType}`);
}

function bool(o: Record<string, unknown>, key: string): boolean {
  const v = field(o, key);
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw typeError(v, `CreateRequest.${key}`, 'bool');
  return v;
}

function ipamConfigs(v: unknown): IpamConfig[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw typeError(v, 'CreateRequest.IPAM.Config', '[]network.IPAMConfig');
  return v.map((item) => {
    const o = decodeObject(item, 'network.IPAMConfig') ?? {};
    const c: IpamConfig = {};
    const subnet = decodeString(field(o, 'Subnet'), 'CreateRequest.IPAM.Config.Subnet');
    const range = decodeString(field(o, 'IPRange'), 'CreateRequest.IPAM.Config.IPRange');
    const gateway = decodeString(field(o, 'Gateway'), 'CreateRequest.IPAM.Config.Gateway');
    const aux = decodeStringMap(field(o, 'AuxiliaryAddresses'), 'CreateRequest.IPAM.Config.AuxiliaryAddresses');
    if (subnet) c.Subnet = subnet;
    if (range) c.IPRange = range;
    if (gateway) c.Gateway = gateway;
    if (aux && Object.keys(aux).length > 0) c.AuxiliaryAddresses = aux;
    return c;
  });
}

/** A CIDR as Go's net.ParseCIDR takes it. */
function isCidr(s: string): boolean {
  const i = s.indexOf('/');
  if (i < 0) return false;
  const ip = isIP(s.slice(0, i));
  const bits = s.slice(i + 1);
  return ip !== 0 && /^\d{1,3}$/.test(bits) && Number(bits) <= (ip === 4 ? 32 : 128);
}

/** moby network.ValidateIPAM, the address checks only (nothing is allocated, so nothing else is at stake). */
function checkIpam(configs: IpamConfig[]): void {
  for (const c of configs) {
    if (c.Subnet !== undefined && !isCidr(c.Subnet)) throw new ApiError(400, `invalid subnet ${c.Subnet} : invalid CIDR address: ${c.Subnet}`);
    if (c.IPRange !== undefined && !isCidr(c.IPRange)) throw new ApiError(400, `invalid ip-range ${c.IPRange}: invalid CIDR address: ${c.IPRange}`);
    if (c.Gateway !== undefined && isIP(c.Gateway) === 0) throw new ApiError(400, `invalid gateway ${c.Gateway}: it should be an IP address`);
  }
}

/** Parses a create request (Go's decoding errors only; checkNetworkCreate has the rest). */
export function parseNetworkCreate(body: unknown): NetworkCreate {
  const o = decodeObject(body, 'network.CreateRequest');
  if (o === null) throw new ApiError(400, 'invalid JSON: the network create request must be a JSON object');
  const name = decodeString(field(o, 'Name'), 'CreateRequest.Name') ?? '';
  // The docker CLI defaults the driver itself; the daemon's own default is bridge.
  const driver = decodeString(field(o, 'Driver'), 'CreateRequest.Driver') || 'bridge';
  const scopeIn = decodeString(field(o, 'Scope'), 'CreateRequest.Scope') ?? '';
  const labels = decodeStringMap(field(o, 'Labels'), 'CreateRequest.Labels');
  const options = decodeStringMap(field(o, 'Options'), 'CreateRequest.Options');
  const ipamIn = decodeObject(field(o, 'IPAM') ?? null, 'network.IPAM') ?? {};
  const ipamDriver = decodeString(field(ipamIn, 'Driver'), 'CreateRequest.IPAM.Driver') || 'default';
  const ipamOptions = decodeStringMap(field(ipamIn, 'Options'), 'CreateRequest.IPAM.Options');
  const configs = ipamConfigs(field(ipamIn, 'Config'));
  const configFromIn = decodeObject(field(o, 'ConfigFrom') ?? null, 'network.ConfigReference');
  const configFrom = configFromIn ? (decodeString(field(configFromIn, 'Network'), 'CreateRequest.ConfigFrom.Network') ?? '') : '';
  const rec: NetworkRecord = {
    Driver: driver,
    Scope: 'local',
    EnableIPv6: bool(o, 'EnableIPv6'),
    IPAM: { Driver: ipamDriver, Options: ipamOptions && Object.keys(ipamOptions).length > 0 ? ipamOptions : null, Config: configs },
    Internal: bool(o, 'Internal'),
    Attachable: bool(o, 'Attachable'),
    Ingress: bool(o, 'Ingress'),
    ConfigOnly: bool(o, 'ConfigOnly'),
    ConfigFrom: configFrom,
    Options: options ?? {},
    Labels: labels && Object.keys(labels).length > 0 ? labels : null,
  };
  // Overlay (a global-scope driver) and anything asked for with scope swarm is created through the cluster.
  const scope: NetworkScope = driver === 'overlay' || scopeIn === 'swarm' || scopeIn === 'global' ? 'swarm' : 'local';
  rec.Scope = scope;
  if (scope === 'local') rec.Labels = rec.Labels ?? {};

  return { name, record: rec };
}

/** moby's and swarmkit's checks of a create request, in their order, after the name conflict (which the route
 * checks against the predefined swarm networks and the store finds among the others, in one write). */
export function checkNetworkCreate(c: NetworkCreate): void {
  // daemon createNetwork, then libnetwork NewNetwork, then (swarm) cluster CreateNetwork and swarmkit's checks.
  // (daemon PredefinedNetworkError, trailing space included; the local check runs first whatever the driver)
  if (isPredefinedName(c.name)) throw new ApiError(403, `operation is not permitted on predefined ${c.name} network `);
  if (!BUILTIN_DRIVERS.has(c.record.Driver)) throw new ApiError(404, `plugin "${c.record.Driver}" not found`);
  if (c.record.Driver === 'host' || c.record.Driver === 'null') throw new ApiError(403, `only one instance of "${c.record.Driver}" network is allowed`);
  checkIpam(c.record.IPAM.Config);
  if (c.record.Scope === 'swarm') {
    if (c.record.Ingress && c.record.Driver !== 'overlay') throw rpcError('Unimplemented', 'only overlay driver is currently supported for ingress network');
    if (c.record.Attachable && c.record.Ingress) throw rpcError('InvalidArgument', 'ingress network cannot be attachable');
    if (c.name === '') throw rpcError('InvalidArgument', 'meta: name must be provided');
    if (c.record.Labels && Object.prototype.hasOwnProperty.call(c.record.Labels, PREDEFINED_LABEL)) {
      throw new ApiError(403, `rpc error: code = PermissionDenied desc = label ${PREDEFINED_LABEL} is for internally created predefined networks and cannot be applied by users`);
    }
  } else if (c.name === '') throw new ApiError(400, 'invalid name: name must not be empty');
}
