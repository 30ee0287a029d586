// The kit's viewer page: noVNC's RFB client on a canvas, as a platform's own viewer page uses it,
// plus what the kit reads from it: the connection state, when stream messages arrive, when the
// screen changed since a mark, and the screen's pixels as PNG.
import RFB from './novnc/core/rfb.js';

const status = document.getElementById('status');
const screen = document.getElementById('screen');

const kit = {
  state: 'loaded',      // loaded, connecting, connected, disconnected, failed
  reason: '',
  where: '',
  messages: 0,          // stream messages received
  atConnect: null,      // messages received when the handshake ended
  lastMessage: null,    // event time (ms) of the last one
  closeCode: null,
  keyAt: null,          // event time (ms) of the last key pressed in the page
  mark: null,           // {region, pixels, messages}: the screen when mark() was called
  changedAt: null,      // event time (ms) of the message after which the screen differed from the mark
  waiters: [],
  rfb: null,
  bytes: 0,             // bytes of the stream received
  startedAt: null,      // time (ms) connect() was called
  connectedAt: null,    // time (ms) the RFB handshake ended
  bytesAtConnect: 0,    // bytes received when it ended
  sent: 0,              // messages noVNC sent
  keyOnDesktop: null,   // whether the last key pressed had the desktop as its target
  lastSent: null,       // time (ms) of the last one
};
window.kit = kit;

function show(text) {
  status.textContent = text;
}

function canvas() {
  return screen.querySelector('canvas');
}

function pixels(region) {
  const [x, y, w, h] = region;
  return canvas().getContext('2d').getImageData(x, y, w, h).data;
}

// Whether the region of the screen differs from the mark (a resized desktop differs everywhere).
function differs(region) {
  const c = canvas();
  const { pixels: before, width, height } = kit.mark;
  if (c.width !== width || c.height !== height) {
    return true;
  }
  const [x, y, w, h] = region;
  const now = pixels(region);
  for (let row = 0; row < h; row += 1) {
    const from = ((y + row) * width + x) * 4;
    const to = row * w * 4;
    for (let i = 0; i < w * 4; i += 1) {
      if (now[to + i] !== before[from + i]) {
        return true;
      }
    }
  }
  return false;
}

// After noVNC has handled a message (it draws synchronously), look at the screen once more.
function settle(at) {
  if (kit.mark && kit.changedAt === null && canvas() && differs(kit.mark.region)) {
    kit.changedAt = at;
  }
  const ready = kit.waiters.filter((w) => w.ready());
  kit.waiters = kit.waiters.filter((w) => !ready.includes(w));
  ready.forEach((w) => w.done());
}

// noVNC opens its WebSocket with the global constructor: the page counts and times what arrives on it.
const NativeWebSocket = window.WebSocket;
function ObservedWebSocket(url, protocols) {
  const socket = new NativeWebSocket(url, protocols);
  const send = socket.send.bind(socket);
  socket.send = (data) => {
    kit.sent += 1;
    kit.lastSent = performance.now();
    return send(data);
  };
  socket.addEventListener('message', (event) => {
    if (typeof event.data === 'string' && !kit.reason) {
      kit.reason = 'the stream sent a text frame where noVNC reads RFB bytes from binary frames';
      show(`${kit.state}: ${kit.reason} (${kit.where})`);
    }
    kit.messages += 1;
    kit.bytes += typeof event.data === 'string' ? event.data.length : (event.data.byteLength || event.data.size || 0);
    kit.lastMessage = event.timeStamp;
    setTimeout(() => settle(event.timeStamp), 0);
  });
  socket.addEventListener('close', (event) => {
    kit.closeCode = event.code;
    setTimeout(() => settle(event.timeStamp), 0);
  });
  return socket;
}
ObservedWebSocket.prototype = NativeWebSocket.prototype;
['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED'].forEach((name) => { ObservedWebSocket[name] = NativeWebSocket[name]; });
window.WebSocket = ObservedWebSocket;

window.addEventListener('keydown', (event) => {
  kit.keyAt = event.timeStamp;
  kit.keyOnDesktop = event.target === canvas();  // noVNC hears only keys the desktop has the focus for
}, true);

// noVNC may put a message's pixels on the canvas after its message handler (an image decoded, a flip on the
// next frame): while someone waits, the screen is looked at once more on every animation frame, and a
// change seen there is dated by the last message, the one after which the screen changed.
let watchingFrames = false;
function watchFrames() {
  if (kit.waiters.length === 0) {
    watchingFrames = false;
    return;
  }
  settle(kit.lastMessage);
  requestAnimationFrame(watchFrames);
}

function until(ready, timeoutMs, outcome) {
  return new Promise((resolve) => {
    const waiter = { ready, done: () => { clearTimeout(waiter.timer); resolve(outcome(true)); } };
    if (ready()) {
      resolve(outcome(true));
      return;
    }
    waiter.timer = setTimeout(() => {
      kit.waiters = kit.waiters.filter((w) => w !== waiter);
      resolve(outcome(false));
    }, timeoutMs);
    kit.waiters.push(waiter);
    if (!watchingFrames) {
      watchingFrames = true;
      requestAnimationFrame(watchFrames);
    }
  });
}

kit.connect = (url, where, password) => {
  kit.where = where;
  kit.startedAt = performance.now();
  kit.connectedAt = null;
  kit.state = 'connecting';
  show(`connecting to ${where}`);
  const options = { shared: true, wsProtocols: ['binary'] };
  if (password) {
    options.credentials = { password };
  }
  const rfb = new RFB(screen, url, options);
  rfb.scaleViewport = false;
  rfb.addEventListener('connect', () => {
    kit.atConnect = kit.messages;
    kit.connectedAt = performance.now();
    kit.bytesAtConnect = kit.bytes;
    kit.state = 'connected';
    show(`connected to ${where}`);
  });
  rfb.addEventListener('disconnect', (event) => {
    kit.state = event.detail.clean ? 'disconnected' : 'failed';
    if (!kit.reason && kit.messages === 0) {
      kit.reason = 'the WebSocket closed before any RFB byte came (a browser is not told why: a refused token, '
        + 'a session that is not running, a wrong route)';
    }
    kit.reason = kit.reason || (event.detail.clean ? 'the stream was closed' : 'the stream ended abruptly');
    show(`${kit.state}: ${kit.reason} (${where})`);
    settle(performance.now());
  });
  rfb.addEventListener('securityfailure', (event) => {
    kit.reason = `the VNC server refused the security handshake: ${event.detail.reason || event.detail.status}`;
  });
  rfb.addEventListener('credentialsrequired', () => {
    kit.reason = 'the VNC server asks for a password and none was given';
    rfb.disconnect();
  });
  kit.rfb = rfb;
};

// After the handshake a server sends nothing unasked: the first message after it answers noVNC's
// first update request, i.e. it is the first frame.
kit.framed = () => kit.atConnect !== null && kit.messages > kit.atConnect;

kit.info = () => {
  const c = canvas();
  return {
    state: kit.state, reason: kit.reason, messages: kit.messages, closeCode: kit.closeCode,
    framed: kit.framed(), width: c ? c.width : 0, height: c ? c.height : 0,
    sent: kit.sent, visible: document.visibilityState, keyOnDesktop: kit.keyOnDesktop,
    drawing: kit.rfb ? kit.rfb._display.pending() : false,
  };
};

// The page's clock (ms) at connect(), at the end of the handshake and at the last stream message, and the
// stream's messages and bytes so far (for figures: handshake, first frame, bytes per update).
kit.timings = () => ({
  startedAt: kit.startedAt, connectedAt: kit.connectedAt, lastMessage: kit.lastMessage,
  messages: kit.messages, bytes: kit.bytes, bytesAtConnect: kit.bytesAtConnect,
});

kit.waitForDesktop = (timeoutMs) => until(
  () => (kit.state === 'connected' && kit.framed()) || kit.state === 'failed' || kit.state === 'disconnected',
  timeoutMs, () => kit.info());

kit.markScreen = (region) => {
  const c = canvas();
  kit.mark = { region, pixels: pixels([0, 0, c.width, c.height]), width: c.width, height: c.height, messages: kit.messages };
  kit.changedAt = null;
  kit.keyAt = null;
};

kit.waitForChange = (region, timeoutMs) => until(
  () => differs(region) || kit.state !== 'connected',
  timeoutMs, () => {
    const changed = kit.state === 'connected' && differs(region);
    // a key's echo drawn before this wait began (it starts a round trip after the key), and before the page
    // looked at the screen after that message: dated by the last message, as the frame watcher dates a change
    if (changed && kit.changedAt === null) {
      kit.changedAt = kit.lastMessage;
    }
    return {
      changed,
      keyAt: kit.keyAt, changedAt: kit.changedAt, messages: kit.messages - kit.mark.messages, ...kit.info(),
    };
  });

// Whether the region shows more than one colour: the programs of the desktop have drawn on it.
function drawn(region) {
  const data = pixels(region);
  for (let i = 4; i < data.length; i += 4) {
    if (data[i] !== data[0] || data[i + 1] !== data[1] || data[i + 2] !== data[2]) {
      return true;
    }
  }
  return false;
}

kit.waitForDrawn = (region, timeoutMs) => until(
  () => drawn(region) || kit.state !== 'connected',
  timeoutMs, () => ({ drawn: kit.state === 'connected' && drawn(region), ...kit.info() }));

// Quiet: no stream message for quietMs (the screen has caught up), or limitMs has passed.
kit.waitForQuiet = (quietMs, limitMs) => new Promise((resolve) => {
  const started = performance.now();
  const look = () => {
    const now = performance.now();
    const last = kit.lastMessage === null ? started : Math.max(kit.lastMessage, started);
    if (now - last >= quietMs || now - started >= limitMs || kit.state !== 'connected') {
      resolve(now - started);
    } else {
      setTimeout(look, quietMs - (now - last));
    }
  };
  setTimeout(look, quietMs);
});

kit.png = (region) => {
  const [x, y, w, h] = region;
  const copy = document.createElement('canvas');
  copy.width = w;
  copy.height = h;
  copy.getContext('2d').drawImage(canvas(), x, y, w, h, 0, 0, w, h);
  return copy.toDataURL('image/png');
};

kit.focus = () => {
  canvas().focus({ preventScroll: true });
  return document.activeElement === canvas();
};

// Resolves once the page is at least width x height (a window resize ends after the call that asked for it).
kit.waitForSize = (width, height, timeoutMs) => new Promise((resolve) => {
  const fits = () => window.innerWidth >= width && window.innerHeight >= height;
  if (fits()) {
    resolve(true);
    return;
  }
  const timer = setTimeout(() => resolve(fits()), timeoutMs);
  window.addEventListener('resize', function onResize() {
    if (fits()) {
      clearTimeout(timer);
      window.removeEventListener('resize', onResize);
      resolve(true);
    }
  });
});

// What the window adds around the page (width, height): the window is sized to show the whole desktop.
kit.frame = () => [window.outerWidth - window.innerWidth, window.outerHeight - window.innerHeight];

kit.disconnect = () => {
  if (kit.rfb && kit.state === 'connected') {
    kit.rfb.disconnect();
  }
};

show('ready');
kit.state = 'ready';
window.dispatchEvent(new Event('kit-ready'));
