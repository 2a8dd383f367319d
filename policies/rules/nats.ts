/**
 * NATS in production: a 3-node (or larger) JetStream cluster, agent servers writing their lifecycle
 * stream with 3 replicas (R3) so losing one node loses no event, and a server config that requires
 * authentication (agent pods run arbitrary commands, and must not read or forge every subject)
 * and, as advice, TLS on the client and cluster ports.
 */
import {
  ENV_VARS,
  jetStreamBytesWithRegistry,
  REGISTRY_BYTES_SHARE,
  SHARED_DEFAULTS,
} from "../../runtime/config/names.js";
import type { K8sObject, ObjectFinding, SetRule } from "../core/types.js";
import { parseEnvBoolean, resolveEnv, type EnvValue } from "../k8s/env.js";
import { imageBaseName } from "../k8s/images.js";
import { at, list, namespaceOf, nameOf, num, str, stringMap } from "../k8s/read.js";
import {
  containersOf,
  describeContainer,
  workloadsIn,
  type ContainerRef,
  type PodTemplate,
} from "../k8s/workloads.js";

const MIN_NODES = 3;
const MIN_STREAM_REPLICAS = 3;
const NATS_ENABLED = ENV_VARS["nats.enabled"];
const NATS_REPLICAS = ENV_VARS["nats.replicas"];
const NATS_MAX_BYTES = ENV_VARS["nats.maxBytes"];
const NATS_REGISTRY = ENV_VARS["nats.registry"];
/** The registry's buckets as a percentage of the stream limit (runtime/events/registry.ts). */
const REGISTRY_PERCENT = Math.round((REGISTRY_BYTES_SHARE.agents + REGISTRY_BYTES_SHARE.keys) * 1000) / 10;
/** max_file_store may use at most this share of the JetStream volume (the constructs use 0.8). */
const MAX_STORE_SHARE = 0.9;
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

const DECIMAL: Readonly<Record<string, number>> = { "": 1, k: 1e3, m: 1e6, g: 1e9, t: 1e12, p: 1e15 };

/** A nats.conf size (`10737418240`, `8G`, `8GB`, `8Gi`; quoted or not) in bytes: one letter is decimal, `b`/`i`/`ib` after it binary. */
export function natsSizeBytes(value: string): number | undefined {
  const match = /^\s*"?\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(b|i|ib)?\s*"?\s*$/i.exec(value);
  if (!match) return undefined;
  const unit = match[2]!.toLowerCase();
  const binary = match[3] !== undefined && unit !== "";
  const factor = binary ? 1024 ** ("kmgtp".indexOf(unit) + 1) : DECIMAL[unit]!;
  return Math.floor(Number(match[1]) * factor);
}

const QUANTITY_FACTORS: Readonly<Record<string, number>> = {
  "": 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: 1024 ** 3,
  Ti: 1024 ** 4,
  Pi: 1024 ** 5,
};

/** A Kubernetes storage quantity ("10Gi", "500M") in bytes. */
function quantityBytes(value: unknown): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(k|M|G|T|P|Ki|Mi|Gi|Ti|Pi)?$/.exec(String(value ?? ""));
  return match ? Math.floor(Number(match[1]) * QUANTITY_FACTORS[match[2] ?? ""]!) : undefined;
}

/** `max_file_store` (or its alias `max_file`) of a config's jetstream block, raw. */
function maxFileStore(config: string): string | undefined {
  const body = blockBody(config, "jetstream");
  if (body === undefined) return undefined;
  return /(?:^|\n)\s*max_file(?:_store)?\s*[:=]?\s*([^\n#]+)/.exec(topLevel(body))?.[1]?.trim();
}

/** The smallest volumeClaimTemplate of a StatefulSet (where JetStream's store lives), in bytes. */
function smallestClaimBytes(object: K8sObject): number | undefined {
  const sizes = list(at(object, "spec", "volumeClaimTemplates"))
    .map((claim) => quantityBytes(at(claim, "spec", "resources", "requests", "storage")))
    .filter((bytes): bytes is number => bytes !== undefined);
  return sizes.length ? Math.min(...sizes) : undefined;
}

/** An app container that turns NATS on, with a reader for its other env vars. */
interface NatsContainer {
  readonly object: K8sObject;
  readonly c: ContainerRef;
  readonly env: (name: string) => EnvValue;
}

function natsEnabledContainers(objects: readonly K8sObject[]): NatsContainer[] {
  const found: NatsContainer[] = [];
  for (const { object, template } of workloadsIn(objects)) {
    const namespace = namespaceOf(object);
    for (const c of containersOf(template, ["containers"])) {
      const env = (name: string) => resolveEnv(c.container, name, objects, namespace);
      const enabled = env(NATS_ENABLED);
      if (enabled.kind === "literal" && parseEnvBoolean(enabled.value) === true)
        found.push({ object, c, env });
    }
  }
  return found;
}

const GiB = 1024 ** 3;
const gib = (bytes: number) => `${(bytes / GiB).toFixed(2)} GiB`;

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
      for (const { object, c, env } of natsEnabledContainers(objects)) {
        const replicas = env(NATS_REPLICAS);
        const where = describeContainer(c);
        if (replicas.kind === "unresolved") {
          findings.push({
            object,
            message: `${where}: stream replicas cannot be verified (${replicas.reason})`,
            path: [...c.path, "env"],
          });
          continue;
        }
        const value = replicas.kind === "literal" ? Number(replicas.value) : SHARED_DEFAULTS["nats.replicas"];
        if (!(value >= MIN_STREAM_REPLICAS)) {
          findings.push({
            object,
            message: `${where} writes its stream with ${replicas.kind === "literal" ? `${NATS_REPLICAS}=${replicas.value}` : `the default of ${value} replica(s)`}`,
            path: [...c.path, "env"],
          });
        }
      }
      return findings;
    },
  },
  {
    id: "jetstream-limits-below-volume",
    severity: "error",
    scope: "set",
    description: `JetStream fills up before its volume does: every NATS StatefulSet with JetStream on a PVC sets max_file_store to at most ${MAX_STORE_SHARE * 100}% of the volume, and agent servers writing to it set a stream byte limit (${NATS_MAX_BYTES}) such that the stream plus the cluster registry's KV buckets (${REGISTRY_PERCENT}% more, unless ${NATS_REGISTRY}=false) fit in max_file_store.`,
    fix: `Set jetstream.max_file_store below the PVC size with headroom (the constructs use 80%), and ${NATS_MAX_BYTES} on the agent servers below it with room for the registry's buckets (the constructs use 75% of max_file_store).`,
    checks: [],
    check(objects) {
      const findings: ObjectFinding[] = [];
      const storeLimits: number[] = [];
      for (const { object, configs } of natsServers(objects)) {
        const config = configs?.find((text) => JETSTREAM_BLOCK.test(text));
        const volume = smallestClaimBytes(object);
        if (config === undefined || volume === undefined) continue;
        const raw = maxFileStore(config);
        const limit = raw === undefined ? undefined : natsSizeBytes(raw);
        if (limit === undefined) {
          findings.push({
            object,
            message: `JetStream has ${raw === undefined ? "no max_file_store" : `an unreadable max_file_store (${raw})`}: it sizes its store from the disk it sees, so the ${gib(volume)} volume can fill (ENOSPC) before JetStream refuses writes`,
            path: ["spec", "volumeClaimTemplates"],
          });
          continue;
        }
        storeLimits.push(limit);
        if (limit > volume * MAX_STORE_SHARE) {
          findings.push({
            object,
            message: `JetStream max_file_store ${gib(limit)} is more than ${MAX_STORE_SHARE * 100}% of the ${gib(volume)} volume: the filesystem fills first and writes fail with ENOSPC`,
            path: ["spec", "volumeClaimTemplates"],
          });
        }
      }
      if (storeLimits.length === 0) return findings;
      const store = Math.min(...storeLimits);
      for (const { object, c, env } of natsEnabledContainers(objects)) {
        const maxBytes = env(NATS_MAX_BYTES);
        if (maxBytes.kind === "unresolved") continue;
        const value = maxBytes.kind === "literal" ? Number(maxBytes.value) : 0;
        const registry = env(NATS_REGISTRY);
        const registryOn = registry.kind !== "literal" || parseEnvBoolean(registry.value) !== false;
        const needed = registryOn ? jetStreamBytesWithRegistry(value) : value;
        if (!(value > 0 && needed <= store)) {
          const what = registryOn
            ? `its stream and the registry's buckets to ${gib(needed)}`
            : `its stream to ${gib(value)}`;
          findings.push({
            object,
            message: `${describeContainer(c)} ${value > 0 ? `limits ${what}, more than JetStream's max_file_store of ${gib(store)}` : "sets no stream byte limit"}: the stream can take the whole store, and events back up into the servers' spools until spawns are refused`,
            path: [...c.path, "env"],
          });
        }
      }
      return findings;
    },
  },
];
