#!/usr/bin/env python3
"""What scripts/dist.sh needs besides cargo: the crates compiled into the
C library for a target, their licence texts, a CycloneDX SBOM of an
artefact, and a Python wheel made around an already built library.

    dist_tools.py licenses TARGET OUT_DIR
    dist_tools.py sbom TARGET NAME VERSION KIND OUT.json
    dist_tools.py wheel LIBRARY PLATFORM_TAG OUT_DIR
    dist_tools.py archive DIR OUT.tar.gz|OUT.zip
    dist_tools.py sdist OUT_DIR

The set of crates is cargo's own resolution (`cargo metadata
--filter-platform TARGET`): every package `tessera-capi` reaches through
normal dependencies, with the features the build uses, so a crate only
another platform compiles is not listed. Output is reproducible: the
SBOM's time is the last commit's (or SOURCE_DATE_EPOCH) and its serial
number is derived from its contents; the wheel's entries are sorted and
dated 1980-01-01.
"""

import base64
import csv
import datetime
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LICENSE_FILES = ("license", "licence", "copying", "notice", "unlicense", "copyright")


def metadata(target):
    out = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--locked", "--filter-platform", target],
        cwd=ROOT, check=True, stdout=subprocess.PIPE,
    ).stdout
    return json.loads(out)


def compiled_in(target):
    """The packages linked into the C library for `target`, and the edges
    between them, as (packages by id, {id: [dependency ids]}): cargo
    tree's resolution of `tessera-capi` alone (its own features, normal
    dependencies, this target), with each package's metadata."""
    meta = metadata(target)
    by_name = {(p["name"], p["version"]): p for p in meta["packages"]}
    lines = subprocess.run(
        ["cargo", "tree", "--locked", "-p", "tessera-capi", "-e", "normal", "--target", target,
         "--prefix", "depth", "--format", "{p}"],
        cwd=ROOT, check=True, stdout=subprocess.PIPE, text=True,
    ).stdout.splitlines()
    packages, edges, stack = {}, {}, []
    for line in lines:
        digits = len(line) - len(line.lstrip("0123456789"))
        if not digits:
            continue
        depth, words = int(line[:digits]), line[digits:].split()
        key = (words[0], words[1].lstrip("v"))
        p = by_name[key]
        packages[p["id"]] = p
        edges.setdefault(p["id"], set())
        del stack[depth:]
        if stack:
            edges[stack[-1]].add(p["id"])
        stack.append(p["id"])
    return packages, {k: sorted(v) for k, v in edges.items()}


def lock_checksums():
    sums, name, version = {}, None, None
    for line in (ROOT / "Cargo.lock").read_text().splitlines():
        if line.startswith("name = "):
            name = line.split('"')[1]
        elif line.startswith('version = "'):
            version = line.split('"')[1]
        elif line.startswith("checksum = "):
            sums[(name, version)] = line.split('"')[1]
    return sums


def purl(p):
    return f"pkg:cargo/{p['name']}@{p['version']}"


def ours(p):
    return p["source"] is None


def licenses(target, out_dir):
    """Copies the licence texts of every crate compiled in, and writes
    THIRD-PARTY.md listing each with its declared licence."""
    packages, _ = compiled_in(target)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for p in sorted(packages.values(), key=lambda p: (p["name"], p["version"])):
        if ours(p):
            continue
        src = Path(p["manifest_path"]).parent
        name = f"{p['name']}-{p['version']}"
        files = sorted(
            f for f in src.iterdir()
            if f.is_file() and f.name.lower().startswith(LICENSE_FILES)
        )
        if files:
            (out / name).mkdir(exist_ok=True)
            for f in files:
                shutil.copyfile(f, out / name / f.name)
        declared = p.get("license") or (f"see {p['license_file']}" if p.get("license_file") else "none declared")
        texts = ", ".join(f"{name}/{f.name}" for f in files) or (
            "the crate ships no licence file: its declared licence, by "
            + ", ".join(p.get("authors") or ["its authors"])
            + (f" ({p['repository']})" if p.get("repository") else "")
        )
        rows.append(f"| {p['name']} | {p['version']} | {declared} | {texts} |")
    (out / "THIRD-PARTY.md").write_text(
        "# Third-party code in this library\n\n"
        f"Every crate compiled into Tessera's C library for {target}, its declared\n"
        "licence and the licence texts it ships (in this folder). Tessera itself\n"
        "is Apache-2.0 OR MIT (LICENSE-APACHE, LICENSE-MIT).\n\n"
        "| crate | version | licence | texts |\n|---|---|---|---|\n" + "\n".join(rows) + "\n"
    )
    print(f"licenses: {len(rows)} crates for {target}", file=sys.stderr)


def source_date():
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if not epoch:
        epoch = subprocess.run(
            ["git", "log", "-1", "--format=%ct"], cwd=ROOT, check=True, stdout=subprocess.PIPE, text=True
        ).stdout.strip()
    return datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc)


def sbom(target, name, version, kind, out_file):
    """A CycloneDX 1.5 SBOM of one artefact: the crates compiled into it
    (and, for a wheel, the Python package around it)."""
    packages, edges = compiled_in(target)
    sums = lock_checksums()
    ref = {pid: purl(p) for pid, p in packages.items()}
    components = []
    for pid, p in sorted(packages.items(), key=lambda kv: (kv[1]["name"], kv[1]["version"])):
        c = {
            "type": "library",
            "bom-ref": ref[pid],
            "name": p["name"],
            "version": p["version"],
            "purl": ref[pid],
        }
        if p.get("license"):
            c["licenses"] = [{"expression": p["license"]}]
        checksum = sums.get((p["name"], p["version"]))
        if checksum:
            c["hashes"] = [{"alg": "SHA-256", "content": checksum}]
        if p.get("repository"):
            c["externalReferences"] = [{"type": "vcs", "url": p["repository"]}]
        if ours(p):
            c["supplier"] = {"name": "The Tessera developers"}
        components.append(c)
    top = {
        "type": "library" if kind != "wheel" else "framework",
        "bom-ref": f"artefact:{name}",
        "name": name,
        "version": version,
        "licenses": [{"expression": "Apache-2.0 OR MIT"}],
    }
    if kind == "wheel":
        top["purl"] = f"pkg:pypi/tessera@{version}"
    capi = next(pid for pid, p in packages.items() if p["name"] == "tessera-capi")
    dependencies = [{"ref": top["bom-ref"], "dependsOn": [ref[capi]]}]
    dependencies += [
        {"ref": ref[pid], "dependsOn": sorted({ref[d] for d in deps})}
        for pid, deps in sorted(edges.items(), key=lambda kv: ref[kv[0]])
    ]
    bom = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "version": 1,
        "metadata": {
            "timestamp": source_date().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "tools": {"components": [{"type": "application", "name": "tessera scripts/dist.sh"}]},
            "component": top,
            "properties": [{"name": "tessera:target", "value": target}],
        },
        "components": components,
        "dependencies": dependencies,
    }
    body = json.dumps(bom, sort_keys=True).encode()
    bom["serialNumber"] = uuid.uuid5(uuid.NAMESPACE_URL, hashlib.sha256(body).hexdigest()).urn
    Path(out_file).write_text(json.dumps(bom, indent=2, sort_keys=True) + "\n")
    print(f"sbom: {name}: {len(components)} components", file=sys.stderr)


def record_hash(data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def package_metadata():
    pkg = ROOT / "bindings" / "python"
    project = (pkg / "pyproject.toml").read_text()
    version = next(l.split('"')[1] for l in project.splitlines() if l.startswith("version = "))
    readme = (pkg / "README.md").read_text()
    text = (
        "Metadata-Version: 2.1\n"
        f"Name: tessera\nVersion: {version}\n"
        "Summary: Offline-first software licensing: signed license files, device binding, "
        "counters (ctypes binding over the Tessera C library)\n"
        "License: Apache-2.0 OR MIT\n"
        "Requires-Python: >=3.9\n"
        "Classifier: Programming Language :: Python :: 3\n"
        "Classifier: Programming Language :: Rust\n"
        "Description-Content-Type: text/markdown\n\n" + readme
    )
    return version, text


def sdist(out_dir):
    """The source distribution: bindings/python at its top and the whole
    repository at HEAD under rust/, which setup.py builds with cargo on
    any platform cargo builds for."""
    import tarfile

    version, pkg_info = package_metadata()
    top = f"tessera-{version}"
    when = int(source_date().timestamp())
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, stdout=subprocess.PIPE, text=True).stdout
    if dirty.strip():
        print("sdist: the work tree has changes; the sdist holds HEAD", file=sys.stderr)
    repo = subprocess.run(["git", "archive", "--format=tar", "HEAD"], cwd=ROOT, check=True,
                          stdout=subprocess.PIPE).stdout
    out = Path(out_dir) / f"{top}.tar.gz"

    def entry(name, data, mode=0o644):
        info = tarfile.TarInfo(f"{top}/{name}")
        info.size, info.mode, info.mtime = len(data), mode, when
        return info, io.BytesIO(data)

    import gzip

    with open(out, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=when, filename="") as gz:
        with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
            tar.addfile(*entry("PKG-INFO", pkg_info.encode()))
            pkg = ROOT / "bindings" / "python"
            for name in ("pyproject.toml", "setup.py", "README.md"):
                tar.addfile(*entry(name, (pkg / name).read_bytes()))
            for f in sorted((pkg / "tessera").iterdir()):
                if f.suffix == ".py" or f.name == "py.typed":
                    tar.addfile(*entry(f"tessera/{f.name}", f.read_bytes()))
            with tarfile.open(fileobj=io.BytesIO(repo)) as source:
                for member in source.getmembers():
                    data = source.extractfile(member) if member.isfile() else None
                    member.name = f"{top}/rust/{member.name}"
                    member.mtime = when
                    member.uid = member.gid = 0
                    member.uname = member.gname = ""
                    tar.addfile(member, data)
    print(out)


def wheel(library, platform_tag, out_dir):
    """A py3-none-PLATFORM wheel of bindings/python with `library` inside
    (as the name _ffi.py loads on that platform)."""
    pkg = ROOT / "bindings" / "python"
    version, pkg_info = package_metadata()
    library = Path(library)
    lib_name = "tessera.dll" if platform_tag.startswith("win") else "libtessera.so"
    dist_info = f"tessera-{version}.dist-info"
    files = {}
    for f in sorted((pkg / "tessera").iterdir()):
        if f.suffix == ".py" or f.name == "py.typed":
            files[f"tessera/{f.name}"] = f.read_bytes()
    files[f"tessera/{lib_name}"] = library.read_bytes()
    files[f"{dist_info}/METADATA"] = pkg_info.encode()
    files[f"{dist_info}/WHEEL"] = (
        "Wheel-Version: 1.0\nGenerator: tessera scripts/dist_tools.py\n"
        f"Root-Is-Purelib: false\nTag: py3-none-{platform_tag}\n"
    ).encode()
    for lic in ("LICENSE-APACHE", "LICENSE-MIT"):
        files[f"{dist_info}/licenses/{lic}"] = (ROOT / lic).read_bytes()
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    for path, data in files.items():
        writer.writerow([path, record_hash(data), len(data)])
    writer.writerow([f"{dist_info}/RECORD", "", ""])
    files[f"{dist_info}/RECORD"] = record.getvalue().encode()
    out = Path(out_dir) / f"tessera-{version}-py3-none-{platform_tag}.whl"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for path, data in files.items():
            info = zipfile.ZipInfo(path, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            executable = path.endswith((".so", ".dll"))
            info.external_attr = (0o755 if executable else 0o644) << 16
            z.writestr(info, data)
    print(out)


def archive(folder, out):
    """DIR (its name as the archive's top folder) as a tar.gz or a zip,
    entries sorted, dated by source_date(), owned by no one."""
    folder = Path(folder)
    when = source_date()
    paths = sorted(p for p in folder.rglob("*"))
    top = folder.name
    if out.endswith(".zip"):
        stamp = max(when.timetuple()[:6], (1980, 1, 1, 0, 0, 0))
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
            for p in paths:
                if p.is_dir() or p.is_symlink():
                    continue
                info = zipfile.ZipInfo(f"{top}/{p.relative_to(folder).as_posix()}", date_time=stamp)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = (p.stat().st_mode & 0o777) << 16
                z.writestr(info, p.read_bytes())
        return
    import tarfile

    def clean(info):
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.mtime = int(when.timestamp())
        return info

    with open(out, "wb") as raw:
        import gzip

        with gzip.GzipFile(fileobj=raw, mode="wb", mtime=int(when.timestamp()), filename="") as gz:
            with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
                tar.add(folder, arcname=top, recursive=False, filter=clean)
                for p in paths:
                    tar.add(p, arcname=f"{top}/{p.relative_to(folder).as_posix()}", recursive=False, filter=clean)


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    command, args = sys.argv[1], sys.argv[2:]
    if command == "licenses" and len(args) == 2:
        licenses(*args)
    elif command == "sbom" and len(args) == 5:
        sbom(*args)
    elif command == "wheel" and len(args) == 3:
        wheel(*args)
    elif command == "archive" and len(args) == 2:
        archive(*args)
    elif command == "sdist" and len(args) == 1:
        sdist(*args)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
