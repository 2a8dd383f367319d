/**
 * Finds the system binaries that tests start for real, installing Debian's packages when we may.
 */
import { execFileSync, spawnSync } from "node:child_process";

/** The binaries the tests run for real, and the Debian package of each. */
export const SYSTEM_TOOLS = {
  "nats-server": "nats-server",
  tmux: "tmux", // `zeroplane top` in a real terminal
  zsh: "zsh", // the zsh completion script is parsed by zsh
  fish: "fish", // the fish completion script is parsed by fish
} as const;

type Tool = keyof typeof SYSTEM_TOOLS;

function onPath(binary: string): string | null {
  const result = spawnSync("sh", ["-c", `command -v ${binary}`], { encoding: "utf8" });
  return result.status === 0 ? result.stdout.trim() : null;
}

/** Installs the Debian packages of every missing tool as root; throws naming the fix otherwise. */
export function ensureSystemTools(tools: readonly Tool[] = Object.keys(SYSTEM_TOOLS) as Tool[]): void {
  const missing = tools.filter((tool) => onPath(tool) === null);
  if (missing.length === 0) return;
  const packages = [...new Set(missing.map((tool) => SYSTEM_TOOLS[tool]))];
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
  if (isRoot && onPath("apt-get")) {
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    execFileSync("apt-get", ["update", "-qq"], { stdio: "inherit", env });
    execFileSync("apt-get", ["install", "-y", "-qq", ...packages], { stdio: "inherit", env });
  }
  const still = missing.filter((tool) => onPath(tool) === null);
  if (still.length > 0) {
    throw new Error(
      `${still.join(", ")} not on PATH. Fix: install Debian's packages (sudo apt-get update && sudo apt-get install -y ${packages.join(" ")}), then run the tests again.`,
    );
  }
}

/** Returns the path of nats-server, installing Debian's `nats-server` package as root if it is missing. */
export function ensureNatsServer(): string {
  ensureSystemTools(["nats-server"]);
  return onPath("nats-server")!;
}
