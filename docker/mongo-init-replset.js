// Healthcheck of the `mongo` service in docker-compose.yml (run with `mongosh --file`):
// initiates the single-node replica set `rs0` on first use, then reports healthy (exit 0)
// once this node is the writable primary, so transactions work.
try {
  rs.status();
} catch (err) {
  if (err.codeName !== "NotYetInitialized") {
    throw err;
  }
  rs.initiate({ _id: "rs0", members: [{ _id: 0, host: "mongo:27017" }] });
}
quit(db.hello().isWritablePrimary ? 0 : 1);
