/**
 * Pod Security Standards, baseline and restricted, as the 1.27 pod-security-admission checks
 * define them (vendor/k8s-schemas-1.27/CHECKS.md sections A and B).
 */
import type { Finding, ObjectRule } from "../core/types.js";
import { at, isRecord, list, num, record, str } from "../k8s/read.js";
import { containersOf, describeContainer } from "../k8s/workloads.js";
import { containersNotSetting, podAndContainerContexts, podRule } from "./define.js";

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
const SELINUX_TYPES = new Set(["", "container_t", "container_init_t", "container_kvm_t"]);
const RESTRICTED_VOLUME_TYPES = [
  "configMap",
  "csi",
  "downwardAPI",
  "emptyDir",
  "ephemeral",
  "persistentVolumeClaim",
  "projected",
  "secret",
];
const APPARMOR_PREFIX = "container.apparmor.security.beta.kubernetes.io/";
const SECCOMP_RESTRICTED = new Set(["RuntimeDefault", "Localhost"]);

function capabilitiesAdded(container: unknown): string[] {
  return list(at(container, "securityContext", "capabilities", "add")).filter(
    (c): c is string => typeof c === "string",
  );
}

export const podSecurityRules: readonly ObjectRule[] = [
  podRule({
    id: "pss-host-namespaces",
    severity: "error",
    description: "Pods must not share the host's network, PID or IPC namespaces (PSS baseline).",
    fix: "Remove spec.hostNetwork, spec.hostPID and spec.hostIPC (or set them to false).",
    checks: ["pss-host-namespaces"],
    check: (t) =>
      (["hostNetwork", "hostPID", "hostIPC"] as const)
        .filter((field) => t.spec[field] === true)
        .map((field) => ({ message: `${field} is true`, path: [...t.specPath, field] })),
  }),
  podRule({
    id: "pss-privileged",
    severity: "error",
    description: "No container may run privileged (PSS baseline).",
    fix: "Remove securityContext.privileged (or set it to false).",
    checks: ["pss-privileged"],
    check: (t) =>
      containersOf(t)
        .filter((c) => at(c.container, "securityContext", "privileged") === true)
        .map((c) => ({
          message: `${describeContainer(c)} is privileged`,
          path: [...c.path, "securityContext", "privileged"],
        })),
  }),
  podRule({
    id: "pss-capabilities-baseline",
    severity: "error",
    description:
      "Containers may add only the baseline capabilities (AUDIT_WRITE, CHOWN, ..., SYS_CHROOT) (PSS baseline).",
    fix: "Remove the extra capability from securityContext.capabilities.add; drop ALL and add at most NET_BIND_SERVICE.",
    checks: ["pss-capabilities-baseline"],
    check: (t) =>
      containersOf(t).flatMap((c) =>
        capabilitiesAdded(c.container)
          .filter((cap) => !BASELINE_CAPABILITIES.has(cap))
          .map((cap) => ({
            message: `${describeContainer(c)} adds capability ${cap}`,
            path: [...c.path, "securityContext", "capabilities", "add"],
          })),
      ),
  }),
  podRule({
    id: "pss-hostpath",
    severity: "error",
    description: "Pods must not mount hostPath volumes (PSS baseline).",
    fix: "Replace the hostPath volume with an emptyDir, a ConfigMap/Secret or a PersistentVolumeClaim.",
    checks: ["pss-hostpath"],
    check: (t) =>
      list(t.spec.volumes).flatMap((volume, index) =>
        isRecord(volume) && volume.hostPath !== undefined && volume.hostPath !== null
          ? [
              {
                message: `volume "${str(volume.name) ?? index}" is a hostPath`,
                path: [...t.specPath, "volumes", index, "hostPath"],
              },
            ]
          : [],
      ),
  }),
  podRule({
    id: "pss-host-ports",
    severity: "error",
    description: "Containers must not bind host ports (PSS baseline).",
    fix: "Remove ports[].hostPort; expose the port through a Service instead.",
    checks: ["pss-host-ports"],
    check: (t) =>
      containersOf(t).flatMap((c) =>
        list(c.container.ports).flatMap((port, index) => {
          const hostPort = num(at(port, "hostPort"));
          return hostPort
            ? [
                {
                  message: `${describeContainer(c)} binds hostPort ${hostPort}`,
                  path: [...c.path, "ports", index, "hostPort"],
                },
              ]
            : [];
        }),
      ),
  }),
  podRule({
    id: "pss-host-process",
    severity: "error",
    description: "Windows pods must not run as HostProcess (PSS baseline).",
    fix: "Remove securityContext.windowsOptions.hostProcess (or set it to false).",
    checks: ["pss-host-process"],
    check: (t) =>
      podAndContainerContexts(t, ["windowsOptions", "hostProcess"], (value) => value === true, {
        pod: "the pod is a HostProcess pod",
        container: (c) => `${c} is a HostProcess container`,
      }),
  }),
  podRule({
    id: "pss-apparmor",
    severity: "error",
    description: "AppArmor profiles may only be runtime/default or localhost/* (PSS baseline).",
    fix: `Set the ${APPARMOR_PREFIX}<container> annotation to runtime/default, or remove it.`,
    checks: ["pss-apparmor"],
    check: (t) =>
      Object.entries(t.annotations)
        .filter(
          ([key, value]) =>
            key.startsWith(APPARMOR_PREFIX) && value !== "runtime/default" && !value.startsWith("localhost/"),
        )
        .map(([key, value]) => ({
          message: `annotation ${key} is "${value}"`,
          path: [...t.metadataPath, "annotations", key],
        })),
  }),
  podRule({
    id: "pss-selinux",
    severity: "error",
    description:
      "SELinux options may set only an allowed type (container_t, container_init_t, container_kvm_t), never user or role (PSS baseline).",
    fix: "Remove seLinuxOptions.user and .role, and use an allowed seLinuxOptions.type (or none).",
    checks: ["pss-selinux"],
    check: (t) => {
      const contexts = [
        {
          where: "the pod",
          options: at(t.spec, "securityContext", "seLinuxOptions"),
          path: [...t.specPath, "securityContext", "seLinuxOptions"],
        },
        ...containersOf(t).map((c) => ({
          where: describeContainer(c),
          options: at(c.container, "securityContext", "seLinuxOptions"),
          path: [...c.path, "securityContext", "seLinuxOptions"],
        })),
      ];
      return contexts.flatMap(({ where, options, path }) => {
        const findings: Finding[] = [];
        const selinux = record(options);
        if (!selinux) return findings;
        const type = str(selinux.type);
        if (type !== undefined && !SELINUX_TYPES.has(type))
          findings.push({ message: `${where} sets seLinuxOptions.type "${type}"`, path: [...path, "type"] });
        for (const field of ["user", "role"] as const) {
          if (str(selinux[field]))
            findings.push({ message: `${where} sets seLinuxOptions.${field}`, path: [...path, field] });
        }
        return findings;
      });
    },
  }),
  podRule({
    id: "pss-proc-mount",
    severity: "error",
    description: "Containers must use the default /proc mount (PSS baseline).",
    fix: "Remove securityContext.procMount (or set it to Default).",
    checks: ["pss-proc-mount"],
    check: (t) =>
      containersOf(t).flatMap((c) => {
        const procMount = str(at(c.container, "securityContext", "procMount"));
        return procMount !== undefined && procMount !== "Default"
          ? [
              {
                message: `${describeContainer(c)} sets procMount ${procMount}`,
                path: [...c.path, "securityContext", "procMount"],
              },
            ]
          : [];
      }),
  }),
  podRule({
    id: "pss-seccomp-baseline",
    severity: "error",
    description: "No pod or container may set the seccomp profile to Unconfined (PSS baseline).",
    fix: "Set securityContext.seccompProfile.type to RuntimeDefault.",
    checks: ["pss-seccomp-baseline"],
    check: (t) =>
      podAndContainerContexts(t, ["seccompProfile", "type"], (value) => str(value) === "Unconfined", {
        pod: "the pod's seccomp profile is Unconfined",
        container: (c) => `${c} has seccomp profile Unconfined`,
      }),
  }),
  podRule({
    id: "pss-sysctls",
    severity: "error",
    description: "Pods may set only the safe sysctls (PSS baseline, 1.27 list).",
    fix: "Remove the sysctl from spec.securityContext.sysctls.",
    checks: ["pss-sysctls"],
    check: (t) =>
      list(at(t.spec, "securityContext", "sysctls")).flatMap((sysctl, index) => {
        const name = str(at(sysctl, "name")) ?? "";
        return SAFE_SYSCTLS.has(name)
          ? []
          : [
              {
                message: `sysctl "${name}" is not in the safe set`,
                path: [...t.specPath, "securityContext", "sysctls", index],
              },
            ];
      }),
  }),
  podRule({
    id: "pss-volume-types",
    severity: "error",
    description: `Volumes may only be ${RESTRICTED_VOLUME_TYPES.join(", ")} (PSS restricted).`,
    fix: "Replace the volume with one of the allowed types (a PersistentVolumeClaim for storage).",
    checks: ["pss-volume-types"],
    check: (t) =>
      list(t.spec.volumes).flatMap((volume, index) => {
        if (!isRecord(volume)) return [];
        const types = Object.keys(volume).filter(
          (key) => key !== "name" && volume[key] !== null && volume[key] !== undefined,
        );
        const bad = types.filter((type) => !RESTRICTED_VOLUME_TYPES.includes(type));
        return bad.length || types.length === 0
          ? [
              {
                message: `volume "${str(volume.name) ?? index}" has type ${bad.join(", ") || "(none)"}`,
                path: [...t.specPath, "volumes", index],
              },
            ]
          : [];
      }),
  }),
  podRule({
    id: "pss-allow-privilege-escalation",
    severity: "error",
    description:
      "Every container must set securityContext.allowPrivilegeEscalation: false explicitly (PSS restricted).",
    fix: "Set securityContext.allowPrivilegeEscalation: false on every container and init container.",
    checks: ["pss-allow-privilege-escalation"],
    check: (t) => containersNotSetting(t, "allowPrivilegeEscalation", false),
  }),
  podRule({
    id: "pss-run-as-non-root",
    severity: "error",
    description:
      "Pods must run as non-root: runAsNonRoot true on the pod (and false on no container), or true on every container (PSS restricted).",
    fix: "Set spec.securityContext.runAsNonRoot: true (and do not override it with false on a container).",
    checks: ["pss-run-as-non-root"],
    check: (t) => {
      const podLevel = at(t.spec, "securityContext", "runAsNonRoot") === true;
      return containersOf(t).flatMap((c) => {
        const value = at(c.container, "securityContext", "runAsNonRoot");
        if (value === false) {
          return [
            {
              message: `${describeContainer(c)} sets runAsNonRoot: false`,
              path: [...c.path, "securityContext", "runAsNonRoot"],
            },
          ];
        }
        return podLevel || value === true
          ? []
          : [
              {
                message: `${describeContainer(c)} may run as root (runAsNonRoot is not true on it or the pod)`,
                path: [...c.path, "securityContext", "runAsNonRoot"],
              },
            ];
      });
    },
  }),
  podRule({
    id: "pss-run-as-user",
    severity: "error",
    description: "No pod or container may set runAsUser: 0 (PSS restricted).",
    fix: "Set runAsUser to a non-zero, high uid such as 10001.",
    checks: ["pss-run-as-user"],
    check: (t) =>
      podAndContainerContexts(t, ["runAsUser"], (value) => num(value) === 0, {
        pod: "the pod sets runAsUser: 0",
        container: (c) => `${c} sets runAsUser: 0`,
      }),
  }),
  podRule({
    id: "pss-seccomp-restricted",
    severity: "error",
    description:
      "The seccomp profile must be RuntimeDefault or Localhost, on the pod or on every container (PSS restricted).",
    fix: "Set spec.securityContext.seccompProfile.type: RuntimeDefault.",
    checks: ["pss-seccomp-restricted"],
    check: (t) => {
      const podType = str(at(t.spec, "securityContext", "seccompProfile", "type"));
      const findings: Finding[] = [];
      if (podType !== undefined && !SECCOMP_RESTRICTED.has(podType)) {
        findings.push({
          message: `the pod's seccomp profile is ${podType}`,
          path: [...t.specPath, "securityContext", "seccompProfile", "type"],
        });
      }
      for (const c of containersOf(t)) {
        const type = str(at(c.container, "securityContext", "seccompProfile", "type"));
        if (type !== undefined && !SECCOMP_RESTRICTED.has(type)) {
          findings.push({
            message: `${describeContainer(c)} has seccomp profile ${type}`,
            path: [...c.path, "securityContext", "seccompProfile", "type"],
          });
        } else if (type === undefined && podType === undefined) {
          findings.push({
            message: `${describeContainer(c)} has no seccomp profile (neither it nor the pod sets one)`,
            path: [...c.path, "securityContext", "seccompProfile"],
          });
        }
      }
      return findings;
    },
  }),
  podRule({
    id: "pss-capabilities-restricted",
    severity: "error",
    description:
      "Every container must drop ALL capabilities and add at most NET_BIND_SERVICE (PSS restricted).",
    fix: 'Set securityContext.capabilities: { drop: ["ALL"] } (add only NET_BIND_SERVICE if the container binds a port below 1024).',
    checks: ["pss-capabilities-restricted"],
    check: (t) =>
      containersOf(t).flatMap((c) => {
        const findings: Finding[] = [];
        const drop = list(at(c.container, "securityContext", "capabilities", "drop"));
        if (!drop.includes("ALL")) {
          findings.push({
            message: `${describeContainer(c)} does not drop ALL capabilities`,
            path: [...c.path, "securityContext", "capabilities", "drop"],
          });
        }
        for (const cap of capabilitiesAdded(c.container).filter((cap) => cap !== "NET_BIND_SERVICE")) {
          findings.push({
            message: `${describeContainer(c)} adds capability ${cap}`,
            path: [...c.path, "securityContext", "capabilities", "add"],
          });
        }
        return findings;
      }),
  }),
];
