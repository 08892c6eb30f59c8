export { OciRuntime, type OciRuntimeOptions } from './oci-runtime.js';
export { buildBundleConfig, type BundleInput, type ReadOnlyBind } from './bundle-config.js';
