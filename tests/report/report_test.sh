#!/usr/bin/env bash
# The dashboard in headless Chromium: every chart renders (an SVG with marks),
# no console errors, no network; screenshots saved under the build folder.
# usage: report_test.sh QSWEEP_BINARY SOURCE_DIR SCRATCH_DIR
set -euo pipefail
qsweep=$1 src=$2 scratch=$3
rm -rf "$scratch" && mkdir -p "$scratch"
command -v chromium >/dev/null || { echo "FAIL: chromium missing: run tools/setup.sh"; exit 1; }
# The distributed tests' sweep plus two one-layer runs, so that the layer
# sensitivity heatmap has cells.
config=$scratch/sweep.yaml
sed -e "s|\.\./tiny/|$src/tests/data/tiny/|g" \
    -e "s|^schemes: \[|schemes: [{name: L0-q, scheme: bf16, overrides: [{layers: 0, projections: [q], format: w2a16-g64}]}, {name: L1-down, scheme: bf16, overrides: [{layers: 1, projections: [down], format: w2a16-g64}]}, |" \
    "$src/tests/data/configs/mpi_small.yaml" > "$config"
grep -q "L1-down" "$config"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpirun -n 1 --oversubscribe "$qsweep" run "$config" -o "$scratch/sweep" 2>"$scratch/run.log"
"$qsweep" metrics "$config" --sweep-output "$scratch/sweep" -o "$scratch/metrics.h5" >/dev/null
page=$("$qsweep" report "$scratch/metrics.h5" -o "$scratch/report")
[ -f "$page" ]
size=$(stat -c %s "$page")
[ "$size" -lt 5000000 ] || { echo "FAIL: page of $size bytes"; exit 1; }
if grep -Eo '(src|href)="https?://[^"]*"' "$page"; then echo "FAIL: the page loads from the network"; exit 1; fi

chrome=(chromium --headless --no-sandbox --disable-gpu --disable-background-networking
        --user-data-dir="$scratch/chrome-profile" --virtual-time-budget=20000)
"${chrome[@]}" --dump-dom "file://$page" > "$scratch/dom.html" 2>"$scratch/chrome.log"
"${chrome[@]}" --window-size=1200,6000 --screenshot="$scratch/report.png" "file://$page" 2>>"$scratch/chrome.log"
/usr/bin/python3 - "$scratch/dom.html" "$scratch/report/specs.json" <<'PY'
import json, re, sys
dom = open(sys.argv[1]).read()
specs = json.load(open(sys.argv[2]))
body = [b for b in re.findall(r'<body[^>]*>', dom) if 'data-' in b][-1] if 'data-charts' in dom else ''
attrs = dict(re.findall(r'data-(\w+)="([^"]*)"', body))
assert "layer_sensitivity" in specs, ("no layer sensitivity chart", list(specs))
assert attrs.get("charts") == str(len(specs)), attrs
assert attrs.get("rendered") == str(len(specs)), ("not every chart rendered", attrs)
assert attrs.get("errors") == "0", ("console errors", re.search(r'<div id="errors">(.*?)</div>', dom, re.S).group(1))
# The reading sections, and no summary cell with more digits than it promises.
for sid in ("decision", "summary", "tasks"):
    assert f'<section id="{sid}">' in dom, f"no section {sid}"
summary = dom[dom.index('<section id="summary">'):]
summary = summary[:summary.index("</section>")]
cells = re.findall(r"<td>(.*?)</td>", summary)
allowed = [r"", r"–", r"\d+\.\d\d", r"\d+\.\d\d\d",  # bits per weight, PPL
           r"(\d{3}|\d\d\.\d|\d\.\d\d) (kB|MB|GB|TB)|\d{1,3} B",  # sizes: 3 significant digits
           r"\d{1,3}\.\d%",  # shares
           r"[+\u2212±]\d+\.\d% \[[+\u2212±]\d+\.\d%, [+\u2212±]\d+\.\d%\]",  # Δacc [CI]
           r"&lt; 1e-6|1\.0|0\.0*[1-9]\d?",  # p-values: two significant digits
           r"\d\.\de[+-]\d\d|0"]  # KL
bad = [c for c in cells if not any(re.fullmatch(a, c) for a in allowed)]
assert cells and not bad, ("summary cells with more digits than promised", bad[:10])
print(f"summary: {len(cells)} cells, each in its promised format")
for cid in specs:
    start = dom.index(f'id="chart-{cid}"')
    end = dom.find("<section", start)
    chunk = dom[start:end if end > 0 else None]
    assert "<svg" in chunk, f"chart {cid}: no SVG"
    marks = len(re.findall(r'role-mark', chunk))
    assert marks > 0, f"chart {cid}: no marks"
    print(f"chart {cid}: SVG with {marks} mark groups")
PY
[ -s "$scratch/report.png" ] || { echo "FAIL: no screenshot"; exit 1; }
echo "PASS: $(ls "$scratch/report/data" | wc -l) data tables, screenshot $scratch/report.png"
