import { describe, expect, it } from 'vitest';
import { categoryOf, foldsOf } from '../../src/estimators/cross-validate.js';

describe('evaluation folds', () => {
  const ids = ['A/run-1', 'B/run-1', 'A/run-2', 'C/run-1', 'B/run-2'];

  it('leave-one-out: a fold per migration', () => {
    expect(foldsOf(ids, 'loo')).toEqual({ k: 5, fold: [0, 1, 2, 3, 4] });
  });

  it('k folds by index, at least 2 and at most one per migration', () => {
    expect(foldsOf(ids, 2)).toEqual({ k: 2, fold: [0, 1, 0, 1, 0] });
    expect(foldsOf(ids, 9)).toEqual({ k: 5, fold: [0, 1, 2, 3, 4] });
  });

  it('category: one fold per first path segment, so no fold trains on its own category', () => {
    expect(foldsOf(ids, 'category')).toEqual({ k: 3, fold: [0, 1, 0, 2, 1] });
    expect(categoryOf('Precopy_Convergent/mig-stats-run-3')).toBe('Precopy_Convergent');
    expect(categoryOf('no-slash')).toBe('no-slash');
  });
});
