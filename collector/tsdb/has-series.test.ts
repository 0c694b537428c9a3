import { describe, expect, it } from 'vitest';
import { labelsFromObject } from '../../shared/index.js';
import { openTsdb } from './index.js';

describe('Tsdb.hasSeries', () => {
  it('knows committed series only', () => {
    const db = openTsdb({ dataDir: ':memory:' });
    try {
      const a = labelsFromObject({ __name__: 'up', job: 'a' });
      const b = labelsFromObject({ __name__: 'up', job: 'b' });
      const app = db.appender();
      app.append(a, Date.now(), 1);
      expect(db.hasSeries(a)).toBe(false);
      app.commit();
      expect(db.hasSeries(a)).toBe(true);
      expect(db.hasSeries(labelsFromObject({ job: 'a', __name__: 'up' }))).toBe(true);
      expect(db.hasSeries(b)).toBe(false);
    } finally {
      db.close();
    }
  });
});
