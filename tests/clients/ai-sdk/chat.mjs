// useChat's own transport and stream reader against our chat endpoint (tests/e2e/test_chat_aisdk.py).
// DefaultChatTransport parses every frame with the package's uiMessageChunkSchema (an
// invalid frame throws); readUIMessageStream builds the message; validateUIMessages checks
// the result. Usage: node chat.mjs <messagesUrl> <accessToken> <text>
// Prints one JSON line: {first, resumed, chunks} (the assistant messages after each stream;
// `source-document` parts carry the answer's citations).
import { DefaultChatTransport, readUIMessageStream, validateUIMessages } from "ai";

const [url, token, text] = process.argv.slice(2);
const transport = new DefaultChatTransport({
  api: url,
  headers: { Authorization: `Bearer ${token}` },
});
const chunks = [];

async function run(messages, trigger, message) {
  const stream = await transport.sendMessages({
    chatId: "chat-1",
    messages,
    trigger,
    messageId: undefined,
    abortSignal: undefined,
  });
  const tapped = stream.pipeThrough(
    new TransformStream({
      transform(chunk, controller) {
        chunks.push(chunk.type);
        controller.enqueue(chunk);
      },
    }),
  );
  let last;
  for await (const snapshot of readUIMessageStream({ stream: tapped, message, onError: (e) => { throw e; } })) {
    last = snapshot;
  }
  return last;
}

const user = { id: "u1", role: "user", parts: [{ type: "text", text }] };
const first = await run([user], "submit-message");
await validateUIMessages({ messages: [user, first] });

// Answer the approval the way addToolApprovalResponse does, then send again (when the first
// answer asked for one; otherwise `resumed` is null).
if (!first.parts.some((part) => part.state === "approval-requested")) {
  console.log(JSON.stringify({ first, resumed: null, chunks }));
  process.exit(0);
}
const answered = structuredClone(first);
for (const part of answered.parts) {
  if (part.state === "approval-requested") {
    part.state = "approval-responded";
    part.approval = { ...part.approval, approved: true };
  }
}
const resumed = await run([user, answered], "submit-message", answered);
await validateUIMessages({ messages: [user, resumed] });
console.log(JSON.stringify({ first, resumed, chunks }));
