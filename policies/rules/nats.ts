/**
 * NATS in production: a 3-node (or larger) JetStream cluster, agent servers writing their lifecycle
 * stream with 3 replicas (R3) so losing one node loses no event, and a server config that requires
 * authentication (agent pods run arbitrary commands, and must not read or forge every subject)
 * and, as advice, TLS on the client and cluster ports.
 */
import { ENV_VARS, SHARED_DEFAULTS } from "../../runtime/config/names.js";
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

/** A block or setting that makes nats-server authenticate clients. */
const AUTH_BLOCK = /(^|\n)\s*(authorization|accounts)\s*[:{]|(^|\n)\s*operator\s*[:=]/;
/** Command-line flags that turn authentication on. */
const AUTH_FLAG = /^--?(user|pass|auth)(=|$)/;
const TLS_KEY = /(^|\n)\s*tls\s*[:{]/;
/** Lets clients without credentials in as a configured user. */
const NO_AUTH_USER = /(^|\n)\s*no_auth_user\s*[:=]/;

/** The nats.conf texts a NATS pod mounts from ConfigMaps; undefined when one cannot be seen. */
function mountedConfigs(
  objects: readonly K8sObject[],
  object: K8sObject,
  template: PodTemplate,
): string[] | undefined {
  const names = list(template.spec.volumes)
    .map((v) => str(at(v, "configMap", "name")))
    .filter((name): name is string => name !== undefined);
  const texts: string[] = [];
  for (const name of names) {
    const cm = objects.find(
      (o) => o.kind === "ConfigMap" && nameOf(o) === name && namespaceOf(o) === namespaceOf(object),
    );
    if (cm === undefined) return undefined;
    texts.push(...Object.values(stringMap(cm.data)));
  }
  return texts.length > 0 ? texts : undefined;
}

/** The body of the first `name { ... }` block, braces matched; undefined when there is none. */
function blockBody(text: string, name: string): string | undefined {
  const start = new RegExp(`(^|\\n)\\s*${name}\\s*:?\\s*\\{`).exec(text);
  if (!start) return undefined;
  let depth = 1;
  const from = start.index + start[0].length;
  for (let i = from; i < text.length; i++) {
    if (text[i] === "{") depth++;
    else if (text[i] === "}" && --depth === 0) return text.slice(from, i);
  }
  return text.slice(from);
}

/**
 * The text outside every block (`name { ... }` keeps its name and empty braces), so a setting nested
 * in `cluster` or `leafnodes` does not count at the top level.
 */
function topLevel(text: string): string {
  let out = "";
  let depth = 0;
  for (const char of text) {
    if (char === "{") {
      if (depth === 0) out += char;
      depth++;
    } else if (char === "}") {
      depth = Math.max(0, depth - 1);
      if (depth === 0) out += char;
    } else if (depth === 0) {
      out += char;
    }
  }
  return out;
}

/** NATS server pods with the config they run: `configs` undefined when it cannot be seen. */
function natsServers(objects: readonly K8sObject[]) {
  return workloadsIn(objects.filter((o) => o.kind === "StatefulSet"))
    .filter(({ template }) => isNatsServer(template))
    .map(({ object, template }) => ({
      object,
      template,
      configs: mountedConfigs(objects, object, template),
      flags: containersOf(template, ["containers"]).flatMap((c) =>
        [...list(c.container.args), ...list(c.container.command)].filter(
          (a): a is string => typeof a === "string",
        ),
      ),
    }));
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
    id: "nats-prod-authorization",
    severity: "error",
    scope: "set",
    productionOnly: true,
    description:
      "In production, the NATS server config (nats.conf in a mounted ConfigMap) requires authentication: a top-level `authorization` or `accounts` block or an `operator`, and no `no_auth_user` (agent pods run arbitrary commands and must not read or publish every subject).",
    fix: "Set zeroplane:nats.auth.secretName (the NatsCluster construct's `auth`) to a Secret with keys user and password; the config then gets an authorization block and the agent servers the credential files.",
    checks: [],
    check(objects) {
      return natsServers(objects).flatMap(({ object, configs, flags }): ObjectFinding[] => {
        if (flags.some((flag) => AUTH_FLAG.test(flag))) return [];
        if (configs === undefined) {
          return [
            {
              object,
              message:
                "authentication cannot be verified: the config is not in a ConfigMap among the checked objects",
              path: ["spec", "template", "spec", "volumes"],
            },
          ];
        }
        const text = topLevel(configs.join("\n"));
        const problem = !AUTH_BLOCK.test(text)
          ? "has no authorization, accounts or operator: any pod that reaches port 4222 may connect"
          : NO_AUTH_USER.test(text)
            ? "sets no_auth_user: clients without credentials connect as that user"
            : undefined;
        return problem === undefined
          ? []
          : [{ object, message: `its nats.conf ${problem}`, path: ["spec", "template", "spec", "volumes"] }];
      });
    },
  },
  {
    id: "nats-prod-tls",
    severity: "warning",
    scope: "set",
    productionOnly: true,
    description:
      "In production, the NATS server config serves TLS on the client port (a top-level `tls` block) and, when clustered, on the route port (a `tls` block inside `cluster`).",
    fix: "Set zeroplane:nats.tls.client.secretName and zeroplane:nats.tls.cluster.secretName to kubernetes.io/tls Secrets (keys tls.crt, tls.key, ca.crt); the agent servers then connect with tls:// and the CA.",
    checks: [],
    check(objects) {
      return natsServers(objects).flatMap(({ object, configs }): ObjectFinding[] => {
        if (configs === undefined) return []; // nats-prod-authorization already reports the unseen config
        const text = configs.join("\n");
        const missing: string[] = [];
        if (!TLS_KEY.test(topLevel(text))) missing.push("the client port (no top-level tls block)");
        const cluster = blockBody(text, "cluster");
        if (cluster !== undefined && !TLS_KEY.test(cluster)) {
          missing.push("cluster routes (no tls block inside cluster)");
        }
        return missing.length === 0
          ? []
          : [
              {
                object,
                message: `its nats.conf serves plaintext on ${missing.join(" and ")}`,
                path: ["spec", "template", "spec", "volumes"],
              },
            ];
      });
    },
  },
  {
    id: "nats-prod-stream-replicas",
    severity: "error",
    scope: "set",
    productionOnly: true,
    description: `In production, agent servers with NATS enabled write their JetStream stream with at least ${MIN_STREAM_REPLICAS} replicas (${NATS_REPLICAS}).`,
    fix: `Set ${NATS_REPLICAS}=${MIN_STREAM_REPLICAS} on the agent server (the runtime default is ${SHARED_DEFAULTS["nats.replicas"]}).`,
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
          const value =
            replicas.kind === "literal" ? Number(replicas.value) : SHARED_DEFAULTS["nats.replicas"];
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
