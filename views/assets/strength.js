// Password strength hint for input[data-strength]: a meter and a word beside the field.
// Progressive enhancement only: this is a rough local guess to help while typing.
// The server checks every password against the real policy when the form is sent,
// and the form works the same without this script.
(function () {
  'use strict';
  // English unless the page gives its own words: data-strength-weak|fair|good|strong,
  // -label ("Strength: {level}") and -hint on the input or an element around it (the form).
  var ENGLISH = { weak: 'Weak', fair: 'Fair', good: 'Good', strong: 'Strong', label: 'Strength: {level}',
    hint: 'A rough estimate while you type; the password is checked properly when you submit.' };
  var COMMON = ['123456', '12345678', '123456789', '1234567890', '111111', '000000', 'password',
    'password1', 'password123', 'passw0rd', 'p@ssw0rd', 'qwerty', 'qwerty123', 'qwertyuiop', 'abc123',
    'iloveyou', 'letmein', 'welcome', 'admin', 'monkey', 'dragon', 'football', 'baseball', 'sunshine',
    'princess', 'trustno1', 'master', 'superman', 'starwars', '1q2w3e4r', 'asdfghjkl', 'zaq12wsx'];

  function estimate(password, minLength) {
    if (!password) return null;
    if (COMMON.indexOf(password.toLowerCase()) !== -1) return 0;
    var pool = 0;
    if (/[a-z]/.test(password)) pool += 26;
    if (/[A-Z]/.test(password)) pool += 26;
    if (/[0-9]/.test(password)) pool += 10;
    if (/[^a-zA-Z0-9]/.test(password)) pool += 33;
    // Characters that repeat or continue a run ("aaa", "abc", "321") add little.
    var chars = Array.from(password);
    var effective = 0;
    for (var i = 0; i < chars.length; i++) {
      var step = i > 0 ? chars[i].codePointAt(0) - chars[i - 1].codePointAt(0) : 99;
      effective += Math.abs(step) <= 1 ? 0.2 : 1;
    }
    var bits = effective * Math.log2(Math.max(pool, 2));
    var score = bits < 28 ? 0 : bits < 36 ? 1 : bits < 60 ? 2 : bits < 80 ? 3 : 4;
    if (chars.length < Math.max(minLength, 8)) score = Math.min(score, 1);
    return score;
  }

  function wordsFor(input) {
    var words = {};
    for (var name in ENGLISH) {
      var holder = input.closest('[data-strength-' + name + ']');
      words[name] = holder ? holder.getAttribute('data-strength-' + name) : ENGLISH[name];
    }
    return words;
  }

  function enhance(input) {
    var words = wordsFor(input);
    var labels = [words.weak, words.weak, words.fair, words.good, words.strong];
    var meter = document.createElement('meter');
    meter.min = 0;
    meter.max = 4;
    meter.low = 2;
    meter.high = 3;
    meter.optimum = 4;
    meter.value = 0;
    meter.className = 'strength-meter';
    meter.title = words.hint;
    meter.setAttribute('aria-hidden', 'true');
    // The word is announced politely as it changes, after what the person types.
    var text = document.createElement('span');
    text.className = 'strength-text';
    text.setAttribute('aria-live', 'polite');
    text.setAttribute('aria-atomic', 'true');
    var wrapper = document.createElement('span');
    wrapper.className = 'strength';
    wrapper.appendChild(meter);
    wrapper.appendChild(text);
    input.insertAdjacentElement('afterend', wrapper);

    var update = function () {
      var score = estimate(input.value, input.minLength > 0 ? input.minLength : 0);
      meter.value = score === null ? 0 : score;
      text.textContent = score === null ? '' : words.label.replace('{level}', labels[score]);
    };
    input.addEventListener('input', update);
    update();
  }

  function init() {
    var inputs = document.querySelectorAll('input[data-strength]');
    for (var i = 0; i < inputs.length; i++) enhance(inputs[i]);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
