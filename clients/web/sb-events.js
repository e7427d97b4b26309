// Second Brain real-time events for browsers: an EventSource that resumes by itself.
//
//   const events = sbEvents({
//     baseUrl: "https://api.example.com",
//     channels: ["user:65f…", "family:65a…"],
//     getTicket: async () => (await api.post("/api/v1/realtime/ticket")).ticket,
//     onEvent: (event) => { /* {channel, type, data, ts, offset, epoch} */ },
//   });
//   events.close();
//
// The server keeps a stream's ticket valid for its reconnects (SSE_TICKET_REUSE_SECONDS), so
// after a dropped or server-ended response the browser reconnects on its own and sends
// Last-Event-ID: nothing is missed. When the browser gives up (the ticket expired, the access
// token ended: a `close` event or a non-200), this helper fetches a fresh ticket and reopens
// with `lastEventId=` so the server replays what happened meanwhile. Keep-alives are SSE
// comments and never reach `onEvent`.
export function sbEvents({ baseUrl, channels, getTicket, onEvent, onFrame, onOpen, onError }) {
  let source = null;
  let lastEventId = "";
  let closed = false;
  let retryMs = 1000;

  async function open() {
    if (closed) return;
    let ticket;
    try {
      ticket = await getTicket();
    } catch (err) {
      onError?.(err);
      setTimeout(open, retryMs);
      retryMs = Math.min(retryMs * 2, 30000);
      return;
    }
    const params = new URLSearchParams({ channels: channels.join(","), ticket });
    if (lastEventId) params.set("lastEventId", lastEventId);
    source = new EventSource(`${baseUrl}/api/v1/events/stream?${params}`);
    source.onopen = () => {
      retryMs = 1000;
      onOpen?.();
    };
    source.onmessage = (e) => {
      if (e.lastEventId) lastEventId = e.lastEventId;
      onEvent(JSON.parse(e.data));
    };
    for (const kind of ["subscribed", "unsubscribed", "presence"]) {
      source.addEventListener(kind, (e) => {
        if (e.lastEventId) lastEventId = e.lastEventId;
        onFrame?.(JSON.parse(e.data));
      });
    }
    source.addEventListener("close", (e) => {
      // The server ended the stream for a reason (e.g. the token expired): start afresh.
      onFrame?.(JSON.parse(e.data));
      reopen();
    });
    source.onerror = () => {
      // CONNECTING: the browser retries by itself (same ticket, Last-Event-ID header).
      if (source && source.readyState === EventSource.CLOSED) reopen();
    };
  }

  function reopen() {
    source?.close();
    source = null;
    setTimeout(open, retryMs);
  }

  open();
  return {
    close() {
      closed = true;
      source?.close();
    },
    get lastEventId() {
      return lastEventId;
    },
  };
}
