/**
 * Keeps a server's runner connection: when the runner goes away (its agents died with it), starts or
 * reaches a new one, retrying every second until it answers, so the server recovers without a
 * restart. Spawns in between fail with the reason. In Kubernetes the runner container restarts and
 * listens again; in mode "process" a new runner process is started.
 */
import type { LaunchEvents, LaunchSpec, LaunchedProcess, ProcessLauncher } from "../launcher.js";
import type { ReapReport } from "../records.js";
import type { RemoteLauncher } from "./launcher.js";

const RETRY_MS = 1_000;

/** Opens a new runner connection; `onLost` is called once if it later drops. */
export type RunnerConnector = (onLost: (reason: string) => void) => Promise<RemoteLauncher>;

export class ReconnectingLauncher implements ProcessLauncher {
  private closed = false;
  private retry: NodeJS.Timeout | undefined;

  private constructor(
    private current: RemoteLauncher,
    private readonly connector: RunnerConnector,
    private readonly warn: (message: string) => void,
  ) {}

  static async open(
    connector: RunnerConnector,
    warn: (message: string) => void,
  ): Promise<ReconnectingLauncher> {
    let self: ReconnectingLauncher | null = null;
    const first = await connector((reason) => self?.onLost(reason));
    self = new ReconnectingLauncher(first, connector, warn);
    return self;
  }

  get instanceId(): string {
    return this.current.instanceId;
  }

  get watchdogPid(): number | null {
    return this.current.watchdogPid;
  }

  get reapedAtStartup(): ReapReport {
    return this.current.reapedAtStartup;
  }

  /** While reconnecting, the lost launcher refuses launches with the reason. */
  launch(spec: LaunchSpec, events: LaunchEvents): LaunchedProcess {
    return this.current.launch(spec, events);
  }

  flush(): Promise<void> {
    return this.current.flush();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    await this.current.close();
  }

  private onLost(reason: string): void {
    if (this.closed) return;
    this.warn(`${reason}; starting or reaching a new runner`);
    this.reconnect();
  }

  private reconnect(): void {
    if (this.closed) return;
    this.connector((reason) => this.onLost(reason)).then(
      (launcher) => {
        if (this.closed) {
          void launcher.close();
          return;
        }
        this.current = launcher;
        this.warn("connected to a new runner; spawning again");
      },
      (error: Error) => {
        this.warn(`no runner yet (${error.message}); retrying in ${RETRY_MS} ms`);
        this.retry = setTimeout(() => this.reconnect(), RETRY_MS);
        this.retry.unref();
      },
    );
  }
}
