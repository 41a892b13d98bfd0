"""The UR1 browser client (messaging/static/messaging/ur1.js) in Debian's Chromium.

It runs the known-answer vectors of the file named by UR1_VECTORS (the same file as
tests/messaging/test_ur1_vectors.py) and the attack list of spec §5.2 in JavaScript, then crosses
the two implementations: what one seals, signs or wraps, the other opens and verifies, including
pyca's native HPKE.

No Daphne is needed: a small local HTTP server serves the module, the harness and an empty page,
with the project's own Content-Security-Policy header (built from settings), so the test also
shows ur1.js needs neither 'unsafe-eval' nor inline script. http://127.0.0.1 is a secure context,
which WebCrypto requires.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import x25519
from django.conf import settings

from messaging import ur1
from tests.browser.conftest import CHROMIUM_ARGS
from tests.messaging.ur1_data import chain, epoch_secret, people, vectors, vectors_path
from tests.services import chromium_path

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
PROBLEMS: dict[int, list[str]] = {}  # console errors, page errors and CSP violations, per page
PAGE_MODULE = b"""import * as ur1 from "/static/messaging/ur1.js";
import * as ur1Store from "/static/messaging/ur1-store.js";
import * as harness from "/tests/ur1_harness.js";
window.ur1 = ur1;
window.ur1Store = ur1Store;
window.ur1Harness = harness;
document.documentElement.dataset.ready = "yes";
"""
PAGE = b"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>UR1</title>
<script type="module" src="/tests/ur1_page.js"></script></head><body></body></html>"""
FILES = {
    "/static/messaging/ur1.js": REPO / "messaging" / "static" / "messaging" / "ur1.js",
    "/static/messaging/ur1-store.js": REPO / "messaging" / "static" / "messaging" / "ur1-store.js",
    "/tests/ur1_harness.js": REPO / "tests" / "browser" / "ur1_harness.js",
}


def project_csp() -> str:
    """The Content-Security-Policy Tessera's pages send, from settings (django-csp's directives)."""
    directives = settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        if self.path == "/favicon.ico":
            self.send_response(204)
            self.end_headers()
            return
        if self.path == "/":
            body, kind = PAGE, "text/html; charset=utf-8"
        elif self.path == "/tests/ur1_page.js":
            body, kind = PAGE_MODULE, "text/javascript"
        elif self.path in FILES:
            body, kind = FILES[self.path].read_bytes(), "text/javascript"
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Security-Policy", project_csp())
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        return


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    chromium_path()  # skip (or fail in CI) before starting anything
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def page(server: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            context = chromium.new_context()
            context.set_default_timeout(60_000)
            context.expose_binding("__ur1CspViolation", lambda _source, text: problems.append(f"CSP: {text}"))
            context.add_init_script("document.addEventListener('securitypolicyviolation', (e) =>"
                                    " window.__ur1CspViolation(`${e.violatedDirective} ${e.blockedURI}`));")
            one = context.new_page()
            one.on("pageerror", lambda error: problems.append(f"page error: {error}"))
            one.on("console", lambda msg: problems.append(f"console: {msg.text}") if msg.type == "error" else None)
            one.goto(server + "/")
            one.wait_for_selector("html[data-ready=yes]", state="attached")
            PROBLEMS[id(one)] = problems
            yield one
        finally:
            chromium.close()


def run_in_page(page: Any, body: str, arg: Any = None) -> Any:
    """Evaluate `async (arg) => { body }` with `ur1`, `harness`, `V` (the vectors) and `W` (their world)."""
    script = ("async ([V, arg]) => { const ur1 = window.ur1; const harness = window.ur1Harness;"
              " const W = await harness.world(ur1, V); const hex = ur1.toHex; " + body + " }")
    return page.evaluate(script, [vectors(), arg])


def _report(results: list[dict[str, Any]]) -> str:
    return "\n".join(f"{r['name']}: {r['error']}" for r in results if not r["ok"])


def test_vectors_in_chromium(page: Any) -> None:
    results = page.evaluate("([V]) => window.ur1Harness.runVectors(window.ur1, V)", [vectors()])
    failed = _report(results)
    assert not failed, f"vectors from {vectors_path()} failed in Chromium:\n{failed}"
    v = vectors()
    # One check per person (x3), commit, wrap and message of the file, plus the fixed ones.
    assert len(results) == 3 * len(v["people"]) + len(v["commits"]) + len(v["wraps"]) + len(v["messages"]) + 16


def test_attack_list_in_chromium(page: Any) -> None:
    results = page.evaluate("([V]) => window.ur1Harness.runAttacks(window.ur1, V)", [vectors()])
    failed = _report(results)
    assert not failed, f"attacks not refused in Chromium:\n{failed}"
    assert len(results) >= 70


def test_python_message_opens_in_js_and_js_message_opens_in_python(page: Any) -> None:
    alice = people()["alice"]
    body = '{"type":"text","text":"Vote Thursday — ✊🏾","ts":1767226000000}'.encode()
    from_python = ur1.seal_message(body, es=epoch_secret(2), accepted=chain()[2], user=alice.user, device=alice.device,
                                   ctr=5, dsk_seed=alice.dsk_seed)
    opened = run_in_page(page, """
        const o = await ur1.openMessage(arg, {room: V.room, accepted: W.chain[2], es: W.es[2], replay: new ur1.ReplaySet()});
        return {body: new TextDecoder().decode(o.body), id: o.messageId};""", from_python)
    assert opened == {"body": body.decode(), "id": ur1.message_id(from_python)}

    from_js = run_in_page(page, """
        const bob = W.people.bob;
        return ur1.sealMessage(ur1.utf8(arg), {es: W.es[2], accepted: W.chain[2], user: bob.user, device: bob.device,
                                               ctr: 9, dsk: bob.dsk});""", "Strike vote — yes 🗳")
    got = ur1.open_message(from_js, room=vectors()["room"], accepted=chain()[2], es=epoch_secret(2),
                           replay=ur1.ReplaySet())
    assert got.body.decode() == "Strike vote — yes 🗳" and got.user == "u_bob" and got.ctr == 9


def test_js_wrap_and_raw_hpke_open_in_python(page: Any) -> None:
    bob = people()["bob"]
    made = run_in_page(page, """
        const bob = W.people.bob;
        const wrap = await ur1.makeWrap(W.es[2], W.chain[2], bob.user, bob.device);
        const raw = await ur1.hpkeSealBase(bob.dek.publicKey, ur1.utf8("cross info"), new Uint8Array(0), ur1.utf8("raw pt"));
        return {wrap, raw: hex(raw)};""")
    assert ur1.open_wrap(made["wrap"], chain()[2], my_user=bob.user, my_device=bob.device,
                         dek_secret=bob.dek_sk) == epoch_secret(2)
    suite = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
    private = x25519.X25519PrivateKey.from_private_bytes(bob.dek_sk)
    assert suite.decrypt(bytes.fromhex(made["raw"]), private, b"cross info") == b"raw pt"  # pyca's native HPKE
    w = ur1.b64u_decode(made["wrap"]["w"])
    info = ur1.wrap_info(vectors()["room"], 2, chain()[2].commit_id, bob.user, bob.device)
    assert suite.decrypt(w, private, info) == epoch_secret(2)


def test_python_wrap_opens_in_js(page: Any) -> None:
    alice = people()["alice"]
    wrap = ur1.make_wrap(epoch_secret(2), chain()[2], alice.user, alice.device)  # pyca native, random ephemeral
    es = run_in_page(page, """
        const a = W.people.alice;
        return hex(await ur1.openWrap(arg, W.chain[2], {myUser: a.user, myDevice: a.device, dek: a.dek}));""", wrap)
    assert es == epoch_secret(2).hex()


def test_js_commit_device_list_and_backup_verify_in_python(page: Any) -> None:
    """Generated (non-extractable) keys in JS: a device list, a commit built on the vectors' chain,
    a backup item; Python accepts all three."""
    made = run_in_page(page, """
        const keys = await ur1.generateDeviceKeys();
        const msk = await ur1.generateDeviceKeys();
        const dev = {id: ur1.b64uEncode(ur1.randomBytes(16)), dsk: keys.dsk.publicKey, dek: keys.dek.publicKey, added: 1767226000};
        const devlist = await ur1.signDeviceList(msk.dsk, "u_dana", 1, [dev]);
        const alice = W.people.alice;
        const es = ur1.randomBytes(32);
        const prior = W.chain[2].commit;
        const commit = await ur1.signCommit(alice.dsk, {...prior, epoch: 3, prev: W.chain[2].commitId,
            members: [...prior.members, {user: "u_dana", msk: msk.dsk.publicKey, role: "member"}],
            devices: [...prior.devices, {user: "u_dana", device: dev.id, dek: dev.dek, dsk: dev.dsk}],
            kc: await ur1.keyCommitment(es, V.room, 3), ts: prior.ts + 100, sig: new Uint8Array(0)});
        const root = await ur1.deriveRoot(arg, ur1.newParams());
        const params = ur1.newParams(ur1.randomBytes(16));
        const root2 = await ur1.deriveRoot(arg, params);
        const item = await ur1.sealItem(await ur1.backupKey(root2, "u_dana"), "u_dana", "msk", {seed: "secret"});
        return {devlist, commit, es: hex(es), params, item, extractable: keys.dsk.privateKey.extractable || keys.dek.privateKey.extractable,
                rootLength: root.length};""", "Ngũgĩ recovery phrase")
    assert made["extractable"] is False and made["rootLength"] == 32
    dana = ur1.parse_device_list(made["devlist"])
    lists = {p.user: [ur1.parse_device_list(p.raw["devlist"])] for p in people().values()} | {"u_dana": [dana]}
    accepted = ur1.accept_commit(made["commit"], room=vectors()["room"], previous=chain()[2], pins={}, device_lists=lists)
    assert accepted.commit.epoch == 3 and accepted.commit.kc == ur1.key_commitment(bytes.fromhex(made["es"]),
                                                                                   vectors()["room"], 3)
    bk = ur1.backup_key(ur1.derive_root("Ngũgĩ recovery phrase", made["params"]), "u_dana")
    assert ur1.open_item(bk, "u_dana", made["item"]) == {"seed": "secret"}


def test_module_ran_under_the_project_csp_without_problems(page: Any) -> None:
    assert "script-src 'self'" in project_csp() and "unsafe-eval" not in project_csp()
    assert page.evaluate("typeof window.ur1.openMessage") == "function"
    assert PROBLEMS[id(page)] == []


def test_ur1_js_is_a_static_file_of_the_project() -> None:
    from django.contrib.staticfiles import finders

    assert Path(str(finders.find("messaging/ur1.js"))) == FILES["/static/messaging/ur1.js"]
    for source in (path.read_text() for url, path in FILES.items() if url.startswith("/static/")):
        for forbidden in ("eval(", "new Function", "import(", "innerHTML", "http://", "https://"):
            assert forbidden not in source, forbidden


def test_python_made_vectors_reproduce_byte_for_byte_in_chromium(page: Any) -> None:
    """§5.1: vectors made by the Python client (fresh seeds) are reproduced exactly by the JS client."""
    from tests.messaging.make_ur1_vectors import make_vectors

    made = make_vectors("tessera ur1 browser cross-check ")
    results = page.evaluate("([V]) => window.ur1Harness.runVectors(window.ur1, V)", [made])
    failed = _report(results)
    assert not failed, f"Python-made vectors failed in Chromium:\n{failed}"
    assert len(results) == 35


def test_damaged_input_fails_closed_in_chromium(page: Any) -> None:
    """§5.4 parser fuzzing in the browser client, seeded as in tests/messaging/test_ur1_fuzz.py."""
    results = page.evaluate("([V]) => window.ur1Harness.runFuzz(window.ur1, V, 300)", [vectors()])
    failed = _report(results)
    assert not failed, f"damaged input not refused with UR1Error in Chromium:\n{failed}"
    assert len(results) == 8


def test_two_tabs_never_share_a_counter_and_keys_stay_non_extractable(page: Any, server: str) -> None:
    """§5.2 #13: two tabs of one device send at once from the same IndexedDB: distinct counters.
    Device keys stored there come back after a reload as non-extractable keys that still sign."""
    context = page.context
    second = context.new_page()
    try:
        second.goto(server + "/")
        second.wait_for_selector("html[data-ready=yes]", state="attached")
        start = """async () => { window.__store = await window.ur1Store.Store.open("ur1-two-tabs");
            window.__ctrs = Promise.all(Array.from({length: 40}, () =>
                window.__store.nextCounter("nniVPOSJw55ecv16eNDkAQ", 2, "7ixr-dGhvHXESY70F1IvVA"))); }"""
        page.evaluate(start)
        second.evaluate(start)
        counters = page.evaluate("() => window.__ctrs") + second.evaluate("() => window.__ctrs")
        assert sorted(counters) == list(range(80))

        page.evaluate("""async () => { const keys = await window.ur1.generateDeviceKeys();
            await window.__store.saveDeviceKeys("7ixr-dGhvHXESY70F1IvVA", keys);
            window.__pub = window.ur1.toHex(keys.dsk.publicKey); }""")
        public = page.evaluate("() => window.__pub")
        second.reload()
        second.wait_for_selector("html[data-ready=yes]", state="attached")
        loaded = second.evaluate("""async () => { const ur1 = window.ur1;
            const store = await window.ur1Store.Store.open("ur1-two-tabs");
            const keys = await store.loadDeviceKeys("7ixr-dGhvHXESY70F1IvVA");
            const sig = await ur1.ed25519Sign(keys.dsk, ur1.utf8("after reload"));
            await ur1.ed25519Verify(keys.dsk.publicKey, ur1.utf8("after reload"), sig);
            const seenFirst = await store.markSeen("r", 2, "d", 5);
            const seenAgain = await store.markSeen("r", 2, "d", 5);
            let refused = false;
            const exportable = await crypto.subtle.generateKey("Ed25519", true, ["sign", "verify"]);
            try { await store.saveDeviceKeys("x", {dsk: exportable, dek: keys.dek}); }
            catch (e) { refused = e instanceof ur1.UR1Error; }
            store.close();
            return {pub: ur1.toHex(keys.dsk.publicKey), extractable: keys.dsk.privateKey.extractable || keys.dek.privateKey.extractable,
                    seenFirst, seenAgain, refused}; }""")
        assert loaded == {"pub": public, "extractable": False, "seenFirst": True, "seenAgain": False, "refused": True}
        page.evaluate("async () => { window.__store.close(); await window.ur1Store.panicWipe('ur1-two-tabs'); }")
        names = second.evaluate("async () => (await indexedDB.databases()).map((d) => d.name)")
        assert "ur1-two-tabs" not in names
    finally:
        second.close()


def test_recovery_key_typed_loosely_gives_the_same_root_in_both_clients(page: Any) -> None:
    """§4.9: a generated recovery key (32 Crockford characters, 8 groups) typed in lower case with
    spaces derives the same root in JS as the key as generated does in Python; Argon2id parameters
    are refused by the JS client (no Argon2id in WebCrypto), never downgraded."""
    key = ur1.generate_recovery_key()
    assert len(key) == 39 and key.count("-") == 7
    params = ur1.new_params()
    typed = key.lower().replace("-", " ")
    made = run_in_page(page, """
        const root = hex(await ur1.deriveRoot(arg.typed, arg.params, {recoveryKey: true}));
        let argon = "";
        try { await ur1.deriveRoot("x", {v: 1, kdf: "argon2id", m: 65536, t: 3, p: 1, salt: arg.params.salt}); }
        catch (e) { argon = e instanceof ur1.UR1Error ? "UR1Error" : String(e); }
        const generated = ur1.generateRecoveryKey();
        return {root, argon, generated};""", {"typed": typed, "params": params})
    assert made["root"] == ur1.derive_root(key, params, recovery_key=True).hex()
    assert made["argon"] == "UR1Error"
    assert len(made["generated"]) == 39 and set(made["generated"].replace("-", "")) <= set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")


def test_the_sealed_room_name_is_the_same_bytes_in_js_and_python(page: Any) -> None:
    """messaging/ur1/meta.py and ur1.js's sealMeta/openMeta: with one nonce, the same blob; each opens
    the other's, and a non-admin's blob is refused by both."""
    alice = people()["alice"]
    assert chain()[2].commit.member(alice.user).role == "admin"  # type: ignore[union-attr]
    name = {"name": "Comité de grève — ✊🏾", "topic": "jeudi"}
    nonce = bytes(range(12))
    from_python = ur1.seal_meta(name, es=epoch_secret(2), accepted=chain()[2], user=alice.user,
                                device=alice.device, dsk_seed=alice.dsk_seed, nonce=nonce)
    made = run_in_page(page, """
        const a = W.people.alice;
        const sealed = await ur1.sealMeta(arg.name, {es: W.es[2], accepted: W.chain[2], user: a.user, device: a.device,
                                                     dsk: a.dsk, nonce: ur1.fromHex(arg.nonce)});
        const opened = await ur1.openMeta(arg.blob, {room: V.room, accepted: W.chain[2], es: W.es[2]});
        const bob = W.people.bob;
        let refused = "";
        try {
          await ur1.sealMeta(arg.name, {es: W.es[2], accepted: W.chain[2], user: bob.user, device: bob.device, dsk: bob.dsk});
        } catch (e) { refused = e.message; }
        // Tampered blobs fail closed: a flipped ciphertext bit, another epoch, a non-admin sender, an extra field.
        const ct = ur1.b64uDecode(arg.blob.ct);
        ct[7] ^= 1;
        const tampered = [{...arg.blob, ct: ur1.b64uEncode(ct)}, {...arg.blob, epoch: 1},
          {...arg.blob, sender: {user: bob.user, device: bob.device}}, {...arg.blob, name: "x"}];
        const failures = [];
        for (const blob of tampered) {
          try {
            await ur1.openMeta(blob, {room: V.room, accepted: W.chain[2], es: W.es[2]});
            failures.push("opened");
          } catch (e) { failures.push(e.name); }
        }
        return {sealed, opened, refused, failures};""", {"name": name, "nonce": nonce.hex(), "blob": from_python})
    assert made["sealed"] == from_python
    assert made["opened"] == name
    assert ur1.open_meta(made["sealed"], room=vectors()["room"], accepted=chain()[2], es=epoch_secret(2)) == name
    assert "admin" in made["refused"]
    assert made["failures"] == ["UR1Error"] * 4
