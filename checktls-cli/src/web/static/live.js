// checktls: the live view of a receiver test. The server sends each event as an HTML fragment
// it has already escaped; this script only appends it where the event's name says. Without
// JavaScript the page refreshes itself instead (a <noscript> refresh).
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var live = document.getElementById("live");
  if (!live || !live.dataset.events || typeof EventSource === "undefined") {
    return;
  }
  var into = {
    planned: "hosts",
    stage: "stage-rows",
    line: "transcript",
    host_done: "hosts-done"
  };
  var status = document.getElementById("status");
  if (status) {
    status.textContent = "Running: the stages appear as they happen.";
  }
  var source = new EventSource(live.dataset.events);
  Object.keys(into).forEach(function (name) {
    source.addEventListener(name, function (e) {
      var box = document.getElementById(into[name]);
      if (box) {
        box.insertAdjacentHTML("beforeend", e.data);
      }
    });
  });
  source.addEventListener("done", function () {
    source.close();
    window.location.reload();
  });
});
