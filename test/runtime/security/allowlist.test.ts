import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  Allowlist,
  AllowlistError,
  parseAllowlist,
  type AllowlistChange,
} from "../../../runtime/security/allowlist.js";
import { generateKeypair } from "../../../runtime/security/keys.js";
import { z85Decode } from "../../../runtime/security/z85.js";
import { waitFor } from "../../support/wait.js";

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "zeroplane-allowlist-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function open(file: string): Allowlist {
  const allowlist = new Allowlist(file, { pollIntervalMs: 60_000 });
  cleanups.unshift(() => allowlist.close());
  return allowlist;
}

describe("parseAllowlist", () => {
  it("reads one key per line and ignores comments and blank lines", () => {
    const a = generateKeypair().publicKey;
    const b = generateKeypair().publicKey;
    const keys = parseAllowlist(`# operators\n${a}\n\n  ${b}   # ci runner\n`, "test");
    expect([...keys].sort()).toEqual([a, b].sort());
  });

  it("keeps keys that contain '#', which is a Z85 character", () => {
    let key = generateKeypair().publicKey;
    while (!key.slice(1).includes("#")) key = generateKeypair().publicKey;
    expect(parseAllowlist(`${key} # with a comment\n`, "test")).toEqual(new Set([key]));
  });

  it("names the bad line without echoing its content", () => {
    const text = `${generateKeypair().publicKey}\nsecret-looking-garbage\n`;
    expect(() => parseAllowlist(text, "allow.txt")).toThrow(AllowlistError);
    expect(() => parseAllowlist(text, "allow.txt")).toThrow(/allow\.txt line 2/);
    expect(() => parseAllowlist(text, "allow.txt")).not.toThrow(/garbage/);
  });
});

describe("Allowlist", () => {
  it("fails clearly when the file is missing", () => {
    const file = join(tempDir(), "allowlist.txt");
    expect(() => new Allowlist(file)).toThrow(/ZEROPLANE_SECURITY_ALLOWLIST_FILE/);
    expect(() => new Allowlist(file)).toThrow(/ENOENT/);
  });

  it("admits listed keys given as Z85 text or raw bytes", () => {
    const dir = tempDir();
    const listed = generateKeypair().publicKey;
    writeFileSync(join(dir, "allowlist.txt"), `${listed}\n`);
    const allowlist = open(join(dir, "allowlist.txt"));
    expect(allowlist.has(listed)).toBe(true);
    expect(allowlist.has(z85Decode(listed))).toBe(true);
    expect(allowlist.has(generateKeypair().publicKey)).toBe(false);
    expect(allowlist.has(new Uint8Array(31))).toBe(false);
  });

  it("reloads when the file is rewritten, without a restart", async () => {
    const dir = tempDir();
    const file = join(dir, "allowlist.txt");
    const first = generateKeypair().publicKey;
    const added = generateKeypair().publicKey;
    writeFileSync(file, `${first}\n`);
    const allowlist = open(file);
    expect(allowlist.has(added)).toBe(false);
    writeFileSync(`${file}.tmp`, `${first}\n${added}\n`);
    renameSync(`${file}.tmp`, file);
    await waitFor("the rewritten allowlist to be reloaded", () => allowlist.has(added), 10_000);
    expect(allowlist.size).toBe(2);
  });

  it("reloads when Kubernetes swaps the ..data symlink of a mounted Secret", async () => {
    const dir = tempDir();
    const first = generateKeypair().publicKey;
    const second = generateKeypair().publicKey;
    mkdirSync(join(dir, "..v1"));
    writeFileSync(join(dir, "..v1", "allowlist.txt"), `${first}\n`);
    symlinkSync("..v1", join(dir, "..data"));
    symlinkSync("..data/allowlist.txt", join(dir, "allowlist.txt"));
    const allowlist = open(join(dir, "allowlist.txt"));
    expect(allowlist.has(first)).toBe(true);

    mkdirSync(join(dir, "..v2"));
    writeFileSync(join(dir, "..v2", "allowlist.txt"), `${second}\n`);
    symlinkSync("..v2", join(dir, "..data_tmp"));
    renameSync(join(dir, "..data_tmp"), join(dir, "..data"));
    await waitFor("the swapped Secret to be reloaded", () => allowlist.has(second), 10_000);
    expect(allowlist.has(first)).toBe(false);
  });

  it("tells change listeners which keys a reload added and removed, after the new list is in force", () => {
    const dir = tempDir();
    const file = join(dir, "allowlist.txt");
    const kept = generateKeypair().publicKey;
    const removed = generateKeypair().publicKey;
    const added = generateKeypair().publicKey;
    writeFileSync(file, `${kept}\n${removed}\n`);
    const allowlist = open(file);
    const changes: AllowlistChange[] = [];
    const admittedDuringChange: boolean[] = [];
    const stop = allowlist.onChange((change) => {
      changes.push(change);
      admittedDuringChange.push(allowlist.has(removed));
    });
    writeFileSync(file, `${kept}\n${added}\n`);
    expect(allowlist.reload()).toBe(true);
    expect(changes).toEqual([{ added: [added], removed: [removed], generation: 1 }]);
    expect(admittedDuringChange).toEqual([false]);
    // An unchanged file is no change; a removed listener hears nothing.
    expect(allowlist.reload()).toBe(false);
    stop();
    writeFileSync(file, `${kept}\n`);
    expect(allowlist.reload()).toBe(true);
    expect(changes).toHaveLength(1);
  });

  it("keeps the previous list when a reload finds a broken or missing file", () => {
    const dir = tempDir();
    const file = join(dir, "allowlist.txt");
    const key = generateKeypair().publicKey;
    writeFileSync(file, `${key}\n`);
    const allowlist = open(file);
    writeFileSync(file, "broken line\n");
    expect(allowlist.reload()).toBe(false);
    expect(allowlist.has(key)).toBe(true);
    unlinkSync(file);
    expect(allowlist.reload()).toBe(false);
    expect(allowlist.has(key)).toBe(true);
  });
});
