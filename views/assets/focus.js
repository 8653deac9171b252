// After a failed form, move focus to the error summary at the top of the page
// (mixins.pug errorSummary: tabindex=-1), so keyboard and screen reader users land
// on the list of problems, each linking to its field. Progressive enhancement: the
// summary is there and announced (role=alert) without this script.
(function () {
  var summary = document.querySelector('.error-summary');
  if (summary) summary.focus();
  // A link to a field focuses the field itself, not only scrolls to it.
  document.addEventListener('click', function (event) {
    var link = event.target.closest && event.target.closest('.error-summary a[href^="#"]');
    if (!link) return;
    var field = document.getElementById(link.getAttribute('href').slice(1));
    if (!field) return;
    event.preventDefault();
    field.focus();
    field.scrollIntoView({ block: 'center' });
  });
})();
