// The browser member of tests/messaging/test_server_blind.py, run in a real Tessera page through
// Playwright's page.evaluate: ur1.js and api.js are imported from the live server's static files,
// every call goes through the real API and the real rooms socket. The keys come from seeds made
// here with crypto.getRandomValues (a real page makes non-extractable ones) only so that the test
// can search the server's dump for them; they never leave the page except to the test.
//
// This file is one expression: an async function taking {step, ...args}.
async ({ step, ...args }) => {
  const ur1 = await import("/static/messaging/ur1.js");
  const api = await import("/static/messaging/api.js");
  const b = window.__blind || (window.__blind = { secrets: {}, accepted: {}, heads: {}, frames: [], ctr: {} });
  const random = (n) => crypto.getRandomValues(new Uint8Array(n));
  const until = async (test, what, ms = 8000) => {
    const end = Date.now() + ms;
    for (;;) {
      const found = test();
      if (found) return found;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((ok) => setTimeout(ok, 25));
    }
  };

  if (step === "enroll") {
    const seeds = { msk: random(32), dsk: random(32), dek: random(32) };
    b.msk = await ur1.ed25519FromSeed(seeds.msk);
    b.dsk = await ur1.ed25519FromSeed(seeds.dsk);
    b.dek = await ur1.x25519FromSecret(seeds.dek);
    b.mskSeed = seeds.msk;
    const me = await api.get("/devices");
    b.user = me.user;
    b.deviceId = ur1.b64uEncode(random(16));
    const list = await ur1.signDeviceList(b.msk, b.user, 1, [{ id: b.deviceId, dsk: b.dsk.publicKey,
      dek: b.dek.publicKey, added: Math.floor(Date.now() / 1000) }]);
    await api.post("/devices", list);
    return { user: b.user, device: b.deviceId, msk: ur1.toHex(seeds.msk), dsk: ur1.toHex(seeds.dsk),
      dek: ur1.toHex(seeds.dek), mskPub: ur1.toHex(b.msk.publicKey) };
  }

  if (step === "sync") {
    // Verify the chain from this client's head, open this device's wrap of the new epoch, read the name.
    const room = await api.get(`/rooms/${args.code}`);
    const lists = {};
    for (const dl of (await api.get(`/rooms/${args.code}/device-lists`)).device_lists) {
      lists[dl.user] = [await ur1.parseDeviceList(dl)];
    }
    let head = b.heads[args.code] || null;
    const after = head ? head.commit.epoch : -1;
    for (const c of (await api.get(`/rooms/${args.code}/commits?after=${after}`)).commits) {
      head = await ur1.acceptCommit(c, { room: room.room_id, previous: head, pins: {}, deviceLists: lists });
      b.accepted[head.commit.epoch] = head;
    }
    b.heads[args.code] = head;
    const wraps = (await api.get(`/wraps?device=${b.deviceId}`)).wraps;
    const wrap = wraps.find((w) => w.room === room.room_id && w.epoch === head.commit.epoch);
    const es = await ur1.openWrap(wrap, head, { myUser: b.user, myDevice: b.deviceId, dek: b.dek });
    b.secrets[head.commit.epoch] = es;
    b.roomId = room.room_id;
    const meta = room.meta ? await ur1.openMeta(room.meta, { room: room.room_id, accepted: head, es }) : null;
    return { epoch: head.commit.epoch, es: ur1.toHex(es), meta };
  }

  if (step === "connect") {
    b.ws = new WebSocket(`ws://${location.host}/ws/rooms/`);
    b.ws.onmessage = (event) => b.frames.push(JSON.parse(event.data));
    await new Promise((ok, fail) => {
      b.ws.onopen = ok;
      b.ws.onerror = () => fail(new Error("socket refused"));
    });
    return true;
  }

  if (step === "send") {
    // Seal in the newest epoch and send over the socket; the server answers with an ack frame.
    const head = b.heads[args.code];
    const epoch = head.commit.epoch;
    const ctr = b.ctr[epoch] || 0;
    b.ctr[epoch] = ctr + 1;
    const envelope = await ur1.sealMessage(ur1.encodeBody({ type: "text", text: args.text, ts: Date.now() }),
      { es: b.secrets[epoch], accepted: head, user: b.user, device: b.deviceId, ctr, dsk: b.dsk });
    const ref = `b${epoch}x${ctr}`;
    b.ws.send(JSON.stringify({ type: "send", room: args.code, ref, envelope }));
    return until(() => b.frames.find((f) => f.ref === ref), `the answer to ${ref}`);
  }

  if (step === "read") {
    // Every message the socket relayed (through Redis), opened as a receiver must.
    await until(() => b.frames.filter((f) => f.type === "message").length >= args.count, `${args.count} messages`);
    const replay = new ur1.ReplaySet();
    const texts = [];
    for (const f of b.frames.filter((x) => x.type === "message")) {
      const e = f.envelope.epoch;
      const opened = await ur1.openMessage(f.envelope, { room: b.roomId, accepted: b.accepted[e], es: b.secrets[e], replay });
      texts.push(JSON.parse(new TextDecoder().decode(opened.body)).text);
    }
    return texts;
  }

  if (step === "garbage") {
    // Bad frames carrying a marker: the server must answer "invalid frame" and log none of it.
    const before = b.frames.filter((f) => f.type === "error").length;
    for (const text of args.frames) b.ws.send(text);
    await until(() => b.frames.filter((f) => f.type === "error").length >= before + args.frames.length, "error frames");
    return b.frames.filter((f) => f.type === "error").slice(before).map((f) => f.detail);
  }

  if (step === "backup") {
    // A generated recovery key, the server's PBKDF2 parameters, then one sealed item per epoch secret
    // and one for the MSK seed (§4.9), uploaded while the raw secrets are in memory.
    const recoveryKey = ur1.generateRecoveryKey();
    const params = ur1.newParams();
    await api.put("/backup/params", { params });
    const root = await ur1.deriveRoot(recoveryKey, params, { recoveryKey: true });
    const bk = await ur1.backupKey(root, b.user);
    for (const [epoch, es] of Object.entries(b.secrets)) {
      const accepted = b.accepted[epoch];
      await api.put("/backup/items", await ur1.sealItem(bk, b.user, "epoch", { room: b.roomId, epoch: Number(epoch),
        commit: ur1.b64uEncode(accepted.commitId), es: ur1.b64uEncode(es) }));
    }
    await api.put("/backup/items", await ur1.sealItem(bk, b.user, "msk", { msk: ur1.b64uEncode(b.mskSeed) }));
    const items = (await api.get("/backup/items")).items;
    const restored = await ur1.openItem(bk, b.user, items.find((i) => i.kind === "msk"));
    return { recoveryKey, root: ur1.toHex(root), bk: ur1.toHex(await ur1.backupKeyBytes(root, b.user)),
      items: items.length, restored: restored.msk === ur1.b64uEncode(b.mskSeed) };
  }

  throw new Error(`unknown step ${step}`);
}
