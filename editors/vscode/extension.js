// The lawful extension: starts `lawful lsp` (the path is the `lawful.path` setting) for rule files.
const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const command = vscode.workspace.getConfiguration("lawful").get("path") || "lawful";
  // No `transport`: the client then talks over stdio without adding a `--stdio` argument, which
  // lawful's flag parser would refuse.
  const server = { command, args: ["lsp"] };
  client = new LanguageClient(
    "lawful",
    "lawful rules",
    { run: server, debug: server },
    {
      documentSelector: [{ scheme: "file", language: "lawful" }],
      synchronize: { fileEvents: vscode.workspace.createFileSystemWatcher("**/*.lawful") },
    }
  );
  context.subscriptions.push({ dispose: () => client && client.stop() });
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
