/** Free loopback ports for servers that tests start: the same helper `zeroplane up` uses. */
export { freePort, freePorts } from "../../runtime/cli/local/processes.js";
