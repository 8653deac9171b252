// Passkeys on our pages, with @simplewebauthn/browser (webauthn.js, served from here).
// A form[data-passkey] carries the ceremony: its data-options URL gives the server's
// options (a POST with the form's CSRF token), the browser asks the authenticator, and
// the answer goes back in the form's hidden `credential` field with an ordinary form
// POST, so the server's answer is an ordinary page. Without WebAuthn (or without this
// script) the passkey parts stay hidden and everything else works as before.
//
// - data-passkey="sign-in": the button asks for any of the person's passkeys; with
//   data-conditional, the browser also offers them in the email field's autofill.
// - data-passkey="register": the submit button creates a passkey, then sends its name.
(function () {
  'use strict';
  var webauthn = window.SimpleWebAuthnBrowser;
  if (!webauthn || !webauthn.browserSupportsWebAuthn()) return;

  var CANCELLED = 'The passkey was not used (cancelled or timed out). Try again, or use another way.';
  var FAILED = 'Something went wrong while asking for the passkey. Reload the page and try again.';

  function showError(form, message) {
    var box = form.querySelector('[data-passkey-error]');
    if (!box) return;
    box.textContent = message;
    box.hidden = false;
  }

  function fetchOptions(form) {
    var body = new URLSearchParams();
    body.set('_csrf', form.querySelector('input[name="_csrf"]').value);
    return fetch(form.getAttribute('data-options'), {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
      body: body.toString(),
    }).then(function (response) {
      if (!response.ok) throw new Error('options ' + response.status);
      return response.json();
    });
  }

  function send(form, credential) {
    form.querySelector('input[name="credential"]').value = JSON.stringify(credential);
    HTMLFormElement.prototype.submit.call(form);
  }

  function failed(form, error) {
    if (error && error.name === 'AbortError') return; // another ceremony took over (the button after autofill)
    showError(form, error && (error.name === 'NotAllowedError' || error.name === 'InvalidStateError') ? CANCELLED : FAILED);
  }

  function signIn(form, conditional) {
    return fetchOptions(form)
      .then(function (options) { return webauthn.startAuthentication({ optionsJSON: options, useBrowserAutofill: conditional }); })
      .then(function (credential) { send(form, credential); })
      .catch(function (error) { if (!conditional) failed(form, error); });
  }

  function register(form) {
    return fetchOptions(form)
      .then(function (options) { return webauthn.startRegistration({ optionsJSON: options }); })
      .then(function (credential) { send(form, credential); })
      .catch(function (error) {
        if (error && error.name === 'InvalidStateError') return showError(form, 'This authenticator already holds a passkey for your account.');
        failed(form, error);
      });
  }

  document.querySelectorAll('[data-passkey-only]').forEach(function (element) { element.hidden = false; });
  document.querySelectorAll('[data-passkey-fallback]').forEach(function (element) { element.hidden = true; });

  document.querySelectorAll('form[data-passkey]').forEach(function (form) {
    var kind = form.getAttribute('data-passkey');
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      var button = form.querySelector('button[type="submit"]');
      if (button) button.disabled = true;
      var done = function () { if (button) button.disabled = false; };
      (kind === 'register' ? register(form) : signIn(form, false)).then(done, done);
    });
    if (kind === 'sign-in' && form.hasAttribute('data-conditional') && webauthn.browserSupportsWebAuthnAutofill) {
      webauthn.browserSupportsWebAuthnAutofill().then(function (supported) { if (supported) signIn(form, true); });
    }
  });
})();
