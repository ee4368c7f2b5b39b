/** A kernel's death is told once, to every listener, also to one that comes late. */
import { DeathSignal } from '../../../../pipelines/executor/kernel';

describe('DeathSignal', () => {
  it('tells each listener once, and a late one at once', () => {
    const death = new DeathSignal();
    const heard: string[] = [];
    death.onDeath((r) => heard.push(`a:${r}`));
    const off = death.onDeath((r) => heard.push(`b:${r}`));
    death.onDeath((r) => heard.push(`c:${r}`));
    off();
    expect(death.reason).toBeNull();
    expect(death.die('disconnected')).toBe(true);
    expect(death.die('dead')).toBe(false);
    expect(death.reason).toBe('disconnected');
    death.onDeath((r) => heard.push(`late:${r}`));
    expect(heard).toEqual(['a:disconnected', 'c:disconnected', 'late:disconnected']);
  });
});
