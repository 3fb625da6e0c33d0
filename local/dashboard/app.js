// The reference client: sign up or in, upload sales, read the analytics.
// The API's base URL is this page's origin, or `?api=` (kept for the tab),
// so the same page runs against a deployed stage.

import { Api } from './api.js';
import { analyticsView } from './analytics.js';
import { el, say } from './dom.js';
import { uploadPanel } from './upload.js';
import { uploadsView } from './uploads.js';

const params = new URLSearchParams(location.search);
if (params.get('api')) sessionStorage.setItem('flux-api', params.get('api'));
const api = new Api(sessionStorage.getItem('flux-api') || location.origin);
const main = document.getElementById('main');
const top = document.getElementById('top');
let view = 'analytics';

let signedIn = false;
api.onSession = (session) => {
  top.hidden = !session;
  const wasSignedIn = signedIn;
  signedIn = Boolean(session);
  if (session) {
    document.getElementById('restaurant-name').textContent = session.restaurant.name;
    document.getElementById('user-email').textContent = session.user.email;
  } else if (wasSignedIn) {
    signIn();
  }
};

function field(id, label, attributes) {
  return [el('label', { for: id }, label), el('input', { id, name: id, required: true, ...attributes })];
}

function signIn() {
  const error = el('p', { class: 'error', role: 'alert', id: 'auth-error' });
  const login = el('form', { class: 'card auth', id: 'login-form', 'aria-labelledby': 'login-title' },
    el('h1', { id: 'login-title' }, 'Sign in to Flux'),
    field('login-email', 'Email', { type: 'email', autocomplete: 'email' }),
    field('login-password', 'Password', { type: 'password', autocomplete: 'current-password' }),
    el('p', {}, el('button', { type: 'submit' }, 'Sign in')));
  login.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      await api.login(login.elements['login-email'].value, login.elements['login-password'].value);
      render();
    } catch (e) {
      error.textContent = e.message;
    }
  });
  const zones = Intl.supportedValuesOf ? Intl.supportedValuesOf('timeZone') : ['UTC'];
  const here = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const timezone = el('select', { id: 'register-timezone' }, zones.map((z) => el('option', { value: z, selected: z === here }, z)));
  const register = el('form', { class: 'card auth', id: 'register-form', 'aria-labelledby': 'register-title' },
    el('h1', { id: 'register-title' }, 'New restaurant'),
    field('register-restaurant', 'Restaurant name', { type: 'text', maxlength: 120 }),
    field('register-email', 'Email', { type: 'email', autocomplete: 'email' }),
    field('register-password', 'Password (12 characters or more)', { type: 'password', autocomplete: 'new-password', minlength: 12 }),
    el('label', { for: 'register-timezone' }, 'Time zone'), timezone,
    el('p', {}, el('button', { type: 'submit' }, 'Create the restaurant')));
  register.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      await api.register({
        restaurant_name: register.elements['register-restaurant'].value,
        email: register.elements['register-email'].value,
        password: register.elements['register-password'].value,
        timezone: timezone.value,
      });
      render();
    } catch (e) {
      const fields = (e.problem?.errors || []).map((f) => `${f.field} ${f.message}`);
      error.textContent = fields.length ? fields.join('; ') : e.message;
    }
  });
  main.replaceChildren(error, login, register);
}

function render() {
  for (const button of document.querySelectorAll('nav [data-view]')) {
    button.toggleAttribute('aria-current', button.dataset.view === view);
    if (button.dataset.view === view) button.setAttribute('aria-current', 'page');
  }
  if (view === 'uploads') {
    const holder = el('div', {});
    const panel = uploadPanel(api, { onDone: () => holder.replaceChildren(uploadsView(api, panel)) });
    holder.append(uploadsView(api, panel));
    main.replaceChildren(panel.node, holder);
  } else {
    main.replaceChildren(analyticsView(api));
  }
  main.focus();
}

for (const button of document.querySelectorAll('nav [data-view]')) {
  button.addEventListener('click', () => { view = button.dataset.view; render(); });
}
document.getElementById('logout').addEventListener('click', async () => {
  await api.logout();
  say('Signed out');
});

signIn();
