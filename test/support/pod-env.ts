/**
 * The environment the kubelet gives a container, computed from a synthesized container spec: literal
 * values with `$(NAME)` expanded from earlier entries (`$$` is a literal `$`), Secret keys, and the pod
 * name from the downward API. Lets tests run a process with exactly the variables a pod would have.
 */
export interface ContainerEnvVar {
  readonly name: string;
  readonly value?: string;
  readonly valueFrom?: {
    readonly secretKeyRef?: { readonly name: string; readonly key: string };
    readonly fieldRef?: { readonly fieldPath: string };
  };
}

export interface PodEnvSources {
  readonly podName: string;
  /** Secret name to its decoded data. */
  readonly secrets: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

export function containerEnv(
  env: readonly ContainerEnvVar[],
  sources: PodEnvSources,
): Record<string, string> {
  const resolved: Record<string, string> = {};
  for (const entry of env) {
    resolved[entry.name] = resolveOne(entry, sources, resolved);
  }
  return resolved;
}

function resolveOne(entry: ContainerEnvVar, sources: PodEnvSources, earlier: Record<string, string>): string {
  if (entry.value !== undefined) {
    // Only variables defined earlier expand; an unknown reference stays as written.
    return entry.value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (match, name?: string) =>
      name === undefined ? "$" : (earlier[name] ?? match),
    );
  }
  const secretRef = entry.valueFrom?.secretKeyRef;
  if (secretRef) {
    const value = sources.secrets[secretRef.name]?.[secretRef.key];
    if (value === undefined)
      throw new Error(`${entry.name}: no key ${secretRef.key} in test Secret ${secretRef.name}`);
    return value;
  }
  if (entry.valueFrom?.fieldRef?.fieldPath === "metadata.name") return sources.podName;
  throw new Error(`${entry.name}: containerEnv cannot resolve ${JSON.stringify(entry)}`);
}
