/** `String.prototype.isWellFormed` / `toWellFormed` (ES2024, Node.js 20+), typed for an ES2023 lib. */
interface WellFormedString {
  isWellFormed(): boolean;
  toWellFormed(): string;
}

/** True when `text` has no lone surrogate, i.e. it is valid Unicode and encodes to UTF-8 unchanged. */
export function isWellFormed(text: string): boolean {
  return (text as unknown as WellFormedString).isWellFormed();
}

/** `text` with every lone surrogate replaced by U+FFFD. */
export function toWellFormed(text: string): string {
  return (text as unknown as WellFormedString).toWellFormed();
}
