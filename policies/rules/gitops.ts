/**
 * What a GitOps controller applies unreviewed must be deployable: no placeholder image digest on a
 * folder an Argo CD Application syncs automatically (a fresh install never starts, and a rolling
 * update stalls on ImagePullBackOff).
 */
import type { ObjectRule } from "../core/types.js";
import { containersOf, describeContainer } from "../k8s/workloads.js";
import { str } from "../k8s/read.js";
import { podRule } from "./define.js";

/** A digest made of one repeated hex character (sha256:000…0, sha256:fff…f): a stand-in, never an image. */
export function isPlaceholderDigest(image: string): boolean {
  const match = /@sha256:([0-9a-f]{64})$/.exec(image);
  return match !== null && /^(.)\1{63}$/.test(match[1]!);
}

export const gitopsRules: readonly ObjectRule[] = [
  podRule({
    id: "no-placeholder-digest-autosync",
    severity: "error",
    description:
      "No image on an automatically synced path (a deploy/<env> folder an Argo CD Application syncs with syncPolicy.automated) uses a placeholder digest such as sha256:000…0.",
    fix: "Set the real digests in the stack file (pulumi config set --path '<key>.digest' sha256:<64 hex>) and re-run npm run synth; until then leave the Application's automated sync off (npm run synth does so for stacks with placeholders).",
    checks: [],
    check: (template, _object, context) =>
      context.autoSynced
        ? containersOf(template).flatMap((c) => {
            const image = str(c.container.image) ?? "";
            return isPlaceholderDigest(image)
              ? [
                  {
                    message: `${describeContainer(c)} uses the placeholder digest ${image} on an auto-synced path`,
                    path: [...c.path, "image"],
                  },
                ]
              : [];
          })
        : [],
  }),
];
