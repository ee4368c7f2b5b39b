/**
 * The login page: one field for an nbstage token (`nbstage token create`, or the service's
 * `NBSTAGE_ADMIN_TOKEN`), posted to `/login` with the page to go back to.
 */
import { escapeHtml } from '../../../pipelines/reports/ansi';
import { renderPage } from '../layout';

/** What the login page shows. */
export interface LoginPageData {
  /** Where to go after logging in (already checked to be a path on this site). */
  next: string;
  /** Why the last attempt failed, or null. */
  error: string | null;
}

/** The login page. */
export function loginPage(data: LoginPageData): string {
  const error =
    data.error === null ? '' : `<p class="form-error" role="alert">${escapeHtml(data.error)}</p>`;
  return renderPage({
    title: 'Log in',
    principal: null,
    body:
      '<section class="panel narrow login">' +
      '<h1>Log in to nbstage</h1>' +
      '<p class="muted">Paste an nbstage token (made with <code>nbstage token create</code>). ' +
      'It starts a session of this browser, kept in a cookie sent to this service only; the ' +
      'token itself is not kept. Log out to end the session.</p>' +
      error +
      '<form method="post" action="/login">' +
      `<input type="hidden" name="next" value="${escapeHtml(data.next)}">` +
      '<label for="token">Token</label>' +
      '<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>' +
      '<button type="submit" class="primary">Log in</button>' +
      '</form></section>',
  });
}
