/**
 * "did you mean …?": the closest of `options` to `value` by edit distance, when it is
 * closer than 3 edits (BuildKit's threshold) and not `value` itself. Without
 * `caseSensitive` the comparison ignores case and the answer takes the case of `value`
 * when `value` is all lower or all upper case (`COPPY` → `COPY`, `coppy` → `copy`).
 */
export function suggest(value: string, options: readonly string[], caseSensitive: boolean): string | undefined {
  const wanted = caseSensitive ? value : value.toLowerCase();
  let best: string | undefined;
  let bestDistance = 3;
  for (const option of options) {
    const candidate = caseSensitive ? option : option.toLowerCase();
    if (candidate === wanted) return undefined;
    const distance = editDistance(wanted, candidate);
    if (distance < bestDistance) {
      bestDistance = distance;
      best = caseSensitive ? option : matchCase(candidate, value);
    }
  }
  return best;
}

/** `problem (did you mean x?)` when there is a suggestion, else `problem`. */
export function withSuggestion(problem: string, value: string, options: readonly string[], caseSensitive: boolean): string {
  const match = suggest(value, options, caseSensitive);
  return match === undefined ? problem : `${problem} (did you mean ${match}?)`;
}

function matchCase(candidate: string, original: string): string {
  if (original === original.toLowerCase()) return candidate.toLowerCase();
  if (original === original.toUpperCase()) return candidate.toUpperCase();
  return candidate;
}

/** Levenshtein distance (insert, delete, substitute: one each). */
export function editDistance(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  let previous = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const current = [i];
    for (let j = 1; j <= y.length; j++) {
      const cost = x[i - 1] === y[j - 1] ? 0 : 1;
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
    }
    previous = current;
  }
  return previous[y.length]!;
}
