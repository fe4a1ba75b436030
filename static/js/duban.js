/* Duban: small enhancements only; every page works without this file. */
"use strict";

// A <select data-autosubmit> submits its form as soon as a choice is made
// (without JavaScript, the form's own button does it).
document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
  select.addEventListener("change", function () { select.form.submit(); });
});

// An <a data-back> returns to the previous page when there is one (its href is the fallback).
document.querySelectorAll("a[data-back]").forEach(function (link) {
  link.addEventListener("click", function (event) {
    if (window.history.length > 1) {
      event.preventDefault();
      window.history.back();
    }
  });
});
