/* scholar-stats.js: a homepage's Google Scholar numbers, from scholar-stats' files.
 *
 * <script src=".../scholar-stats.js" data-base="<URL of the folder holding gs_data.json>"></script>
 *
 * Fills AcadHomepage's #total_cit and every <span class="show_paper_citations" data="<id>">
 * ("| Citations: N", or data-paper-format on the script tag, with {n} for the count), and any
 * element with data-scholar-stats="<metric>" (citations, citations-5y, h-index, h-index-5y,
 * i10-index, i10-index-5y, publications) or data-scholar-stats="updated" ("3 days ago").
 * The numbers are filled as soon as gs_data.json arrives; status.json is asked for at the same
 * time, and when it answers (or fails) data it calls stale (or, when it does not say, older
 * than data-stale-days, default 7) gets the class "scholar-stats-stale" on every filled element
 * and on <html>: a slow or broken status.json never holds the numbers up.
 * Without data-base, the folder of this script is used. No dependencies; it never throws: a
 * missing element, an unknown paper id, a 404, a network error or malformed JSON leave the rest
 * of the page working (console warnings at most).
 */
(function () {
  "use strict";

  var STALE_CLASS = "scholar-stats-stale";
  var METRICS = {
    "citations": "citedby",
    "citations-5y": "citedby5y",
    "h-index": "hindex",
    "h-index-5y": "hindex5y",
    "i10-index": "i10index",
    "i10-index-5y": "i10index5y"
  };

  function warn(message) {
    try {
      if (window.console && typeof window.console.warn === "function") {
        window.console.warn("scholar-stats: " + message);
      }
    } catch (ignored) { /* a console that throws is not our page's problem */ }
  }

  function isCount(value) {
    return typeof value === "number" && isFinite(value) && value >= 0;
  }

  function put(filled, element, text) {
    element.textContent = text;
    filled.push(element);
  }

  function ago(then, now) {
    var minutes = Math.max(0, Math.round((now - then) / 60000));
    if (minutes < 2) { return "just now"; }
    if (minutes < 120) { return minutes + " minutes ago"; }
    var hours = Math.round(minutes / 60);
    if (hours < 48) { return hours + " hours ago"; }
    return Math.round(hours / 24) + " days ago";
  }

  function metric(data, name) {
    if (name === "publications") {
      var pubs = data.publications;
      return pubs && typeof pubs === "object" ? Object.keys(pubs).length : undefined;
    }
    return Object.prototype.hasOwnProperty.call(METRICS, name) ? data[METRICS[name]] : undefined;
  }

  function each(selector, fn) {
    var found = document.querySelectorAll(selector);
    for (var i = 0; i < found.length; i += 1) {
      try {
        fn(found[i]);
      } catch (error) {
        warn("could not fill an element: " + error);
      }
    }
  }

  // Fills the page from gs_data.json; returns the elements it filled (null: not a record).
  function fill(data, options) {
    if (!data || typeof data !== "object") {
      warn("gs_data.json is not an author record");
      return null;
    }
    var filled = [];
    var updated = Date.parse(data.updated);
    var now = Date.now();
    var total = document.getElementById("total_cit");
    if (total && isCount(data.citedby)) {
      put(filled, total, String(data.citedby));
    }
    var pubs = data.publications && typeof data.publications === "object" ? data.publications : {};
    each(".show_paper_citations[data]", function (element) {
      var id = element.getAttribute("data");
      var pub = Object.prototype.hasOwnProperty.call(pubs, id) ? pubs[id] : null;
      if (!pub || !isCount(pub.num_citations)) {
        warn("no paper " + JSON.stringify(id) + " in gs_data.json");
        return;
      }
      put(filled, element, options.paperFormat.split("{n}").join(String(pub.num_citations)));
    });
    each("[data-scholar-stats]", function (element) {
      var name = element.getAttribute("data-scholar-stats");
      if (name === "updated") {
        if (isNaN(updated)) {
          warn("gs_data.json has no readable 'updated' time");
          return;
        }
        put(filled, element, ago(updated, now));
        var exact = new Date(updated).toISOString().slice(0, 16).replace("T", " ");
        element.setAttribute("title", exact + " UTC");
        return;
      }
      var value = metric(data, name);
      if (!isCount(value)) {
        warn("unknown metric " + JSON.stringify(name));
        return;
      }
      put(filled, element, String(value));
    });
    return filled;
  }

  // status.json's own judgement (export, the service) wins; else the age of the data.
  function isStale(data, status, options) {
    if (status && typeof status === "object" && typeof status.stale === "boolean") {
      return status.stale;
    }
    var updated = Date.parse(data.updated);
    return !isNaN(updated) && Date.now() - updated > options.staleDays * 86400000;
  }

  function markStale(filled) {
    var all = [document.documentElement].concat(filled);
    for (var i = 0; i < all.length; i += 1) {
      if (all[i].classList) {
        all[i].classList.add(STALE_CLASS);
      }
    }
  }

  function getJSON(url) {
    return window.fetch(url, { credentials: "omit" }).then(function (response) {
      if (!response.ok) {
        throw new Error("HTTP " + response.status + " for " + url);
      }
      return response.json();
    });
  }

  function whenReady(fn) {
    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", fn);
    } else {
      fn();
    }
  }

  try {
    var script = document.currentScript;
    var base = script && script.getAttribute("data-base");
    if (!base && script && script.src) {
      base = script.src.replace(/[?#].*$/, "").replace(/[^\/]*$/, "");
    }
    if (!base) {
      warn("no data-base on the script tag");
      return;
    }
    if (base.charAt(base.length - 1) !== "/") {
      base += "/";
    }
    var days = parseFloat(script && script.getAttribute("data-stale-days"));
    var options = {
      staleDays: isFinite(days) && days > 0 ? days : 7,
      paperFormat: (script && script.getAttribute("data-paper-format")) || "| Citations: {n}"
    };
    if (typeof window.fetch !== "function" || typeof Promise === "undefined") {
      warn("this browser has no fetch(); numbers not shown");
      return;
    }
    // asked for together; the numbers wait only for gs_data.json, the stale mark for both
    var status = getJSON(base + "status.json").then(null, function () { return null; });
    getJSON(base + "gs_data.json").then(function (data) {
      whenReady(function () {
        var filled = null;
        try {
          filled = fill(data, options);
        } catch (error) {
          warn("could not fill the page: " + error);
        }
        if (filled) {
          status.then(function (loaded) {
            try {
              if (isStale(data, loaded, options)) {
                markStale(filled);
              }
            } catch (error) {
              warn("could not mark stale data: " + error);
            }
          });
        }
      });
    }, function (error) {
      var why = error && error.message ? error.message : error;
      warn("could not load " + base + "gs_data.json: " + why);
    });
  } catch (error) {
    warn("stopped: " + error);
  }
}());
