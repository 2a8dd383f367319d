/**
 * Finds the system binaries that tests start for real, installing Debian's packages when we may.
 */
import { execFileSync, spawnSync } from "node:child_process";

function onPath(binary: string): string | null {
  const result = spawnSync("sh", ["-c", `command -v ${binary}`], { encoding: "utf8" });
  return result.status === 0 ? result.stdout.trim() : null;
}

/** Returns the path of nats-server, installing Debian's `nats-server` package as root if it is missing. */
export function ensureNatsServer(): string {
  const found = onPath("nats-server");
  if (found) return found;
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
  if (isRoot && onPath("apt-get")) {
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    execFileSync("apt-get", ["update", "-qq"], { stdio: "inherit", env });
    execFileSync("apt-get", ["install", "-y", "-qq", "nats-server"], { stdio: "inherit", env });
    const installed = onPath("nats-server");
    if (installed) return installed;
  }
  throw new Error(
    "nats-server is not on PATH. Fix: install Debian's package (sudo apt-get update && sudo apt-get install -y nats-server), then run the tests again.",
  );
}
