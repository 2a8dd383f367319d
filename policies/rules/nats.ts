/**
 * NATS JetStream in production: a 3-node (or larger) cluster, and agent servers writing their
 * lifecycle stream with 3 replicas (R3), so losing one node loses no event.
 */
import { defaultConfig, ENV_VARS } from "../../runtime/config/index.js";
import type { K8sObject, ObjectFinding, SetRule } from "../core/types.js";
import { parseEnvBoolean, resolveEnv } from "../k8s/env.js";
import { imageBaseName } from "../k8s/images.js";
import { at, list, namespaceOf, nameOf, num, str, stringMap } from "../k8s/read.js";
import { containersOf, describeContainer, workloadsIn, type PodTemplate } from "../k8s/workloads.js";

const MIN_NODES = 3;
const MIN_STREAM_REPLICAS = 3;
const NATS_ENABLED = ENV_VARS["nats.enabled"];
const NATS_REPLICAS = ENV_VARS["nats.replicas"];
const JETSTREAM_FLAG = /^(--jetstream|-js)$/;
const JETSTREAM_BLOCK = /(^|\n)\s*jetstream\s*[:{]/;

function isNatsServer(template: PodTemplate): boolean {
  return containersOf(template, ["containers"]).some(
    (c) => imageBaseName(str(c.container.image) ?? "") === "nats",
  );
}

/**
 * Whether the NATS pods run JetStream: a --jetstream flag, or a `jetstream` block in a mounted
 * ConfigMap. When the config cannot be seen (a Secret), assume yes: the kit runs NATS for JetStream.
 */
function runsJetStream(objects: readonly K8sObject[], object: K8sObject, template: PodTemplate): boolean {
  const containers = containersOf(template, ["containers"]);
  if (
    containers.some((c) =>
      [...list(c.container.args), ...list(c.container.command)].some(
        (a) => typeof a === "string" && JETSTREAM_FLAG.test(a),
      ),
    )
  ) {
    return true;
  }
  const configMaps = list(template.spec.volumes)
    .map((v) => str(at(v, "configMap", "name")))
    .filter((name): name is string => name !== undefined)
    .map((name) =>
      objects.find(
        (o) => o.kind === "ConfigMap" && nameOf(o) === name && namespaceOf(o) === namespaceOf(object),
      ),
    );
  if (configMaps.length === 0 || configMaps.some((cm) => cm === undefined)) return true;
  return configMaps.some((cm) =>
    Object.values(stringMap(cm!.data)).some((text) => JETSTREAM_BLOCK.test(text)),
  );
}

export const natsRules: readonly SetRule[] = [
  {
    id: "nats-prod-cluster-size",
    severity: "error",
    scope: "set",
    productionOnly: true,
    description: `In production, a NATS JetStream StatefulSet runs at least ${MIN_NODES} nodes (Raft needs a majority to survive a node loss).`,
    fix: `Set the NATS cluster size (StatefulSet spec.replicas) to ${MIN_NODES} or another odd number above it.`,
    checks: [],
    check(objects) {
      return workloadsIn(objects.filter((o) => o.kind === "StatefulSet"))
        .filter(({ template }) => isNatsServer(template))
        .filter(({ object, template }) => runsJetStream(objects, object, template))
        .filter(({ object }) => (num(at(object, "spec", "replicas")) ?? 1) < MIN_NODES)
        .map(({ object }) => ({
          object,
          message: `runs JetStream on ${num(at(object, "spec", "replicas")) ?? 1} node(s)`,
          path: ["spec", "replicas"],
        }));
    },
  },
  {
    id: "nats-prod-stream-replicas",
    severity: "error",
    scope: "set",
    productionOnly: true,
    description: `In production, agent servers with NATS enabled write their JetStream stream with at least ${MIN_STREAM_REPLICAS} replicas (${NATS_REPLICAS}).`,
    fix: `Set ${NATS_REPLICAS}=${MIN_STREAM_REPLICAS} on the agent server (the runtime default is ${defaultConfig().nats.replicas}).`,
    checks: [],
    check(objects) {
      const findings: ObjectFinding[] = [];
      for (const { object, template } of workloadsIn(objects)) {
        const namespace = namespaceOf(object);
        for (const c of containersOf(template, ["containers"])) {
          const enabled = resolveEnv(c.container, NATS_ENABLED, objects, namespace);
          if (enabled.kind !== "literal" || parseEnvBoolean(enabled.value) !== true) continue;
          const replicas = resolveEnv(c.container, NATS_REPLICAS, objects, namespace);
          const where = describeContainer(c);
          if (replicas.kind === "unresolved") {
            findings.push({
              object,
              message: `${where}: stream replicas cannot be verified (${replicas.reason})`,
              path: [...c.path, "env"],
            });
            continue;
          }
          const value = replicas.kind === "literal" ? Number(replicas.value) : defaultConfig().nats.replicas;
          if (!(value >= MIN_STREAM_REPLICAS)) {
            findings.push({
              object,
              message: `${where} writes its stream with ${replicas.kind === "literal" ? `${NATS_REPLICAS}=${replicas.value}` : `the default of ${value} replica(s)`}`,
              path: [...c.path, "env"],
            });
          }
        }
      }
      return findings;
    },
  },
];
