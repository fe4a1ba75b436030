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

// A checkbox with data-needs="<id>" (a channel and the field of its address) can be ticked
// only while that field holds something; its note (<id of the box>_helptext) shows meanwhile.
// The server refuses such a channel without its address all the same.
document.querySelectorAll("input[type=checkbox][data-needs]").forEach(function (box) {
  var address = document.getElementById(box.dataset.needs);
  var note = document.getElementById(box.id + "_helptext");
  if (!address) { return; }
  function sync() {
    var empty = address.value.trim() === "";
    box.disabled = empty;
    if (empty) { box.checked = false; }
    if (note) { note.hidden = !empty; }
  }
  address.addEventListener("input", sync);
  sync();
});
