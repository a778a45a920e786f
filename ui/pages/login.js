// pages/login.js: the login page (#/login?next=PATH). The server answers a
// request without credentials 401 and the UI comes here (app.js); a login
// sets an HttpOnly session cookie that no script can read, so the page
// only tells app.js (the 'weft:login' event) and goes back to where the
// user was.
import { api } from '../api.js';
import { h, mount, errorBox } from '../dom.js';
import { navigate } from '../router.js';

/** Where to go after a login: a UI route, never another site. */
function nextPath(query) {
  const next = query.get('next') || '/jobs';
  return next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/login') ? next : '/jobs';
}

export function loginPage(root, _params, query) {
  const user = h('input', { class: 'input', name: 'user', id: 'login-user', autocomplete: 'username', required: true, autofocus: true });
  const password = h('input', { class: 'input', name: 'password', id: 'login-password', type: 'password', autocomplete: 'current-password', required: true });
  const submit = h('button', { class: 'btn btn-primary', type: 'submit', 'data-action': 'login' }, 'Log in');
  const status = h('div', { class: 'login-status', 'data-login-status': '' });
  const why = query.get('why');
  if (why) mount(status, h('div', { class: 'alert', role: 'status' }, why));
  let live = true;
  const form = h('form', { class: 'login-form card', 'data-form': 'login' },
    h('h1', null, 'Log in to weft'),
    h('label', { for: 'login-user' }, 'User'), user,
    h('label', { for: 'login-password' }, 'Password'), password,
    submit, status);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    submit.disabled = true;
    try {
      const me = await api.login(user.value, password.value);
      if (!live) return;
      password.value = '';
      window.dispatchEvent(new CustomEvent('weft:login', { detail: me }));
      navigate(nextPath(query));
    } catch (err) {
      if (!live) return;
      password.value = '';
      mount(status, errorBox(err));
      password.focus();
    } finally {
      submit.disabled = false;
    }
  });
  document.body.classList.add('signed-out');
  mount(root, h('div', { class: 'login-page' }, form));
  user.focus();
  return () => { live = false; document.body.classList.remove('signed-out'); };
}
