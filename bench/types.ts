export interface BenchResult {
  value: number;
  unit: string;
  /** The comparison figure measured in the same run (what a ratio divides by), if any. */
  baseline?: number;
  /** The goal, e.g. '<= 1.5'. */
  goal?: string;
  note?: string;
}
export type BenchResults = Record<string, BenchResult>;
