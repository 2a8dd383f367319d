/**
 * Every rule, on a passing and a failing set of objects: through the engine (the CLI's path) and
 * through the rule's CrossGuard policy with props wrapped in @pulumi/policy's unknownCheckingProxy.
 */
import { describe, expect, it } from "vitest";
import { ENV_VARS } from "../../runtime/config/index.js";
import { RULES, ruleById } from "../../policies/rules/index.js";
import {
  agentServer,
  asPulumiResources,
  baseline,
  crossguardViolations,
  find,
  violationsOf,
  type Editable,
  type RunOptions,
} from "./support.js";

interface Case {
  readonly rule: string;
  /** Breaks the compliant platform so that exactly this rule has something to say. */
  readonly fail: (objects: Editable[]) => Editable[] | void;
  readonly options?: RunOptions;
  /** Whether the CrossGuard pack reports it too (manifest-only rules do not). @default true */
  readonly crossguard?: boolean;
}

const DIGEST_IMAGE =
  "example.com/zeroplane/runtime@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const prod = { environment: "prod" };

const cases: readonly Case[] = [
  { rule: "pss-host-namespaces", fail: (o) => void (agentServer(o).pod.hostPID = true) },
  { rule: "pss-privileged", fail: (o) => void (agentServer(o).container.securityContext.privileged = true) },
  {
    rule: "pss-capabilities-baseline",
    fail: (o) => void (agentServer(o).container.securityContext.capabilities.add = ["SYS_ADMIN"]),
  },
  {
    rule: "pss-hostpath",
    fail: (o) => void agentServer(o).pod.volumes.push({ name: "host", hostPath: { path: "/" } }),
  },
  { rule: "pss-host-ports", fail: (o) => void (agentServer(o).container.ports[0].hostPort = 5555) },
  {
    rule: "pss-host-process",
    fail: (o) => void (agentServer(o).pod.securityContext.windowsOptions = { hostProcess: true }),
  },
  {
    rule: "pss-apparmor",
    fail: (o) =>
      void (agentServer(o).deployment.spec.template.metadata.annotations = {
        "container.apparmor.security.beta.kubernetes.io/server": "unconfined",
      }),
  },
  {
    rule: "pss-selinux",
    fail: (o) => void (agentServer(o).container.securityContext.seLinuxOptions = { user: "system_u" }),
  },
  {
    rule: "pss-proc-mount",
    fail: (o) => void (agentServer(o).container.securityContext.procMount = "Unmasked"),
  },
  {
    rule: "pss-seccomp-baseline",
    fail: (o) => void (agentServer(o).container.securityContext.seccompProfile = { type: "Unconfined" }),
  },
  {
    rule: "pss-sysctls",
    fail: (o) => void (agentServer(o).pod.securityContext.sysctls = [{ name: "kernel.msgmax", value: "1" }]),
  },
  {
    rule: "pss-volume-types",
    fail: (o) =>
      void agentServer(o).pod.volumes.push({ name: "nfs", nfs: { server: "nfs.example.com", path: "/" } }),
  },
  {
    rule: "pss-allow-privilege-escalation",
    fail: (o) => void delete agentServer(o).container.securityContext.allowPrivilegeEscalation,
  },
  { rule: "pss-run-as-non-root", fail: (o) => void delete agentServer(o).pod.securityContext.runAsNonRoot },
  { rule: "pss-run-as-user", fail: (o) => void (agentServer(o).container.securityContext.runAsUser = 0) },
  {
    rule: "pss-seccomp-restricted",
    fail: (o) => void delete agentServer(o).pod.securityContext.seccompProfile,
  },
  {
    rule: "pss-capabilities-restricted",
    fail: (o) => void (agentServer(o).container.securityContext.capabilities = { drop: ["NET_RAW"] }),
  },
  {
    rule: "ro-root-fs",
    fail: (o) => void (agentServer(o).container.securityContext.readOnlyRootFilesystem = false),
  },
  { rule: "high-uid-gid", fail: (o) => void (agentServer(o).pod.securityContext.runAsUser = 1000) },
  {
    rule: "env-no-duplicate-keys",
    fail: (o) => void agentServer(o).container.env.push({ name: ENV_VARS["nats.replicas"], value: "3" }),
  },
  { rule: "container-ports-valid", fail: (o) => void (agentServer(o).container.ports[1].name = "router") },
  {
    rule: "image-tag-pinned",
    fail: (o) => void (agentServer(o).container.image = "example.com/zeroplane/runtime:latest"),
  },
  {
    rule: "image-digest-prod",
    options: prod,
    fail: (o) => void (agentServer(o).container.image = "example.com/zeroplane/runtime:1.0.0"),
  },
  {
    rule: "image-pull-policy-always",
    fail: (o) => void (agentServer(o).container.image = "example.com/zeroplane/runtime:1.0.0"),
  },
  {
    rule: "image-registry-allowlist",
    options: { allowedRegistries: ["example.com/zeroplane/", "nats@"] },
    fail: (o) => void (agentServer(o).container.image = "ghcr.io/someone/runtime:1.0.0"),
  },
  { rule: "resources-requests", fail: (o) => void delete agentServer(o).container.resources.requests.cpu },
  {
    rule: "resources-memory-limit",
    fail: (o) => void delete agentServer(o).container.resources.limits.memory,
  },
  { rule: "resources-cpu-limit", fail: (o) => void delete agentServer(o).container.resources.limits.cpu },
  {
    rule: "ephemeral-storage",
    fail: (o) => void delete agentServer(o).container.resources.requests["ephemeral-storage"],
  },
  { rule: "probes-readiness", fail: (o) => void delete agentServer(o).container.readinessProbe },
  { rule: "probes-liveness", fail: (o) => void delete agentServer(o).container.livenessProbe },
  {
    rule: "probes-not-identical",
    fail: (o) =>
      void (agentServer(o).container.livenessProbe = structuredClone(
        agentServer(o).container.readinessProbe,
      )),
  },
  {
    rule: "no-secret-literals-in-env",
    fail: (o) =>
      void agentServer(o).container.env.push({
        name: ENV_VARS["security.secretKey"],
        value: "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7",
      }),
  },
  {
    rule: "no-secrets-in-configmap",
    fail: (o) =>
      void (find(o, "ConfigMap", "nats-config").data["auth.conf"] = "authorization { password: hunter2 }"),
  },
  {
    rule: "no-secret-data-in-manifests",
    crossguard: false,
    fail: (o) => [
      ...o,
      {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "curve", namespace: "zeroplane" },
        data: { "server.key_secret": "c2VjcmV0" },
      },
    ],
  },
  {
    rule: "no-secret-in-runner",
    fail: (o) => {
      const runner = agentServer(o).pod.containers[1];
      runner.volumeMounts.push({ name: "curve", mountPath: "/var/run/zeroplane/curve" });
      runner.env = [
        { name: "NATS_PASSWORD", valueFrom: { secretKeyRef: { name: "nats-auth", key: "password" } } },
      ];
      runner.envFrom = [{ secretRef: { name: "nats-auth" } }];
    },
  },
  {
    rule: "no-placeholder-digest-autosync",
    options: { autoSynced: true },
    crossguard: false,
    fail: (o) =>
      void (agentServer(o).container.image = `example.com/zeroplane/runtime@sha256:${"0".repeat(64)}`),
  },
  {
    rule: "replicas-min-2",
    options: prod,
    fail: (o) => {
      agentServer(o).deployment.spec.replicas = 1;
      return o.filter((x) => x.kind !== "HorizontalPodAutoscaler");
    },
  },
  { rule: "hpa-no-static-replicas", fail: (o) => void (agentServer(o).deployment.spec.replicas = 3) },
  {
    rule: "hpa-has-target",
    fail: (o) => void (find(o, "HorizontalPodAutoscaler").spec.scaleTargetRef.name = "ghost"),
  },
  {
    rule: "sts-headless-service",
    fail: (o) => void delete find(o, "Service", "nats-headless").spec.clusterIP,
  },
  {
    rule: "pdb-exists",
    fail: (o) => o.filter((x) => !(x.kind === "PodDisruptionBudget" && x.metadata.name === "nats")),
  },
  {
    rule: "pdb-vs-hpa",
    fail: (o) => void (find(o, "PodDisruptionBudget", "agent-server").spec.minAvailable = 3),
  },
  {
    rule: "pdb-allows-eviction",
    fail: (o) => void (find(o, "PodDisruptionBudget", "nats").spec.maxUnavailable = 0),
  },
  {
    rule: "spread",
    fail: (o) => void delete find(o, "StatefulSet", "nats").spec.template.spec.topologySpreadConstraints,
  },
  {
    rule: "hpa-min-2",
    options: prod,
    fail: (o) => void (find(o, "HorizontalPodAutoscaler").spec.minReplicas = 1),
  },
  { rule: "hpa-max-gt-min", fail: (o) => void (find(o, "HorizontalPodAutoscaler").spec.maxReplicas = 2) },
  {
    rule: "rolling-update",
    fail: (o) => void (agentServer(o).deployment.spec.strategy = { type: "Recreate" }),
  },
  {
    rule: "selector-matches-template",
    fail: (o) => void (agentServer(o).deployment.spec.selector.matchLabels = { app: "other" }),
  },
  {
    rule: "pdb-has-policy",
    fail: (o) => void delete find(o, "PodDisruptionBudget", "nats").spec.maxUnavailable,
  },
  { rule: "cronjob-deadline", fail: (o) => void delete find(o, "CronJob").spec.startingDeadlineSeconds },
  {
    rule: "cronjob-restartpolicy",
    fail: (o) => void (find(o, "CronJob").spec.jobTemplate.spec.template.spec.restartPolicy = "Always"),
  },
  {
    rule: "netpol-selects-every-pod",
    fail: (o) => o.filter((x) => !(x.kind === "NetworkPolicy" && x.metadata.name === "default-deny")),
  },
  {
    rule: "netpol-targets-pods",
    fail: (o) => [
      ...o,
      {
        apiVersion: "networking.k8s.io/v1",
        kind: "NetworkPolicy",
        metadata: { name: "ghost", namespace: "zeroplane" },
        spec: { podSelector: { matchLabels: { app: "ghost" } } },
      },
    ],
  },
  {
    rule: "netpol-dns-egress",
    fail: (o) => o.filter((x) => !(x.kind === "NetworkPolicy" && x.metadata.name === "allow-dns")),
  },
  {
    rule: "svc-targets-pods",
    fail: (o) => void (find(o, "Service", "agent-server").spec.selector = { app: "ghost" }),
  },
  {
    rule: "lb-requires-curve",
    fail: (o) =>
      void (agentServer(o).container.env.find((e: Editable) => e.name === ENV_VARS["security.curve"]).value =
        "false"),
  },
  {
    rule: "svc-lb-source-ranges",
    fail: (o) => void delete find(o, "Service", "agent-server").spec.loadBalancerSourceRanges,
  },
  {
    // The NetworkPolicy admits the health-check port only from the client range, as in the prod bug.
    rule: "lb-health-check-admitted",
    fail: (o) =>
      void (find(o, "NetworkPolicy", "agent-server").spec.ingress[1].from = [
        { ipBlock: { cidr: "203.0.113.0/24" } },
      ]),
  },
  {
    rule: "svc-no-nodeport",
    fail: (o) => {
      const service = find(o, "Service", "agent-server");
      service.spec.type = "NodePort";
      delete service.spec.loadBalancerSourceRanges;
    },
  },
  {
    rule: "svc-no-external-ips",
    fail: (o) => void (find(o, "Service", "agent-server").spec.externalIPs = ["192.0.2.10"]),
  },
  { rule: "ingress-tls", fail: (o) => void delete find(o, "Ingress").spec.tls },
  { rule: "ingress-host-set", fail: (o) => void delete find(o, "Ingress").spec.rules[0].host },
  {
    rule: "ingress-targets-service",
    fail: (o) => void (find(o, "Ingress").spec.rules[0].http.paths[0].backend.service.name = "ghost"),
  },
  {
    rule: "nats-prod-cluster-size",
    options: prod,
    fail: (o) => void (find(o, "StatefulSet", "nats").spec.replicas = 1),
  },
  {
    rule: "nats-prod-stream-replicas",
    options: prod,
    fail: (o) =>
      void (agentServer(o).container.env = agentServer(o).container.env.filter(
        (e: Editable) => e.name !== ENV_VARS["nats.replicas"],
      )),
  },
  {
    rule: "nats-prod-authorization",
    options: prod,
    fail: (o) => void natsConf(o, (conf) => removeBlock(conf, "authorization")),
  },
  {
    rule: "nats-prod-tls",
    options: prod,
    fail: (o) => void natsConf(o, (conf) => removeBlock(conf, "tls")),
  },
  {
    // max_file_store equal to the 10Gi PVC, as every environment had it.
    rule: "jetstream-limits-below-volume",
    fail: (o) => void natsConf(o, (conf) => conf.replace("max_file_store: 8G", "max_file_store: 10Gi")),
  },
  {
    rule: "rbac-no-exec-attach",
    fail: (o) =>
      void find(o, "Role", "keygen").rules.push({
        apiGroups: [""],
        resources: ["pods/exec"],
        verbs: ["create"],
      }),
  },
  {
    rule: "rbac-no-cluster-admin",
    fail: (o) =>
      void (find(o, "RoleBinding", "keygen").roleRef = {
        apiGroup: "rbac.authorization.k8s.io",
        kind: "ClusterRole",
        name: "cluster-admin",
      }),
  },
  {
    rule: "no-sa-token-automount",
    fail: (o) => {
      delete agentServer(o).pod.automountServiceAccountToken;
      delete find(o, "ServiceAccount", "agent-server").automountServiceAccountToken;
    },
  },
  {
    rule: "no-default-namespace",
    fail: (o) => void (find(o, "ConfigMap", "nats-config").metadata.namespace = "default"),
  },
  {
    rule: "label-values-valid",
    fail: (o) => void (agentServer(o).deployment.metadata.labels["app.kubernetes.io/version"] = "not valid!"),
  },
  {
    rule: "stable-api-versions",
    fail: (o) => void (find(o, "HorizontalPodAutoscaler").apiVersion = "autoscaling/v2beta2"),
  },
];

/** Rewrites the fixture's nats.conf. */
function natsConf(objects: Editable[], edit: (conf: string) => string): void {
  const data = find(objects, "ConfigMap", "nats-config").data;
  data["nats.conf"] = edit(data["nats.conf"] as string);
}

/** Removes every `name { ... }` block of a (flat or nested) nats.conf; fails when there is none. */
function removeBlock(conf: string, name: string): string {
  const pattern = new RegExp(`^( *)${name} \\{\\n[\\s\\S]*?^\\1\\}\\n`, "gm");
  if (!pattern.test(conf)) throw new Error(`the fixture's nats.conf has no ${name} block`);
  return conf.replace(pattern, "");
}

function failing(c: Case): Editable[] {
  const objects = baseline();
  return c.fail(objects) ?? objects;
}

describe("the compliant platform fixture", () => {
  it("passes every Kubernetes rule in production and in development", () => {
    for (const rule of RULES.filter((r) => r.scope !== "aws")) {
      expect(violationsOf(rule.id, baseline(), prod), rule.id).toEqual([]);
      expect(violationsOf(rule.id, baseline()), rule.id).toEqual([]);
    }
  });
});

describe("every Kubernetes rule", () => {
  it("has a passing and a failing case in this file", () => {
    const covered = new Set(cases.map((c) => c.rule));
    expect(RULES.filter((r) => r.scope !== "aws" && !covered.has(r.id)).map((r) => r.id)).toEqual([]);
  });

  for (const c of cases) {
    describe(c.rule, () => {
      it("passes the compliant platform and reports the broken one", () => {
        expect(violationsOf(c.rule, baseline(), c.options)).toEqual([]);
        const violations = violationsOf(c.rule, failing(c), c.options);
        expect(violations.length).toBeGreaterThan(0);
        for (const v of violations) {
          expect(v.ruleId).toBe(c.rule);
          expect(v.message).not.toMatch(/could not evaluate/);
          expect(v.object?.kind).toBeTruthy();
        }
      });

      it("gives the same verdict as a CrossGuard policy over unknownCheckingProxy-wrapped props", async () => {
        const stack = c.options?.environment ?? "dev";
        const config = c.options?.allowedRegistries ? { allowedRegistries: c.options.allowedRegistries } : {};
        expect(await crossguardViolations(c.rule, asPulumiResources(baseline()), stack, config)).toEqual([]);
        const reported = await crossguardViolations(c.rule, asPulumiResources(failing(c)), stack, config);
        if (c.crossguard === false) expect(reported).toEqual([]);
        else expect(reported.length).toBeGreaterThan(0);
      });
    });
  }
});

describe("production-only rules", () => {
  it("do not run outside production", () => {
    for (const c of cases.filter((c) => c.options === prod)) {
      expect(violationsOf(c.rule, failing(c), { environment: "staging" }), c.rule).toEqual([]);
    }
  });

  it("treat prod, production and *-prod stack names as production in the pack", async () => {
    const broken = cases.find((c) => c.rule === "hpa-min-2")!;
    for (const stack of ["prod", "production", "eu-prod"]) {
      expect(
        (await crossguardViolations("hpa-min-2", asPulumiResources(failing(broken)), stack)).length,
        stack,
      ).toBeGreaterThan(0);
    }
    expect(await crossguardViolations("hpa-min-2", asPulumiResources(failing(broken)), "staging")).toEqual(
      [],
    );
    expect(
      (
        await crossguardViolations("hpa-min-2", asPulumiResources(failing(broken)), "staging", {
          environment: "prod",
        })
      ).length,
    ).toBeGreaterThan(0);
  });
});

describe("image rules", () => {
  it("accept a tag outside production and require a digest in production", () => {
    const tagged = baseline();
    agentServer(tagged).container.image = "example.com/zeroplane/runtime:1.2.3";
    expect(violationsOf("image-tag-pinned", tagged)).toEqual([]);
    expect(violationsOf("image-digest-prod", tagged, { environment: "dev" })).toEqual([]);
    expect(violationsOf("image-digest-prod", tagged, prod)).toHaveLength(1);
  });

  it("reject an untagged image and accept a registry with a port", () => {
    const objects = baseline();
    agentServer(objects).container.image = "registry.example.com:5000/zeroplane/runtime";
    expect(violationsOf("image-tag-pinned", objects)[0]?.message).toMatch(/no tag or digest/);
    agentServer(objects).container.image = "registry.example.com:5000/zeroplane/runtime:2.0";
    expect(violationsOf("image-tag-pinned", objects)).toEqual([]);
    agentServer(objects).container.image = DIGEST_IMAGE;
    expect(violationsOf("image-tag-pinned", objects)).toEqual([]);
  });
});

describe("NATS rules on nats.conf", () => {
  const verdict = (rule: string, edit: (conf: string) => string) => {
    const objects = baseline();
    natsConf(objects, edit);
    return violationsOf(rule, objects, prod).map((v) => v.message);
  };
  const clusterAuthOnly = (conf: string) =>
    removeBlock(conf, "authorization").replace(
      "cluster {\n",
      "cluster {\n  authorization { user: $ROUTE_USER }\n",
    );

  it("accept accounts or an operator instead of an authorization block", () => {
    const swap = (block: string) => (conf: string) => `${removeBlock(conf, "authorization")}${block}\n`;
    expect(
      verdict("nats-prod-authorization", swap("accounts { APP { users: [{ user: $U, password: $P }] } }")),
    ).toEqual([]);
    expect(verdict("nats-prod-authorization", swap("operator: /etc/nats-jwt/operator.jwt"))).toEqual([]);
  });

  it("do not count route authorization inside the cluster block as client authentication", () => {
    expect(verdict("nats-prod-authorization", clusterAuthOnly)).toEqual([
      expect.stringMatching(/has no authorization, accounts or operator/),
    ]);
  });

  it("refuse no_auth_user, which lets clients in without credentials", () => {
    expect(verdict("nats-prod-authorization", (conf) => `${conf}no_auth_user: app\n`)).toEqual([
      expect.stringMatching(/no_auth_user/),
    ]);
  });

  it("warn separately about plaintext routes when only the client port has TLS", () => {
    const clientTlsOnly = (conf: string) => {
      const [head, cluster] = conf.split("cluster {");
      return `${head}cluster {${removeBlock(cluster!, "tls")}`;
    };
    expect(verdict("nats-prod-tls", clientTlsOnly)).toEqual([expect.stringMatching(/cluster routes/)]);
    expect(ruleById("nats-prod-tls").severity).toBe("warning");
    expect(ruleById("nats-prod-authorization").severity).toBe("error");
  });
});
