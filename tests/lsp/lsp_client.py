"""A JSON-RPC client speaking the Language Server Protocol to `lawful lsp` over stdio."""
import json
import os
import queue
import subprocess
import threading


def frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


class Client:
    def __init__(self, lawful: str):
        self.proc = subprocess.Popen([lawful, "lsp"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.messages = queue.Queue()
        self.notifications = []
        self.next_id = 1
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        out = self.proc.stdout
        while True:
            length = None
            while True:
                line = out.readline()
                if not line:
                    self.messages.put(None)
                    return
                line = line.strip()
                if not line:
                    break
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            self.messages.put(json.loads(out.read(length)))

    def send_raw(self, data: bytes):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def send(self, message: dict):
        self.send_raw(frame(json.dumps(message).encode()))

    def notify(self, method: str, params: dict):
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def next_message(self, timeout=10):
        message = self.messages.get(timeout=timeout)
        if message is None:
            raise EOFError("lawful lsp closed its output")
        return message

    def response(self, id_, timeout=10):
        """The response to request `id_`; notifications on the way are kept."""
        while True:
            message = self.next_message(timeout)
            if "id" in message and message["id"] == id_ and "method" not in message:
                return message
            self.notifications.append(message)

    def request_raw(self, method: str, params):
        id_ = self.next_id
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": id_, "method": method, "params": params})
        return self.response(id_)

    def request(self, method: str, params):
        message = self.request_raw(method, params)
        if "error" in message:
            raise RuntimeError("%s: %s" % (method, message["error"]))
        return message["result"]

    def diagnostics(self):
        """Waits for the diagnostics a didOpen/didChange/didSave publishes: {uri: [...]}, from a
        round trip (a request answered after them), so nothing is left in flight."""
        self.request_raw("$/lawful/ping", {})  # unknown: answered with an error, after them
        published = {}
        for n in self.notifications:
            if n.get("method") == "textDocument/publishDiagnostics":
                published[n["params"]["uri"]] = n["params"]["diagnostics"]
        self.notifications = []
        return published

    def initialize(self, root: str):
        result = self.request("initialize", {"processId": os.getpid(),
                                             "rootUri": "file://" + root, "capabilities": {}})
        self.notify("initialized", {})
        return result

    def open(self, path: str, text=None):
        if text is None:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        self.notify("textDocument/didOpen", {"textDocument": {
            "uri": "file://" + path, "languageId": "lawful", "version": 1, "text": text}})
        return self.diagnostics()

    def change(self, path: str, text: str, version=2):
        self.notify("textDocument/didChange", {
            "textDocument": {"uri": "file://" + path, "version": version},
            "contentChanges": [{"text": text}]})
        return self.diagnostics()

    def close(self):
        try:
            self.request("shutdown", None)
            self.notify("exit", None)
            return self.proc.wait(timeout=10)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.stdin.close()
            self.proc.stdout.close()
            self.proc.stderr.close()
