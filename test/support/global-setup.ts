/**
 * Runs once before the test suite: makes sure the system tools the tests start for real are present.
 */
import { ensureSystemTools } from "./system-tools.js";

export default function setup(): void {
  ensureSystemTools();
}
