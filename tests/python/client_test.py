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
