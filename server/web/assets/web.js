// Shared by the pages that show notebooks: sizes each sandboxed output frame to the height its
// own script (frame.js) reports. Messages are only trusted for the frame that sent them, and
// only as a height.
'use strict';
(function () {
  var MAX_HEIGHT = 4000;
  window.addEventListener('message', function (event) {
    var data = event.data;
    if (data === null || typeof data !== 'object' || typeof data.nbstageFrameHeight !== 'number') {
      return;
    }
    var frames = document.querySelectorAll('iframe.output-frame');
    for (var i = 0; i < frames.length; i++) {
      if (frames[i].contentWindow === event.source) {
        var height = Math.max(20, Math.min(MAX_HEIGHT, Math.ceil(data.nbstageFrameHeight)));
        frames[i].setAttribute('height', String(height));
        return;
      }
    }
  });
})();
