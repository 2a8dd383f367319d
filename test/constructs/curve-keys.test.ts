/**
 * CURVE keys in three modes, the public-key ConfigMap, the allowlist sources, and the keygen Job's
 * script run for real: the runtime's own `zeroplane keygen`, talking HTTPS to a small in-test stand-in
 * for the Kubernetes API that authorizes every request against the synthesized Role.
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ALLOWLIST_KEY, CURVE_SECRET_KEYS } from "../../runtime/config/index.js";
import { PUBLIC_KEY_CONFIGMAP_KEY } from "../../constructs/curve-keys.js";
import { makeSelfSignedCert } from "../support/tls.js";
import { exampleSpec, find, minimalSpec, ofKind, synth, type K8sObject } from "./fixtures.js";

const PUBLIC_KEY = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";

describe("CURVE keys", () => {
  it("generated: a Job with its own ServiceAccount, a Role limited to the two names, and its script", () => {
    const objects = synth(exampleSpec("dev")).objects;
    const role = find(objects, "Role", "zeroplane-keygen");
    expect(stringify(role)).toMatchSnapshot();
    expect(role.rules).toEqual([
      { apiGroups: [""], resources: ["secrets"], resourceNames: ["zeroplane-curve"], verbs: ["get"] },
      { apiGroups: [""], resources: ["secrets"], verbs: ["create"] },
      {
        apiGroups: [""],
        resources: ["configmaps"],
        resourceNames: ["zeroplane-curve-public"],
        verbs: ["get", "update"],
      },
      { apiGroups: [""], resources: ["configmaps"], verbs: ["create"] },
    ]);
    const binding = find(objects, "RoleBinding", "zeroplane-keygen");
    expect(binding.subjects).toEqual([
      { kind: "ServiceAccount", name: "zeroplane-keygen", namespace: "zeroplane-dev" },
    ]);
    const job = find(objects, "Job", "zeroplane-keygen");
    const pod = job.spec.template.spec;
    expect(pod.serviceAccountName).toBe("zeroplane-keygen");
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.restartPolicy).toBe("Never");
    expect(job.spec.activeDeadlineSeconds).toBe(300);
    const token = pod.volumes.find((volume: { name: string }) => volume.name === "api-token");
    expect(token.projected.sources[0]).toEqual({
      serviceAccountToken: { path: "token", expirationSeconds: 600 },
    });
    const work = pod.volumes.find((volume: { name: string }) => volume.name === "work");
    expect(work.emptyDir.medium).toBe("Memory");
    const config = JSON.parse(find(objects, "ConfigMap", "zeroplane-keygen-script").data!["config.json"]!);
    expect(config.command).toEqual(["zeroplane", "keygen", "--dir", "/var/run/keygen"]);
  });

  it("external: an external-secrets.io/v1 ExternalSecret that fills the Secret the servers mount", () => {
    const objects = synth(exampleSpec("prod")).objects;
    const external = find(objects, "ExternalSecret", "zeroplane-curve");
    expect(stringify(external)).toMatchSnapshot();
    expect(external.spec.secretStoreRef).toEqual({ name: "aws-secrets-manager", kind: "ClusterSecretStore" });
    expect(external.spec.data).toEqual([
      {
        secretKey: CURVE_SECRET_KEYS.publicKey,
        remoteRef: { key: "zeroplane/prod/curve", property: "publicKey" },
      },
      {
        secretKey: CURVE_SECRET_KEYS.secretKey,
        remoteRef: { key: "zeroplane/prod/curve", property: "secretKey" },
      },
    ]);
    const volumes = find(objects, "Deployment", "zeroplane-default").spec.template.spec.volumes;
    expect(volumes.find((volume: { name: string }) => volume.name === "curve").secret.secretName).toBe(
      "zeroplane-curve",
    );
  });

  it("existing: mounts the named Secret and publishes the given public key", () => {
    const objects = synth(exampleSpec("staging")).objects;
    const volumes = find(objects, "Deployment", "zeroplane-default").spec.template.spec.volumes;
    expect(volumes.find((volume: { name: string }) => volume.name === "curve").secret.secretName).toBe(
      "zeroplane-curve",
    );
    expect(find(objects, "ConfigMap", "zeroplane-curve-public").data).toEqual({
      [PUBLIC_KEY_CONFIGMAP_KEY]: PUBLIC_KEY,
    });
    expect(ofKind(objects, "Job")).toEqual([]);
    expect(ofKind(objects, "ExternalSecret")).toEqual([]);
  });

  it("publishes no public-key ConfigMap when the key is not given (external and existing modes)", () => {
    const objects = synth(minimalSpec({ curve: { mode: "existing", secretName: "mine" } })).objects;
    expect(objects.some((object) => object.metadata.name === "zeroplane-curve-public")).toBe(false);
  });

  it("takes the allowlist from public keys (sorted, de-duplicated), a ConfigMap or a Secret", () => {
    const fromKeys = synth(
      minimalSpec({
        allowlist: {
          source: "publicKeys",
          publicKeys: [PUBLIC_KEY, "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID", PUBLIC_KEY],
        },
      }),
    ).objects;
    expect(find(fromKeys, "ConfigMap", "zeroplane-allowlist").data![ALLOWLIST_KEY]).toBe(
      `Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID\n${PUBLIC_KEY}\n`,
    );
    const fromSecret = synth(exampleSpec("prod")).objects;
    const volume = find(fromSecret, "Deployment", "zeroplane-default").spec.template.spec.volumes.find(
      (v: { name: string }) => v.name === "allowlist",
    );
    expect(volume.secret).toMatchObject({
      secretName: "zeroplane-clients",
      items: [{ key: ALLOWLIST_KEY, path: ALLOWLIST_KEY }],
    });
  });
});

/** A stand-in for the Kubernetes API: secrets and configmaps in one namespace, authorized by a Role. */
class RoleCheckingApi {
  readonly store = new Map<string, Record<string, unknown>>();
  readonly denied: string[] = [];
  readonly requests: string[] = [];
  server?: Server;

  constructor(
    private readonly role: K8sObject,
    private readonly token: string,
    private readonly namespace: string,
  ) {}

  private allowed(verb: string, resource: string, name: string | undefined): boolean {
    return (this.role.rules as { resources: string[]; verbs: string[]; resourceNames?: string[] }[]).some(
      (rule) =>
        rule.resources.includes(resource) &&
        rule.verbs.includes(verb) &&
        (rule.resourceNames === undefined || (name !== undefined && rule.resourceNames.includes(name))),
    );
  }

  async listen(cert: Buffer, key: Buffer): Promise<number> {
    this.server = createServer({ cert, key }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        const reply = (status: number, body: unknown): void => {
          res.writeHead(status, { "content-type": "application/json" });
          res.end(JSON.stringify(body));
        };
        this.requests.push(`${req.method} ${req.url}`);
        if (req.headers.authorization !== `Bearer ${this.token}`)
          return reply(401, { message: "Unauthorized" });
        const match = /^\/api\/v1\/namespaces\/([^/]+)\/(secrets|configmaps)(?:\/([^/]+))?$/.exec(
          req.url ?? "",
        );
        if (!match || match[1] !== this.namespace) return reply(404, { message: "not found" });
        const [, , resource, name] = match as unknown as [string, string, string, string | undefined];
        const body = (chunks.length ? JSON.parse(Buffer.concat(chunks).toString("utf8")) : {}) as {
          metadata?: Record<string, unknown>;
        };
        const verb =
          { GET: "get", POST: "create", PUT: "update", PATCH: "patch" }[req.method ?? ""] ?? "unknown";
        const target = name ?? (body.metadata?.name as string | undefined);
        if (!this.allowed(verb, resource, name)) {
          this.denied.push(`${verb} ${resource}/${target}`);
          return reply(403, { message: `forbidden: ${verb} ${resource}/${target}` });
        }
        const id = `${resource}/${target}`;
        if (verb === "get")
          return this.store.has(id) ? reply(200, this.store.get(id)) : reply(404, { message: "not found" });
        if (verb === "create") {
          if (this.store.has(id)) return reply(409, { message: "already exists" });
          this.store.set(id, { ...body, metadata: { ...body.metadata, resourceVersion: "1" } });
          return reply(201, this.store.get(id));
        }
        this.store.set(id, { ...body, metadata: { ...body.metadata, resourceVersion: "2" } });
        return reply(200, this.store.get(id));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    return (this.server.address() as { port: number }).port;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

describe("the keygen Job's script, run for real", () => {
  const root = mkdtempSync(join(tmpdir(), "zeroplane-keygen-"));
  const objects = synth(exampleSpec("dev")).objects;
  const scriptMap = find(objects, "ConfigMap", "zeroplane-keygen-script");
  let api: RoleCheckingApi;
  let port = 0;

  // Async: the stand-in API answers from this process, so the script must not block its event loop.
  const run = async (): Promise<string> => {
    // The Job's config, with the keygen command pointed at this checkout's CLI and the output dir moved.
    const config = JSON.parse(scriptMap.data!["config.json"]!);
    const work = join(root, "work");
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work);
    config.dir = work;
    config.command = [
      process.execPath,
      "--import",
      "tsx",
      join(process.cwd(), "runtime/cli/main.ts"),
      "keygen",
      "--dir",
      work,
    ];
    writeFileSync(join(root, "config.json"), JSON.stringify(config));
    const { stdout } = await promisify(execFile)(process.execPath, [join(root, "keygen.mjs")], {
      encoding: "utf8",
      env: {
        PATH: process.env.PATH ?? "",
        KUBERNETES_SERVICE_HOST: "127.0.0.1",
        KUBERNETES_SERVICE_PORT: String(port),
        KEYGEN_CONFIG: join(root, "config.json"),
        KEYGEN_SERVICEACCOUNT_DIR: join(root, "sa"),
      },
    });
    return stdout;
  };

  beforeAll(async () => {
    mkdirSync(join(root, "sa"));
    makeSelfSignedCert({ cert: join(root, "sa", "ca.crt"), key: join(root, "api.key") }, "kubernetes");
    writeFileSync(join(root, "sa", "token"), "test-token\n");
    writeFileSync(join(root, "sa", "namespace"), "zeroplane-dev\n");
    writeFileSync(join(root, "keygen.mjs"), scriptMap.data!["keygen.mjs"]!);
    api = new RoleCheckingApi(find(objects, "Role", "zeroplane-keygen"), "test-token", "zeroplane-dev");
    port = await api.listen(readFileSync(join(root, "sa", "ca.crt")), readFileSync(join(root, "api.key")));
  });

  afterAll(async () => {
    await api.close();
    rmSync(root, { recursive: true, force: true });
  });

  it("creates the Secret with a fresh keypair and publishes the public key, within the Role", async () => {
    const output = await run();
    expect(api.denied).toEqual([]);
    const secret = api.store.get("secrets/zeroplane-curve") as { data: Record<string, string> };
    const publicKey = Buffer.from(secret.data[CURVE_SECRET_KEYS.publicKey]!, "base64").toString("utf8");
    const secretKey = Buffer.from(secret.data[CURVE_SECRET_KEYS.secretKey]!, "base64").toString("utf8");
    expect(publicKey).toMatch(/^\S{40}$/);
    expect(secretKey).toMatch(/^\S{40}$/);
    expect(publicKey).not.toBe(secretKey);
    const configMap = api.store.get("configmaps/zeroplane-curve-public") as { data: Record<string, string> };
    expect(configMap.data).toEqual({ [PUBLIC_KEY_CONFIGMAP_KEY]: publicKey });
    expect(output).toContain(publicKey);
    expect(output).not.toContain(secretKey);
  });

  it("leaves an existing Secret alone on a second run", async () => {
    const before = JSON.stringify(api.store.get("secrets/zeroplane-curve"));
    const output = await run();
    expect(output).toMatch(/already exists; not generating/);
    expect(JSON.stringify(api.store.get("secrets/zeroplane-curve"))).toBe(before);
    expect(api.denied).toEqual([]);
  });

  it("repairs a public-key ConfigMap that drifted from the Secret", async () => {
    const drifted = api.store.get("configmaps/zeroplane-curve-public") as { data: Record<string, string> };
    drifted.data = { [PUBLIC_KEY_CONFIGMAP_KEY]: "x".repeat(40) };
    await run();
    const secret = api.store.get("secrets/zeroplane-curve") as { data: Record<string, string> };
    const publicKey = Buffer.from(secret.data[CURVE_SECRET_KEYS.publicKey]!, "base64").toString("utf8");
    expect(
      (api.store.get("configmaps/zeroplane-curve-public") as { data: Record<string, string> }).data,
    ).toEqual({
      [PUBLIC_KEY_CONFIGMAP_KEY]: publicKey,
    });
    expect(api.requests).toContain("PUT /api/v1/namespaces/zeroplane-dev/configmaps/zeroplane-curve-public");
  });
});
