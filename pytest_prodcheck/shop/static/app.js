/* Prodcheck Shop: progressive enhancement for the home page (no inline script: CSP-friendly). */
(function () {
  "use strict";
  function renderResults(list, items) {
    list.textContent = "";
    items.forEach(function (p) {
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.href = "/api/products/" + encodeURIComponent(p.id);
      a.textContent = p.name;
      var price = document.createElement("span");
      price.className = "price";
      price.textContent = p.price.toFixed(2);
      li.appendChild(a);
      li.appendChild(price);
      list.appendChild(li);
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("header form");
    var list = document.querySelector(".products");
    if (!form || !list || !window.fetch) { return; }
    form.addEventListener("submit", function (event) {
      var q = form.elements.q.value.trim();
      if (!q) { return; }
      event.preventDefault();
      fetch("/api/search?q=" + encodeURIComponent(q), { headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : { items: [] }; })
        .then(function (data) { renderResults(list, data.items || []); })
        .catch(function () { form.submit(); });
    });
  });
})();
