/**
 * Pod Security Standards checker (Kubernetes 1.27 behaviour of pod-security-admission), for pod specs
 * inside any workload kind: Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob.
 *
 *   podSecurityViolations(objects, "restricted")   // [] when every pod passes baseline + restricted
 *   podSecurityViolations(objects, "hardened")     // restricted + read-only root fs + uid/gid > 10000
 *
 * Test support only: the production rule set lives in policies/.
 */

export type PodSecurityLevel = "baseline" | "restricted" | "hardened";

type Json = Record<string, unknown>;

interface PodTemplate {
  readonly where: string;
  readonly annotations: Record<string, string>;
  readonly spec: Json;
}

const BASELINE_CAPABILITIES = new Set([
  "AUDIT_WRITE",
  "CHOWN",
  "DAC_OVERRIDE",
  "FOWNER",
  "FSETID",
  "KILL",
  "MKNOD",
  "NET_BIND_SERVICE",
  "SETFCAP",
  "SETGID",
  "SETPCAP",
  "SETUID",
  "SYS_CHROOT",
]);
const SAFE_SYSCTLS = new Set([
  "kernel.shm_rmid_forced",
  "net.ipv4.ip_local_port_range",
  "net.ipv4.tcp_syncookies",
  "net.ipv4.ping_group_range",
  "net.ipv4.ip_unprivileged_port_start",
  "net.ipv4.ip_local_reserved_ports",
]);
const RESTRICTED_VOLUMES = new Set([
  "configMap",
  "csi",
  "downwardAPI",
  "emptyDir",
  "ephemeral",
  "persistentVolumeClaim",
  "projected",
  "secret",
]);
const SELINUX_TYPES = new Set(["", "container_t", "container_init_t", "container_kvm_t"]);

const obj = (value: unknown): Json => (value && typeof value === "object" ? (value as Json) : {});
const list = (value: unknown): Json[] => (Array.isArray(value) ? (value as Json[]) : []);

/** The pod templates inside an object, with a readable location. Non-workloads yield none. */
export function podTemplates(object: Json): PodTemplate[] {
  const metadata = obj(object.metadata);
  const name = `${String(object.kind)}/${String(metadata.name ?? "?")}`;
  const fromTemplate = (template: Json, where: string): PodTemplate => ({
    where,
    annotations: obj(obj(template.metadata).annotations) as Record<string, string>,
    spec: obj(template.spec),
  });
  switch (object.kind) {
    case "Pod":
      return [
        {
          where: name,
          annotations: obj(metadata.annotations) as Record<string, string>,
          spec: obj(object.spec),
        },
      ];
    case "Deployment":
    case "StatefulSet":
    case "DaemonSet":
    case "ReplicaSet":
    case "Job":
      return [fromTemplate(obj(obj(object.spec).template), name)];
    case "CronJob":
      return [fromTemplate(obj(obj(obj(obj(object.spec).jobTemplate).spec).template), name)];
    default:
      return [];
  }
}

function containersOf(spec: Json): { kind: string; container: Json }[] {
  return [
    ...list(spec.initContainers).map((container) => ({ kind: "initContainer", container })),
    ...list(spec.containers).map((container) => ({ kind: "container", container })),
    ...list(spec.ephemeralContainers).map((container) => ({ kind: "ephemeralContainer", container })),
  ];
}

function baseline(pod: PodTemplate): string[] {
  const out: string[] = [];
  const spec = pod.spec;
  const podContext = obj(spec.securityContext);
  for (const field of ["hostNetwork", "hostPID", "hostIPC"]) {
    if (spec[field] === true) out.push(`${field} is true`);
  }
  for (const volume of list(spec.volumes)) {
    if (volume.hostPath !== undefined) out.push(`volume ${String(volume.name)} uses hostPath`);
  }
  for (const [key, value] of Object.entries(pod.annotations)) {
    if (
      key.startsWith("container.apparmor.security.beta.kubernetes.io/") &&
      value !== "runtime/default" &&
      !value.startsWith("localhost/")
    ) {
      out.push(`AppArmor annotation ${key}=${value}`);
    }
  }
  for (const sysctl of list(podContext.sysctls)) {
    if (!SAFE_SYSCTLS.has(String(sysctl.name))) out.push(`sysctl ${String(sysctl.name)} is not allowed`);
  }
  const contexts: { where: string; context: Json }[] = [{ where: "pod", context: podContext }];
  for (const { kind, container } of containersOf(spec)) {
    const where = `${kind} ${String(container.name)}`;
    const context = obj(container.securityContext);
    contexts.push({ where, context });
    if (context.privileged === true) out.push(`${where} is privileged`);
    for (const capability of list(obj(context.capabilities).add) as unknown as string[]) {
      if (!BASELINE_CAPABILITIES.has(capability)) out.push(`${where} adds capability ${capability}`);
    }
    for (const port of list(container.ports)) {
      if (port.hostPort !== undefined && port.hostPort !== 0)
        out.push(`${where} uses hostPort ${String(port.hostPort)}`);
    }
    if (context.procMount !== undefined && context.procMount !== "Default") {
      out.push(`${where} sets procMount ${String(context.procMount)}`);
    }
  }
  for (const { where, context } of contexts) {
    if (obj(context.windowsOptions).hostProcess === true) out.push(`${where} is a Windows hostProcess`);
    const selinux = obj(context.seLinuxOptions);
    if (selinux.type !== undefined && !SELINUX_TYPES.has(String(selinux.type))) {
      out.push(`${where} sets seLinuxOptions.type ${String(selinux.type)}`);
    }
    if (selinux.user !== undefined || selinux.role !== undefined)
      out.push(`${where} sets seLinuxOptions user/role`);
    if (obj(context.seccompProfile).type === "Unconfined") out.push(`${where} sets seccomp Unconfined`);
  }
  return out;
}

function restricted(pod: PodTemplate): string[] {
  const out: string[] = [];
  const spec = pod.spec;
  const podContext = obj(spec.securityContext);
  for (const volume of list(spec.volumes)) {
    const type = Object.keys(volume).find((key) => key !== "name");
    if (!type || !RESTRICTED_VOLUMES.has(type))
      out.push(`volume ${String(volume.name)} has type ${String(type)}`);
  }
  if (podContext.runAsUser === 0) out.push("pod runAsUser is 0");
  const podSeccomp = obj(podContext.seccompProfile).type;
  const podSeccompOk = podSeccomp === "RuntimeDefault" || podSeccomp === "Localhost";
  for (const { kind, container } of containersOf(spec)) {
    const where = `${kind} ${String(container.name)}`;
    const context = obj(container.securityContext);
    if (context.allowPrivilegeEscalation !== false)
      out.push(`${where} does not set allowPrivilegeEscalation: false`);
    const nonRoot = context.runAsNonRoot ?? podContext.runAsNonRoot;
    if (nonRoot !== true) out.push(`${where} may run as root (runAsNonRoot is not true)`);
    if (context.runAsUser === 0) out.push(`${where} runAsUser is 0`);
    const seccomp = obj(context.seccompProfile).type;
    if (seccomp === undefined ? !podSeccompOk : seccomp !== "RuntimeDefault" && seccomp !== "Localhost") {
      out.push(`${where} has no RuntimeDefault or Localhost seccomp profile`);
    }
    const capabilities = obj(context.capabilities);
    if (!(list(capabilities.drop) as unknown as string[]).includes("ALL"))
      out.push(`${where} does not drop ALL capabilities`);
    for (const capability of list(capabilities.add) as unknown as string[]) {
      if (capability !== "NET_BIND_SERVICE") out.push(`${where} adds capability ${capability}`);
    }
  }
  return out;
}

function hardened(pod: PodTemplate): string[] {
  const out: string[] = [];
  const podContext = obj(pod.spec.securityContext);
  for (const { kind, container } of containersOf(pod.spec)) {
    const where = `${kind} ${String(container.name)}`;
    const context = obj(container.securityContext);
    if (context.readOnlyRootFilesystem !== true) out.push(`${where} has a writable root filesystem`);
    const uid = Number(context.runAsUser ?? podContext.runAsUser);
    const gid = Number(context.runAsGroup ?? podContext.runAsGroup);
    if (!(uid > 10000)) out.push(`${where} runAsUser ${uid} is not above 10000`);
    if (!(gid > 10000)) out.push(`${where} runAsGroup ${gid} is not above 10000`);
  }
  return out;
}

/** Violations of every pod template in `objects` at `level` (each level includes the ones below). */
export function podSecurityViolations(objects: readonly Json[], level: PodSecurityLevel): string[] {
  const out: string[] = [];
  for (const object of objects) {
    for (const pod of podTemplates(object)) {
      const found = [
        ...baseline(pod),
        ...(level === "baseline" ? [] : restricted(pod)),
        ...(level === "hardened" ? hardened(pod) : []),
      ];
      out.push(...found.map((problem) => `${pod.where}: ${problem}`));
    }
  }
  return out;
}
