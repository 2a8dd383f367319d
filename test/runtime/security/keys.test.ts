import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { curveKeyPair } from "zeromq";
import {
  CURVE_SECRET_KEYS,
  ConfigError,
  defaultConfig,
  type ZeroplaneConfig,
} from "../../../runtime/config/index.js";
import {
  generateKeypair,
  keyFingerprint,
  publicKeyFromSecret,
  readSecretKey,
  writeKeypair,
} from "../../../runtime/security/keys.js";
import { isZ85Key, z85Decode, z85Encode } from "../../../runtime/security/z85.js";

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "zeroplane-keys-"));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function configWith(security: Partial<ZeroplaneConfig["security"]>): ZeroplaneConfig {
  const config = defaultConfig();
  return { ...config, security: { ...config.security, ...security } };
}

describe("Z85", () => {
  it("encodes the RFC 32 test vector as HelloWorld", () => {
    const bytes = Uint8Array.from([0x86, 0x4f, 0xd2, 0x6f, 0xb5, 0x59, 0xf7, 0x5b]);
    expect(z85Encode(bytes)).toBe("HelloWorld");
    expect([...z85Decode("HelloWorld")]).toEqual([...bytes]);
  });

  it("round-trips random 32-byte keys", () => {
    for (let i = 0; i < 50; i++) {
      const bytes = z85Decode(generateKeypair().secretKey);
      expect(bytes).toHaveLength(32);
      expect(z85Decode(z85Encode(bytes))).toEqual(bytes);
    }
  });

  it("rejects bad lengths and characters", () => {
    expect(() => z85Decode("abcd")).toThrow(/5-character/);
    expect(() => z85Decode("abc\u00e9e")).toThrow(/invalid Z85 character/);
    expect(() => z85Encode(new Uint8Array(3))).toThrow(/4-byte/);
    expect(isZ85Key("x".repeat(39))).toBe(false);
    expect(isZ85Key(generateKeypair().publicKey)).toBe(true);
  });
});

describe("CURVE keys", () => {
  it("derives the same public key libzmq generated from the secret key", () => {
    for (let i = 0; i < 20; i++) {
      const pair = curveKeyPair();
      expect(publicKeyFromSecret(pair.secretKey)).toBe(pair.publicKey);
    }
  });

  it("refuses a malformed secret key when deriving", () => {
    expect(() => publicKeyFromSecret("short")).toThrow(/40 characters of Z85/);
  });

  it("writes server.key and server.key_secret with mode 0600 and reads the secret back", () => {
    const dir = tempDir();
    const written = writeKeypair(dir);
    expect(written.publicKeyFile).toBe(join(dir, CURVE_SECRET_KEYS.publicKey));
    expect(written.secretKeyFile).toBe(join(dir, CURVE_SECRET_KEYS.secretKey));
    for (const file of [written.publicKeyFile, written.secretKeyFile]) {
      expect(statSync(file).mode & 0o777).toBe(0o600);
    }
    expect(readFileSync(written.publicKeyFile, "utf8").trim()).toBe(written.publicKey);
    expect(publicKeyFromSecret(written.secretKey)).toBe(written.publicKey);
    expect(readSecretKey(configWith({ secretKeyFile: written.secretKeyFile }))).toBe(written.secretKey);
  });

  it("refuses to replace an existing keypair unless told to", () => {
    const dir = tempDir();
    const first = writeKeypair(dir);
    expect(() => writeKeypair(dir)).toThrow(/already exists/);
    const second = writeKeypair(dir, { overwrite: true });
    expect(second.secretKey).not.toBe(first.secretKey);
    expect(readSecretKey(configWith({ secretKeyFile: second.secretKeyFile }))).toBe(second.secretKey);
  });

  it("replaces world-readable key files with new 0600 files, leaving no temp file behind", () => {
    const dir = tempDir();
    const first = writeKeypair(dir);
    for (const file of [first.publicKeyFile, first.secretKeyFile]) chmodSync(file, 0o644);
    const oldInode = statSync(first.secretKeyFile).ino;
    const second = writeKeypair(dir, { overwrite: true });
    for (const file of [second.publicKeyFile, second.secretKeyFile]) {
      expect(statSync(file).mode & 0o777).toBe(0o600);
    }
    // Renamed into place, not written into the old (readable) file.
    expect(statSync(second.secretKeyFile).ino).not.toBe(oldInode);
    expect(readdirSync(dir).sort()).toEqual(["server.key", "server.key_secret"]);
  });

  it("reads the secret key from the environment setting", () => {
    const { secretKey } = generateKeypair();
    expect(readSecretKey(configWith({ secretKey }))).toBe(secretKey);
  });

  it("fails with the variable name and `zeroplane keygen` when no secret key is configured", () => {
    const read = () => readSecretKey(configWith({}));
    expect(read).toThrow(ConfigError);
    expect(read).toThrow(/ZEROPLANE_SECURITY_SECRET_KEY_FILE/);
    expect(read).toThrow(/zeroplane keygen/);
  });

  it("names the file, but not its content, when the key file is malformed or missing", () => {
    const dir = tempDir();
    const file = join(dir, "server.key_secret");
    writeFileSync(file, "not-a-key-but-possibly-secret\n");
    expect(() => readSecretKey(configWith({ secretKeyFile: file }))).toThrow(file);
    try {
      readSecretKey(configWith({ secretKeyFile: file }));
    } catch (error) {
      expect((error as Error).message).not.toContain("possibly-secret");
    }
    expect(() => readSecretKey(configWith({ secretKeyFile: join(dir, "missing") }))).toThrow(/ENOENT/);
  });

  it("fingerprints a key identically from Z85 text and raw bytes, without revealing it", () => {
    const { publicKey } = generateKeypair();
    const fingerprint = keyFingerprint(publicKey);
    expect(fingerprint).toMatch(/^[0-9a-f]{12}$/);
    expect(keyFingerprint(z85Decode(publicKey))).toBe(fingerprint);
    expect(publicKey).not.toContain(fingerprint);
  });
});
