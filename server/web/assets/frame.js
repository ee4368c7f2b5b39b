// Runs inside each sandboxed output frame (an opaque origin: it cannot reach the page) and
// tells the page how tall its content is, so the frame can show all of it without a scrollbar.
'use strict';
(function () {
  var last = -1;
  function report() {
    var height = Math.ceil(document.documentElement.getBoundingClientRect().height);
    if (height !== last) {
      last = height;
      window.parent.postMessage({ nbstageFrameHeight: height }, '*');
    }
  }
  new ResizeObserver(report).observe(document.documentElement);
  window.addEventListener('load', report);
  report();
})();
