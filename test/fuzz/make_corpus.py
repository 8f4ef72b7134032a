#!/usr/bin/env python3
"""make_corpus.py - write the seed corpora of the `decode`, `cluster`
and `scram` fuzz targets.

decode: each seed is one byte selecting the connection (byte % 3 + 3 is
the protocol level, bit 7 sets a 64-byte maximum packet size; see
fuzz_decode.c) followed by one or more MQTT packets. The seeds cover every
packet type in each protocol level it exists in, v5 packets with every
property they allow, and one malformed or protocol-error case per decoder
rule, so that the fuzzer starts from deep inside the decoder and `make
check` replays each rule under the sanitizers.

cluster: each seed is the payload of one "$cluster/" message (layouts in
bridge/proto.h; fuzz_cluster.c decodes every input as each of the seven
messages): valid ones of each kind, with empty and larger counts, and one
per malformed shape the decoders refuse.

scram: each seed is a client-first-message, a NUL byte and a
client-final-message (fuzz_scram.c), in which "$N" stands for the
exchange's nonce and a final ",p=$P" for the right proof: valid logins
(both channel-binding flags, escaped user names, extensions) and one
case per refusal of each message.

Usage: make_corpus.py [TARGET] [OUTDIR]
  TARGET is decode (the default), cluster or scram; OUTDIR defaults to
  corpus/TARGET next to this file. (`make_corpus.py OUTDIR`, the old
  form, writes the decode seeds to OUTDIR.)
Stdlib only. Rewrites OUTDIR's *.bin seeds; keeps other files (crashers).
"""
import os
import struct
import sys

V31, V311, V5 = 0, 1, 2  # selector bytes: level = byte % 3 + 3


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def u16(n):
    return struct.pack(">H", n)


def u32(n):
    return struct.pack(">I", n)


def s(b):
    if isinstance(b, str):
        b = b.encode()
    return u16(len(b)) + b


def pkt(ptype, flags, body):
    return bytes([ptype << 4 | flags]) + varint(len(body)) + body


def props(*items):
    body = b"".join(bytes([pid]) + val for pid, val in items)
    return varint(len(body)) + body


NOPROPS = props()


def user(k, v):
    return (0x26, s(k) + s(v))


# Every property, grouped by the packets that allow it (MQTT 5.0 2.2.2.2).
CONNECT_PROPS = props(
    (0x11, u32(3600)), (0x21, u16(20)), (0x27, u32(65536)),
    (0x22, u16(10)), (0x19, b"\x01"), (0x17, b"\x00"),
    user("k", "v"), user("k", "v2"), (0x15, s("SCRAM-SHA-1")),
    (0x16, s(b"\x00\x01\x02")))
WILL_PROPS = props(
    (0x18, u32(30)), (0x01, b"\x01"), (0x02, u32(60)),
    (0x03, s("text/plain")), (0x08, s("reply/to")),
    (0x09, s(b"\xde\xad")), user("w", "x"))
CONNACK_PROPS = props(
    (0x11, u32(0)), (0x21, u16(100)), (0x24, b"\x01"), (0x25, b"\x00"),
    (0x27, u32(1 << 20)), (0x12, s("auto-1")), (0x22, u16(5)),
    (0x1F, s("ok")), user("a", "b"), (0x28, b"\x01"), (0x29, b"\x01"),
    (0x2A, b"\x00"), (0x13, u16(60)), (0x1A, s("resp/")),
    (0x1C, s("other:1883")), (0x15, s("m")), (0x16, s(b"d")))
PUBLISH_PROPS = props(
    (0x01, b"\x00"), (0x02, u32(10)), (0x23, u16(3)),
    (0x08, s("r/t")), (0x09, s(b"cd")), user("u", "1"),
    (0x0B, varint(1)), (0x0B, varint(268435455)), (0x03, s("bin")))
ACK_PROPS = props((0x1F, s("why")), user("p", "q"))


def connect(level, flags=0x02, keep=60, cid="c1", prop=b"",
            will=None, username=None, password=None, name=None):
    if name is None:
        name = "MQIsdp" if level == 3 else "MQTT"
    body = s(name) + bytes([level, flags]) + u16(keep)
    if level == 5:
        body += prop or NOPROPS
    body += s(cid)
    if will is not None:
        wprops, wtopic, wpayload = will
        if level == 5:
            body += wprops
        body += s(wtopic) + s(wpayload)
    if username is not None:
        body += s(username)
    if password is not None:
        body += s(password)
    return pkt(1, 0, body)


def publish(topic, payload=b"", qos=0, pid=1, retain=0, dup=0, prop=None,
            flags=None):
    body = s(topic)
    if qos:
        body += u16(pid)
    if prop is not None:
        body += prop
    body += payload
    if flags is None:
        flags = dup << 3 | qos << 1 | retain
    return pkt(3, flags, body)


def seeds():
    out = {}

    def add(name, sel, *packets):
        out[name] = bytes([sel]) + b"".join(packets)

    full_flags = 0x02 | 0x04 | (1 << 3) | 0x20 | 0x40 | 0x80
    for sel, level, tag in ((V31, 3, "v31"), (V311, 4, "v311"),
                            (V5, 5, "v5")):
        v5 = level == 5
        pp = NOPROPS if v5 else None
        add(tag + "-connect-min", sel, connect(level))
        add(tag + "-connect-full", sel, connect(
            level, flags=full_flags, cid="client-\u00e9",
            prop=CONNECT_PROPS if v5 else b"",
            will=(WILL_PROPS if v5 else b"", "will/t", b"bye"),
            username="user", password=b"\x00pw"))
        add(tag + "-connack", sel, pkt(2, 0, b"\x01\x00" +
                                       (CONNACK_PROPS if v5 else b"")))
        add(tag + "-publish-q0", sel, publish("a/b", b"hello", prop=pp))
        add(tag + "-publish-q1-retain", sel,
            publish("a/b", b"x" * 40, qos=1, pid=7, retain=1, prop=pp))
        add(tag + "-publish-q2-dup", sel,
            publish("a/\u00fc", b"", qos=2, pid=65535, dup=1, prop=pp))
        add(tag + "-acks", sel, *[pkt(t, 2 if t == 6 else 0, u16(9))
                                  for t in (4, 5, 6, 7)])
        sub_list = s("a/+/c") + b"\x01" + s("#") + b"\x02" + s("x") + b"\x00"
        add(tag + "-subscribe", sel,
            pkt(8, 2, u16(10) + (NOPROPS if v5 else b"") + sub_list))
        add(tag + "-unsubscribe", sel,
            pkt(10, 2, u16(11) + (NOPROPS if v5 else b"") + s("a/+/c") +
                s("#")))
        add(tag + "-suback", sel,
            pkt(9, 0, u16(10) + (NOPROPS if v5 else b"") + b"\x00\x01\x80"))
        add(tag + "-unsuback", sel,
            pkt(11, 0, u16(11) + (NOPROPS + b"\x00\x11" if v5 else b"")))
        add(tag + "-pingreq-pingresp", sel, pkt(12, 0, b""), pkt(13, 0, b""))
        add(tag + "-disconnect", sel, pkt(14, 0, b""))
        # A whole session on one stream.
        add(tag + "-session", sel,
            connect(level, prop=CONNECT_PROPS if v5 else b""),
            pkt(8, 2, u16(1) + (props((0x0B, varint(5))) if v5 else b"") +
                s("im/u/1") + b"\x01"),
            publish("im/u/1", b"hi", qos=1, pid=2, prop=pp),
            pkt(4, 0, u16(2)),
            publish("im/u/1", b"hi2", qos=2, pid=3, prop=pp),
            pkt(5, 0, u16(3)), pkt(6, 2, u16(3)), pkt(7, 0, u16(3)),
            pkt(12, 0, b""), pkt(14, 0, b""))

    # v5-only shapes.
    add("v5-publish-allprops", V5,
        publish("a/b", b"{}", qos=1, pid=3, prop=PUBLISH_PROPS))
    add("v5-publish-alias-empty-topic", V5,
        publish("", b"p", prop=props((0x23, u16(1)))))
    for t in (4, 5, 6, 7):
        f = 2 if t == 6 else 0
        rc = b"\x92" if t in (6, 7) else b"\x10"
        add("v5-ack%d-reason-props" % t, V5, pkt(t, f, u16(9) + rc),
            pkt(t, f, u16(9) + rc + ACK_PROPS),
            pkt(t, f, u16(9) + b"\x00" + ACK_PROPS))
    add("v5-subscribe-options", V5, pkt(8, 2, u16(1) + props(
        (0x0B, varint(300)), user("s", "t")) +
        s("$share/g/a/#") + b"\x2a" + s("b") + b"\x1e"))
    add("v5-unsubscribe-props", V5,
        pkt(10, 2, u16(1) + props(user("a", "b")) + s("$share/g/x")))
    add("v5-suback-props", V5, pkt(9, 0, u16(1) + ACK_PROPS +
                                   b"\x00\x02\x8f\x9e\xa1\xa2\x97"))
    add("v5-unsuback-props", V5, pkt(11, 0, u16(1) + ACK_PROPS +
                                     b"\x00\x11\x87\x8f"))
    add("v5-disconnect-reason", V5, pkt(14, 0, b"\x04"))
    add("v5-disconnect-props", V5, pkt(14, 0, b"\x8e" + props(
        (0x11, u32(0)), (0x1F, s("bye")), user("x", "y"),
        (0x1C, s("srv2")))))
    add("v5-auth-empty", V5, pkt(15, 0, b""))
    add("v5-auth-full", V5, pkt(15, 0, b"\x18" + props(
        (0x15, s("SCRAM")), (0x16, s(b"\x01\x02")), (0x1F, s("more")),
        user("a", "b"))))
    add("v5-connack-fail", V5, pkt(2, 0, b"\x00\x84" + props(
        (0x1F, s("no")))))
    add("v5-connect-password-no-user", V5,
        connect(5, flags=0x42, password=b"pw"))
    add("v5-connect-will-q2", V5, connect(
        5, flags=0x02 | 0x04 | (2 << 3), will=(NOPROPS, "w", b"")))
    add("v311-connect-empty-cid", V311, connect(4, cid=""))
    add("v311-switch-to-v5", V311, connect(5), pkt(15, 0, b"\x19"))
    add("varint-edges", V311,
        publish("t", b"z" * (127 - 3)),          # remaining 127
        publish("t", b"z" * (128 - 3)),          # remaining 128
        publish("t", b"z" * (16383 - 3)),
        publish("t", b"z" * (16384 - 3)))
    add("varint-nonminimal", V311, b"\xc0\x80\x00")  # PINGREQ, len 0x80 0x00

    # Malformed and protocol errors (one rule each).
    add("bad-type0", V311, b"\x00\x00")
    add("bad-varint-5bytes", V311, b"\x30\xff\xff\xff\xff\x01")
    add("bad-flags-pubrel", V311, pkt(6, 0, u16(1)))
    add("bad-flags-subscribe", V5, pkt(8, 0, u16(1) + NOPROPS + s("a") +
                                       b"\x00"))
    add("bad-flags-unsubscribe", V311, pkt(10, 3, u16(1) + s("a")))
    add("bad-flags-puback", V311, pkt(4, 1, u16(1)))
    add("bad-flags-pingreq", V311, pkt(12, 8, b""))
    add("bad-publish-qos3", V311, publish("a", qos=3, flags=0x06))
    add("bad-publish-dup-qos0", V311, publish("a", flags=0x08))
    add("bad-publish-pid0", V311, publish("a", qos=1, pid=0))
    add("bad-publish-wildcard", V5, publish("a/+", prop=NOPROPS))
    add("bad-publish-hash", V311, publish("a/#"))
    add("bad-publish-empty-topic", V5, publish("", prop=NOPROPS))
    add("bad-publish-empty-topic-v311", V311, publish(""))
    add("bad-publish-alias0", V5, publish("a", prop=props((0x23, u16(0)))))
    add("bad-publish-subid0", V5, publish("a", prop=props((0x0B, b"\x00"))))
    add("bad-publish-pfi2", V5, publish("a", prop=props((0x01, b"\x02"))))
    add("bad-publish-dup-prop", V5, publish("a", prop=props(
        (0x02, u32(1)), (0x02, u32(2)))))
    add("bad-publish-wrong-ctx", V5, publish("a", prop=props(
        (0x11, u32(1)))))
    add("bad-publish-unknown-prop", V5, publish("a", prop=props(
        (0x7F, b""))))
    add("bad-publish-proplen-long", V5, publish("a", prop=b"\x10\x01"))
    add("bad-publish-prop-varint5", V5, publish("a", prop=b"\x06\x0b\xff"
                                                b"\xff\xff\xff\x01"))
    add("bad-utf8-surrogate", V311, publish(b"a\xed\xa0\x80"))
    add("bad-utf8-overlong", V311, publish(b"\xc0\x80"))
    add("bad-utf8-overlong3", V311, publish(b"\xe0\x80\x80"))
    add("bad-utf8-nul", V311, publish(b"a\x00b"))
    add("bad-utf8-above-max", V311, publish(b"\xf4\x90\x80\x80"))
    add("bad-utf8-truncated", V311, publish(b"a\xe2\x82"))
    add("ok-utf8-4byte", V311, publish(b"\xf0\x9f\x98\x80"))
    add("bad-utf8-user-prop", V5, publish("a", prop=props(
        (0x26, s(b"k") + s(b"\xff")))))
    add("bad-connect-name", V311, connect(4, name="MQTX"))
    add("bad-connect-level", V311, connect(6))
    add("bad-connect-mqisdp-level4", V311, connect(4, name="MQIsdp"))
    add("bad-connect-reserved", V311, connect(4, flags=0x03))
    add("bad-connect-willqos-nowill", V311, connect(4, flags=0x0a))
    add("bad-connect-willretain-nowill", V311, connect(4, flags=0x22))
    add("bad-connect-willqos3", V311, connect(
        4, flags=0x1e, will=(b"", "w", b"")))
    add("bad-connect-pw-no-user", V311, connect(4, flags=0x42,
                                                password=b"x"))
    add("bad-connect-truncated", V311, pkt(1, 0, connect(4)[2:-3]))
    add("bad-connect-leftover", V311, pkt(1, 0, connect(4)[2:] + b"\x00"))
    add("bad-connect-authdata-only", V5, connect(5, prop=props(
        (0x16, s(b"x")))))
    add("bad-connect-rm0", V5, connect(5, prop=props((0x21, u16(0)))))
    add("bad-connect-mps0", V5, connect(5, prop=props((0x27, u32(0)))))
    add("bad-connect-rpi2", V5, connect(5, prop=props((0x17, b"\x02"))))
    add("v5-connect-dup-user", V5, connect(5, prop=props(
        user("a", "b"), user("a", "b"))))
    add("bad-connect-will-ctx", V5, connect(
        5, flags=0x06, will=(props((0x11, u32(1))), "w", b"")))
    add("bad-connack-maxqos2", V5, pkt(2, 0, b"\x00\x00" + props(
        (0x24, b"\x02"))))
    add("bad-connack-retainavail2", V5, pkt(2, 0, b"\x00\x00" + props(
        (0x25, b"\x02"))))
    add("bad-connack-flags", V311, pkt(2, 0, b"\x02\x00"))
    add("bad-connack-rc-v3", V311, pkt(2, 0, b"\x00\x06"))
    add("bad-connack-rc-v5", V5, pkt(2, 0, b"\x00\x01" + NOPROPS))
    add("bad-sub-v3-options", V311, pkt(8, 2, u16(1) + s("a") + b"\x04"))
    add("bad-sub-v5-options", V5, pkt(8, 2, u16(1) + NOPROPS + s("a") +
                                      b"\x40"))
    add("bad-sub-qos3", V5, pkt(8, 2, u16(1) + NOPROPS + s("a") + b"\x03"))
    add("bad-sub-rh3", V5, pkt(8, 2, u16(1) + NOPROPS + s("a") + b"\x30"))
    add("bad-sub-nolocal-shared", V5, pkt(8, 2, u16(1) + NOPROPS +
                                          s("$share/g/a") + b"\x04"))
    add("bad-sub-empty", V311, pkt(8, 2, u16(1)))
    add("bad-sub-pid0", V311, pkt(8, 2, u16(0) + s("a") + b"\x00"))
    add("bad-sub-missing-options", V311, pkt(8, 2, u16(1) + s("a")))
    add("bad-sub-dup-subid", V5, pkt(8, 2, u16(1) + props(
        (0x0B, b"\x01"), (0x0B, b"\x02")) + s("a") + b"\x00"))
    add("bad-unsub-empty", V5, pkt(10, 2, u16(1) + NOPROPS))
    add("bad-unsub-wrong-ctx", V5, pkt(10, 2, u16(1) + props(
        (0x0B, b"\x01")) + s("a")))
    add("bad-suback-rc", V311, pkt(9, 0, u16(1) + b"\x03"))
    add("bad-unsuback-v311-payload", V311, pkt(11, 0, u16(1) + b"\x00"))
    add("bad-unsuback-rc", V5, pkt(11, 0, u16(1) + NOPROPS + b"\x01"))
    add("bad-ack-pid0", V311, pkt(4, 0, u16(0)))
    add("bad-ack-v311-long", V311, pkt(4, 0, u16(1) + b"\x00"))
    add("bad-ack-rc", V5, pkt(4, 0, u16(1) + b"\x92"))
    add("bad-pubrel-rc", V5, pkt(6, 2, u16(1) + b"\x10"))
    add("bad-ack-proplen", V5, pkt(4, 0, u16(1) + b"\x00\x05\x1f"))
    add("bad-pingreq-body", V311, pkt(12, 0, b"\x00"))
    add("bad-pingresp-body", V5, pkt(13, 0, b"\x00"))
    add("bad-disconnect-v311-body", V311, pkt(14, 0, b"\x00"))
    add("bad-disconnect-rc", V5, pkt(14, 0, b"\x05"))
    add("bad-disconnect-dup", V5, pkt(14, 0, b"\x00" + props(
        (0x11, u32(1)), (0x11, u32(1)))))
    add("bad-auth-v311", V311, pkt(15, 0, b""))
    add("bad-auth-rc", V5, pkt(15, 0, b"\x87"))
    add("too-large", V311 | 0x80, publish("a", b"x" * 100))
    add("truncated-stream", V5, connect(5)[:10])
    return out


def u64(n):
    return struct.pack(">Q", n)


# The cluster's messages (bridge/proto.h).
ROUTE_ADD, ROUTE_DEL = 1, 2


def routes(flags, version, *records):
    return bytes([flags]) + u64(version) + b"".join(
        bytes([op]) + s(f) for op, f in records)


def claim(cid, flags=0, claim_id=0x18BCFE5680001):
    return u64(claim_id) + bytes([flags]) + (
        cid.encode() if isinstance(cid, str) else cid)


def claimed(answer, claim_id=0x18BCFE5680001):
    return u64(claim_id) + bytes([answer])


def session(cid, subs=(), ids=(), claim_id=0x18BCFE5680001, expiry=3600,
            next_seq=(1 << 20) + 5, sent_max=3, n_subs=None, n_ids=None):
    body = u64(claim_id) + u32(expiry) + u64(next_seq) + u64(sent_max)
    body += u32(len(subs) if n_subs is None else n_subs)
    for opt, sub_id, f in subs:
        body += bytes([opt]) + u32(sub_id) + s(f)
    body += u32(len(ids) if n_ids is None else n_ids)
    body += b"".join(u16(i) for i in ids)
    return body + (cid.encode() if isinstance(cid, str) else cid)


def session_end(cid, claim_id=0x18BCFE5680001):
    return u64(claim_id) + (cid.encode() if isinstance(cid, str) else cid)


def seen(cid, mixes=(), claim_id=0x18BCFE5680001, n=None):
    return (u64(claim_id) + u16(len(mixes) if n is None else n) +
            b"".join(u64(x) for x in mixes) +
            (cid.encode() if isinstance(cid, str) else cid))


B64URL = (b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
          b"0123456789-_")


def ident(prev, seq, origin=0):
    """The identity property value of link protocol 2 (proto.h)."""
    def varint(v):
        out = b""
        while v >= 32:
            out += B64URL[32 | (v & 31):][:1]
            v >>= 5
        return out + B64URL[v:][:1]
    d = ((seq >> 20) - (prev >> 20)) % (1 << 44)
    z = ((1 << 44) - d) * 2 - 1 if d >= 1 << 43 else d * 2
    out = varint(z) + varint(seq & 0xFFFFF)
    if origin:
        out += bytes(B64URL[(origin >> (6 * i)) & 63]
                     for i in range(10, -1, -1))
    return out


def cluster_seeds():
    out = {}
    long_filter = "/".join("level%d" % i for i in range(150))
    subs = ((0x01, 0, "im/u/alice"), (0x2A, 300, "$share/g/a/#"),
            (0x02, 268435455, "+/+/status"))
    many = tuple((i % 3, i, "t/%d/+" % i) for i in range(50))
    out["routes-increment-add"] = routes(0, 1, (ROUTE_ADD, "im/u/alice"))
    out["routes-increment-del"] = routes(0, 2, (ROUTE_DEL, "im/u/alice"))
    out["routes-full-empty"] = routes(0x03, 0)
    out["routes-full-one-part"] = routes(
        0x03, 7, (ROUTE_ADD, "a/b"), (ROUTE_ADD, "$share/g/x/+"),
        (ROUTE_ADD, "#"), (ROUTE_ADD, long_filter))
    out["routes-full-first"] = routes(
        0x01, 12, *[(ROUTE_ADD, "r/%d" % i) for i in range(40)])
    out["routes-full-last"] = routes(0x02, 12, (ROUTE_ADD, "r/last"))
    out["routes-flags-unknown-bits"] = routes(
        0xFC, 2 ** 64 - 1, (ROUTE_DEL, "x"))
    out["ack-0"] = u64(0)
    out["ack-version"] = u64(1234567)
    out["ack-max"] = u64(2 ** 64 - 1)
    out["claim-clean"] = claim("alice", 1)
    out["claim-resume"] = claim("alice", 0)
    out["claim-empty-id"] = claim("", 0)
    out["claim-utf8-id"] = claim("client-\u00e9", 0xFF)
    out["claim-long-id"] = claim("c" * 300, 0)
    out["claimed-given-up"] = claimed(0)
    out["claimed-refused"] = claimed(1)
    out["claimed-wait"] = claimed(2)
    out["claimed-no-answer"] = u64(0x18BCFE5680001)
    out["claimed-trailing"] = claimed(2) + b"\x00\x01"
    out["session-empty"] = session("x")
    out["session-subs-ids"] = session("alice", subs, (1, 2, 65535))
    out["session-many-subs"] = session("bob", many, tuple(range(1, 30)))
    out["session-long-filter"] = session(
        "carol", ((0x00, 0, long_filter),), (), sent_max=0)
    out["session-long-id"] = session("d" * 300, subs[:1])
    out["session-end"] = session_end("alice")
    out["session-end-empty-id"] = session_end("")
    out["seen-none"] = seen("alice")
    out["seen-three"] = seen("alice", (1, 0x9E3779B97F4A7C15, 2 ** 64 - 1))
    # Malformed: one per rule of the decoders.
    out["bad-empty"] = b""
    out["bad-routes-head-cut"] = routes(0, 1)[:8]
    out["bad-routes-op0"] = routes(0, 1) + b"\x00" + s("a")
    out["bad-routes-op3-after-good"] = routes(
        0, 1, (ROUTE_ADD, "a")) + b"\x03" + s("b")
    out["bad-routes-record-cut"] = routes(0, 1, (ROUTE_ADD, "abc"))[:-1]
    out["bad-routes-record-head-cut"] = routes(0, 1) + b"\x01\x00"
    out["bad-ack-short"] = u64(1)[:7]
    out["bad-ack-long"] = u64(1) + b"\x00"
    out["bad-claim-head-cut"] = claim("")[:8]
    out["bad-claimed-cut"] = claimed(0)[:7]
    out["bad-session-head-cut"] = session("x")[:31]
    out["bad-session-subs-too-many"] = session("x", subs, n_subs=4)
    out["bad-session-subs-max"] = session("x", n_subs=2 ** 32 - 1)
    out["bad-session-sub-filter-cut"] = session("x", subs[:1])[:32 + 7 + 5]
    out["bad-session-ids-no-room"] = session("", (), (1, 2))
    out["bad-session-ids-max"] = session("x", (), (1,), n_ids=2 ** 32 - 1)
    out["bad-session-empty-id"] = session("", subs)
    out["bad-session-end-cut"] = session_end("")[:7]
    out["bad-seen-no-id"] = seen("", (5,))
    out["bad-seen-count-past-end"] = seen("ab", (5,), n=2)
    # The identity of a forwarded message: the previous sequence of the
    # link, then the property value (fuzz_cluster.c).
    ms = 1765000000000 << 20
    out["id-next-ms"] = u64(ms) + ident(ms, ms + (3 << 20))
    out["id-same-ms"] = u64(ms) + ident(ms, ms + 1)
    out["id-back-low-40"] = u64(ms) + ident(ms, ms - (2 << 20) + 40)
    out["id-first-on-link"] = u64(0) + ident(0, ms + 5)
    out["id-origin"] = u64(ms) + ident(ms, ms + (1 << 20), 2 ** 64 - 1)
    out["id-max"] = u64(0) + b"________P___f"
    out["bad-id-not-minimal"] = u64(ms) + b"gA"
    out["bad-id-origin-short"] = u64(ms) + b"CAAAAAAAAAB"
    out["bad-id-origin-over"] = u64(ms) + b"CAQAAAAAAAAAA"
    out["bad-id-char"] = u64(ms) + b"C="
    return out


def scram_seeds():
    """scram: client-first NUL client-final (fuzz_scram.c); "$N" stands
    for the server nonce and a final ",p=$P" for the right proof of the
    password, which the target fills in."""
    import base64
    out = {}

    def ex(first, final=None):
        if isinstance(first, str):
            first = first.encode()
        if final is None:
            return first
        if isinstance(final, str):
            final = final.encode()
        return first + b"\0" + final

    def c(gs2):
        return "c=" + base64.b64encode(gs2.encode()).decode()

    ok_final = c("n,,") + ",r=$N,p=$P"
    # valid logins
    out["ok-rfc7677"] = ex("n,,n=user,r=rOprNGfwEbeRWgbNEkqO", ok_final)
    out["ok-cbind-y"] = ex("y,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
                           c("y,,") + ",r=$N,p=$P")
    out["ok-authzid-empty"] = ex("n,a=,n=user,r=abc",
                                 c("n,a=,") + ",r=$N,p=$P")
    out["ok-escaped-user"] = ex("n,,n=a=2Cb=3Dc,r=abc", ok_final)
    out["ok-extensions"] = ex("n,,n=user,r=abc,x=first",
                              c("n,,") + ",r=$N,y=final,p=$P")
    out["ok-long-nonce"] = ex("n,,n=user,r=" + "N" * 256, ok_final)
    # refused at the client-final
    out["bad-proof-wrong"] = ex("n,,n=user,r=abc", c("n,,") + ",r=$N,p=" +
                                base64.b64encode(bytes(32)).decode())
    out["bad-proof-short"] = ex("n,,n=user,r=abc",
                                c("n,,") + ",r=$N,p=AAAA")
    out["bad-proof-long"] = ex("n,,n=user,r=abc", c("n,,") + ",r=$N,p=" +
                               base64.b64encode(bytes(33)).decode())
    out["bad-proof-chars"] = ex("n,,n=user,r=abc",
                                c("n,,") + ",r=$N,p=!!!!")
    out["bad-proof-none"] = ex("n,,n=user,r=abc", c("n,,") + ",r=$N")
    out["bad-proof-empty"] = ex("n,,n=user,r=abc", c("n,,") + ",r=$N,p=")
    out["bad-nonce-client-only"] = ex("n,,n=user,r=abc",
                                      c("n,,") + ",r=abc,p=$P")
    out["bad-nonce-missing"] = ex("n,,n=user,r=abc", c("n,,") + ",p=$P")
    out["bad-cbind-mismatch"] = ex("n,,n=user,r=abc",
                                   c("y,,") + ",r=$N,p=$P")
    out["bad-cbind-missing"] = ex("n,,n=user,r=abc", "r=$N,p=$P")
    out["bad-final-empty"] = ex("n,,n=user,r=abc", b"")
    out["bad-final-nul"] = ex("n,,n=user,r=abc",
                              (c("n,,") + ",r=$N").encode() + b"\0,p=$P")
    out["bad-user-unknown"] = ex("n,,n=nobody,r=abc", ok_final)
    out["bad-user-pbkdf2"] = ex("n,,n=plain,r=abc", ok_final)
    # refused at the client-first
    out["first-only"] = ex("n,,n=user,r=abc")
    out["bad-first-empty"] = ex("", ok_final)
    out["bad-cbind-p"] = ex("p=tls-unique,,n=user,r=abc", ok_final)
    out["bad-gs2-flag"] = ex("x,,n=user,r=abc", ok_final)
    out["bad-gs2-short"] = ex("n,")
    out["bad-authzid"] = ex("n,a=admin,n=user,r=abc", ok_final)
    out["bad-mandatory-ext"] = ex("n,,m=ext,n=user,r=abc", ok_final)
    out["bad-saslname-escape"] = ex("n,,n=a=2Xb,r=abc", ok_final)
    out["bad-saslname-comma-end"] = ex("n,,n=ab=2,r=abc", ok_final)
    out["bad-user-empty"] = ex("n,,n=,r=abc", ok_final)
    out["bad-user-long"] = ex("n,,n=" + "u" * 257 + ",r=abc", ok_final)
    out["bad-nonce-none"] = ex("n,,n=user")
    out["bad-nonce-empty"] = ex("n,,n=user,r=", ok_final)
    out["bad-nonce-long"] = ex("n,,n=user,r=" + "N" * 257, ok_final)
    out["bad-nonce-ctrl"] = ex(b"n,,n=user,r=a\x01b", ok_final)
    out["bad-nonce-not-r"] = ex("n,,n=user,x=abc", ok_final)
    return out


TARGETS = {"decode": seeds, "cluster": cluster_seeds, "scram": scram_seeds}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    args = sys.argv[1:]
    target = "decode"
    if args and args[0] in TARGETS:
        target = args.pop(0)
    outdir = args[0] if args else os.path.join(here, "corpus", target)
    os.makedirs(outdir, exist_ok=True)
    for f in os.listdir(outdir):
        if f.endswith(".bin"):
            os.unlink(os.path.join(outdir, f))
    all_seeds = TARGETS[target]()
    for name, data in sorted(all_seeds.items()):
        with open(os.path.join(outdir, name + ".bin"), "wb") as fp:
            fp.write(data)
    print("%d seeds written to %s" % (len(all_seeds), outdir))


if __name__ == "__main__":
    main()
