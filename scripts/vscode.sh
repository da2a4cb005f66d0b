#!/usr/bin/env bash
# The VS Code extension (editors/vscode): scripts/vscode.sh install|test|package [OUT_DIR]
#
#   install   npm ci: the pinned packages of editors/vscode/package-lock.json (npm's registry)
#   test      the TextMate grammar on the shipped rules and docs/language.md's examples
#             (vscode-textmate + vscode-oniguruma)
#   package   builds lawful-VERSION.vsix with @vscode/vsce into OUT_DIR (default build/vscode)
#             and checks its manifest: the language, the grammar, the snippets, the extension's
#             entry point and its language client are in it
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
ext=editors/vscode

install() {
  if [ ! -d "$ext/node_modules" ] || [ "$ext/package-lock.json" -nt "$ext/node_modules" ]; then
    (cd "$ext" && npm ci --no-audit --no-fund --loglevel=error)
    touch "$ext/node_modules"
  fi
}

case "${1:-}" in
  install) install ;;
  test)
    install
    node "$ext/test/grammar_test.js" "$repo"
    ;;
  package)
    install
    out=${2:-build/vscode}
    mkdir -p "$out"
    out=$(cd "$out" && pwd)
    version=$(node -p "require('./$ext/package.json').version")
    vsix=$out/lawful-$version.vsix
    # --skip-license: the project has no licence file; package.json says UNLICENSED.
    (cd "$ext" && npx --no-install vsce package --skip-license --out "$vsix") </dev/null
    manifest=$(unzip -p "$vsix" extension.vsixmanifest)
    files=$(unzip -Z1 "$vsix")
    status=0
    for want in extension/package.json extension/extension.js \
        extension/syntaxes/lawful.tmLanguage.json extension/language-configuration.json \
        extension/snippets/lawful.json \
        extension/node_modules/vscode-languageclient/node.js; do
      if ! grep -qx "$want" <<<"$files"; then echo "vsix: $want is missing" >&2; status=1; fi
    done
    for unwanted in extension/test/ extension/node_modules/@vscode/vsce/ \
        extension/node_modules/vscode-textmate/; do
      if grep -q "^$unwanted" <<<"$files"; then echo "vsix: $unwanted must not ship" >&2; status=1; fi
    done
    for want in 'Id="lawful"' 'Publisher="lawful"' "Version=\"$version\"" \
        'Microsoft.VisualStudio.Code.Manifest'; do
      if ! grep -q "$want" <<<"$manifest"; then echo "vsix manifest: no $want" >&2; status=1; fi
    done
    unzip -p "$vsix" extension/package.json | node -e '
      const p = JSON.parse(require("fs").readFileSync(0, "utf8"));
      const c = p.contributes;
      const ok = c.languages[0].id === "lawful" && c.languages[0].extensions.includes(".lawful") &&
                 c.grammars[0].scopeName === "source.lawful" && c.snippets.length === 1 &&
                 p.main === "./extension.js";
      if (!ok) { console.error("vsix: package.json does not contribute the lawful language"); process.exit(1); }'
    [ $status -eq 0 ] && echo "vscode: $vsix ($(wc -c <"$vsix") bytes), manifest checked"
    exit $status
    ;;
  *)
    echo "usage: scripts/vscode.sh install|test|package [OUT_DIR]" >&2
    exit 2
    ;;
esac
