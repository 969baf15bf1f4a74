#!/usr/bin/env bash
# Render the HTML view and screenshot it with headless Chromium, to check by eye
# that the page really shows the image, its visual contexts and the entities
# (pytest checks the HTML; only a browser shows that it renders).
#
# Usage (from anywhere; needs `chromium`, e.g. `apt-get install -y chromium`):
#   scripts/check_render_in_browser.sh                # first posts of $CORPUS (default corpus/demo/dev.spacy), gold entities
#   scripts/check_render_in_browser.sh MODEL [TEXT] [IMAGE]   # `python -m spacy_ita render` with a pipeline
# Output: $OUT_DIR/page.html and page.png (default OUT_DIR: /tmp/spacy-ita-render-check).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python}"
OUT_DIR="${OUT_DIR:-${TMPDIR:-/tmp}/spacy-ita-render-check}"
OUT_DIR="$(mkdir -p "$OUT_DIR" && cd "$OUT_DIR" && pwd)"  # absolute, for the file:// URL
PAGE="$OUT_DIR/page.html"

if [[ $# -ge 1 ]]; then
  TEXT="${2:-Finally saw Styles live tonight #LoveOnTour}"
  IMAGE="${3:-assets/demo/images/demo_101.png}"
  "$PYTHON" -m spacy_ita render "$1" "$TEXT" --image "$IMAGE" --output "$PAGE"
else
  CORPUS="${CORPUS:-corpus/demo/dev.spacy}"
  [[ -f "$CORPUS" ]] || { echo "No $CORPUS: run 'spacy project run convert' first (or pass a MODEL)" >&2; exit 1; }
  "$PYTHON" - "$CORPUS" "$PAGE" <<'PY'
import sys
import spacy
from spacy.tokens import DocBin
import spacy_ita  # noqa: F401  (doc extensions)
from spacy_ita.visualize import render_html

corpus, page = sys.argv[1], sys.argv[2]
docs = list(DocBin().from_disk(corpus).get_docs(spacy.blank("en").vocab))[:3]
with open(page, "w", encoding="utf8") as out:
    out.write(render_html(docs, title=f"{corpus}: first posts, gold entities"))
print(f"Wrote {page}")
PY
fi

CHROMIUM="$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)"
[[ -n "$CHROMIUM" ]] || { echo "Chromium not found: install it (apt-get install -y chromium)" >&2; exit 1; }
"$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-background-networking --no-first-run \
  --hide-scrollbars --screenshot="$OUT_DIR/page.png" --window-size=1280,1600 "file://$PAGE" 2>/dev/null
echo "Screenshot: $OUT_DIR/page.png"
