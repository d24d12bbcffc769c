import { describe, expect, it } from 'vitest';
import { dataPhaseGroup, riskCalibration, riskToLawRatio, type RiskLawRow } from '../../src/app/risk-calibration.js';
import { DEFAULT_FLEET_MIX, drawFleet } from '../../src/sim/fleet/vm-spec.js';

describe('riskCalibration', () => {
  it('sums risk and law per data-phase group, leaving out the risks no level takes', () => {
    const rows: RiskLawRow[] = [
      { group: 'main', risk: 0.02, law: 0.01 },
      { group: 'main', risk: 0.04, law: 0.02 },
      { group: 'main', risk: 0.5, law: 0.001 }, // over the cut: not counted
      { group: 'multifd', risk: 0.01, law: 0.03 },
    ];
    const [none, main, multifd] = riskCalibration(rows);
    expect(none).toEqual({ group: 'none', vms: 0, riskSum: 0, lawSum: 0 });
    expect(main!.vms).toBe(2);
    expect(riskToLawRatio(main!)).toBeCloseTo(2, 10);
    expect(riskToLawRatio(multifd!)).toBeCloseTo(1 / 3, 10);
    expect(riskToLawRatio(none!)).toBeNaN();
    expect(riskCalibration(rows, 1)[1]!.vms).toBe(3);
  });

  it('names a law probability outside [0, 1]', () => {
    expect(() => riskCalibration([{ group: 'none', risk: 0.01, law: 1.5 }])).toThrow(/law probability must be in \[0, 1\], got 1\.5/);
  });
});

describe('dataPhaseGroup', () => {
  it('puts a VM by where its device state goes: nowhere, the main channel, multifd', () => {
    const fleet = drawFleet(7, 200, DEFAULT_FLEET_MIX);
    const groups = new Set(fleet.map(dataPhaseGroup));
    expect(groups).toEqual(new Set(['none', 'main', 'multifd']));
    for (const vm of fleet) {
      const g = dataPhaseGroup(vm);
      expect(g === 'none').toBe(vm.devices.length === 0);
      if (vm.devices.length > 0) expect(g === 'multifd').toBe(vm.deviceStateMultifd);
    }
  });
});
