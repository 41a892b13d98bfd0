// Runs the UR1 known-answer vectors (spec §5.1) and the attack list (§5.2) against the browser
// client, given the module and the vectors object; returns one {name, ok, error} per check.
// tests/browser/test_ur1_js.py loads it in Chromium beside messaging/static/messaging/ur1.js.

const h = (text) => Uint8Array.from(text.match(/../g) || [], (pair) => parseInt(pair, 16));
const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const clone = (obj) => JSON.parse(JSON.stringify(obj));
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

function check(condition, message) {
  if (!condition) throw new Error(`assertion failed: ${message}`);
}

async function collect(checks) {
  const results = [];
  for (const [name, run] of checks) {
    try {
      await run();
      results.push({ name, ok: true, error: "" });
    } catch (error) {
      results.push({ name, ok: false, error: `${error.name}: ${error.message}` });
    }
  }
  return results;
}

// Everything a vectors file gives, turned into keys and accepted commits.
export async function world(ur1, V) {
  const people = {};
  for (const [name, p] of Object.entries(V.people)) {
    people[name] = { ...p, msk: await ur1.ed25519FromSeed(h(p.msk_seed)), dsk: await ur1.ed25519FromSeed(h(p.dsk_seed)),
      dek: await ur1.x25519FromSecret(h(p.dek_sk)) };
  }
  const byUser = (user) => Object.values(people).find((p) => p.user === user);
  const deviceLists = {};
  for (const p of Object.values(people)) deviceLists[p.user] = [await ur1.parseDeviceList(p.devlist)];
  const chain = [];
  let pins = {};
  for (const commit of V.commits) {
    const accepted = await ur1.acceptCommit(commit, { room: V.room, previous: chain.at(-1) || null, pins, deviceLists });
    pins = { ...pins, ...accepted.newPins };
    chain.push(accepted);
  }
  const es = V.epoch_secrets.map(h);
  return { people, byUser, deviceLists, chain, es };
}

export async function runVectors(ur1, V) {
  const W = await world(ur1, V);
  const checks = [];
  const a1 = V.rfc9180_a1;
  checks.push(["K1 RFC 9180 A.1 seal and open", async () => {
    const sealed = await ur1.hpkeSealBase(h(a1.pkRm), h(a1.info), h(a1.aad), h(a1.pt),
      { ephemeralSecret: h(a1.skEm), aeadId: ur1.AEAD_AES_128_GCM });
    check(hex(sealed) === a1.enc + a1.ct, "enc ‖ ct");
    const recipient = await ur1.x25519FromSecret(h(a1.skRm));
    check(hex(recipient.publicKey) === a1.pkRm, "pkR");
    const pt = await ur1.hpkeOpenBase(recipient, h(a1.info), h(a1.aad), sealed, { aeadId: ur1.AEAD_AES_128_GCM });
    check(hex(pt) === a1.pt, "pt");
  }]);
  for (const [name, p] of Object.entries(V.people)) {
    checks.push([`K2 keys from seeds ${name}`, async () => {
      check(hex(W.people[name].msk.publicKey) === p.msk_pub, "msk");
      check(hex(W.people[name].dsk.publicKey) === p.dsk_pub, "dsk");
      check(hex(W.people[name].dek.publicKey) === p.dek_pub, "dek");
    }]);
    checks.push([`K3 fingerprint ${name}`, async () => {
      check(await ur1.safetyNumber(p.user, h(p.msk_pub)) === p.fingerprint, "digits");
      const qr = ur1.parseQrPayload(ur1.qrPayload(p.user, h(p.msk_pub)));
      check(qr.user === p.user && hex(qr.msk) === p.msk_pub, "qr");
    }]);
    checks.push([`K4 device list ${name}`, async () => {
      const parsed = await ur1.parseDeviceList(p.devlist);
      const again = await ur1.signDeviceList(W.people[name].msk, p.user, parsed.version, parsed.devices);
      await ur1.parseDeviceList(again);
      // Signatures only verify (§5.1 K5, §6 #25); everything but the signature must be the same bytes.
      check(same({ ...again, sig: "" }, { ...p.devlist, sig: "" }), "device list JSON");
    }]);
  }
  checks.push(["K2 RFC 8032 test 1", async () => {
    const pair = await ur1.ed25519FromSeed(h("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"));
    check(hex(pair.publicKey) === "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "public");
    await ur1.ed25519Verify(pair.publicKey, new Uint8Array(0), h("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
      + "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"));
  }]);
  V.commits.forEach((commit, epoch) => {
    checks.push([`K5 commit epoch ${epoch}`, async () => {
      const accepted = W.chain[epoch];
      check(hex(ur1.commitTbs(accepted.commit)) === V.commit_tbs_hex[epoch], "TBS");
      check(hex(accepted.commitId) === V.commit_ids[epoch], "commit_id");
      check(hex(await ur1.keyCommitment(W.es[epoch], V.room, epoch)) === V.key_commitments[epoch], "kc");
      check(hex(accepted.commit.kc) === V.key_commitments[epoch], "kc in commit");
      const author = W.byUser(accepted.commit.authorUser);
      const again = await ur1.signCommit(author.dsk, { ...accepted.commit, sig: new Uint8Array(0) });
      check(same({ ...again, sig: "" }, { ...commit, sig: "" }), "commit JSON");
      await ur1.acceptCommit(again, { room: V.room, previous: W.chain[epoch - 1] || null, pins: {}, deviceLists: W.deviceLists });
    }]);
  });
  checks.push(["K6 sender key and AAD", async () => {
    const env = V.messages.m1.env;
    const key = await ur1.senderKeyBytes(W.es[env.epoch], V.room, env.epoch, env.sender.user, env.sender.device);
    check(hex(key) === V.sender_key_bob_e1, "K_s");
    const aad = ur1.messageAad(V.room, env.epoch, W.chain[env.epoch].commitId, env.sender.user, env.sender.device, env.ctr);
    check(hex(aad) === V.msg_aad_m1_hex, "AAD");
  }]);
  for (const w of V.wraps) {
    const tag = `${w.epoch}/${w.to_user}`;
    checks.push([`K7 wrap ${tag}`, async () => {
      const me = W.byUser(w.to_user);
      const es = await ur1.openWrap(w, W.chain[w.epoch], { myUser: me.user, myDevice: me.device, dek: me.dek });
      check(hex(es) === V.epoch_secrets[w.epoch], "es");
      const again = await ur1.makeWrap(es, W.chain[w.epoch], me.user, me.device,
        { ephemeralSecret: h(V.wrap_ephemeral_seeds[tag]) });
      check(same(again, w), "wrap bytes");
    }]);
  }
  for (const [name, m] of Object.entries(V.messages)) {
    checks.push([`K8 message ${name}`, async () => {
      const accepted = W.chain[m.es_epoch];
      const opened = await ur1.openMessage(m.env, { room: V.room, accepted, es: W.es[m.es_epoch], replay: new ur1.ReplaySet() });
      const body = JSON.parse(new TextDecoder().decode(opened.body));
      if (m.body) {
        check(same(body, m.body), "body");
        check(hex(ur1.encodeBody(m.body)) === hex(opened.body), "body bytes");
      }
      const sender = W.byUser(m.env.sender.user);
      const again = await ur1.sealMessage(opened.body, { es: W.es[m.es_epoch], accepted, user: sender.user,
        device: sender.device, ctr: m.env.ctr, dsk: sender.dsk, nonce: h(V.message_nonces[name]) });
      // The signature is inside ct, so exact ct needs deterministic Ed25519 (Chromium's BoringSSL is).
      check(same(again, m.env), "envelope bytes");
      check(opened.messageId.length === 22, "message id");
    }]);
  }
  checks.push(["K9 backup key and item", async () => {
    const b = V.backup;
    const root = await ur1.deriveRoot(b.passphrase, b.params);
    check(hex(await ur1.backupKeyBytes(root, b.user)) === b.backup_key, "BK");
    const bk = await ur1.backupKey(root, b.user);
    const payload = await ur1.openItem(bk, b.user, b.item);
    const again = await ur1.sealItem(bk, b.user, b.item.kind, payload, { ver: b.item.ver, id: b.item.id, nonce: h(b.nonce) });
    check(same(again, b.item), "item bytes");
    if (b.item.kind === "epoch") {
      check(hex(await ur1.restoreEpochSecret(payload, W.chain[payload.epoch])) === V.epoch_secrets[payload.epoch], "es");
    }
  }]);
  checks.push(["K9 NFC and NFD give the same key", async () => {
    const secret = `Ngũgĩ café ${V.backup.passphrase}`;
    const nfc = secret.normalize("NFC");
    const nfd = secret.normalize("NFD");
    check(nfc !== nfd, "forms differ");
    check(hex(await ur1.deriveRoot(nfc, V.backup.params)) === hex(await ur1.deriveRoot(nfd, V.backup.params)), "same root");
  }]);
  for (const bad of ["AAE=", "AA+A", "AA/A", "AA A", "AA\nA", "A", "AAF", "AB", " AAA", "AAAAA"]) {
    checks.push([`K11 base64url refuses ${JSON.stringify(bad)}`, () => mustFail(ur1, () => ur1.b64uDecode(bad))]);
  }
  checks.push(["K11 base64url accepts canonical", async () => {
    check(hex(ur1.b64uDecode("AAA")) === "0000" && hex(ur1.b64uDecode("_-8")) === "ffef" && ur1.b64uDecode("").length === 0, "");
  }]);
  return collect(checks);
}

async function mustFail(ur1, action, match) {
  try {
    await action();
  } catch (error) {
    if (!(error instanceof ur1.UR1Error)) throw new Error(`failed with ${error.name} (${error.message}), not UR1Error`);
    if (match && !error.message.includes(match)) throw new Error(`failed with "${error.message}", expected "${match}"`);
    return;
  }
  throw new Error("accepted: did not fail closed");
}

function flip(ur1, text, byte, bit = 0) {
  const data = ur1.b64uDecode(text);
  data[byte] ^= 1 << bit;
  return ur1.b64uEncode(data);
}

export async function runAttacks(ur1, V) {
  const W = await world(ur1, V);
  const { alice: ALICE, bob: BOB, carol: CAROL } = W.people;
  const ROOM = V.room;
  const m2 = () => clone(V.messages.m2.env);
  const openAt = (env, epoch = 2, opts = {}) => ur1.openMessage(env, { room: opts.room || ROOM,
    accepted: opts.accepted || W.chain[epoch], es: opts.es || W.es[epoch], replay: opts.replay || new ur1.ReplaySet() });
  const fails = (action, match) => mustFail(ur1, action, match);
  const seal = (body, epoch, who, ctr, signer = who.dsk, es = W.es[epoch], accepted = W.chain[epoch]) => ur1.sealMessage(
    ur1.utf8(body), { es, accepted, user: who.user, device: who.device, ctr, dsk: signer });
  // What a holder of es can do: decrypt, change signature or padding, re-encrypt under the same key.
  const reseal = async (env, epoch, tamper) => {
    const e = clone(env);
    const key = await ur1.senderKey(W.es[epoch], ROOM, epoch, e.sender.user, e.sender.device);
    const aad = ur1.messageAad(ROOM, epoch, W.chain[epoch].commitId, e.sender.user, e.sender.device, e.ctr);
    const plain = await ur1.aeadOpen(key, ur1.b64uDecode(e.n), ur1.b64uDecode(e.ct), aad);
    const [sig, padded] = await tamper(plain.slice(0, 64), plain.slice(64), aad);
    e.ct = ur1.b64uEncode(await ur1.aeadSeal(key, ur1.b64uDecode(e.n), ur1.concat(sig, padded), aad));
    return e;
  };
  const signInner = async (signer, epoch, aad, padded) => ur1.ed25519Sign(signer, ur1.concat(ur1.lp("ure2e/v1/msg-sig"),
    ur1.lp(aad), ur1.lp(W.chain[epoch].commit.kc), ur1.lp(await ur1.sha256(padded))));
  const second = { id: ur1.b64uEncode(new Uint8Array(16).fill(7)), dsk: await ur1.ed25519FromSeed(new Uint8Array(32).fill(0x11)),
    dek: await ur1.x25519FromSecret(new Uint8Array(32).fill(0x22)) };
  const secondEntry = { id: second.id, dsk: second.dsk.publicKey, dek: second.dek.publicKey, added: 1767226000 };
  const secondCommitDevice = { user: BOB.user, device: second.id, dek: second.dek.publicKey, dsk: second.dsk.publicKey };
  const bobLists = async () => {
    const v1 = W.deviceLists[BOB.user][0];
    const v2 = await ur1.parseDeviceList(await ur1.signDeviceList(BOB.msk, BOB.user, 2, [...v1.devices, secondEntry]));
    return { ...W.deviceLists, [BOB.user]: [v1, v2] };
  };
  const commitAfter = async (previous, author, { es = ur1.randomBytes(32), members, add = [], remove = [], epoch, prev } = {}) => {
    const prior = previous.commit;
    const e = epoch ?? prior.epoch + 1;
    return ur1.signCommit(author.dsk, { ...prior, epoch: e, prev: prev || previous.commitId, authorUser: author.user,
      authorDevice: author.device, members: members || prior.members,
      devices: [...prior.devices.filter((d) => !remove.includes(d.device)), ...add], kc: await ur1.keyCommitment(es, ROOM, e),
      ts: prior.ts + 100, sig: new Uint8Array(0) });
  };
  const accept = (obj, previous, { pins = {}, deviceLists = W.deviceLists } = {}) => ur1.acceptCommit(obj,
    { room: ROOM, previous, pins, deviceLists });

  const checks = [];
  const add = (name, run) => checks.push([name, run]);

  add("honest message opens", async () => check((await openAt(m2())).user === ALICE.user, "opened"));
  const size = ur1.b64uDecode(V.messages.m2.env.ct).length;
  for (const [where, byte] of [["first", 0], ["middle", size >> 1], ["signature", 40], ["padding", size - 40], ["tag", size - 1]]) {
    add(`1 flipped ct bit (${where})`, () => fails(() => openAt({ ...m2(), ct: flip(ur1, m2().ct, byte) })));
  }
  add("1 flipped nonce bit", () => fails(() => openAt({ ...m2(), n: flip(ur1, m2().n, 5, 3) })));
  add("1 flipped signature bit inside valid encryption", async () => {
    const env = await reseal(m2(), 2, (sig, padded) => [Uint8Array.of(sig[0] ^ 1, ...sig.slice(1)), padded]);
    await fails(() => openAt(env), "signature");
  });
  add("1 flipped padding bit inside valid encryption", async () => {
    const env = await reseal(m2(), 2, (sig, padded) => [sig, ur1.concat(padded.slice(0, -1), Uint8Array.of(1))]);
    await fails(() => openAt(env), "signature");
  });
  add("1 bad padding even when signed", async () => {
    for (const padded of [ur1.concat(ur1.utf8("hello"), new Uint8Array(251)), ur1.concat(ur1.pad(ur1.utf8("hello")), new Uint8Array(256))]) {
      const env = await reseal(m2(), 2, async (_sig, _p, aad) => [await signInner(ALICE.dsk, 2, aad, padded), padded]);
      await fails(() => openAt(env), "padding");
    }
  });
  add("1 truncated ct, appended =", async () => {
    await fails(() => openAt({ ...m2(), ct: m2().ct.slice(0, -4) }));
    await fails(() => openAt({ ...m2(), ct: `${m2().ct}=` }));
    await fails(() => openAt({ ...m2(), n: `${m2().n}=` }));
    await fails(() => openAt({ ...m2(), ct: m2().ct.slice(0, 40) }));
  });
  const other = { room: "AAAAAAAAAAAAAAAAAAAAAA", epoch: 1, commit: V.messages.m1.env.commit, ctr: 1, suite: "UR2", v: 2, t: "wrap" };
  for (const [field, value] of Object.entries(other)) {
    add(`2 changed ${field}`, async () => {
      await fails(() => openAt({ ...m2(), [field]: value }));
      if (field === "epoch") await fails(() => openAt({ ...m2(), epoch: 1 }, 1));
    });
  }
  add("2 changed sender.user", () => fails(() => openAt({ ...m2(), sender: { ...m2().sender, user: BOB.user } })));
  add("2 changed sender.device", () => fails(() => openAt({ ...m2(), sender: { ...m2().sender, device: BOB.device } })));
  add("2 message moved to another room or epoch", async () => {
    await fails(() => openAt(m2(), 2, { room: "BBBBBBBBBBBBBBBBBBBBBA" }));
    await fails(() => openAt({ ...m2(), epoch: 1, commit: V.messages.m1.env.commit }, 1));
    await fails(() => openAt(clone(V.messages.m1.env), 2));
  });
  add("2 extra or missing envelope field", async () => {
    await fails(() => openAt({ ...m2(), preview: "plaintext" }));
    const env = m2();
    delete env.n;
    await fails(() => openAt(env));
  });
  add("3 insider impersonation fails on the signature", async () => {
    const forged = await seal('{"type":"text","text":"strike is off"}', 2, ALICE, 7, BOB.dsk);
    await fails(() => openAt(forged), "signature");
    check((await openAt(await seal("{}", 2, BOB, 7))).user === BOB.user, "honest opens");
  });
  add("4 replay refused, reordering accepted once each", async () => {
    const replay = new ur1.ReplaySet();
    const sealed = [];
    for (let i = 0; i < 3; i++) sealed.push(await seal(`{"n":${i}}`, 2, BOB, i));
    for (const i of [2, 0, 1]) check((await openAt(sealed[i], 2, { replay })).ctr === i, "reordered");
    for (const env of sealed) await fails(() => openAt(env, 2, { replay }), "replay");
    const future = await seal("{}", 2, BOB, 3);
    await fails(() => openAt({ ...future, ct: flip(ur1, future.ct, 3) }, 2, { replay }));
    check((await openAt(future, 2, { replay })).ctr === 3, "forged envelope did not burn the counter");
  });
  add("5 removed member cannot read the new epoch", async () => {
    check(!V.wraps.some((w) => w.epoch === 2 && w.to_user === CAROL.user), "no epoch-2 wrap for Carol");
    await fails(() => openAt(m2(), 2, { es: W.es[1] }));
    for (const w of V.wraps.filter((x) => x.epoch === 2)) {
      await fails(() => ur1.openWrap(w, W.chain[2], { myUser: CAROL.user, myDevice: CAROL.device, dek: CAROL.dek }));
      const info = ur1.wrapInfo(ROOM, 2, W.chain[2].commitId, w.to_user, w.to_device);
      await fails(() => ur1.hpkeOpenBase(CAROL.dek, info, new Uint8Array(0), ur1.b64uDecode(w.w)));
    }
    const mine = V.wraps.find((w) => w.epoch === 1 && w.to_user === CAROL.user);
    check(hex(await ur1.openWrap(mine, W.chain[1], { myUser: CAROL.user, myDevice: CAROL.device, dek: CAROL.dek })) === V.epoch_secrets[1], "keeps epoch 1");
  });
  add("5 revoked device gets no wrap and cannot open", async () => {
    const lists = await bobLists();
    const a3 = await accept(await commitAfter(W.chain[2], BOB, { add: [secondCommitDevice] }), W.chain[2], { deviceLists: lists });
    const es4 = ur1.randomBytes(32);
    const a4 = await accept(await commitAfter(a3, BOB, { es: es4, remove: [second.id] }), a3, { deviceLists: lists });
    await fails(() => ur1.makeWrap(es4, a4, BOB.user, second.id));
    const wrap = await ur1.makeWrap(es4, a4, BOB.user, BOB.device);
    await fails(() => ur1.openWrap(wrap, a4, { myUser: BOB.user, myDevice: second.id, dek: second.dek }));
    check(hex(await ur1.openWrap(wrap, a4, { myUser: BOB.user, myDevice: BOB.device, dek: BOB.dek })) === hex(es4), "Bob opens");
  });
  add("6 server adds a member or device to a signed commit", async () => {
    const addMember = clone(V.commits[2]);
    addMember.members.push({ user: CAROL.user, msk: CAROL.devlist.msk, role: "member" });
    addMember.devices.push(clone(V.commits[1].devices[2]));
    await fails(() => accept(addMember, W.chain[1]), "signature");
    const addDevice = clone(V.commits[2]);
    addDevice.devices.push({ ...addDevice.devices[1], device: ur1.b64uEncode(new Uint8Array(16).fill(9)) });
    await fails(() => accept(addDevice, W.chain[1]));
  });
  add("6 commit by a non-admin", async () => {
    const aliceOnly = W.chain[2].commit.members.filter((m) => m.user === ALICE.user);
    await fails(() => commitAfter(W.chain[2], BOB, { members: aliceOnly, remove: [BOB.device] }).then((c) => accept(c, W.chain[2])),
      "may not");
  });
  add("6 non-admin self-promotion", async () => {
    const promoted = W.chain[2].commit.members.map((m) => ({ ...m, role: "admin" }));
    await fails(async () => accept(await commitAfter(W.chain[2], BOB, { members: promoted }), W.chain[2]), "may not");
  });
  add("6 non-admin touching another user's devices", async () => {
    await fails(async () => accept(await commitAfter(W.chain[2], BOB, { remove: [ALICE.device] }), W.chain[2]), "may not");
  });
  add("6 self-device commit accepted", async () => {
    const obj = await commitAfter(W.chain[2], BOB, { add: [secondCommitDevice] });
    const accepted = await accept(obj, W.chain[2], { deviceLists: await bobLists() });
    check(accepted.commit.devices.some((d) => d.device === second.id), "device added");
    await fails(() => accept(obj, W.chain[2]), "device list");
  });
  add("6 genesis by a non-admin", async () => {
    const g = W.chain[0].commit;
    const asMember = await ur1.signCommit(ALICE.dsk, { ...g, members: [{ ...g.members[0], role: "member" }], sig: new Uint8Array(0) })
      .catch(() => null);
    const forged = asMember || { ...clone(V.commits[0]), members: [{ ...V.commits[0].members[0], role: "member" }] };
    await fails(() => ur1.acceptCommit(forged, { room: ROOM, previous: null, pins: {}, deviceLists: W.deviceLists }));
  });
  add("7 MSK substitution in a commit", async () => {
    const pins = Object.fromEntries(Object.values(W.people).map((p) => [p.user, { msk: p.msk.publicKey, verified: true }]));
    await accept(V.commits[2], W.chain[1], { pins });
    const fake = await ur1.ed25519FromSeed(new Uint8Array(32).fill(0x33));
    await fails(() => accept(V.commits[2], W.chain[1], { pins: { ...pins, [BOB.user]: { msk: fake.publicKey, verified: true } } }),
      "master signing key");
  });
  add("7 MSK substitution in a device list", async () => {
    const fake = await ur1.ed25519FromSeed(new Uint8Array(32).fill(0x44));
    const forged = await ur1.signDeviceList(fake, BOB.user, 2, W.deviceLists[BOB.user][0].devices);
    await fails(() => ur1.acceptDeviceList(forged, { pinnedMsk: BOB.msk.publicKey, current: W.deviceLists[BOB.user][0] }),
      "master signing key");
    const lists = { ...W.deviceLists, [BOB.user]: [await ur1.parseDeviceList(forged)] };
    await fails(() => accept(V.commits[2], W.chain[1], { deviceLists: lists }));
  });
  add("7 device-list rollback", async () => {
    const lists = await bobLists();
    await fails(() => ur1.acceptDeviceList(BOB.devlist, { pinnedMsk: BOB.msk.publicKey, current: lists[BOB.user][1] }), "rollback");
    check((await ur1.acceptDeviceList(BOB.devlist, { pinnedMsk: BOB.msk.publicKey, current: lists[BOB.user][0] })).version === 1,
      "same list again");
    const other = await ur1.signDeviceList(BOB.msk, BOB.user, 1, [...lists[BOB.user][0].devices, secondEntry]);
    await fails(() => ur1.acceptDeviceList(other, { pinnedMsk: BOB.msk.publicKey, current: lists[BOB.user][0] }), "one version");
  });
  add("8 message from another branch is an epoch fork", async () => {
    const esOther = ur1.randomBytes(32);
    const branch = await accept(await commitAfter(W.chain[1], ALICE, { es: esOther }), W.chain[1]);
    const msg = await seal("{}", 2, ALICE, 0, ALICE.dsk, esOther, branch);
    await fails(() => openAt(msg, 2), "fork");
  });
  add("8 wrong prev or skipped epoch", async () => {
    await fails(async () => accept(await commitAfter(W.chain[2], ALICE, { prev: W.chain[1].commitId }), W.chain[2]));
    await fails(async () => accept(await commitAfter(W.chain[2], ALICE, { epoch: 4 }), W.chain[2]));
    await fails(() => accept(V.commits[2], W.chain[0]));
    await fails(() => accept(V.commits[1], W.chain[1]));
  });
  add("9 forged wrap fails on kc", async () => {
    const info = ur1.wrapInfo(ROOM, 2, W.chain[2].commitId, BOB.user, BOB.device);
    const w = await ur1.hpkeSealBase(BOB.dek.publicKey, info, new Uint8Array(0), ur1.randomBytes(32));
    const forged = { ...V.wraps.find((x) => x.epoch === 2 && x.to_user === BOB.user), w: ur1.b64uEncode(w) };
    await fails(() => ur1.openWrap(forged, W.chain[2], { myUser: BOB.user, myDevice: BOB.device, dek: BOB.dek }), "kc");
  });
  const smallX = ["00".repeat(32), `01${"00".repeat(31)}`, "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
    "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157", `ec${"ff".repeat(30)}7f`];
  for (const point of smallX) {
    add(`10 X25519 small-order ${point.slice(0, 8)}… rejected by HPKE`, async () => {
      await fails(() => ur1.hpkeSealBase(h(point), ur1.utf8("info"), new Uint8Array(0), ur1.randomBytes(32)));
      await fails(() => ur1.hpkeSealBase(h(point), ur1.utf8("info"), new Uint8Array(0), ur1.randomBytes(32),
        { ephemeralSecret: ur1.randomBytes(32) }));
      await fails(() => ur1.hpkeOpenBase(BOB.dek, ur1.utf8("info"), new Uint8Array(0), ur1.concat(h(point), new Uint8Array(48))));
    });
  }
  add("10 Ed25519 small-order list has 14 encodings", async () => check(ur1.ED25519_SMALL_ORDER.length === 14, "14"));
  for (const encoding of ur1.ED25519_SMALL_ORDER) {
    add(`10 Ed25519 small-order ${encoding.slice(0, 8)}…${encoding.slice(-2)} rejected before verify`, async () => {
      await fails(() => ur1.ed25519Verify(h(encoding), new Uint8Array(0), new Uint8Array(64)), "refused");
      await fails(() => ur1.parseDeviceList({ ...BOB.devlist, msk: ur1.b64uEncode(h(encoding)) }), "refused");
    });
  }
  add("10 non-canonical Ed25519 public keys rejected", async () => {
    for (const low of [0xed + 2, 0xed + 5, 0xff]) {
      for (const top of [0x7f, 0xff]) {
        const key = new Uint8Array(32).fill(0xff);
        key[0] = low;
        key[31] = top;
        await fails(() => ur1.ed25519Verify(key, new Uint8Array(0), new Uint8Array(64)), "refused");
      }
    }
  });
  add("11 backup: wrong passphrase, moved item, injected item, changed fields", async () => {
    const b = V.backup;
    const bk = await ur1.backupKey(await ur1.deriveRoot(b.passphrase, b.params), b.user);
    await ur1.openItem(bk, b.user, b.item);
    const wrong = await ur1.backupKey(await ur1.deriveRoot(`${b.passphrase}!`, b.params), b.user);
    await fails(() => ur1.openItem(wrong, b.user, b.item));
    const moved = await ur1.backupKey(await ur1.deriveRoot(b.passphrase, b.params), "u_alice");
    await fails(() => ur1.openItem(moved, "u_alice", b.item));
    await fails(() => ur1.openItem(bk, "u_alice", b.item));
    const injected = await ur1.sealItem(ur1.randomBytes(32), b.user, "epoch", { room: ROOM, epoch: 2, commit: "x", es: "y" });
    await fails(() => ur1.openItem(bk, b.user, injected));
    for (const change of [{ ver: 2 }, { kind: "pins" }, { id: "AAAAAAAAAAAAAAAAAAAAAA" }]) {
      await fails(() => ur1.openItem(bk, b.user, { ...b.item, ...change }));
    }
  });
  for (const change of [{ it: 1000 }, { it: 599999 }, { kdf: "pbkdf2-sha1" }, { kdf: "scrypt" }, { salt: "AAAAAAAAAAAAAAAAAAAA" },
    { v: 2 }, { it: true }, { extra: 1 }, { it: 10000001 }]) {
    add(`11 backup KDF downgrade ${JSON.stringify(change)} refused`, () => fails(() => ur1.deriveRoot(V.backup.passphrase,
      { ...V.backup.params, ...change })));
  }
  add("11 Argon2id below the floor refused", async () => {
    const base = { v: 1, kdf: "argon2id", m: 65536, t: 3, p: 1, salt: V.backup.params.salt };
    ur1.checkParams(base);
    for (const weaker of [{ m: 19456 }, { t: 1 }, { p: 0 }, { m: 2 ** 21 }]) await fails(() => ur1.checkParams({ ...base, ...weaker }));
  });
  add("11 epoch item must match the signed kc", async () => {
    const payload = { room: ROOM, epoch: 2, commit: ur1.b64uEncode(W.chain[2].commitId), es: ur1.b64uEncode(ur1.randomBytes(32)) };
    await fails(() => ur1.restoreEpochSecret(payload, W.chain[2]), "kc");
  });
  add("14 removed sender late in an old epoch", async () => {
    check(ur1.checkOldEpoch({ senderUser: CAROL.user, nextCommit: W.chain[2], nextAcceptedAt: 1000, receivedAt: 1299 }), "hint");
    await fails(() => ur1.checkOldEpoch({ senderUser: CAROL.user, nextCommit: W.chain[2], nextAcceptedAt: 1000, receivedAt: 1301 }));
    check(ur1.checkOldEpoch({ senderUser: BOB.user, nextCommit: W.chain[2], nextAcceptedAt: 1000, receivedAt: 4600 }), "member");
  });
  add("15 counter gap surfaced", async () => {
    const replay = new ur1.ReplaySet();
    for (const ctr of [0, 1, 3]) await openAt(await seal("{}", 2, BOB, ctr), 2, { replay });
    check(same(replay.gaps(ROOM, 2, BOB.device), [2]), "gap");
  });
  add("attachment chunks cannot be truncated or reordered", async () => {
    const key = ur1.randomBytes(32);
    const data = ur1.randomBytes(65536 * 2 + 10);
    const blob = await ur1.sealAttachment(data, key);
    check(hex(await ur1.openAttachment(blob, key)) === hex(data), "round trip");
    const step = 12 + 65536 + 16;
    await fails(() => ur1.openAttachment(blob.slice(0, 2 * step), key));
    await fails(() => ur1.openAttachment(ur1.concat(blob.slice(step, 2 * step), blob.slice(0, step), blob.slice(2 * step)), key));
  });
  add("generated device keys are non-extractable", async () => {
    const keys = await ur1.generateDeviceKeys();
    check(!keys.dsk.privateKey.extractable && !keys.dek.privateKey.extractable, "extractable");
    const es = await ur1.importEpochSecret(ur1.randomBytes(32));
    check(!es.extractable && !(await ur1.senderKey(es, ROOM, 0, BOB.user, BOB.device)).extractable, "es / K_s extractable");
    check(await ur1.supported(), "feature detection");
  });
  return collect(checks);
}

// Parser fuzzing (§5.4), as tests/messaging/test_ur1_fuzz.py: damaged server JSON is accepted only
// when unchanged (or, for unsigned values, when still valid) and refused only with UR1Error.
function prng(seed) {
  let a = 0;
  for (const char of seed) a = (Math.imul(a ^ char.charCodeAt(0), 2654435761) >>> 0);
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ODD = [null, true, false, 0, -1, 1.5, 2 ** 53, 2 ** 64, "", "=", "AAAA", "A".repeat(22), "AAAAAAAAAAAAAAAAAAAAA=",
  "__proto__", "ü", "\u0000", [], {}, [1], { a: 1 }, "ure2e/v1/msg"];

function mutate(obj, rnd) {
  const pick = (list) => list[Math.floor(rnd() * list.length)];
  if (obj && typeof obj === "object" && !Array.isArray(obj) && Object.keys(obj).length && rnd() < 0.7) {
    const key = pick(Object.keys(obj).sort());
    const out = { ...obj };
    const action = rnd();
    if (action < 0.15) delete out[key];
    else if (action < 0.25) out[pick(["x", "preview", `${key}_`])] = clone(pick(ODD));
    else out[key] = mutate(obj[key], rnd);
    return out;
  }
  if (Array.isArray(obj) && obj.length && rnd() < 0.7) {
    const out = [...obj];
    const index = Math.floor(rnd() * obj.length);
    const action = rnd();
    if (action < 0.2) out.splice(index, 1);
    else if (action < 0.35) out.push(clone(obj[index]));
    else out[index] = mutate(obj[index], rnd);
    return out;
  }
  if (typeof obj === "string" && obj.length && rnd() < 0.6) {
    const index = Math.floor(rnd() * obj.length);
    return obj.slice(0, index) + pick([..."AB_-=+/ 0zé"]) + obj.slice(index + 1);
  }
  if (typeof obj === "number" && rnd() < 0.5) return obj + pick([-1, 1, 2 ** 32, 2 ** 63]);
  return clone(pick(ODD));
}

export async function runFuzz(ur1, V, iterations = 200) {
  const W = await world(ur1, V);
  const bob = W.people.bob;
  const b = V.backup;
  const bk = await ur1.backupKey(await ur1.deriveRoot(b.passphrase, b.params), b.user);
  const wrap = V.wraps.find((w) => w.epoch === 2 && w.to_user === bob.user);
  const receivers = {
    envelope: [V.messages.m2.env, (o) => ur1.openMessage(o, { room: V.room, accepted: W.chain[2], es: W.es[2], replay: new ur1.ReplaySet() })],
    commit: [V.commits[2], (o) => ur1.acceptCommit(o, { room: V.room, previous: W.chain[1], pins: {}, deviceLists: W.deviceLists })],
    genesis: [V.commits[0], (o) => ur1.acceptCommit(o, { room: V.room, previous: null, pins: {}, deviceLists: W.deviceLists })],
    wrap: [wrap, (o) => ur1.openWrap(o, W.chain[2], { myUser: bob.user, myDevice: bob.device, dek: bob.dek })],
    "device list": [bob.devlist, (o) => ur1.parseDeviceList(o)],
    "backup item": [b.item, (o) => ur1.openItem(bk, b.user, o)],
    "backup params": [b.params, (o) => ur1.checkParams(o)],
    "qr code": [ur1.qrPayload(bob.user, bob.msk.publicKey), (o) => ur1.parseQrPayload(o)],
  };
  const unsigned = ["backup params", "qr code"];
  const checks = [];
  for (const [kind, [valid, receive]] of Object.entries(receivers)) {
    checks.push([`fuzz ${kind}`, async () => {
      await receive(clone(valid));
      const rnd = prng(`ur1-fuzz-${kind}`);
      for (let i = 0; i < iterations; i++) {
        const damaged = mutate(clone(valid), rnd);
        try {
          await receive(damaged);
        } catch (error) {
          if (error instanceof ur1.UR1Error) continue;
          throw new Error(`${error.name}: ${error.message} on ${JSON.stringify(damaged).slice(0, 300)}`);
        }
        if (!same(damaged, valid) && !unsigned.includes(kind)) throw new Error(`accepted ${JSON.stringify(damaged).slice(0, 300)}`);
      }
    }]);
  }
  return collect(checks);
}
