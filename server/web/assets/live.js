// The live run page: follows the run's websocket stream from the event the page was rendered at,
// keeps the progress bar and state badge current, and swaps in each cell, rendered by the server
// (GET /runs/<id>/cells/<index>), when its outputs change. At most one fetch is in flight and
// they are spaced out, so a chatty cell costs a few requests a second, not one per output.
'use strict';
(function () {
  var head = document.querySelector('[data-run]');
  if (head === null) {
    return;
  }
  var runId = head.getAttribute('data-run');
  var base = '/runs/' + encodeURIComponent(runId);
  var cellsBox = document.querySelector('[data-cells]');
  var progressBar = head.querySelector('progress');
  var progressText = head.querySelector('[data-progress-text]');
  var stateBox = head.querySelector('[data-state]');
  var message = head.querySelector('[data-message]');
  var versionLink = head.querySelector('[data-version]');
  var cancelButton = head.querySelector('[data-cancel]');
  var MIN_GAP_MS = 100;

  var done = Number(progressBar.getAttribute('value')) || 0;
  var total = Number(progressText.textContent.split('/')[1]) || 0;
  var dirty = new Set();
  var everything = false;
  var busy = false;
  var finished = head.getAttribute('data-live') !== 'true';

  function setProgress() {
    progressBar.setAttribute('max', String(Math.max(total, 1)));
    progressBar.setAttribute('value', String(done));
    progressText.textContent = done + ' / ' + total + ' cells';
  }

  function setState(state) {
    var badge = document.createElement('span');
    badge.className = 'badge badge-' + state.replace(/[^\w-]/g, '_');
    badge.textContent = state.replace(/_/g, ' ');
    stateBox.replaceChildren(badge);
  }

  function markRunning(index) {
    var cells = cellsBox.querySelectorAll('.nb-cell[data-running]');
    for (var i = 0; i < cells.length; i++) {
      cells[i].removeAttribute('data-running');
    }
    if (index !== null) {
      var cell = cellsBox.querySelector('.nb-cell[data-index="' + index + '"]');
      if (cell !== null) {
        cell.setAttribute('data-running', '');
      }
    }
  }

  function fetchHtml(url) {
    return fetch(url, { credentials: 'same-origin', cache: 'no-store' }).then(function (res) {
      if (res.status === 401) {
        window.location.assign('/login?next=' + encodeURIComponent(window.location.pathname));
        throw new Error('logged out');
      }
      if (!res.ok) {
        throw new Error(url + ': ' + res.status);
      }
      return res.text();
    });
  }

  function placeCell(html) {
    var holder = document.createElement('div');
    holder.innerHTML = html;
    var fresh = holder.firstElementChild;
    if (fresh === null) {
      return;
    }
    var index = fresh.getAttribute('data-index');
    var old = cellsBox.querySelector('.nb-cell[data-index="' + index + '"]');
    if (old !== null) {
      if (old.hasAttribute('data-running')) {
        fresh.setAttribute('data-running', '');
      }
      old.replaceWith(fresh);
    } else {
      cellsBox.appendChild(fresh);
    }
  }

  // One refresh at a time: everything (after run-start or run-end), else one dirty cell.
  function pump() {
    if (busy || (!everything && dirty.size === 0)) {
      return;
    }
    busy = true;
    var job;
    if (everything) {
      everything = false;
      dirty.clear();
      job = fetchHtml(base + '/cells').then(function (html) {
        var running = cellsBox.querySelector('.nb-cell[data-running]');
        cellsBox.innerHTML = html;
        markRunning(running === null ? null : running.getAttribute('data-index'));
      });
    } else {
      var index = dirty.values().next().value;
      dirty.delete(index);
      job = fetchHtml(base + '/cells/' + index).then(placeCell);
    }
    job
      .catch(function (err) {
        message.textContent = 'Could not refresh the page: ' + err.message;
      })
      .then(function () {
        setTimeout(function () {
          busy = false;
          pump();
          if (!busy && finished && dirty.size === 0 && !everything) {
            head.setAttribute('data-settled', '');
          }
        }, MIN_GAP_MS);
      });
  }

  function onEvent(event) {
    switch (event.type) {
      case 'run-start':
        total = event.cells.length;
        done = 0;
        setProgress();
        setState('running');
        everything = true;
        break;
      case 'cell-start':
        markRunning(event.index);
        break;
      case 'output':
        // Output past the cell's limit goes to the console only: the cell does not change.
        if (!event.consoleOnly) {
          dirty.add(event.index);
        }
        break;
      case 'output-update':
      case 'output-clear':
        dirty.add(event.index);
        break;
      case 'cell-end':
        done += 1;
        setProgress();
        markRunning(null);
        dirty.add(event.index);
        break;
      case 'run-end':
        setState(event.status);
        if (event.error && event.error.message) {
          message.textContent = event.error.message;
        }
        everything = true;
        break;
      default:
        return;
    }
    pump();
  }

  function finish() {
    finished = true;
    if (cancelButton !== null) {
      cancelButton.remove();
    }
    versionLink.hidden = false;
    markRunning(null);
    everything = true;
    pump();
  }

  if (cancelButton !== null) {
    cancelButton.addEventListener('click', function () {
      cancelButton.disabled = true;
      fetch('/api/v1/runs/' + encodeURIComponent(runId) + '/cancel', {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'X-Nbstage-Request': '1' },
      })
        .then(function (res) {
          if (res.status === 202) {
            cancelButton.textContent = 'Cancelling…';
            return null;
          }
          return res.json().then(function (body) {
            message.textContent = body && body.error ? body.error.message : 'cancel failed';
            cancelButton.disabled = false;
          });
        })
        .catch(function (err) {
          message.textContent = 'Could not cancel: ' + err.message;
          cancelButton.disabled = false;
        });
    });
  }

  if (finished) {
    head.setAttribute('data-settled', '');
    return;
  }
  var running = head.getAttribute('data-running');
  if (running !== '') {
    markRunning(running);
  }
  var scheme = window.location.protocol === 'https:' ? 'wss://' : 'ws://';
  var socket = new WebSocket(
    scheme +
      window.location.host +
      '/api/v1/runs/' +
      encodeURIComponent(runId) +
      '/stream?from=' +
      encodeURIComponent(head.getAttribute('data-seq')),
  );
  socket.addEventListener('message', function (msg) {
    var data = JSON.parse(msg.data);
    onEvent(data.event);
  });
  socket.addEventListener('close', function (ev) {
    if (ev.code === 1000) {
      finish();
    } else {
      message.textContent = 'The live stream closed (' + ev.code + '); reload to catch up.';
    }
  });
})();
