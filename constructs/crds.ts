/**
 * Typed ApiObjects for the custom resources we emit: prometheus-operator's ServiceMonitor, PodMonitor and
 * PrometheusRule, and external-secrets' ExternalSecret. Only the fields we use are typed; the vendored
 * CRD schemas check the rest in the tests.
 */
import { ApiObject } from "cdk8s";
import type { Construct } from "constructs";
import type * as k8s from "cdk8s-plus-27/lib/imports/k8s.js";

interface Named {
  /** Name, namespace and labels. */
  readonly metadata: k8s.ObjectMeta;
}

/** An ApiObject class for one custom resource kind, typed by its props. */
function customResource<Props extends Named>(
  apiVersion: string,
  kind: string,
): new (scope: Construct, id: string, props: Props) => ApiObject {
  return class extends ApiObject {
    constructor(scope: Construct, id: string, props: Props) {
      super(scope, id, { apiVersion, kind, ...props });
    }
  };
}

/** What a ServiceMonitor and a PodMonitor both select and copy. */
interface MonitorSpec {
  readonly selector: { readonly matchLabels: Record<string, string> };
  readonly podTargetLabels?: readonly string[];
}

/** One scrape endpoint of a ServiceMonitor or PodMonitor. */
export interface MonitorEndpoint {
  readonly port: string;
  readonly path: string;
  readonly interval: string;
  readonly scrapeTimeout?: string;
}

/** monitoring.coreos.com/v1 ServiceMonitor: scrape the endpoints of matching Services. */
export interface ServiceMonitorProps extends Named {
  readonly spec: MonitorSpec & { readonly endpoints: readonly MonitorEndpoint[] };
}

export const ServiceMonitor = customResource<ServiceMonitorProps>(
  "monitoring.coreos.com/v1",
  "ServiceMonitor",
);

/** monitoring.coreos.com/v1 PodMonitor: scrape matching pods directly. */
export interface PodMonitorProps extends Named {
  readonly spec: MonitorSpec & { readonly podMetricsEndpoints: readonly MonitorEndpoint[] };
}

export const PodMonitor = customResource<PodMonitorProps>("monitoring.coreos.com/v1", "PodMonitor");

/** One Prometheus alerting rule. */
export interface AlertRule {
  readonly alert: string;
  readonly expr: string;
  readonly for: string;
  readonly labels: Record<string, string>;
  readonly annotations: { readonly summary: string; readonly description: string; readonly runbook?: string };
}

/** monitoring.coreos.com/v1 PrometheusRule: groups of alerting rules. */
export interface PrometheusRuleProps extends Named {
  readonly spec: {
    readonly groups: readonly { readonly name: string; readonly rules: readonly AlertRule[] }[];
  };
}

export const PrometheusRule = customResource<PrometheusRuleProps>(
  "monitoring.coreos.com/v1",
  "PrometheusRule",
);

/** external-secrets.io/v1 ExternalSecret: fill a Secret from an external store. */
export interface ExternalSecretProps extends Named {
  readonly spec: {
    readonly refreshInterval: string;
    readonly secretStoreRef: { readonly name: string; readonly kind: "SecretStore" | "ClusterSecretStore" };
    readonly target: {
      readonly name: string;
      readonly creationPolicy: "Owner" | "Orphan" | "Merge" | "None";
      readonly deletionPolicy?: "Delete" | "Merge" | "Retain";
      readonly template?: {
        readonly type?: string;
        readonly metadata?: { readonly labels?: Record<string, string> };
      };
    };
    readonly data: readonly {
      readonly secretKey: string;
      readonly remoteRef: { readonly key: string; readonly property?: string };
    }[];
  };
}

/** external-secrets.io/v1 ExternalSecret. */
export const ExternalSecret = customResource<ExternalSecretProps>("external-secrets.io/v1", "ExternalSecret");
