"""Copy the portal's front-end libraries from npm into src/passage/web/static/vendor/.

The portal never loads code from a CDN: the files are installed at build time with
`npm ci` from package.json/package-lock.json (exact versions), copied here with their
licences, and committed. VENDOR.md lists package, version, licence, file and sha256 so
anyone can check a vendored file against the npm tarball.

    python tools/vendor_assets.py                      # npm ci into a temporary directory
    python tools/vendor_assets.py --use-node-modules   # reuse ./node_modules (after `npm ci`)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "passage" / "web" / "static" / "vendor"

# npm package -> (target folder, [(file in the package, name in the target folder)])
FILES: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "leaflet": ("leaflet", [("dist/leaflet.js", "leaflet.js"), ("dist/leaflet.css", "leaflet.css"),
                            ("dist/images/*", "images/")]),
    "vega": ("vega", [("build/vega.min.js", "vega.min.js")]),
    "vega-lite": ("vega-lite", [("build/vega-lite.min.js", "vega-lite.min.js")]),
    "vega-embed": ("vega-embed", [("build/vega-embed.min.js", "vega-embed.min.js")]),
    "htmx.org": ("htmx", [("dist/htmx.min.js", "htmx.min.js")]),
    "topojson-client": ("topojson", [("dist/topojson-client.min.js", "topojson-client.min.js")]),
    "world-atlas": ("world-atlas", [("countries-110m.json", "countries-110m.json")]),
    "swagger-ui-dist": ("swagger-ui", [("swagger-ui-bundle.js", "swagger-ui-bundle.js"),
                                       ("swagger-ui.css", "swagger-ui.css")]),
}

NOTES = {
    "world-atlas": "Natural Earth 1:110m admin-0 countries as TopoJSON (features keyed by ISO 3166-1 numeric "
                   "id). Natural Earth data is in the public domain; the packaging is ISC.",
    "vega-embed": "The minified build bundles vega-themes, vega-tooltip and small helpers; their licences "
                  "are in THIRD-PARTY-LICENSES.txt.",
    "vega": "The minified build bundles d3 modules and other small libraries; their licences are in "
            "THIRD-PARTY-LICENSES.txt.",
}

LICENCE_NAMES = ("LICENSE", "LICENSE.md", "LICENSE.txt", "LICENCE", "license", "COPYING")


def npm_ci(workdir: Path) -> Path:
    """Install the locked versions into workdir/node_modules, running no package scripts."""
    for name in ("package.json", "package-lock.json"):
        shutil.copyfile(ROOT / name, workdir / name)
    subprocess.run(["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=workdir, check=True)
    return workdir / "node_modules"


def _licence_file(package_dir: Path) -> Path | None:
    for name in LICENCE_NAMES:
        if (package_dir / name).is_file():
            return package_dir / name
    return None


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def vendor(modules: Path, out: Path = OUT) -> list[dict]:
    """Copy the listed files and licences from an npm install; return one entry per copied file."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    entries = []
    for package, (folder, files) in FILES.items():
        pdir = modules / package
        meta = json.loads((pdir / "package.json").read_text(encoding="utf-8"))
        target = out / folder
        target.mkdir(parents=True, exist_ok=True)
        copied: list[Path] = []
        for source, name in files:
            if source.endswith("/*"):
                (target / name).mkdir(parents=True, exist_ok=True)
                for f in sorted((pdir / source[:-2]).iterdir()):
                    shutil.copyfile(f, target / name / f.name)
                    copied.append(target / name / f.name)
            else:
                shutil.copyfile(pdir / source, target / name)
                copied.append(target / name)
        licence = _licence_file(pdir)
        if licence is None:
            raise SystemExit(f"{package} has no licence file")
        shutil.copyfile(licence, target / "LICENSE")
        for f in copied:
            entries.append({"package": package, "version": meta["version"],
                            "licence": meta.get("license", "?"),
                            "file": f.relative_to(out).as_posix(), "sha256": _sha256(f)})
    _third_party(modules, out)
    return entries


def _third_party(modules: Path, out: Path) -> None:
    """Every other package of the install (bundled into the minified builds, or installed beside them)."""
    parts = ["Licences of the packages installed with the vendored libraries; the minified builds of vega,",
             "vega-lite and vega-embed bundle some of them.", ""]
    for pjson in sorted(modules.glob("*/package.json")) + sorted(modules.glob("@*/*/package.json")):
        pdir = pjson.parent
        name = pdir.relative_to(modules).as_posix()
        if name in FILES:
            continue
        meta = json.loads(pjson.read_text(encoding="utf-8"))
        licence = _licence_file(pdir)
        parts += ["=" * 78, f"{name} {meta.get('version', '?')} ({meta.get('license', '?')})", "=" * 78,
                  licence.read_text(encoding="utf-8", errors="replace").strip() if licence
                  else "(no licence file in the package; licence as declared above)", ""]
    (out / "THIRD-PARTY-LICENSES.txt").write_text("\n".join(parts) + "\n", encoding="utf-8")


def write_vendor_md(entries: list[dict], out: Path = OUT) -> Path:
    lines = ["# Vendored front-end files", "",
             "Written by `tools/vendor_assets.py` from `package.json` / `package-lock.json`;",
             "do not edit by hand.",
             "Each package's licence is beside its files (`LICENSE`); the packages bundled into the minified",
             "builds are listed with their licences in `THIRD-PARTY-LICENSES.txt`.", "",
             "| Package | Version | Licence | File | sha256 |", "|---|---|---|---|---|"]
    for e in entries:
        lines.append(f"| {e['package']} | {e['version']} | {e['licence']} | `{e['file']}` "
                     f"| `{e['sha256'][:16]}…` |")
    lines.append("")
    for package, note in NOTES.items():
        lines.append(f"- **{package}**: {note}")
    path = out / "VENDOR.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--use-node-modules", action="store_true",
                        help="copy from ./node_modules instead of running npm ci")
    args = parser.parse_args(argv)
    if args.use_node_modules:
        entries = vendor(ROOT / "node_modules")
    else:
        with tempfile.TemporaryDirectory(prefix="passage-vendor-") as tmp:
            entries = vendor(npm_ci(Path(tmp)))
    print(write_vendor_md(entries))
    return 0


if __name__ == "__main__":
    sys.exit(main())
