// login -> family -> transfer -> history -> an error, through a client generated from the
// api's OpenAPI document (openapi-typescript types + openapi-fetch). Compiled by `tsc` with
// `strict`, so a missing or mistyped model fails the build, then run against the api.
import createClient from "openapi-fetch";
import type { components, paths } from "./generated/schema.js";

type ErrorResponse = components["schemas"]["ErrorResponse"];

const [base, login, password, to] = process.argv.slice(2);
const api = createClient<paths>({ baseUrl: base });

async function main(): Promise<void> {
  const auth = await api.POST("/api/v1/auth/login", { body: { login, password } });
  if (!auth.data) throw new Error("login failed");
  const headers = { Authorization: `Bearer ${auth.data.accessToken}` };
  const family = await api.POST("/api/v1/families", { body: { name: "TS family" }, headers });
  if (!family.data) throw new Error("family failed");
  const sent = await api.POST("/api/v1/wallet/transfers", {
    body: { to: { username: to }, amount: 3, memo: "from ts" },
    params: { header: { "Idempotency-Key": `ts-${Date.now()}` } },
    headers,
  });
  if (!sent.data) throw new Error("transfer failed");
  const history = await api.GET("/api/v1/wallet/transfers", { params: { query: { limit: 10 } }, headers });
  const refused = await api.POST("/api/v1/wallet/transfers", {
    body: { to: { username: to }, amount: 1_000_000_000 },
    params: { header: { "Idempotency-Key": `ts-big-${Date.now()}` } },
    headers,
  });
  const error: ErrorResponse | undefined = refused.error;
  console.log(
    JSON.stringify({
      family: family.data.name,
      transferred: sent.data.transfer.amount,
      history: history.data?.items.map((t) => t.amount) ?? [],
      errorStatus: refused.response.status,
      errorCode: error?.error.code,
      requestId: error?.error.requestId,
    }),
  );
}

await main();
