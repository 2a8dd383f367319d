/**
 * CurveKeys: where the agent servers' CURVE keypair comes from, in one of three modes, and the
 * ConfigMap that publishes the server's public key to clients. No mode writes secret material into
 * the synthesized YAML.
 *
 * - generated: a one-shot Job (runtime image, `zeroplane keygen`) creates the Secret if it is absent.
 * - external:  an ExternalSecret (external-secrets.io/v1) fills the Secret from a store.
 * - existing:  a Secret that already exists, by name.
 */
import { Construct } from "constructs";
import * as k8s from "cdk8s-plus-27/lib/imports/k8s.js";
import { CURVE_SECRET_KEYS, Z85_KEY_PATTERN } from "../runtime/config/names.js";
import {
  LABELS,
  check,
  checkDnsLabel,
  pullPolicy,
  restrictedContainerSecurityContext,
  restrictedPodSecurityContext,
  sortedRecord,
  recommendedLabels,
} from "./common.js";
import { ExternalSecret } from "./crds.js";
import { renderKeygenScript } from "./keygen-script.js";
import type { CurveKeySpec } from "./platform.js";

/** Key of the server's public key in the published ConfigMap. Not a secret; named so no scanner mistakes it for one. */
export const PUBLIC_KEY_CONFIGMAP_KEY = "server.pub";

/** Where the keygen Job writes the keypair before storing it: a memory-backed emptyDir. */
const KEYGEN_WORK_DIR = "/var/run/keygen";

/** The default keygen command inside the runtime image; `{dir}` is replaced by the output directory. */
export const DEFAULT_KEYGEN_COMMAND: readonly string[] = ["zeroplane", "keygen", "--dir", "{dir}"];

export interface CurveKeysProps {
  /** Namespace of the Secret, ConfigMap and Job. */
  readonly namespace: string;
  /** Platform name: the Secret is `<name>-curve`, the ConfigMap `<name>-curve-public`. */
  readonly platformName: string;
  /** The mode and its settings. */
  readonly spec: CurveKeySpec;
  /** Runtime image (generated mode). */
  readonly image: string;
  /** Labels on every object. @default none */
  readonly labels?: Readonly<Record<string, string>>;
}

export class CurveKeys extends Construct {
  /** The Secret the agent servers mount; undefined when CURVE is off. */
  readonly secretName?: string;
  /** The ConfigMap with the public key, when published. */
  readonly publicKeyConfigMap?: string;
  /** Labels of the keygen Job's pods (generated mode), for its NetworkPolicy. */
  readonly keygenPodLabels?: Record<string, string>;

  constructor(scope: Construct, id: string, props: CurveKeysProps) {
    super(scope, id);
    const spec = props.spec;
    const base = props.platformName;
    const labels = recommendedLabels(props.labels, {
      name: "zeroplane",
      component: "curve-keys",
      partOf: base,
    });
    const publicName = `${base}-curve-public`;
    switch (spec.mode) {
      case "off":
        check(
          spec.acceptPlaintext === true,
          "curve.acceptPlaintext",
          "must be true to turn CURVE off; without CURVE every request and agent output crosses the network in plaintext",
          spec.acceptPlaintext,
          'set acceptPlaintext: true (development only), or use mode "generated"',
        );
        return;
      case "existing":
        checkDnsLabel(spec.secretName, "curve.secretName", 253);
        this.secretName = spec.secretName;
        break;
      case "external": {
        checkDnsLabel(spec.secretStoreRef?.name, "curve.secretStoreRef.name", 253);
        check(
          typeof spec.remoteKey === "string" && spec.remoteKey.length > 0,
          "curve.remoteKey",
          "is empty",
          spec.remoteKey,
          "name the remote secret, e.g. 'zeroplane/prod/curve' in AWS Secrets Manager",
        );
        check(
          spec.refreshInterval === undefined || /^([0-9]+(ms|s|m|h))+$/.test(spec.refreshInterval),
          "curve.refreshInterval",
          "is not a duration",
          spec.refreshInterval,
          'write it like "1h" or "15m"',
        );
        this.secretName = `${base}-curve`;
        new ExternalSecret(this, "external-secret", {
          metadata: { name: this.secretName, namespace: props.namespace, labels },
          spec: {
            refreshInterval: spec.refreshInterval ?? "1h",
            secretStoreRef: {
              name: spec.secretStoreRef.name,
              kind: spec.secretStoreRef.kind ?? "ClusterSecretStore",
            },
            target: {
              name: this.secretName,
              creationPolicy: "Owner",
              deletionPolicy: "Retain",
              template: { type: "Opaque", metadata: { labels } },
            },
            data: [
              {
                secretKey: CURVE_SECRET_KEYS.publicKey,
                remoteRef: { key: spec.remoteKey, property: "publicKey" },
              },
              {
                secretKey: CURVE_SECRET_KEYS.secretKey,
                remoteRef: { key: spec.remoteKey, property: "secretKey" },
              },
            ],
          },
        });
        break;
      }
      case "generated":
        this.secretName = `${base}-curve`;
        this.publicKeyConfigMap = publicName;
        this.keygenPodLabels = { [LABELS.name]: "zeroplane", [LABELS.instance]: `${base}-keygen` };
        this.keygenJob(
          props,
          labels,
          this.secretName,
          publicName,
          spec.keygenCommand ?? DEFAULT_KEYGEN_COMMAND,
        );
        return;
      default:
        check(
          false,
          "curve.mode",
          "is not a known CURVE key mode",
          (spec as { mode: unknown }).mode,
          'use "generated", "external", "existing" or "off"',
        );
    }
    if (spec.publicKey !== undefined) {
      check(
        Z85_KEY_PATTERN.test(spec.publicKey),
        "curve.publicKey",
        "is not a 40-character Z85 public key",
        spec.publicKey,
        "copy the server.key written by `zeroplane keygen` (never the server.key_secret)",
      );
      this.publicKeyConfigMap = publicName;
      new k8s.KubeConfigMap(this, "public-key", {
        metadata: { name: publicName, namespace: props.namespace, labels },
        data: { [PUBLIC_KEY_CONFIGMAP_KEY]: spec.publicKey },
      });
    }
  }

  /**
   * The in-cluster generator: ServiceAccount, Role, RoleBinding, script ConfigMap and Job.
   *
   * RBAC note: Kubernetes cannot restrict `create` by resourceNames (the name is not known when the
   * request is authorized), so the Role grants `create` on Secrets and ConfigMaps in this namespace
   * without a name, `get` on the Secret's name and `get`/`update` on the public-key ConfigMap's name. The script creates exactly those
   * two names; the ServiceAccount is used by nothing else, its token is projected only into the Job's
   * pod with a 10-minute lifetime, and the Job has a 5-minute deadline.
   */
  private keygenJob(
    props: CurveKeysProps,
    labels: Record<string, string>,
    secretName: string,
    publicName: string,
    command: readonly string[],
  ): void {
    command.forEach((part, index) =>
      check(
        typeof part === "string" && part.length > 0,
        `curve.keygenCommand[${index}]`,
        "is empty",
        part,
        "give the command as a list of non-empty strings, with {dir} where the output directory goes",
      ),
    );
    check(
      command.length > 0 && command.some((part) => part.includes("{dir}")),
      "curve.keygenCommand",
      "does not say where to write the keypair",
      command,
      'include the placeholder {dir}, e.g. ["zeroplane", "keygen", "--dir", "{dir}"]',
    );
    const ns = props.namespace;
    const name = `${props.platformName}-keygen`;
    const jobLabels = sortedRecord({ ...labels, ...this.keygenPodLabels, [LABELS.component]: "keygen" });
    const metadata = { name, namespace: ns, labels: jobLabels };
    new k8s.KubeServiceAccount(this, "service-account", { metadata, automountServiceAccountToken: false });
    new k8s.KubeRole(this, "role", {
      metadata,
      rules: [
        { apiGroups: [""], resources: ["secrets"], resourceNames: [secretName], verbs: ["get"] },
        // `create` cannot be limited by resourceNames; see the method comment.
        { apiGroups: [""], resources: ["secrets"], verbs: ["create"] },
        {
          apiGroups: [""],
          resources: ["configmaps"],
          resourceNames: [publicName],
          // The script reads it and replaces it with PUT (update); it never patches.
          verbs: ["get", "update"],
        },
        { apiGroups: [""], resources: ["configmaps"], verbs: ["create"] },
      ],
    });
    new k8s.KubeRoleBinding(this, "role-binding", {
      metadata,
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
      subjects: [{ kind: "ServiceAccount", name, namespace: ns }],
    });
    const resolved = command.map((part) => part.split("{dir}").join(KEYGEN_WORK_DIR));
    new k8s.KubeConfigMap(this, "script", {
      metadata: { ...metadata, name: `${name}-script` },
      data: {
        "keygen.mjs": renderKeygenScript(),
        // Names only, no secret material: which Secret and ConfigMap to manage and how to call keygen.
        "config.json": `${JSON.stringify(
          {
            command: resolved,
            dir: KEYGEN_WORK_DIR,
            labels: sortedRecord(labels),
            publicConfigMap: publicName,
            publicConfigMapEntry: PUBLIC_KEY_CONFIGMAP_KEY,
            publicFile: CURVE_SECRET_KEYS.publicKey,
            privateFile: CURVE_SECRET_KEYS.secretKey,
            secretName,
          },
          null,
          2,
        )}\n`,
      },
    });
    const small = {
      cpu: k8s.Quantity.fromString("100m"),
      memory: k8s.Quantity.fromString("128Mi"),
      "ephemeral-storage": k8s.Quantity.fromString("64Mi"),
    };
    new k8s.KubeJob(this, "job", {
      metadata: {
        ...metadata,
        annotations: {
          // The Job's pod template is immutable: let GitOps tools replace it when the image changes.
          "argocd.argoproj.io/sync-options": "Force=true,Replace=true",
          "kustomize.toolkit.fluxcd.io/force": "enabled",
        },
      },
      spec: {
        backoffLimit: 4,
        activeDeadlineSeconds: 300,
        template: {
          metadata: { labels: jobLabels },
          spec: {
            serviceAccountName: name,
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            restartPolicy: "Never",
            securityContext: restrictedPodSecurityContext(),
            containers: [
              {
                name: "keygen",
                image: props.image,
                imagePullPolicy: pullPolicy(props.image),
                command: ["node", "/opt/keygen/keygen.mjs"],
                resources: { requests: small, limits: small },
                securityContext: restrictedContainerSecurityContext(),
                volumeMounts: [
                  { name: "script", mountPath: "/opt/keygen", readOnly: true },
                  { name: "work", mountPath: KEYGEN_WORK_DIR },
                  {
                    name: "api-token",
                    mountPath: "/var/run/secrets/kubernetes.io/serviceaccount",
                    readOnly: true,
                  },
                ],
              },
            ],
            volumes: [
              { name: "script", configMap: { name: `${name}-script`, defaultMode: 0o444 } },
              // Memory-backed: the secret key never touches a node's disk.
              { name: "work", emptyDir: { medium: "Memory", sizeLimit: k8s.Quantity.fromString("1Mi") } },
              {
                name: "api-token",
                projected: {
                  defaultMode: 0o440,
                  sources: [
                    { serviceAccountToken: { path: "token", expirationSeconds: 600 } },
                    { configMap: { name: "kube-root-ca.crt", items: [{ key: "ca.crt", path: "ca.crt" }] } },
                    {
                      downwardApi: {
                        items: [{ path: "namespace", fieldRef: { fieldPath: "metadata.namespace" } }],
                      },
                    },
                  ],
                },
              },
            ],
          },
        },
      },
    });
  }
}
