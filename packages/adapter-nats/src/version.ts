/** Whether a nats-server `version` (`2.12.1`, `v2.14.0-beta`) is at least `min`. */
export function versionAtLeast(version: string, min: readonly number[]): boolean {
  const parts = version.replace(/^v/, '').split(/[.-]/).map(Number);
  for (let i = 0; i < min.length; i++) {
    const p = parts[i] ?? 0;
    if (Number.isNaN(p)) return true;
    if (p !== min[i]) return p > min[i]!;
  }
  return true;
}
