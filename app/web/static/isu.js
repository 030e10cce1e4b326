/* ISU-registret: small progressive enhancements. Every form works without
   this file; the server checks everything again. */
(function () {
  "use strict";

  function each(list, fn) { Array.prototype.forEach.call(list, fn); }

  // Move focus to the error summary so that screen readers announce it.
  function focusErrors() {
    var summary = document.querySelector("[data-error-summary]");
    if (summary) { summary.focus(); }
  }

  // Exclusive options ("Nej", "Vet ej", "inget"): choosing one clears the
  // others in the group, choosing another clears it.
  function exclusiveOptions(root) {
    each(root.querySelectorAll("[data-multi]"), function (group) {
      var boxes = group.querySelectorAll("input[type=checkbox]");
      each(boxes, function (box) {
        box.addEventListener("change", function () {
          if (!box.checked) { return; }
          var exclusive = box.hasAttribute("data-exclusive");
          each(boxes, function (other) {
            if (other === box) { return; }
            if (exclusive || other.hasAttribute("data-exclusive")) { other.checked = false; }
          });
        });
      });
    });
  }

  // Skip logic from the catalogue: a field asked only when another has one
  // of some values is hidden (and not sent) until it is.
  function skipLogic(root) {
    each(root.querySelectorAll("[data-applies-when]"), function (wrap) {
      var form = wrap.closest("form");
      if (!form) { return; }
      var name = wrap.getAttribute("data-applies-when");
      var allowed = wrap.getAttribute("data-applies-values").split(",");
      var controls = form.querySelectorAll("[name=\"" + name + "\"]");
      function update() {
        var value = null;
        each(controls, function (c) {
          if ((c.type === "radio" && c.checked) || (c.tagName === "SELECT")) { value = c.value; }
        });
        var applies = value !== null && allowed.indexOf(value) !== -1;
        wrap.hidden = !applies;
        each(wrap.querySelectorAll("input, select, textarea"), function (input) {
          input.disabled = !applies;
        });
      }
      each(controls, function (c) { c.addEventListener("change", update); });
      update();
    });
  }

  // One click, one save: a second click while the first is on its way is ignored.
  function submitOnce(root) {
    each(root.querySelectorAll("form[data-once]"), function (form) {
      form.addEventListener("submit", function (event) {
        if (form.getAttribute("data-sent")) { event.preventDefault(); return; }
        form.setAttribute("data-sent", "1");
      });
    });
  }

  // Deleting asks first.
  function confirmations(root) {
    each(root.querySelectorAll("form[data-confirm]"), function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
      });
    });
  }

  function selectOnFocus(root) {
    each(root.querySelectorAll("[data-select-on-focus]"), function (input) {
      input.addEventListener("focus", function () { input.select(); });
    });
  }

  // A button that copies a field (the survey link). Shown only where the
  // browser can copy; otherwise the field selects itself on focus.
  function copyButtons(root) {
    if (!navigator.clipboard) { return; }
    each(root.querySelectorAll("[data-copy]"), function (button) {
      var id = button.getAttribute("data-copy");
      var field = document.getElementById(id);
      var status = root.querySelector("[data-copy-status=\"" + id + "\"]");
      if (!field) { return; }
      button.hidden = false;
      button.addEventListener("click", function () {
        navigator.clipboard.writeText(field.value).then(function () {
          if (status) { status.textContent = "Länken är kopierad."; }
        }, function () {
          field.focus();
          field.select();
          if (status) { status.textContent = "Kopiera med Ctrl+C (eller ⌘C)."; }
        });
      });
    });
  }

  // A download that takes a while (the report with every chart): fetched
  // here, with a spinner and the seconds so far, then saved under the
  // server's file name. Without this script the form simply downloads.
  function downloads(root) {
    if (!window.fetch || !window.URL || !window.URL.createObjectURL) { return; }
    each(root.querySelectorAll("form[data-download]"), function (form) {
      var status = form.querySelector("[data-download-status]");
      if (!status) { return; }
      form.addEventListener("submit", function (event) {
        var button = event.submitter;
        if (!button || form.getAttribute("data-busy")) { event.preventDefault(); return; }
        event.preventDefault();
        var params = new URLSearchParams(new FormData(form));
        params.set(button.name, button.value);
        var url = form.getAttribute("action") + "?" + params.toString();
        var label = button.textContent.replace(/^Ladda ner:\s*/, "");
        var started = Date.now();
        var buttons = form.querySelectorAll("button");
        form.setAttribute("data-busy", "1");
        each(buttons, function (b) { b.disabled = true; });
        status.hidden = false;
        status.className = "download-status is-busy";
        function tick() {
          var seconds = Math.round((Date.now() - started) / 1000);
          status.textContent = "Tar fram " + label + " … " + seconds + " s";
        }
        tick();
        var timer = window.setInterval(tick, 1000);
        function finish(text, state) {
          window.clearInterval(timer);
          form.removeAttribute("data-busy");
          each(buttons, function (b) { b.disabled = false; });
          status.className = "download-status " + state;
          status.textContent = text;
        }
        fetch(url, { credentials: "same-origin" }).then(function (response) {
          var disposition = response.headers.get("Content-Disposition") || "";
          var match = /filename="([^"]+)"/.exec(disposition);
          if (!response.ok || !match) {
            // A mistake in the form: let the server's page say what.
            finish("", "");
            window.location.assign(url);
            return null;
          }
          return response.blob().then(function (blob) {
            var link = document.createElement("a");
            link.href = window.URL.createObjectURL(blob);
            link.download = match[1];
            document.body.appendChild(link);
            link.click();
            link.remove();
            window.setTimeout(function () { window.URL.revokeObjectURL(link.href); }, 60000);
            var seconds = Math.round((Date.now() - started) / 1000);
            finish("Klar: " + match[1] + " (" + seconds + " s).", "is-done");
          });
        }).catch(function () {
          finish("Det gick inte att hämta filen. Försök igen.", "is-error");
        });
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    downloads(document);
    exclusiveOptions(document);
    skipLogic(document);
    submitOnce(document);
    confirmations(document);
    selectOnFocus(document);
    copyButtons(document);
    focusErrors();
  });
})();
