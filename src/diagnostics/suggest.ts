/** "Did you mean ...?": the candidates within an edit distance that scales with the input's length. */
export function suggestionList(input: string, candidates: Iterable<string>, max = 3): string[] {
  const threshold = Math.floor(input.length * 0.4) + 1;
  const scored: [string, number][] = [];
  const lower = input.toLowerCase();
  for (const c of candidates) {
    if (Math.abs(c.length - input.length) > threshold) continue;
    const d = c.toLowerCase() === lower ? 0.5 : levenshtein(lower, c.toLowerCase(), threshold);
    if (d <= threshold) scored.push([c, d]);
  }
  scored.sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0]));
  return scored.slice(0, max).map(([c]) => c);
}

export function didYouMean(input: string, candidates: Iterable<string>): string | undefined {
  const s = suggestionList(input, candidates);
  if (s.length === 0) return undefined;
  return `did you mean ${s.map((x) => `\`${x}\``).join(", ")}?`;
}

function levenshtein(a: string, b: string, cap: number): number {
  if (a === b) return 0;
  let prevprev: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost);
      // Transposition counts as one edit (tb-set-node-sos vs tb-set-node-oss).
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, (prevprev[j - 2] ?? v) + 1);
      cur.push(v);
      rowMin = Math.min(rowMin, v);
    }
    prevprev = prev;
    prev = cur;
    if (rowMin > cap) return cap + 1;
  }
  return prev[b.length]!;
}
