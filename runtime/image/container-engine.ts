/**
 * A thin wrapper over the docker or podman command line, for the image smoke test.
 * The engine is chosen (and podman's sandbox settings applied) by runtime/image/engine.sh.
 */
import { execFile } from "node:child_process";

export type EngineName = "docker" | "podman";

export interface CommandResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number;
}

/** The parts of `image inspect` the smoke test checks; docker and podman agree on these. */
export interface ImageInspect {
  readonly Size: number;
  readonly Config: {
    readonly User?: string;
    readonly Env?: string[];
    readonly Entrypoint?: string[];
    readonly Cmd?: string[];
    readonly ExposedPorts?: Record<string, unknown>;
    readonly Volumes?: Record<string, unknown>;
    readonly Labels?: Record<string, string>;
    readonly StopSignal?: string;
  };
}

export class ContainerEngine {
  constructor(readonly name: EngineName) {}

  /** The engine named by CONTAINER_ENGINE (set by engine.sh), or an error saying how to run the test. */
  static fromEnvironment(env: NodeJS.ProcessEnv = process.env): ContainerEngine {
    const name = env.CONTAINER_ENGINE;
    if (name !== "docker" && name !== "podman") {
      throw new Error(
        `CONTAINER_ENGINE is ${name === undefined ? "not set" : `"${name}"`}. Fix: run the smoke test through runtime/image/smoke.sh, which picks docker or podman.`,
      );
    }
    return new ContainerEngine(name);
  }

  /** Runs `<engine> ...args`; resolves with the exit code instead of throwing on a non-zero one. */
  run(args: readonly string[], timeoutMs = 60_000): Promise<CommandResult> {
    return new Promise((resolve, reject) => {
      execFile(
        this.name,
        [...args],
        { timeout: timeoutMs, killSignal: "SIGKILL", maxBuffer: 64 * 1024 * 1024 },
        (error, stdout, stderr) => {
          if (error && typeof error.code !== "number") {
            const reason = error.killed ? `timed out after ${timeoutMs} ms` : error.message;
            reject(new Error(`${this.name} ${args.join(" ")}: ${reason}\n${stderr}`));
            return;
          }
          resolve({ stdout, stderr, code: error ? Number(error.code) : 0 });
        },
      );
    });
  }

  /** Runs a command that must succeed; throws with its stderr otherwise. */
  async ok(args: readonly string[], timeoutMs?: number): Promise<string> {
    const result = await this.run(args, timeoutMs);
    if (result.code !== 0) {
      throw new Error(`${this.name} ${args.join(" ")} exited with ${result.code}: ${result.stderr.trim()}`);
    }
    return result.stdout;
  }

  async inspectImage(image: string): Promise<ImageInspect> {
    const [inspect] = JSON.parse(await this.ok(["image", "inspect", image])) as ImageInspect[];
    if (!inspect) throw new Error(`${this.name} image inspect ${image} returned nothing`);
    return inspect;
  }

  /** The host port published for a container port, such as 9090/tcp. */
  async hostPort(container: string, containerPort: number): Promise<number> {
    const out = await this.ok(["port", container, `${containerPort}/tcp`]);
    const match = /:(\d+)\s*$/m.exec(out.trim().split("\n")[0] ?? "");
    if (!match)
      throw new Error(`cannot read the host port of ${container} ${containerPort}/tcp from "${out}"`);
    return Number(match[1]);
  }

  async isRunning(container: string): Promise<boolean> {
    const result = await this.run(["inspect", "--format", "{{.State.Running}}", container]);
    return result.code === 0 && result.stdout.trim() === "true";
  }

  async exitCode(container: string): Promise<number> {
    return Number((await this.ok(["inspect", "--format", "{{.State.ExitCode}}", container])).trim());
  }

  async logs(container: string): Promise<string> {
    const result = await this.run(["logs", container]);
    return `${result.stdout}${result.stderr}`;
  }

  /** Removes a container and its anonymous volumes; never throws (used in cleanup). */
  async remove(container: string): Promise<void> {
    await this.run(["kill", container]).catch(() => undefined);
    await this.run(["rm", "-f", "-v", container]).catch(() => undefined);
  }
}
