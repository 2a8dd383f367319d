export {
  Allowlist,
  AllowlistError,
  parseAllowlist,
  type AllowlistChange,
  type AllowlistListener,
  type AllowlistOptions,
} from "./allowlist.js";
export {
  generateKeypair,
  keyFingerprint,
  publicKeyFromSecret,
  readSecretKey,
  writeKeypair,
  type CurveKeypair,
  type WriteKeypairOptions,
  type WrittenKeypair,
} from "./keys.js";
export { ZAP_DOMAIN, ZAP_ENDPOINT, ZapHandler, type ZapRejection } from "./zap.js";
export { isZ85Key, z85Decode, z85Encode } from "./z85.js";
