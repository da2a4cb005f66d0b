"""`lawful lsp` spoken to over stdio by a real JSON-RPC client: every feature on the shipped rules
and on broken files; its diagnostics are `lawful check`'s, position for position.

    lsp_test.py --lawful build/cli/lawful --rules rules
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lsp_client import Client, frame  # noqa: E402

ARGS = None


def utf16_to_byte_column(line: str, character: int) -> int:
    """The 1-based byte column of a UTF-16 offset into `line`."""
    units = 0
    for i, ch in enumerate(line):
        if units >= character:
            return len(line[:i].encode()) + 1
        units += 2 if ord(ch) > 0xFFFF else 1
    return len(line.encode()) + 1


def check_diagnostics(rules_dir: str):
    """`lawful check`'s diagnostics: {(file, line, byte column, severity, message)}."""
    run = subprocess.run([ARGS.lawful, "check", rules_dir], capture_output=True, text=True)
    found = set()
    for m in re.finditer(r"^(\S+?):(\d+):(\d+): (error|warning): (.*)$", run.stderr, re.M):
        found.add((m[1], int(m[2]), int(m[3]), m[4], m[5]))
    return found


def lsp_diagnostics(published, rules_dir, texts):
    """The published diagnostics in `lawful check`'s terms (UTF-16 converted back to bytes)."""
    found = set()
    for uri, diagnostics in published.items():
        path = os.path.relpath(uri[len("file://"):], rules_dir)
        lines = texts[path].split("\n")
        for d in diagnostics:
            start = d["range"]["start"]
            column = utf16_to_byte_column(lines[start["line"]], start["character"])
            severity = "error" if d["severity"] == 1 else "warning"
            found.add((path, start["line"] + 1, column, severity, d["message"]))
    return found


class RuleSetCase(unittest.TestCase):
    """A copy of the shipped rules in a temporary directory, and a client on it."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="lawful-lsp-")
        for name in os.listdir(ARGS.rules):
            if name.endswith(".lawful"):
                shutil.copy(os.path.join(ARGS.rules, name), self.dir)
        self.client = Client(ARGS.lawful)
        self.client.initialize(self.dir)

    def tearDown(self):
        code = self.client.close()
        shutil.rmtree(self.dir)
        self.assertEqual(code, 0, "lawful lsp exits 0 after shutdown and exit")

    def path(self, name):
        return os.path.join(self.dir, name)

    def uri(self, name):
        return "file://" + self.path(name)

    def read(self, name):
        with open(self.path(name), encoding="utf-8") as f:
            return f.read()

    def write(self, name, text):
        with open(self.path(name), "w", encoding="utf-8") as f:
            f.write(text)

    def texts(self):
        return {n: self.read(n) for n in os.listdir(self.dir) if n.endswith(".lawful")}

    def position_of(self, name, needle, occurrence=0, offset=0):
        """The LSP position of the `occurrence`th `needle` in file `name` (+offset characters)."""
        text = self.read(name)
        index = -1
        for _ in range(occurrence + 1):
            index = text.index(needle, index + 1)
        index += offset
        line = text.count("\n", 0, index)
        line_start = text.rfind("\n", 0, index) + 1
        character = len(text[line_start:index].encode("utf-16-le")) // 2
        return {"line": line, "character": character}

    def at(self, name, needle, occurrence=0, offset=0):
        return {"textDocument": {"uri": self.uri(name)},
                "position": self.position_of(name, needle, occurrence, offset)}


class Diagnostics(RuleSetCase):
    def test_shipped_rules_have_none(self):
        published = self.client.open(self.path("marketing.lawful"))
        self.assertEqual(sorted(published), sorted(self.uri(n) for n in self.texts()),
                         "one publication per file of the rule set")
        self.assertTrue(all(d == [] for d in published.values()), published)
        self.assertEqual(check_diagnostics(self.dir), set())

    # A broken rule set a row: (what is broken, file, text replaced, replacement).
    BROKEN = [
        ("a syntax error", "marketing.lawful", "deny objection when", "deny objection whn"),
        ("an unknown name", "marketing.lawful", "when erasure_requested", "when erasure_requestd"),
        ("an unknown field after a §, so UTF-16 and byte columns differ", "marketing.lawful",
         'cite "MFL 19 §"\n', 'cite "MFL 19 §"\n    note "§ 4"\n    valid until contact.last_actvity_at\n'),
        ("a const used in another file, removed", "common.lawful",
         "const RETENTION = 24 months", "const RETAIN = 24 months"),
        ("a policy declared twice", "service_notices.lawful",
         "policy service_notices", "policy marketing"),
        ("a rule without a citation", "service_notices.lawful",
         'cite "GDPR Art. 6(1)(d)"\n', ""),
        ("a warning: a rule name used twice", "service_notices.lawful",
         "allow vital_interest", "allow legal_obligation"),
        ("a type error", "common.lawful", "const AGE_OF_CONSENT = 13", 'const AGE_OF_CONSENT = "13"'),
        ("a syntax error in an invariant", "invariants.lawful", "  then deny\n", "  then dny\n"),
        ("an unknown field in an invariant", "invariants.lawful", "when contact.erasure_requested_at",
         "when contact.erasure_requestd_at"),
        ("an invariant allowed by a rule that does not exist", "invariants.lawful",
         "then allow only by consent, soft_opt_in\n", "then allow only by consent, soft_opt_inn\n"),
        ("a rule removed that an invariant names", "marketing.lawful", "allow soft_opt_in when",
         "allow soft_opt_in_email when"),
    ]

    def test_broken_files_get_lawful_checks_diagnostics(self):
        for what, name, old, new in self.BROKEN:
            with self.subTest(what):
                original = self.read(name)
                self.assertIn(old, original)
                broken = original.replace(old, new, 1)
                self.client.open(self.path(name), original)
                published = self.client.change(self.path(name), broken)  # unsaved
                self.write(name, broken)
                expected = check_diagnostics(self.dir)
                self.assertNotEqual(expected, set(), "the row breaks the rules")
                self.assertEqual(lsp_diagnostics(published, self.dir, self.texts()), expected)
                self.write(name, original)
                published = self.client.change(self.path(name), original, version=3)
                self.assertTrue(all(d == [] for d in published.values()), "fixed: cleared")
                self.client.notify("textDocument/didClose",
                                   {"textDocument": {"uri": self.uri(name)}})
                self.client.diagnostics()

    def test_utf16_columns_after_a_section_sign(self):
        # § is two bytes and one UTF-16 code unit; 😀 is four bytes and two code units.
        text = self.read("marketing.lawful")
        broken = text.replace('cite "MFL 21 §"\n    note "The NIX',
                              'cite "MFL 21 §"\n    valid until "§😀" + unknown_x\n    note "The NIX', 1)
        self.assertNotEqual(broken, text)
        published = self.client.open(self.path("marketing.lawful"), broken)
        [d] = [d for d in published[self.uri("marketing.lawful")] if "unknown_x" in d["message"]]
        line = broken.split("\n")[d["range"]["start"]["line"]]
        before = line[:line.index("unknown_x")]
        units = len(before.encode("utf-16-le")) // 2
        self.assertEqual(units, len(before) + 1, "the line has one surrogate pair before the name")
        self.assertEqual(d["range"]["start"]["character"], units)
        self.assertEqual(d["range"]["end"]["character"], units + len("unknown_x"))

    def test_unsaved_buffers_take_the_place_of_their_files(self):
        self.client.open(self.path("marketing.lawful"))
        common = self.read("common.lawful").replace("def is_minor", "def is_a_minor")
        published = self.client.open(self.path("common.lawful"), common)
        errors = published[self.uri("marketing.lawful")]
        self.assertEqual(len(errors), 1, errors)
        self.assertIn("is_minor", errors[0]["message"])
        self.assertEqual(published[self.uri("common.lawful")], [])

    def test_incremental_changes_and_save(self):
        name = "marketing.lawful"
        original = self.read(name)
        self.client.open(self.path(name), original)
        # VS Code sends ranges (textDocumentSync 2): rename a use of `erasure_requested`, after
        # a line holding a `§`, in UTF-16 positions.
        start = self.position_of(name, "nix_addressed in contact")
        end = dict(start, character=start["character"] + len("nix_addressed"))
        self.client.notify("textDocument/didChange", {
            "textDocument": {"uri": self.uri(name), "version": 2},
            "contentChanges": [{"range": {"start": start, "end": end}, "text": "nix_adresed"}]})
        published = self.client.diagnostics()
        broken = original.replace("nix_addressed in contact", "nix_adresed in contact", 1)
        self.write(name, broken)
        expected = check_diagnostics(self.dir)
        self.assertEqual(len(expected), 1, expected)
        self.assertEqual(lsp_diagnostics(published, self.dir, self.texts()), expected)
        # Saved: the same diagnostics again, now from a file that matches the buffer.
        self.client.notify("textDocument/didSave", {"textDocument": {"uri": self.uri(name)}})
        self.assertEqual(lsp_diagnostics(self.client.diagnostics(), self.dir, self.texts()),
                         expected)

    def test_navigation_goes_on_while_another_file_does_not_parse(self):
        self.client.open(self.path("marketing.lawful"))
        broken = self.read("service_notices.lawful").replace(" when notice_type", " whn notice_type", 1)
        published = self.client.open(self.path("service_notices.lawful"), broken)
        self.assertEqual(len(published[self.uri("service_notices.lawful")]), 1)
        location = self.client.request("textDocument/definition",
                                       self.at("marketing.lawful", "consent_state"))
        self.assertEqual(location["uri"], self.uri("common.lawful"))

    def test_related_location_of_a_duplicate(self):
        text = self.read("service_notices.lawful").replace("policy service_notices",
                                                           "policy marketing")
        published = self.client.open(self.path("service_notices.lawful"), text)
        [d] = [d for d in published[self.uri("service_notices.lawful")]
               if d["code"] == "duplicate"]
        [related] = d["relatedInformation"]
        self.assertEqual(related["location"]["uri"], self.uri("marketing.lawful"))
        self.assertEqual(related["location"]["range"]["start"],
                         self.position_of("marketing.lawful", "marketing for purposes"))


    def test_related_location_of_a_rule_name_used_twice_is_in_its_policy(self):
        # erasure_pending is also a rule of marketing.lawful; the twin is the one above.
        text = self.read("service_notices.lawful").replace("deny missing_address",
                                                           "deny erasure_pending")
        published = self.client.open(self.path("service_notices.lawful"), text)
        [d] = published[self.uri("service_notices.lawful")]
        self.assertEqual(d["code"], "duplicate-rule")
        [related] = d["relatedInformation"]
        self.assertEqual(related["location"]["uri"], self.uri("service_notices.lawful"))
        self.assertEqual(related["location"]["range"]["start"],
                         self.position_of("service_notices.lawful", "erasure_pending"))


class Navigation(RuleSetCase):
    def setUp(self):
        super().setUp()
        for name in ("common.lawful", "marketing.lawful", "service_notices.lawful"):
            self.client.open(self.path(name))

    def hover(self, name, needle, occurrence=0):
        result = self.client.request("textDocument/hover", self.at(name, needle, occurrence))
        return result["contents"]["value"]

    # (what, file, text at the cursor, occurrence, texts the hover shows)
    HOVERS = [
        ("a const: its value and text", "marketing.lawful", "RETENTION", 0,
         ["Value: `24 months`", "data kept this long", "common.lawful"]),
        ("a const with a text value", "common.lawful", "TIME_ZONE)", 0,
         ['"Europe/Stockholm"']),
        ("a const set", "marketing.lawful", "MARKETING", 0,
         ["{newsletter, product_offer, survey, profiling}", "Surveys count as direct marketing"]),
        ("a def: its text and comment", "marketing.lawful", "is_minor", 0,
         ["contact.birth_date is present and age_at(at) < AGE_OF_CONSENT",
          "not treated as a minor"]),
        ("a rule: reason, citation and note", "marketing.lawful", "suppressed_internal", 0,
         ["deny suppressed_internal", "GDPR Art. 21(3)", "own do-not-contact list"]),
        ("a rule with its own reason code", "marketing.lawful", "channel_opt_out_electronic", 0,
         ["Reason: `channel_opt_out`", "MFL 19 §"]),
        ("a contact field with contact.proto's comment", "common.lawful", "birth_date", 0,
         ["birth_date: date", "Date of birth", "lawful.v1.Contact.birth_date"]),
        ("a record's field", "common.lawful", "granted_at", 0,
         ["granted_at: instant", "When the consent was given"]),
        ("an enum value", "marketing.lawful", "active", 0, ["consent_status"]),
        ("a purpose", "marketing.lawful", "product_offer", 0, ["purpose product_offer"]),
        ("the request", "marketing.lawful", "channel ==", 0, ["`channel`"]),
    ]

    def test_hover(self):
        for what, name, needle, occurrence, shown in self.HOVERS:
            with self.subTest(what):
                value = self.hover(name, needle, occurrence)
                for s in shown:
                    self.assertIn(s, value)

    def test_no_hover_on_a_keyword(self):
        self.assertIsNone(self.client.request("textDocument/hover",
                                              self.at("marketing.lawful", "policy")))

    # (what, file, text at the cursor, occurrence, file declaring it, declaration)
    DEFINITIONS = [
        ("a def, across files", "marketing.lawful", "consent_state", 0,
         "common.lawful", "consent_state(p: purpose"),
        ("a const", "marketing.lawful", "SOFT_OPT_IN_WINDOW", 0,
         "common.lawful", "SOFT_OPT_IN_WINDOW ="),
        ("an enum value", "marketing.lawful", "withdrawn\n", 0, "common.lawful", "withdrawn, none"),
        ("an enum, from a parameter's type", "common.lawful", "consent_status", 0,
         "common.lawful", "consent_status {"),
        ("a purpose", "service_notices.lawful", "service_notice {", 0,
         "common.lawful", "service_notice\n"),
        ("a parameter", "common.lawful", "ch: channel) =\n  c.", 0, "common.lawful", "ch: channel) =\n  c."),
    ]

    def test_definition(self):
        for what, name, needle, occurrence, target, declaration in self.DEFINITIONS:
            with self.subTest(what):
                location = self.client.request("textDocument/definition",
                                               self.at(name, needle, occurrence))
                self.assertEqual(location["uri"], self.uri(target))
                self.assertEqual(location["range"]["start"], self.position_of(target, declaration))

    def references(self, name, needle, declaration=True):
        params = self.at(name, needle)
        params["context"] = {"includeDeclaration": declaration}
        found = self.client.request("textDocument/references", params)
        return sorted((os.path.basename(l["uri"]), l["range"]["start"]["line"]) for l in found)

    def uses(self, pattern):
        """Every line matching `pattern` in the rule set, as (file, line)."""
        out = []
        for name, text in self.texts().items():
            for i, line in enumerate(text.split("\n")):
                if not line.lstrip().startswith("#"):
                    out += [(name, i)] * len(re.findall(pattern, line))
        return sorted(out)

    def test_references(self):
        self.assertEqual(self.references("common.lawful", "consent_state"),
                         self.uses(r"\bconsent_state\b"))
        self.assertEqual(self.references("common.lawful", "RETENTION", declaration=False),
                         self.uses(r"\bRETENTION\b(?! =)"))
        # A purpose's references are the purpose, not the objection scope spelt the same.
        found = self.client.request("textDocument/references", self.at("common.lawful", "profiling"))
        starts = [l["range"]["start"] for l in found]
        self.assertIn(self.position_of("common.lawful", "p == profiling", offset=5), starts)
        self.assertNotIn(self.position_of("common.lawful", "o.scope == profiling", offset=11),
                         starts)

    def test_document_symbols_are_the_policies_and_their_rules(self):
        symbols = self.client.request("textDocument/documentSymbol",
                                      {"textDocument": {"uri": self.uri("marketing.lawful")}})
        [policy] = [s for s in symbols if s["kind"] == 5]
        self.assertEqual(policy["name"], "marketing")
        text = self.read("marketing.lawful")
        written = re.findall(r"^\s*(?:otherwise\s+)?(?:deny|allow)\s+(\w+)", text, re.M)
        self.assertEqual([r["name"] for r in policy["children"]], written)
        common = self.client.request("textDocument/documentSymbol",
                                     {"textDocument": {"uri": self.uri("common.lawful")}})
        self.assertIn("consent_state", [s["name"] for s in common])

    def test_formatting_is_lawful_fmt(self):
        messy = self.read("service_notices.lawful").replace("  deny erasure_pending",
                                                            "deny    erasure_pending")
        self.client.change(self.path("service_notices.lawful"), messy)
        edits = self.client.request("textDocument/formatting",
                                    {"textDocument": {"uri": self.uri("service_notices.lawful")},
                                     "options": {"tabSize": 2, "insertSpaces": True}})
        self.assertEqual(len(edits), 1)
        self.assertEqual(edits[0]["newText"], self.read("service_notices.lawful"))
        broken = messy.replace(" when notice_type", " whn notice_type", 1)
        self.client.change(self.path("service_notices.lawful"), broken, version=3)
        failed = self.client.request_raw("textDocument/formatting", {
            "textDocument": {"uri": self.uri("service_notices.lawful")}, "options": {}})
        self.assertIn("error", failed)

    def completion(self, name, text, needle):
        """Completion labels with `text` in place of the buffer, the cursor after `needle`."""
        self.client.change(self.path(name), text)
        index = text.index(needle) + len(needle)
        line = text.count("\n", 0, index)
        character = len(text[text.rfind("\n", 0, index) + 1:index].encode("utf-16-le")) // 2
        items = self.client.request("textDocument/completion", {
            "textDocument": {"uri": self.uri(name)},
            "position": {"line": line, "character": character}})
        return [i["label"] for i in items]

    def test_completion(self):
        original = self.read("common.lawful")
        rows = [
            ("contact fields", "def x = contact.", ["birth_date", "consents", "relationship"]),
            ("nested fields", "def x = contact.relationship.", ["is_customer", "last_purchase_at"]),
            ("a parameter's record fields", "def x(c: consent) = c.", ["granted_at", "source"]),
            ("a bound variable's fields", "def x = any o in contact.objections where o.",
             ["scope", "lodged_at"]),
            ("channels after ==", "def x = channel == ", ["email", "sms", "post", "phone"]),
            ("a field's enum values", "def x(c: consent) = c.source == ", ["guardian", "web_form"]),
            ("a purpose field's purposes", "def x(c: consent) = c.purpose == ",
             ["newsletter", "service_notice"]),
            ("a def's enum values", "def x = consent_state(purpose, channel) == ",
             ["active", "withdrawn", "none"]),
            ("values in a set", "def x = channel in {", ["email", "sms"]),
            ("keywords and names", "def x = ", ["if", "any", "RETENTION", "consent_state", "at"]),
        ]
        for what, line, expected in rows:
            with self.subTest(what):
                labels = self.completion("common.lawful", original + "\n" + line, line)
                for label in expected:
                    self.assertIn(label, labels)
        self.assertNotIn("RETENTION", self.completion("common.lawful",
                                                      original + "\ndef x = channel == ",
                                                      "channel == "))

    def test_rename_a_const_across_files(self):
        edit = self.client.request("textDocument/rename", dict(
            self.at("marketing.lawful", "RETENTION"), newName="KEEP_FOR"))
        for uri, edits in edit["changes"].items():
            name = os.path.basename(uri)
            text = self.read(name)
            lines = text.split("\n")
            for e in sorted(edits, key=lambda e: (e["range"]["start"]["line"],
                                                  e["range"]["start"]["character"]), reverse=True):
                start, end = e["range"]["start"], e["range"]["end"]
                self.assertEqual(start["line"], end["line"])
                line = lines[start["line"]]
                self.assertEqual(line[start["character"]:end["character"]], "RETENTION")
                lines[start["line"]] = line[:start["character"]] + e["newText"] + line[end["character"]:]
            self.write(name, "\n".join(lines))
        self.assertEqual(sorted(os.path.basename(u) for u in edit["changes"]),
                         ["common.lawful", "marketing.lawful"])
        self.assertNotIn("RETENTION", "".join(self.texts().values()).replace("# ", ""))
        self.assertEqual(check_diagnostics(self.dir), set(), "the renamed rules still check")

    def test_what_is_not_renamed(self):
        rows = [
            ("a purpose", self.at("marketing.lawful", "product_offer"), "x", "purpose"),
            ("a rule", self.at("marketing.lawful", "suppressed_internal"), "x", "def"),
            ("to a reserved word", self.at("marketing.lawful", "RETENTION"), "when", "not a name"),
            ("to a taken name", self.at("marketing.lawful", "RETENTION"), "TIME_ZONE", "already"),
        ]
        for what, params, new_name, message in rows:
            with self.subTest(what):
                failed = self.client.request_raw("textDocument/rename",
                                                 dict(params, newName=new_name))
                self.assertIn(message, failed["error"]["message"])
        prepared = self.client.request_raw("textDocument/prepareRename",
                                           self.at("marketing.lawful", "product_offer"))
        self.assertIn("purpose", prepared["error"]["message"])


class Protocol(unittest.TestCase):
    """Malformed input gets JSON-RPC errors; the server keeps serving."""

    def test_malformed_messages(self):
        client = Client(ARGS.lawful)
        try:
            client.initialize("/tmp")
            rows = [
                ("not JSON", frame(b"{not json"), -32700),
                ("not an object", frame(b"[1, 2]"), -32600),
                ("a method that is not a string", frame(b'{"jsonrpc":"2.0","id":5,"method":7}'),
                 -32600),
                ("no Content-Length", b"Content-Type: x\r\n\r\n", -32700),
                ("a bad Content-Length", b"Content-Length: -4\r\n\r\n", -32700),
                ("invalid UTF-8", frame(b'{"jsonrpc":"2.0","id":6,"method":"\xff"}'), -32700),
                ("params nested a million deep", frame(
                    b'{"jsonrpc":"2.0","id":7,"method":"textDocument/hover","params":' +
                    b"[" * 1000000 + b"]" * 1000000 + b"}"), -32602),
            ]
            for what, data, code in rows:
                with self.subTest(what):
                    client.send_raw(data)
                    self.assertEqual(client.next_message()["error"]["code"], code)
            unknown = client.request_raw("workspace/unknown", {})
            self.assertEqual(unknown["error"]["code"], -32601)
            bad_params = client.request_raw("textDocument/hover", {"textDocument": 3})
            self.assertEqual(bad_params["error"]["code"], -32602)
            not_open = client.request_raw("textDocument/hover", {
                "textDocument": {"uri": "file:///nonexistent/x.lawful"},
                "position": {"line": 99, "character": 99}})
            self.assertIsNone(not_open["result"])
        finally:
            self.assertEqual(client.close(), 0)

    def test_exit_without_shutdown_is_an_error(self):
        client = Client(ARGS.lawful)
        client.initialize("/tmp")
        client.notify("exit", None)
        self.assertEqual(client.proc.wait(timeout=10), 1)
        for f in (client.proc.stdin, client.proc.stdout, client.proc.stderr):
            f.close()


class Invariants(RuleSetCase):
    """invariants.lawful: diagnostics (as `lawful check`'s), navigation, symbols, completion."""
    NAME = "invariants.lawful"

    def setUp(self):
        super().setUp()
        self.client.open(self.path(self.NAME))

    def test_lawful_check_fails_on_a_broken_invariant(self):
        self.write(self.NAME, self.read(self.NAME).replace("then deny", "then dny", 1))
        run = subprocess.run([ARGS.lawful, "check", self.dir], capture_output=True, text=True)
        self.assertEqual(run.returncode, 2, run.stderr)
        self.assertRegex(run.stderr, r"invariants\.lawful:\d+:\d+: error: ")

    def test_hover_on_an_invariant_and_on_the_rules_it_names(self):
        value = self.client.request("textDocument/hover",
                                    self.at(self.NAME, "erasure_blocks_outreach"))["contents"]["value"]
        for shown in ("invariant erasure_blocks_outreach", "then deny", "Memo §5 gate 1"):
            self.assertIn(shown, value)
        value = self.client.request("textDocument/hover", self.at(self.NAME, "soft_opt_in\n"))
        self.assertIn("allow soft_opt_in", value["contents"]["value"])
        self.assertIn("In policy `marketing`", value["contents"]["value"])

    def test_definition_from_an_invariant(self):
        rows = [("a rule it is allowed by", "soft_opt_in\n", "marketing.lawful", "soft_opt_in when"),
                ("a const set of purposes", "MARKETING", "common.lawful", "MARKETING ="),
                ("a def in its condition", "consent_state", "common.lawful", "consent_state(p:"),
                ("a purpose", "service_notice", "common.lawful", "service_notice\n")]
        for what, needle, target, declaration in rows:
            with self.subTest(what):
                location = self.client.request("textDocument/definition", self.at(self.NAME, needle))
                self.assertEqual(location["uri"], self.uri(target))
                self.assertEqual(location["range"]["start"], self.position_of(target, declaration))

    def test_references_of_a_rule_include_the_invariants_naming_it(self):
        found = self.client.request("textDocument/references", dict(
            self.at("marketing.lawful", "soft_opt_in when"), context={"includeDeclaration": True}))
        lines = sorted((os.path.basename(l["uri"]), l["range"]["start"]["line"]) for l in found)
        text = self.read(self.NAME).split("\n")
        naming = [i for i, l in enumerate(text) if re.search(r"allow only by .*\bsoft_opt_in\b", l)]
        self.assertEqual(len(naming), 2)
        rule = self.position_of("marketing.lawful", "soft_opt_in when")["line"]
        self.assertEqual(lines, sorted([("marketing.lawful", rule)] + [(self.NAME, i) for i in naming]))

    def test_document_symbols_are_the_invariants(self):
        symbols = self.client.request("textDocument/documentSymbol",
                                      {"textDocument": {"uri": self.uri(self.NAME)}})
        text = self.read(self.NAME)
        self.assertEqual([s["name"] for s in symbols], re.findall(r"^invariant (\w+)", text, re.M))
        self.assertTrue(all(s["kind"] == 7 for s in symbols))
        self.assertEqual(symbols[-1]["detail"],
                         "then allow only by consent, soft_opt_in, legitimate_interest")
        # The first ends on its own `then deny`, not on the next invariant's comment.
        first_end = symbols[0]["range"]["end"]["line"]
        self.assertEqual(text.split("\n")[first_end].strip(), "then deny")

    def test_completion_after_allow_only_by(self):
        original = self.read(self.NAME)
        text = original + "\ninvariant x for purposes MARKETING\n  then allow only by "
        self.client.change(self.path(self.NAME), text)
        lines = text.split("\n")
        items = self.client.request("textDocument/completion", {
            "textDocument": {"uri": self.uri(self.NAME)},
            "position": {"line": len(lines) - 1, "character": len(lines[-1])}})
        labels = [i["label"] for i in items]
        for allow in ("consent", "soft_opt_in", "legitimate_interest", "contract"):
            self.assertIn(allow, labels)
        for other in ("erasure_pending", "RETENTION", "if"):
            self.assertNotIn(other, labels)
        self.assertEqual(len(labels), len(set(labels)), "each rule name once")

    def test_rename_a_def_renames_its_uses_in_invariants(self):
        edit = self.client.request("textDocument/rename", dict(
            self.at("common.lawful", "consent_state"), newName="consent_status_of"))
        edits = edit["changes"][self.uri(self.NAME)]
        text = self.read(self.NAME).split("\n")
        self.assertEqual(sorted(e["range"]["start"]["line"] for e in edits),
                         [i for i, l in enumerate(text) if "consent_state(" in l])

    def test_formatting_is_lawful_fmt(self):
        original = self.read(self.NAME)
        messy = original.replace("invariant erasure_blocks_outreach",
                                 "invariant   erasure_blocks_outreach").replace(
                                     "  then deny", "then    deny", 1)
        self.assertNotEqual(messy, original)
        self.client.change(self.path(self.NAME), messy)
        edits = self.client.request("textDocument/formatting",
                                    {"textDocument": {"uri": self.uri(self.NAME)}, "options": {}})
        self.assertEqual(len(edits), 1)
        self.assertEqual(edits[0]["newText"], original)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--lawful", required=True)
    parser.add_argument("--rules", required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)
