/* Duban: the unit picker. The server renders the units as nested lists of checkboxes (or radio
   buttons), which work without this file; this adds a search box that narrows the tree (keeping
   the ancestors of matching units), collapsible branches, "select all under this unit", chips
   of the chosen units with a remove button, and a count. Texts come from the picker's data-*
   attributes, written by the server in the page's language. */
"use strict";

(function () {
  var BIG = 60;  // a tree larger than this starts with its branches folded

  function fill(text, values) {
    return text.replace(/%\((\w+)\)s/g, function (all, key) { return key in values ? values[key] : all; });
  }

  function button(className, label, content) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = className;
    if (label) {
      b.setAttribute("aria-label", label);
      b.title = label;
    }
    if (content) { b.textContent = content; }
    return b;
  }

  function setUp(picker) {
    var d = picker.dataset;
    var multiple = d.multiple === "1";
    var max = parseInt(d.max, 10) || 0;
    var tree = picker.querySelector("ul.unit-tree");
    var tools = picker.querySelector(".picker-tools");
    if (!tree || !tools) { return; }
    var search = tools.querySelector("[data-picker-search]");
    var countOut = tools.querySelector("[data-picker-count]");
    var noMatch = tools.querySelector("[data-picker-nomatch]");
    var chips = tools.querySelector("[data-picker-chips]");
    var items = Array.prototype.slice.call(tree.querySelectorAll("li"));
    var nodes = items.map(function (li) {
      var input = li.querySelector(":scope > label > input");
      var name = li.querySelector(":scope > label").textContent.trim();
      return { li: li, input: input, name: name, key: name.toLowerCase(), parent: null, branch: li.querySelector(":scope > ul") };
    });
    var byLi = new Map(nodes.map(function (n) { return [n.li, n]; }));
    nodes.forEach(function (n) {
      var up = n.li.parentElement.closest("li");
      n.parent = up ? byLi.get(up) : null;
    });
    tree.classList.add("enhanced");

    // Branches: a toggle before the unit, and "select all under this unit" after it.
    var fold = nodes.length > BIG;
    nodes.forEach(function (n) {
      var label = n.li.querySelector(":scope > label");
      if (!n.branch) {
        var spacer = document.createElement("span");
        spacer.className = "tree-spacer";
        n.li.insertBefore(spacer, label);
        return;
      }
      n.li.classList.add("branch");
      var toggle = button("tree-toggle", "", "");
      toggle.innerHTML = '<svg viewBox="0 0 16 16" width="14" height="14" aria-hidden="true"><path d="M5 3l6 5-6 5z" fill="currentColor"/></svg>';
      n.toggle = toggle;
      n.li.insertBefore(toggle, label);
      toggle.addEventListener("click", function () { setOpen(n, n.li.classList.contains("collapsed")); });
      setOpen(n, !fold);
      if (multiple) {
        var all = button("tree-all link", "", "");
        n.all = all;
        label.insertAdjacentElement("afterend", all);
        all.addEventListener("click", function () {
          var boxes = n.branch.querySelectorAll("input");
          var every = Array.prototype.every.call(boxes, function (b) { return b.checked; });
          boxes.forEach(function (b) { b.checked = !every; });
          update();
        });
      }
    });

    function setOpen(n, open) {
      n.li.classList.toggle("collapsed", !open);
      n.toggle.setAttribute("aria-expanded", open ? "true" : "false");
      var label = fill(open ? d.collapseText : d.expandText, { name: n.name });
      n.toggle.setAttribute("aria-label", label);
      n.toggle.title = label;
    }

    function update() {
      var chosen = nodes.filter(function (n) { return n.input.checked; });
      chips.textContent = "";
      chosen.forEach(function (n) {
        var chip = document.createElement("li");
        chip.className = "chip";
        var text = document.createElement("span");
        text.textContent = n.name;
        var remove = button("chip-remove", fill(d.removeText, { name: n.name }), "\u00d7");
        remove.addEventListener("click", function () {
          var next = chip.nextElementSibling || chip.previousElementSibling;
          n.input.checked = false;
          update();
          var focus = next && chips.querySelector('li[data-pk="' + next.dataset.pk + '"] button');
          (focus || search).focus();
        });
        chip.dataset.pk = n.input.value;
        chip.appendChild(text);
        chip.appendChild(remove);
        chips.appendChild(chip);
      });
      chips.hidden = chosen.length === 0;
      var over = multiple && max && chosen.length > max;
      countOut.textContent = fill(d.countText, { n: chosen.length }) + (over ? " " + d.overText : "");
      countOut.classList.toggle("over", !!over);
      nodes.forEach(function (n) {
        if (!n.all) { return; }
        var boxes = n.branch.querySelectorAll("input");
        var every = Array.prototype.every.call(boxes, function (b) { return b.checked; });
        // The visible words begin the button's name; the unit's name follows, for screen readers.
        n.all.title = fill(every ? d.noneText : d.allText, { name: n.name });
        n.all.textContent = every ? d.noneShort : d.allShort;
        var whose = document.createElement("span");
        whose.className = "sr-only";
        whose.textContent = " (" + n.name + ")";
        n.all.appendChild(whose);
      });
    }

    var timer = null;
    function narrow() {
      var term = search.value.trim().toLowerCase();
      tree.classList.toggle("searching", term !== "");
      if (!term) {
        nodes.forEach(function (n) { n.li.classList.remove("hidden-by-search"); });
        noMatch.hidden = true;
        return;
      }
      var shown = new Set();
      nodes.forEach(function (n) {
        if (n.key.indexOf(term) === -1) { return; }
        for (var up = n; up && !shown.has(up); up = up.parent) { shown.add(up); }
      });
      nodes.forEach(function (n) { n.li.classList.toggle("hidden-by-search", !shown.has(n)); });
      noMatch.hidden = shown.size > 0;
    }
    search.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(narrow, nodes.length > 500 ? 120 : 0);
    });
    search.addEventListener("keydown", function (event) {
      if (event.key === "Enter") { event.preventDefault(); }  // Enter searches; it does not send the form
      if (event.key === "Escape" && search.value) { search.value = ""; narrow(); }
    });
    tree.addEventListener("change", update);

    // A folded tree still shows where the chosen units are.
    nodes.forEach(function (n) {
      if (!n.input.checked) { return; }
      for (var up = n.parent; up; up = up.parent) { if (up.toggle) { setOpen(up, true); } }
    });
    tools.hidden = false;
    update();
  }

  document.querySelectorAll("[data-unit-picker]").forEach(setUp);
})();
