// How the shells word a deferral that needs a person: the controller (event) and the compose daemon (log line) say
// it the same way, and in the words of the core's `unknown-account` finding.

/**
 * A decrease held by decide() (`account-unknown`): the workload's own connections may be among those counted as
 * other clients', so applying it could shrink the workload for its own load, again and again.
 * `accountKey`: how the option is set where the person looks, e.g. `pooltuner.io/account annotation`.
 */
export function accountUnknownHeld(workload: string, accountKey: string): string {
  return (
    `${workload}: decrease held: its database account is unknown, so its own connections may be among those ` +
    `counted as other clients', and it is not shrunk for them: set the ${accountKey} or put the user in a ` +
    "database URL in its env"
  );
}
