// Command-line helpers shared by the bench scripts.

/** A function that prints `<prefix>: <message>` to stderr and exits with 2, the status of a usage error. */
export function usageFailure(prefix) {
  return (message) => {
    process.stderr.write(`${prefix}: ${message}\n`);
    process.exit(2);
  };
}

/**
 * The whole number given as `--<name>` (`value`: the option's text, undefined when it
 * was not given, then `fallback`). Anything else, or a number below 1 (below 0 with
 * `zero`), ends the script through `fail`.
 */
export function wholeNumber(value, name, fallback, fail, { zero = false } = {}) {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (!Number.isInteger(number) || number < (zero ? 0 : 1)) fail(`--${name} must be a whole number${zero ? '' : ' above 0'}, got ${JSON.stringify(value)}`);
  return number;
}
