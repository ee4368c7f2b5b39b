/**
 * The Environment section of the diff page, on the store's own comparison of two versions: the
 * changed packages and fields in tables (escaped), "Same environment." when nothing differs, and
 * which build recorded none. (The page over HTTP, on a real service: `test/integration/web`.)
 */
import type { JSONObject } from '../../../pipelines/notebook/model';
import { diffVersions } from '../../../server/store/notebook-diff';
import { diffPage } from '../../../server/web/pages/diff-page';
import { makeNotebook } from '../../helpers/notebooks';

function record(overrides: JSONObject = {}): JSONObject {
  return {
    host: 'agent-1',
    python: { version: '3.11.7', implementation: 'CPython' },
    packages: { numpy: '1.26.4', six: '1.16.0' },
    git: { commit: '1ac1', dirty: false, untracked: 0, branch: 'main' },
    ...overrides,
  };
}

/** The page of builds 1 and 2 of a job whose runs recorded `a` and `b` (undefined: nothing). */
function page(a: JSONObject | undefined, b: JSONObject | undefined): string {
  const version = (build: string, environment: JSONObject | undefined) => ({
    build,
    commit: `commit-${build}`,
    notebook: makeNotebook(['x = 1']),
    run: { status: 'completed', ...(environment === undefined ? {} : { environment }) },
  });
  const diff = diffVersions('team/train', version('1', a), version('2', b));
  return diffPage({
    principal: { id: 'abcdef012345', name: 'test-reader', role: 'read' },
    diff,
    builds: [],
  });
}

/** The page's Environment section. */
function section(html: string): string {
  return /<section class="panel env-changes">[\s\S]*?<\/section>/.exec(html)?.[0] ?? '';
}

describe('the Environment section of the diff page', () => {
  it('lays out the changed packages and fields, A beside B', () => {
    const html = page(
      record(),
      record({
        packages: { numpy: '2.0.0', pandas: '2.2.0' },
        python: { version: '3.12.1', implementation: 'CPython' },
        host: '<gpu-box>',
      }),
    );
    const env = section(html);
    expect(env).toContain('<h2>Environment</h2>');
    expect(env).toContain(
      '<tr class="package-added" data-package="pandas"><th scope="row"><code>pandas</code></th>' +
        '<td><span class="muted">—</span></td><td><code>2.2.0</code></td></tr>',
    );
    expect(env).toContain(
      '<tr class="package-removed" data-package="six"><th scope="row"><code>six</code></th>' +
        '<td><code>1.16.0</code></td><td><span class="muted">—</span></td></tr>',
    );
    expect(env).toContain(
      '<tr class="package-changed" data-package="numpy"><th scope="row"><code>numpy</code></th>' +
        '<td><code>1.26.4</code></td><td><code>2.0.0</code></td></tr>',
    );
    expect(env).toContain(
      '<tr data-field="python.version"><th scope="row"><code>python.version</code></th>' +
        '<td><code>3.11.7</code></td><td><code>3.12.1</code></td></tr>',
    );
    expect(env).toContain('<td><code>&lt;gpu-box&gt;</code></td>');
    expect(env).not.toContain('data-field="git');
    expect(html).not.toContain('No differences.');
  });

  it('shows only the table there is something for', () => {
    const env = section(page(record(), record({ host: 'agent-2' })));
    expect(env).toContain('env-fields');
    expect(env).not.toContain('env-packages');
  });

  it('says so when the environments are the same', () => {
    const html = page(record(), record({ git: { ...(record().git as JSONObject), untracked: 3 } }));
    expect(section(html)).toContain('<p class="muted same-environment">Same environment.</p>');
    expect(html).toContain('No differences.');
  });

  it('names the build that recorded none', () => {
    expect(section(page(record(), undefined))).toContain('Not recorded in #2.');
    expect(section(page(undefined, undefined))).toContain('Not recorded in #1 and #2.');
  });
});
