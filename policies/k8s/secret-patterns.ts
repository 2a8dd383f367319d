/**
 * What a secret looks like when someone pastes one into an env var or a ConfigMap. The patterns
 * err on the side of flagging; names that only point at a secret (files, refs) are allowed.
 */
import { ALLOWLIST_KEY, CURVE_SECRET_KEYS, Z85_KEY_PATTERN } from "../../runtime/config/names.js";

/** Names that say "this holds a secret". */
const SECRET_NAME =
  /(pass(word|wd)?|secret|token|credential|api[-_.]?key|private[-_.]?key|access[-_.]?key|seed|(^|[-_.])key$)/i;
/** Names that say "this holds a reference to a secret, not the secret" (a path or a name). */
const REFERENCE_NAME = /([-_.](file|path|dir|name|ref|arn|id)$)/i;
/** Names that say "this is public key material" (the CURVE public key, the client allowlist). */
const PUBLIC_NAME = /(pub(lic)?|allowlist)/i;

const VALUE_PATTERNS: readonly { readonly what: string; readonly pattern: RegExp }[] = [
  { what: "a PEM private key", pattern: /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/ },
  {
    what: "a NATS nkey seed or credentials block",
    pattern: /-----BEGIN (USER )?NKEY SEED-----|\bS[UAONCXP][A-Z2-7]{56}\b/,
  },
  { what: "a URL with an embedded password", pattern: /\b[a-z][a-z0-9+.-]*:\/\/[^\s/:@]+:[^\s/@]+@/i },
  { what: "an AWS access key id", pattern: /\b(AKIA|ASIA)[0-9A-Z]{16}\b/ },
  { what: "an AWS secret access key", pattern: /aws.{0,20}secret.{0,20}[:=]\s*["']?[A-Za-z0-9/+=]{40}\b/i },
];

/** A 40-character Z85 key (CURVE), with at least one Z85 punctuation character. */
const Z85_PUNCTUATION = /[.\-:+=^!/*?&<>()[\]{}@%$#]/;

/** `password: hunter2` / `"token": "abc"` / `secret = xyz` inside a config file. */
const EMBEDDED_ASSIGNMENT =
  /["']?\b(pass(word|wd)?|secret|token|api[-_]?key|private[-_]?key|access[-_]?key)\b["']?\s*[:=]\s*["']?([^\s"',}$][^\s"',}]*)/gi;

/**
 * Whether a value is only a reference: an env expansion, a file path, or empty. One pair of quotes
 * around it is allowed (`"$(NATS_SECRET_PASSWORD)"`: quoted so nats-server reads the value as a string).
 */
function isReference(value: string): boolean {
  const trimmed = value.trim().replace(/^(["'])(.*)\1$/s, "$2");
  return (
    trimmed === "" ||
    /^\$(\{|\(|[A-Za-z_])/.test(trimmed) ||
    trimmed.startsWith("/") ||
    /^<[^>]*>$/.test(trimmed)
  );
}

function isPublicName(name: string): boolean {
  return PUBLIC_NAME.test(name) || name === CURVE_SECRET_KEYS.publicKey || name === ALLOWLIST_KEY;
}

/**
 * Why `value`, stored under `name`, looks like a secret; undefined when it does not.
 * `name` is an env var name or a ConfigMap key.
 */
export function secretLiteralReason(name: string, value: string): string | undefined {
  for (const { what, pattern } of VALUE_PATTERNS) {
    if (pattern.test(value)) return `the value holds ${what}`;
  }
  if (isReference(value)) return undefined;
  if (SECRET_NAME.test(name) && !REFERENCE_NAME.test(name) && !isPublicName(name)) {
    return `the name "${name}" says it holds a secret and the value is a literal`;
  }
  if (!isPublicName(name) && Z85_KEY_PATTERN.test(value.trim()) && Z85_PUNCTUATION.test(value)) {
    return "the value is a 40-character Z85 (CURVE) key";
  }
  for (const match of value.matchAll(EMBEDDED_ASSIGNMENT)) {
    const literal = match[3] ?? "";
    if (!isReference(literal)) return `the value assigns a literal to "${match[1]}"`;
  }
  return undefined;
}
