/** Rounding for results: the one copy every module uses (2 decimals for rates, 3 for ms and seconds). */
export const round2 = (x: number): number => Math.round(x * 100) / 100
export const round3 = (x: number): number => Math.round(x * 1000) / 1000
