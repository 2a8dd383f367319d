/**
 * The split agent-server pod (issue 13): the server keeps the keys, the allowlist and the NATS
 * credentials; agents run in the runner sidecar, which holds no secret, runs as the agents' uid, pays
 * for the agents' CPU and memory, and shares only its socket directory with the server.
 */
import { describe, expect, it } from "vitest";
import {
  AGENT_DEFAULT_GID,
  AGENT_DEFAULT_UID,
  DEFAULT_PATHS,
  ENV_VARS,
  RUNNER_CONTAINER_ARGS,
  loadConfig,
} from "../../runtime/config/index.js";
import { AGENT_SERVER_CONTAINER } from "../../constructs/agent-server.js";
import { AGENT_RUNNER_CONTAINER, DEFAULT_RUNNER_RESOURCES } from "../../constructs/agent-runner.js";
import { EXAMPLE_ENVIRONMENTS, type ExampleEnvironment } from "../../constructs/examples.js";
import { violationsOf } from "../policies/support.js";
import { exampleSpec, find, minimalSpec, synth, type K8sObject } from "./fixtures.js";

interface Mount {
  name: string;
  mountPath: string;
}
// Pod specs are untyped manifest JSON; `any` keeps the deep reads readable.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

const environments = Object.keys(EXAMPLE_ENVIRONMENTS) as ExampleEnvironment[];

function agentServerWorkloads(objects: readonly K8sObject[]): K8sObject[] {
  return objects.filter(
    (o) =>
      ["Deployment", "StatefulSet"].includes(o.kind) &&
      o.metadata.labels?.["app.kubernetes.io/component"] === "agent-server",
  );
}

function split(workload: K8sObject): { pod: Json; server: Json; runner: Json } {
  const pod = workload.spec.template.spec as Json;
  const byName = (name: string) => (pod.containers as Json[]).find((c) => c.name === name)!;
  return { pod, server: byName(AGENT_SERVER_CONTAINER), runner: byName(AGENT_RUNNER_CONTAINER) };
}

/** The pod volume behind each of a container's mounts. */
function mountedVolumes(pod: Json, container: Json): Json[] {
  return (container.volumeMounts as Mount[]).map((mount) =>
    (pod.volumes as Json[]).find((volume) => volume.name === mount.name)!,
  );
}

const envNames = (container: Json) => (container.env as { name: string }[]).map((e) => e.name);

describe("the agent-server pod of every environment", () => {
  it.each(environments)(
    "%s: has exactly the server and the runner, in separate process namespaces",
    (env) => {
      const workloads = agentServerWorkloads(synth(exampleSpec(env)).objects);
      expect(workloads.length).toBeGreaterThanOrEqual(1);
      for (const workload of workloads) {
        const { pod } = split(workload);
        expect((pod.containers as Json[]).map((c) => c.name)).toEqual([
          AGENT_SERVER_CONTAINER,
          AGENT_RUNNER_CONTAINER,
        ]);
        expect(pod.shareProcessNamespace).toBe(false);
        expect(pod.automountServiceAccountToken).toBe(false);
        expect(pod.hostPID).toBeUndefined();
      }
    },
  );

  it.each(environments)("%s: gives the runner no Secret, no secret env and no credential variable", (env) => {
    const objects = synth(exampleSpec(env)).objects;
    for (const workload of agentServerWorkloads(objects)) {
      const { pod, runner } = split(workload);
      for (const volume of mountedVolumes(pod, runner)) {
        expect(Object.keys(volume).sort(), volume.name).toEqual(["emptyDir", "name"]);
      }
      expect(runner.envFrom).toBeUndefined();
      expect(JSON.stringify(runner.env)).not.toMatch(/secretKeyRef|configMapKeyRef|fieldRef/);
      expect(envNames(runner).sort()).toEqual([ENV_VARS["log.level"], ENV_VARS["runner.stateDir"]].sort());
    }
    expect(violationsOf("no-secret-in-runner", objects)).toEqual([]);
  });

  it.each(environments)("%s: shares only the socket directory between server and runner", (env) => {
    for (const workload of agentServerWorkloads(synth(exampleSpec(env)).objects)) {
      const { pod, server, runner } = split(workload);
      const serverVolumes = new Set((server.volumeMounts as Mount[]).map((m) => m.name));
      const shared = (runner.volumeMounts as Mount[]).filter((m) => serverVolumes.has(m.name));
      expect(shared).toHaveLength(1);
      expect(shared[0]!.mountPath).toBe(DEFAULT_PATHS.runnerDir);
      expect((server.volumeMounts as Mount[]).find((m) => m.name === shared[0]!.name)!.mountPath).toBe(
        DEFAULT_PATHS.runnerDir,
      );
      expect((pod.volumes as Json[]).find((v) => v.name === shared[0]!.name)!.emptyDir).toBeDefined();
      // The server's own volumes (keys, allowlist, NATS credentials, its state) are not shared.
      expect(serverVolumes.size).toBeGreaterThan(1);
    }
  });
});

describe("the runner container", () => {
  const dev = synth(exampleSpec("dev")).objects;
  const { pod, server, runner } = split(find(dev, "Deployment", "zeroplane-default"));

  it("runs the runner subcommand of the same image, listening on the contract socket", () => {
    expect(runner.image).toBe(server.image);
    expect(runner.args).toEqual([...RUNNER_CONTAINER_ARGS]);
    // The runner's own bundle (smaller than the CLI, so forks are cheaper), under tini.
    expect(runner.command).toEqual([
      "/usr/bin/tini",
      "--",
      "node",
      "/opt/zeroplane/bin/zeroplane-runner.mjs",
    ]);
    expect(runner.args).toContain(DEFAULT_PATHS.runnerSocket);
    expect(runner.ports).toBeUndefined();
  });

  it("runs as the agents' dedicated uid and gid, not the server's", () => {
    expect(runner.securityContext).toMatchObject({
      runAsUser: AGENT_DEFAULT_UID,
      runAsGroup: AGENT_DEFAULT_GID,
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
    });
    expect(server.securityContext.runAsUser).not.toBe(AGENT_DEFAULT_UID);
  });

  it("keeps its state and the agents' /tmp in its own writable emptyDirs", () => {
    const env = Object.fromEntries((runner.env as { name: string; value: string }[]).map((e) => [e.name, e]));
    const stateDir = env[ENV_VARS["runner.stateDir"]]!.value;
    const mounts = runner.volumeMounts as Mount[];
    const stateMount = mounts.find((m) => m.mountPath === stateDir)!;
    const tmpMount = mounts.find((m) => m.mountPath === "/tmp")!;
    const serverMounts = server.volumeMounts as Mount[];
    for (const mount of [stateMount, tmpMount]) {
      expect((pod.volumes as Json[]).find((v) => v.name === mount.name)!.emptyDir).toBeDefined();
      expect(serverMounts.map((m) => m.name)).not.toContain(mount.name);
    }
  });

  it("has its own resources, so agents' memory counts against it and not the server", () => {
    expect(runner.resources).toEqual({
      requests: {
        cpu: DEFAULT_RUNNER_RESOURCES.requests.cpu,
        memory: DEFAULT_RUNNER_RESOURCES.requests.memory,
        "ephemeral-storage": DEFAULT_RUNNER_RESOURCES.ephemeralStorage,
      },
      limits: {
        cpu: DEFAULT_RUNNER_RESOURCES.limits.cpu,
        memory: DEFAULT_RUNNER_RESOURCES.limits.memory,
        "ephemeral-storage": DEFAULT_RUNNER_RESOURCES.ephemeralStorage,
      },
    });
    const custom = synth(
      minimalSpec({
        agentServers: [
          {
            name: "default",
            runnerResources: {
              requests: { cpu: "1", memory: "4Gi" },
              limits: { cpu: "4", memory: "8Gi" },
              ephemeralStorage: "5Gi",
            },
          },
        ],
      }),
    ).objects;
    const customPod = split(find(custom, "Deployment", "zeroplane-default"));
    expect(customPod.runner.resources.limits).toEqual({
      cpu: "4",
      memory: "8Gi",
      "ephemeral-storage": "5Gi",
    });
    expect(customPod.server.resources.limits.memory).toBe("1Gi");
    const tmp = (customPod.runner.volumeMounts as Mount[]).find((m) => m.mountPath === "/tmp")!;
    expect((customPod.pod.volumes as Json[]).find((v) => v.name === tmp.name)!.emptyDir.sizeLimit).toBe(
      "5Gi",
    );
  });

  it("refuses runner resources whose request exceeds the limit, naming the prop", () => {
    expect(() =>
      synth(
        minimalSpec({
          agentServers: [
            {
              name: "default",
              runnerResources: { requests: { cpu: "1", memory: "4Gi" }, limits: { cpu: "1", memory: "1Gi" } },
            },
          ],
        }),
      ),
    ).toThrow(
      /agentServers\[default\]\.runnerResources\.requests\.memory: is more than the limit \(1Gi\); got "4Gi"/,
    );
  });

  it("is probed through its ready file, never by connecting or by the socket (unlinked once the server connects)", () => {
    for (const probe of [runner.startupProbe, runner.livenessProbe, runner.readinessProbe]) {
      expect(probe.exec.command).toEqual(["test", "-e", DEFAULT_PATHS.runnerReadyFile]);
    }
  });
});

describe("the server container", () => {
  it.each(environments)("%s: reaches the runner through the socket, as its config loader reads it", (env) => {
    for (const workload of agentServerWorkloads(synth(exampleSpec(env)).objects)) {
      const { server } = split(workload);
      const podEnv = Object.fromEntries(
        (server.env as { name: string; value?: string }[]).map((e) => [e.name, e.value ?? "pod-0"]),
      );
      const config = loadConfig({ env: podEnv });
      expect(config.runner.mode).toBe("socket");
      expect(config.runner.socket).toBe(DEFAULT_PATHS.runnerSocket);
    }
  });
});
