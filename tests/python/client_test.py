#!/usr/bin/python3
"""Proof that lawful.v1 stands alone: a Python client, with stubs generated from proto/ at test
time by Debian's protoc and grpc_python_plugin, decides contacts through a real lawfuld.

Run with Debian's interpreter (/usr/bin/python3, which has python3-grpcio):
  client_test.py --lawfuld build/server/lawfuld --rules rules --proto proto --protoc protoc
"""
import argparse
import glob
import os
import select
import signal
import subprocess
import sys
import tempfile
import unittest

ARGS = None


def generate_stubs(out_dir):
    protos = sorted(glob.glob(os.path.join(ARGS.proto, "lawful", "v1", "*.proto")))
    subprocess.run(
        [ARGS.protoc, "-I", ARGS.proto, "--python_out=" + out_dir, "--grpc_python_out=" + out_dir,
         "--plugin=protoc-gen-grpc_python=" + ARGS.grpc_python_plugin] + protos,
        check=True)
    sys.path.insert(0, out_dir)


class LawfuldFromPython(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        generate_stubs(cls.tmp.name)
        global contact_pb2, decision_pb2, service_pb2, service_pb2_grpc, grpc
        import grpc
        from lawful.v1 import contact_pb2, decision_pb2, service_pb2, service_pb2_grpc
        # Under ctest the server's log joins the others that log_grep_test searches for contact data.
        log_dir = os.environ.get("LAWFUL_TEST_LOG_DIR")
        if log_dir:
            os.makedirs(log_dir, exist_ok=True)
            cls.log = open(os.path.join(log_dir, "lawfuld-python-%d.log" % os.getpid()), "w")
        else:
            cls.log = subprocess.DEVNULL
        cls.server = subprocess.Popen(
            [ARGS.lawfuld, "--listen=127.0.0.1:0", "--rules=" + ARGS.rules, "--watch_interval=0"],
            stdout=subprocess.PIPE, stderr=cls.log, text=True)
        ready, _, _ = select.select([cls.server.stdout], [], [], 30)
        if not ready:
            cls.server.kill()
            raise RuntimeError("lawfuld did not start within 30 s")
        line = cls.server.stdout.readline()  # lawfuld: listening on 127.0.0.1:PORT, serving ...
        address = line.split("listening on ")[1].split(",")[0]
        cls.channel = grpc.insecure_channel(address)
        grpc.channel_ready_future(cls.channel).result(timeout=15)
        cls.stub = service_pb2_grpc.LawfulStub(cls.channel)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        cls.server.send_signal(signal.SIGTERM)
        try:
            cls.server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            cls.server.kill()
            cls.server.wait()
        if cls.log is not subprocess.DEVNULL:
            cls.log.close()
        cls.tmp.cleanup()

    def outreach(self, purpose="newsletter", channel=None):
        o = decision_pb2.Outreach(purpose=purpose, channel=channel or contact_pb2.CHANNEL_EMAIL)
        o.at.FromJsonString("2026-11-29T10:00:00Z")
        return o

    def consenting(self, contact_id="py-1"):
        c = contact_pb2.Contact(id=contact_id, email="anna@example.com", collection_purposes=["newsletter"])
        c.last_activity_at.FromJsonString("2026-10-01T00:00:00Z")
        k = c.consents.add(id="k-1", purpose="newsletter", channel=contact_pb2.CHANNEL_EMAIL,
                           source=contact_pb2.CONSENT_SOURCE_WEB_FORM)
        k.granted_at.FromJsonString("2026-01-01T00:00:00Z")
        return c

    def test_decide_allows_on_consent_with_evidence(self):
        response = self.stub.Decide(
            service_pb2.DecideRequest(outreach=self.outreach(), contact=self.consenting()), timeout=10)
        d = response.decision
        self.assertEqual(d.outcome, decision_pb2.OUTCOME_ALLOW)
        self.assertEqual(d.reason, "consent")
        self.assertEqual(d.citation, "GDPR Art. 6(1)(a)")
        self.assertEqual(d.evidence.record_id, "k-1")
        self.assertEqual(d.rule.file, "marketing.lawful")
        self.assertEqual(len(response.rule_set_version), 64)

    def test_batch_decides_in_order(self):
        withdrawn = self.consenting("py-2")
        withdrawn.consents[0].withdrawn_at.FromJsonString("2026-06-01T00:00:00Z")
        stranger = contact_pb2.Contact(id="py-3", email="x@example.com")
        stranger.last_activity_at.FromJsonString("2026-10-01T00:00:00Z")
        response = self.stub.DecideBatch(service_pb2.DecideBatchRequest(
            outreach=self.outreach(), contacts=[self.consenting(), withdrawn, stranger]), timeout=10)
        self.assertEqual([(d.contact_id, d.reason) for d in response.decisions],
                         [("py-1", "consent"), ("py-2", "consent_withdrawn"), ("py-3", "purpose_incompatible")])

    def test_undeclared_purpose_is_invalid_argument(self):
        with self.assertRaises(grpc.RpcError) as caught:
            self.stub.Decide(service_pb2.DecideRequest(outreach=self.outreach("telepathy"), contact=self.consenting()),
                             timeout=10)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("outreach.purpose", caught.exception.details())

    # Fail closed, as an integrating team's client would find it: each contact below is otherwise
    # allowed on its consent, and each change makes it that contact's own ERROR with its field
    # path, identically on Decide, DecideBatch and DecideStream. Contacts are sent as raw bytes
    # (a well-formed contact followed by the changed fields: a field given again replaces or
    # merges, as protobuf reads it), since no client library writes invalid UTF-8.
    @staticmethod
    def wire_len(number, body):
        tag, size, out = (number << 3) | 2, len(body), b""
        out += LawfuldFromPython.varint(tag) + LawfuldFromPython.varint(size)
        return out + body

    @staticmethod
    def varint(v):
        v &= (1 << 64) - 1
        out = b""
        while v >= 0x80:
            out += bytes([(v & 0x7F) | 0x80])
            v >>= 7
        return out + bytes([v])

    def malformed_cases(self):
        base = self.consenting("py-bad").SerializeToString()
        ts = lambda seconds: b"\x08" + self.varint(seconds)
        return [
            # (contact bytes, field path)
            (base + self.wire_len(11, ts(253402300800)), "erasure_requested_at"),
            (base + self.wire_len(9, b"\x10\x01" + self.wire_len(3, ts(2**63 - 1))), "objections[0].lodged_at"),
            (base + self.wire_len(9, b"\x10\x4d" + self.wire_len(3, ts(1767225600))), "objections[0].scope"),
            (base + b"\x50\x4d", "suppressions[0]"),
            (base + self.wire_len(12, b"\x20\x4d"), "relationship.opted_out_channels[0]"),
            (base + self.wire_len(4, b"anna\xff"), "email"),
            (base + self.wire_len(14, b"news\xc3"), "collection_purposes[1]"),
            (base + b"\x00\x01", ""),
        ]

    def raw(self, method, response_type):
        return self.channel.unary_unary("/lawful.v1.Lawful/" + method, request_serializer=None,
                                        response_deserializer=response_type.FromString)

    def test_a_contact_that_cannot_be_read_is_its_own_error_on_every_method(self):
        outreach = self.wire_len(1, self.outreach().SerializeToString())
        cases = self.malformed_cases()
        good = self.consenting("py-good").SerializeToString()
        batch = self.raw("DecideBatch", service_pb2.DecideBatchResponse)(
            outreach + b"".join(self.wire_len(2, c) for c, _ in cases) + self.wire_len(2, good), timeout=10)
        stream_call = self.channel.stream_stream(
            "/lawful.v1.Lawful/DecideStream", request_serializer=None,
            response_deserializer=service_pb2.DecideStreamResponse.FromString)
        start = self.wire_len(1, outreach)
        chunk = self.wire_len(2, b"".join(self.wire_len(1, c) for c, _ in cases))
        streamed = [d for r in stream_call(iter([start, chunk]), timeout=10)
                    if r.HasField("decisions") for d in r.decisions.decisions]
        self.assertEqual(batch.decisions[-1].outcome, decision_pb2.OUTCOME_ALLOW)
        for i, (contact, path) in enumerate(cases):
            with self.subTest(path=path):
                single = self.raw("Decide", service_pb2.DecideResponse)(
                    outreach + self.wire_len(2, contact), timeout=10).decision
                self.assertEqual(single.outcome, decision_pb2.OUTCOME_ERROR)
                self.assertEqual(single.error.field_path, path)
                b = batch.decisions[i]
                self.assertEqual(b.index, i)
                b.index = 0
                self.assertEqual(b.SerializeToString(), single.SerializeToString())
                s_ = streamed[i]
                s_.index = 0
                self.assertEqual(s_.SerializeToString(), single.SerializeToString())

    def test_rule_set_describes_policies(self):
        info = self.stub.GetRuleSet(service_pb2.GetRuleSetRequest(), timeout=10)
        self.assertIn("marketing", [p.name for p in info.policies])
        self.assertIn("newsletter", info.purposes)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--lawfuld", required=True)
    parser.add_argument("--rules", required=True)
    parser.add_argument("--proto", required=True)
    parser.add_argument("--protoc", default="protoc")
    parser.add_argument("--grpc_python_plugin", default="/usr/bin/grpc_python_plugin")
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)
