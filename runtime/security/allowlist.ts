/**
 * The ZAP allowlist: client CURVE public keys, one Z85 key per line. `#` starts a comment at the
 * start of a line or after whitespace (it is also a Z85 character, so it may appear inside a key).
 *
 * The file is watched and reloaded without a restart. Kubernetes updates a mounted Secret or
 * ConfigMap by swapping a `..data` symlink in the mount directory, so the directory is watched,
 * not only the file; a slow poll backs the watcher up. A reload that fails keeps the previous list.
 */
import { type FSWatcher, readFileSync, watch } from "node:fs";
import { dirname } from "node:path";
import type { Logger } from "pino";
import { ENV_VARS } from "../config/index.js";
import { isZ85Key, z85Encode } from "./z85.js";

export class AllowlistError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AllowlistError";
  }
}

/** Parses allowlist text into a set of Z85 keys. Throws AllowlistError naming the bad line. */
export function parseAllowlist(text: string, source: string): Set<string> {
  const keys = new Set<string>();
  const lines = text.split(/\r?\n/);
  for (let index = 0; index < lines.length; index++) {
    // '#' is also a Z85 character, so a comment is a whole line, or text after whitespace.
    const line = lines[index]!.replace(/^\s*#.*$/, "")
      .replace(/\s+#.*$/, "")
      .trim();
    if (line === "") continue;
    if (!isZ85Key(line)) {
      // Name the line, not its content: a malformed line may still be someone's key.
      throw new AllowlistError(
        `${source} line ${index + 1} is not a 40-character Z85 public key (found ${line.length} characters). Fix: put one client public key per line; start comments with '#' at the start of a line or after a space.`,
      );
    }
    keys.add(line);
  }
  return keys;
}

function readAllowlistFile(file: string): Set<string> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new AllowlistError(
      `cannot read the client allowlist ${file} (${ENV_VARS["security.allowlistFile"]}): ${code}. Fix: mount the allowlist (one client public key per line) at that path, or point ${ENV_VARS["security.allowlistFile"]} at it.`,
    );
  }
  return parseAllowlist(text, file);
}

export interface AllowlistOptions {
  readonly logger?: Logger;
  /** Backup poll interval, for file systems where watching misses changes. @default 5000 */
  readonly pollIntervalMs?: number;
}

/** What a reload changed. Keys are Z85 text: hand them to keyFingerprint() before logging. */
export interface AllowlistChange {
  readonly added: readonly string[];
  readonly removed: readonly string[];
  /** The list's generation after the reload. */
  readonly generation: number;
}

export type AllowlistListener = (change: AllowlistChange) => void;

/** A live allowlist. `has()` is what the ZAP handler asks. */
export class Allowlist {
  private keys: Set<string>;
  private readonly listeners = new Set<AllowlistListener>();
  private readonly watcher: FSWatcher | null;
  private readonly poll: NodeJS.Timeout;
  private debounce: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly logger: Logger | undefined;
  /** Increments on every successful reload that changed the list (for tests and metrics). */
  generation = 0;

  /** Loads the file now (throws AllowlistError if it is missing or malformed) and starts watching it. */
  constructor(
    readonly file: string,
    options: AllowlistOptions = {},
  ) {
    this.logger = options.logger;
    this.keys = readAllowlistFile(file);
    if (this.keys.size === 0) {
      this.logger?.warn({ file }, "the client allowlist is empty: every client will be refused");
    }
    this.watcher = this.startWatcher();
    this.poll = setInterval(() => this.reload(), options.pollIntervalMs ?? 5_000);
    this.poll.unref();
  }

  /** Number of admitted keys. */
  get size(): number {
    return this.keys.size;
  }

  /** Whether a client public key (raw 32 bytes from ZAP, or Z85 text) is admitted. */
  has(key: Uint8Array | string): boolean {
    if (typeof key === "string") return this.keys.has(key);
    if (key.length !== 32) return false;
    return this.keys.has(z85Encode(key));
  }

  /** Re-reads the file. On failure keeps the current list and logs why. Returns true if the list changed. */
  reload(): boolean {
    if (this.closed) return false;
    let next: Set<string>;
    try {
      next = readAllowlistFile(this.file);
    } catch (error) {
      this.logger?.error(
        { err: (error as Error).message },
        "allowlist reload failed; keeping the previous list",
      );
      return false;
    }
    if (sameKeys(next, this.keys)) return false;
    const previous = this.keys;
    this.keys = next;
    this.generation++;
    const change: AllowlistChange = {
      added: [...next].filter((key) => !previous.has(key)),
      removed: [...previous].filter((key) => !next.has(key)),
      generation: this.generation,
    };
    this.logger?.info(
      { file: this.file, keys: next.size, added: change.added.length, removed: change.removed.length },
      "client allowlist reloaded",
    );
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch (error) {
        this.logger?.error({ err: (error as Error).message }, "allowlist change listener failed");
      }
    }
    return true;
  }

  /**
   * Calls `listener` after every reload that changed the list (the new list is already in force).
   * Returns a function that removes the listener.
   */
  onChange(listener: AllowlistListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.closed = true;
    this.listeners.clear();
    this.watcher?.close();
    clearInterval(this.poll);
    if (this.debounce) clearTimeout(this.debounce);
  }

  private startWatcher(): FSWatcher | null {
    try {
      const watcher = watch(dirname(this.file), { persistent: false }, () => this.scheduleReload());
      watcher.on("error", (error) => {
        this.logger?.warn({ err: error.message }, "allowlist watcher failed; relying on polling");
      });
      return watcher;
    } catch (error) {
      this.logger?.warn({ err: (error as Error).message }, "cannot watch the allowlist directory; polling");
      return null;
    }
  }

  /** Several events arrive per update (write, rename, symlink swap): reload once they settle. */
  private scheduleReload(): void {
    if (this.closed) return;
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => {
      this.debounce = null;
      this.reload();
    }, 50);
    this.debounce.unref();
  }
}

function sameKeys(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  for (const key of a) if (!b.has(key)) return false;
  return true;
}
