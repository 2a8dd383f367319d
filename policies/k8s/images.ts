/** Container image references: `[registry/]repository[:tag][@sha256:digest]`. */

export interface ImageRef {
  /** Registry host, when the reference names one (it has a dot or a port, or is localhost). */
  readonly registry?: string;
  /** Repository path without registry, tag or digest, such as `library/nats` or `nats`. */
  readonly repository: string;
  readonly tag?: string;
  readonly digest?: string;
}

const DIGEST = /^sha256:[a-f0-9]{64}$/;

export function parseImage(reference: string): ImageRef {
  const [namePart = "", digest] = reference.split("@", 2);
  const slash = namePart.lastIndexOf("/");
  const lastSegment = namePart.slice(slash + 1);
  const colon = lastSegment.indexOf(":");
  const tag = colon >= 0 ? lastSegment.slice(colon + 1) : undefined;
  const path = colon >= 0 ? namePart.slice(0, slash + 1 + colon) : namePart;
  const [first = "", ...rest] = path.split("/");
  const hasRegistry =
    rest.length > 0 && (first.includes(".") || first.includes(":") || first === "localhost");
  return {
    ...(hasRegistry ? { registry: first } : {}),
    repository: hasRegistry ? rest.join("/") : path,
    ...(tag !== undefined ? { tag } : {}),
    ...(digest !== undefined ? { digest } : {}),
  };
}

/** Whether the reference is pinned to an immutable sha256 digest. */
export function hasDigest(image: ImageRef): boolean {
  return image.digest !== undefined && DIGEST.test(image.digest);
}

/** The last path segment of the repository, such as `nats` for `docker.io/library/nats:2.10`. */
export function imageBaseName(reference: string): string {
  const { repository } = parseImage(reference);
  return repository.slice(repository.lastIndexOf("/") + 1);
}
