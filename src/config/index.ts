// Public surface of src/config: pure text-to-config functions for the CLI.
// Nothing here reads files, resolves names or looks at the clock.

export { convertWgQuickToToml, type ConvertResult } from "./convert.ts";
export { diffConfigs, hookChanges, peerLabel, showTable } from "./diff.ts";
export { formatEndpoint, parseEndpoint } from "./endpoint.ts";
export { configIssue, type ConfigError, type ConfigIssue, type ConfigWarning } from "./errors.ts";
export {
  applyKeyFile,
  keyFilesOf,
  loadTunnelConfig,
  ownKeyPeers,
  parseKeyFileText,
  permissionWarning,
  resolveKeys,
  type LoadResult,
  type PublicKeyOf,
  type ReadFile,
  type ResolvedKeys,
} from "./load.ts";
export { defaultInterfaceName, parseTunnelConfig } from "./parse-toml.ts";
export { parseWgQuickConfig, type UnconvertedSetting, type WgQuickOptions, type WgQuickResult } from "./parse-wg-quick.ts";
export * from "./types.ts";
export { isWireGuardKey } from "./validate.ts";
export { toToml, type ToTomlOptions } from "./write-toml.ts";
