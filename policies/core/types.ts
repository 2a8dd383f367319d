/**
 * The shapes every rule and front-end shares. Rules are data (id, severity, description, fix) plus a
 * pure `check` function; front-ends (the CrossGuard pack, the YAML CLI) only feed them objects.
 */

export type Severity = "error" | "warning";

/** A path into an object, such as `["spec", "template", "spec", "containers", 0, "image"]`. */
export type FieldPath = readonly (string | number)[];

/**
 * A Kubernetes object as plain JSON (from YAML), or Pulumi resource props wrapped in
 * @pulumi/policy's unknownCheckingProxy (reading an unknown value throws UnknownValueError).
 */
export interface K8sObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly [field: string]: unknown;
}

/** One AWS resource we create: its Pulumi type token and its inputs. */
export interface AwsResource {
  /** For example `aws:ecr/repository:Repository`. */
  readonly type: string;
  readonly name: string;
  readonly props: Readonly<Record<string, unknown>>;
}

/** Facts about where the objects go. */
export interface RuleContext {
  /** Environment name, such as `dev`, `staging` or `prod`; undefined when unspecified. */
  readonly environment: string | undefined;
  /** Whether production-only rules apply (see `isProduction`). */
  readonly production: boolean;
  /** Image registries allowed (prefixes such as `123456789012.dkr.ecr.eu-west-1.amazonaws.com/`); empty = any. */
  readonly allowedRegistries: readonly string[];
  /**
   * `manifests` when checking YAML meant for Git (GitOps), `pulumi` when checking Pulumi resources.
   * Secret objects with inline data are only wrong in manifests: in Pulumi state they are encrypted.
   */
  readonly source: "manifests" | "pulumi";
  /**
   * Whether a GitOps controller applies these manifests on its own (an Argo CD Application with
   * automated sync points at their folder): nothing stands between a commit and the cluster.
   */
  readonly autoSynced: boolean;
}

/** What a rule reports about one object. */
export interface Finding {
  readonly message: string;
  /** Where in the object, when the rule can say. */
  readonly path?: FieldPath;
}

/** A finding about a particular object, from a rule that looks at many objects at once. */
export interface ObjectFinding extends Finding {
  readonly object: K8sObject;
}

interface RuleMeta {
  /** Stable, kebab-case; matches the CHECKS.md id where one exists. */
  readonly id: string;
  readonly severity: Severity;
  /** What the rule requires, in one sentence. */
  readonly description: string;
  /** How to fix a violation. */
  readonly fix: string;
  /** CHECKS.md ids this rule implements (vendor/k8s-schemas-1.27/CHECKS.md). */
  readonly checks: readonly string[];
  /** Runs only when `context.production` is true. @default false */
  readonly productionOnly?: boolean;
}

/** A rule over one Kubernetes object at a time. */
export interface ObjectRule extends RuleMeta {
  readonly scope: "object";
  /** Kinds the rule looks at. */
  readonly kinds: readonly string[];
  check(object: K8sObject, context: RuleContext): readonly Finding[];
}

/** A rule over the whole set of Kubernetes objects (selectors, references, coverage). */
export interface SetRule extends RuleMeta {
  readonly scope: "set";
  check(objects: readonly K8sObject[], context: RuleContext): readonly ObjectFinding[];
}

/** A rule over one AWS resource. */
export interface AwsRule extends RuleMeta {
  readonly scope: "aws";
  /** Pulumi type tokens the rule looks at. */
  readonly resourceTypes: readonly string[];
  check(resource: AwsResource, context: RuleContext): readonly Finding[];
}

export type Rule = ObjectRule | SetRule | AwsRule;

/** A reference to a Kubernetes object, for reports. */
export interface ObjectRef {
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespace?: string;
  readonly name?: string;
}

/** Where an object came from, when it came from a file. */
export interface SourceLocation {
  readonly file: string;
  /** 1-based index of the YAML document in the file. */
  readonly document: number;
  /** 1-based line of the finding's field, or of the document start. */
  readonly line: number;
}

/** A rule's finding, ready for a report. */
export interface Violation {
  readonly ruleId: string;
  readonly severity: Severity;
  readonly message: string;
  readonly fix: string;
  readonly object?: ObjectRef;
  /** For AWS resources: the Pulumi type and name. */
  readonly resource?: { readonly type: string; readonly name: string };
  readonly path?: FieldPath;
  readonly location?: SourceLocation;
}
