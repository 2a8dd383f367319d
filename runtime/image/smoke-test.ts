/**
 * The runtime image's smoke test, run by runtime/image/smoke.sh after `npm run image` (and in CI).
 *
 * Starts the image as production does (CURVE on with a mounted key and allowlist, read-only root,
 * non-root, all capabilities dropped) and checks from the host that:
 *   - the image carries its contract: user 10001, ports, volumes, labels, size at most 250 MB;
 *   - `zeroplane keygen` (what the keygen Job runs in this image) writes a keypair and exits;
 *   - /readyz answers 200 (timed from `run`: the cold start to ready figure);
 *   - a CURVE client spawns `echo` inside the container and reads its output, while a client whose
 *     key is not on the allowlist is refused;
 *   - orphaned agent grandchildren are reaped (no zombies) and /metrics counts the work;
 *   - SIGTERM stops the container, with its running agent, within the grace period and exit code 0.
 * Any failure prints what failed, why, and the container's log, and exits 1.
 *
 * Usage: runtime/image/smoke.sh [IMAGE]   (default zeroplane:<package.json version>)
 */
import {
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AuthenticationError, ZeroplaneClient } from "../client/index.js";
import {
  AGENT_DEFAULT_GID,
  AGENT_DEFAULT_UID,
  ALLOWLIST_KEY,
  CURVE_SECRET_KEYS,
  DEFAULT_PATHS,
  DEFAULT_PORTS,
  ENV_VARS,
  HTTP_PATHS,
  RUNNER_CONTAINER_ARGS,
  RUNNER_CONTAINER_COMMAND,
} from "../config/index.js";
import { generateKeypair, writeKeypair, type CurveKeypair } from "../security/keys.js";
import { ContainerEngine, type ImageInspect } from "./container-engine.js";

/** The image's user and group; the Kubernetes manifests run it with the same ids. */
const IMAGE_UID = 10001;
/** The issue's size budget for the image on the slim base, uncompressed. */
const MAX_IMAGE_BYTES = 250 * 1000 * 1000;
/** Seconds between SIGTERM and SIGKILL, as Kubernetes' default terminationGracePeriodSeconds. */
const STOP_GRACE_SECONDS = 30;
const READY_DEADLINE_MS = 60_000;
/** Passed as `server --id`: proves the container's command-line flags reach the running server. */
const SERVER_ID = "zeroplane-smoke";

class SmokeFailure extends Error {}

function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new SmokeFailure(message);
}

const started = Date.now();
function step(message: string): void {
  console.log(`[smoke +${((Date.now() - started) / 1000).toFixed(1)}s] ${message}`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Makes a host path readable or writable by the image's user, as fsGroup does in Kubernetes. */
function giveToImageUser(path: string, mode: number): void {
  chmodSync(path, mode);
  if (process.getuid?.() === 0) chownSync(path, IMAGE_UID, IMAGE_UID);
  // Not root: rootful engines see the file as other users do, so make it readable by them.
  else chmodSync(path, mode | (statSync(path).isDirectory() ? 0o005 : 0o004));
}

function checkImageContract(image: string, inspect: ImageInspect, version: string): void {
  const config = inspect.Config;
  check(
    inspect.Size <= MAX_IMAGE_BYTES,
    `the image is ${inspect.Size} bytes uncompressed, over the ${MAX_IMAGE_BYTES}-byte budget. Fix: trim what runtime/Dockerfile copies into the final stage.`,
  );
  check(
    config.User === `${IMAGE_UID}:${IMAGE_UID}` || config.User === String(IMAGE_UID),
    `the image runs as user "${config.User}", expected ${IMAGE_UID}. Fix: USER ${IMAGE_UID}:${IMAGE_UID} in runtime/Dockerfile.`,
  );
  const ports = Object.keys(config.ExposedPorts ?? {}).sort();
  const wanted = Object.values(DEFAULT_PORTS)
    .map((port) => `${port}/tcp`)
    .sort();
  check(
    JSON.stringify(ports) === JSON.stringify(wanted),
    `the image exposes ${ports.join(", ")}, but DEFAULT_PORTS in runtime/config are ${wanted.join(", ")}. Fix: EXPOSE in runtime/Dockerfile.`,
  );
  const volumes = Object.keys(config.Volumes ?? {});
  for (const dir of [DEFAULT_PATHS.stateDir, "/tmp"]) {
    check(
      volumes.includes(dir),
      `the image does not declare ${dir} a volume (it has ${volumes.join(", ")}).`,
    );
  }
  const env = config.Env ?? [];
  check(
    env.includes(`${ENV_VARS["runner.stateDir"]}=${DEFAULT_PATHS.stateDir}`),
    `the image does not set ${ENV_VARS["runner.stateDir"]}=${DEFAULT_PATHS.stateDir} (DEFAULT_PATHS.stateDir).`,
  );
  const labels = config.Labels ?? {};
  check(
    labels["org.opencontainers.image.version"] === version,
    `label org.opencontainers.image.version is "${labels["org.opencontainers.image.version"]}", expected ${version} from package.json.`,
  );
  for (const label of ["org.opencontainers.image.revision", "org.opencontainers.image.source"]) {
    check(labels[label], `label ${label} is missing on ${image}.`);
  }
  check(
    config.StopSignal === "SIGTERM",
    `the image's stop signal is ${config.StopSignal}, expected SIGTERM.`,
  );
}

/**
 * `zeroplane keygen`, as the keygen Job runs it: its script (run by `node`) executes `zeroplane` from
 * PATH, so this bypasses the entrypoint the same way. It must write a keypair and exit.
 */
async function checkKeygen(engine: ContainerEngine, image: string, work: string): Promise<void> {
  const dir = join(work, "keygen");
  mkdirSync(dir);
  giveToImageUser(dir, 0o700);
  const result = await engine.run(
    [
      "run",
      "--rm",
      "--read-only",
      "--cap-drop=ALL",
      "--entrypoint",
      "zeroplane",
      "-v",
      `${dir}:/keys`,
      image,
      "keygen",
      "--dir",
      "/keys",
      "--json",
    ],
    60_000,
  );
  check(
    result.code === 0,
    `\`zeroplane keygen\` in the image exited with ${result.code}: ${result.stderr.trim() || result.stdout.trim()}`,
  );
  const summary = JSON.parse(result.stdout) as { publicKey?: string };
  check(
    summary.publicKey?.length === 40,
    `keygen printed no 40-character public key: ${result.stdout.trim()}`,
  );
  const secretFile = join(dir, CURVE_SECRET_KEYS.secretKey);
  check(
    (statSync(secretFile).mode & 0o777) === 0o600,
    `keygen wrote ${secretFile} with mode ${(statSync(secretFile).mode & 0o777).toString(8)}, expected 600.`,
  );
}

/**
 * The Kubernetes runner container's command (RUNNER_CONTAINER_COMMAND and RUNNER_CONTAINER_ARGS, as
 * the AgentRunner construct sets them) as the agent uid: it must start the runner's own bundle under
 * tini and listen, with its ready file where the probes look.
 */
async function checkRunnerContainer(engine: ContainerEngine, image: string): Promise<void> {
  const name = `zeroplane-smoke-runner-${process.pid}`;
  const [entrypoint, ...command] = RUNNER_CONTAINER_COMMAND;
  await engine.ok([
    "run",
    "--detach",
    "--name",
    name,
    "--read-only",
    "--cap-drop=ALL",
    "--security-opt=no-new-privileges",
    "--user",
    `${AGENT_DEFAULT_UID}:${AGENT_DEFAULT_GID}`,
    "--tmpfs",
    `${DEFAULT_PATHS.runnerDir}:rw,mode=1777`,
    "--tmpfs",
    "/tmp:rw,mode=1777",
    "-e",
    `${ENV_VARS["runner.stateDir"]}=/tmp/state`,
    "--entrypoint",
    entrypoint,
    image,
    ...command,
    ...RUNNER_CONTAINER_ARGS,
  ]);
  try {
    const deadline = Date.now() + 20_000;
    let logs = await engine.logs(name);
    while (
      !logs.includes(`zeroplane runner listening ${DEFAULT_PATHS.runnerSocket}`) &&
      Date.now() < deadline
    ) {
      await sleep(200);
      logs = await engine.logs(name);
    }
    check(
      logs.includes(`zeroplane runner listening ${DEFAULT_PATHS.runnerSocket}`),
      `the runner container (${[...RUNNER_CONTAINER_COMMAND, ...RUNNER_CONTAINER_ARGS].join(" ")}) did not listen within 20 s. Its log:\n${logs}`,
    );
    await engine.ok(["exec", name, "test", "-e", DEFAULT_PATHS.runnerReadyFile]);
  } finally {
    // The runner ignores SIGTERM by design (it waits for the server's drain): kill it outright.
    await engine.run(["kill", name], 30_000);
    await engine.run(["rm", "--force", name], 30_000);
  }
}

/** Polls /readyz until it answers 200; fails early, with the reason, if the container stops. */
async function waitForReady(engine: ContainerEngine, container: string, url: string): Promise<void> {
  const deadline = Date.now() + READY_DEADLINE_MS;
  let lastCheck = 0;
  let last = "no answer yet";
  while (Date.now() < deadline) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      if (response.status === 200) return;
      last = `HTTP ${response.status}`;
    } catch (error) {
      last = (error as Error).message;
    }
    if (Date.now() - lastCheck > 1_000) {
      lastCheck = Date.now();
      check(
        await engine.isRunning(container),
        `the container stopped before it was ready (last /readyz: ${last}).`,
      );
    }
    await sleep(25);
  }
  throw new SmokeFailure(`/readyz did not answer 200 within ${READY_DEADLINE_MS} ms (last: ${last}).`);
}

async function connect(
  port: number,
  serverPublicKey: string,
  client: CurveKeypair,
): Promise<ZeroplaneClient> {
  return ZeroplaneClient.connect({
    endpoints: `tcp://127.0.0.1:${port}`,
    curve: { serverPublicKey, publicKey: client.publicKey, secretKey: client.secretKey },
    timeoutMs: 20_000,
    healthRefreshMs: 0,
  });
}

/** Process states inside the container, from /proc (the image has no ps). */
async function zombieCount(engine: ContainerEngine, container: string): Promise<number> {
  const out = await engine.ok(["exec", container, "sh", "-c", "cat /proc/[0-9]*/stat 2>/dev/null"]);
  // Field 3 follows the command name in parentheses.
  return out.split("\n").filter((line) => /\) Z /.test(line)).length;
}

/** Error-level log lines (pino's JSON) and the CLI's own error reports. */
function errorLines(log: string): string[] {
  return log
    .split("\n")
    .filter(
      (line) => /"level":\s*"?(error|fatal|50|60)\b/.test(line) || /^zeroplane( server)?: error/.test(line),
    );
}

function metricValue(metrics: string, name: string): number {
  return metrics
    .split("\n")
    .filter((line) => line.startsWith(name) && !line.startsWith("#"))
    .reduce((sum, line) => sum + Number(line.split(" ").pop()), 0);
}

async function main(): Promise<void> {
  const engine = ContainerEngine.fromEnvironment();
  const version = (JSON.parse(readFileSync("package.json", "utf8")) as { version: string }).version;
  const image = process.argv[2] ?? `zeroplane:${version}`;
  const container = `zeroplane-smoke-${process.pid}`;
  const work = mkdtempSync(join(tmpdir(), "zeroplane-smoke-"));
  const figures: Record<string, string> = {};
  const clients: ZeroplaneClient[] = [];
  let containerStarted = false;

  try {
    step(`image ${image} with ${engine.name}`);
    const inspect = await engine.inspectImage(image).catch((error: Error) => {
      throw new SmokeFailure(
        `cannot inspect ${image}: ${error.message}. Fix: build it first with npm run image.`,
      );
    });
    checkImageContract(image, inspect, version);
    figures["image size (uncompressed)"] = `${(inspect.Size / 1e6).toFixed(1)} MB (${inspect.Size} bytes)`;

    step("zeroplane keygen in the image, as the keygen Job runs it");
    await checkKeygen(engine, image, work);

    step("the runner container's command, as the agent uid: the runner's own bundle listens");
    await checkRunnerContainer(engine, image);

    step("server keypair and allowlist on the host, mounted read-only");
    const curveDir = join(work, "curve");
    const allowlistDir = join(work, "allowlist");
    const server = writeKeypair(curveDir);
    const client = generateKeypair();
    const intruder = generateKeypair();
    const allowlistFile = join(allowlistDir, ALLOWLIST_KEY);
    mkdirSync(allowlistDir);
    writeFileSync(allowlistFile, `${client.publicKey}\n`);
    for (const dir of [curveDir, allowlistDir]) giveToImageUser(dir, 0o500);
    giveToImageUser(server.secretKeyFile, 0o400);
    giveToImageUser(server.publicKeyFile, 0o400);
    giveToImageUser(allowlistFile, 0o400);

    step("start the container (read-only root, all capabilities dropped, CURVE on)");
    const runStarted = performance.now();
    await engine.ok([
      "run",
      "--detach",
      "--name",
      container,
      "--read-only",
      "--cap-drop=ALL",
      "--security-opt=no-new-privileges",
      "--tmpfs",
      "/tmp",
      "-v",
      `${curveDir}:${DEFAULT_PATHS.curveDir}:ro`,
      "-v",
      `${allowlistDir}:${DEFAULT_PATHS.allowlistDir}:ro`,
      ...Object.values(DEFAULT_PORTS).flatMap((port) => ["-p", `127.0.0.1::${port}`]),
      image,
      "server",
      "--id",
      SERVER_ID,
    ]);
    containerStarted = true;
    const routerPort = await engine.hostPort(container, DEFAULT_PORTS.router);
    const httpPort = await engine.hostPort(container, DEFAULT_PORTS.http);
    const http = `http://127.0.0.1:${httpPort}`;
    await waitForReady(engine, container, `${http}${HTTP_PATHS.readyz}`);
    const readyMs = performance.now() - runStarted;
    figures["cold start to ready (/readyz 200, from run)"] = `${Math.round(readyMs)} ms`;
    step(`ready after ${Math.round(readyMs)} ms`);

    step("a CURVE client on the host spawns an agent in the container and reads its output");
    const allowed = await connect(routerPort, server.publicKey, client);
    clients.push(allowed);
    const health = await allowed.health();
    check(
      health.serverId === SERVER_ID,
      `the server answering is "${health.serverId}", not the "${SERVER_ID}" that \`server --id\` asked for: the command line does not reach the server (or a second server started without it; see the log).`,
    );
    const startupErrors = errorLines(await engine.logs(container));
    check(
      startupErrors.length === 0,
      `the server logged errors while starting:\n${startupErrors.join("\n")}`,
    );
    const echo = await allowed.spawn({ command: "sh", args: ["-c", "echo hello from uid $(id -u)"] });
    const done = await allowed.waitFor(echo.id, { timeoutMs: 20_000 });
    check(
      done.status === "exited" && done.exitCode === 0,
      `the echo agent ended ${done.status}/${done.exitCode}.`,
    );
    const output = await allowed.output({ agentId: echo.id, stream: "stdout" });
    const text = Buffer.from(output.data).toString("utf8");
    check(
      text === `hello from uid ${IMAGE_UID}\n`,
      `the echo agent printed ${JSON.stringify(text)}, expected "hello from uid ${IMAGE_UID}\\n".`,
    );

    step("a client whose key is not on the allowlist is refused");
    const stranger = await ZeroplaneClient.connect({
      endpoints: `tcp://127.0.0.1:${routerPort}`,
      curve: {
        serverPublicKey: server.publicKey,
        publicKey: intruder.publicKey,
        secretKey: intruder.secretKey,
      },
      timeoutMs: 10_000,
      maxAttempts: 1,
      healthRefreshMs: 0,
    });
    clients.push(stranger);
    const refused = await stranger.health().then(
      () => null,
      (error: Error) => error,
    );
    check(
      refused instanceof AuthenticationError,
      `a client missing from the allowlist got ${refused ? `${refused.name}: ${refused.message}` : "a health reply"}, expected an AuthenticationError.`,
    );
    stranger.close();

    step("orphaned grandchildren of agents are reaped (no zombies)");
    const orphaner = await allowed.spawn({ command: "sh", args: ["-c", "sleep 0.2 & exit 0"] });
    await allowed.waitFor(orphaner.id, { timeoutMs: 20_000 });
    const zombieDeadline = Date.now() + 15_000;
    let zombies = await zombieCount(engine, container);
    while (zombies > 0 && Date.now() < zombieDeadline) {
      await sleep(200);
      zombies = await zombieCount(engine, container);
    }
    check(
      zombies === 0,
      `${zombies} zombie process(es) remain in the container: PID 1 is not reaping orphans.`,
    );

    step("/healthz, /readyz and /metrics over HTTP");
    for (const path of [HTTP_PATHS.healthz, HTTP_PATHS.readyz]) {
      const response = await fetch(`${http}${path}`);
      check(response.status === 200, `${path} answered ${response.status}, expected 200.`);
    }
    const metricsResponse = await fetch(`${http}${HTTP_PATHS.metrics}`);
    check(metricsResponse.status === 200, `${HTTP_PATHS.metrics} answered ${metricsResponse.status}.`);
    const metrics = await metricsResponse.text();
    const spawns = metricValue(metrics, "zeroplane_spawns_total");
    check(spawns >= 2, `zeroplane_spawns_total is ${spawns} after 2 spawns.\n${metrics.slice(0, 2000)}`);
    const rejections = metricValue(metrics, "zeroplane_auth_rejections_total");
    check(rejections >= 1, `zeroplane_auth_rejections_total is ${rejections} after a refused client.`);

    step(`SIGTERM with a running agent: ${engine.name} stop --time ${STOP_GRACE_SECONDS}`);
    const sleeper = await allowed.spawn({ command: "sleep", args: ["300"] });
    check(sleeper.status === "running", `the sleep agent is ${sleeper.status}, expected running.`);
    allowed.close();
    const stopStarted = performance.now();
    await engine.ok(
      ["stop", "--time", String(STOP_GRACE_SECONDS), container],
      (STOP_GRACE_SECONDS + 30) * 1000,
    );
    const stopMs = performance.now() - stopStarted;
    figures["SIGTERM to stopped (one running agent)"] = `${Math.round(stopMs)} ms`;
    const exitCode = await engine.exitCode(container);
    check(
      exitCode === 0,
      `the container exited with ${exitCode} after SIGTERM, expected 0 (a clean drain; 137 means it was killed at the deadline).`,
    );
    check(
      stopMs < STOP_GRACE_SECONDS * 1000,
      `stopping took ${Math.round(stopMs)} ms, beyond the ${STOP_GRACE_SECONDS} s grace period.`,
    );
    const logs = await engine.logs(container);
    check(
      /shutdown requested/.test(logs),
      `the server did not log its SIGTERM drain ("shutdown requested").`,
    );

    console.log("\nSMOKE TEST PASSED");
    for (const [name, value] of Object.entries(figures)) console.log(`  ${name}: ${value}`);
  } catch (error) {
    console.error(`\nSMOKE TEST FAILED: ${(error as Error).message}`);
    if (!(error instanceof SmokeFailure)) console.error((error as Error).stack);
    if (containerStarted)
      console.error(`\n--- ${container} log ---\n${await engine.logs(container)}--- end of log ---`);
    process.exitCode = 1;
  } finally {
    for (const client of clients) client.close();
    if (containerStarted) await engine.remove(container);
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
