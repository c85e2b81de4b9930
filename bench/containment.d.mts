import type { Browser } from '@playwright/test';
import type { BenchResults } from './types';

export declare const BOMB_HEAP: string;
export declare function spawnFrameRatio(browser: Browser, origin: string): Promise<BenchResults>;
export declare function attacksNoHeaders(browser: Browser): Promise<BenchResults>;
export declare function kernelSurvivesBombs(
  browser: Browser,
  origin: string,
  log?: (s: string) => void,
): Promise<BenchResults>;
