/** Kubernetes label selector semantics (metav1.LabelSelector and plain Service selectors). */
import { isRecord, list, str, stringMap } from "./read.js";

/**
 * Whether a metav1.LabelSelector (`matchLabels` + `matchExpressions`) selects `labels`.
 * An empty selector selects everything; a missing one (undefined) selects nothing.
 */
export function labelSelectorMatches(selector: unknown, labels: Readonly<Record<string, string>>): boolean {
  if (!isRecord(selector)) return false;
  for (const [key, value] of Object.entries(stringMap(selector.matchLabels))) {
    if (labels[key] !== value) return false;
  }
  for (const expression of list(selector.matchExpressions)) {
    const key = str((expression as Record<string, unknown> | undefined)?.key);
    const operator = str((expression as Record<string, unknown> | undefined)?.operator);
    const values = list((expression as Record<string, unknown> | undefined)?.values).filter(
      (v): v is string => typeof v === "string",
    );
    if (key === undefined) return false;
    const present = Object.prototype.hasOwnProperty.call(labels, key);
    const value = labels[key];
    switch (operator) {
      case "In":
        if (!present || !values.includes(value!)) return false;
        break;
      case "NotIn":
        if (present && values.includes(value!)) return false;
        break;
      case "Exists":
        if (!present) return false;
        break;
      case "DoesNotExist":
        if (present) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

/** Whether a Service-style selector (a plain map) selects `labels`. An empty map selects nothing. */
export function mapSelectorMatches(selector: unknown, labels: Readonly<Record<string, string>>): boolean {
  const entries = Object.entries(stringMap(selector));
  return entries.length > 0 && entries.every(([key, value]) => labels[key] === value);
}
