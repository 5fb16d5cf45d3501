// CHAOS: consumer groups and single processes under kills, churn and service faults, counting
// every record's effects. `npm test` runs the quick schedule; `npm run chaos` the full one
// (DSTREAM_CHAOS_PROFILE=full). Each scenario prints one line starting with "chaos".
// The scenarios restart Kafka, Redis, PostgreSQL and ZooKeeper when their schedule says so: run
// those only against a private set of services (docs/reliability.md). The quick one restarts none.
import { runChaosScenario } from './runChaosScenario';
import { chaosScenarios } from './scenarios';

const profile = process.env.DSTREAM_CHAOS_PROFILE === 'full' ? 'full' : 'quick';
const seed = Number(process.env.DSTREAM_CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31));
process.stdout.write(`chaos: ${profile} schedule, seed ${seed} (DSTREAM_CHAOS_SEED=${seed} repeats it)\n`);

describe(`CHAOS (${profile} schedule, seed ${seed})`, () => {
  for (const scenario of chaosScenarios(profile)) {
    // Production, churn that may outlast it, the drain, restarts of services: generous, but bounded.
    const timeoutMs = scenario.durationMs + scenario.churnCycles * 20_000 + scenario.kills * 15_000 + 600_000;
    const exactly = scenario.delivery === 'exactly-once' ? ' and counts none twice' : '';
    it(`${scenario.name}: loses no record${exactly}, and no member owning data is silent for 10 s`, async () => {
      const result = await runChaosScenario(scenario, seed);

      expect({ line: result.line, lost: result.lost, unread: result.unread, silent: result.silent }).toEqual({
        line: result.line,
        lost: 0,
        unread: 0,
        silent: [],
      });
      if (scenario.delivery === 'exactly-once') expect(result.duplicated).toBe(0);
      expect(result.passed).toBe(true);
    }, timeoutMs);
  }
});
