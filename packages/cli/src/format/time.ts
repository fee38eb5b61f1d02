/**
 * Go's `time.Time.String()` for a unix time in the local zone:
 * `2026-11-22 20:11:42 +0000 UTC`, as `--format '{{.CreatedAt}}'` prints it.
 */
export function goTimeString(unixSeconds: number): string {
  const d = new Date(unixSeconds * 1000);
  const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
  const offsetMin = -d.getTimezoneOffset();
  const sign = offsetMin < 0 ? '-' : '+';
  const abs = Math.abs(offsetMin);
  const offset = `${sign}${pad(Math.trunc(abs / 60))}${pad(abs % 60)}`;
  let zone = 'UTC';
  if (offsetMin !== 0 || (process.env.TZ && !/^(UTC|Etc\/UTC|UTC0|)$/.test(process.env.TZ))) {
    const part = new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' }).formatToParts(d).find((p) => p.type === 'timeZoneName');
    zone = part && !/^GMT[+-]/.test(part.value) ? part.value : `${sign}${pad(Math.trunc(abs / 60))}${abs % 60 ? pad(abs % 60) : ''}`;
  }
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${offset} ${zone}`
  );
}
