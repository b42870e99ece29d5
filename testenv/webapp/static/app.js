// The cognito-authz demo page: plain JavaScript, no build step, no library.
//
// It talks to a Cognito user pool's JSON API the way Amplify does on the wire (POST,
// application/x-amz-json-1.1, X-Amz-Target), keeps the session under Amplify's storage key names
// (in cookies, so that cognito-authz reads them on every API call, or in localStorage with an
// Authorization: Bearer header when the footer toggle is on), and shows the demo backend's answers.
// The page decides nothing about access: Envoy and cognito-authz do, the backend reports what
// reached it, and the page shows that.
'use strict';

(function () {
  const TARGET_PREFIX = 'AWSCognitoIdentityProviderService.';
  const KEY_PREFIX = 'CognitoIdentityServiceProvider.';
  const HOME_API = '/api/activities/home';
  const ADMIN_API = '/api/admin/overview';
  const MODE_KEY = 'cognito-authz-demo.mode'; // "cookies" (default) or "bearer"
  const PENDING_KEY = 'cognito-authz-demo.pending'; // the SMS MFA challenge in progress
  const REFRESHES_KEY = 'cognito-authz-demo.refreshes';
  const RETURN_KEY = 'cognito-authz-demo.return-to'; // where a sign-in sends the browser back to
  const RETURN_PARAM = 'return_to'; // set by cognito-authz's sign-in redirect on /signin
  const SIGNED_IN_KEY = 'cognito-authz-demo.signed-in'; // set by a sign-in, read by the feed it leads to
  const KNOWN_USERS_KEY = 'cognito-authz-demo.known-users'; // users who signed in here before
  // Refresh a little before exp, as Amplify does, so a token does not expire in flight.
  const EXPIRY_MARGIN_SECONDS = 5;
  // Amplify's CookieStorage keeps its cookies a year by default.
  const COOKIE_DAYS = 365;

  let config = null; // /app-config.json

  // ---------- small DOM helpers ----------

  // h builds an element; strings become text nodes, so nothing from a server is parsed as HTML.
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === false || v === null || v === undefined) continue;
      if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (k === 'class') el.className = v;
      else el.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  function field(label, name, type, extra, hint) {
    const id = 'f-' + name;
    const attrs = Object.assign({ id, name, type, required: true }, extra || {});
    if (hint) attrs['aria-describedby'] = id + '-hint';
    return h('div', { class: 'field' },
      h('label', { for: id }, label),
      h('input', attrs),
      hint ? h('p', { class: 'hint', id: id + '-hint' }, hint) : null);
  }

  // passwordField is a field for a new password, stating the pool's policy (when the stack knows
  // it) before the user types.
  function passwordField(label) {
    const p = config.passwordPolicy;
    const extra = { autocomplete: 'new-password' };
    if (p && p.MinimumLength) extra.minlength = String(p.MinimumLength);
    return field(label, 'password', 'password', extra, p ? policyText(p) : null);
  }

  // policyText says a password policy in a sentence, e.g. "At least 8 characters, with a
  // lowercase letter, an uppercase letter, a number and a symbol."
  function policyText(p) {
    const needs = [];
    if (p.RequireLowercase) needs.push('a lowercase letter');
    if (p.RequireUppercase) needs.push('an uppercase letter');
    if (p.RequireNumbers) needs.push('a number');
    if (p.RequireSymbols) needs.push('a symbol such as - ! or @');
    const list = needs.length > 1 ? needs.slice(0, -1).join(', ') + ' and ' + needs[needs.length - 1] : needs.join('');
    return 'At least ' + (p.MinimumLength || 1) + ' characters' + (list ? ', with ' + list : '') + '.';
  }

  function show(viewName, ...children) {
    const view = document.getElementById('view');
    view.replaceChildren(h('section', { id: 'view-' + viewName, 'data-view': viewName, class: 'card' }, ...children));
    document.querySelectorAll('[data-nav]').forEach((a) => {
      if (a.dataset.nav === viewName) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    });
    return view.firstChild;
  }

  // status shows one message for the user; kind is info, ok or error; code is the Cognito
  // exception name when there is one (kept on the element for tests and for the curious).
  function status(kind, text, code, action) {
    const el = document.getElementById('status');
    if (!text) {
      el.hidden = true;
      el.replaceChildren();
      delete el.dataset.kind;
      delete el.dataset.code;
      return;
    }
    el.hidden = false;
    el.dataset.kind = kind;
    if (code) el.dataset.code = code;
    else delete el.dataset.code;
    el.setAttribute('role', kind === 'error' ? 'alert' : 'status');
    el.replaceChildren(h('span', {}, text));
    if (action) el.append(' ', action);
  }

  // busy disables a form while its request is in flight, so a double click sends nothing twice.
  async function busy(form, fn) {
    const controls = form.querySelectorAll('input, button');
    controls.forEach((c) => { c.disabled = true; });
    form.setAttribute('aria-busy', 'true');
    try {
      return await fn();
    } finally {
      controls.forEach((c) => { c.disabled = false; });
      form.removeAttribute('aria-busy');
    }
  }

  // A message belongs to the page it was shown on and to the one it led to (go); a navigation by
  // the user clears it.
  let keepStatus = false;
  function go(hash) {
    if (location.hash === hash) {
      route();
      return;
    }
    keepStatus = true;
    location.hash = hash;
  }

  // ---------- Cognito user-pool JSON API ----------

  class CognitoError extends Error {
    constructor(code, message) {
      super(message || code);
      this.code = code;
    }
  }

  // cognito calls one action as the AWS SDK (and so Amplify) does.
  async function cognito(action, body) {
    if (!config.endpoint) {
      throw new CognitoError('NoEndpoint', 'This stack\'s identity provider (' + config.idp + ') has no sign-in API: start it with --idp cognito-local, as make demo does.');
    }
    let resp;
    try {
      resp = await fetch(config.endpoint, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/x-amz-json-1.1',
          'X-Amz-Target': TARGET_PREFIX + action,
        },
        body: JSON.stringify(body),
        credentials: 'omit', // the identity provider needs none of our cookies
        cache: 'no-store',
      });
    } catch (e) {
      throw new CognitoError('NetworkError', 'Cannot reach the identity provider at ' + config.endpoint + '.');
    }
    let data = {};
    try {
      data = await resp.json();
    } catch (e) {
      data = {};
    }
    if (!resp.ok) {
      // "__type" is "NotAuthorizedException" or "prefix#NotAuthorizedException"; the header
      // x-amzn-ErrorType may carry ":http://..." after the name.
      const raw = data.__type || resp.headers.get('x-amzn-ErrorType') || data.code || 'HTTP' + resp.status;
      throw new CognitoError(raw.split('#').pop().split(':')[0], data.message || data.Message);
    }
    return data;
  }

  // explain turns a Cognito error into a sentence for the user; context is the page's action.
  function explain(err, context) {
    switch (err.code) {
      case 'NotAuthorizedException':
        if (context === 'refresh') return 'Your session has ended. Please sign in again.';
        return 'Incorrect username or password.';
      case 'UserNotFoundException':
        if (context === 'signin') return 'Incorrect username or password.';
        return 'There is no account with that username.';
      case 'InvalidPasswordException':
        // cognito-local on its own answers a wrong password with this (Cognito, and the local stack,
        // with NotAuthorizedException).
        if (context === 'signin') return 'Incorrect username or password.';
        // Cognito says which rule failed: "Password did not conform with policy: Password not long enough".
        return 'Choose another password. ' + (err.message && err.message !== 'Invalid password' ? err.message + '.' : 'It does not meet the password policy.');
      case 'UserNotConfirmedException':
        return 'This account is not confirmed yet. Enter the code we sent when you signed up.';
      case 'CodeMismatchException':
        return 'That code is not right. Check it and try again.';
      case 'ExpiredCodeException':
        return 'That code has expired or was already used. Ask for a new one.';
      case 'UsernameExistsException':
        return 'That username is taken. Choose another one, or sign in.';
      case 'PasswordResetRequiredException':
        return 'You need to reset your password before you can sign in.';
      case 'LimitExceededException':
      case 'TooManyRequestsException':
      case 'TooManyFailedAttemptsException':
        return 'Too many attempts. Wait a moment and try again.';
      case 'InvalidParameterException':
        return err.message || 'Some of what you entered is not valid.';
      case 'NetworkError':
      case 'NoEndpoint':
        return err.message;
      case 'Unsupported': // cognito-local's answer to an action it lacks
        return 'The identity provider cannot do that: ' + (err.message || 'unsupported') + '.';
      default:
        return (err.message || 'Something went wrong') + ' (' + err.code + ')';
    }
  }

  // ---------- the session, under Amplify's key names ----------

  function mode() {
    return localStorage.getItem(MODE_KEY) === 'bearer' ? 'bearer' : 'cookies';
  }

  const cookieStore = {
    get(name) {
      const decode = (v) => {
        try {
          return decodeURIComponent(v.trim());
        } catch (e) {
          return null; // someone else's cookie with a stray '%': not ours
        }
      };
      for (const part of document.cookie.split(';')) {
        const eq = part.indexOf('=');
        if (eq < 0) continue;
        if (decode(part.slice(0, eq)) === name) return decode(part.slice(eq + 1));
      }
      return null;
    },
    set(name, value) {
      const expires = new Date(Date.now() + COOKIE_DAYS * 864e5).toUTCString();
      const secure = location.protocol === 'https:' ? '; Secure' : '';
      document.cookie = encodeURIComponent(name) + '=' + encodeURIComponent(value) +
        '; Path=/; Expires=' + expires + '; SameSite=Strict' + secure;
    },
    remove(name) {
      document.cookie = encodeURIComponent(name) + '=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; SameSite=Strict';
    },
  };

  const localStore = {
    get: (name) => localStorage.getItem(name),
    set: (name, value) => localStorage.setItem(name, value),
    remove: (name) => localStorage.removeItem(name),
  };

  function store() {
    return mode() === 'bearer' ? localStore : cookieStore;
  }

  // lastAuthUserKey names the key that holds the signed-in user's name.
  function lastAuthUserKey() {
    return KEY_PREFIX + config.clientId + '.LastAuthUser';
  }

  function keys(username) {
    const base = KEY_PREFIX + config.clientId + '.';
    return {
      lastAuthUser: lastAuthUserKey(),
      accessToken: base + username + '.accessToken',
      idToken: base + username + '.idToken',
      refreshToken: base + username + '.refreshToken',
      clockDrift: base + username + '.clockDrift',
    };
  }

  // session reads the signed-in user's tokens from the current store, or null.
  function session() {
    const s = store();
    const username = s.get(lastAuthUserKey());
    if (!username) return null;
    const k = keys(username);
    const accessToken = s.get(k.accessToken);
    if (!accessToken) return null;
    return { username, accessToken, idToken: s.get(k.idToken), refreshToken: s.get(k.refreshToken) };
  }

  // saveSession stores an AuthenticationResult. The user is named by the access token's
  // "username" claim, as Cognito (and so Amplify) name the signed-in user.
  function saveSession(result, fallbackUsername) {
    const claims = decodeJWT(result.AccessToken) || {};
    const username = claims.username || fallbackUsername;
    const s = store();
    const k = keys(username);
    s.set(k.lastAuthUser, username);
    s.set(k.accessToken, result.AccessToken);
    if (result.IdToken) s.set(k.idToken, result.IdToken);
    if (result.RefreshToken) s.set(k.refreshToken, result.RefreshToken);
    s.set(k.clockDrift, '0');
  }

  function clearSession(s) {
    s = s || store();
    const username = s.get(lastAuthUserKey());
    if (username) {
      const k = keys(username);
      [k.accessToken, k.idToken, k.refreshToken, k.clockDrift].forEach((n) => s.remove(n));
    }
    s.remove(lastAuthUserKey());
  }

  // decodeJWT reads a token's payload without verifying it: only to show a name and to know when
  // it expires. Whether it is valid is cognito-authz's call.
  function decodeJWT(token) {
    try {
      const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      const json = decodeURIComponent(Array.from(atob(part), (c) => '%' + c.charCodeAt(0).toString(16).padStart(2, '0')).join(''));
      const claims = JSON.parse(json);
      return claims && typeof claims === 'object' ? claims : null;
    } catch (e) {
      return null;
    }
  }

  function expired(token) {
    const claims = decodeJWT(token);
    if (!claims || typeof claims.exp !== 'number') return true; // unreadable: get a fresh one
    return Date.now() / 1000 >= claims.exp - EXPIRY_MARGIN_SECONDS;
  }

  function countRefresh() {
    const n = Number(sessionStorage.getItem(REFRESHES_KEY) || '0') + 1;
    sessionStorage.setItem(REFRESHES_KEY, String(n));
    renderRefreshInfo();
  }

  function renderRefreshInfo() {
    const n = Number(sessionStorage.getItem(REFRESHES_KEY) || '0');
    const el = document.getElementById('refresh-info');
    el.dataset.refreshes = String(n);
    el.textContent = n ? 'Access token refreshed ' + n + (n === 1 ? ' time' : ' times') + ' this visit.' : '';
  }

  // refresh trades the refresh token for new access and ID tokens (REFRESH_TOKEN_AUTH). It returns
  // the new session, or null (and signs out locally) when the refresh token is no good.
  let refreshing = null;
  function refresh() {
    if (!refreshing) {
      refreshing = doRefresh().finally(() => { refreshing = null; });
    }
    return refreshing;
  }

  async function doRefresh() {
    const s = session();
    if (!s || !s.refreshToken) {
      clearSession();
      return null;
    }
    try {
      const out = await cognito('InitiateAuth', {
        AuthFlow: 'REFRESH_TOKEN_AUTH',
        ClientId: config.clientId,
        AuthParameters: { REFRESH_TOKEN: s.refreshToken },
      });
      if (!out.AuthenticationResult || !out.AuthenticationResult.AccessToken) throw new CognitoError('NotAuthorizedException');
      // Cognito returns no new refresh token on this flow: keep the one we have.
      saveSession(Object.assign({ RefreshToken: s.refreshToken }, out.AuthenticationResult), s.username);
      countRefresh();
      return session();
    } catch (err) {
      if (err.code === 'NetworkError') throw err;
      clearSession();
      status('error', explain(err, 'refresh'), err.code);
      return null;
    }
  }

  // ---------- calls to the app behind Envoy ----------

  async function send(path) {
    const headers = { Accept: 'application/json' };
    const s = session();
    if (s && mode() === 'bearer') headers.Authorization = 'Bearer ' + s.accessToken;
    const resp = await fetch(path, { headers, credentials: 'same-origin', cache: 'no-store' });
    let body = null;
    try {
      body = await resp.json();
    } catch (e) {
      body = null;
    }
    return { status: resp.status, body };
  }

  // api calls the app with the session, refreshing the access token when it has expired and,
  // once, when the answer shows cognito-authz did not accept it: 401 on a route that requires a
  // token, or an anonymous answer on an optional route while the page holds a session.
  async function api(path) {
    let s = session();
    if (s && expired(s.accessToken)) s = await refresh();
    let r = await send(path);
    const rejected = r.status === 401 || (r.status === 200 && r.body && r.body.auth_status === 'anonymous');
    if (s && rejected && await refresh()) r = await send(path);
    renderWho();
    return r;
  }

  // ---------- views ----------

  function renderWho() {
    const s = session();
    const who = document.getElementById('who');
    who.dataset.signedIn = s ? 'true' : 'false';
    document.getElementById('who-name').textContent = s ? s.username : '';
    document.getElementById('nav-signin').hidden = !!s;
    document.getElementById('nav-signup').hidden = !!s;
    document.getElementById('nav-signout').hidden = !s;
    document.getElementById('nav-signout-all').hidden = !s || !globalSignOutSupported();
  }

  // seen shows what the backend received from Envoy: the proof of what cognito-authz decided.
  function seen(body) {
    const hdr = (name) => ((body.headers || {})[name] || []).join(', ');
    const via = hdr('authorization') ? 'Authorization header'
      : hdr('cookie').indexOf(KEY_PREFIX) >= 0 ? 'Amplify cookies' : 'no token';
    const rows = [
      ['token sent as', via],
      ['x-auth-status', hdr('x-auth-status') || '(none)'],
      ['x-user-sub', hdr('x-user-sub')],
      ['x-user-name', hdr('x-user-name')],
      ['x-user-groups', hdr('x-user-groups')],
      ['x-auth-reason', hdr('x-auth-reason')],
    ].filter(([, v]) => v);
    return h('details', { class: 'seen', id: 'seen', open: true },
      h('summary', {}, 'What the backend received from Envoy'),
      h('dl', {}, rows.map(([k, v]) => [h('dt', {}, h('code', {}, k)), h('dd', { 'data-header': k }, v)])));
  }

  function activityItem(a) {
    return h('li', { class: 'activity' + (a.private ? ' private' : ''), 'data-private': a.private ? 'true' : 'false' },
      h('div', { class: 'activity-head' },
        h('strong', {}, '@' + a.handle),
        a.private ? h('span', { class: 'badge' }, 'Private') : null,
        h('time', { datetime: a.created_at }, new Date(a.created_at).toLocaleString())),
      h('p', {}, a.message),
      h('div', { class: 'muted small' }, (a.likes_count || 0) + ' likes'));
  }

  // load shows a page that waits for an API call, and returns the page's section and the answer
  // (null when the call could not be made; the message says why).
  async function load(viewName, title, waiting, path) {
    const section = show(viewName, h('h1', {}, title), h('p', { class: 'muted' }, waiting));
    try {
      return { section, r: await api(path) };
    } catch (err) {
      status('error', explain(err));
      return { section, r: null };
    }
  }

  // welcome greets a user who has just signed in: "Welcome" the first time in this browser,
  // "Welcome back" after; later visits to the feed say "Home".
  function welcome(user) {
    const name = user.name || user.sub;
    const justSignedIn = sessionStorage.getItem(SIGNED_IN_KEY) === name;
    sessionStorage.removeItem(SIGNED_IN_KEY);
    if (!justSignedIn) return 'Home, signed in as ' + name;
    let known = [];
    try {
      known = JSON.parse(localStorage.getItem(KNOWN_USERS_KEY) || '[]');
    } catch (e) {
      known = [];
    }
    if (!Array.isArray(known)) known = [];
    if (known.includes(name)) return 'Welcome back, ' + name;
    localStorage.setItem(KNOWN_USERS_KEY, JSON.stringify(known.concat(name).slice(-50)));
    return 'Welcome, ' + name;
  }

  async function feedView() {
    const { section, r } = await load('feed', 'Home', 'Loading the feed…', HOME_API);
    if (!r) return;
    if (r.status !== 200 || !r.body) {
      section.replaceChildren(h('h1', {}, 'Home'), h('p', { class: 'error' }, 'The feed could not be loaded (HTTP ' + r.status + ').'));
      section.dataset.authStatus = 'error';
      return;
    }
    const b = r.body;
    const user = b.user;
    section.dataset.authStatus = b.auth_status;
    section.dataset.sub = user ? user.sub : '';
    section.replaceChildren(
      h('h1', {}, user ? welcome(user) : 'Home'),
      h('p', { class: 'lead', id: 'feed-who' }, user
        ? 'You are signed in. Your private items are shown first; nobody else sees them.'
        : ['You are browsing anonymously: this is the public feed. ', h('a', { href: '#/signin' }, 'Sign in'), ' to see your own items.']),
      seen(b),
      h('ul', { class: 'feed', id: 'feed' }, (b.activities || []).map(activityItem)));
  }

  async function adminView() {
    const { section, r } = await load('admin', 'Admin', 'Checking your access…', ADMIN_API);
    if (!r) return;
    section.dataset.httpStatus = String(r.status);
    if (r.status === 200 && r.body && r.body.admin) {
      const u = r.body.user || {};
      section.dataset.result = 'allowed';
      section.replaceChildren(h('h1', {}, 'Admin'),
        h('p', { class: 'ok-box' }, 'Welcome, ' + (u.name || u.sub) + '. You are in group admin, so cognito-authz let this request through to /api/admin.'),
        h('dl', { class: 'facts' },
          h('dt', {}, 'User'), h('dd', {}, u.name || ''),
          h('dt', {}, 'Sub'), h('dd', { id: 'admin-sub' }, u.sub || ''),
          h('dt', {}, 'Groups'), h('dd', {}, (u.groups || []).join(', '))),
        seen(r.body));
    } else if (r.status === 403) {
      section.dataset.result = 'forbidden';
      section.replaceChildren(h('h1', {}, 'Forbidden'),
        h('p', { class: 'error-box', id: 'forbidden' }, 'You are signed in, but this page is for the group admin only. cognito-authz answered 403 before the request reached the app.'),
        h('p', {}, h('a', { href: '#/' }, 'Back to the feed')));
    } else if (r.status === 401) {
      section.dataset.result = 'unauthenticated';
      section.replaceChildren(h('h1', {}, 'Admin'),
        h('p', { class: 'error-box' }, 'Sign in as an admin to see this page. cognito-authz answered 401: the route requires a token.'),
        h('p', {}, h('a', { class: 'button', href: '#/signin' }, 'Sign in')));
    } else {
      section.dataset.result = 'error';
      section.replaceChildren(h('h1', {}, 'Admin'), h('p', { class: 'error-box' }, 'Unexpected answer: HTTP ' + r.status + '.'));
    }
  }

  // onSubmit runs action when form is submitted, with the form busy meanwhile. A Cognito error is
  // shown as a sentence for the page's context, with the link that linkFor(err), if given, offers;
  // the focus then goes back into the form (busy's disabled controls dropped it), to the field the
  // error is about (fieldFor(err), a name) or else the one the user was in. The message goes away
  // as soon as the user changes something.
  function onSubmit(form, context, action, linkFor, fieldFor) {
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const was = document.activeElement && form.contains(document.activeElement) ? document.activeElement.name : null;
      let failed = null;
      await busy(form, async () => {
        try {
          await action();
        } catch (err) {
          failed = err;
          status('error', explain(err, context), err.code, linkFor ? linkFor(err) : null);
        }
      });
      if (!failed || !document.contains(form)) return;
      const name = (fieldFor && fieldFor(failed)) || was;
      const target = (name && form.elements[name]) || form.querySelector('input:not([type=hidden])');
      if (target && target.focus) {
        target.focus();
        if (target.select && target.type !== 'submit') target.select();
      }
    });
    form.addEventListener('input', () => {
      if (document.getElementById('status').dataset.kind === 'error') status(null);
    });
  }

  // fieldOf names the field a Cognito error is about, for onSubmit's focus.
  function fieldOf(err) {
    switch (err.code) {
      case 'NotAuthorizedException':
      case 'InvalidPasswordException':
        return 'password';
      case 'CodeMismatchException':
      case 'ExpiredCodeException':
        return 'code';
      case 'UserNotFoundException':
      case 'UsernameExistsException':
        return 'username';
      default:
        return null;
    }
  }

  // codeSent is the message after a code was sent: where it went, note (if any) and, in the local
  // stack, that it is in the outbox, with a link to the user's codes there.
  function codeSent(what, details, username, note) {
    const text = what + sentTo(details) + '.' + (note ? ' ' + note : '');
    if (!config.outboxUrl) return [text, null];
    const link = h('a', { href: config.outboxUrl + '?user=' + encodeURIComponent(username), target: '_blank', rel: 'noopener', id: 'outbox-link' },
      'Open the outbox');
    return [text + ' This demo sends no email or SMS: the code is in the outbox, newest last.', link];
  }

  function usernameLink(route, username, text, id) {
    return h('a', { href: '#/' + route + '?username=' + encodeURIComponent(username), id }, text);
  }

  function sentTo(details) {
    return details && details.Destination ? ' to ' + details.Destination : '';
  }

  function signInView(params) {
    // Arriving with a username (after confirming or resetting), the password is what is left.
    const known = params.get('username') || '';
    const form = h('form', { id: 'signin-form' },
      field('Username', 'username', 'text', { autocomplete: 'username', value: known, autofocus: !known }),
      field('Password', 'password', 'password', { autocomplete: 'current-password', autofocus: !!known }),
      h('button', { type: 'submit', id: 'signin-submit' }, 'Sign in'),
      h('p', { class: 'links' }, h('a', { href: '#/forgot' }, 'Forgot your password?'), ' · ', h('a', { href: '#/signup' }, 'Create an account')));
    const username = () => form.username.value.trim();
    onSubmit(form, 'signin', async () => {
      const out = await cognito('InitiateAuth', {
        AuthFlow: 'USER_PASSWORD_AUTH',
        ClientId: config.clientId,
        AuthParameters: { USERNAME: username(), PASSWORD: form.password.value },
      });
      afterAuth(out, username());
    }, (err) => {
      if (err.code === 'UserNotConfirmedException') return usernameLink('confirm', username(), 'Confirm your account', 'confirm-link');
      if (err.code === 'PasswordResetRequiredException') return usernameLink('forgot', username(), 'Reset it');
      return null;
    }, (err) => (err.code === 'UserNotFoundException' ? 'password' : fieldOf(err)));
    show('signin', h('h1', {}, 'Sign in'), form);
  }

  // sameSitePath reports that p is a path on this site, as sent and percent-decoded: one leading
  // "/" (not "//" or "/\\", which browsers read as another host), no backslash, no control
  // character. Only such a path is followed after a sign-in: never an open redirect.
  function sameSitePath(p) {
    const plain = (x) => typeof x === 'string' && /^\/(?![\/\\])/.test(x) && !/[\\\u0000-\u001f\u007f]/.test(x);
    let decoded;
    try { decoded = decodeURIComponent(p); } catch (e) { return false; }
    return plain(p) && plain(decoded) && new URL(p, location.origin).origin === location.origin;
  }

  // keepReturnPath remembers the return_to of the sign-in page's URL, when it is same-site, for
  // the sign-in that follows (which may pass through the SMS code page).
  function keepReturnPath() {
    const back = new URLSearchParams(location.search).get(RETURN_PARAM);
    if (back !== null) {
      if (sameSitePath(back)) sessionStorage.setItem(RETURN_KEY, back);
      else sessionStorage.removeItem(RETURN_KEY);
    }
  }

  // afterAuth handles InitiateAuth's answer: tokens, or a challenge.
  function afterAuth(out, username) {
    if (out.AuthenticationResult) {
      saveSession(out.AuthenticationResult, username);
      sessionStorage.removeItem(PENDING_KEY);
      sessionStorage.setItem(SIGNED_IN_KEY, session().username);
      status('ok', 'Signed in as ' + session().username + '.');
      renderWho();
      const back = sessionStorage.getItem(RETURN_KEY);
      sessionStorage.removeItem(RETURN_KEY);
      if (back && sameSitePath(back)) {
        location.assign(back); // a new request: cognito-authz judges it with the new session
        return;
      }
      go('#/');
      return;
    }
    if (out.ChallengeName === 'SMS_MFA') {
      const p = out.ChallengeParameters || {};
      sessionStorage.setItem(PENDING_KEY, JSON.stringify({
        username: p.USER_ID_FOR_SRP || username,
        // Cognito always returns a Session with a challenge; cognito-local 3.23.3 returns none
        // yet requires one back, so the page sends a stand-in when it got nothing.
        session: out.Session || 'cognito-local-sent-no-session',
        destination: p.CODE_DELIVERY_DESTINATION || '',
      }));
      const [text, link] = codeSent('We sent a code by SMS', { Destination: p.CODE_DELIVERY_DESTINATION }, p.USER_ID_FOR_SRP || username);
      status('info', text, null, link);
      go('#/mfa');
      return;
    }
    status('error', 'This demo does not handle the ' + out.ChallengeName + ' challenge.', out.ChallengeName);
  }

  function mfaView() {
    const pending = JSON.parse(sessionStorage.getItem(PENDING_KEY) || 'null');
    if (!pending) {
      show('mfa', h('h1', {}, 'SMS code'), h('p', {}, 'There is no sign-in waiting for a code. ', h('a', { href: '#/signin' }, 'Sign in')));
      return;
    }
    const form = h('form', { id: 'mfa-form' },
      h('p', { class: 'muted' }, 'Enter the 6-digit code sent to ' + (pending.destination || 'your phone') + ' for ' + pending.username + '.'),
      field('SMS code', 'code', 'text', { autocomplete: 'one-time-code', inputmode: 'numeric', autofocus: true }),
      h('button', { type: 'submit', id: 'mfa-submit' }, 'Verify'),
      h('p', { class: 'links' }, h('a', { href: '#/signin' }, 'Start again')));
    onSubmit(form, 'mfa', async () => {
      const out = await cognito('RespondToAuthChallenge', {
        ChallengeName: 'SMS_MFA',
        ClientId: config.clientId,
        Session: pending.session,
        ChallengeResponses: { USERNAME: pending.username, SMS_MFA_CODE: form.code.value.trim() },
      });
      afterAuth(out, pending.username);
    }, null, fieldOf);
    show('mfa', h('h1', {}, 'SMS code'), form);
  }

  function signUpView() {
    const form = h('form', { id: 'signup-form' },
      field('Username', 'username', 'text', { autocomplete: 'username', autofocus: true }),
      field('Email', 'email', 'email', { autocomplete: 'email' }),
      h('div', { class: 'field' },
        h('label', { for: 'f-phone' }, 'Phone (optional, for SMS codes)'),
        h('input', { id: 'f-phone', name: 'phone', type: 'tel', autocomplete: 'tel', placeholder: '+15555550100' })),
      passwordField('Password'),
      h('button', { type: 'submit', id: 'signup-submit' }, 'Create account'),
      h('p', { class: 'links' }, 'Already have an account? ', h('a', { href: '#/signin' }, 'Sign in')));
    const username = () => form.username.value.trim();
    onSubmit(form, 'signup', async () => {
      const attrs = [{ Name: 'email', Value: form.email.value.trim() }];
      if (form.phone.value.trim()) attrs.push({ Name: 'phone_number', Value: form.phone.value.trim() });
      const out = await cognito('SignUp', {
        ClientId: config.clientId,
        Username: username(),
        Password: form.password.value,
        UserAttributes: attrs,
      });
      if (out.UserConfirmed) {
        status('ok', 'Account created. Sign in.');
        go('#/signin?username=' + encodeURIComponent(username()));
        return;
      }
      const [text, link] = codeSent('Account created. We sent a confirmation code', out.CodeDeliveryDetails, username());
      status('info', text, null, link);
      go('#/confirm?username=' + encodeURIComponent(username()));
    }, (err) => (err.code === 'UsernameExistsException' ? usernameLink('signin', username(), 'Sign in') : null), fieldOf);
    show('signup', h('h1', {}, 'Create an account'), form);
  }

  function confirmView(params) {
    const form = h('form', { id: 'confirm-form' },
      field('Username', 'username', 'text', { autocomplete: 'username', value: params.get('username') || '' }),
      field('Confirmation code', 'code', 'text', { autocomplete: 'one-time-code', inputmode: 'numeric', autofocus: true }),
      h('button', { type: 'submit', id: 'confirm-submit' }, 'Confirm account'),
      h('p', { class: 'links' }, h('button', { type: 'button', class: 'linklike', id: 'resend', onclick: () => resend(form) }, 'Send a new code')));
    onSubmit(form, 'confirm', async () => {
      const username = form.username.value.trim();
      await cognito('ConfirmSignUp', { ClientId: config.clientId, Username: username, ConfirmationCode: form.code.value.trim() });
      status('ok', 'Your account is confirmed. Sign in.');
      go('#/signin?username=' + encodeURIComponent(username));
    }, null, fieldOf);
    show('confirm', h('h1', {}, 'Confirm your account'), form);
  }

  async function resend(form) {
    const username = form.username.value.trim();
    if (!username) {
      status('error', 'Enter your username first.');
      return;
    }
    try {
      const out = await cognito('ResendConfirmationCode', { ClientId: config.clientId, Username: username });
      const [text, link] = codeSent('We sent a new code', out.CodeDeliveryDetails, username, 'The code before it no longer works.');
      status('info', text, null, link);
      form.code.value = '';
      form.code.focus();
    } catch (err) {
      status('error', explain(err, 'resend'), err.code);
    }
  }

  function forgotView(params) {
    const form = h('form', { id: 'forgot-form' },
      h('p', { class: 'muted' }, 'We will send a code to reset your password.'),
      field('Username', 'username', 'text', { autocomplete: 'username', value: params.get('username') || '', autofocus: true }),
      h('button', { type: 'submit', id: 'forgot-submit' }, 'Send code'),
      h('p', { class: 'links' }, h('a', { href: '#/signin' }, 'Back to sign in')));
    onSubmit(form, 'forgot', async () => {
      const username = form.username.value.trim();
      const out = await cognito('ForgotPassword', { ClientId: config.clientId, Username: username });
      const [text, link] = codeSent('We sent a code', out.CodeDeliveryDetails, username);
      status('info', text, null, link);
      go('#/reset?username=' + encodeURIComponent(username));
    }, null, fieldOf);
    show('forgot', h('h1', {}, 'Forgot your password?'), form);
  }

  function resetView(params) {
    const form = h('form', { id: 'reset-form' },
      field('Username', 'username', 'text', { autocomplete: 'username', value: params.get('username') || '' }),
      field('Code', 'code', 'text', { autocomplete: 'one-time-code', inputmode: 'numeric', autofocus: true }),
      passwordField('New password'),
      h('button', { type: 'submit', id: 'reset-submit' }, 'Set new password'));
    onSubmit(form, 'reset', async () => {
      const username = form.username.value.trim();
      await cognito('ConfirmForgotPassword', {
        ClientId: config.clientId, Username: username,
        ConfirmationCode: form.code.value.trim(), Password: form.password.value,
      });
      status('ok', 'Your password is changed. Sign in with the new one.');
      go('#/signin?username=' + encodeURIComponent(username));
    }, null, fieldOf);
    show('reset', h('h1', {}, 'Reset your password'), form);
  }

  // signOut revokes the refresh token (what Amplify's signOut does) and forgets the session
  // whatever the answer: the user asked to be signed out. everywhere signs out every session of
  // the user (GlobalSignOut, what Amplify's signOut({ global: true }) does): other browsers'
  // tokens are refused too, where the edge checks revocation.
  async function signOut(everywhere) {
    const s = session();
    clearSession(cookieStore);
    clearSession(localStore);
    sessionStorage.removeItem(PENDING_KEY);
    try {
      if (everywhere === true && s && s.accessToken) {
        await cognito('GlobalSignOut', { AccessToken: s.accessToken });
      } else if (s && s.refreshToken) {
        await cognito('RevokeToken', { ClientId: config.clientId, Token: s.refreshToken });
      }
    } catch (e) {
      // Already revoked or unsupported: the local session is gone either way.
    }
    renderWho();
    status('ok', everywhere === true ? 'You are signed out on every device.' : 'You are signed out.');
    go('#/');
  }

  // globalSignOutSupported: the identity provider answers GlobalSignOut. A real pool does;
  // cognito-local 3.23.3 has no GlobalSignOut, and the built-in test issuer no API at all.
  function globalSignOutSupported() {
    return !!config && config.idp === 'aws';
  }

  // ---------- routing ----------

  const routes = {
    '': feedView,
    '/': feedView,
    '/signin': signInView,
    '/signup': signUpView,
    '/confirm': confirmView,
    '/mfa': mfaView,
    '/forgot': forgotView,
    '/reset': resetView,
    '/admin': adminView,
    '/signout': signOut,
    '/signout-all': () => signOut(true),
  };

  function route() {
    // The page served at its own URL (/admin, /signin) shows that view until a hash says otherwise.
    const hash = location.hash.replace(/^#/, '') || (routes[location.pathname] ? location.pathname + location.search : '');
    const q = hash.indexOf('?');
    const path = q < 0 ? hash : hash.slice(0, q);
    const params = new URLSearchParams(q < 0 ? '' : hash.slice(q + 1));
    const view = routes[path];
    renderWho();
    if (!view) {
      show('notfound', h('h1', {}, 'Not found'), h('p', {}, h('a', { href: '#/' }, 'Go to the feed')));
      return;
    }
    view(params);
    // A form's first field takes the focus (autofocus does nothing in inserted markup); a page
    // without one focuses the main region, so a screen reader announces the new page.
    const first = document.querySelector('#view [autofocus]');
    (first || document.getElementById('view')).focus({ preventScroll: true });
  }

  async function start() {
    try {
      const resp = await fetch('/app-config.json', { cache: 'no-store' });
      config = await resp.json();
    } catch (e) {
      show('error', h('h1', {}, 'Cannot start'), h('p', {}, 'The page could not load /app-config.json.'));
      return;
    }
    document.getElementById('idp-info').textContent = config.idp + ' (' + config.userPoolId + ', client ' + config.clientId + ')';
    const toggle = document.getElementById('bearer-toggle');
    toggle.checked = mode() === 'bearer';
    toggle.addEventListener('change', () => {
      // Move the session to the other store, so that only one way of sending it is in play.
      const from = store();
      const s = session();
      localStorage.setItem(MODE_KEY, toggle.checked ? 'bearer' : 'cookies');
      if (s) {
        const k = keys(s.username);
        const to = store();
        to.set(k.lastAuthUser, s.username);
        to.set(k.accessToken, s.accessToken);
        if (s.idToken) to.set(k.idToken, s.idToken);
        if (s.refreshToken) to.set(k.refreshToken, s.refreshToken);
        clearSession(from);
      }
      status('info', toggle.checked ? 'API calls now send Authorization: Bearer.' : 'API calls now send Amplify cookies.');
      route();
    });
    document.getElementById('nav-signout').addEventListener('click', () => go('#/signout'));
    document.getElementById('nav-signout-all').addEventListener('click', () => go('#/signout-all'));
    window.addEventListener('hashchange', () => {
      if (!keepStatus) status(null);
      keepStatus = false;
      route();
    });
    renderRefreshInfo();
    keepReturnPath();
    document.body.dataset.ready = 'true';
    route();
  }

  start();
})();
