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

/** One scrape endpoint of a ServiceMonitor or PodMonitor. */
export interface MonitorEndpoint {
  readonly port: string;
  readonly path: string;
  readonly interval: string;
  readonly scrapeTimeout?: string;
}

/** monitoring.coreos.com/v1 ServiceMonitor: scrape the endpoints of matching Services. */
export interface ServiceMonitorProps extends Named {
  readonly spec: {
    readonly selector: { readonly matchLabels: Record<string, string> };
    readonly endpoints: readonly MonitorEndpoint[];
    readonly podTargetLabels?: readonly string[];
  };
}

export class ServiceMonitor extends ApiObject {
  constructor(scope: Construct, id: string, props: ServiceMonitorProps) {
    super(scope, id, { apiVersion: "monitoring.coreos.com/v1", kind: "ServiceMonitor", ...props });
  }
}

/** monitoring.coreos.com/v1 PodMonitor: scrape matching pods directly. */
export interface PodMonitorProps extends Named {
  readonly spec: {
    readonly selector: { readonly matchLabels: Record<string, string> };
    readonly podMetricsEndpoints: readonly MonitorEndpoint[];
    readonly podTargetLabels?: readonly string[];
  };
}

export class PodMonitor extends ApiObject {
  constructor(scope: Construct, id: string, props: PodMonitorProps) {
    super(scope, id, { apiVersion: "monitoring.coreos.com/v1", kind: "PodMonitor", ...props });
  }
}

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

export class PrometheusRule extends ApiObject {
  constructor(scope: Construct, id: string, props: PrometheusRuleProps) {
    super(scope, id, { apiVersion: "monitoring.coreos.com/v1", kind: "PrometheusRule", ...props });
  }
}

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
export class ExternalSecret extends ApiObject {
  constructor(scope: Construct, id: string, props: ExternalSecretProps) {
    super(scope, id, { apiVersion: "external-secrets.io/v1", kind: "ExternalSecret", ...props });
  }
}
